// DeleteTopics (key 20), v0-v5: removes topics through the engine (which also forgets their
// idempotency keys). sluice's own topics (names starting with '.') cannot be deleted here.
#include "common/logging.h"
#include "server/kafka/broker.h"
#include "server/kafka/errors.h"
#include "server/kafka/producers.h"

namespace sluice::server::kafka {

void HandleDeleteTopics(Broker& broker, const RequestContext& ctx, WireReader& in, ResponseCallback done) {
  const int16_t v = ctx.header.api_version;
  std::vector<std::string> names;
  const int32_t n = in.ArrayLength();
  for (int32_t i = 0; i < n && in.ok(); ++i) names.emplace_back(in.String());
  (void)in.Int32();  // timeout_ms
  in.TaggedFields();
  if (!in.ok()) return done(in.status());

  Response r;
  WireWriter w(&r.body, in.flexible());
  if (v >= 1) w.Int32(0);  // throttle_time_ms
  w.ArrayLength(static_cast<int32_t>(names.size()));
  for (const std::string& name : names) {
    ErrorCode error = ErrorCode::kNone;
    std::string message;
    if (log::IsInternalTopicName(name) || !log::ValidateTopicName(name).ok()) {
      error = ErrorCode::kInvalidTopicException;
    } else if (Status deleted = broker.engine().DeleteTopic(name); !deleted.ok()) {
      error = ErrorCodeFor(deleted);
      message = deleted.message();
    } else {
      broker.producers().DropTopic(name);
      SLUICE_LOG_INFO("kafka: deleted topic {}", name);
    }
    if (error != ErrorCode::kNone) ++r.errors;
    w.String(name);
    w.Int16(Wire(error));
    if (v >= 5) w.NullableString(message.empty() ? std::nullopt : std::optional<std::string_view>(message));
    w.EmptyTaggedFields();
  }
  w.EmptyTaggedFields();
  done(std::move(r));
}

}  // namespace sluice::server::kafka
