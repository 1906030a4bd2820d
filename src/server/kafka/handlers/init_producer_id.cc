// InitProducerId (key 22), v0-v4: a producer id and epoch for an idempotent producer. A
// producer that passes its current id and epoch (v3+, KIP-360) gets the epoch bumped.
// Transactional ids are not supported yet.
#include "server/kafka/broker.h"
#include "server/kafka/errors.h"
#include "server/kafka/producers.h"

namespace sluice::server::kafka {

void HandleInitProducerId(Broker& broker, const RequestContext& ctx, WireReader& in, ResponseCallback done) {
  const int16_t v = ctx.header.api_version;
  const std::optional<std::string_view> transactional_id = in.NullableString();
  (void)in.Int32();  // transaction_timeout_ms
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  if (v >= 3) {
    producer_id = in.Int64();
    producer_epoch = in.Int16();
  }
  in.TaggedFields();
  if (!in.ok()) return done(in.status());

  ErrorCode error = ErrorCode::kNone;
  std::pair<int64_t, int16_t> assigned{-1, -1};
  if (transactional_id) {
    error = ErrorCode::kInvalidTxnState;  // transactions: not yet
  } else if (producer_id >= 0 && producer_epoch >= 0 && producer_epoch < INT16_MAX - 1) {
    assigned = {producer_id, static_cast<int16_t>(producer_epoch + 1)};
  } else {
    assigned = broker.producers().NewProducerId();
  }
  Response r;
  r.errors = error == ErrorCode::kNone ? 0 : 1;
  WireWriter w(&r.body, in.flexible());
  w.Int32(0);  // throttle_time_ms
  w.Int16(Wire(error));
  w.Int64(assigned.first);
  w.Int16(assigned.second);
  w.EmptyTaggedFields();
  done(std::move(r));
}

}  // namespace sluice::server::kafka
