#include "server/kafka/transactions.h"

#include <atomic>
#include <future>
#include <memory>

#include <fmt/format.h>

#include "common/logging.h"
#include "common/thread_name.h"
#include "server/kafka/broker.h"
#include "server/kafka/errors.h"
#include "server/kafka/producers.h"
#include "server/kafka/wire.h"
#include "log/record_batch.h"

namespace sluice::server::kafka {
namespace {

constexpr int16_t kStateRecordVersion = 1;

int64_t WallMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TransactionCoordinator::TransactionCoordinator(Broker* broker)
    : broker_(broker), state_topic_(&broker->log(), kStateTopic) {}

TransactionCoordinator::~TransactionCoordinator() { Stop(); }

Status TransactionCoordinator::Start() {
  SLUICE_ASSIGN_OR_RETURN(auto decided, Replay());
  // Transactions decided before a stop but not completed are completed before any request is
  // served. While that runs they count as open, so the orphan check leaves their data alone.
  for (auto& [decided_id, txn, commit] : decided) {
    const std::string id = decided_id;  // clang 14 cannot capture a structured binding
    SLUICE_LOG_INFO("kafka: transactional id {}: completing the {} decided before the last stop", id,
                    commit ? "commit" : "abort");
    {
      std::lock_guard lock(mu_);
      txns_[id].ongoing = true;
    }
    std::promise<ErrorCode> finished;
    std::future<ErrorCode> result = finished.get_future();
    Complete(txn, commit, [this, id, &finished](ErrorCode e) {
      if (e != ErrorCode::kNone) return finished.set_value(e);
      Txn current;
      {
        std::lock_guard lock(mu_);
        current = txns_[id];
      }
      Persist(id, current, Phase::kEmpty, [&finished](ErrorCode e2) { finished.set_value(e2); });
    });
    const ErrorCode e = result.get();
    {
      std::lock_guard lock(mu_);
      txns_[id].ongoing = false;
    }
    if (e != ErrorCode::kNone) {
      return Status::Unavailable(fmt::format("completing the transaction of transactional id {}: error {}", id,
                                             static_cast<int>(e)));
    }
  }
  expirer_ = std::thread([this] {
    SetThreadName("kafka-txn");
    ExpireLoop();
  });
  return Status::Ok();
}

void TransactionCoordinator::Persist(const std::string& transactional_id, const Txn& txn, Phase phase,
                                     std::function<void(ErrorCode)> done) {
  std::string key;
  WireWriter k(&key, false);
  k.Int16(kStateRecordVersion);
  k.String(transactional_id);
  std::string value;
  WireWriter v(&value, false);
  v.Int16(kStateRecordVersion);
  v.Int8(static_cast<int8_t>(phase));
  v.Int64(txn.producer_id);
  v.Int16(txn.epoch);
  v.Int32(txn.timeout_ms);
  const bool prepare = phase != Phase::kEmpty;
  v.Int32(prepare ? static_cast<int32_t>(txn.partitions.size()) : 0);
  if (prepare) {
    for (const auto& [topic, partition] : txn.partitions) {
      v.String(topic);
      v.Int32(partition);
    }
  }
  int32_t offsets = 0;
  if (phase == Phase::kPrepareCommit) {
    for (const auto& [group, list] : txn.offsets) offsets += static_cast<int32_t>(list.size());
  }
  v.Int32(offsets);
  if (phase == Phase::kPrepareCommit) {
    for (const auto& [group, list] : txn.offsets) {
      for (const GroupCoordinator::CommitPartition& o : list) {
        v.String(group);
        v.String(o.topic);
        v.Int32(o.partition);
        v.Int64(o.offset);
        v.Int32(o.leader_epoch);
        v.NullableString(o.metadata);
      }
    }
  }
  log::RecordBatchBuilder builder;
  builder.Add(TimestampMs(WallMillis()), key, value);
  Result<std::shared_ptr<log::Topic>> topic = state_topic_.GetOrCreate();
  if (!topic.ok()) {
    SLUICE_LOG_WARN("kafka: transactional id {}: {}", transactional_id, topic.status().ToString());
    return done(ErrorCodeFor(topic.status()));
  }
  (*topic)->partition(PartitionId(0)).Append(builder.Finish(), [transactional_id, done = std::move(done)](
                                                                   Result<log::AppendResult> appended) {
    if (!appended.ok()) {
      SLUICE_LOG_WARN("kafka: transactional id {}: writing its state: {}", transactional_id,
                      appended.status().ToString());
      return done(ErrorCodeFor(appended.status()));
    }
    done(ErrorCode::kNone);
  });
}

Result<std::vector<std::tuple<std::string, TransactionCoordinator::Txn, bool>>> TransactionCoordinator::Replay() {
  std::vector<std::tuple<std::string, Txn, bool>> decided;
  std::map<std::string, std::pair<Txn, Phase>> last;  // by transactional id: its newest record
  SLUICE_RETURN_IF_ERROR(state_topic_.Replay([&](const log::Record& r) -> Status {
    if (!r.key || !r.value) return Status::Ok();
    WireReader key(*r.key, false);
    if (key.Int16() != kStateRecordVersion) return Status::Ok();  // a newer format: not ours to read
    const std::string id(key.String());
    WireReader value(*r.value, false);
    if (value.Int16() != kStateRecordVersion) return Status::Ok();
    Txn t;
    const int8_t phase = value.Int8();
    t.producer_id = value.Int64();
    t.epoch = value.Int16();
    t.timeout_ms = value.Int32();
    for (int32_t n = value.Int32(); value.ok() && n > 0; --n) {
      std::string topic_name(value.String());
      t.partitions.emplace(std::move(topic_name), value.Int32());
    }
    for (int32_t n = value.Int32(); value.ok() && n > 0; --n) {
      const std::string group(value.String());
      GroupCoordinator::CommitPartition o;
      o.topic = std::string(value.String());
      o.partition = value.Int32();
      o.offset = value.Int64();
      o.leader_epoch = value.Int32();
      if (auto m = value.NullableString()) o.metadata = std::string(*m);
      t.offsets[group].push_back(std::move(o));
    }
    if (!key.ok() || !value.ok() || phase < 0 || phase > 2) {
      return Status::Corruption(fmt::format("{}: malformed record at offset {}", kStateTopic, r.offset.value()));
    }
    last[id] = {std::move(t), static_cast<Phase>(phase)};
    return Status::Ok();
  }));
  std::lock_guard lock(mu_);
  for (auto& [id, entry] : last) {
    auto& [t, phase] = entry;
    broker_->producers().ObserveProducerId(t.producer_id);
    Txn& kept = txns_[id];
    kept.producer_id = t.producer_id;
    kept.epoch = t.epoch;
    kept.timeout_ms = t.timeout_ms;
    kept.recovered = true;
    if (phase != Phase::kEmpty) decided.emplace_back(id, std::move(t), phase == Phase::kPrepareCommit);
  }
  if (!last.empty()) SLUICE_LOG_INFO("kafka: recovered the state of {} transactional ids", last.size());
  return decided;
}

void TransactionCoordinator::Finish(const std::string& transactional_id, Txn txn, bool commit,
                                    std::function<void(ErrorCode)> done) {
  const Phase phase = commit ? Phase::kPrepareCommit : Phase::kPrepareAbort;
  Persist(transactional_id, txn, phase, [this, transactional_id, txn, commit, done = std::move(done)](ErrorCode e) {
    if (e != ErrorCode::kNone) return done(e);
    Complete(txn, commit, [this, transactional_id, txn, done](ErrorCode e2) {
      if (e2 != ErrorCode::kNone) return done(e2);
      Txn current = txn;
      {
        std::lock_guard lock(mu_);
        if (auto it = txns_.find(transactional_id); it != txns_.end()) current = it->second;
      }
      Persist(transactional_id, current, Phase::kEmpty, done);
    });
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
      Finish(id, std::move(t), /*commit=*/false, [](ErrorCode) {});
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
  Txn current;
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
      if (t.recovered || t.epoch >= INT16_MAX - 1) {
        std::tie(t.producer_id, t.epoch) = broker_->producers().NewProducerId();
        t.recovered = false;
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
    current = it->second;
  }
  if (!abort_leftover) {
    // Answered once the id's producer id and epoch are durable: a restart keeps fencing.
    return Persist(transactional_id, current, Phase::kEmpty, [result, done = std::move(done)](ErrorCode e) {
      if (e != ErrorCode::kNone) return done({e});
      done(result);
    });
  }
  SLUICE_LOG_INFO("kafka: transactional id {}: aborting the transaction its previous producer left open",
                  transactional_id);
  // The markers carry the new epoch, as Kafka's coordinator writes them when it fences.
  if (leftover.producer_id == current.producer_id) leftover.epoch = current.epoch;
  Finish(transactional_id, std::move(leftover), /*commit=*/false, [result, done = std::move(done)](ErrorCode error) {
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
  Finish(transactional_id, std::move(ended), commit, std::move(done));
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
