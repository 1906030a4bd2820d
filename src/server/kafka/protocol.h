#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/status.h"

namespace sluice::server::kafka {

// Request framing, headers and the version table of the Kafka protocol as sluice speaks it.
// Facts from https://kafka.apache.org/protocol and the published message definitions
// (clients/src/main/resources/common/message/*.json in Apache Kafka).

enum class ApiKey : int16_t {
  kProduce = 0,
  kFetch = 1,
  kListOffsets = 2,
  kMetadata = 3,
  kOffsetCommit = 8,
  kOffsetFetch = 9,
  kFindCoordinator = 10,
  kJoinGroup = 11,
  kHeartbeat = 12,
  kLeaveGroup = 13,
  kSyncGroup = 14,
  kDescribeGroups = 15,
  kListGroups = 16,
  kApiVersions = 18,
  kCreateTopics = 19,
  kDeleteTopics = 20,
  kInitProducerId = 22,
  kAddPartitionsToTxn = 24,
  kAddOffsetsToTxn = 25,
  kEndTxn = 26,
  kTxnOffsetCommit = 28,
};

// Wire error codes (int16). Only the protocol edge produces them (see errors.h).
enum class ErrorCode : int16_t {
  kUnknownServerError = -1,
  kNone = 0,
  kOffsetOutOfRange = 1,
  kCorruptMessage = 2,
  kUnknownTopicOrPartition = 3,
  kLeaderNotAvailable = 5,
  kRequestTimedOut = 7,
  kMessageTooLarge = 10,
  kCoordinatorLoadInProgress = 14,
  kCoordinatorNotAvailable = 15,
  kNotCoordinator = 16,
  kInvalidTopicException = 17,
  kRecordListTooLarge = 18,
  kInvalidRequiredAcks = 21,
  kIllegalGeneration = 22,
  kInconsistentGroupProtocol = 23,
  kInvalidGroupId = 24,
  kUnknownMemberId = 25,
  kInvalidSessionTimeout = 26,
  kRebalanceInProgress = 27,
  kUnsupportedVersion = 35,
  kTopicAlreadyExists = 36,
  kInvalidPartitions = 37,
  kInvalidReplicationFactor = 38,
  kInvalidReplicaAssignment = 39,
  kInvalidConfig = 40,
  kInvalidRequest = 42,
  kUnsupportedForMessageFormat = 43,
  kOutOfOrderSequenceNumber = 45,
  kDuplicateSequenceNumber = 46,
  kInvalidProducerEpoch = 47,
  kInvalidTxnState = 48,
  kInvalidProducerIdMapping = 49,
  kInvalidTransactionTimeout = 50,
  kKafkaStorageError = 56,
  kUnknownProducerId = 59,
  kGroupIdNotFound = 69,
  kNonEmptyGroup = 68,
  kInvalidRecord = 87,
};

// What sluice answers for one API: versions [min, max]; requests at >= flexible_from use
// request header v2 and compact/tagged encodings (response header v1).
struct ApiSupport {
  ApiKey key;
  int16_t min_version;
  int16_t max_version;
  int16_t flexible_from;
};

// Every API sluice implements, in api-key order.
std::span<const ApiSupport> SupportedApis();
// The entry for `key`, or nullptr if sluice does not implement it.
const ApiSupport* FindApi(int16_t key);
std::string_view ApiName(int16_t key);

// Request header v1 (api_key, api_version, correlation_id, client_id) or v2 (the same plus a
// tagged-field section). The header version follows from the API's flexibility at that
// version; ApiVersions' response header is always v0.
struct RequestHeader {
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
  std::optional<std::string> client_id;
  const ApiSupport* api = nullptr;  // nullptr: unknown key
  bool supported = false;           // api != nullptr and the version is in its range
  bool flexible = false;            // body uses compact/tagged encodings
};

// The smallest possible request: api_key, api_version, correlation_id, client_id length.
inline constexpr size_t kMinRequestBytes = 10;

// Decodes the header at the start of `frame` (one request, without its 4-byte size) and returns
// it with the number of header bytes in *header_size. For an unknown key or an unsupported
// version only the fixed fields are decoded (enough to answer). kInvalidArgument when even
// those are missing or the client id is malformed.
Result<RequestHeader> DecodeRequestHeader(std::string_view frame, size_t* header_size);

// Starts a response frame in *out: a 4-byte size placeholder and the response header for
// `header` (v1 with tagged fields when flexible, except for ApiVersions). Returns the position
// of the size field, for FinishResponse.
size_t BeginResponse(const RequestHeader& header, std::string* out);
// Writes the frame size at `size_pos`: the bytes after it in *out plus `spliced_bytes` that go
// on the wire between them (see Splice).
void FinishResponse(size_t size_pos, std::string* out, size_t spliced_bytes = 0);

// The answer to an unknown API key or unsupported version of any API other than ApiVersions:
// the correlation id and an UNSUPPORTED_VERSION error code. The body is not that API's schema
// (there is none to use), but the client sees its correlation id and a clear error.
std::string UnsupportedVersionResponse(const RequestHeader& header);

}  // namespace sluice::server::kafka
