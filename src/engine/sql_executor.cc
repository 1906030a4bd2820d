#include "engine/sql_executor.h"

#include <algorithm>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/fair_shared_mutex.h"
#include "common/logging.h"
#include "engine/materialized_view.h"
#include "engine/source_reader.h"
#include "exec/cast.h"
#include "exec/dataflow.h"
#include "sql/value_text.h"

#include <xxhash.h>
#include "sql/expression_binder.h"
#include "sql/parser.h"
#include "sql/query_binder.h"

namespace sluice::engine {

using sql::CatalogEntry;
using sql::DataType;
using sql::ObjectKind;
using sql::TypeId;
using sql::Value;

namespace {

Status NotSupported(std::string_view what) { return Status::InvalidArgument(fmt::format("not supported yet: {}", what)); }

// An object restored from the catalog that cannot run (CatalogEntry::failure).
Status NotAvailable(const CatalogEntry& e) {
  return Status::FailedPrecondition(
      fmt::format("{} \"{}\" is not available: {}", sql::ObjectKindName(e.kind), e.name, e.failure));
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A source whose partitions this node shares with others (docs/scale-out.md).
bool IsScaledOut(const CatalogEntry& relation) {
  auto so = relation.options.find("scale_out");
  return so != relation.options.end() && Lower(so->second) == "true";
}

// A sink's WITH (key = 'column'): the index of the column whose value keys its records (-1:
// no key option); kInvalidArgument naming the columns when there is no such column.
Result<int> SinkKeyColumn(const CatalogEntry& sink) {
  auto key = sink.options.find("key");
  if (key == sink.options.end()) return -1;
  std::string names;
  for (size_t c = 0; c < sink.columns.size(); ++c) {
    if (sink.columns[c].name == key->second) return static_cast<int>(c);
    names += (names.empty() ? "" : ", ") + sink.columns[c].name;
  }
  return Status::InvalidArgument(
      fmt::format("option 'key': the sink has no column \"{}\" (its columns: {})", key->second, names));
}

// A duration option such as '5 seconds' or '1 hour', in microseconds (> 0, no months).
Result<int64_t> ParseDurationOption(std::string_view option, std::string_view text) {
  Result<sql::Interval> interval = sql::ParseInterval(text);
  if (!interval.ok() || interval->months != 0) {
    return Status::InvalidArgument(fmt::format("option '{}': invalid duration '{}' (e.g. '5 seconds', '1 hour')", option, text));
  }
  const int64_t us = interval->days * 86'400'000'000LL + interval->micros;
  if (us <= 0) return Status::InvalidArgument(fmt::format("option '{}' must be positive", option));
  return us;
}

// The factory of a relation's external connector (`connector = 'kafka'`); nullptr for the
// embedded log (no `connector` option, or 'embedded').
Result<ConnectorFactory*> ConnectorFor(const sql::WithOptions& options, const Connectors* connectors) {
  auto it = options.find("connector");
  if (it == options.end() || Lower(it->second) == "embedded") return nullptr;
  const std::string name = Lower(it->second);
  if (connectors != nullptr) {
    if (auto f = connectors->find(name); f != connectors->end()) return f->second.get();
  }
  std::string known = "embedded";
  if (connectors != nullptr) {
    for (const auto& [n, f] : *connectors) known += ", " + n;
  }
  return NotSupported(fmt::format("connector '{}' (known: {})", it->second, known));
}

// Validates CREATE SOURCE / CREATE TABLE and turns it into a catalog entry.
Result<CatalogEntry> BuildRelationEntry(const sql::CreateRelationStatement& s, const Connectors* connectors) {
  const bool is_table = s.kind == sql::StatementKind::kCreateTable;
  const std::string_view what = is_table ? "table" : "source";
  CatalogEntry entry;
  entry.kind = is_table ? ObjectKind::kTable : ObjectKind::kSource;
  entry.name = s.name;
  entry.sql = s.text;
  std::set<std::string> seen;
  for (const sql::ColumnDef& c : s.columns) {
    if (!seen.insert(c.name).second) {
      return Status::InvalidArgument(fmt::format("column \"{}\" specified more than once (line {}, column {})", c.name,
                                                 c.pos.line, c.pos.column));
    }
    if (c.type.id == TypeId::kInterval) return NotSupported("INTERVAL columns in sources and tables");
    entry.columns.push_back({c.name, c.type, c.not_null});
  }
  if (entry.columns.empty()) return Status::InvalidArgument(fmt::format("a {} needs at least one column", what));
  auto column_index = [&](std::string_view name) -> int {
    for (size_t i = 0; i < entry.columns.size(); ++i) {
      if (entry.columns[i].name == name) return static_cast<int>(i);
    }
    return -1;
  };
  if (s.watermark) {
    int index = column_index(s.watermark->column);
    if (index < 0) {
      return Status::InvalidArgument(fmt::format("WATERMARK FOR column \"{}\" does not exist (line {}, column {})",
                                                 s.watermark->column, s.watermark->pos.line, s.watermark->pos.column));
    }
    const DataType& t = entry.columns[static_cast<size_t>(index)].type;
    if (t.id != TypeId::kTimestamp && t.id != TypeId::kTimestamptz) {
      return Status::InvalidArgument(fmt::format("WATERMARK FOR column \"{}\" must be TIMESTAMP or TIMESTAMPTZ, not {}",
                                                 s.watermark->column, t.ToString()));
    }
    sql::BindScope scope;
    for (const auto& c : entry.columns) scope.Add({s.name, c.name, c.type});
    sql::ExpressionBinder binder(&scope, "WATERMARK");
    SLUICE_ASSIGN_OR_RETURN(sql::BoundExprPtr wm, binder.Bind(*s.watermark->expr));
    if (wm->type.id != TypeId::kTimestamp && wm->type.id != TypeId::kTimestamptz) {
      return Status::InvalidArgument(
          fmt::format("the WATERMARK expression must be a timestamp such as {0} - INTERVAL '5' SECOND, not {1}",
                      s.watermark->column, wm->type.ToString()));
    }
    // The watermark trails the largest event time by a fixed delay: `col` or `col - INTERVAL`.
    const std::string shape = fmt::format(
        "not supported yet: WATERMARK expressions other than {0} or {0} - INTERVAL '...' (a fixed delay)",
        s.watermark->column);
    int64_t delay = 0;
    const sql::BoundExpr* column = wm.get();
    if (wm->kind == sql::BoundExprKind::kCall && wm->fn == sql::ScalarFn::kTimestampSubInterval) {
      const sql::BoundExpr& d = *wm->args[1];
      if (d.kind != sql::BoundExprKind::kConstant || d.constant.is_null() || d.constant.interval().months != 0) {
        return Status::InvalidArgument(shape);
      }
      delay = d.constant.interval().days * 86'400'000'000LL + d.constant.interval().micros;
      if (delay < 0) return Status::InvalidArgument("the WATERMARK delay must not be negative");
      column = wm->args[0].get();
    }
    if (column->kind != sql::BoundExprKind::kColumn || column->column != index) return Status::InvalidArgument(shape);
    entry.watermark_column = index;
    entry.watermark_delay_us = delay;
  }
  for (const std::string& key : s.primary_key) {
    int index = column_index(key);
    if (index < 0) return Status::InvalidArgument(fmt::format("PRIMARY KEY column \"{}\" does not exist", key));
    entry.primary_key.push_back(index);
  }
  if (is_table && entry.primary_key.empty()) {
    return Status::InvalidArgument("a table needs a PRIMARY KEY (its rows are upserted by key)");
  }
  if (!is_table && !entry.primary_key.empty()) {
    return Status::InvalidArgument("a source is append-only and has no PRIMARY KEY; use CREATE TABLE to upsert by key");
  }
  static const std::set<std::string, std::less<>> kKnown = {"topic",     "format",       "connector",
                                                            "idle_timeout", "dedup_key", "dedup_window"};
  static const std::set<std::string, std::less<>> kLater = {"state_ttl"};
  SLUICE_ASSIGN_OR_RETURN(ConnectorFactory * connector, ConnectorFor(s.options, connectors));
  entry.options = s.options;
  for (const auto& [key, value] : s.options) {
    if (kLater.contains(key)) return NotSupported(fmt::format("option '{}'", key));
    if (!kKnown.contains(key) && connector == nullptr) {
      return Status::InvalidArgument(fmt::format(
          "unknown option '{}' (known: connector, dedup_key, dedup_window, format, idle_timeout, topic)", key));
    }
  }
  const auto dedup_key = s.options.find("dedup_key");
  const auto dedup_window = s.options.find("dedup_window");
  if (dedup_key != s.options.end()) {
    if (is_table) return Status::InvalidArgument("dedup_key is for sources; a table already keeps one row per key");
    entry.dedup_column = column_index(dedup_key->second);
    if (entry.dedup_column < 0) {
      return Status::InvalidArgument(fmt::format("dedup_key column \"{}\" does not exist", dedup_key->second));
    }
    int64_t window_us = 3600LL * 1000 * 1000;  // one hour unless given
    if (dedup_window != s.options.end()) {
      SLUICE_ASSIGN_OR_RETURN(window_us, ParseDurationOption("dedup_window", dedup_window->second));
    }
    if (window_us < 1000) return Status::InvalidArgument("dedup_window must be at least 1 ms");
    entry.dedup_window_ms = window_us / 1000;
  } else if (dedup_window != s.options.end()) {
    return Status::InvalidArgument("dedup_window needs dedup_key (the column that identifies an event)");
  }
  if (auto it = s.options.find("format"); it != s.options.end() && Lower(it->second) != "json") {
    return NotSupported(fmt::format("format '{}' (json is)", it->second));
  }
  if (auto it = s.options.find("idle_timeout"); it != s.options.end()) {
    SLUICE_ASSIGN_OR_RETURN(entry.idle_timeout_ms, ParseDurationOption("idle_timeout", it->second));
    entry.idle_timeout_ms /= 1000;
  }
  auto topic = s.options.find("topic");
  // An external connector's `topic` is the external one; its events land in the embedded
  // log's topic of the relation's name.
  entry.topic = topic == s.options.end() || connector != nullptr ? s.name : topic->second;
  SLUICE_RETURN_IF_ERROR(log::ValidateTopicName(entry.topic).WithContext(connector != nullptr ? "the relation's name" : "option 'topic'"));
  if (log::IsInternalTopicName(entry.topic)) {
    return Status::InvalidArgument(fmt::format("topic names starting with '.' are reserved: '{}'", entry.topic));
  }
  if (connector != nullptr) SLUICE_RETURN_IF_ERROR(connector->CheckOptions(entry));
  return entry;
}

std::string QuoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

StatementResult Command(std::string tag) {
  StatementResult r;
  r.command = std::move(tag);
  return r;
}

StatementResult Table(std::vector<engine::ResultColumn> columns, std::vector<std::vector<Value>> rows) {
  StatementResult r;
  r.columns = std::move(columns);
  r.command = fmt::format("SELECT {}", rows.size());
  r.rows = std::move(rows);
  return r;
}

std::string_view KindTag(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kSource: return "SOURCE";
    case ObjectKind::kTable: return "TABLE";
    case ObjectKind::kView: return "MATERIALIZED VIEW";
    case ObjectKind::kSink: return "SINK";
  }
  return "OBJECT";
}

// Feeds every retained event of a source's or table's topic (up to the end offsets seen at
// the start) into input `i` of the dataflow. Events that do not decode (not JSON, uncastable
// values) are skipped and counted, as the streaming source does.
Status ScanLog(log::Log* log, exec::Dataflow* dataflow, size_t i, int64_t* skipped,
               const std::vector<Offset>* until = nullptr) {
  SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<log::Topic> topic, log->GetTopic(dataflow->input(i).relation.topic));
  SourceReader reader(dataflow, i, topic->partition_count());
  SourceReader::Progress progress;
  for (int32_t p = 0; p < topic->partition_count(); ++p) {
    log::Partition& partition = topic->partition(PartitionId(p));
    const log::PartitionInfo info = partition.Info();
    Offset next = info.start_offset;
    Offset end = info.end_offset;
    if (until != nullptr) end = static_cast<size_t>(p) < until->size() ? (*until)[static_cast<size_t>(p)] : Offset(0);
    while (true) {
      SLUICE_ASSIGN_OR_RETURN(bool moved, reader.ReadStep(partition, &next, end, 4 << 20, &progress));
      if (!moved) break;
    }
  }
  *skipped = progress.rejected;
  return reader.Finish();
}

StatementResult PlanLines(const std::string& plan) {
  std::vector<std::vector<Value>> rows;
  std::istringstream in(plan);
  std::string line;
  while (std::getline(in, line)) rows.push_back({Value::Varchar(line)});
  return Table({{"QUERY PLAN", DataType::Varchar()}}, std::move(rows));
}

}  // namespace

SqlExecutor::SqlExecutor(std::unique_ptr<sql::Catalog> catalog, log::Log* log, int32_t default_partitions,
                         MetricsRegistry* metrics)
    : catalog_(std::move(catalog)),
      log_(log),
      default_partitions_(default_partitions),
      metrics_(metrics),
      rejects_(log, metrics) {}

SqlExecutor::~SqlExecutor() { StopViewsLocked(); }

std::unique_lock<FairSharedMutex> SqlExecutor::LockExclusive() {
  std::unique_lock<FairSharedMutex> lock(mu_);
  catalog_generation_.fetch_add(1);
  return lock;
}

void SqlExecutor::StopViews() {
  std::unique_lock<FairSharedMutex> lock = LockExclusive();
  StopViewsLocked();
}

Result<std::unique_ptr<SqlExecutor>> SqlExecutor::Open(FileSystem* fs, const std::string& dir, log::Log* log,
                                                       int32_t default_partitions, MetricsRegistry* metrics,
                                                       std::string checkpoint_dir, int64_t checkpoint_interval_ms,
                                                       Connectors connectors) {
  SLUICE_RETURN_IF_ERROR(fs->CreateDirs(dir));
  std::vector<sql::CatalogRecord> records;
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<sql::CatalogLog> catalog_log,
                          sql::CatalogLog::Open(fs, JoinPath(dir, "catalog.log"), &records));
  auto catalog = std::make_unique<sql::Catalog>(std::move(catalog_log));
  auto executor = std::unique_ptr<SqlExecutor>(
      new SqlExecutor(std::move(catalog), log, default_partitions, metrics));
  executor->fs_ = fs;
  executor->checkpoint_dir_ = std::move(checkpoint_dir);
  executor->checkpoint_interval_ms_ = checkpoint_interval_ms;
  executor->connectors_ = std::move(connectors);
  // Replay the history through the same validation as a live statement. An object whose DDL
  // no longer binds is skipped with an error in the log; the others come back. Views restart
  // from the retained log (their state is not checkpointed yet).
  int restored = 0;
  std::vector<std::pair<CatalogEntry, std::unique_ptr<exec::Dataflow>>> views;
  for (const sql::CatalogRecord& r : records) {
    if (r.op == sql::CatalogRecord::Op::kDrop) {
      (void)executor->catalog_->Drop(r.name, r.kind, /*replay=*/true);
      views.erase(std::remove_if(views.begin(), views.end(), [&](const auto& v) { return v.first.name == r.name; }),
                  views.end());
      continue;
    }
    auto stmt = sql::ParseOne(r.sql);
    Result<CatalogEntry> entry = stmt.ok() ? Status::Internal("unexpected statement") : stmt.status();
    std::unique_ptr<exec::Dataflow> query;
    if (stmt.ok() && ((*stmt)->kind == sql::StatementKind::kCreateSource ||
                      (*stmt)->kind == sql::StatementKind::kCreateTable)) {
      entry = BuildRelationEntry(static_cast<const sql::CreateRelationStatement&>(**stmt), &executor->connectors_);
    } else if (stmt.ok() && (*stmt)->kind == sql::StatementKind::kCreateView) {
      const auto& v = static_cast<const sql::CreateViewStatement&>(**stmt);
      CatalogEntry view;
      view.kind = ObjectKind::kView;
      view.name = v.name;
      view.sql = v.text;
      auto planned = executor->PlanView(*v.query, v.options, &view);
      if (planned.ok()) {
        query = std::move(planned).value();
        entry = std::move(view);
      } else {
        entry = planned.status();
      }
    } else if (stmt.ok() && (*stmt)->kind == sql::StatementKind::kCreateSink) {
      CatalogEntry sink;
      auto planned = executor->PlanSink(static_cast<const sql::CreateSinkStatement&>(**stmt), &sink);
      if (planned.ok()) {
        query = std::move(planned).value();
        entry = std::move(sink);
      } else {
        entry = planned.status();
      }
    }
    if (!entry.ok()) {
      // Kept under its name, not running: reading it (or anything over it) says why, it is
      // listed as failed, and DROP removes it (logged below unless a later record drops it).
      // Every other object comes back.
      CatalogEntry failed;
      failed.kind = r.kind;
      failed.name = r.name;
      failed.sql = r.sql;
      failed.failure = fmt::format("its definition no longer binds: {}", entry.status().message());
      entry = std::move(failed);
    }
    entry->id = r.id;
    CatalogEntry copy = *entry;
    Result<uint64_t> created = executor->catalog_->Create(std::move(entry).value(), /*replay=*/true);
    if (!created.ok()) {
      SLUICE_LOG_ERROR("catalog: cannot restore \"{}\": {}", r.name, created.status().message());
      continue;
    }
    if (!copy.failure.empty()) continue;
    if (copy.kind == ObjectKind::kSource || copy.kind == ObjectKind::kTable) {
      executor->rejects_.Register(copy.name, copy.topic);
    }
    if (query) views.emplace_back(std::move(copy), std::move(query));
    ++restored;
  }
  executor->catalog_->RestoreCounters(records);
  for (ObjectKind kind : {ObjectKind::kSource, ObjectKind::kTable, ObjectKind::kView, ObjectKind::kSink}) {
    for (const CatalogEntry& e : executor->catalog_->List(kind)) {
      if (e.failure.empty()) continue;
      SLUICE_LOG_ERROR("catalog: {} \"{}\" cannot run: {} (DROP it, or restore what it reads, and restart)",
                       sql::ObjectKindName(kind), e.name, e.failure);
    }
  }
  for (auto& [entry, query] : views) {
    Status started = executor->StartView(entry, std::move(query));
    if (!started.ok()) {
      SLUICE_LOG_ERROR("{} {} cannot run: it failed to start: {}", sql::ObjectKindName(entry.kind), entry.name,
                       started.message());
      executor->catalog_->MarkFailed(entry.name, fmt::format("it failed to start: {}", started.message()));
      continue;
    }
    executor->recovering_.push_back(entry.name);
  }
  // External connectors resume filling their sources' topics (without waiting for the
  // external system: it may still be down, and they keep trying).
  for (ObjectKind kind : {ObjectKind::kSource, ObjectKind::kTable}) {
    for (const CatalogEntry& e : executor->catalog_->List(kind)) {
      if (!e.failure.empty()) continue;
      Status started = executor->StartConnector(e, /*partitions=*/0);
      if (!started.ok()) {
        SLUICE_LOG_ERROR("{} {}: its connector failed to start: {}", sql::ObjectKindName(kind), e.name,
                         started.message());
      }
    }
  }
  SLUICE_LOG_INFO("catalog: {} objects restored from {} records", restored, records.size());
  executor->rebalancer_ = std::thread([raw = executor.get()] { raw->RebalanceLoop(); });
  return executor;
}

Status SqlExecutor::StartConnector(const CatalogEntry& entry, int32_t partitions) {
  SLUICE_ASSIGN_OR_RETURN(ConnectorFactory * factory, ConnectorFor(entry.options, &connectors_));
  if (factory == nullptr) return Status::Ok();
  Result<std::shared_ptr<log::Topic>> topic = log_->GetTopic(entry.topic);
  if (!topic.ok()) {
    log::TopicConfig config;
    config.name = entry.topic;
    config.partitions = partitions > 0 ? partitions : default_partitions_;
    if (entry.primary_key.size() == 1) {
      config.key_field = entry.columns[static_cast<size_t>(entry.primary_key[0])].name;
    }
    Status created = log_->CreateTopic(config);
    if (!created.ok() && created.code() != StatusCode::kAlreadyExists) return created;
    topic = log_->GetTopic(entry.topic);
  }
  SLUICE_RETURN_IF_ERROR(topic.status());
  if (partitions > 0 && (*topic)->partition_count() != partitions) {
    return Status::FailedPrecondition(fmt::format(
        "topic '{}' exists with {} partitions, but the external topic has {}: its events are kept partition for "
        "partition (drop the topic, or name the {} otherwise)",
        entry.topic, (*topic)->partition_count(), partitions, sql::ObjectKindName(entry.kind)));
  }
  // The consumer group decides what this node reads; the rebalancer rebuilds the views.
  PartitionOwnership* ownership = factory->ScalesOut(entry) ? OwnershipOf(entry.name).get() : nullptr;
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<Connector> running, factory->Start(entry, *topic, metrics_, ownership));
  running_connectors_[entry.name] = std::move(running);
  return Status::Ok();
}

std::shared_ptr<PartitionOwnership> SqlExecutor::OwnershipOf(const std::string& source) {
  std::shared_ptr<PartitionOwnership>& owned = ownership_[source];
  if (!owned) {
    owned = std::make_shared<PartitionOwnership>([this, source] {
      {
        std::lock_guard<std::mutex> lock(rebalance_mu_);
        rebalanced_.insert(source);
      }
      rebalance_cv_.notify_all();
    });
  }
  return owned;
}

Status SqlExecutor::StartScaledOutSink(const CatalogEntry& entry, std::unique_ptr<exec::Dataflow> dataflow) {
  SLUICE_ASSIGN_OR_RETURN(ConnectorFactory * factory, ConnectorFor(entry.options, &connectors_));
  if (factory == nullptr) return Status::Internal("a sink over a scaled-out source without a connector");
  ScaledOutSinkInput input;
  input.source = dataflow->input(0).relation;
  SLUICE_ASSIGN_OR_RETURN(input.topic, log_->GetTopic(input.source.topic));
  input.ownership = OwnershipOf(input.source.name);
  SLUICE_ASSIGN_OR_RETURN(input.key_column, SinkKeyColumn(entry));
  input.dataflow = std::move(dataflow);
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<Connector> running,
                          factory->StartScaledOutSink(entry, std::move(input), metrics_));
  running_connectors_[entry.name] = std::move(running);
  return Status::Ok();
}

PartitionFilter SqlExecutor::OwnedPartitions() const {
  PartitionFilter filter;
  for (const auto& [name, ownership] : ownership_) {
    std::vector<bool>& owned = filter[name];
    for (int32_t p : ownership->Get().first) {
      if (p < 0) continue;
      if (owned.size() <= static_cast<size_t>(p)) owned.resize(static_cast<size_t>(p) + 1, false);
      owned[static_cast<size_t>(p)] = true;
    }
  }
  return filter;
}

void SqlExecutor::RebalanceLoop() {
  std::unique_lock<std::mutex> lock(rebalance_mu_);
  while (!stopping_) {
    rebalance_cv_.wait(lock, [this] { return stopping_ || !rebalanced_.empty(); });
    if (stopping_) break;
    // A rebalance revokes and then assigns: wait for it to settle, then rebuild once.
    rebalance_cv_.wait_for(lock, std::chrono::milliseconds(300), [this] { return stopping_; });
    if (stopping_) break;
    std::set<std::string> sources = std::exchange(rebalanced_, {});
    lock.unlock();
    // Statements hold mu_ while they stop connectors (which may be notifying): try, never wait.
    std::unique_lock<FairSharedMutex> exclusive(mu_, std::defer_lock);
    while (!exclusive.try_lock()) {
      {
        std::lock_guard<std::mutex> check(rebalance_mu_);
        if (stopping_) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    catalog_generation_.fetch_add(1);  // as LockExclusive: the views are rebuilt
    RebuildViewsOf(sources);
    exclusive.unlock();
    lock.lock();
  }
}

void SqlExecutor::RebuildViewsOf(const std::set<std::string>& sources) {
  // The views and sinks reading the sources, directly or through other views.
  std::set<std::string> affected;
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& [name, view] : views_) {
      if (affected.contains(name)) continue;
      for (const std::string& dep : view->entry().dependencies) {
        if (sources.contains(dep) || affected.contains(dep)) {
          affected.insert(name);
          grew = true;
          break;
        }
      }
    }
  }
  if (affected.empty()) return;
  // Downstream first, as StopViewsLocked does; started again upstream first.
  std::vector<sql::CatalogEntry> stopped;
  while (!affected.empty()) {
    for (auto it = affected.begin(); it != affected.end();) {
      bool needed = false;
      for (const std::string& other : affected) {
        const auto& deps = views_.at(other)->entry().dependencies;
        if (other != *it && std::find(deps.begin(), deps.end(), *it) != deps.end()) needed = true;
      }
      if (needed) {
        ++it;
        continue;
      }
      auto view = views_.find(*it);
      stopped.push_back(view->second->entry());
      view->second->EndSubscriptions(Status::Unavailable(fmt::format(
          "materialized view \"{}\" is being rebuilt: the partitions this node owns changed (subscribe again)", *it)));
      views_.erase(view);
      it = affected.erase(it);
    }
  }
  for (auto it = stopped.rbegin(); it != stopped.rend(); ++it) {
    SLUICE_LOG_INFO("{} {}: rebuilding over the partitions this node now owns", sql::ObjectKindName(it->kind), it->name);
    Result<std::unique_ptr<exec::Dataflow>> dataflow = Replan(*it);
    Status started = dataflow.ok() ? StartView(*it, std::move(dataflow).value()) : dataflow.status();
    if (!started.ok()) {
      SLUICE_LOG_ERROR("{} {} cannot run after a rebalance: {}", sql::ObjectKindName(it->kind), it->name,
                       started.message());
      catalog_->MarkFailed(it->name, fmt::format("it failed to restart after a rebalance: {}", started.message()));
    }
  }
}

Result<std::unique_ptr<exec::Dataflow>> SqlExecutor::PlanView(const sql::SelectStmt& query,
                                                              const sql::WithOptions& options, CatalogEntry* entry) {
  exec::DataflowOptions flow;
  for (const auto& [key, value] : options) {
    if (key == "allowed_lateness") {
      SLUICE_ASSIGN_OR_RETURN(flow.allowed_lateness_us, ParseDurationOption(key, value));
    } else if (key == "state_ttl") {
      SLUICE_ASSIGN_OR_RETURN(flow.state_ttl_us, ParseDurationOption(key, value));
    } else {
      return Status::InvalidArgument(
          fmt::format("unknown materialized view option '{}' (known: allowed_lateness, state_ttl)", key));
    }
  }
  sql::QueryBinder binder(catalog_.get());
  SLUICE_ASSIGN_OR_RETURN(sql::BoundQuery bound, binder.Bind(query));
  flow.emit_on_window_close = bound.emit_on_window_close;
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<exec::Dataflow> built, exec::Dataflow::Build(*bound.plan, flow));
  if (built->has_order_or_limit()) return NotSupported("ORDER BY or LIMIT in a materialized view");
  if (built->input_count() == 0) return Status::InvalidArgument("a materialized view needs a FROM clause");
  if (flow.state_ttl_us > 0) {
    // State age is measured in event time, by the watermark: without one, nothing would expire.
    bool watermarked = false;
    for (size_t i = 0; i < built->input_count(); ++i) {
      const CatalogEntry& r = built->input(i).relation;
      watermarked = watermarked || r.kind == ObjectKind::kView || r.watermark_column >= 0;
    }
    if (!watermarked) {
      return Status::InvalidArgument(
          "option 'state_ttl' needs a watermark: the view must read a source declared with WATERMARK FOR (state "
          "age is measured in event time)");
    }
  }
  entry->columns = bound.plan->schema;
  entry->dependencies = bound.dependencies;
  entry->topic = built->input(0).relation.topic;
  entry->append_only = built->append_only();
  return built;
}

Result<std::unique_ptr<exec::Dataflow>> SqlExecutor::PlanSink(const sql::CreateSinkStatement& s, CatalogEntry* entry) {
  entry->kind = ObjectKind::kSink;
  entry->name = s.name;
  entry->sql = s.text;
  std::string topic = s.into.empty() ? s.name : s.into;
  SLUICE_ASSIGN_OR_RETURN(ConnectorFactory * connector, ConnectorFor(s.options, &connectors_));
  std::string key_column;
  for (const auto& [key, value] : s.options) {
    if (key == "format") {
      if (Lower(value) != "json") return NotSupported(fmt::format("sink format '{}' (json is)", value));
    } else if (key == "key") {
      key_column = value;
    } else if (key == "connector" || connector != nullptr) {
      // An external connector checks its options (its `topic` is the external one).
    } else if (key == "topic") {
      if (!s.into.empty() && value != s.into) {
        return Status::InvalidArgument(fmt::format("INTO {} and WITH (topic = '{}') disagree", s.into, value));
      }
      topic = value;
    } else {
      return Status::InvalidArgument(fmt::format("unknown sink option '{}' (known: connector, format, key, topic)", key));
    }
  }
  SLUICE_RETURN_IF_ERROR(log::ValidateTopicName(topic).WithContext("sink topic"));
  if (log::IsInternalTopicName(topic)) {
    return Status::InvalidArgument(fmt::format("topic names starting with '.' are reserved: '{}'", topic));
  }
  entry->topic = topic;
  // CREATE SINK s FROM relation is CREATE SINK s AS SELECT * FROM relation.
  sql::StatementPtr from_select;
  const sql::SelectStmt* query = s.query.get();
  if (query == nullptr) {
    SLUICE_ASSIGN_OR_RETURN(from_select, sql::ParseOne(fmt::format("SELECT * FROM {}", QuoteIdentifier(s.from))));
    query = static_cast<const sql::SelectStatement&>(*from_select).query.get();
  }
  sql::QueryBinder binder(catalog_.get());
  SLUICE_ASSIGN_OR_RETURN(sql::BoundQuery bound, binder.Bind(*query));
  exec::DataflowOptions flow;
  flow.emit_on_window_close = bound.emit_on_window_close;
  flow.keep_rows = false;
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<exec::Dataflow> built, exec::Dataflow::Build(*bound.plan, flow));
  if (built->has_order_or_limit()) return NotSupported("ORDER BY or LIMIT in a sink");
  if (built->input_count() == 0) return Status::InvalidArgument("a sink needs a FROM clause");
  for (size_t i = 0; i < built->input_count(); ++i) {
    if (const std::optional<std::string> under = ScaledOutSourceUnder(built->input(i).relation);
        under && !IsScaledOut(built->input(i).relation)) {
      // Views over a scaled-out source are rebuilt at each rebalance: a sink over one would
      // write its rows again each time.
      return NotSupported(fmt::format("a sink over view \"{}\", which reads the scaled-out source \"{}\" (sink "
                                      "the source itself, or aggregate after a repartition; docs/scale-out.md)",
                                      built->input(i).relation.name, *under));
    }
    if (IsScaledOut(built->input(i).relation)) {
      // Delivered partition by partition of the source, straight to Kafka (docs/scale-out.md):
      // only a stateless query of that one source has rows that depend on one partition.
      const std::string& source = built->input(i).relation.name;
      if (built->input_count() != 1 || !built->StateStats().empty() || !built->append_only() ||
          built->input(i).relation.dedup_column >= 0) {
        return NotSupported(fmt::format(
            "a sink over the scaled-out source \"{}\" that joins, aggregates, windows or deduplicates (only "
            "filters and projections of the source: its rows must depend on one partition; docs/scale-out.md)",
            source));
      }
      if (connector == nullptr) {
        return NotSupported(fmt::format(
            "a sink over the scaled-out source \"{}\" into the embedded log (it must deliver to Kafka: "
            "connector = 'kafka'; docs/scale-out.md)",
            source));
      }
    }
    if (built->input(i).relation.kind != ObjectKind::kView && built->input(i).relation.topic == topic) {
      return Status::InvalidArgument(
          fmt::format("sink \"{}\" would write into topic '{}', which it reads (a loop)", s.name, topic));
    }
  }
  entry->columns = bound.plan->schema;
  entry->dependencies = bound.dependencies;
  entry->append_only = built->append_only();
  entry->options = s.options;
  if (!key_column.empty()) SLUICE_RETURN_IF_ERROR(SinkKeyColumn(*entry).status());
  if (connector != nullptr) SLUICE_RETURN_IF_ERROR(connector->CheckOptions(*entry));
  return built;
}

std::optional<std::string> SqlExecutor::ScaledOutSourceUnder(const CatalogEntry& relation) const {
  if (IsScaledOut(relation)) return relation.name;
  for (const std::string& dep : relation.dependencies) {
    Result<CatalogEntry> upstream = catalog_->Find(dep);
    if (!upstream.ok()) continue;
    if (std::optional<std::string> found = ScaledOutSourceUnder(*upstream)) return found;
  }
  return std::nullopt;
}

bool SqlExecutor::ViewsCaughtUp() {
  if (recovered_.load(std::memory_order_acquire)) return true;
  std::unique_lock<FairSharedMutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) return false;  // a statement is running; ask again
  std::erase_if(recovering_, [&](const std::string& name) {
    auto it = views_.find(name);
    return it == views_.end() || it->second->CaughtUp();  // dropped, or caught up
  });
  if (recovering_.empty()) recovered_.store(true, std::memory_order_release);
  return recovering_.empty();
}

Status SqlExecutor::StartView(const CatalogEntry& entry, std::unique_ptr<exec::Dataflow> dataflow) {
  std::optional<SinkTarget> sink;
  if (entry.kind == ObjectKind::kSink) {
    if (dataflow->input_count() == 1 && IsScaledOut(dataflow->input(0).relation)) {
      return StartScaledOutSink(entry, std::move(dataflow));
    }
    // The topic is created when missing; its partition 0 receives the changes in order.
    SinkTarget target;
    SLUICE_ASSIGN_OR_RETURN(target.topic, log::GetOrCreateTopic(log_, entry.topic, 1));
    for (const sql::ColumnSchema& c : entry.columns) target.columns.push_back(c.name);
    SLUICE_ASSIGN_OR_RETURN(target.key_column, SinkKeyColumn(entry));
    sink = std::move(target);
  }
  std::vector<MaterializedView*> upstreams;
  for (size_t i = 0; i < dataflow->input_count(); ++i) {
    MaterializedView* upstream = nullptr;
    if (dataflow->input(i).relation.kind == ObjectKind::kView) {
      auto it = views_.find(dataflow->input(i).relation.name);
      if (it != views_.end()) upstream = it->second.get();
    }
    upstreams.push_back(upstream);
  }
  std::optional<CheckpointOptions> checkpoints;
  if (!checkpoint_dir_.empty()) {
    CheckpointOptions c;
    c.fs = fs_;
    c.dir = JoinPath(checkpoint_dir_, std::to_string(entry.id));
    c.interval_ms = checkpoint_interval_ms_;
    c.fingerprint = XXH3_64bits(entry.sql.data(), entry.sql.size()) ^ entry.id;
    checkpoints = std::move(c);
  }
  // Over scaled-out sources the view reads the partitions owned now; a checkpoint taken over
  // another set is not restored (its fingerprint differs).
  const PartitionFilter owned = OwnedPartitions();
  if (checkpoints) {
    for (const std::string& dep : entry.dependencies) {
      auto f = owned.find(dep);
      if (f == owned.end()) continue;
      std::string set = dep;
      for (bool b : f->second) set += b ? '1' : '0';
      checkpoints->fingerprint ^= XXH3_64bits(set.data(), set.size());
    }
  }
  Result<std::unique_ptr<MaterializedView>> view = MaterializedView::Start(
      entry, std::move(dataflow), upstreams, log_, metrics_, sink, &rejects_, checkpoints, &owned);
  if (!view.ok() && checkpoints && view.status().code() == StatusCode::kCorruption) {
    // The checkpoint verified but does not fit the plan: drop it and rebuild from the log.
    SLUICE_LOG_WARN("{} {}: cannot restore its checkpoint ({}); rebuilding from the log",
                    sql::ObjectKindName(entry.kind), entry.name, view.status().message());
    SLUICE_RETURN_IF_ERROR(fs_->RemoveAll(checkpoints->dir));
    SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<exec::Dataflow> fresh, Replan(entry));
    view = MaterializedView::Start(entry, std::move(fresh), upstreams, log_, metrics_, sink, &rejects_, checkpoints,
                                   &owned);
  }
  SLUICE_RETURN_IF_ERROR(view.status());
  views_[entry.name] = std::move(view).value();
  if (entry.kind == ObjectKind::kSink) {
    // An external connector delivers what the sink commits into its topic.
    Status started = StartConnector(entry, 0);
    if (!started.ok()) {
      views_.erase(entry.name);
      return started;
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<exec::Dataflow>> SqlExecutor::Replan(const CatalogEntry& entry) {
  SLUICE_ASSIGN_OR_RETURN(sql::StatementPtr stmt, sql::ParseOne(entry.sql));
  CatalogEntry scratch;
  if (stmt->kind == sql::StatementKind::kCreateSink) {
    return PlanSink(static_cast<const sql::CreateSinkStatement&>(*stmt), &scratch);
  }
  if (stmt->kind != sql::StatementKind::kCreateView) return Status::Internal("not a view or a sink");
  const auto& v = static_cast<const sql::CreateViewStatement&>(*stmt);
  return PlanView(*v.query, v.options, &scratch);
}

Result<SqlExecutor::VerifyReport> SqlExecutor::Verify(std::string_view name) {
  std::shared_lock<FairSharedMutex> lock(mu_);
  SLUICE_ASSIGN_OR_RETURN(CatalogEntry entry, catalog_->Find(name));
  if (entry.kind != ObjectKind::kView) {
    return Status::InvalidArgument(fmt::format("\"{}\" is a {}, not a materialized view", name, sql::ObjectKindName(entry.kind)));
  }
  if (!entry.failure.empty()) return NotAvailable(entry);
  auto running = views_.find(entry.name);
  if (running == views_.end()) return Status::Unavailable(fmt::format("materialized view \"{}\" is not running", name));
  SLUICE_ASSIGN_OR_RETURN(sql::StatementPtr stmt, sql::ParseOne(entry.sql));
  const auto& create = static_cast<const sql::CreateViewStatement&>(*stmt);
  if (create.query->emit_on_window_close) {
    return NotSupported("verifying an EMIT ON WINDOW CLOSE view (its rows depend on when windows closed)");
  }
  sql::QueryBinder binder(catalog_.get());
  SLUICE_ASSIGN_OR_RETURN(sql::BoundQuery bound, binder.Bind(*create.query));
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<exec::Dataflow> batch, exec::Dataflow::Build(*bound.plan, exec::DataflowOptions{}));
  for (size_t i = 0; i < batch->input_count(); ++i) {
    if (batch->input(i).relation.kind == ObjectKind::kView) return NotSupported("verifying a view over a view");
  }
  SLUICE_ASSIGN_OR_RETURN(MaterializedView::Cut cut, running->second->SnapshotWithOffsets());
  // Tables first (flushed), then sources, each up to the view's offsets.
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < batch->input_count(); ++i) {
      const bool table = batch->input(i).relation.kind == ObjectKind::kTable;
      if (table != (pass == 0)) continue;
      int64_t skipped = 0;
      SLUICE_RETURN_IF_ERROR(ScanLog(log_, batch.get(), i, &skipped, i < cut.offsets.size() ? &cut.offsets[i] : nullptr));
      if (table) SLUICE_RETURN_IF_ERROR(batch->FlushInput(i));
    }
  }
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::vector<Value>> batch_rows, batch->Finish());
  VerifyReport report;
  for (const sql::ColumnSchema& c : bound.plan->schema) report.columns.push_back({c.name, c.type});
  report.view_rows = static_cast<int64_t>(cut.rows.size());
  report.batch_rows = static_cast<int64_t>(batch_rows.size());
  // Multiset difference by the rows' text (values of one column share a type).
  auto key = [](const std::vector<Value>& row) {
    std::string k;
    for (const Value& v : row) k += (v.is_null() ? std::string("\x01N") : "\x02" + v.ToString()) + '\x00';
    return k;
  };
  std::map<std::string, std::pair<int64_t, const std::vector<Value>*>> counts;
  for (const auto& row : cut.rows) {
    auto& c = counts[key(row)];
    ++c.first;
    c.second = &row;
  }
  for (const auto& row : batch_rows) {
    auto& c = counts[key(row)];
    --c.first;
    c.second = &row;
  }
  for (const auto& [k, c] : counts) {
    for (int64_t n = 0; n < c.first; ++n) report.only_in_view.push_back(*c.second);
    for (int64_t n = 0; n < -c.first; ++n) report.only_in_batch.push_back(*c.second);
  }
  return report;
}

namespace {

// Pushes rows of a view into input `i` of an ad-hoc query. `few`: a point lookup's rows, which
// get a chunk of their size (a full one is zero-filled).
Status PushRows(exec::Dataflow* dataflow, size_t i, const std::vector<std::vector<Value>>& rows, bool few) {
  exec::DataChunk chunk = few ? exec::DataChunk(dataflow->input(i).types, std::max<size_t>(rows.size(), 1))
                              : exec::DataChunk(dataflow->input(i).types);
  for (const auto& row : rows) {
    const size_t r = chunk.size();
    for (size_t c = 0; c < row.size(); ++c) exec::SetValue(&chunk.column(c), r, row[c], &chunk.arena());
    chunk.set_size(r + 1);
    if (chunk.size() == chunk.capacity()) {
      SLUICE_RETURN_IF_ERROR(dataflow->Push(i, chunk));
      chunk.Reset();
    }
  }
  if (chunk.size() > 0) SLUICE_RETURN_IF_ERROR(dataflow->Push(i, chunk));
  return Status::Ok();
}

exec::DataflowOptions AdHocOptions() {
  exec::DataflowOptions flow;
  flow.now_micros = Clock::Real()->Now().value() * 1000;
  return flow;
}

Result<StatementResult> FinishSelect(const sql::BoundQuery& bound, exec::Dataflow* query) {
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::vector<Value>> rows, query->Finish());
  std::vector<ResultColumn> columns;
  for (const sql::ColumnSchema& c : bound.plan->schema) columns.push_back({c.name, c.type});
  return Table(std::move(columns), std::move(rows));
}

}  // namespace

Status SqlExecutor::FeedInputs(exec::Dataflow* dataflow, const std::optional<PointLookup>& lookup) {
  // Tables first (a join reads them as of the end of their log), then views and sources.
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < dataflow->input_count(); ++i) {
      const CatalogEntry& input = dataflow->input(i).relation;
      if ((input.kind == ObjectKind::kTable) != (pass == 0)) continue;
      if (input.kind == ObjectKind::kSource || input.kind == ObjectKind::kTable) {
        int64_t skipped = 0;
        SLUICE_RETURN_IF_ERROR(ScanLog(log_, dataflow, i, &skipped));
        if (skipped > 0) {
          SLUICE_LOG_DEBUG("query over {} skipped {} events that do not match its schema", input.name, skipped);
        }
        if (input.kind == ObjectKind::kTable) SLUICE_RETURN_IF_ERROR(dataflow->FlushInput(i));
        continue;
      }
      if (input.kind != ObjectKind::kView) return Status::InvalidArgument(fmt::format("cannot read from \"{}\"", input.name));
      auto it = views_.find(input.name);
      if (it == views_.end()) return Status::Unavailable(fmt::format("materialized view \"{}\" is not running", input.name));
      std::optional<std::vector<std::vector<Value>>> found;
      if (lookup && dataflow->input_count() == 1) {
        SLUICE_ASSIGN_OR_RETURN(found, it->second->Lookup(lookup->column, lookup->value));
      }
      if (found) {
        SLUICE_RETURN_IF_ERROR(PushRows(dataflow, i, *found, /*few=*/true));
      } else {
        SLUICE_ASSIGN_OR_RETURN(std::vector<std::vector<Value>> rows, it->second->Snapshot());
        SLUICE_RETURN_IF_ERROR(PushRows(dataflow, i, rows, /*few=*/false));
      }
    }
  }
  return Status::Ok();
}

void SqlExecutor::StopViewsLocked() {
  {
    std::lock_guard<std::mutex> lock(rebalance_mu_);
    stopping_ = true;
  }
  rebalance_cv_.notify_all();
  if (rebalancer_.joinable()) rebalancer_.join();
  running_connectors_.clear();  // nothing more enters the sources' topics
  // Downstream views first: a view leaves its upstreams when it stops.
  while (!views_.empty()) {
    bool removed = false;
    for (auto it = views_.begin(); it != views_.end();) {
      bool needed = false;
      for (const auto& [name, other] : views_) {
        const auto& deps = other->entry().dependencies;
        if (name != it->first && std::find(deps.begin(), deps.end(), it->first) != deps.end()) needed = true;
      }
      if (needed) {
        ++it;
      } else {
        it = views_.erase(it);
        removed = true;
      }
    }
    if (!removed) views_.clear();  // a cycle cannot exist; do not spin if it somehow did
  }
}

namespace {

// `column = constant` (either side) among the AND-ed terms of a predicate over a view's scan.
std::optional<SqlExecutor::PointLookup> EqualityTerm(const sql::BoundExpr& e) {
  if (e.kind != sql::BoundExprKind::kCall) return std::nullopt;
  if (e.fn == sql::ScalarFn::kAnd) {
    for (const sql::BoundExprPtr& arg : e.args) {
      if (auto term = EqualityTerm(*arg)) return term;
    }
    return std::nullopt;
  }
  if (e.fn != sql::ScalarFn::kEq || e.args.size() != 2) return std::nullopt;
  for (int side = 0; side < 2; ++side) {
    const sql::BoundExpr& column = *e.args[side];
    const sql::BoundExpr& other = *e.args[1 - side];
    if (column.kind != sql::BoundExprKind::kColumn || column.column < 0) continue;
    // A literal the binder gave the column's type ('42' or 42 against a BIGINT) is a cast of a
    // constant: fold it here as exec would.
    std::optional<Value> constant;
    if (other.kind == sql::BoundExprKind::kConstant) {
      constant = other.constant;
    } else if (other.kind == sql::BoundExprKind::kCast && other.args.size() == 1 &&
               other.args[0]->kind == sql::BoundExprKind::kConstant) {
      Result<Value> cast = exec::CastValue(other.args[0]->constant, other.type);
      if (cast.ok()) constant = std::move(cast).value();
    }
    if (constant && !constant->is_null() && constant->type() == column.type) {
      return SqlExecutor::PointLookup{static_cast<size_t>(column.column), std::move(*constant)};
    }
  }
  return std::nullopt;
}

// A pull query that keeps only one key's rows of a view: Filter(column = constant) right
// above the view's Scan, under any operators that work on what the filter passes.
std::optional<SqlExecutor::PointLookup> FindPointLookup(const sql::LogicalOperator& op) {
  if (op.kind == sql::LogicalKind::kFilter && op.children.size() == 1 &&
      op.children[0]->kind == sql::LogicalKind::kScan && op.children[0]->relation.kind == ObjectKind::kView &&
      op.predicate) {
    return EqualityTerm(*op.predicate);
  }
  if (op.children.size() != 1) return std::nullopt;
  return FindPointLookup(*op.children[0]);
}

}  // namespace

namespace {

// `SELECT <columns of the view> FROM view WHERE column = constant` with a type whose values are
// equal exactly when they compare equal: the lookup's rows are the answer once projected, with
// no dataflow to build. The output's input column per output column, or nullopt for any other
// query.
std::optional<std::vector<size_t>> DirectColumns(const sql::LogicalOperator& plan, const SqlExecutor::PointLookup& lookup) {
  switch (lookup.value.type().id) {
    case sql::TypeId::kBoolean:
    case sql::TypeId::kInt:
    case sql::TypeId::kBigint:
    case sql::TypeId::kVarchar:
    case sql::TypeId::kTimestamp:
    case sql::TypeId::kTimestamptz:
    case sql::TypeId::kDate:
      break;
    default:
      return std::nullopt;  // -0.0 = 0.0, 1.0 = 1.00: the dataflow's comparison decides
  }
  const sql::LogicalOperator* op = &plan;
  std::vector<size_t> columns;
  if (op->kind == sql::LogicalKind::kProject) {
    for (const sql::BoundExprPtr& e : op->exprs) {
      if (e->kind != sql::BoundExprKind::kColumn || e->column < 0) return std::nullopt;
      columns.push_back(static_cast<size_t>(e->column));
    }
    if (op->children.size() != 1) return std::nullopt;
    op = op->children[0].get();
  } else {
    for (size_t c = 0; c < op->schema.size(); ++c) columns.push_back(c);
  }
  if (op->kind != sql::LogicalKind::kFilter || op->children.size() != 1 ||
      op->children[0]->kind != sql::LogicalKind::kScan) {
    return std::nullopt;
  }
  const sql::BoundExpr& predicate = *op->predicate;
  if (predicate.kind != sql::BoundExprKind::kCall || predicate.fn != sql::ScalarFn::kEq) return std::nullopt;
  return columns;
}

}  // namespace

Result<StatementResult> SqlExecutor::RunSelect(const sql::BoundQuery& bound) {
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<exec::Dataflow> query, exec::Dataflow::Build(*bound.plan, AdHocOptions()));
  SLUICE_RETURN_IF_ERROR(FeedInputs(query.get(), FindPointLookup(*bound.plan)));
  return FinishSelect(bound, query.get());
}

namespace {

// The rows of a point lookup that `SELECT <outputs> FROM view WHERE column = value` returns.
std::vector<std::vector<Value>> ProjectLookupRows(std::vector<std::vector<Value>>& found, size_t column,
                                                  const Value& value, const std::vector<size_t>& outputs) {
  std::vector<std::vector<Value>> rows;
  for (std::vector<Value>& row : found) {
    if (row[column] != value) continue;  // the index may return a few more
    std::vector<Value>& out = rows.emplace_back();
    out.reserve(outputs.size());
    for (size_t c : outputs) out.push_back(row[c]);
  }
  return rows;
}

// The answer of a point query through `plan` for key `value`, from the lookup's rows.
StatementResult AnswerFromPlan(const PointQueryPlan& plan, std::vector<std::vector<Value>>& found,
                               const Value& value) {
  std::vector<ResultColumn> columns;
  columns.reserve(plan.output_columns.size());
  for (const auto& [name, type] : plan.output_columns) columns.push_back({name, type});
  return Table(std::move(columns), ProjectLookupRows(found, plan.column, value, plan.outputs));
}

}  // namespace

Result<std::optional<StatementResult>> SqlExecutor::TryPointQuery(std::string_view text) {
  const std::optional<PointQueryShape> shape = PointQueryShape::Of(text);
  std::shared_lock<FairSharedMutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) return std::optional<StatementResult>();  // DDL is running
  const uint64_t generation = catalog_generation_.load();
  if (shape) {
    if (std::shared_ptr<const PointQueryPlan> plan = point_plans_.Find(shape->key, generation)) {
      auto view = views_.find(plan->view);
      const std::optional<Value> value = shape->LiteralAs(plan->column_type);
      if (view != views_.end() && value) {
        Result<std::optional<std::vector<std::vector<Value>>>> found =
            view->second->Lookup(plan->column, *value, /*wait=*/false);
        if (found.ok() && *found) return std::optional<StatementResult>(AnswerFromPlan(*plan, **found, *value));
        // A view in a round, or another failure: the full path below decides, as without a plan.
      }
    }
  }
  Result<sql::StatementPtr> stmt = sql::ParseOne(text);
  if (!stmt.ok() || (*stmt)->kind != sql::StatementKind::kSelect) return std::optional<StatementResult>();
  sql::QueryBinder binder(catalog_.get());
  Result<sql::BoundQuery> bound = binder.Bind(*static_cast<const sql::SelectStatement&>(**stmt).query);
  if (!bound.ok() || bound->emit_on_window_close) return std::optional<StatementResult>();
  const std::optional<PointLookup> lookup = FindPointLookup(*bound->plan);
  if (!lookup) return std::optional<StatementResult>();
  // FindPointLookup found a filter right above one view's scan, under one-input operators.
  const sql::LogicalOperator* scan = bound->plan.get();
  while (!scan->children.empty()) scan = scan->children[0].get();
  auto view = views_.find(scan->relation.name);
  if (view == views_.end()) return std::optional<StatementResult>();
  Result<std::optional<std::vector<std::vector<Value>>>> found =
      view->second->Lookup(lookup->column, lookup->value, /*wait=*/false);
  if (!found.ok()) {
    if (found.status().code() == StatusCode::kResourceExhausted) return std::optional<StatementResult>();  // in a round
    return found.status();
  }
  if (!*found) return std::optional<StatementResult>();  // the column has no index
  if (std::optional<std::vector<size_t>> direct = DirectColumns(*bound->plan, *lookup)) {
    PointQueryPlan plan;
    plan.catalog_generation = generation;
    plan.view = scan->relation.name;
    plan.column = lookup->column;
    plan.column_type = lookup->value.type();
    plan.outputs = std::move(*direct);
    for (const sql::ColumnSchema& c : bound->plan->schema) plan.output_columns.emplace_back(c.name, c.type);
    StatementResult result = AnswerFromPlan(plan, **found, lookup->value);
    // The next query of this shape skips parsing and binding, if the shape's literal is what
    // binding compared with.
    if (shape && shape->LiteralAs(lookup->value.type()) == std::optional<Value>(lookup->value)) {
      point_plans_.Insert(shape->key, std::move(plan));
    }
    return std::optional<StatementResult>(std::move(result));
  }
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<exec::Dataflow> query, exec::Dataflow::Build(*bound->plan, AdHocOptions()));
  SLUICE_RETURN_IF_ERROR(PushRows(query.get(), 0, **found, /*few=*/true));
  SLUICE_ASSIGN_OR_RETURN(StatementResult result, FinishSelect(*bound, query.get()));
  return std::optional<StatementResult>(std::move(result));
}

namespace {

// Statements that only read the catalog and the views run under a shared lock.
bool ReadsOnly(const std::vector<sql::StatementPtr>& statements) {
  for (const sql::StatementPtr& stmt : statements) {
    switch (stmt->kind) {
      case sql::StatementKind::kSelect:
      case sql::StatementKind::kShow:
      case sql::StatementKind::kDescribe:
      case sql::StatementKind::kExplain:
        continue;
      default:
        return false;
    }
  }
  return true;
}

}  // namespace

Result<std::vector<StatementResult>> SqlExecutor::Execute(std::string_view text) {
  SLUICE_ASSIGN_OR_RETURN(std::vector<sql::StatementPtr> statements, sql::Parse(text));
  std::shared_lock<FairSharedMutex> shared(mu_, std::defer_lock);
  std::unique_lock<FairSharedMutex> exclusive(mu_, std::defer_lock);
  if (ReadsOnly(statements)) {
    shared.lock();
  } else {
    exclusive = LockExclusive();
  }
  std::vector<StatementResult> results;
  for (const sql::StatementPtr& stmt : statements) {
    switch (stmt->kind) {
      case sql::StatementKind::kCreateSource:
      case sql::StatementKind::kCreateTable: {
        const auto& s = static_cast<const sql::CreateRelationStatement&>(*stmt);
        std::string tag = s.kind == sql::StatementKind::kCreateTable ? "CREATE TABLE" : "CREATE SOURCE";
        if (s.if_not_exists && catalog_->Exists(s.name)) {
          results.push_back(Command(tag));
          continue;
        }
        SLUICE_ASSIGN_OR_RETURN(CatalogEntry entry, BuildRelationEntry(s, &connectors_));
        SLUICE_RETURN_IF_ERROR(catalog_->CheckNameFree(entry.name));  // before creating its topic
        SLUICE_ASSIGN_OR_RETURN(ConnectorFactory * connector, ConnectorFor(entry.options, &connectors_));
        if (connector != nullptr) {
          // Reaches the external system before anything is created: a wrong address or topic
          // is an error now, not a connector failing in the background.
          SLUICE_ASSIGN_OR_RETURN(int32_t partitions, connector->Prepare(entry));
          const std::string name = entry.name;
          const ObjectKind kind = entry.kind;
          rejects_.Register(entry.name, entry.topic);
          SLUICE_ASSIGN_OR_RETURN(entry.id, catalog_->Create(entry));
          Status started = StartConnector(entry, partitions);
          if (!started.ok()) {
            (void)catalog_->Drop(name, kind);
            rejects_.Forget(name);
            return started;
          }
          results.push_back(Command(tag));
          break;
        }
        // The topic is created when missing (SPEC §3); an existing topic is read as it is.
        if (!log_->GetTopic(entry.topic).ok()) {
          log::TopicConfig topic;
          topic.name = entry.topic;
          topic.partitions = default_partitions_;
          if (entry.primary_key.size() == 1) {
            topic.key_field = entry.columns[static_cast<size_t>(entry.primary_key[0])].name;
          }
          Status created = log_->CreateTopic(topic);
          if (!created.ok() && created.code() != StatusCode::kAlreadyExists) return created;
        }
        rejects_.Register(entry.name, entry.topic);
        SLUICE_RETURN_IF_ERROR(catalog_->Create(std::move(entry)).status());
        results.push_back(Command(tag));
        break;
      }
      case sql::StatementKind::kCreateView: {
        const auto& v = static_cast<const sql::CreateViewStatement&>(*stmt);
        if (v.if_not_exists && catalog_->Exists(v.name)) {
          results.push_back(Command("CREATE MATERIALIZED VIEW"));
          continue;
        }
        SLUICE_RETURN_IF_ERROR(catalog_->CheckNameFree(v.name));  // before planning the query
        CatalogEntry entry;
        entry.kind = ObjectKind::kView;
        entry.name = v.name;
        entry.sql = v.text;
        SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<exec::Dataflow> query, PlanView(*v.query, v.options, &entry));
        SLUICE_ASSIGN_OR_RETURN(entry.id, catalog_->Create(entry));
        SLUICE_RETURN_IF_ERROR(StartView(entry, std::move(query)));
        results.push_back(Command("CREATE MATERIALIZED VIEW"));
        break;
      }
      case sql::StatementKind::kCreateSink: {
        const auto& k = static_cast<const sql::CreateSinkStatement&>(*stmt);
        if (k.if_not_exists && catalog_->Exists(k.name)) {
          results.push_back(Command("CREATE SINK"));
          continue;
        }
        SLUICE_RETURN_IF_ERROR(catalog_->CheckNameFree(k.name));
        CatalogEntry entry;
        SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<exec::Dataflow> query, PlanSink(k, &entry));
        SLUICE_ASSIGN_OR_RETURN(ConnectorFactory * connector, ConnectorFor(entry.options, &connectors_));
        if (connector != nullptr) SLUICE_RETURN_IF_ERROR(connector->Prepare(entry).status());  // reachable, topic exists
        SLUICE_ASSIGN_OR_RETURN(entry.id, catalog_->Create(entry));
        Status started = StartView(entry, std::move(query));
        if (!started.ok()) {
          (void)catalog_->Drop(entry.name, ObjectKind::kSink);
          return started;
        }
        results.push_back(Command("CREATE SINK"));
        break;
      }
      case sql::StatementKind::kDrop: {
        const auto& s = static_cast<const sql::DropStatement&>(*stmt);
        if (s.cascade) return NotSupported("DROP ... CASCADE");
        Result<CatalogEntry> existing = catalog_->Find(s.name);
        Status dropped = catalog_->Drop(s.name, s.object);
        if (dropped.code() == StatusCode::kNotFound && s.if_exists) dropped = Status::Ok();
        SLUICE_RETURN_IF_ERROR(dropped);
        if (s.object == ObjectKind::kView || s.object == ObjectKind::kSink) {
          auto running = views_.find(s.name);
          if (running != views_.end()) {
            running->second->EndSubscriptions(
                Status::NotFound(fmt::format("materialized view \"{}\" was dropped", s.name)));
            running->second->StopForDrop();
            views_.erase(running);
          }
          // Its checkpoints go too (also those of a view that was not running).
          if (!checkpoint_dir_.empty() && existing.ok()) {
            (void)fs_->RemoveAll(JoinPath(checkpoint_dir_, std::to_string(existing->id)));
          }
        }
        running_connectors_.erase(s.name);  // stops it; what it wrote stays where it is
        ownership_.erase(s.name);
        if (s.object == ObjectKind::kSource || s.object == ObjectKind::kTable) rejects_.Forget(s.name);
        results.push_back(Command(fmt::format("DROP {}", KindTag(s.object))));
        break;
      }
      case sql::StatementKind::kShow: {
        const auto& s = static_cast<const sql::ShowStatement&>(*stmt);
        std::vector<std::vector<Value>> rows;
        if (s.what == sql::ShowKind::kTopics) {
          for (const log::TopicInfo& t : log_->ListTopics()) {
            rows.push_back({Value::Varchar(t.config.name), Value::Int(static_cast<int32_t>(t.partitions.size()))});
          }
          results.push_back(Table({{"name", DataType::Varchar()}, {"partitions", DataType::Int()}}, std::move(rows)));
          break;
        }
        ObjectKind kind = s.what == sql::ShowKind::kSources  ? ObjectKind::kSource
                          : s.what == sql::ShowKind::kTables ? ObjectKind::kTable
                          : s.what == sql::ShowKind::kViews  ? ObjectKind::kView
                                                             : ObjectKind::kSink;
        // Views and sinks also say whether they run: "running", or "failed" with the error
        // (a definition that no longer binds after a restart, a start or a round that failed).
        const bool runs = kind == ObjectKind::kView || kind == ObjectKind::kSink;
        for (const CatalogEntry& e : catalog_->List(kind)) {
          std::vector<Value> row = {Value::Varchar(e.name), Value::Varchar(e.topic), Value::Varchar(e.sql)};
          if (runs) {
            std::string error = e.failure;
            if (error.empty()) {
              auto running = views_.find(e.name);
              if (running == views_.end()) {
                // A sink over a scaled-out source runs as its connector's tasks, not as a view
                // (their errors are in sluice_kafka_sink_errors_total and the log).
                if (!(kind == ObjectKind::kSink && running_connectors_.contains(e.name))) error = "it is not running";
              } else if (Status failed = running->second->FailureIfIdle(); !failed.ok()) {
                error = failed.message();
              }
            }
            row.push_back(Value::Varchar(error.empty() ? "running" : "failed"));
            row.push_back(error.empty() ? Value::Null(DataType::Varchar()) : Value::Varchar(error));
          }
          rows.push_back(std::move(row));
        }
        std::vector<ResultColumn> columns = {
            {"name", DataType::Varchar()}, {"topic", DataType::Varchar()}, {"definition", DataType::Varchar()}};
        if (runs) {
          columns.push_back({"status", DataType::Varchar()});
          columns.push_back({"error", DataType::Varchar()});
        }
        results.push_back(Table(std::move(columns), std::move(rows)));
        break;
      }
      case sql::StatementKind::kDescribe: {
        const auto& s = static_cast<const sql::DescribeStatement&>(*stmt);
        SLUICE_ASSIGN_OR_RETURN(CatalogEntry e, catalog_->Find(s.name));
        if (!e.failure.empty()) return NotAvailable(e);
        std::vector<std::vector<Value>> rows;
        for (size_t i = 0; i < e.columns.size(); ++i) {
          bool pk = std::find(e.primary_key.begin(), e.primary_key.end(), static_cast<int>(i)) != e.primary_key.end();
          rows.push_back({Value::Varchar(e.columns[i].name), Value::Varchar(e.columns[i].type.ToString()),
                          Value::Boolean(!e.columns[i].not_null && !pk), Value::Boolean(pk)});
        }
        results.push_back(Table({{"column", DataType::Varchar()},
                                 {"type", DataType::Varchar()},
                                 {"nullable", DataType::Boolean()},
                                 {"primary_key", DataType::Boolean()}},
                                std::move(rows)));
        break;
      }
      case sql::StatementKind::kExplain: {
        const auto& s = static_cast<const sql::ExplainStatement&>(*stmt);
        const sql::SelectStmt* query = nullptr;
        if (s.statement->kind == sql::StatementKind::kSelect) {
          query = static_cast<const sql::SelectStatement&>(*s.statement).query.get();
        } else if (s.statement->kind == sql::StatementKind::kCreateView) {
          query = static_cast<const sql::CreateViewStatement&>(*s.statement).query.get();
        } else if (s.statement->kind == sql::StatementKind::kCreateSink) {
          query = static_cast<const sql::CreateSinkStatement&>(*s.statement).query.get();
        }
        if (query == nullptr) return Status::InvalidArgument("EXPLAIN takes a SELECT, CREATE MATERIALIZED VIEW or CREATE SINK ... AS SELECT");
        sql::QueryBinder binder(catalog_.get());
        SLUICE_ASSIGN_OR_RETURN(sql::BoundQuery bound, binder.Bind(*query));
        std::string plan = bound.plan->ToString();
        if (bound.emit_on_window_close) plan = "EmitOnWindowClose\n" + plan;
        // The physical pipeline, lowered exactly as the statement would run it.
        CatalogEntry scratch;
        Result<std::unique_ptr<exec::Dataflow>> physical = Status::Internal("unreachable");
        if (s.statement->kind == sql::StatementKind::kCreateView) {
          const auto& v = static_cast<const sql::CreateViewStatement&>(*s.statement);
          physical = PlanView(*v.query, v.options, &scratch);
        } else if (s.statement->kind == sql::StatementKind::kCreateSink) {
          physical = PlanSink(static_cast<const sql::CreateSinkStatement&>(*s.statement), &scratch);
        } else {
          physical = exec::Dataflow::Build(*bound.plan, exec::DataflowOptions{});
        }
        SLUICE_RETURN_IF_ERROR(physical.status());
        plan += "Physical pipeline:\n" + (*physical)->Explain();
        results.push_back(PlanLines(plan));
        break;
      }
      case sql::StatementKind::kSelect: {
        // An ad-hoc query: a batch scan of the retained log of one source.
        sql::QueryBinder binder(catalog_.get());
        SLUICE_ASSIGN_OR_RETURN(sql::BoundQuery bound,
                                binder.Bind(*static_cast<const sql::SelectStatement&>(*stmt).query));
        if (bound.emit_on_window_close) return Status::InvalidArgument("EMIT ON WINDOW CLOSE is for materialized views");
        SLUICE_ASSIGN_OR_RETURN(StatementResult result, RunSelect(bound));
        results.push_back(std::move(result));
        break;
      }
    }
  }
  return results;
}

namespace {

// A subscription's query may only select and filter the rows of one view: each change maps to
// at most one output change, so no state is needed per subscriber.
Status CheckSubscriptionPlan(const sql::LogicalOperator& op) {
  switch (op.kind) {
    case sql::LogicalKind::kScan:
      if (op.relation.kind != ObjectKind::kView) {
        return Status::InvalidArgument(fmt::format(
            "cannot subscribe to {} \"{}\": only materialized views have a change stream",
            sql::ObjectKindName(op.relation.kind), op.relation.name));
      }
      return Status::Ok();
    case sql::LogicalKind::kFilter:
    case sql::LogicalKind::kProject:
      if (op.children.size() != 1) break;
      return CheckSubscriptionPlan(*op.children[0]);
    default:
      break;
  }
  return Status::InvalidArgument(
      "not supported yet: a subscription query is SELECT <columns or expressions> FROM <materialized view> "
      "[WHERE <condition>]; aggregates, joins, windows, DISTINCT, ORDER BY and LIMIT need a materialized view "
      "of their own");
}

const sql::LogicalOperator& ScanOf(const sql::LogicalOperator& op) {
  return op.kind == sql::LogicalKind::kScan ? op : ScanOf(*op.children[0]);
}

// SELECT * (every column in order, nothing filtered): the view's own stream.
bool IsIdentity(const sql::LogicalOperator& op, size_t columns) {
  if (op.kind == sql::LogicalKind::kScan) return true;
  if (op.kind != sql::LogicalKind::kProject || op.exprs.size() != columns) return false;
  for (size_t i = 0; i < op.exprs.size(); ++i) {
    if (op.exprs[i]->kind != sql::BoundExprKind::kColumn || op.exprs[i]->column != static_cast<int>(i)) return false;
  }
  return op.children[0]->kind == sql::LogicalKind::kScan;
}

}  // namespace

Result<std::unique_ptr<Subscription>> SqlExecutor::Subscribe(const SubscribeRequest& request,
                                                             std::function<void()> notify,
                                                             const SubscriptionLimits& limits) {
  std::shared_lock<FairSharedMutex> lock(mu_);
  std::string name = request.view;
  std::unique_ptr<exec::Dataflow> filter;
  std::vector<sql::ColumnSchema> columns;
  if (!request.sql.empty()) {
    SLUICE_ASSIGN_OR_RETURN(sql::StatementPtr stmt, sql::ParseOne(request.sql));
    if (stmt->kind != sql::StatementKind::kSelect) {
      return Status::InvalidArgument("a subscription query must be a SELECT over one materialized view");
    }
    sql::QueryBinder binder(catalog_.get());
    SLUICE_ASSIGN_OR_RETURN(sql::BoundQuery bound, binder.Bind(*static_cast<const sql::SelectStatement&>(*stmt).query));
    if (bound.emit_on_window_close) return Status::InvalidArgument("EMIT ON WINDOW CLOSE is for materialized views");
    SLUICE_RETURN_IF_ERROR(CheckSubscriptionPlan(*bound.plan));
    const sql::LogicalOperator& scan = ScanOf(*bound.plan);
    name = scan.relation.name;
    columns = bound.plan->schema;
    if (!IsIdentity(*bound.plan, scan.relation.columns.size())) {
      exec::DataflowOptions flow;
      flow.now_micros = Clock::Real()->Now().value() * 1000;
      flow.keep_rows = false;
      SLUICE_ASSIGN_OR_RETURN(filter, exec::Dataflow::Build(*bound.plan, flow));
    }
  } else {
    SLUICE_ASSIGN_OR_RETURN(CatalogEntry entry, catalog_->Find(name));
    if (!entry.failure.empty()) return NotAvailable(entry);
    if (entry.kind != ObjectKind::kView) {
      return Status::InvalidArgument(fmt::format("cannot subscribe to {} \"{}\": only materialized views have a change stream",
                                                 sql::ObjectKindName(entry.kind), entry.name));
    }
    columns = entry.columns;
  }
  auto it = views_.find(name);
  if (it == views_.end()) return Status::Unavailable(fmt::format("materialized view \"{}\" is not running", name));
  SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<ChangeFeed> feed, it->second->Feed(limits));
  return feed->Subscribe(request, std::move(filter), std::move(columns), std::move(notify));
}

Result<std::vector<ResultColumn>> SqlExecutor::Describe(std::string_view text) {
  SLUICE_ASSIGN_OR_RETURN(sql::StatementPtr stmt, sql::ParseOne(text));
  switch (stmt->kind) {
    case sql::StatementKind::kSelect: {
      std::shared_lock<FairSharedMutex> lock(mu_);
      sql::QueryBinder binder(catalog_.get());
      SLUICE_ASSIGN_OR_RETURN(sql::BoundQuery bound,
                              binder.Bind(*static_cast<const sql::SelectStatement&>(*stmt).query));
      std::vector<ResultColumn> columns;
      for (const sql::ColumnSchema& c : bound.plan->schema) columns.push_back({c.name, c.type});
      return columns;
    }
    case sql::StatementKind::kShow:
    case sql::StatementKind::kDescribe:
    case sql::StatementKind::kExplain: {
      SLUICE_ASSIGN_OR_RETURN(std::vector<StatementResult> results, Execute(text));
      if (results.empty()) return std::vector<ResultColumn>{};
      return std::move(results.front().columns);
    }
    default:
      return std::vector<ResultColumn>{};
  }
}

}  // namespace sluice::engine
