#include "engine/materialized_view.h"

#include <chrono>

#include <fmt/format.h>

#include "common/logging.h"
#include "log/record_batch.h"

namespace sluice::engine {
namespace {

constexpr size_t kRoundBytesPerPartition = 1 << 20;
constexpr std::string_view kLateSuffix = ".late";

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
  std::lock_guard<std::mutex> lock(mu_);
  items_.push_back(std::move(item));
  return Status::Ok();
}

Status ChangeQueue::OnWatermark(int64_t watermark_us) {
  Item item;
  item.is_watermark = true;
  item.watermark_us = watermark_us;
  std::lock_guard<std::mutex> lock(mu_);
  items_.push_back(std::move(item));
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

// ---- MaterializedView ------------------------------------------------------------------------

MaterializedView::MaterializedView(sql::CatalogEntry view, std::unique_ptr<exec::Dataflow> dataflow, log::Log* log)
    : view_(std::move(view)), log_(log), dataflow_(std::move(dataflow)) {}

Result<std::unique_ptr<MaterializedView>> MaterializedView::Start(sql::CatalogEntry view,
                                                                  std::unique_ptr<exec::Dataflow> dataflow,
                                                                  std::vector<MaterializedView*> upstreams,
                                                                  log::Log* log, MetricsRegistry* metrics) {
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
      input.queue = std::make_unique<ChangeQueue>();
    } else {
      SLUICE_ASSIGN_OR_RETURN(input.topic, log->GetTopic(relation.topic));
      for (int32_t p = 0; p < input.topic->partition_count(); ++p) {
        input.next.push_back(input.topic->partition(PartitionId(p)).Info().start_offset);
      }
      input.reader = std::make_unique<SourceReader>(df, i, input.topic->partition_count(), relation.idle_timeout_ms);
      if (late_family != nullptr) input.late_events = late_family->WithLabels({name, relation.name});
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
    mv->watermark_gauge_ =
        metrics
            ->AddGauge("sluice_view_watermark_seconds", "A view's input watermark (event time, Unix seconds)", {"view"})
            ->WithLabels({name});
  }
  // Subscribe last: from here on the upstreams call into our queues.
  for (Input& input : mv->inputs_) {
    if (input.upstream != nullptr) input.upstream->Subscribe(input.queue.get());
  }
  mv->thread_ = std::thread([raw = mv.get()] { raw->Run(); });
  return mv;
}

MaterializedView::~MaterializedView() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  for (Input& input : inputs_) {
    if (input.upstream != nullptr) input.upstream->Unsubscribe(input.queue.get());
  }
}

void MaterializedView::Subscribe(ChangeQueue* queue) {
  std::lock_guard<std::mutex> lock(mu_);
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
  std::lock_guard<std::mutex> lock(mu_);
  dataflow_->sink().RemoveListener(queue);
}

Result<std::vector<std::vector<sql::Value>>> MaterializedView::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!failure_.ok()) {
    return Status::FailedPrecondition(fmt::format("materialized view \"{}\" stopped: {}", view_.name, failure_.message()));
  }
  return dataflow_->CurrentRows();
}

int64_t MaterializedView::Lag() const { return lag_.load(); }

void MaterializedView::Run() {
  while (!stop_.load()) {
    Result<int64_t> applied = Round();
    if (!applied.ok()) {
      SLUICE_LOG_ERROR("materialized view {}: {}", view_.name, applied.status().message());
      std::lock_guard<std::mutex> lock(mu_);
      failure_ = applied.status();
      return;
    }
    if (*applied == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Result<int64_t> MaterializedView::ReadLog(Input& input, size_t max_bytes_per_partition, bool to_end, int64_t now_ms,
                                          SourceReader::Progress* progress) {
  int64_t lag = 0;
  for (size_t p = 0; p < input.next.size(); ++p) {
    log::Partition& partition = input.topic->partition(PartitionId(static_cast<int32_t>(p)));
    const Offset end = partition.Info().end_offset;
    while (true) {
      SLUICE_ASSIGN_OR_RETURN(bool moved,
                              input.reader->ReadStep(partition, &input.next[p], end, max_bytes_per_partition, progress,
                                                     now_ms));
      if (!moved || !to_end) break;
    }
    lag += std::max<int64_t>(0, end - input.next[p]);
  }
  SLUICE_RETURN_IF_ERROR(input.reader->Finish());
  return lag;
}

Result<int64_t> MaterializedView::Round() {
  std::lock_guard<std::mutex> lock(mu_);
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
    if (input.kind != sql::ObjectKind::kSource) continue;
    SLUICE_ASSIGN_OR_RETURN(int64_t w, input.reader->AdvanceWatermark(now_ms));
    watermark = std::max(watermark, w);
    std::vector<LateEvent> late = input.reader->TakeLate();
    if (!late.empty()) {
      if (input.late_events) input.late_events->Inc(static_cast<double>(late.size()));
      WriteLate(input, std::move(late));
    }
  }
  const int64_t work = progress.applied + progress.rejected + progress.late + changes;
  if (work > 0 || watermark > last_watermark_) SLUICE_RETURN_IF_ERROR(dataflow_->FlushChanges());
  last_watermark_ = std::max(last_watermark_, watermark);
  lag_ = lag;
  if (input_events_) {
    input_events_->Inc(static_cast<double>(progress.applied));
    rejected_events_->Inc(static_cast<double>(progress.rejected));
    rows_->Set(static_cast<double>(dataflow_->current_row_count()));
    lag_gauge_->Set(static_cast<double>(lag));
    if (watermark != INT64_MIN) watermark_gauge_->Set(static_cast<double>(watermark) / 1e6);
  }
  return work;
}

void MaterializedView::WriteLate(Input& input, std::vector<LateEvent> events) {
  if (!input.late_topic) {
    Result<std::shared_ptr<log::Topic>> topic = log_->GetTopic(input.late_topic_name);
    if (!topic.ok()) {
      log::TopicConfig config;
      config.name = input.late_topic_name;
      config.partitions = 1;
      Status created = log_->CreateTopic(config);
      if (!created.ok() && created.code() != StatusCode::kAlreadyExists) {
        SLUICE_LOG_WARN("materialized view {}: cannot create {}: {}", view_.name, config.name, created.message());
        return;
      }
      topic = log_->GetTopic(input.late_topic_name);
    }
    if (!topic.ok()) return;
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
