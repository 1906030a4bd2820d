// DescribeGroups (key 15), v0-v5: state, protocol and members (with their assignments) of
// each group; an unknown group is described as Dead with no members, as Kafka does.
#include "server/kafka/broker.h"
#include "server/kafka/errors.h"
#include "server/kafka/group_coordinator.h"

namespace sluice::server::kafka {

void HandleDescribeGroups(Broker& broker, const RequestContext& ctx, WireReader& in, ResponseCallback done) {
  const int16_t v = ctx.header.api_version;
  std::vector<std::string> ids;
  const int32_t n = in.ArrayLength();
  for (int32_t i = 0; i < n && in.ok(); ++i) ids.emplace_back(in.String());
  if (v >= 3) (void)in.Bool();  // include_authorized_operations
  in.TaggedFields();
  if (!in.ok()) return done(in.status());
  Response r;
  WireWriter w(&r.body, in.flexible());
  if (v >= 1) w.Int32(0);  // throttle_time_ms
  w.ArrayLength(static_cast<int32_t>(ids.size()));
  for (const std::string& id : ids) {
    const GroupCoordinator::GroupDescription d = broker.groups().Describe(id);
    w.Int16(Wire(d.error));
    w.String(d.group_id);
    w.String(d.state);
    w.String(d.protocol_type);
    w.String(d.protocol);
    w.ArrayLength(static_cast<int32_t>(d.members.size()));
    for (const auto& m : d.members) {
      w.String(m.member_id);
      if (v >= 4) w.NullableString(m.group_instance_id);
      w.String(m.client_id);
      w.String(m.client_host);
      w.NullableBytes(m.metadata);
      w.NullableBytes(m.assignment);
      w.EmptyTaggedFields();
    }
    if (v >= 3) w.Int32(INT32_MIN);  // authorized_operations: not provided
    w.EmptyTaggedFields();
  }
  w.EmptyTaggedFields();
  done(std::move(r));
}

}  // namespace sluice::server::kafka
