// EndTxn (key 26), v0-v3: commit or abort the open transaction. Answered once a COMMIT or
// ABORT marker is durable in every partition the transaction wrote (and, on commit, its group
// offsets are).
#include "server/kafka/broker.h"
#include "server/kafka/errors.h"
#include "server/kafka/transactions.h"

namespace sluice::server::kafka {

void HandleEndTxn(Broker& broker, const RequestContext&, WireReader& in, ResponseCallback done) {
  const std::string transactional_id(in.String());
  const int64_t producer_id = in.Int64();
  const int16_t epoch = in.Int16();
  const bool committed = in.Bool();
  in.TaggedFields();
  if (!in.ok()) return done(in.status());
  const bool flexible = in.flexible();
  broker.transactions().EndTxn(transactional_id, producer_id, epoch, committed,
                               [flexible, done = std::move(done)](ErrorCode error) {
                                 Response r;
                                 r.errors = error == ErrorCode::kNone ? 0 : 1;
                                 WireWriter w(&r.body, flexible);
                                 w.Int32(0);  // throttle_time_ms
                                 w.Int16(Wire(error));
                                 w.EmptyTaggedFields();
                                 done(std::move(r));
                               });
}

}  // namespace sluice::server::kafka
