#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "common/result.h"
#include "log/log.h"
#include "server/kafka/group_coordinator.h"
#include "server/kafka/protocol.h"
#include "server/kafka/state_topic.h"

namespace sluice::server::kafka {

class Broker;

// Kafka transactions (KIP-98) for a one-node cluster: transactional ids, the partitions and
// group offsets each open transaction touches, and ending a transaction by writing COMMIT or
// ABORT markers to those partitions (then applying its offsets to the groups on commit).
//
// Its state survives restarts in the internal topic `.kafka_transactions`
// (docs/formats/kafka-transactions.md), as Kafka's __transaction_state does: each transactional
// id's producer id and epoch (so a restarted server keeps fencing an old producer), and the
// decision to commit or abort, written before the first marker. At start the decisions not yet
// completed are completed (markers rewritten, offsets applied) before any request is served;
// a transaction still open when the server stopped is aborted when its partition is first read
// or written (ProducerRegistry's orphan check). Thread-safe; never calls into the log or the
// groups with its lock held.
class TransactionCoordinator {
 public:
  explicit TransactionCoordinator(Broker* broker);
  ~TransactionCoordinator();

  // Recovers the state from `.kafka_transactions` (completing decided transactions) and starts
  // the thread that aborts transactions open longer than their timeout (fencing their
  // producer with a new epoch, as Kafka does). Stop() ends it; idempotent.
  Status Start();
  static constexpr std::string_view kStateTopic = ".kafka_transactions";
  void Stop();

  struct InitResult {
    ErrorCode error = ErrorCode::kNone;
    int64_t producer_id = -1;
    int16_t producer_epoch = -1;
  };
  // Registers `transactional_id` (or bumps its epoch, fencing older producers), aborting a
  // transaction the previous incarnation left open.
  void InitProducerId(const std::string& transactional_id, int32_t timeout_ms, std::function<void(InitResult)> done);

  // Adds a partition to the open transaction (opening it).
  ErrorCode AddPartition(const std::string& transactional_id, int64_t producer_id, int16_t epoch,
                         const std::string& topic, int32_t partition);
  ErrorCode AddOffsets(const std::string& transactional_id, int64_t producer_id, int16_t epoch,
                       const std::string& group_id);
  ErrorCode StageOffsets(const std::string& transactional_id, int64_t producer_id, int16_t epoch,
                         const std::string& group_id, std::vector<GroupCoordinator::CommitPartition> offsets);
  // Commits or aborts the open transaction; answered once every marker is durable.
  void EndTxn(const std::string& transactional_id, int64_t producer_id, int16_t epoch, bool commit,
              std::function<void(ErrorCode)> done);

  // Whether a transactional batch of this producer may be appended to the partition.
  ErrorCode CheckProduce(const std::string& transactional_id, int64_t producer_id, int16_t epoch,
                         const std::string& topic, int32_t partition);
  // True if no transactional id currently owns `producer_id` with an open transaction.
  bool IsOrphan(int64_t producer_id);

 private:
  enum class Phase : int8_t { kEmpty = 0, kPrepareCommit = 1, kPrepareAbort = 2 };
  struct Txn {
    int64_t producer_id = -1;
    int16_t epoch = 0;
    // Read back from the state topic at start and not initialised since: the next
    // InitProducerId gives a fresh producer id, so that a transaction the old one left open in
    // the log is an orphan (aborted when its partition is touched), never merged into a new one.
    bool recovered = false;
    int32_t timeout_ms = 60'000;
    bool ongoing = false;
    std::chrono::steady_clock::time_point started;
    std::set<std::pair<std::string, int32_t>> partitions;
    std::set<std::string> groups;
    std::map<std::string, std::vector<GroupCoordinator::CommitPartition>> offsets;  // by group
  };
  // REQUIRES: mu_ held.
  ErrorCode Check(const std::string& transactional_id, int64_t producer_id, int16_t epoch, Txn** txn);
  // Writes the markers of `txn` (taken out of the map's state) and calls `done` when durable.
  void Complete(Txn txn, bool commit, std::function<void(ErrorCode)> done);
  // Records the decision (commit or abort) in the state topic, completes the transaction, and
  // records that it is over; `done` gets the first error.
  void Finish(const std::string& transactional_id, Txn txn, bool commit, std::function<void(ErrorCode)> done);
  // Appends one state record for `transactional_id`: `txn`'s producer id, epoch and timeout,
  // and in a prepare phase its partitions and staged offsets.
  void Persist(const std::string& transactional_id, const Txn& txn, Phase phase, std::function<void(ErrorCode)> done);
  // Reads `.kafka_transactions`; returns the transactions decided but not completed.
  Result<std::vector<std::tuple<std::string, Txn, bool>>> Replay();

  void ExpireLoop();

  Broker* const broker_;
  StateTopic state_topic_;  // a record stays until a newer one for its id supersedes it
  std::mutex mu_;
  std::map<std::string, Txn> txns_;
  bool stopping_ = false;
  std::condition_variable cv_;
  std::thread expirer_;
};

}  // namespace sluice::server::kafka
