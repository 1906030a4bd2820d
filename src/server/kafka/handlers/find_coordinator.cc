// FindCoordinator (key 10), v0-v3: this node coordinates every group (key_type 0) and every
// transactional id (key_type 1).
#include "server/kafka/broker.h"
#include "server/kafka/errors.h"

namespace sluice::server::kafka {

void HandleFindCoordinator(Broker& broker, const RequestContext& ctx, WireReader& in, ResponseCallback done) {
  const int16_t v = ctx.header.api_version;
  (void)in.String();  // key
  const int8_t key_type = v >= 1 ? in.Int8() : 0;
  in.TaggedFields();
  if (!in.ok()) return done(in.status());
  const bool available = key_type == 0 || key_type == 1;
  Response r;
  r.errors = available ? 0 : 1;
  WireWriter w(&r.body, in.flexible());
  if (v >= 1) w.Int32(0);  // throttle_time_ms
  w.Int16(Wire(available ? ErrorCode::kNone : ErrorCode::kCoordinatorNotAvailable));
  if (v >= 1) {
    w.NullableString(available ? std::nullopt : std::optional<std::string_view>("unknown key type"));
  }
  w.Int32(available ? Broker::kNodeId : -1);
  w.String(available ? (broker.options().advertised_host.empty() ? ctx.local_host : broker.options().advertised_host)
                     : "");
  w.Int32(available ? ctx.local_port : -1);
  w.EmptyTaggedFields();
  done(std::move(r));
}

}  // namespace sluice::server::kafka
