// OffsetFetch (key 9), v1-v7: a group's committed offsets (-1 where none), for the listed
// partitions or (v2+, topics = null) for every partition the group committed.
#include <map>

#include "server/kafka/broker.h"
#include "server/kafka/errors.h"
#include "server/kafka/group_coordinator.h"

namespace sluice::server::kafka {

void HandleOffsetFetch(Broker& broker, const RequestContext& ctx, WireReader& in, ResponseCallback done) {
  const int16_t v = ctx.header.api_version;
  const std::string group_id(in.String());
  std::vector<std::pair<std::string, std::vector<int32_t>>> topics;
  const int32_t n = in.ArrayLength();
  const bool all = n < 0;
  for (int32_t t = 0; t < n && in.ok(); ++t) {
    std::pair<std::string, std::vector<int32_t>> topic{std::string(in.String()), {}};
    const int32_t m = in.ArrayLength(4);
    for (int32_t p = 0; p < m && in.ok(); ++p) topic.second.push_back(in.Int32());
    in.TaggedFields();
    topics.push_back(std::move(topic));
  }
  if (v >= 7) (void)in.Bool();  // require_stable: no transactions, every offset is stable
  in.TaggedFields();
  if (!in.ok()) return done(in.status());
  if (all && v < 2) return done(Status::InvalidArgument("OffsetFetch v1 needs a topic list"));

  const auto committed = broker.groups().Fetch(group_id);
  if (all) {
    std::map<std::string, std::vector<int32_t>> by_topic;
    for (const auto& [key, c] : committed) by_topic[key.first].push_back(key.second);
    for (auto& [name, partitions] : by_topic) topics.emplace_back(name, std::move(partitions));
  }
  Response r;
  WireWriter w(&r.body, in.flexible());
  if (v >= 3) w.Int32(0);  // throttle_time_ms
  w.ArrayLength(static_cast<int32_t>(topics.size()));
  for (const auto& [name, partitions] : topics) {
    w.String(name);
    w.ArrayLength(static_cast<int32_t>(partitions.size()));
    for (int32_t p : partitions) {
      auto it = committed.find({name, p});
      const GroupCoordinator::Committed c = it == committed.end() ? GroupCoordinator::Committed{} : it->second;
      w.Int32(p);
      w.Int64(c.offset);
      if (v >= 5) w.Int32(c.leader_epoch);
      w.NullableString(c.metadata);
      w.Int16(Wire(ErrorCode::kNone));
      w.EmptyTaggedFields();
    }
    w.EmptyTaggedFields();
  }
  if (v >= 2) w.Int16(Wire(ErrorCode::kNone));
  w.EmptyTaggedFields();
  done(std::move(r));
}

}  // namespace sluice::server::kafka
