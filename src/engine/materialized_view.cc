#include "engine/materialized_view.h"

#include <chrono>

#include <fmt/format.h>

#include "common/logging.h"
#include "log/record_batch.h"

namespace sluice::engine {

MaterializedView::MaterializedView(sql::CatalogEntry view, sql::CatalogEntry source,
                                   std::unique_ptr<exec::BatchQuery> query, log::Log* log)
    : view_(std::move(view)), source_(std::move(source)), log_(log), query_(std::move(query)) {}

Result<std::unique_ptr<MaterializedView>> MaterializedView::Start(sql::CatalogEntry view, sql::CatalogEntry source,
                                                                  std::unique_ptr<exec::BatchQuery> query,
                                                                  log::Log* log, MetricsRegistry* metrics) {
  SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<log::Topic> topic, log->GetTopic(source.topic));
  auto mv = std::unique_ptr<MaterializedView>(
      new MaterializedView(std::move(view), std::move(source), std::move(query), log));
  for (int32_t p = 0; p < topic->partition_count(); ++p) {
    mv->next_.push_back(topic->partition(PartitionId(p)).Info().start_offset);
  }
  std::vector<exec::ColumnSpec> specs;
  const std::vector<bool>& used = mv->query_->input_columns_used();
  for (size_t i = 0; i < mv->source_.columns.size(); ++i) {
    const sql::ColumnSchema& c = mv->source_.columns[i];
    specs.push_back({c.name, c.type, i < used.size() && !used[i]});
  }
  mv->decoder_ = std::make_unique<exec::JsonDecoder>(std::move(specs));
  mv->chunk_ = std::make_unique<exec::DataChunk>(mv->query_->input_types());
  if (metrics != nullptr) {
    const std::string& name = mv->view_.name;
    mv->input_events_ = metrics->AddCounter("sluice_view_input_events_total", "Events applied to a view", {"view"})
                            ->WithLabels({name});
    mv->rejected_events_ =
        metrics->AddCounter("sluice_view_rejected_events_total", "Events that did not match the source's schema",
                            {"view"})
            ->WithLabels({name});
    mv->rows_ = metrics->AddGauge("sluice_view_rows", "Rows in a view's state", {"view"})->WithLabels({name});
    mv->lag_gauge_ =
        metrics->AddGauge("sluice_view_lag_events", "Events in the source not yet applied to a view", {"view"})
            ->WithLabels({name});
  }
  mv->thread_ = std::thread([raw = mv.get()] { raw->Run(); });
  return mv;
}

MaterializedView::~MaterializedView() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

Result<std::vector<std::vector<sql::Value>>> MaterializedView::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!failure_.ok()) {
    return Status::FailedPrecondition(fmt::format("materialized view \"{}\" stopped: {}", view_.name, failure_.message()));
  }
  return query_->CurrentRows();
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

Result<int64_t> MaterializedView::Round() {
  auto topic = log_->GetTopic(source_.topic);
  if (!topic.ok()) return topic.status().WithContext(fmt::format("reading topic '{}'", source_.topic));
  int64_t applied = 0, rejected = 0, lag = 0;
  std::lock_guard<std::mutex> lock(mu_);
  exec::DataChunk& chunk = *chunk_;
  chunk.Reset();
  for (size_t p = 0; p < next_.size(); ++p) {
    log::Partition& partition = (*topic)->partition(PartitionId(static_cast<int32_t>(p)));
    const log::PartitionInfo info = partition.Info();
    if (next_[p] < info.start_offset) next_[p] = info.start_offset;  // retention passed us
    if (next_[p] >= info.end_offset) continue;
    Result<log::ReadResult> read_or = partition.Read(next_[p], 1 << 20);
    if (!read_or.ok() && read_or.status().code() == StatusCode::kOutOfRange &&
        partition.Info().start_offset > next_[p]) {
      next_[p] = partition.Info().start_offset;  // retention removed what we had not read yet
      continue;
    }
    SLUICE_ASSIGN_OR_RETURN(log::ReadResult read, std::move(read_or));
    log::RecordReader reader(read.bytes, next_[p]);
    log::Record record;
    const char* buffer_end = read.bytes.data() + read.bytes.size();
    Offset last = next_[p] - 1;
    while (reader.Next(&record)) {
      last = record.offset;
      if (!record.value) {
        ++rejected;
        continue;
      }
      size_t readable = static_cast<size_t>(buffer_end - record.value->data());
      if (!decoder_->DecodeInto(*record.value, readable, &chunk).ok()) {
        ++rejected;
        continue;
      }
      ++applied;
      if (chunk.size() == chunk.capacity()) {
        SLUICE_RETURN_IF_ERROR(query_->Push(chunk));
        chunk.Reset();
      }
    }
    SLUICE_RETURN_IF_ERROR(reader.status());
    next_[p] = std::max(read.next_offset, last + 1);
    lag += std::max<int64_t>(0, info.end_offset - next_[p]);
  }
  if (chunk.size() > 0) SLUICE_RETURN_IF_ERROR(query_->Push(chunk));
  if (applied > 0 || rejected > 0) SLUICE_RETURN_IF_ERROR(query_->FlushChanges());
  lag_ = lag;
  if (input_events_) {
    input_events_->Inc(static_cast<double>(applied));
    rejected_events_->Inc(static_cast<double>(rejected));
    rows_->Set(static_cast<double>(query_->current_row_count()));
    lag_gauge_->Set(static_cast<double>(lag));
  }
  return applied + rejected;
}

}  // namespace sluice::engine
