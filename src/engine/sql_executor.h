#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/fair_shared_mutex.h"
#include "common/file_system.h"
#include "common/metrics.h"
#include "common/result.h"
#include "engine/decode_rejects.h"
#include "engine/materialized_view.h"
#include "engine/point_query_cache.h"
#include "engine/connector.h"
#include "log/log.h"
#include "sql/ast.h"
#include "sql/catalog.h"
#include "sql/value.h"
#include "engine/subscription.h"

namespace sluice::exec {
class Dataflow;
}

namespace sluice::engine {

struct ResultColumn {
  std::string name;
  sql::DataType type;
};

// What one statement returns: a table (possibly empty) and a command tag as PostgreSQL sends
// it ("CREATE SOURCE", "SELECT 3", "DROP MATERIALIZED VIEW").
struct StatementResult {
  std::vector<ResultColumn> columns;
  std::vector<std::vector<sql::Value>> rows;
  std::string command;
};

class MaterializedView;

// Runs SQL statements against the catalog and the log. DDL is validated (names, types,
// options, watermark expressions, dependencies), persisted in the catalog file and, for
// sources and tables, creates the topic they read. On open the catalog's history is replayed
// through the same code. Thread-safe: statements that only read (SELECT, SHOW, DESCRIBE,
// EXPLAIN) run concurrently, the others one at a time.
class SqlExecutor {
 public:
  // Opens <dir>/catalog.log and replays it. `log` must outlive the executor.
  // `metrics` may be null.
  // `checkpoint_dir` non-empty: views and sinks checkpoint their state there every
  // `checkpoint_interval_ms` and restore it at start (docs/checkpointing.md).
  static Result<std::unique_ptr<SqlExecutor>> Open(FileSystem* fs, const std::string& dir, log::Log* log,
                                                   int32_t default_partitions, MetricsRegistry* metrics = nullptr,
                                                   std::string checkpoint_dir = {},
                                                   int64_t checkpoint_interval_ms = 1000,
                                                   Connectors connectors = {});
  ~SqlExecutor();

  // Runs every ';'-separated statement in order; stops at the first error (earlier statements
  // stay done, as with psql's default). Errors are kInvalidArgument (syntax, names, types),
  // kNotFound, kAlreadyExists, kFailedPrecondition (dependents) with PostgreSQL-like text.
  Result<std::vector<StatementResult>> Execute(std::string_view sql);

  // Runs `sql` now, without waiting for any lock, when it is one SELECT that reads one key of
  // one materialized view through the view's index (`WHERE key = constant`): a protocol edge
  // answers it on its network thread. nullopt when the statement is anything else, does not
  // parse or bind (Execute reports those), or would have to wait (DDL running, the view in
  // the middle of a round): run it with Execute on a thread that may block.
  Result<std::optional<StatementResult>> TryPointQuery(std::string_view sql);

  // The columns one statement would return, without running it: a SELECT is bound against
  // the catalog (nothing is read); SHOW, DESCRIBE and EXPLAIN run, as they only read the
  // catalog; any other statement returns no columns. Errors as Execute's. For protocol edges
  // that describe a prepared statement before it is executed (pgwire's Describe).
  Result<std::vector<ResultColumn>> Describe(std::string_view sql);

  const sql::Catalog& catalog() const { return *catalog_; }
  // How many query shapes TryPointQuery answers without parsing (for tests).
  size_t cached_point_plans() const { return point_plans_.size(); }

  // A pull query's `column = constant` filter right above a view's scan (sql_executor.cc).
  struct PointLookup {
    size_t column = 0;
    sql::Value value;
  };

  // `sluice verify`: recomputes a view in batch from the retained log, up to exactly the
  // offsets its state reflects, and compares the two as multisets of rows.
  struct VerifyReport {
    std::vector<ResultColumn> columns;
    int64_t view_rows = 0;
    int64_t batch_rows = 0;
    std::vector<std::vector<sql::Value>> only_in_view;   // with repeats
    std::vector<std::vector<sql::Value>> only_in_batch;
  };
  Result<VerifyReport> Verify(std::string_view view);
  // Subscribes to a materialized view's changes (engine/subscription.h). `request.sql` may be
  // `SELECT <expressions> FROM <view> [WHERE <predicate>]`: anything else (aggregates, joins,
  // windows, DISTINCT, ORDER BY, LIMIT, several relations) is kInvalidArgument. kNotFound for an
  // unknown name; kInvalidArgument for a source, table or sink.
  Result<std::unique_ptr<Subscription>> Subscribe(const SubscribeRequest& request, std::function<void()> notify,
                                                  const SubscriptionLimits& limits);

  // Recovery: whether every view and sink restored at start has caught up with what its inputs
  // held then (views created later do not count). Once true, stays true.
  bool ViewsCaughtUp();

  // Stops every materialized view's maintenance thread (before the log closes). Idempotent.
  void StopViews();

 private:
  SqlExecutor(std::unique_ptr<sql::Catalog> catalog, log::Log* log, int32_t default_partitions,
              MetricsRegistry* metrics);

  // Validates a view's query and options and builds its dataflow; fills entry's columns,
  // dependencies and append_only.
  Result<std::unique_ptr<exec::Dataflow>> PlanView(const sql::SelectStmt& query, const sql::WithOptions& options,
                                                   sql::CatalogEntry* entry);
  // Validates CREATE SINK and builds its dataflow (which keeps no rows); fills *entry.
  Result<std::unique_ptr<exec::Dataflow>> PlanSink(const sql::CreateSinkStatement& s, sql::CatalogEntry* entry);
  // The scaled-out source `relation` is, or reads through views (nullopt: none).
  std::optional<std::string> ScaledOutSourceUnder(const sql::CatalogEntry& relation) const;
  // Starts a view's or a sink's maintenance (a sink's topic is created when missing).
  Status StartView(const sql::CatalogEntry& entry, std::unique_ptr<exec::Dataflow> dataflow);
  // Feeds an ad-hoc query the rows of the relations it reads (logs of sources and tables,
  // states of views).
  // `lookup`: the query reads one view and keeps only rows whose column equals a constant;
  // the view is then read through its index instead of whole.
  Status FeedInputs(exec::Dataflow* dataflow, const std::optional<PointLookup>& lookup = std::nullopt);
  // Runs a bound ad-hoc SELECT. REQUIRES: mu_ held (shared is enough).
  Result<StatementResult> RunSelect(const sql::BoundQuery& bound);
  void StopViewsLocked();
  // Takes mu_ exclusively and makes every point-query plan stale (catalog_generation_).
  std::unique_lock<FairSharedMutex> LockExclusive();

  Result<std::unique_ptr<exec::Dataflow>> Replan(const sql::CatalogEntry& entry);
  // Scaled-out sources (docs/scale-out.md): the partitions this node owns, as a view's filter.
  // REQUIRES: mu_ held.
  PartitionFilter OwnedPartitions() const;
  // Rebuilds the views and sinks that read (directly or through other views) the scaled-out
  // sources `sources`, over the partitions owned now. REQUIRES: mu_ held exclusively.
  void RebuildViewsOf(const std::set<std::string>& sources);
  void RebalanceLoop();
  // Starts the external connector of a source, table or sink (nothing for the embedded log),
  // creating its topic with `partitions` (0: the default; a sink's has 1) when missing.
  Status StartConnector(const sql::CatalogEntry& entry, int32_t partitions);
  // The partitions of scaled-out source `source` this node owns (created, empty, at the first
  // call: a sink over the source may start before the source's connector). REQUIRES: mu_ held
  // exclusively, or during Open.
  std::shared_ptr<PartitionOwnership> OwnershipOf(const std::string& source);
  // A sink over a scaled-out source (docs/scale-out.md): its connector delivers it partition by
  // partition of the source; no materialized view runs it.
  Status StartScaledOutSink(const sql::CatalogEntry& entry, std::unique_ptr<exec::Dataflow> dataflow);

  // Held shared by statements that only read the catalog and the views, exclusively by DDL
  // (which a stream of pull queries cannot starve).
  FairSharedMutex mu_;
  // Moves whenever the catalog or the views may change (LockExclusive, a rebalance's rebuild):
  // plans made before no longer hold.
  std::atomic<uint64_t> catalog_generation_{0};
  PointQueryCache point_plans_;  // TryPointQuery's plans by query shape
  std::vector<std::string> recovering_;  // GUARDED_BY(mu_): views restored at start, not caught up yet
  std::atomic<bool> recovered_{false};
  FileSystem* fs_ = nullptr;
  std::string checkpoint_dir_;  // empty: no checkpoints
  int64_t checkpoint_interval_ms_ = 1000;
  std::unique_ptr<sql::Catalog> catalog_;
  log::Log* log_;
  int32_t default_partitions_;
  MetricsRegistry* metrics_;
  DecodeRejectReporter rejects_;  // declared before views_: views report into it
  std::map<std::string, std::unique_ptr<MaterializedView>, std::less<>> views_;
  Connectors connectors_;  // by connector name
  // GUARDED_BY(mu_): by scaled-out source name.
  std::map<std::string, std::shared_ptr<PartitionOwnership>, std::less<>> ownership_;
  // Sources whose ownership changed, for the rebalancer thread.
  std::mutex rebalance_mu_;
  std::condition_variable rebalance_cv_;
  std::set<std::string> rebalanced_;  // GUARDED_BY(rebalance_mu_)
  bool stopping_ = false;             // GUARDED_BY(rebalance_mu_)
  std::thread rebalancer_;
  // GUARDED_BY(mu_): the running connectors by source, table or sink name.
  std::map<std::string, std::unique_ptr<Connector>, std::less<>> running_connectors_;
};

}  // namespace sluice::engine
