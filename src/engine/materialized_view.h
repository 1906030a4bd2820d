#pragma once

#include <atomic>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/change_signal.h"
#include "common/fair_shared_mutex.h"
#include "common/file_system.h"
#include "common/metrics.h"
#include "common/result.h"
#include "engine/decode_rejects.h"
#include "engine/source_reader.h"
#include "engine/subscription.h"
#include "exec/dataflow.h"
#include "log/record_batch.h"
#include "log/log.h"
#include "sql/catalog.h"

namespace sluice::engine {

// The changes of an upstream view on their way to a downstream one: the upstream's thread
// appends (as its sink's listener), the downstream's thread drains. Unbounded for now.
class ChangeQueue final : public exec::ChangeListener {
 public:
  // `wake` (optional) is notified after each push, so the consuming view need not poll.
  explicit ChangeQueue(ChangeSignal* wake = nullptr) : wake_(wake) {}
  struct Item {
    exec::DataChunk chunk;             // when !is_watermark
    int64_t watermark_us = INT64_MIN;  // when is_watermark
    bool is_watermark = false;
  };
  Status OnChanges(const exec::DataChunk& chunk) override;
  Status OnWatermark(int64_t watermark_us) override;
  std::deque<Item> Drain();
  size_t size() const;

 private:
  ChangeSignal* const wake_;
  mutable std::mutex mu_;
  std::deque<Item> items_;  // GUARDED_BY(mu_)
};

// Where a sink writes its changes: JSON rows, one record each, into partition 0 of `topic`.
struct SinkTarget {
  std::shared_ptr<log::Topic> topic;
  std::vector<std::string> columns;  // the JSON field names
  int key_column = -1;               // WITH (key = 'column'): the records' key (-1: none)
};

// Scaled-out sources (docs/scale-out.md): by relation name, the partitions of its topic this
// node owns now; a view reads only those (the others count as empty).
using PartitionFilter = std::map<std::string, std::vector<bool>, std::less<>>;

class SinkRowWriter;
class OutputCounter;
class CheckpointStore;

// Where and how often a view or sink checkpoints its state (docs/checkpointing.md).
struct CheckpointOptions {
  FileSystem* fs = nullptr;
  std::string dir;  // this dataflow's directory
  int64_t interval_ms = 1000;
  int keep = 3;
  uint64_t fingerprint = 0;  // of the plan: a checkpoint of another plan is not restored
}; 

// A materialized view (or a sink) kept up to date from its inputs by its own thread: sources and tables
// are read from the log from the start of what is retained (backfill), then at the end
// (live); upstream views feed their changes through a ChangeQueue. Each round reads what is
// new, advances the sources' watermarks and ends with a flush, so aggregates emit their
// changes (-1/+1) once per round. The result rows are the view's state, read by pull queries.
//
// Late events (SPEC §3) are counted and written to `{source}.late`.
// With CheckpointOptions the state is checkpointed every interval (docs/checkpointing.md); a
// checkpoint that cannot be written (a full disk) is counted and retried at the next interval,
// and the view keeps running on the previous one.
//
// A sink (`sink` given) keeps no rows: its changes are written to the sink's topic at the end
// of each round, one record batch per round whose first record carries the input offsets the
// batch covers. A checkpointed sink writes them as a Kafka transaction (its own producer id)
// committed right after the checkpoint that covers them: readers, which read committed data,
// see a sink's output only once it can no longer be rolled back. On restart the sink restores
// its checkpoint, ends the transaction left open (commit if the checkpoint covers it, else
// abort), and rebuilds state without writing until its inputs reach the offsets of its last
// committed batch: nothing is written twice and nothing is skipped (a sink over a view, not
// checkpointed yet, writes plain batches and re-emits after a restart).
class MaterializedView {
 public:
  // `upstreams[i]` is the running view read by input i of `dataflow` (nullptr for sources and
  // tables); they must outlive this view. Starts the maintenance thread.
  static Result<std::unique_ptr<MaterializedView>> Start(sql::CatalogEntry view,
                                                         std::unique_ptr<exec::Dataflow> dataflow,
                                                         std::vector<MaterializedView*> upstreams, log::Log* log,
                                                         MetricsRegistry* metrics,
                                                         std::optional<SinkTarget> sink = std::nullopt,
                                                         DecodeRejectReporter* rejects = nullptr,
                                                         std::optional<CheckpointOptions> checkpoints = std::nullopt,
                                                         const PartitionFilter* owned = nullptr);
  ~MaterializedView();  // stops the thread and leaves its upstreams

  const sql::CatalogEntry& entry() const { return view_; }
  // The view's rows now, or the error that stopped its maintenance.
  Result<std::vector<std::vector<sql::Value>>> Snapshot() const;
  // Pull queries `WHERE column = value`: the rows whose `column` equals `value` (possibly a
  // few more; the caller filters again), from an index on the view's rows; nullopt when the
  // column is not indexed (the caller scans Snapshot()).
  // `wait` false: kResourceExhausted instead of waiting while a round holds the view, and
  // nullopt instead of building the column's index.
  Result<std::optional<std::vector<std::vector<sql::Value>>>> Lookup(size_t column, const sql::Value& value,
                                                                     bool wait = true);
  // Events in the inputs not yet applied.
  int64_t Lag() const;
  // True once the view has applied every event its log inputs held when it was created (and
  // its upstream views have too), or it stopped with an error: recovery is over for it.
  bool CaughtUp() const { return caught_up_.load(std::memory_order_acquire); }

  // The rows together with, per input, the offsets (per partition) they reflect: every event
  // below them and none at or above. Inputs that are views have no offsets (empty).
  struct Cut {
    std::vector<std::vector<sql::Value>> rows;
    std::vector<std::vector<Offset>> offsets;
  };
  Result<Cut> SnapshotWithOffsets() const;

  // Views over views: `queue` first receives the current rows (as insertions) and watermark,
  // then every change. The queue must be unsubscribed before it is destroyed.
  void Subscribe(ChangeQueue* queue);
  void Unsubscribe(ChangeQueue* queue);

  // Server-side subscriptions (engine/subscription.h).
  // The view's change feed, created and attached to its output at the first call (later calls
  // return it, whatever `limits`). kFailedPrecondition if the view's maintenance stopped.
  Result<std::shared_ptr<ChangeFeed>> Feed(const SubscriptionLimits& limits);
  // The view's rows, like Snapshot(); `under_lock` runs while no round can run, so that the
  // caller can tell which changes the rows include.
  Result<std::vector<std::vector<sql::Value>>> SnapshotWith(const std::function<void()>& under_lock) const;
  // The error that stopped the view's maintenance, if that can be seen without waiting for a
  // round to finish (Ok while a round runs). Never blocks.
  Status FailureIfIdle() const;
  // Ends the view's subscriptions with `reason` (DROP: the view is going away).
  void EndSubscriptions(Status reason);
  // DROP SINK: stops maintenance and commits the output written since the last checkpoint
  // (nothing will replay it), so that readers of the topic are not held back by it.
  void StopForDrop();

 private:
  struct Input {
    sql::ObjectKind kind = sql::ObjectKind::kSource;
    std::shared_ptr<log::Topic> topic;  // sources and tables: held for the view's life
    std::vector<Offset> next;           // per partition
    std::vector<Offset> resume;         // sinks: per partition, the offset output resumes at
    std::vector<bool> owned;            // scaled-out sources: the partitions read (empty: all)
    std::unique_ptr<SourceReader> reader;
    MaterializedView* upstream = nullptr;  // views
    std::unique_ptr<ChangeQueue> queue;    // views
    Counter* late_events = nullptr;
    Counter* duplicates = nullptr;           // sources WITH (dedup_key)
    std::string late_topic_name;             // sources: "{source}.late"
    std::shared_ptr<log::Topic> late_topic;  // created at the first late event
  };

  MaterializedView(sql::CatalogEntry view, std::unique_ptr<exec::Dataflow> dataflow, log::Log* log);
  void Run();
  // Reads and applies what is new in every input; returns the events applied.
  Result<int64_t> Round();
  Result<int64_t> ReadLog(Input& input, size_t max_bytes_per_partition, bool to_end, int64_t now_ms,
                          SourceReader::Progress* progress);
  void WriteLate(Input& input, std::vector<LateEvent> events);
  // Sinks: reads the offsets recorded by the sink's last committed batch (none: a fresh start).
  void LoadResumeOffsets();
  // Transactional sinks, at start: takes the sink's producer id and a new epoch, and ends the
  // transaction a previous run left open: COMMIT if the restored checkpoint covers its data
  // (the run stopped between the checkpoint and the marker), else ABORT.
  Status StartSinkTransactions(bool restored);
  // Sinks: appends the round's changes (with the offsets they cover); false if it failed.
  bool WriteSinkBatch();
  // Transactional sinks: appends the COMMIT marker of the open transaction; false if it failed.
  bool CommitSinkTransaction();
  // Checkpoints: restores the newest valid checkpoint (false: none applied); writes one.
  Result<bool> RestoreCheckpoint();
  void MaybeCheckpoint(int64_t now_ms);
  // A checkpoint's file: compressed and written (fsync, rename) off the view's thread.
  struct CheckpointWrite {
    uint64_t seq = 0;
    int64_t work = 0;  // events and changes it covers (owed again if it fails)
    Status status;
    uint64_t file_bytes = 0;
    size_t payload_bytes = 0;  // uncompressed
    double serialize_seconds = 0;  // writing the captured rows into the payload
    double seconds = 0;  // from the start of the snapshot until the file is durable
  };
  void FinishCheckpoint(const CheckpointWrite& write, int64_t now_ms);
  // "materialized view ... stopped: <failure_>". REQUIRES: mu_ held.
  Status StoppedStatus() const;
  // Counts and logs (once per streak of failures) a checkpoint that was not written.
  void CheckpointFailed(int64_t now_ms, const Status& why);

  const sql::CatalogEntry view_;
  log::Log* const log_;
  std::vector<Input> inputs_;

  // Rounds and everything that changes the dataflow hold it alone; lookups that only read
  // (Lookup without wait) share it, and never while a round waits for it.
  mutable FairSharedMutex mu_;
  std::unique_ptr<exec::Dataflow> dataflow_;  // GUARDED_BY(mu_)
  Status failure_;                            // GUARDED_BY(mu_)

  int64_t last_watermark_ = INT64_MIN;  // thread-confined
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> lag_{0};
  std::vector<std::vector<Offset>> start_ends_;  // per log input, per partition: the end at creation
  std::atomic<bool> caught_up_{false};
  int64_t created_ms_ = 0;             // steady clock
  Gauge* recovery_seconds_ = nullptr;  // time from creation to caught up
  Counter* input_events_ = nullptr;
  Counter* rejected_events_ = nullptr;
  Gauge* rows_ = nullptr;
  std::vector<std::pair<Gauge*, Gauge*>> state_gauges_;  // keys, bytes per stateful operator
  // Per stateful operator: keys dropped by the state TTL, and the operator's count last added.
  std::vector<std::pair<Counter*, int64_t>> expired_counters_;
  Gauge* lag_gauge_ = nullptr;
  Gauge* watermark_gauge_ = nullptr;
  Gauge* lag_seconds_ = nullptr;
  Histogram* e2e_latency_ = nullptr;  // source timestamp -> change applied, oldest event per round
  int64_t caught_up_ms_ = -1;  // thread-confined: when the lag was last 0
  std::unique_ptr<OutputCounter> output_counter_;
  std::optional<SinkTarget> sink_;
  std::unique_ptr<SinkRowWriter> sink_writer_;  // the dataflow's listener; guarded by mu_
  bool replaying_ = false;                   // sinks: rebuilding state below the resume offsets
  std::optional<log::EncodedBatch> pending_batch_;  // sinks: a batch whose append failed (retried)
  bool sink_failing_ = false;
  // Transactional sinks (docs/checkpointing.md, "Sinks"): output batches belong to a
  // transaction committed after the checkpoint that covers them is written.
  bool transactional_ = false;
  int64_t producer_id_ = -1;
  int16_t producer_epoch_ = 0;
  int32_t next_sequence_ = 0;
  bool txn_open_ = false;        // data written since the last COMMIT marker
  bool commit_pending_ = false;  // the covering checkpoint is written, the marker not yet
  Counter* sink_records_ = nullptr;
  DecodeRejectReporter* rejects_ = nullptr;
  std::optional<CheckpointOptions> checkpoint_options_;
  std::unique_ptr<CheckpointStore> checkpoints_;  // null: not checkpointed
  uint64_t checkpoint_seq_ = 0;
  int64_t last_checkpoint_ms_ = 0;
  int64_t work_since_checkpoint_ = 0;
  Gauge* checkpoint_seconds_ = nullptr;
  Gauge* checkpoint_bytes_ = nullptr;
  Gauge* checkpoint_time_ = nullptr;
  Gauge* checkpoint_pause_ = nullptr;
  Counter* checkpoint_failures_ = nullptr;
  Counter* checkpoints_written_ = nullptr;
  size_t last_payload_bytes_ = 0;  // thread-confined: the buffer of the next one starts this big
  int64_t last_pause_ms_ = 0;      // the last checkpoint's time on the view's thread
  int64_t last_cost_ms_ = 0;       // ... plus its serialisation on the writer's thread
  // The checkpoint being written in the background (views; a sink's is written before its
  // round ends). At most one at a time; waited for before the view is destroyed.
  std::future<CheckpointWrite> checkpoint_write_;
  bool checkpoint_failing_ = false;  // thread-confined: the last attempt failed (logged once per streak)
  std::thread thread_;
  // Last member, so destroyed first (after the thread has stopped): ends the subscriptions.
  FeedOwner feed_;  // guarded by mu_
};

}  // namespace sluice::engine
