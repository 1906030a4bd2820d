#include "server/kafka/transactions.h"

#include <atomic>
#include <memory>

#include "common/logging.h"
#include "common/thread_name.h"
#include "server/kafka/broker.h"
#include "server/kafka/errors.h"
#include "server/kafka/producers.h"

namespace sluice::server::kafka {

TransactionCoordinator::~TransactionCoordinator() { Stop(); }

void TransactionCoordinator::Start() {
  expirer_ = std::thread([this] {
    SetThreadName("kafka-txn");
    ExpireLoop();
  });
}

void TransactionCoordinator::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (expirer_.joinable()) expirer_.join();
}

void TransactionCoordinator::ExpireLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::milliseconds(200));
    if (stopping_) break;
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::pair<std::string, Txn>> expired;
    for (auto& [id, t] : txns_) {
      if (!t.ongoing || now - t.started < std::chrono::milliseconds(t.timeout_ms)) continue;
      expired.emplace_back(id, t);
      // The producer is fenced: its next request fails with INVALID_PRODUCER_EPOCH.
      if (t.epoch < INT16_MAX - 1) ++t.epoch;
      t.ongoing = false;
      t.partitions.clear();
      t.groups.clear();
      t.offsets.clear();
    }
    if (expired.empty()) continue;
    lock.unlock();
    for (auto& [id, t] : expired) {
      SLUICE_LOG_INFO("kafka: transactional id {}: aborting a transaction open longer than {} ms", id, t.timeout_ms);
      Complete(std::move(t), /*commit=*/false, [](ErrorCode) {});
    }
    lock.lock();
  }
}

ErrorCode TransactionCoordinator::Check(const std::string& transactional_id, int64_t producer_id, int16_t epoch,
                                        Txn** txn) {
  auto it = txns_.find(transactional_id);
  if (it == txns_.end() || it->second.producer_id != producer_id) return ErrorCode::kInvalidProducerIdMapping;
  if (epoch != it->second.epoch) return ErrorCode::kInvalidProducerEpoch;
  *txn = &it->second;
  return ErrorCode::kNone;
}

void TransactionCoordinator::InitProducerId(const std::string& transactional_id, int32_t timeout_ms,
                                            std::function<void(InitResult)> done) {
  if (timeout_ms <= 0 || timeout_ms > 15 * 60 * 1000) return done({ErrorCode::kInvalidTransactionTimeout});
  Txn leftover;
  bool abort_leftover = false;
  InitResult result;
  {
    std::lock_guard lock(mu_);
    auto it = txns_.find(transactional_id);
    if (it == txns_.end()) {
      Txn t;
      std::tie(t.producer_id, t.epoch) = broker_->producers().NewProducerId();
      it = txns_.emplace(transactional_id, std::move(t)).first;
    } else {
      Txn& t = it->second;
      if (t.ongoing) {
        leftover = t;
        abort_leftover = true;
      }
      if (t.epoch >= INT16_MAX - 1) {
        std::tie(t.producer_id, t.epoch) = broker_->producers().NewProducerId();
      } else {
        ++t.epoch;  // fences the previous incarnation
      }
      t.ongoing = false;
      t.partitions.clear();
      t.groups.clear();
      t.offsets.clear();
    }
    it->second.timeout_ms = timeout_ms;
    result = {ErrorCode::kNone, it->second.producer_id, it->second.epoch};
  }
  if (!abort_leftover) return done(result);
  SLUICE_LOG_INFO("kafka: transactional id {}: aborting the transaction its previous producer left open",
                  transactional_id);
  Complete(std::move(leftover), /*commit=*/false, [result, done = std::move(done)](ErrorCode error) {
    if (error != ErrorCode::kNone) return done({error});
    done(result);
  });
}

ErrorCode TransactionCoordinator::AddPartition(const std::string& transactional_id, int64_t producer_id,
                                               int16_t epoch, const std::string& topic, int32_t partition) {
  std::lock_guard lock(mu_);
  Txn* txn = nullptr;
  if (ErrorCode e = Check(transactional_id, producer_id, epoch, &txn); e != ErrorCode::kNone) return e;
  if (!txn->ongoing) txn->started = std::chrono::steady_clock::now();
  txn->ongoing = true;
  txn->partitions.emplace(topic, partition);
  return ErrorCode::kNone;
}

ErrorCode TransactionCoordinator::AddOffsets(const std::string& transactional_id, int64_t producer_id,
                                             int16_t epoch, const std::string& group_id) {
  if (group_id.empty()) return ErrorCode::kInvalidGroupId;
  std::lock_guard lock(mu_);
  Txn* txn = nullptr;
  if (ErrorCode e = Check(transactional_id, producer_id, epoch, &txn); e != ErrorCode::kNone) return e;
  if (!txn->ongoing) txn->started = std::chrono::steady_clock::now();
  txn->ongoing = true;
  txn->groups.insert(group_id);
  return ErrorCode::kNone;
}

ErrorCode TransactionCoordinator::StageOffsets(const std::string& transactional_id, int64_t producer_id,
                                               int16_t epoch, const std::string& group_id,
                                               std::vector<GroupCoordinator::CommitPartition> offsets) {
  std::lock_guard lock(mu_);
  Txn* txn = nullptr;
  if (ErrorCode e = Check(transactional_id, producer_id, epoch, &txn); e != ErrorCode::kNone) return e;
  if (!txn->groups.contains(group_id)) return ErrorCode::kInvalidTxnState;  // AddOffsetsToTxn first
  auto& staged = txn->offsets[group_id];
  for (auto& o : offsets) {
    std::erase_if(staged, [&](const auto& s) { return s.topic == o.topic && s.partition == o.partition; });
    staged.push_back(std::move(o));
  }
  return ErrorCode::kNone;
}

ErrorCode TransactionCoordinator::CheckProduce(const std::string& transactional_id, int64_t producer_id,
                                               int16_t epoch, const std::string& topic, int32_t partition) {
  std::lock_guard lock(mu_);
  Txn* txn = nullptr;
  if (ErrorCode e = Check(transactional_id, producer_id, epoch, &txn); e != ErrorCode::kNone) return e;
  if (!txn->ongoing || !txn->partitions.contains({topic, partition})) return ErrorCode::kInvalidTxnState;
  return ErrorCode::kNone;
}

bool TransactionCoordinator::IsOrphan(int64_t producer_id) {
  std::lock_guard lock(mu_);
  for (const auto& [id, t] : txns_) {
    if (t.producer_id == producer_id && t.ongoing) return false;
  }
  return true;
}

void TransactionCoordinator::EndTxn(const std::string& transactional_id, int64_t producer_id, int16_t epoch,
                                    bool commit, std::function<void(ErrorCode)> done) {
  Txn ended;
  {
    std::lock_guard lock(mu_);
    Txn* txn = nullptr;
    if (ErrorCode e = Check(transactional_id, producer_id, epoch, &txn); e != ErrorCode::kNone) return done(e);
    if (!txn->ongoing) return done(ErrorCode::kNone);  // nothing was added: nothing to end
    ended = *txn;
    txn->ongoing = false;
    txn->partitions.clear();
    txn->groups.clear();
    txn->offsets.clear();
  }
  Complete(std::move(ended), commit, std::move(done));
}

void TransactionCoordinator::Complete(Txn txn, bool commit, std::function<void(ErrorCode)> done) {
  struct Pending {
    std::atomic<int> outstanding{0};
    std::atomic<int16_t> error{0};
    std::function<void(ErrorCode)> done;
  };
  auto pending = std::make_shared<Pending>();
  pending->done = std::move(done);
  // One count per marker, one per group commit, one for this function.
  pending->outstanding = static_cast<int>(txn.partitions.size() + (commit ? txn.offsets.size() : 0)) + 1;
  const auto finish_one = [pending](ErrorCode e) {
    if (e != ErrorCode::kNone) pending->error.store(static_cast<int16_t>(e));
    if (pending->outstanding.fetch_sub(1) == 1) pending->done(static_cast<ErrorCode>(pending->error.load()));
  };
  const log::ControlType type = commit ? log::ControlType::kCommit : log::ControlType::kAbort;
  for (const auto& [topic_name, index] : txn.partitions) {
    Result<std::shared_ptr<log::Topic>> topic = broker_->log().GetTopic(topic_name);
    if (!topic.ok() || index < 0 || index >= (*topic)->partition_count()) {
      finish_one(ErrorCode::kNone);  // deleted meanwhile: nothing left to mark
      continue;
    }
    broker_->producers().WriteMarker(&(*topic)->partition(PartitionId(index)), topic_name, txn.producer_id, txn.epoch,
                                     type, [finish_one, keep = *topic](Result<log::AppendResult> r) {
                                       finish_one(r.ok() ? ErrorCode::kNone : ErrorCodeFor(r.status()));
                                     });
  }
  if (commit) {
    for (auto& [group, offsets] : txn.offsets) {
      broker_->groups().Commit(group, -1, "", std::move(offsets), finish_one, /*transactional=*/true);
    }
  }
  finish_one(ErrorCode::kNone);
}

}  // namespace sluice::server::kafka
