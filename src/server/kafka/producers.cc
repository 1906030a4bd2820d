#include "server/kafka/producers.h"

#include <chrono>
#include <future>

#include "common/logging.h"

namespace sluice::server::kafka {

ProducerRegistry::ProducerRegistry(log::Log* log) : log_(log) {
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  next_id_.store(micros.count());
}

std::pair<int64_t, int16_t> ProducerRegistry::NewProducerId() { return {next_id_.fetch_add(1), 0}; }

void ProducerRegistry::ObserveProducerId(int64_t id) {
  if (log::IsEngineProducerId(id)) return;  // the engine's sinks' ids are of another range
  int64_t cur = next_id_.load();
  while (id >= cur && !next_id_.compare_exchange_weak(cur, id + 1)) {
  }
}

std::shared_ptr<ProducerRegistry::PartitionState> ProducerRegistry::StateFor(const std::string& topic,
                                                                              PartitionId partition) {
  std::lock_guard lock(mu_);
  auto& slot = partitions_[{topic, partition.value()}];
  if (!slot) slot = std::make_shared<PartitionState>();
  return slot;
}

void ProducerRegistry::DropTopic(const std::string& topic) {
  std::lock_guard lock(mu_);
  std::erase_if(partitions_, [&](const auto& kv) { return kv.first.first == topic; });
}

void ProducerRegistry::Append(log::Partition* partition, const std::string& topic, ValidatedBatch validated,
                              AppendDone done) {
  const log::BatchHeader h = validated.header;
  if (h.producer_id < 0) {
    partition->Append(std::move(validated.batch),
                      [done = std::move(done)](Result<log::AppendResult> r) { done(std::move(r), ErrorCode::kNone); });
    return;
  }
  std::shared_ptr<PartitionState> st = StateFor(topic, partition->id());
  std::unique_lock lock(st->mu);
  if (!st->loaded) {
    Status scanned = partition->ScanBatches(TimestampMs::Min(), [&](const log::BatchSummary& b) {
      if (b.producer_id >= 0) {
        st->table.Record(b.producer_id, b.producer_epoch, b.base_sequence, b.record_count, b.base_offset);
      }
    });
    if (!scanned.ok()) {
      lock.unlock();
      return done(scanned, ErrorCode::kNone);
    }
    st->loaded = true;
    ObserveProducerId(st->table.max_producer_id());
  }
  using Verdict = log::ProducerStateTable::Verdict;
  const auto check = st->table.Check(h.producer_id, h.producer_epoch, h.base_sequence, h.record_count);
  switch (check.verdict) {
    case Verdict::kFencedEpoch:
      lock.unlock();
      return done(Status::FailedPrecondition("fenced"), ErrorCode::kInvalidProducerEpoch);
    case Verdict::kOutOfOrder:
      lock.unlock();
      return done(Status::FailedPrecondition("out of order"), ErrorCode::kOutOfOrderSequenceNumber);
    case Verdict::kDuplicate:
      lock.unlock();
      SLUICE_LOG_DEBUG("kafka: duplicate batch of producer {} seq {} on {}/{} acknowledged again", h.producer_id,
                       h.base_sequence, topic, partition->id().value());
      return done(log::AppendResult{check.duplicate_of, h.record_count}, ErrorCode::kNone);
    case Verdict::kAppend: break;
  }
  ObserveProducerId(h.producer_id);
  st->table.Record(h.producer_id, h.producer_epoch, h.base_sequence, h.record_count, Offset(-1));
  // The partition's transaction index opens the producer's transaction (if this batch is
  // transactional) as the batch is appended; orphans found there are resolved first.
  if (h.is_transactional()) {
    if (Status resolved = ResolveOrphans(st.get(), partition, topic); !resolved.ok()) {
      st->table.Forget(h.producer_id, h.base_sequence);
      lock.unlock();
      return done(resolved, ErrorCode::kNone);
    }
  }
  // The append may complete inline (a fast failure) while this thread holds st->mu; such a
  // result is handled after Append returns instead of in the callback.
  struct Call {
    std::mutex mu;
    bool dispatching = true;
    std::optional<Result<log::AppendResult>> inline_result;
  };
  auto call = std::make_shared<Call>();
  const auto settle = [st, h](const Result<log::AppendResult>& r) {  // REQUIRES: st->mu held
    if (r.ok()) {
      st->table.SetOffset(h.producer_id, h.base_sequence, r->base_offset);
    } else {
      st->table.Forget(h.producer_id, h.base_sequence);
    }
  };
  partition->Append(std::move(validated.batch), [call, st, settle, done](Result<log::AppendResult> r) {
    {
      std::lock_guard cl(call->mu);
      if (call->dispatching) {
        call->inline_result = std::move(r);
        return;
      }
    }
    {
      std::lock_guard sl(st->mu);
      settle(r);
    }
    done(std::move(r), ErrorCode::kNone);
  });
  std::optional<Result<log::AppendResult>> inline_result;
  {
    std::lock_guard cl(call->mu);
    call->dispatching = false;
    inline_result = std::move(call->inline_result);
  }
  if (inline_result) {
    settle(*inline_result);
    lock.unlock();
    done(std::move(*inline_result), ErrorCode::kNone);
  }
}

Status ProducerRegistry::ResolveOrphans(PartitionState* st, log::Partition* partition, const std::string& topic) {
  if (st->orphans_resolved) return Status::Ok();
  SLUICE_ASSIGN_OR_RETURN(auto open, partition->OpenTransactions());
  for (const auto& [pid, first] : open) {
    // The engine's sinks resolve their own transactions at start (log::IsEngineProducerId).
    if (log::IsEngineProducerId(pid) || !is_orphan_ || !is_orphan_(pid)) continue;
    SLUICE_LOG_INFO("kafka: aborting the open transaction of producer {} on {}/{} (no coordinator state)", pid,
                    topic, partition->id().value());
    const log::EncodedBatch marker =
        log::BuildControlBatch(pid, 0, log::ControlType::kAbort, TimestampMs(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                                     std::chrono::system_clock::now().time_since_epoch())
                                                                     .count()));
    std::promise<Result<log::AppendResult>> appended;
    auto future = appended.get_future();
    partition->Append(marker, [&appended](Result<log::AppendResult> r) { appended.set_value(std::move(r)); });
    SLUICE_RETURN_IF_ERROR(future.get().status());
  }
  st->orphans_resolved = true;
  return Status::Ok();
}

void ProducerRegistry::WriteMarker(log::Partition* partition, const std::string& topic, int64_t producer_id,
                                   int16_t epoch, log::ControlType type,
                                   std::function<void(Result<log::AppendResult>)> done) {
  std::shared_ptr<PartitionState> st = StateFor(topic, partition->id());
  {
    std::lock_guard lock(st->mu);
    if (Status resolved = ResolveOrphans(st.get(), partition, topic); !resolved.ok()) return done(resolved);
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  partition->Append(log::BuildControlBatch(producer_id, epoch, type, TimestampMs(now)), std::move(done));
}

Result<log::Partition::CommittedView> ProducerRegistry::ViewFrom(log::Partition* partition, const std::string& topic,
                                                                 Offset from) {
  std::shared_ptr<PartitionState> st = StateFor(topic, partition->id());
  {
    std::lock_guard lock(st->mu);
    SLUICE_RETURN_IF_ERROR(ResolveOrphans(st.get(), partition, topic));
  }
  return partition->Committed(from);
}

}  // namespace sluice::server::kafka
