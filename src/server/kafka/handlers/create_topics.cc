// CreateTopics (key 19), v0-v7. One replica per partition; the only topic configs sluice
// keeps are retention.ms and retention.bytes (others are refused with INVALID_CONFIG).
#include <charconv>

#include <fmt/format.h>

#include "common/logging.h"
#include "server/kafka/broker.h"
#include "server/kafka/errors.h"

namespace sluice::server::kafka {

namespace {

struct Outcome {
  std::string name;
  ErrorCode error = ErrorCode::kNone;
  std::string message;
  int32_t partitions = -1;
};

bool ParseInt64(std::string_view s, int64_t* out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

void HandleCreateTopics(Broker& broker, const RequestContext& ctx, WireReader& in, ResponseCallback done) {
  const int16_t v = ctx.header.api_version;
  struct Request {
    log::TopicConfig config;
    int16_t replication_factor = -1;
    bool has_assignments = false;
    std::string bad_config;
  };
  std::vector<Request> requests;
  const int32_t n = in.ArrayLength();
  for (int32_t i = 0; i < n && in.ok(); ++i) {
    Request req;
    req.config.name = std::string(in.String());
    req.config.partitions = in.Int32();
    req.replication_factor = in.Int16();
    const int32_t assignments = in.ArrayLength();
    for (int32_t a = 0; a < assignments && in.ok(); ++a) {
      (void)in.Int32();
      const int32_t brokers = in.ArrayLength(4);
      for (int32_t b = 0; b < brokers && in.ok(); ++b) (void)in.Int32();
      in.TaggedFields();
      req.has_assignments = true;
    }
    const int32_t configs = in.ArrayLength();
    for (int32_t c = 0; c < configs && in.ok(); ++c) {
      const std::string_view key = in.String();
      const std::optional<std::string_view> value = in.NullableString();
      in.TaggedFields();
      int64_t number = 0;
      if (key == "retention.ms" && value && ParseInt64(*value, &number) && number >= -1) {
        req.config.retention_ms = number == 0 ? 1 : number;
      } else if (key == "retention.bytes" && value && ParseInt64(*value, &number) && number >= -1) {
        req.config.retention_bytes = number == 0 ? 1 : number;
      } else if (req.bad_config.empty()) {
        req.bad_config = fmt::format("config {}={} is not supported (sluice keeps retention.ms and retention.bytes)",
                                     key, value.value_or("null"));
      }
    }
    in.TaggedFields();
    requests.push_back(std::move(req));
  }
  (void)in.Int32();                              // timeout_ms
  const bool validate_only = v >= 1 && in.Bool();
  in.TaggedFields();
  if (!in.ok()) return done(in.status());

  std::vector<Outcome> outcomes;
  for (Request& req : requests) {
    Outcome o;
    o.name = req.config.name;
    if (req.config.partitions == -1) req.config.partitions = broker.engine().options().default_partitions;
    if (Status valid = log::ValidateTopicName(req.config.name); !valid.ok()) {
      o.error = ErrorCode::kInvalidTopicException;
      o.message = valid.message();
    } else if (log::IsInternalTopicName(req.config.name)) {
      o.error = ErrorCode::kInvalidTopicException;
      o.message = "topic names starting with '.' are reserved for sluice";
    } else if (req.replication_factor != -1 && req.replication_factor != 1) {
      o.error = ErrorCode::kInvalidReplicationFactor;
      o.message = "sluice keeps one replica of each partition";
    } else if (req.has_assignments) {
      o.error = ErrorCode::kInvalidReplicaAssignment;
      o.message = "replica assignments are not supported (one node)";
    } else if (req.config.partitions < 1 || req.config.partitions > 1024) {
      o.error = ErrorCode::kInvalidPartitions;
      o.message = "partitions must be between 1 and 1024";
    } else if (!req.bad_config.empty()) {
      o.error = ErrorCode::kInvalidConfig;
      o.message = req.bad_config;
    } else if (validate_only) {
      if (broker.log().GetTopic(req.config.name).ok()) o.error = ErrorCode::kTopicAlreadyExists;
    } else if (Status created = broker.log().CreateTopic(req.config); !created.ok()) {
      o.error = created.code() == StatusCode::kAlreadyExists ? ErrorCode::kTopicAlreadyExists : ErrorCodeFor(created);
      o.message = created.message();
    } else {
      SLUICE_LOG_INFO("kafka: created topic {} ({} partitions)", req.config.name, req.config.partitions);
    }
    if (o.error == ErrorCode::kNone) o.partitions = req.config.partitions;
    outcomes.push_back(std::move(o));
  }

  Response r;
  WireWriter w(&r.body, in.flexible());
  if (v >= 2) w.Int32(0);  // throttle_time_ms
  w.ArrayLength(static_cast<int32_t>(outcomes.size()));
  for (const Outcome& o : outcomes) {
    if (o.error != ErrorCode::kNone) ++r.errors;
    w.String(o.name);
    if (v >= 7) w.Uuid();
    w.Int16(Wire(o.error));
    if (v >= 1) w.NullableString(o.message.empty() ? std::nullopt : std::optional<std::string_view>(o.message));
    if (v >= 5) {
      w.Int32(o.partitions);
      w.Int16(o.error == ErrorCode::kNone ? int16_t{1} : int16_t{-1});  // replication_factor
      w.ArrayLength(-1);                                                  // configs: not reported
    }
    w.EmptyTaggedFields();
  }
  w.EmptyTaggedFields();
  done(std::move(r));
}

}  // namespace sluice::server::kafka
