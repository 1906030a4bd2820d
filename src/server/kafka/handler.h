#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/result.h"
#include "server/kafka/protocol.h"
#include "server/kafka/wire.h"

namespace sluice::server::kafka {

class Broker;

// Bytes that go on the wire right before byte `at` of the buffer they belong to, without being
// copied into it: the record batches of a Fetch response, as read from the segment, are written
// from their own buffer (one gather write per response).
struct Splice {
  size_t at = 0;
  std::string bytes;
};

// A handler's answer: the response body (after the response header), or no response at all
// (Produce with acks=0). `errors` counts the non-zero error codes in it, for the metrics.
struct Response {
  bool send = true;
  std::string body;
  std::vector<Splice> spliced;  // into body; `at` ascending
  int errors = 0;
};

// A whole response frame as it goes on the wire: `bytes` (size field, response header, body)
// with `spliced` inserted. Empty: nothing to send (acks=0).
struct OutFrame {
  std::string bytes;
  std::vector<Splice> spliced;  // into bytes; `at` ascending

  bool empty() const { return bytes.empty() && spliced.empty(); }
  size_t size() const;
  // The frame in one buffer (tests, the fuzzer).
  std::string Flatten() const;
};

// Called exactly once per request, from any thread. Not ok: the request could not be decoded;
// the connection is closed (as Kafka does), since there is no response the client could parse.
using ResponseCallback = std::function<void(Result<Response>)>;

// What a handler knows about the request and its connection.
struct RequestContext {
  RequestHeader header;
  std::string local_host;  // the address the client connected to (advertised in Metadata)
  uint16_t local_port = 0;
  std::string peer_host;  // the client's address ("client host" in DescribeGroups)
  // Runs `fn` on the connection's strand after `delay_ms` (or at once, with a cancelled flag
  // of true, when the server stops). For long polls (Fetch, JoinGroup).
  std::function<void(int64_t delay_ms, std::function<void(bool cancelled)> fn)> run_after;
  // Like run_after, but `fn` runs earlier (cancelled false) as soon as the log's visible-change
  // epoch (log::Log::visible_changed) differs from `seen`. Optional: without it a long poll
  // looks again every fetch_poll_interval_ms.
  std::function<void(int64_t delay_ms, uint64_t seen, std::function<void(bool cancelled)> fn)> run_after_change;
};

// One function per API, each in handlers/<api>.cc. `body` is positioned after the request
// header and knows whether the version is flexible. Every handler validates the whole request
// before acting on it.
using Handler = void (*)(Broker& broker, const RequestContext& ctx, WireReader& body, ResponseCallback done);

void HandleApiVersions(Broker&, const RequestContext&, WireReader&, ResponseCallback);
void HandleMetadata(Broker&, const RequestContext&, WireReader&, ResponseCallback);
void HandleProduce(Broker&, const RequestContext&, WireReader&, ResponseCallback);
void HandleFetch(Broker&, const RequestContext&, WireReader&, ResponseCallback);
void HandleListOffsets(Broker&, const RequestContext&, WireReader&, ResponseCallback);
void HandleCreateTopics(Broker&, const RequestContext&, WireReader&, ResponseCallback);
void HandleDeleteTopics(Broker&, const RequestContext&, WireReader&, ResponseCallback);
void HandleFindCoordinator(Broker&, const RequestContext&, WireReader&, ResponseCallback);
void HandleJoinGroup(Broker&, const RequestContext&, WireReader&, ResponseCallback);
void HandleSyncGroup(Broker&, const RequestContext&, WireReader&, ResponseCallback);
void HandleHeartbeat(Broker&, const RequestContext&, WireReader&, ResponseCallback);
void HandleLeaveGroup(Broker&, const RequestContext&, WireReader&, ResponseCallback);
void HandleOffsetCommit(Broker&, const RequestContext&, WireReader&, ResponseCallback);
void HandleOffsetFetch(Broker&, const RequestContext&, WireReader&, ResponseCallback);
void HandleListGroups(Broker&, const RequestContext&, WireReader&, ResponseCallback);
void HandleDescribeGroups(Broker&, const RequestContext&, WireReader&, ResponseCallback);
void HandleInitProducerId(Broker&, const RequestContext&, WireReader&, ResponseCallback);
void HandleAddPartitionsToTxn(Broker&, const RequestContext&, WireReader&, ResponseCallback);
void HandleAddOffsetsToTxn(Broker&, const RequestContext&, WireReader&, ResponseCallback);
void HandleEndTxn(Broker&, const RequestContext&, WireReader&, ResponseCallback);
void HandleTxnOffsetCommit(Broker&, const RequestContext&, WireReader&, ResponseCallback);

// The ApiVersions v0 body answering an ApiVersions request at a version sluice does not know:
// UNSUPPORTED_VERSION plus the supported list, so that the client retries at a version it
// finds there (KIP-511).
std::string ApiVersionsFallbackBody();

}  // namespace sluice::server::kafka
