// Metadata (key 3), v1-v12: brokers (just this node, at the address the client used), topics
// and their partitions (node 0 leads all), optional automatic topic creation.
#include <fmt/format.h>

#include "common/logging.h"
#include "server/kafka/broker.h"
#include "server/kafka/errors.h"

namespace sluice::server::kafka {

namespace {

struct TopicAnswer {
  ErrorCode error = ErrorCode::kNone;
  std::string name;
  int32_t partitions = 0;
};

TopicAnswer LookUp(Broker& broker, std::string_view name, bool auto_create) {
  TopicAnswer a;
  a.name = std::string(name);
  if (!log::ValidateTopicName(name).ok()) {
    a.error = ErrorCode::kInvalidTopicException;
    return a;
  }
  if (log::IsInternalTopicName(name)) {
    a.error = ErrorCode::kUnknownTopicOrPartition;
    return a;
  }
  Result<std::shared_ptr<log::Topic>> topic = broker.log().GetTopic(name);
  if (!topic.ok() && topic.status().code() == StatusCode::kNotFound && auto_create &&
      broker.engine().options().auto_create_topics) {
    topic = log::GetOrCreateTopic(&broker.log(), name, broker.engine().options().default_partitions);
    if (topic.ok()) SLUICE_LOG_INFO("kafka: created topic {} on a metadata request", name);
  }
  if (!topic.ok()) {
    a.error = topic.status().code() == StatusCode::kNotFound ? ErrorCode::kUnknownTopicOrPartition
                                                             : ErrorCode::kLeaderNotAvailable;
    return a;
  }
  a.partitions = (*topic)->partition_count();
  return a;
}

}  // namespace

void HandleMetadata(Broker& broker, const RequestContext& ctx, WireReader& in, ResponseCallback done) {
  const int16_t v = ctx.header.api_version;
  std::vector<std::string> requested;
  const int32_t n = in.ArrayLength();
  const bool all = n < 0 || (v == 0 && n == 0);
  for (int32_t i = 0; i < n && in.ok(); ++i) {
    if (v >= 10) in.Uuid();
    std::optional<std::string_view> name = in.NullableString();
    if (!name) in.Fail("Metadata by topic id is not supported");
    requested.emplace_back(name.value_or(""));
    in.TaggedFields();
  }
  bool allow_auto_create = true;
  if (v >= 4) allow_auto_create = in.Bool();
  if (v >= 8 && v <= 10) (void)in.Bool();  // include_cluster_authorized_operations
  if (v >= 8) (void)in.Bool();             // include_topic_authorized_operations
  in.TaggedFields();
  if (!in.ok()) return done(in.status());

  std::vector<TopicAnswer> topics;
  if (all) {
    for (const log::TopicInfo& info : broker.log().ListTopics()) {
      if (log::IsInternalTopicName(info.config.name)) continue;
      topics.push_back({ErrorCode::kNone, info.config.name, info.config.partitions});
    }
  } else {
    for (const std::string& name : requested) topics.push_back(LookUp(broker, name, allow_auto_create));
  }

  Response r;
  WireWriter w(&r.body, in.flexible());
  if (v >= 3) w.Int32(0);  // throttle_time_ms
  w.ArrayLength(1);        // brokers
  w.Int32(Broker::kNodeId);
  w.String(broker.options().advertised_host.empty() ? ctx.local_host : broker.options().advertised_host);
  w.Int32(ctx.local_port);
  w.NullableString(std::nullopt);  // rack
  w.EmptyTaggedFields();
  if (v >= 2) w.NullableString("sluice");  // cluster_id
  w.Int32(Broker::kNodeId);                // controller_id
  w.ArrayLength(static_cast<int32_t>(topics.size()));
  for (const TopicAnswer& t : topics) {
    if (t.error != ErrorCode::kNone) ++r.errors;
    w.Int16(Wire(t.error));
    w.String(t.name);
    if (v >= 10) w.Uuid();
    w.Bool(false);  // is_internal
    w.ArrayLength(t.partitions);
    for (int32_t p = 0; p < t.partitions; ++p) {
      w.Int16(Wire(ErrorCode::kNone));
      w.Int32(p);
      w.Int32(Broker::kNodeId);  // leader
      if (v >= 7) w.Int32(0);    // leader_epoch
      w.ArrayLength(1);          // replicas
      w.Int32(Broker::kNodeId);
      w.ArrayLength(1);  // in-sync replicas
      w.Int32(Broker::kNodeId);
      if (v >= 5) w.ArrayLength(0);  // offline replicas
      w.EmptyTaggedFields();
    }
    if (v >= 8) w.Int32(INT32_MIN);  // topic_authorized_operations: not provided
    w.EmptyTaggedFields();
  }
  if (v >= 8 && v <= 10) w.Int32(INT32_MIN);  // cluster_authorized_operations
  w.EmptyTaggedFields();
  done(std::move(r));
}

}  // namespace sluice::server::kafka
