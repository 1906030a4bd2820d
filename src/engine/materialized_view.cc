#include "engine/materialized_view.h"

#include <chrono>

#include <fmt/format.h>

#include <future>

#include "common/json_writer.h"
#include "engine/checkpoint_store.h"
#include "engine/sink_rows.h"
#include "common/logging.h"
#include "common/thread_name.h"
#include "exec/vector_value.h"
#include "log/producer_state.h"
#include "log/record_batch.h"
#include "log/tagged_batch.h"
#include "sql/value_json.h"

#include <xxhash.h>

namespace sluice::engine {
namespace {

constexpr size_t kRoundBytesPerPartition = 1 << 20;
// Checkpoints take at most 1/20 (5 %) of a view's thread (MaybeCheckpoint).
constexpr int64_t kCheckpointPauseBudget = 20;
constexpr std::string_view kLateSuffix = ".late";
constexpr std::string_view kSinkHeader = "sluice-sink";
constexpr std::string_view kSinkOffsetsHeader = "sluice-sink-offsets";

TimestampMs NowMs() {
  return TimestampMs(std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count());
}

int64_t SteadyMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// ---- ChangeQueue -----------------------------------------------------------------------------

Status ChangeQueue::OnChanges(const exec::DataChunk& chunk) {
  if (chunk.size() == 0) return Status::Ok();
  Item item;
  exec::CopyChunk(chunk, &item.chunk);
  {
    std::lock_guard<std::mutex> lock(mu_);
    items_.push_back(std::move(item));
  }
  if (wake_ != nullptr) wake_->Notify();
  return Status::Ok();
}

Status ChangeQueue::OnWatermark(int64_t watermark_us) {
  Item item;
  item.is_watermark = true;
  item.watermark_us = watermark_us;
  {
    std::lock_guard<std::mutex> lock(mu_);
    items_.push_back(std::move(item));
  }
  if (wake_ != nullptr) wake_->Notify();
  return Status::Ok();
}

std::deque<ChangeQueue::Item> ChangeQueue::Drain() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(items_, {});
}

size_t ChangeQueue::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return items_.size();
}

// Counts the rows a view outputs (inserts and retractions).
class OutputCounter final : public exec::ChangeListener {
 public:
  explicit OutputCounter(Counter* counter) : counter_(counter) {}
  Status OnChanges(const exec::DataChunk& chunk) override {
    counter_->Inc(static_cast<double>(chunk.size()));
    return Status::Ok();
  }
  Status OnWatermark(int64_t) override { return Status::Ok(); }

 private:
  Counter* counter_;
};

// ---- MaterializedView ------------------------------------------------------------------------

MaterializedView::MaterializedView(sql::CatalogEntry view, std::unique_ptr<exec::Dataflow> dataflow, log::Log* log)
    : view_(std::move(view)), log_(log), dataflow_(std::move(dataflow)) {}

Result<std::unique_ptr<MaterializedView>> MaterializedView::Start(sql::CatalogEntry view,
                                                                  std::unique_ptr<exec::Dataflow> dataflow,
                                                                  std::vector<MaterializedView*> upstreams,
                                                                  log::Log* log, MetricsRegistry* metrics,
                                                                  std::optional<SinkTarget> sink,
                                                                  DecodeRejectReporter* rejects,
                                                                  std::optional<CheckpointOptions> checkpoints,
                                                                  const PartitionFilter* owned) {
  auto mv = std::unique_ptr<MaterializedView>(new MaterializedView(std::move(view), std::move(dataflow), log));
  exec::Dataflow* df = mv->dataflow_.get();
  const std::string& name = mv->view_.name;
  CounterFamily* late_family =
      metrics == nullptr ? nullptr
                         : metrics->AddCounter("sluice_late_events_dropped_total",
                                               "Events later than a view accepts, written to {source}.late",
                                               {"view", "source"});
  for (size_t i = 0; i < df->input_count(); ++i) {
    const sql::CatalogEntry& relation = df->input(i).relation;
    Input input;
    input.kind = relation.kind;
    if (relation.kind == sql::ObjectKind::kView) {
      if (i >= upstreams.size() || upstreams[i] == nullptr) {
        return Status::Unavailable(fmt::format("materialized view \"{}\" is not running", relation.name));
      }
      input.upstream = upstreams[i];
      input.queue = std::make_unique<ChangeQueue>(&log->visible_changed());
    } else {
      SLUICE_ASSIGN_OR_RETURN(input.topic, log->GetTopic(relation.topic));
      for (int32_t p = 0; p < input.topic->partition_count(); ++p) {
        input.next.push_back(input.topic->partition(PartitionId(p)).Info().start_offset);
      }
      if (owned != nullptr) {
        if (auto f = owned->find(relation.name); f != owned->end()) {
          input.owned = f->second;
          input.owned.resize(input.next.size(), false);
        }
      }
      input.reader = std::make_unique<SourceReader>(df, i, input.topic->partition_count(), relation.idle_timeout_ms);
      input.reader->set_keep_rejects(rejects != nullptr);
      if (late_family != nullptr) input.late_events = late_family->WithLabels({name, relation.name});
      if (metrics != nullptr && relation.dedup_column >= 0) {
        input.duplicates = metrics
                               ->AddCounter("sluice_source_duplicates_dropped_total",
                                            "Events a view dropped as repeats of a source's dedup_key", {"view", "source"})
                               ->WithLabels({name, relation.name});
      }
      input.late_topic_name = relation.name + std::string(kLateSuffix);
    }
    mv->inputs_.push_back(std::move(input));
  }
  if (metrics != nullptr) {
    mv->input_events_ = metrics->AddCounter("sluice_view_input_events_total", "Events applied to a view", {"view"})
                            ->WithLabels({name});
    mv->rejected_events_ =
        metrics->AddCounter("sluice_view_rejected_events_total", "Events that did not match the source's schema",
                            {"view"})
            ->WithLabels({name});
    mv->rows_ = metrics->AddGauge("sluice_view_rows", "Rows in a view's state", {"view"})->WithLabels({name});
    mv->lag_gauge_ =
        metrics->AddGauge("sluice_view_lag_events", "Events in the inputs not yet applied to a view", {"view"})
            ->WithLabels({name});
    mv->e2e_latency_ =
        metrics
            ->AddHistogram("sluice_view_e2e_latency_seconds",
                           "Source timestamp of the oldest event applied in a round to the end of that round (the "
                           "view's changes are then out)",
                           {"view"}, MetricsRegistry::LatencyBuckets())
            ->WithLabels({name});
    mv->lag_seconds_ =
        metrics->AddGauge("sluice_view_lag_seconds", "Seconds since a view last caught up with its inputs", {"view"})
            ->WithLabels({name});
    mv->output_counter_ = std::make_unique<OutputCounter>(
        metrics->AddCounter("sluice_view_output_changes_total", "Rows a view output (inserts and retractions)",
                            {"view"})
            ->WithLabels({name}));
    df->sink().AddListener(mv->output_counter_.get());
    mv->watermark_gauge_ =
        metrics
            ->AddGauge("sluice_view_watermark_seconds", "A view's input watermark (event time, Unix seconds)", {"view"})
            ->WithLabels({name});
    auto* keys = metrics->AddGauge("sluice_view_state_keys",
                                   "Keys (groups, stored rows) a stateful operator of a view holds", {"view", "operator"});
    auto* bytes = metrics->AddGauge("sluice_view_state_bytes",
                                    "Bytes of a stateful operator's state in the view's last checkpoint (uncompressed)",
                                    {"view", "operator"});
    auto* expired = metrics->AddCounter("sluice_view_state_expired_total",
                                        "Keys (groups, stored rows) a view's state_ttl dropped from an operator's state",
                                        {"view", "operator"});
    for (const exec::Dataflow::OperatorState& s : df->StateStats()) {
      mv->state_gauges_.push_back({keys->WithLabels({name, s.name}), bytes->WithLabels({name, s.name})});
      mv->expired_counters_.push_back({expired->WithLabels({name, s.name}), 0});
    }
  }
  mv->rejects_ = rejects;
  if (sink) {
    mv->sink_writer_ = std::make_unique<SinkRowWriter>(sink->columns, sink->key_column);
    mv->sink_ = std::move(sink);
    df->sink().AddListener(mv->sink_writer_.get());
    if (metrics != nullptr) {
      mv->sink_records_ =
          metrics->AddCounter("sluice_sink_records_total", "Records a sink wrote to its topic", {"sink"})
              ->WithLabels({name});
    }
  }
  // Checkpoints: dataflows that read only the log (a view over views is rebuilt from its
  // upstreams' restored state instead).
  bool log_only = true;
  for (const Input& input : mv->inputs_) log_only = log_only && input.upstream == nullptr;
  if (checkpoints && checkpoints->fs != nullptr && log_only) {
    mv->checkpoint_options_ = checkpoints;
    mv->checkpoints_ = std::make_unique<CheckpointStore>(checkpoints->fs, checkpoints->dir, checkpoints->keep);
    if (metrics != nullptr) {
      mv->checkpoint_seconds_ =
          metrics->AddGauge("sluice_view_checkpoint_seconds", "How long a view's last checkpoint took", {"view"})
              ->WithLabels({name});
      mv->checkpoint_bytes_ =
          metrics->AddGauge("sluice_view_checkpoint_bytes", "Size of a view's last checkpoint file", {"view"})
              ->WithLabels({name});
      mv->checkpoint_time_ =
          metrics->AddGauge("sluice_view_last_checkpoint_timestamp_seconds",
                            "When a view last checkpointed (Unix seconds; its age is time() minus this)", {"view"})
              ->WithLabels({name});
      mv->checkpoint_failures_ =
          metrics
              ->AddCounter("sluice_view_checkpoint_failures_total",
                           "Checkpoints of a view that could not be taken or written (retried at the next interval)",
                           {"view"})
              ->WithLabels({name});
      mv->checkpoint_pause_ =
          metrics
              ->AddGauge("sluice_view_checkpoint_pause_seconds",
                         "How long a view's last checkpoint held up its processing (the snapshot; compression and "
                         "the write run in the background)",
                         {"view"})
              ->WithLabels({name});
      mv->checkpoints_written_ =
          metrics->AddCounter("sluice_view_checkpoints_total", "Checkpoints a view wrote", {"view"})
              ->WithLabels({name});
    }
    SLUICE_ASSIGN_OR_RETURN(bool restored, mv->RestoreCheckpoint());
    if (mv->sink_) SLUICE_RETURN_IF_ERROR(mv->StartSinkTransactions(restored));
  }
  if (mv->sink_) mv->LoadResumeOffsets();
  for (const Input& input : mv->inputs_) {
    std::vector<Offset> ends;
    if (input.topic) {
      for (int32_t p = 0; p < input.topic->partition_count(); ++p) {
        const bool read = input.owned.empty() || input.owned[static_cast<size_t>(p)];
        ends.push_back(read ? ReadableEnd(input.topic->partition(PartitionId(p))) : Offset(0));
      }
    }
    mv->start_ends_.push_back(std::move(ends));
  }
  mv->created_ms_ = SteadyMillis();
  if (metrics != nullptr) {
    mv->recovery_seconds_ =
        metrics
            ->AddGauge("sluice_view_recovery_seconds",
                       "Seconds a view took from its start (restore included) to apply what its inputs held then",
                       {"view"})
            ->WithLabels({name});
  }
  // Subscribe last: from here on the upstreams call into our queues.
  for (Input& input : mv->inputs_) {
    if (input.upstream != nullptr) input.upstream->Subscribe(input.queue.get());
  }
  mv->thread_ = std::thread([raw = mv.get()] {
    SetThreadName("view:" + raw->view_.name);
    raw->Run();
  });
  return mv;
}

Status MaterializedView::StoppedStatus() const {
  return Status::FailedPrecondition(fmt::format("materialized view \"{}\" stopped: {}", view_.name, failure_.message()));
}

void MaterializedView::StopForDrop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  std::lock_guard<FairSharedMutex> lock(mu_);
  if (transactional_ && txn_open_ && !pending_batch_) {
    commit_pending_ = true;
    if (!CommitSinkTransaction()) {
      SLUICE_LOG_WARN("sink {}: dropped with its last output uncommitted", view_.name);
    }
  }
}

MaterializedView::~MaterializedView() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (checkpoint_write_.valid()) checkpoint_write_.wait();  // a started file is finished
  for (Input& input : inputs_) {
    if (input.upstream != nullptr) input.upstream->Unsubscribe(input.queue.get());
  }
}

void MaterializedView::Subscribe(ChangeQueue* queue) {
  std::lock_guard<FairSharedMutex> lock(mu_);
  // The current rows as insertions, then the watermark, then every change from here on.
  exec::CollectSink& sink = dataflow_->sink();
  const std::vector<std::vector<sql::Value>> rows = sink.Rows();
  exec::DataChunk chunk(sink.output_types());
  for (const auto& row : rows) {
    if (chunk.size() == chunk.capacity()) {
      (void)queue->OnChanges(chunk);
      chunk.Reset();
    }
    const size_t r = chunk.size();
    for (size_t c = 0; c < row.size(); ++c) exec::SetValue(&chunk.column(c), r, row[c], &chunk.arena());
    chunk.set_size(r + 1);
  }
  (void)queue->OnChanges(chunk);
  if (sink.watermark() != INT64_MIN) (void)queue->OnWatermark(sink.watermark());
  sink.AddListener(queue);
}

void MaterializedView::Unsubscribe(ChangeQueue* queue) {
  std::lock_guard<FairSharedMutex> lock(mu_);
  dataflow_->sink().RemoveListener(queue);
}

Result<std::vector<std::vector<sql::Value>>> MaterializedView::Snapshot() const {
  std::lock_guard<FairSharedMutex> lock(mu_);
  if (!failure_.ok()) return StoppedStatus();
  return dataflow_->CurrentRows();
}

Result<std::optional<std::vector<std::vector<sql::Value>>>> MaterializedView::Lookup(size_t column,
                                                                                   const sql::Value& value,
                                                                                   bool wait) {
  const auto lookup = [&]() -> Result<std::optional<std::vector<std::vector<sql::Value>>>> {
    if (!failure_.ok()) return StoppedStatus();
    return dataflow_->sink().RowsWhere(column, value, /*build_index=*/wait);
  };
  if (wait) {
    // May build the column's index: alone.
    std::lock_guard<FairSharedMutex> lock(mu_);
    return lookup();
  }
  // Reads only: beside other lookups, between rounds (and not while a round waits).
  std::shared_lock<FairSharedMutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) {
    return Status::ResourceExhausted(fmt::format("materialized view \"{}\" is in the middle of a round", view_.name));
  }
  return lookup();
}

int64_t MaterializedView::Lag() const { return lag_.load(); }

Result<MaterializedView::Cut> MaterializedView::SnapshotWithOffsets() const {
  std::lock_guard<FairSharedMutex> lock(mu_);  // rounds hold it: this is a round boundary
  if (!failure_.ok()) return StoppedStatus();
  Cut cut;
  cut.rows = dataflow_->CurrentRows();
  for (const Input& input : inputs_) cut.offsets.push_back(input.next);
  return cut;
}

Result<std::shared_ptr<ChangeFeed>> MaterializedView::Feed(const SubscriptionLimits& limits) {
  std::lock_guard<FairSharedMutex> lock(mu_);
  if (!failure_.ok()) return StoppedStatus();
  if (!feed_.feed) {
    // Between rounds: every earlier change is in the rows, every later one reaches the feed.
    ChangeFeed::ViewAccess access;
    access.snapshot = [this](const std::function<void()>& under_lock) { return SnapshotWith(under_lock); };
    access.failure = [this] { return FailureIfIdle(); };
    feed_.feed = std::make_shared<ChangeFeed>(std::move(access), view_.name, view_.columns, limits);
    (void)feed_.feed->OnWatermark(dataflow_->sink().watermark());
    dataflow_->sink().AddListener(feed_.feed.get());
  }
  return feed_.feed;
}

Result<std::vector<std::vector<sql::Value>>> MaterializedView::SnapshotWith(
    const std::function<void()>& under_lock) const {
  std::lock_guard<FairSharedMutex> lock(mu_);
  if (!failure_.ok()) return StoppedStatus();
  under_lock();
  return dataflow_->CurrentRows();
}

Status MaterializedView::FailureIfIdle() const {
  std::unique_lock<FairSharedMutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock() || failure_.ok()) return Status::Ok();
  return StoppedStatus();
}

void MaterializedView::EndSubscriptions(Status reason) {
  std::shared_ptr<ChangeFeed> feed;
  {
    std::lock_guard<FairSharedMutex> lock(mu_);
    feed = feed_.feed;
  }
  if (feed) feed->End(std::move(reason));
}

void MaterializedView::Run() {
  // Idle rounds still run every 5 ms (idle-partition watermarks, checkpoint timing); new data in
  // the log or in an upstream view's queue wakes the view at once.
  ChangeSignal& wake = log_->visible_changed();
  while (!stop_.load()) {
    const uint64_t seen = wake.epoch();
    Result<int64_t> applied = Round();
    if (!applied.ok()) {
      SLUICE_LOG_ERROR("materialized view {}: {}", view_.name, applied.status().message());
      std::lock_guard<FairSharedMutex> lock(mu_);
      failure_ = applied.status();
      caught_up_.store(true, std::memory_order_release);  // stopped: it does not hold recovery up
      return;
    }
    if (*applied == 0) wake.WaitFor(seen, std::chrono::milliseconds(5));
  }
}

Result<int64_t> MaterializedView::ReadLog(Input& input, size_t max_bytes_per_partition, bool to_end, int64_t now_ms,
                                          SourceReader::Progress* progress) {
  int64_t lag = 0;
  const int64_t duplicates_before = progress->duplicates;
  for (size_t p = 0; p < input.next.size(); ++p) {
    if (!input.owned.empty() && !input.owned[p]) continue;  // another node's partition
    log::Partition& partition = input.topic->partition(PartitionId(static_cast<int32_t>(p)));
    Offset end = ReadableEnd(partition);
    if (replaying_ && p < input.resume.size()) end = std::min(end, input.resume[p]);
    while (true) {
      SLUICE_ASSIGN_OR_RETURN(bool moved,
                              input.reader->ReadStep(partition, &input.next[p], end, max_bytes_per_partition, progress,
                                                     now_ms));
      if (!moved || !to_end) break;
    }
    lag += std::max<int64_t>(0, end - input.next[p]);
  }
  SLUICE_RETURN_IF_ERROR(input.reader->Finish());
  if (input.duplicates != nullptr) input.duplicates->Inc(static_cast<double>(progress->duplicates - duplicates_before));
  return lag;
}

Result<int64_t> MaterializedView::Round() {
  std::lock_guard<FairSharedMutex> lock(mu_);
  if (commit_pending_ && !CommitSinkTransaction()) return 0;  // no new output before the marker
  if (pending_batch_ && !WriteSinkBatch()) return 0;           // retry the write before reading more
  const int64_t now_ms = SteadyMillis();
  SourceReader::Progress progress;
  int64_t lag = 0;
  int64_t changes = 0;
  // Tables first, to the end: stream rows of this round join the newest table rows.
  for (size_t i = 0; i < inputs_.size(); ++i) {
    Input& input = inputs_[i];
    if (input.kind != sql::ObjectKind::kTable) continue;
    SLUICE_ASSIGN_OR_RETURN(int64_t l, ReadLog(input, 4 << 20, /*to_end=*/true, now_ms, &progress));
    lag += l;
    SLUICE_RETURN_IF_ERROR(dataflow_->FlushInput(i));
  }
  for (size_t i = 0; i < inputs_.size(); ++i) {
    Input& input = inputs_[i];
    if (input.kind == sql::ObjectKind::kView) {
      for (ChangeQueue::Item& item : input.queue->Drain()) {
        if (item.is_watermark) {
          SLUICE_RETURN_IF_ERROR(dataflow_->AdvanceWatermark(i, item.watermark_us));
        } else {
          changes += static_cast<int64_t>(item.chunk.size());
          SLUICE_RETURN_IF_ERROR(dataflow_->Push(i, item.chunk));
        }
      }
    } else if (input.kind == sql::ObjectKind::kSource) {
      SLUICE_ASSIGN_OR_RETURN(int64_t l, ReadLog(input, kRoundBytesPerPartition, /*to_end=*/false, now_ms, &progress));
      lag += l;
    }
  }
  int64_t watermark = INT64_MIN;
  for (size_t i = 0; i < inputs_.size(); ++i) {
    Input& input = inputs_[i];
    if (input.reader && rejects_ != nullptr) {
      std::vector<DecodeReject> rejected = input.reader->TakeRejects();
      if (!rejected.empty()) {
        const sql::CatalogEntry& relation = dataflow_->input(i).relation;
        rejects_->Report(relation.name, relation.topic, std::move(rejected));
      }
    }
    if (input.kind != sql::ObjectKind::kSource) continue;
    SLUICE_ASSIGN_OR_RETURN(int64_t w, input.reader->AdvanceWatermark(now_ms));
    watermark = std::max(watermark, w);
    std::vector<LateEvent> late = input.reader->TakeLate();
    if (!late.empty()) {
      if (input.late_events) input.late_events->Inc(static_cast<double>(late.size()));
      WriteLate(input, std::move(late));
    }
  }
  const int64_t work = progress.applied + progress.rejected + progress.late + progress.duplicates + changes;
  if (work > 0 || watermark > last_watermark_) SLUICE_RETURN_IF_ERROR(dataflow_->FlushChanges());
  if (feed_.feed) feed_.feed->PublishIfDue();  // changes held back by pacing, once due
  last_watermark_ = std::max(last_watermark_, watermark);
  work_since_checkpoint_ += work;
  if (sink_writer_) {
    if (replaying_) {
      // Rebuilding state: these changes were written before the restart.
      sink_writer_->Take();
      bool reached = true;
      for (const Input& input : inputs_) {
        for (size_t p = 0; p < input.resume.size() && p < input.next.size(); ++p) {
          reached = reached && input.next[p] >= input.resume[p];
        }
      }
      if (reached) {
        replaying_ = false;
        SLUICE_LOG_INFO("sink {}: caught up with its last write, writing again", view_.name);
      }
    } else {
      (void)WriteSinkBatch();
    }
  }
  // After the sink's write: a checkpoint must not cover output that is not in the log yet (a
  // crash in between would restore past it and never write it); it then commits what it
  // covers. MaybeCheckpoint skips while a write is pending.
  if (checkpoints_ && !replaying_) MaybeCheckpoint(now_ms);
  lag_ = lag;
  if (!caught_up_.load(std::memory_order_relaxed)) {
    bool reached = true;
    for (size_t i = 0; i < inputs_.size() && reached; ++i) {
      const Input& input = inputs_[i];
      if (input.upstream != nullptr) reached = input.upstream->CaughtUp();
      for (size_t p = 0; p < start_ends_[i].size() && p < input.next.size(); ++p) {
        reached = reached && input.next[p] >= start_ends_[i][p];
      }
    }
    if (reached) {
      caught_up_.store(true, std::memory_order_release);
      const double seconds = static_cast<double>(now_ms - created_ms_) / 1000.0;
      if (recovery_seconds_ != nullptr) recovery_seconds_->Set(seconds);
      SLUICE_LOG_INFO("{} {}: caught up with its inputs in {:.3f} s", sql::ObjectKindName(view_.kind), view_.name,
                      seconds);
    }
  }
  if (e2e_latency_ != nullptr && progress.applied > 0 && !replaying_ && caught_up_.load(std::memory_order_relaxed)) {
    // Only live events: a replay after a restart or a backfill would report the log's age.
    const int64_t wall_ms = NowMs().value();
    e2e_latency_->Observe(static_cast<double>(std::max<int64_t>(0, wall_ms - progress.min_record_ms)) / 1000.0);
  }
  if (input_events_) {
    input_events_->Inc(static_cast<double>(progress.applied));
    rejected_events_->Inc(static_cast<double>(progress.rejected));
    rows_->Set(static_cast<double>(dataflow_->current_row_count()));
    const std::vector<exec::Dataflow::OperatorState> stats = dataflow_->StateStats();
    for (size_t i = 0; i < stats.size() && i < state_gauges_.size(); ++i) {
      state_gauges_[i].first->Set(static_cast<double>(stats[i].keys));
      if (stats[i].bytes >= 0) state_gauges_[i].second->Set(static_cast<double>(stats[i].bytes));
    }
    for (size_t i = 0; i < stats.size() && i < expired_counters_.size(); ++i) {
      auto& [counter, seen] = expired_counters_[i];
      if (stats[i].expired > seen) counter->Inc(static_cast<double>(stats[i].expired - seen));
      seen = stats[i].expired;
    }
    lag_gauge_->Set(static_cast<double>(lag));
    if (lag == 0 && pending_batch_ == std::nullopt) caught_up_ms_ = now_ms;
    lag_seconds_->Set(caught_up_ms_ < 0 ? 0.0 : static_cast<double>(now_ms - caught_up_ms_) / 1000.0);
    if (watermark != INT64_MIN) watermark_gauge_->Set(static_cast<double>(watermark) / 1e6);
  }
  return work;
}

namespace {
// 2: source readers also hold per-partition record times and the dedup keys.
// 3: the dataflow's state is the rest of the payload, its sections framed by 8-byte lengths
//    (written in place, no copies).
constexpr uint64_t kCheckpointPayloadVersion = 3;
}  // namespace

Result<bool> MaterializedView::RestoreCheckpoint() {
  std::vector<std::string> skipped;
  SLUICE_ASSIGN_OR_RETURN(std::optional<CheckpointStore::Checkpoint> c, checkpoints_->LoadNewest(&skipped));
  for (const std::string& name : skipped) {
    SLUICE_LOG_WARN("{} {}: checkpoint {} does not verify; using the one before", sql::ObjectKindName(view_.kind),
                    view_.name, name);
  }
  if (!c) return false;
  checkpoint_seq_ = c->seq;
  if (c->fingerprint != checkpoint_options_->fingerprint) {
    SLUICE_LOG_INFO("{} {}: its checkpoint is of another plan; rebuilding from the log", sql::ObjectKindName(view_.kind),
                    view_.name);
    return false;
  }
  sql::StateReader in(c->payload);
  SLUICE_ASSIGN_OR_RETURN(uint64_t version, in.U64());
  if (version != 2 && version != kCheckpointPayloadVersion) {
    return Status::Corruption("unknown checkpoint payload version");
  }
  SLUICE_ASSIGN_OR_RETURN(uint64_t inputs, in.U64());
  if (inputs != inputs_.size()) return Status::Corruption("checkpoint has a different number of inputs");
  const int64_t now_ms = SteadyMillis();
  std::vector<std::vector<Offset>> next(inputs_.size());
  for (size_t i = 0; i < inputs_.size(); ++i) {
    SLUICE_ASSIGN_OR_RETURN(uint64_t partitions, in.Count());
    for (uint64_t p = 0; p < partitions; ++p) {
      SLUICE_ASSIGN_OR_RETURN(int64_t offset, in.I64());
      next[i].push_back(Offset(offset));
    }
    if (inputs_[i].reader) SLUICE_RETURN_IF_ERROR(inputs_[i].reader->Restore(&in, now_ms));
  }
  SLUICE_ASSIGN_OR_RETURN(last_watermark_, in.I64());
  std::string_view state = in.rest();
  if (version == 2) {
    SLUICE_ASSIGN_OR_RETURN(state, in.BytesView());
    if (!in.done()) return Status::Corruption("checkpoint payload has trailing bytes");
  }
  SLUICE_RETURN_IF_ERROR(dataflow_->Restore(
      state, version == 2 ? exec::Dataflow::SectionFraming::kVarint : exec::Dataflow::SectionFraming::kFixed));
  for (size_t i = 0; i < inputs_.size(); ++i) {
    // A partition added since the checkpoint starts at its beginning.
    for (size_t p = 0; p < next[i].size() && p < inputs_[i].next.size(); ++p) inputs_[i].next[p] = next[i][p];
  }
  SLUICE_LOG_INFO("{} {}: restored checkpoint {} ({} bytes of state)", sql::ObjectKindName(view_.kind), view_.name,
                  c->seq, state.size());
  return true;
}

void MaterializedView::MaybeCheckpoint(int64_t now_ms) {
  if (checkpoint_write_.valid()) {
    // One file at a time: a slow disk delays the next checkpoint, never the view.
    if (checkpoint_write_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return;
    FinishCheckpoint(checkpoint_write_.get(), now_ms);
  }
  // A large state is checkpointed less often than the interval: its capture and serialisation
  // take at most 1/kCheckpointPauseBudget of the view's time (a 1M-key view needs ~0.3 s per
  // checkpoint; every second would cost a third of a core, and a recovery's replay with it). A
  // sink commits its output at checkpoints, so once caught up it keeps the interval: that is
  // the latency its readers were promised.
  const bool budgeted = !sink_ || !caught_up_.load(std::memory_order_relaxed);
  const int64_t gap_ms = budgeted ? std::max(checkpoint_options_->interval_ms, last_cost_ms_ * kCheckpointPauseBudget)
                                  : checkpoint_options_->interval_ms;
  if ((work_since_checkpoint_ == 0 && !txn_open_) || now_ms - last_checkpoint_ms_ < gap_ms) return;
  if (pending_batch_) return;  // the sink's output of this round is not written yet
  const auto start = std::chrono::steady_clock::now();
  // The payload is built in one buffer: the input positions, then every operator's section
  // written in place (no copies of the state).
  std::string payload;
  payload.reserve(last_payload_bytes_ + last_payload_bytes_ / 8 + 4096);
  sql::StateWriter out(&payload);
  out.U64(kCheckpointPayloadVersion);
  out.U64(inputs_.size());
  for (const Input& input : inputs_) {
    out.U64(input.next.size());
    for (Offset o : input.next) out.I64(o.value());
    if (input.reader) input.reader->Snapshot(&out);
  }
  out.I64(last_watermark_);
  // The operators' state is written here; the result's rows are captured copy on write and
  // written with the rest of the file on the writer's thread.
  Result<exec::Dataflow::SnapshotWriter> captured = dataflow_->CaptureSnapshot(&payload);
  Status s = captured.status();
  if (s.code() == StatusCode::kFailedPrecondition) {
    SLUICE_LOG_INFO("{} {}: not checkpointed ({}); it is rebuilt from the log on restart",
                    sql::ObjectKindName(view_.kind), view_.name, s.message());
    checkpoints_.reset();
    if (transactional_) {
      // Without checkpoints there is nothing to commit at: commit what is written, then write
      // plain batches (restarts rebuild from the log and skip up to the last batch).
      commit_pending_ = txn_open_;
      if (commit_pending_) (void)CommitSinkTransaction();
      transactional_ = false;
    }
    return;
  }
  if (!s.ok()) {
    CheckpointFailed(now_ms, s);
    return;
  }
  const auto paused = std::chrono::steady_clock::now() - start;
  last_pause_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(paused).count();
  if (checkpoint_pause_ != nullptr) checkpoint_pause_->Set(std::chrono::duration<double>(paused).count());
  last_checkpoint_ms_ = now_ms;
  CheckpointWrite write;
  write.seq = checkpoint_seq_ + 1;
  write.work = std::exchange(work_since_checkpoint_, 0);
  // Compression, the write and the fsyncs take no state of the view: another thread does them
  // while the view goes on. A sink writes its own before going on (its output positions and
  // its checkpoint must not drift apart).
  auto run = [store = checkpoints_.get(), fingerprint = checkpoint_options_->fingerprint, start, write,
              payload = std::move(payload), rows = std::move(captured).value()]() mutable {
    const auto serialize = std::chrono::steady_clock::now();
    rows(&payload);
    // Released here, not when the view collects the result: the view stops cloning the chunks
    // it writes, and the rows it replaced meanwhile are freed on this thread.
    rows = nullptr;
    write.serialize_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - serialize).count();
    write.payload_bytes = payload.size();
    write.status = store->Write(write.seq, fingerprint, payload, &write.file_bytes);
    std::string().swap(payload);
    write.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return write;
  };
  if (sink_) {
    FinishCheckpoint(run(), now_ms);
    return;
  }
  checkpoint_write_ = std::async(std::launch::async, std::move(run));
}

void MaterializedView::FinishCheckpoint(const CheckpointWrite& write, int64_t now_ms) {
  last_payload_bytes_ = write.payload_bytes;
  // The budget counts the state's serialisation wherever it ran (the compression and the
  // write are I/O-bound and off the thread, as before).
  last_cost_ms_ = last_pause_ms_ + static_cast<int64_t>(write.serialize_seconds * 1000);
  if (!write.status.ok()) {
    // A full disk: the previous checkpoint stays valid; the view runs on and retries at the
    // next interval.
    work_since_checkpoint_ += std::max<int64_t>(write.work, 1);
    CheckpointFailed(now_ms, write.status);
    return;
  }
  checkpoint_seq_ = write.seq;
  if (checkpoint_failing_) {
    SLUICE_LOG_INFO("{} {}: checkpoints are written again (checkpoint {})", sql::ObjectKindName(view_.kind),
                    view_.name, checkpoint_seq_);
    checkpoint_failing_ = false;
  }
  if (transactional_ && txn_open_) {
    commit_pending_ = true;
    (void)CommitSinkTransaction();  // retried at the next round if it fails
  }
  if (checkpoint_seconds_ != nullptr) {
    checkpoints_written_->Inc();
    checkpoint_seconds_->Set(write.seconds);
    checkpoint_bytes_->Set(static_cast<double>(write.file_bytes));
    checkpoint_time_->Set(static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  std::chrono::system_clock::now().time_since_epoch())
                                                  .count()) /
                          1000.0);
  }
}

void MaterializedView::CheckpointFailed(int64_t now_ms, const Status& why) {
  if (checkpoint_failures_ != nullptr) checkpoint_failures_->Inc();
  if (!checkpoint_failing_) {
    SLUICE_LOG_WARN("{} {}: checkpoint {} not written (retrying every {} ms; the view keeps running): {}",
                    sql::ObjectKindName(view_.kind), view_.name, checkpoint_seq_ + 1, checkpoint_options_->interval_ms,
                    why.message());
  }
  checkpoint_failing_ = true;
  last_checkpoint_ms_ = now_ms;
}

namespace {

// One "input:partition=offset" item of a sink batch's offsets header.
struct SinkOffset {
  size_t input = 0;
  size_t partition = 0;
  int64_t offset = 0;
};

std::vector<SinkOffset> ParseSinkOffsets(std::string_view offsets) {
  std::vector<SinkOffset> out;
  while (!offsets.empty()) {
    const size_t comma = offsets.find(',');
    const std::string item(offsets.substr(0, comma));
    offsets = comma == std::string_view::npos ? std::string_view() : offsets.substr(comma + 1);
    SinkOffset o;
    if (std::sscanf(item.c_str(), "%zu:%zu=%ld", &o.input, &o.partition, &o.offset) == 3) out.push_back(o);
  }
  return out;
}

// The last data batch at or after `from` written by sink `name` (and, if producer_id >= 0, by
// that producer) that is not aborted: its header and its offsets header.
Result<std::optional<log::TaggedBatch>> FindLastSinkBatch(const log::Partition& partition, std::string_view name,
                                                          int64_t producer_id, Offset from) {
  return log::FindLastTaggedBatch(partition, kSinkHeader, name, kSinkOffsetsHeader, producer_id, from);
}

}  // namespace

Status MaterializedView::StartSinkTransactions(bool restored) {
  log::Partition& partition = sink_->topic->partition(PartitionId(0));
  transactional_ = true;
  producer_id_ = log::kEngineProducerIdBase +
                 static_cast<int64_t>(XXH64(view_.name.data(), view_.name.size(), 0) & ((uint64_t{1} << 40) - 1));
  bool epoch_known = false;
  SLUICE_ASSIGN_OR_RETURN(auto open, partition.OpenTransactions());
  for (const auto& [pid, first] : open) {
    if (pid != producer_id_) continue;
    SLUICE_ASSIGN_OR_RETURN(std::optional<log::TaggedBatch> last, FindLastSinkBatch(partition, view_.name, pid, first));
    bool covered = restored && last.has_value();
    if (last) {
      producer_epoch_ = last->header.producer_epoch;
      epoch_known = true;
      for (const SinkOffset& o : ParseSinkOffsets(last->progress)) {
        covered = covered && o.input < inputs_.size() && o.partition < inputs_[o.input].next.size() &&
                  o.offset <= inputs_[o.input].next[o.partition].value();
      }
    }
    const log::ControlType type = covered ? log::ControlType::kCommit : log::ControlType::kAbort;
    SLUICE_LOG_INFO("sink {}: {} the output a previous run left uncommitted (from offset {})", view_.name,
                    covered ? "committing" : "aborting", first.value());
    SLUICE_RETURN_IF_ERROR(
        log::AppendAndWait(partition, log::BuildControlBatch(producer_id_, producer_epoch_, type, NowMs())).status());
  }
  if (!epoch_known) {
    SLUICE_ASSIGN_OR_RETURN(std::optional<log::TaggedBatch> last,
                            FindLastSinkBatch(partition, view_.name, producer_id_, Offset(0)));
    if (last) producer_epoch_ = last->header.producer_epoch;
  }
  // A new epoch per run (sequences restart at 0), as a restarted Kafka producer gets.
  producer_epoch_ = static_cast<int16_t>(producer_epoch_ >= INT16_MAX ? 0 : producer_epoch_ + 1);
  next_sequence_ = 0;
  return Status::Ok();
}

void MaterializedView::LoadResumeOffsets() {
  Result<std::optional<log::TaggedBatch>> last =
      FindLastSinkBatch(sink_->topic->partition(PartitionId(0)), view_.name, -1, Offset(0));
  if (!last.ok()) {
    SLUICE_LOG_WARN("sink {}: cannot read its last write ({}); writing from where its state starts", view_.name,
                    last.status().message());
    return;
  }
  if (!*last) return;
  for (const SinkOffset& o : ParseSinkOffsets((*last)->progress)) {
    if (o.input >= inputs_.size() || o.partition >= inputs_[o.input].next.size()) continue;
    Input& in = inputs_[o.input];
    if (in.resume.size() < in.next.size()) in.resume.assign(in.next.size(), Offset(0));
    in.resume[o.partition] = Offset(o.offset);
    replaying_ = true;
  }
  if (replaying_) SLUICE_LOG_INFO("sink {}: rebuilding state up to its last write before writing", view_.name);
}

bool MaterializedView::CommitSinkTransaction() {
  Result<log::AppendResult> appended =
      log::AppendAndWait(sink_->topic->partition(PartitionId(0)),
                    log::BuildControlBatch(producer_id_, producer_epoch_, log::ControlType::kCommit, NowMs()));
  if (!appended.ok()) {
    if (!sink_failing_) {
      SLUICE_LOG_WARN("sink {}: commit to {} failed (retrying until it succeeds): {}", view_.name,
                      sink_->topic->config().name, appended.status().message());
    }
    sink_failing_ = true;
    return false;
  }
  commit_pending_ = false;
  txn_open_ = false;
  return true;
}

bool MaterializedView::WriteSinkBatch() {
  if (!pending_batch_) {
    std::vector<SinkRow> rows = sink_writer_->Take();
    if (rows.empty()) return true;
    std::string offsets;
    for (size_t i = 0; i < inputs_.size(); ++i) {
      for (size_t p = 0; p < inputs_[i].next.size(); ++p) {
        offsets += fmt::format("{}{}:{}={}", offsets.empty() ? "" : ",", i, p, inputs_[i].next[p].value());
      }
    }
    const TimestampMs now = NowMs();
    log::RecordBatchBuilder builder;
    for (size_t r = 0; r < rows.size(); ++r) {
      const std::string_view op = rows[r].retraction ? "delete" : "insert";
      const log::RecordHeader first[] = {{kSinkOpHeader, op}, {kSinkHeader, view_.name}, {kSinkOffsetsHeader, offsets}};
      const std::optional<std::string_view> key =
          rows[r].key ? std::optional<std::string_view>(*rows[r].key) : std::nullopt;
      builder.Add(now, key, rows[r].json,
                  std::span<const log::RecordHeader>(first, r == 0 ? 3 : 1));
    }
    pending_batch_ = builder.Finish();
    if (transactional_) {
      log::SetProducerFields(&*pending_batch_, producer_id_, producer_epoch_, next_sequence_, /*transactional=*/true);
      const int64_t next = int64_t{next_sequence_} + pending_batch_->record_count;
      next_sequence_ = static_cast<int32_t>(next > INT32_MAX ? next - INT32_MAX - 1 : next);
    }
  }
  const int32_t count = pending_batch_->record_count;
  Result<log::AppendResult> appended = log::AppendAndWait(sink_->topic->partition(PartitionId(0)), *pending_batch_);
  if (!appended.ok()) {
    if (!sink_failing_) {
      SLUICE_LOG_WARN("sink {}: write to {} failed (retrying until it succeeds): {}", view_.name,
                      sink_->topic->config().name, appended.status().message());
    }
    sink_failing_ = true;
    return false;
  }
  if (sink_failing_) SLUICE_LOG_INFO("sink {}: writing to {} again", view_.name, sink_->topic->config().name);
  sink_failing_ = false;
  pending_batch_.reset();
  if (transactional_) txn_open_ = true;
  if (sink_records_) sink_records_->Inc(static_cast<double>(count));
  return true;
}

void MaterializedView::WriteLate(Input& input, std::vector<LateEvent> events) {
  if (!input.late_topic) {
    Result<std::shared_ptr<log::Topic>> topic = log::GetOrCreateTopic(log_, input.late_topic_name, 1);
    if (!topic.ok()) {
      SLUICE_LOG_WARN("materialized view {}: cannot create {}: {}", view_.name, input.late_topic_name,
                      topic.status().message());
      return;
    }
    input.late_topic = std::move(topic).value();
  }
  const log::RecordHeader headers[] = {{"sluice-view", view_.name}, {"sluice-reason", "late"}};
  log::RecordBatchBuilder builder;
  for (const LateEvent& e : events) builder.Add(TimestampMs(e.timestamp_ms), std::nullopt, e.value, headers);
  input.late_topic->partition(PartitionId(0))
      .Append(builder.Finish(), [view = view_.name, topic = input.late_topic_name](Result<log::AppendResult> r) {
        if (!r.ok()) SLUICE_LOG_WARN("materialized view {}: late events not written to {}: {}", view, topic,
                                     r.status().message());
      });
}

}  // namespace sluice::engine
