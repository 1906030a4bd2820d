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
#include <utility>
#include <vector>

#include "server/kafka/group_coordinator.h"
#include "server/kafka/protocol.h"

namespace sluice::server::kafka {

class Broker;

// Kafka transactions (KIP-98) for a one-node cluster: transactional ids, the partitions and
// group offsets each open transaction touches, and ending a transaction by writing COMMIT or
// ABORT markers to those partitions (then applying its offsets to the groups on commit).
// The coordinator's state is in memory: after a restart, transactions found open in the log
// are aborted when their partition is first read or written (ProducerRegistry's orphan
// check), and a transactional producer's next InitProducerId gets a fresh producer id.
// Thread-safe; never calls into the log or the groups with its lock held.
class TransactionCoordinator {
 public:
  explicit TransactionCoordinator(Broker* broker) : broker_(broker) {}
  ~TransactionCoordinator();

  // Starts the thread that aborts transactions open longer than their timeout (fencing their
  // producer with a new epoch, as Kafka does). Stop() ends it; idempotent.
  void Start();
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
  struct Txn {
    int64_t producer_id = -1;
    int16_t epoch = 0;
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

  void ExpireLoop();

  Broker* const broker_;
  std::mutex mu_;
  std::map<std::string, Txn> txns_;
  bool stopping_ = false;
  std::condition_variable cv_;
  std::thread expirer_;
};

}  // namespace sluice::server::kafka
