// TxnOffsetCommit (key 28), v0-v3: group offsets staged in the open transaction, applied when
// it commits.
#include "server/kafka/broker.h"
#include "server/kafka/errors.h"
#include "server/kafka/transactions.h"

namespace sluice::server::kafka {

void HandleTxnOffsetCommit(Broker& broker, const RequestContext& ctx, WireReader& in, ResponseCallback done) {
  const int16_t v = ctx.header.api_version;
  const std::string transactional_id(in.String());
  const std::string group_id(in.String());
  const int64_t producer_id = in.Int64();
  const int16_t epoch = in.Int16();
  if (v >= 3) {
    (void)in.Int32();           // generation_id
    (void)in.String();          // member_id
    (void)in.NullableString();  // group_instance_id
  }
  CommitRequest request = ReadCommitRequest(in, /*has_leader_epoch=*/v >= 2);
  if (!in.ok()) return done(in.status());
  const ErrorCode error = broker.transactions().StageOffsets(transactional_id, producer_id, epoch, group_id,
                                                             std::move(request.partitions));
  Response r;
  WireWriter w(&r.body, in.flexible());
  w.Int32(0);  // throttle_time_ms
  WriteCommitResponse(request.topics, error, &w, &r.errors);
  done(std::move(r));
}

}  // namespace sluice::server::kafka
