#include "server/kafka/protocol.h"

#include <algorithm>
#include <array>

#include "server/kafka/wire.h"

namespace sluice::server::kafka {

namespace {

// The version ranges cover what librdkafka 2.x, kafkajs 2.x and the Java client negotiate.
// Each handler decodes every version in its range (see the handler files). Produce starts at
// v0 although sluice stores only RecordBatch v2 (magic 2; older message sets get
// UNSUPPORTED_FOR_MESSAGE_FORMAT): librdkafka before 2.10 compresses with gzip or snappy only
// if the broker lists Produce v0 (Apache Kafka 4 lists it for the same reason, KAFKA-18659).
constexpr std::array<ApiSupport, 21> kApis = {{
    {ApiKey::kProduce, 0, 9, 9},
    {ApiKey::kFetch, 4, 12, 12},
    {ApiKey::kListOffsets, 1, 6, 6},
    {ApiKey::kMetadata, 1, 12, 9},
    {ApiKey::kOffsetCommit, 2, 8, 8},
    {ApiKey::kOffsetFetch, 1, 7, 6},
    {ApiKey::kFindCoordinator, 0, 3, 3},
    {ApiKey::kJoinGroup, 0, 7, 6},
    {ApiKey::kHeartbeat, 0, 4, 4},
    {ApiKey::kLeaveGroup, 0, 4, 4},
    {ApiKey::kSyncGroup, 0, 5, 4},
    {ApiKey::kDescribeGroups, 0, 5, 5},
    {ApiKey::kListGroups, 0, 4, 3},
    {ApiKey::kApiVersions, 0, 3, 3},
    {ApiKey::kCreateTopics, 0, 7, 5},
    {ApiKey::kDeleteTopics, 0, 5, 4},
    {ApiKey::kInitProducerId, 0, 4, 2},
    {ApiKey::kAddPartitionsToTxn, 0, 3, 3},
    {ApiKey::kAddOffsetsToTxn, 0, 3, 3},
    {ApiKey::kEndTxn, 0, 3, 3},
    {ApiKey::kTxnOffsetCommit, 0, 3, 3},
}};

}  // namespace

std::span<const ApiSupport> SupportedApis() { return kApis; }

const ApiSupport* FindApi(int16_t key) {
  for (const ApiSupport& a : kApis) {
    if (static_cast<int16_t>(a.key) == key) return &a;
  }
  return nullptr;
}

std::string_view ApiName(int16_t key) {
  switch (static_cast<ApiKey>(key)) {
    case ApiKey::kProduce: return "Produce";
    case ApiKey::kFetch: return "Fetch";
    case ApiKey::kListOffsets: return "ListOffsets";
    case ApiKey::kMetadata: return "Metadata";
    case ApiKey::kOffsetCommit: return "OffsetCommit";
    case ApiKey::kOffsetFetch: return "OffsetFetch";
    case ApiKey::kFindCoordinator: return "FindCoordinator";
    case ApiKey::kJoinGroup: return "JoinGroup";
    case ApiKey::kHeartbeat: return "Heartbeat";
    case ApiKey::kLeaveGroup: return "LeaveGroup";
    case ApiKey::kSyncGroup: return "SyncGroup";
    case ApiKey::kDescribeGroups: return "DescribeGroups";
    case ApiKey::kListGroups: return "ListGroups";
    case ApiKey::kApiVersions: return "ApiVersions";
    case ApiKey::kCreateTopics: return "CreateTopics";
    case ApiKey::kDeleteTopics: return "DeleteTopics";
    case ApiKey::kInitProducerId: return "InitProducerId";
    case ApiKey::kAddPartitionsToTxn: return "AddPartitionsToTxn";
    case ApiKey::kAddOffsetsToTxn: return "AddOffsetsToTxn";
    case ApiKey::kEndTxn: return "EndTxn";
    case ApiKey::kTxnOffsetCommit: return "TxnOffsetCommit";
  }
  return "unknown";
}

Result<RequestHeader> DecodeRequestHeader(std::string_view frame, size_t* header_size) {
  if (frame.size() < 8) return Status::InvalidArgument("request shorter than its header");
  WireReader r(frame, /*flexible=*/false);
  RequestHeader h;
  h.api_key = r.Int16();
  h.api_version = r.Int16();
  h.correlation_id = r.Int32();
  h.api = FindApi(h.api_key);
  h.supported = h.api != nullptr && h.api_version >= h.api->min_version && h.api_version <= h.api->max_version;
  if (!h.supported) {
    *header_size = 8;
    return h;
  }
  h.flexible = h.api_version >= h.api->flexible_from;
  // client_id is a (non-compact) nullable string even in header v2.
  std::optional<std::string_view> client = r.NullableString();
  if (client) h.client_id = std::string(*client);
  if (h.flexible) {
    WireReader tags(frame.substr(frame.size() - r.remaining()), /*flexible=*/true);
    tags.TaggedFields();
    SLUICE_RETURN_IF_ERROR(tags.status().WithContext("request header"));
    *header_size = frame.size() - tags.remaining();
  } else {
    SLUICE_RETURN_IF_ERROR(r.status().WithContext("request header"));
    *header_size = frame.size() - r.remaining();
  }
  return h;
}

size_t BeginResponse(const RequestHeader& header, std::string* out) {
  const size_t pos = out->size();
  WireWriter w(out, /*flexible=*/false);
  w.Int32(0);
  w.Int32(header.correlation_id);
  if (header.flexible && header.api_key != static_cast<int16_t>(ApiKey::kApiVersions)) w.UnsignedVarint(0);
  return pos;
}

void FinishResponse(size_t size_pos, std::string* out, size_t spliced_bytes) {
  WireWriter(out, false).PatchInt32(size_pos, static_cast<int32_t>(out->size() + spliced_bytes - size_pos - 4));
}

std::string UnsupportedVersionResponse(const RequestHeader& header) {
  std::string out;
  WireWriter w(&out, false);
  w.Int32(6);
  w.Int32(header.correlation_id);
  w.Int16(static_cast<int16_t>(ErrorCode::kUnsupportedVersion));
  return out;
}

}  // namespace sluice::server::kafka
