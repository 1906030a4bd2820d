// JoinGroup (key 11), v0-v7: joins (or rejoins) a consumer group; answered when the group's
// join phase completes (see GroupCoordinator), so the request may wait up to the rebalance
// timeout.
#include "server/kafka/broker.h"
#include "server/kafka/errors.h"
#include "server/kafka/group_coordinator.h"

namespace sluice::server::kafka {

void HandleJoinGroup(Broker& broker, const RequestContext& ctx, WireReader& in, ResponseCallback done) {
  const int16_t v = ctx.header.api_version;
  GroupCoordinator::JoinRequest req;
  req.group_id = std::string(in.String());
  req.session_timeout_ms = in.Int32();
  req.rebalance_timeout_ms = v >= 1 ? in.Int32() : req.session_timeout_ms;
  req.member_id = std::string(in.String());
  if (v >= 5) {
    if (auto id = in.NullableString()) req.group_instance_id = std::string(*id);
  }
  req.protocol_type = std::string(in.String());
  const int32_t n = in.ArrayLength(3);
  for (int32_t i = 0; i < n && in.ok(); ++i) {
    GroupCoordinator::Protocol p;
    p.name = std::string(in.String());
    p.metadata = std::string(in.NullableBytes().value_or(""));
    in.TaggedFields();
    req.protocols.push_back(std::move(p));
  }
  in.TaggedFields();
  if (!in.ok()) return done(in.status());
  req.client_id = ctx.header.client_id.value_or("");
  req.client_host = ctx.peer_host;
  const bool flexible = in.flexible();
  broker.groups().Join(std::move(req), [v, flexible, done = std::move(done)](GroupCoordinator::JoinResult j) {
    Response r;
    r.errors = j.error == ErrorCode::kNone ? 0 : 1;
    WireWriter w(&r.body, flexible);
    if (v >= 2) w.Int32(0);  // throttle_time_ms
    w.Int16(Wire(j.error));
    w.Int32(j.generation_id);
    if (v >= 7) {
      w.NullableString(j.protocol_type.empty() ? std::nullopt : std::optional<std::string_view>(j.protocol_type));
      w.NullableString(j.protocol_name.empty() ? std::nullopt : std::optional<std::string_view>(j.protocol_name));
    } else {
      w.String(j.protocol_name);
    }
    w.String(j.leader);
    w.String(j.member_id);
    w.ArrayLength(static_cast<int32_t>(j.members.size()));
    for (const auto& m : j.members) {
      w.String(m.member_id);
      if (v >= 5) w.NullableString(m.group_instance_id);
      w.NullableBytes(m.metadata);
      w.EmptyTaggedFields();
    }
    w.EmptyTaggedFields();
    done(std::move(r));
  });
}

}  // namespace sluice::server::kafka
