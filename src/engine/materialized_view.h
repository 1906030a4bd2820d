#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "common/result.h"
#include "exec/batch_query.h"
#include "engine/source_reader.h"
#include "log/log.h"
#include "sql/catalog.h"
#include "sql/logical_plan.h"

namespace sluice::engine {

// A materialized view kept up to date from its source's topic: a thread reads every partition
// from the start of the retained log (backfill), then follows the end (live), decoding events
// into chunks and pushing them through the view's operators; the result rows are the view's
// state, read by pull queries. Each round of reads ends with a flush, so aggregates emit their
// changes (-1/+1) once per round.
//
// Not yet: checkpoints (the state is rebuilt from the log on restart), watermarks, late-event
// handling, EMIT ON WINDOW CLOSE, joins, views over views (see docs/STATUS.md).
class MaterializedView {
 public:
  // `source` is the relation the plan scans. Starts the maintenance thread.
  static Result<std::unique_ptr<MaterializedView>> Start(sql::CatalogEntry view, sql::CatalogEntry source,
                                                         std::unique_ptr<exec::BatchQuery> query, log::Log* log,
                                                         MetricsRegistry* metrics);
  ~MaterializedView();  // stops the thread

  const sql::CatalogEntry& entry() const { return view_; }
  // The view's rows now, or the error that stopped its maintenance.
  Result<std::vector<std::vector<sql::Value>>> Snapshot() const;
  // Events in the source's topic not yet applied (all partitions).
  int64_t Lag() const;

 private:
  MaterializedView(sql::CatalogEntry view, sql::CatalogEntry source, std::unique_ptr<exec::BatchQuery> query,
                   log::Log* log);
  void Run();
  // Reads and applies what is new in every partition; returns the events applied.
  Result<int64_t> Round();

  const sql::CatalogEntry view_;
  const sql::CatalogEntry source_;
  log::Log* const log_;
  std::shared_ptr<log::Topic> topic_;  // held for the view's life (no lookup per round)
  std::vector<Offset> next_;           // per partition
  std::unique_ptr<SourceReader> reader_;

  mutable std::mutex mu_;
  std::unique_ptr<exec::BatchQuery> query_;  // GUARDED_BY(mu_)
  Status failure_;                           // GUARDED_BY(mu_)

  std::atomic<bool> stop_{false};
  std::atomic<int64_t> lag_{0};
  Counter* input_events_ = nullptr;
  Counter* rejected_events_ = nullptr;
  Gauge* rows_ = nullptr;
  Gauge* lag_gauge_ = nullptr;
  std::thread thread_;
};

}  // namespace sluice::engine
