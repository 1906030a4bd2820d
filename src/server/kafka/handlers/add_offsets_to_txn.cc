// AddOffsetsToTxn (key 25), v0-v3: the transaction will commit offsets of this group.
#include "server/kafka/broker.h"
#include "server/kafka/errors.h"
#include "server/kafka/transactions.h"

namespace sluice::server::kafka {

void HandleAddOffsetsToTxn(Broker& broker, const RequestContext&, WireReader& in, ResponseCallback done) {
  const std::string transactional_id(in.String());
  const int64_t producer_id = in.Int64();
  const int16_t epoch = in.Int16();
  const std::string group_id(in.String());
  in.TaggedFields();
  if (!in.ok()) return done(in.status());
  const ErrorCode error = broker.transactions().AddOffsets(transactional_id, producer_id, epoch, group_id);
  Response r;
  r.errors = error == ErrorCode::kNone ? 0 : 1;
  WireWriter w(&r.body, in.flexible());
  w.Int32(0);  // throttle_time_ms
  w.Int16(Wire(error));
  w.EmptyTaggedFields();
  done(std::move(r));
}

}  // namespace sluice::server::kafka
