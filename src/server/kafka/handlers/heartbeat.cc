// Heartbeat (key 12), v0-v4: keeps a member's session alive; REBALANCE_IN_PROGRESS tells it
// to rejoin.
#include "server/kafka/broker.h"
#include "server/kafka/errors.h"
#include "server/kafka/group_coordinator.h"

namespace sluice::server::kafka {

void HandleHeartbeat(Broker& broker, const RequestContext& ctx, WireReader& in, ResponseCallback done) {
  const int16_t v = ctx.header.api_version;
  const std::string group_id(in.String());
  const int32_t generation_id = in.Int32();
  const std::string member_id(in.String());
  if (v >= 3) (void)in.NullableString();  // group_instance_id
  in.TaggedFields();
  if (!in.ok()) return done(in.status());
  const ErrorCode error = broker.groups().Heartbeat(group_id, generation_id, member_id);
  Response r;
  r.errors = error == ErrorCode::kNone ? 0 : 1;
  WireWriter w(&r.body, in.flexible());
  if (v >= 1) w.Int32(0);  // throttle_time_ms
  w.Int16(Wire(error));
  w.EmptyTaggedFields();
  done(std::move(r));
}

}  // namespace sluice::server::kafka
