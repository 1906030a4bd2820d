// LeaveGroup (key 13), v0-v4: one member (v0-v2) or a batch of members (v3+) leave; the rest
// of the group rebalances.
#include "server/kafka/broker.h"
#include "server/kafka/errors.h"
#include "server/kafka/group_coordinator.h"

namespace sluice::server::kafka {

void HandleLeaveGroup(Broker& broker, const RequestContext& ctx, WireReader& in, ResponseCallback done) {
  const int16_t v = ctx.header.api_version;
  const std::string group_id(in.String());
  std::vector<std::pair<std::string, std::optional<std::string>>> members;
  if (v <= 2) {
    members.emplace_back(std::string(in.String()), std::nullopt);
  } else {
    const int32_t n = in.ArrayLength(2);
    for (int32_t i = 0; i < n && in.ok(); ++i) {
      std::string id(in.String());
      std::optional<std::string_view> instance = in.NullableString();
      in.TaggedFields();
      members.emplace_back(std::move(id), instance ? std::optional<std::string>(*instance) : std::nullopt);
    }
  }
  in.TaggedFields();
  if (!in.ok()) return done(in.status());
  std::vector<ErrorCode> errors;
  for (const auto& [id, instance] : members) errors.push_back(broker.groups().Leave(group_id, id));
  Response r;
  WireWriter w(&r.body, in.flexible());
  if (v >= 1) w.Int32(0);  // throttle_time_ms
  if (v <= 2) {
    w.Int16(Wire(errors.at(0)));
    r.errors = errors.at(0) == ErrorCode::kNone ? 0 : 1;
  } else {
    w.Int16(Wire(ErrorCode::kNone));
    w.ArrayLength(static_cast<int32_t>(members.size()));
    for (size_t i = 0; i < members.size(); ++i) {
      if (errors[i] != ErrorCode::kNone) ++r.errors;
      w.String(members[i].first);
      w.NullableString(members[i].second);
      w.Int16(Wire(errors[i]));
      w.EmptyTaggedFields();
    }
  }
  w.EmptyTaggedFields();
  done(std::move(r));
}

}  // namespace sluice::server::kafka
