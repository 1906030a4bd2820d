// InitProducerId (key 22), v0-v4: a producer id and epoch for an idempotent producer (a
// producer that passes its current id and epoch, v3+ / KIP-360, gets the epoch bumped), or for
// a transactional id (TransactionCoordinator: bumps the epoch, aborting what the previous
// producer left open).
#include "server/kafka/broker.h"
#include "server/kafka/errors.h"
#include "server/kafka/producers.h"
#include "server/kafka/transactions.h"

namespace sluice::server::kafka {

void HandleInitProducerId(Broker& broker, const RequestContext& ctx, WireReader& in, ResponseCallback done) {
  const int16_t v = ctx.header.api_version;
  const std::optional<std::string_view> transactional_id = in.NullableString();
  const int32_t transaction_timeout_ms = in.Int32();
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  if (v >= 3) {
    producer_id = in.Int64();
    producer_epoch = in.Int16();
  }
  in.TaggedFields();
  if (!in.ok()) return done(in.status());

  const bool flexible = in.flexible();
  const auto respond = [flexible, done](ErrorCode error, int64_t producer_id, int16_t epoch) {
    Response r;
    r.errors = error == ErrorCode::kNone ? 0 : 1;
    WireWriter w(&r.body, flexible);
    w.Int32(0);  // throttle_time_ms
    w.Int16(Wire(error));
    w.Int64(producer_id);
    w.Int16(epoch);
    w.EmptyTaggedFields();
    done(std::move(r));
  };
  if (transactional_id) {
    return broker.transactions().InitProducerId(
        std::string(*transactional_id), transaction_timeout_ms,
        [respond](TransactionCoordinator::InitResult r) { respond(r.error, r.producer_id, r.producer_epoch); });
  }
  std::pair<int64_t, int16_t> assigned{-1, -1};
  if (producer_id >= 0 && producer_epoch >= 0 && producer_epoch < INT16_MAX - 1) {
    assigned = {producer_id, static_cast<int16_t>(producer_epoch + 1)};
  } else {
    assigned = broker.producers().NewProducerId();
  }
  respond(ErrorCode::kNone, assigned.first, assigned.second);
}

}  // namespace sluice::server::kafka
