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
  CommitRequest request = ReadCommitRequest(in, /*has_leader_epoch=*/v >= 6);
  if (!in.ok()) return done(in.status());
  const bool flexible = in.flexible();
  broker.groups().Commit(group_id, generation_id, member_id, std::move(request.partitions),
                         [v, flexible, topics = std::move(request.topics), done = std::move(done)](ErrorCode error) {
                           Response r;
                           WireWriter w(&r.body, flexible);
                           if (v >= 3) w.Int32(0);  // throttle_time_ms
                           WriteCommitResponse(topics, error, &w, &r.errors);
                           done(std::move(r));
                         });
}

}  // namespace sluice::server::kafka
