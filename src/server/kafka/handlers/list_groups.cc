// ListGroups (key 16), v0-v4: every group the coordinator knows, optionally filtered by state.
#include <algorithm>

#include "server/kafka/broker.h"
#include "server/kafka/errors.h"
#include "server/kafka/group_coordinator.h"

namespace sluice::server::kafka {

void HandleListGroups(Broker& broker, const RequestContext& ctx, WireReader& in, ResponseCallback done) {
  const int16_t v = ctx.header.api_version;
  std::vector<std::string> states;
  if (v >= 4) {
    const int32_t n = in.ArrayLength();
    for (int32_t i = 0; i < n && in.ok(); ++i) states.emplace_back(in.String());
  }
  in.TaggedFields();
  if (!in.ok()) return done(in.status());
  std::vector<GroupCoordinator::GroupSummary> groups = broker.groups().List();
  if (!states.empty()) {
    std::erase_if(groups, [&](const auto& g) {
      return std::none_of(states.begin(), states.end(), [&](const std::string& s) {
        return std::equal(s.begin(), s.end(), g.state.begin(), g.state.end(),
                          [](char a, char b) { return std::tolower(a) == std::tolower(b); });
      });
    });
  }
  Response r;
  WireWriter w(&r.body, in.flexible());
  if (v >= 1) w.Int32(0);  // throttle_time_ms
  w.Int16(Wire(ErrorCode::kNone));
  w.ArrayLength(static_cast<int32_t>(groups.size()));
  for (const auto& g : groups) {
    w.String(g.group_id);
    w.String(g.protocol_type);
    if (v >= 4) w.String(g.state);
    w.EmptyTaggedFields();
  }
  w.EmptyTaggedFields();
  done(std::move(r));
}

}  // namespace sluice::server::kafka
