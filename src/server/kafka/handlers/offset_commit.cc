// OffsetCommit (key 8), v2-v8: a group's committed offsets, durable (appended to the
// coordinator's internal topic) before the response.
#include <memory>

#include "server/kafka/broker.h"
#include "server/kafka/errors.h"
#include "server/kafka/group_coordinator.h"

namespace sluice::server::kafka {

void HandleOffsetCommit(Broker& broker, const RequestContext& ctx, WireReader& in, ResponseCallback done) {
  const int16_t v = ctx.header.api_version;
  const std::string group_id(in.String());
  const int32_t generation_id = in.Int32();
  const std::string member_id(in.String());
  if (v >= 7) (void)in.NullableString();  // group_instance_id
  if (v >= 2 && v <= 4) (void)in.Int64();  // retention_time_ms: offsets are kept until replaced
  struct Topic {
    std::string name;
    std::vector<int32_t> partitions;
  };
  std::vector<Topic> topics;
  std::vector<GroupCoordinator::CommitPartition> commits;
  const int32_t n = in.ArrayLength();
  for (int32_t t = 0; t < n && in.ok(); ++t) {
    Topic topic{std::string(in.String()), {}};
    const int32_t m = in.ArrayLength(14);
    for (int32_t p = 0; p < m && in.ok(); ++p) {
      GroupCoordinator::CommitPartition c;
      c.topic = topic.name;
      c.partition = in.Int32();
      c.offset = in.Int64();
      if (v >= 6) c.leader_epoch = in.Int32();
      if (auto meta = in.NullableString()) c.metadata = std::string(*meta);
      in.TaggedFields();
      topic.partitions.push_back(c.partition);
      commits.push_back(std::move(c));
    }
    in.TaggedFields();
    topics.push_back(std::move(topic));
  }
  in.TaggedFields();
  if (!in.ok()) return done(in.status());
  const bool flexible = in.flexible();
  broker.groups().Commit(group_id, generation_id, member_id, std::move(commits),
                         [v, flexible, topics = std::move(topics), done = std::move(done)](ErrorCode error) {
                           Response r;
                           WireWriter w(&r.body, flexible);
                           if (v >= 3) w.Int32(0);  // throttle_time_ms
                           w.ArrayLength(static_cast<int32_t>(topics.size()));
                           for (const Topic& t : topics) {
                             w.String(t.name);
                             w.ArrayLength(static_cast<int32_t>(t.partitions.size()));
                             for (int32_t p : t.partitions) {
                               if (error != ErrorCode::kNone) ++r.errors;
                               w.Int32(p);
                               w.Int16(Wire(error));
                               w.EmptyTaggedFields();
                             }
                             w.EmptyTaggedFields();
                           }
                           w.EmptyTaggedFields();
                           done(std::move(r));
                         });
}

}  // namespace sluice::server::kafka
