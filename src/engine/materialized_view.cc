#include "engine/materialized_view.h"

#include <chrono>

#include <fmt/format.h>

#include "common/logging.h"

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
  mv->topic_ = std::move(topic);
  mv->reader_ = std::make_unique<SourceReader>(mv->source_, mv->query_.get());
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
  std::lock_guard<std::mutex> lock(mu_);
  SourceReader::Progress progress;
  int64_t lag = 0;
  for (size_t p = 0; p < next_.size(); ++p) {
    log::Partition& partition = topic_->partition(PartitionId(static_cast<int32_t>(p)));
    const Offset end = partition.Info().end_offset;
    SLUICE_RETURN_IF_ERROR(reader_->ReadStep(partition, &next_[p], end, 1 << 20, &progress).status());
    lag += std::max<int64_t>(0, end - next_[p]);
  }
  SLUICE_RETURN_IF_ERROR(reader_->Finish());
  if (progress.applied > 0 || progress.rejected > 0) SLUICE_RETURN_IF_ERROR(query_->FlushChanges());
  lag_ = lag;
  if (input_events_) {
    input_events_->Inc(static_cast<double>(progress.applied));
    rejected_events_->Inc(static_cast<double>(progress.rejected));
    rows_->Set(static_cast<double>(query_->current_row_count()));
    lag_gauge_->Set(static_cast<double>(lag));
  }
  return progress.applied + progress.rejected;
}

}  // namespace sluice::engine
