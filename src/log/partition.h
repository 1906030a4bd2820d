#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/file_system.h"
#include "common/metrics.h"
#include "log/log.h"
#include "log/segment.h"
#include "log/transaction_index.h"

namespace sluice::log {

class PartitionImpl;

// Where a partition asks for a group-commit sync: the Log's sync thread, which then calls
// PartitionImpl::SyncNow(). Thread-safe.
class SyncScheduler {
 public:
  virtual ~SyncScheduler() = default;
  virtual void RequestSync(std::shared_ptr<PartitionImpl> partition) = 0;
};

// The partition's metric series; any pointer may be null (no registry).
struct PartitionMetrics {
  Counter* appends = nullptr;
  Counter* records_appended = nullptr;
  Counter* bytes_appended = nullptr;
  Gauge* end_offset = nullptr;
  Gauge* start_offset = nullptr;
  Gauge* size_bytes = nullptr;
  Gauge* segments = nullptr;
  Histogram* fsync_seconds = nullptr;
  Counter* fsync_errors = nullptr;
  Counter* truncated_bytes = nullptr;
  Counter* retention_deleted_segments = nullptr;
};

struct PartitionOptions {
  std::string topic;
  PartitionId id;
  std::string dir;  // <log dir>/<topic>/<partition>
  FsyncPolicy fsync = FsyncPolicy::kAlways;
  uint64_t segment_bytes = 0;
  int64_t segment_ms = 0;
  uint32_t index_interval_bytes = 0;
  int64_t retention_ms = -1;     // resolved: -1 = forever
  int64_t retention_bytes = -1;  // resolved: -1 = no limit
  uint64_t max_unsynced_bytes = 0;
  FileSystem* fs = nullptr;
  Clock* clock = nullptr;
  SyncScheduler* scheduler = nullptr;  // REQUIRES: set when fsync == kAlways
  ChangeSignal* visible_changed = nullptr;  // notified when the visible end moves (optional)
  PartitionMetrics metrics;
};

// A partition: an ordered list of segments, the last of which (the active one) takes appends.
//
// Locking: `mu_` serialises writers (Append, roll, SyncNow's bookkeeping, retention, close)
// and is held across the file write; `state_mu_` guards what readers look at (segment list,
// segment indexes, visible end) and is only held for short in-memory steps. Order: mu_, then
// state_mu_. File reads and fdatasync run with neither held. Callbacks never run under a lock.
class PartitionImpl final : public Partition, public std::enable_shared_from_this<PartitionImpl> {
 public:
  // Opens the partition in options.dir (creating it if missing), recovering every segment.
  // `clean_shutdown`: the log was closed cleanly, so the active segment's index files can be
  // trusted (see docs/formats/log.md, "Recovery").
  static Result<std::shared_ptr<PartitionImpl>> Open(PartitionOptions options, bool clean_shutdown);

  PartitionId id() const override { return options_.id; }
  void Append(EncodedBatch batch, AppendCallback done) override;
  Result<ReadResult> Read(Offset from, size_t max_bytes) const override;
  Result<Offset> OffsetForTimestamp(TimestampMs ts) const override;
  Status ScanBatches(TimestampMs since,
                     const std::function<void(const BatchSummary&)>& fn) const override;
  Result<CommittedView> Committed(Offset from) const override;
  Result<std::vector<std::pair<int64_t, Offset>>> OpenTransactions() const override;
  PartitionInfo Info() const override;

  // One group-commit step: fdatasyncs everything written so far, then makes it visible and
  // completes the appends it covers. A failed sync fails the partition.
  void SyncNow();
  // Deletes the oldest sealed segments that retention allows; returns how many went.
  int EnforceRetention(TimestampMs now);
  // Refuses further appends (kUnavailable), syncs, completes pending appends and writes the
  // active segment's index files. Ok iff everything written is durable. Idempotent.
  Status Close();
  // Fails pending and later operations with kNotFound (the topic was deleted).
  void MarkDeleted();

 private:
  struct PendingAppend {
    Offset end;  // one past the batch's last offset
    AppendResult result;
    AppendCallback done;
  };
  // The end readers may see: offset `end`, which lies at byte `position` of `segment`.
  struct VisibleEnd {
    std::shared_ptr<Segment> segment;
    uint64_t position = 0;
    Offset end;
  };
  // One segment's readable byte range for a read, captured under state_mu_.
  struct ReadSpan {
    std::shared_ptr<Segment> segment;
    uint64_t start = 0;
    uint64_t limit = 0;
  };
  using Completions = std::vector<std::pair<AppendCallback, Result<AppendResult>>>;

  explicit PartitionImpl(PartitionOptions options);

  Status Recover(bool clean_shutdown);
  // Rolls to a new segment if the active one is full or old. REQUIRES: mu_ held.
  Status MaybeRollLocked(const BatchHeader& header, size_t batch_size);
  // Puts the partition in the failed state and moves every pending append into *out with
  // `status`. REQUIRES: mu_ held.
  void FailLocked(const Status& status, Completions* out);
  // Spans from the segment holding `from` to the visible end. REQUIRES: state_mu_ held.
  std::vector<ReadSpan> SpansFromLocked(Offset from, uint64_t first_start) const;
  // Sets the visible end and its gauge. REQUIRES: state_mu_ held.
  void SetVisibleLocked(VisibleEnd visible);
  Status CheckNotDeleted() const;
  // Builds txns_ from every batch written so far (visible or not) if not built yet.
  Status EnsureTransactionIndex() const;

  const PartitionOptions options_;

  mutable std::mutex mu_;
  std::shared_ptr<Segment> active_;    // GUARDED_BY(mu_); also in segments_
  Offset next_offset_;                 // GUARDED_BY(mu_): next offset to assign
  int64_t active_created_ms_ = 0;      // GUARDED_BY(mu_)
  uint64_t written_bytes_ = 0;         // GUARDED_BY(mu_): bytes appended since open
  uint64_t synced_bytes_ = 0;          // GUARDED_BY(mu_): of those, known durable
  std::deque<PendingAppend> pending_;  // GUARDED_BY(mu_): fsync=always, awaiting a sync
  bool sync_requested_ = false;        // GUARDED_BY(mu_)
  bool closing_ = false;               // GUARDED_BY(mu_)
  Status failure_;                     // GUARDED_BY(mu_): non-ok once a sync failed
  std::atomic<bool> deleted_{false};

  mutable std::mutex state_mu_;
  std::vector<std::shared_ptr<Segment>> segments_;  // GUARDED_BY(state_mu_), by base offset
  VisibleEnd visible_;                              // GUARDED_BY(state_mu_)
  Offset start_offset_;                             // GUARDED_BY(state_mu_)
  uint64_t total_bytes_ = 0;                        // GUARDED_BY(state_mu_)

  // Transactions. Appends update txns_ (under mu_, then txn_mu_) before making a batch
  // visible; readers read the visible end with txn_mu_ held, so a transaction's data never
  // looks stable before its marker is visible. Order: mu_, txn_mu_, state_mu_.
  mutable std::atomic<bool> txns_built_{false};
  mutable std::mutex txn_mu_;
  mutable TransactionIndex txns_;  // GUARDED_BY(txn_mu_)
};

}  // namespace sluice::log
