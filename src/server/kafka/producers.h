#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "common/result.h"
#include "log/log.h"
#include "log/producer_state.h"
#include "server/kafka/produce_validation.h"
#include "server/kafka/protocol.h"

namespace sluice::server::kafka {

// Producer ids and idempotent appends. Batches without a producer id go straight to the log;
// batches with one are checked against the partition's log::ProducerStateTable (rebuilt from
// the log on first use after a start) under a per-partition lock, so that the check and the
// offset assignment happen in one order. Thread-safe.
class ProducerRegistry {
 public:
  explicit ProducerRegistry(log::Log* log);

  // A fresh producer id with epoch 0 (InitProducerId without a transactional id). Ids start
  // above the wall clock in microseconds at start-up and above every id found in the log, so
  // a restart never hands out an id that is still in use.
  std::pair<int64_t, int16_t> NewProducerId();

  // Called once: with the append's result, or (with an ignored Result) a sequence error:
  // OUT_OF_ORDER_SEQUENCE_NUMBER or INVALID_PRODUCER_EPOCH. A duplicate is answered with the
  // first append's offset and nothing is written.
  using AppendDone = std::function<void(Result<log::AppendResult>, ErrorCode)>;
  void Append(log::Partition* partition, const std::string& topic, ValidatedBatch batch, AppendDone done);

  // Appends a COMMIT or ABORT marker for `producer_id` (the partition's transaction index
  // closes its transaction); `done` gets the marker's append result.
  void WriteMarker(log::Partition* partition, const std::string& topic, int64_t producer_id, int16_t epoch,
                   log::ControlType type, std::function<void(Result<log::AppendResult>)> done);

  // What a read_committed reader of a partition may see (log::Partition::Committed), once
  // the orphaned transactions of the partition are resolved.
  Result<log::Partition::CommittedView> ViewFrom(log::Partition* partition, const std::string& topic, Offset from);

  // Called with the producers whose transactions were found open in a partition's log when
  // its transaction index is first built, and which the transaction coordinator does not
  // know (their producer went away, or sluice restarted): those transactions are aborted, so
  // that the partition's last stable offset can advance. Set once, before the first request.
  void SetOrphanCheck(std::function<bool(int64_t producer_id)> is_orphan) { is_orphan_ = std::move(is_orphan); }

  // Forgets a deleted topic's state.
  void DropTopic(const std::string& topic);

  // Records that `id` is in use (found in the log or in the transaction coordinator's state),
  // so that NewProducerId never hands it out again.
  void ObserveProducerId(int64_t id);

 private:
  struct PartitionState {
    std::mutex mu;
    bool loaded = false;
    log::ProducerStateTable table;
    bool orphans_resolved = false;
  };
  // Aborts the transactions left open in the partition's log by producers the coordinator
  // does not know (once per partition). REQUIRES: st->mu held.
  Status ResolveOrphans(PartitionState* st, log::Partition* partition, const std::string& topic);
  std::shared_ptr<PartitionState> StateFor(const std::string& topic, PartitionId partition);

  log::Log* const log_;
  std::function<bool(int64_t)> is_orphan_;
  std::atomic<int64_t> next_id_;
  std::mutex mu_;
  std::map<std::pair<std::string, int32_t>, std::shared_ptr<PartitionState>> partitions_;
};

}  // namespace sluice::server::kafka
