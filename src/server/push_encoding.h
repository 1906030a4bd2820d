#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/metrics.h"
#include "common/result.h"
#include "engine/subscription.h"
#include "server/request_target.h"

namespace sluice::server {

// The JSON messages of a subscription (docs/subscriptions.md), the same over SSE and WebSocket.
// Rows are JSON arrays in column order, values as /v1/sql encodes them (sql/value_json.h).
//
//   {"type":"snapshot","id":"<stream>-<seq>","ts":<ms>,"resync":false,
//    "columns":[{"name":..,"type":..}],"rows":[[..],..]}
//   {"type":"change","id":"<stream>-<seq>","ts":<ms>,"inserts":[[..]],"deletes":[[..]]}
//   {"type":"end","error":{"code":"not_found","message":"materialized view \"v\" was dropped"}}
//   {"type":"error","error":{"code":..,"message":..}}   (WebSocket: a bad subscribe message)

// "<stream>-<seq>": what SSE sends as the event id and WebSocket as "id".
std::string FormatEventId(std::string_view stream_id, uint64_t seq);
// The (stream, seq) of an event id; nullopt if it is not one.
std::optional<std::pair<std::string, uint64_t>> ParseEventId(std::string_view id);

std::string EncodeSnapshot(const engine::Subscription& sub, const engine::SubscriptionSnapshot& snapshot, bool resync);
std::string EncodeChanges(std::string_view stream_id, const engine::ChangeBatch& batch);
std::string EncodeEnd(const Status& reason);
std::string EncodeError(const Status& error);

// One Server-Sent Events event: "id: <id>\n" (if any) "event: <name>\n" (if any) "data: <json>\n\n".
std::string SseEvent(std::string_view id, std::string_view name, std::string_view data);

// A subscription request from query parameters (?view=NAME or ?sql=SELECT..., optional
// ?last_event_id=ID) and the Last-Event-ID header (which wins). kInvalidArgument if neither or
// both of view and sql are given, or the event id is malformed.
Result<engine::SubscribeRequest> SubscribeRequestFromTarget(const RequestTarget& target,
                                                            std::string_view last_event_id_header);
// The same from a WebSocket message: {"subscribe": "view"} or {"sql": "SELECT ..."}, optional
// "last_event_id".
Result<engine::SubscribeRequest> SubscribeRequestFromJson(std::string_view message);

// The subscription metrics of one transport ("sse", "websocket", "pgwire").
struct SubscriptionMetrics {
  Gauge* active = nullptr;
  Counter* events = nullptr;
  Counter* resyncs = nullptr;

  static SubscriptionMetrics For(MetricsRegistry* metrics, std::string_view transport);
};

}  // namespace sluice::server
