// SyncGroup (key 14), v0-v5: the leader hands in the assignments; every member receives its
// own once the leader's have arrived.
#include "server/kafka/broker.h"
#include "server/kafka/errors.h"
#include "server/kafka/group_coordinator.h"

namespace sluice::server::kafka {

void HandleSyncGroup(Broker& broker, const RequestContext& ctx, WireReader& in, ResponseCallback done) {
  const int16_t v = ctx.header.api_version;
  const std::string group_id(in.String());
  const int32_t generation_id = in.Int32();
  const std::string member_id(in.String());
  if (v >= 3) (void)in.NullableString();  // group_instance_id
  if (v >= 5) {
    (void)in.NullableString();  // protocol_type
    (void)in.NullableString();  // protocol_name
  }
  std::vector<std::pair<std::string, std::string>> assignments;
  const int32_t n = in.ArrayLength(3);
  for (int32_t i = 0; i < n && in.ok(); ++i) {
    std::string member(in.String());
    std::string assignment(in.NullableBytes().value_or(""));
    in.TaggedFields();
    assignments.emplace_back(std::move(member), std::move(assignment));
  }
  in.TaggedFields();
  if (!in.ok()) return done(in.status());
  const bool flexible = in.flexible();
  broker.groups().Sync(group_id, generation_id, member_id, std::move(assignments),
                       [v, flexible, done = std::move(done)](GroupCoordinator::SyncResult s) {
                         Response r;
                         r.errors = s.error == ErrorCode::kNone ? 0 : 1;
                         WireWriter w(&r.body, flexible);
                         if (v >= 1) w.Int32(0);  // throttle_time_ms
                         w.Int16(Wire(s.error));
                         if (v >= 5) {
                           w.NullableString(s.protocol_type.empty() ? std::nullopt
                                                                    : std::optional<std::string_view>(s.protocol_type));
                           w.NullableString(s.protocol_name.empty() ? std::nullopt
                                                                    : std::optional<std::string_view>(s.protocol_name));
                         }
                         w.NullableBytes(s.assignment);
                         w.EmptyTaggedFields();
                         done(std::move(r));
                       });
}

}  // namespace sluice::server::kafka
