#include "exec/dataflow.h"

#include "exec/join_operator.h"
#include "exec/session_window.h"
#include "exec/top_n_operator.h"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

namespace sluice::exec {

using sql::LogicalKind;
using sql::LogicalOperator;
using sql::Value;

namespace {

void MarkColumns(const sql::BoundExpr& e, std::vector<bool>* used) {
  if (e.kind == sql::BoundExprKind::kColumn && e.column >= 0 && static_cast<size_t>(e.column) < used->size()) {
    (*used)[static_cast<size_t>(e.column)] = true;
  }
  for (const auto& a : e.args) MarkColumns(*a, used);
}

// The columns of a scan that the operators above it read. `path` holds the scan's ancestors,
// nearest last. Filters and windows pass their input columns through at the same positions,
// so every expression up to (and including) the first operator that builds a new row
// (project, aggregate, DISTINCT ON) is over the scan's column positions.
std::vector<bool> UsedColumns(const std::vector<const LogicalOperator*>& path, size_t width) {
  std::vector<bool> used(width, false);
  for (auto it = path.rbegin(); it != path.rend(); ++it) {
    const LogicalOperator& op = **it;
    switch (op.kind) {
      case LogicalKind::kFilter:
        MarkColumns(*op.predicate, &used);
        continue;
      case LogicalKind::kWindow:
        if (static_cast<size_t>(op.time_column) < width) used[static_cast<size_t>(op.time_column)] = true;
        for (const auto& k : op.session_partition) MarkColumns(*k, &used);
        continue;
      case LogicalKind::kRowNumber:
        for (const auto& e : op.groups) MarkColumns(*e, &used);
        for (const auto& o : op.order) MarkColumns(*o.expr, &used);
        continue;
      case LogicalKind::kProject:
      case LogicalKind::kDistinctOn:
        for (const auto& e : op.exprs) MarkColumns(*e, &used);
        return used;
      case LogicalKind::kAggregate:
        for (const auto& g : op.groups) MarkColumns(*g, &used);
        for (const auto& a : op.aggregates) {
          for (const auto& arg : a.args) MarkColumns(*arg, &used);
        }
        return used;
      default:
        return std::vector<bool>(width, true);
    }
  }
  return std::vector<bool>(width, true);
}

// The lowest and highest column an expression reads (lo > hi if none).
void ColumnRange(const sql::BoundExpr& e, int* lo, int* hi) {
  if (e.kind == sql::BoundExprKind::kColumn) {
    *lo = std::min(*lo, e.column);
    *hi = std::max(*hi, e.column);
  }
  for (const auto& a : e.args) ColumnRange(*a, lo, hi);
}

void ShiftColumns(sql::BoundExpr* e, int delta) {
  if (e->kind == sql::BoundExprKind::kColumn) e->column += delta;
  for (auto& a : e->args) ShiftColumns(a.get(), delta);
}

void Conjuncts(const sql::BoundExpr& e, std::vector<const sql::BoundExpr*>* out) {
  if (e.kind == sql::BoundExprKind::kCall && e.fn == sql::ScalarFn::kAnd) {
    for (const auto& a : e.args) Conjuncts(*a, out);
    return;
  }
  out->push_back(&e);
}

// Whether the relation under `node` is a table (possibly filtered or projected): a join with
// it is a lookup (enrichment) join.
bool IsTableOnly(const LogicalOperator& node) {
  if (node.kind == LogicalKind::kScan) return node.relation.kind == sql::ObjectKind::kTable;
  if (node.kind == LogicalKind::kFilter || node.kind == LogicalKind::kProject) {
    return node.children.size() == 1 && IsTableOnly(*node.children[0]);
  }
  return false;
}

int LookupSide(const LogicalOperator& join) {
  const bool left = IsTableOnly(*join.children[0]);
  const bool right = IsTableOnly(*join.children[1]);
  if (right && !left) return 1;
  if (left && !right) return 0;
  return -1;
}

// Skips filters (they keep columns at their positions).
const LogicalOperator* BelowFilters(const LogicalOperator* node) {
  while (node->kind == LogicalKind::kFilter && node->children.size() == 1) node = node->children[0].get();
  return node;
}

// The aggregate an EMIT ON WINDOW CLOSE view holds back: the first one from the top.
const LogicalOperator* FindTopAggregate(const LogicalOperator* node) {
  while (node != nullptr) {
    if (node->kind == LogicalKind::kAggregate) return node;
    if (node->kind == LogicalKind::kJoin || node->children.size() != 1) return nullptr;
    node = node->children[0].get();
  }
  return nullptr;
}

}  // namespace

struct Dataflow::Lowering {
  Dataflow* df;
  const DataflowOptions& options;
  std::vector<const LogicalOperator*> path;  // ancestors of the node being lowered, nearest last
  const LogicalOperator* eowc_aggregate = nullptr;
  AggregateOperator::WindowClose window_close;
  const LogicalOperator* eowc_scan = nullptr;
  LatenessRule eowc_rule;
  const LogicalOperator* expiry_aggregate = nullptr;
  AggregateOperator::WindowExpiry expiry;
  Operator* no_input_entry = nullptr;

  Result<bool> Retracts(const LogicalOperator& node) {
    switch (node.kind) {
      case LogicalKind::kScan:
        if (node.relation.kind == sql::ObjectKind::kSource) return false;
        if (node.relation.kind == sql::ObjectKind::kTable) return true;
        return !node.relation.append_only;
      case LogicalKind::kJoin: {
        const int lookup = LookupSide(node);
        if (lookup >= 0) return Retracts(*node.children[static_cast<size_t>(1 - lookup)]);
        SLUICE_ASSIGN_OR_RETURN(bool left, Retracts(*node.children[0]));
        SLUICE_ASSIGN_OR_RETURN(bool right, Retracts(*node.children[1]));
        return left || right;
      }
      case LogicalKind::kAggregate:
        return &node != eowc_aggregate;
      case LogicalKind::kRowNumber:
        return true;
      case LogicalKind::kWindow:
        // A session that grows retracts its rows' earlier bounds.
        if (node.window == sql::WindowKind::kSession) return true;
        return Retracts(*node.children[0]);
      case LogicalKind::kDistinctOn: {
        SLUICE_ASSIGN_OR_RETURN(bool input, Retracts(*node.children[0]));
        if (input) return Status::InvalidArgument("not supported yet: DISTINCT ON over an updating input");
        return false;
      }
      default:
        if (node.children.empty()) return false;
        return Retracts(*node.children[0]);
    }
  }

  // The top aggregate of a plan, when it is grouped by the window of a TUMBLE or HOP over a
  // source whose WATERMARK is on the window's time column: the watermark then tells when each
  // window is complete. Otherwise the reason it is not (EMIT ON WINDOW CLOSE's error).
  struct WindowedAggregate {
    const LogicalOperator* aggregate = nullptr;
    const LogicalOperator* window = nullptr;
    const LogicalOperator* scan = nullptr;
    AggregateOperator::WindowClose key;
  };
  // `for_expiry`: SESSION windows qualify too when window_end is a group key (a session's end
  // is not its start + a size).
  static Result<WindowedAggregate> FindWindowedAggregate(const LogicalOperator& root, bool for_expiry = false) {
    constexpr std::string_view kShape =
        "EMIT ON WINDOW CLOSE needs GROUP BY window_start or window_end of a TUMBLE or HOP window over a source "
        "with a WATERMARK";
    WindowedAggregate found;
    found.aggregate = FindTopAggregate(&root);
    if (found.aggregate == nullptr) return Status::InvalidArgument(std::string(kShape));
    const LogicalOperator* window = BelowFilters(found.aggregate->children[0].get());
    if (window->kind != LogicalKind::kWindow) return Status::InvalidArgument(std::string(kShape));
    const bool session = window->window == sql::WindowKind::kSession;
    if (session && !for_expiry) {
      return Status::InvalidArgument("not supported yet: EMIT ON WINDOW CLOSE with SESSION windows");
    }
    found.window = window;
    const int width = static_cast<int>(window->schema.size());
    found.key.group = -1;
    for (size_t g = 0; g < found.aggregate->groups.size(); ++g) {
      const sql::BoundExpr& e = *found.aggregate->groups[g];
      if (e.kind != sql::BoundExprKind::kColumn) continue;
      if (e.column == width - 1) {
        found.key = {static_cast<int>(g), 0};
        break;
      }
      if (e.column == width - 2 && found.key.group < 0 && !session) found.key = {static_cast<int>(g), window->size_us};
    }
    if (found.key.group < 0) return Status::InvalidArgument(std::string(kShape));
    const LogicalOperator* scan = BelowFilters(window->children[0].get());
    if (scan->kind != LogicalKind::kScan || scan->relation.kind != sql::ObjectKind::kSource) {
      return Status::InvalidArgument(std::string(kShape));
    }
    if (scan->relation.watermark_column < 0) {
      return Status::InvalidArgument(fmt::format(
          "EMIT ON WINDOW CLOSE needs a watermark: source \"{}\" has no WATERMARK FOR clause", scan->relation.name));
    }
    if (scan->relation.watermark_column != window->time_column) {
      return Status::InvalidArgument(fmt::format(
          "EMIT ON WINDOW CLOSE: the window's time column must be the column the WATERMARK of \"{}\" is on (\"{}\")",
          scan->relation.name, scan->relation.columns[static_cast<size_t>(scan->relation.watermark_column)].name));
    }
    found.scan = scan;
    return found;
  }

  Status PrepareEmitOnWindowClose(const LogicalOperator& root) {
    SLUICE_ASSIGN_OR_RETURN(WindowedAggregate found, FindWindowedAggregate(root));
    eowc_aggregate = found.aggregate;
    window_close = found.key;
    eowc_scan = found.scan;
    eowc_rule.kind = LatenessRule::Kind::kWindowClosed;
    eowc_rule.size_us = found.window->size_us;
    eowc_rule.slide_us = found.window->window == sql::WindowKind::kHop ? found.window->slide_us : found.window->size_us;
    return Status::Ok();
  }

  // Without EMIT ON WINDOW CLOSE, a windowed aggregate of that shape forgets each window once
  // the watermark passes its end + the allowed lateness (AggregateOperator::WindowExpiry).
  void PrepareWindowExpiry(const LogicalOperator& root) {
    Result<WindowedAggregate> found = FindWindowedAggregate(root, /*for_expiry=*/true);
    if (!found.ok()) return;
    expiry_aggregate = found->aggregate;
    expiry.window = found->key;
    expiry.allowed_lateness_us = options.allowed_lateness_us;
  }

  // Whether a SESSION window forgets its closed sessions (SessionWindowOperator::set_expiry):
  // over a source whose WATERMARK is on the window's time column, which drops late rows.
  bool SessionsClose(const LogicalOperator& window) const {
    if (!options.expire_windows || options.emit_on_window_close) return false;
    const LogicalOperator* scan = BelowFilters(window.children[0].get());
    return scan->kind == LogicalKind::kScan && scan->relation.kind == sql::ObjectKind::kSource &&
           scan->relation.watermark_column >= 0 && scan->relation.watermark_column == window.time_column;
  }

  // EXPLAIN's note on a join under WITH (state_ttl).
  std::string TtlNote() const {
    if (options.state_ttl_us <= 0) return "";
    return fmt::format(" (state ttl {} us: idle rows dropped)", options.state_ttl_us);
  }

  // One line of EXPLAIN's physical part, indented by the depth of the node being lowered.
  void Describe(const std::string& line) {
    df->explain_ += std::string(2 * (path.size() + 2), ' ') + line + "\n";
  }

  Status Adopt(std::unique_ptr<Operator> op, Operator* downstream) {
    op->set_downstream(downstream);
    df->operators_.push_back(std::move(op));
    return Status::Ok();
  }

  Status LowerScan(const LogicalOperator& node, Operator* downstream) {
    DataflowInput in;
    in.relation = node.relation;
    in.types = TypesOf(node.schema);
    in.used = UsedColumns(path, in.types.size());
    in.lateness.allowed_lateness_us = options.allowed_lateness_us;
    if (&node == eowc_scan) in.lateness = eowc_rule;
    if (in.relation.watermark_column >= 0) in.used[static_cast<size_t>(in.relation.watermark_column)] = true;
    if (in.relation.dedup_column >= 0) in.used[static_cast<size_t>(in.relation.dedup_column)] = true;
    in.entry = downstream;
    size_t decoded = 0;
    for (bool u : in.used) decoded += u ? 1 : 0;
    std::string line = fmt::format("{}Scan {} {} (decodes {} of {} columns", in.relation.kind == sql::ObjectKind::kTable ? "Upsert+" : "",
                                   sql::ObjectKindName(in.relation.kind), in.relation.name, decoded, in.types.size());
    if (in.relation.kind == sql::ObjectKind::kSource && in.relation.watermark_column >= 0) {
      line += fmt::format("; watermark {} - {} us; late: {}", in.relation.columns[static_cast<size_t>(in.relation.watermark_column)].name,
                          in.relation.watermark_delay_us,
                          in.lateness.kind == LatenessRule::Kind::kWindowClosed
                              ? std::string("window closed")
                              : fmt::format("more than {} us behind the watermark", in.lateness.allowed_lateness_us));
    }
    Describe(line + ")");
    if (in.relation.kind == sql::ObjectKind::kTable) {
      for (int k : in.relation.primary_key) in.used[static_cast<size_t>(k)] = true;
      auto upsert = std::make_unique<UpsertOperator>(in.types, in.relation.primary_key);
      in.entry = upsert.get();
      SLUICE_RETURN_IF_ERROR(Adopt(std::move(upsert), downstream));
    }
    df->inputs_.push_back(std::move(in));
    return Status::Ok();
  }

  Status LowerJoin(const LogicalOperator& node, Operator* downstream) {
    HashJoinOperator::Spec spec;
    spec.left_types = TypesOf(node.children[0]->schema);
    spec.right_types = TypesOf(node.children[1]->schema);
    spec.type = node.join;
    spec.lookup_side = LookupSide(node);
    const int left_width = static_cast<int>(spec.left_types.size());
    std::vector<const sql::BoundExpr*> conjuncts;
    if (node.predicate) Conjuncts(*node.predicate, &conjuncts);
    std::vector<sql::BoundExprPtr> residual;
    for (const sql::BoundExpr* c : conjuncts) {
      if (c->kind == sql::BoundExprKind::kCall && c->fn == sql::ScalarFn::kEq && c->args.size() == 2) {
        int lo0 = INT32_MAX, hi0 = -1, lo1 = INT32_MAX, hi1 = -1;
        ColumnRange(*c->args[0], &lo0, &hi0);
        ColumnRange(*c->args[1], &lo1, &hi1);
        const bool a_left = hi0 >= 0 && hi0 < left_width;
        const bool a_right = hi0 >= 0 && lo0 >= left_width;
        const bool b_left = hi1 >= 0 && hi1 < left_width;
        const bool b_right = hi1 >= 0 && lo1 >= left_width;
        if ((a_left && b_right) || (a_right && b_left)) {
          sql::BoundExprPtr l = (a_left ? c->args[0] : c->args[1])->Clone();
          sql::BoundExprPtr r = (a_left ? c->args[1] : c->args[0])->Clone();
          ShiftColumns(r.get(), -left_width);
          spec.left_keys.push_back(std::move(l));
          spec.right_keys.push_back(std::move(r));
          continue;
        }
      }
      residual.push_back(c->Clone());
    }
    if (spec.left_keys.empty()) {
      return Status::InvalidArgument(
          "not supported yet: a join without an equality between the two sides (a streaming join needs a key, e.g. "
          "ON a.id = b.id)");
    }
    if (!residual.empty()) {
      sql::BoundExprPtr all = std::move(residual[0]);
      for (size_t i = 1; i < residual.size(); ++i) {
        std::vector<sql::BoundExprPtr> args;
        args.push_back(std::move(all));
        args.push_back(std::move(residual[i]));
        all = sql::BoundExpr::Call(sql::ScalarFn::kAnd, DataType::Boolean(), std::move(args));
      }
      spec.residual = std::move(all);
    }
    spec.state_ttl_us = options.state_ttl_us;
    SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<HashJoinOperator> join,
                            HashJoinOperator::Create(std::move(spec), options.now_micros));
    HashJoinOperator* raw = join.get();
    SLUICE_RETURN_IF_ERROR(Adopt(std::move(join), downstream));
    Describe(fmt::format("HashJoin {} {}{}", node.join == sql::JoinType::kLeft ? "LEFT" : "INNER",
                         LookupSide(node) < 0 ? "symmetric (both sides kept)"
                                              : fmt::format("lookup (table on the {})", LookupSide(node) == 1 ? "right" : "left"),
                         TtlNote()));
    path.push_back(&node);
    SLUICE_RETURN_IF_ERROR(Lower(*node.children[0], raw->port(0)));
    SLUICE_RETURN_IF_ERROR(Lower(*node.children[1], raw->port(1)));
    path.pop_back();
    return Status::Ok();
  }

  std::string PhysicalName(const LogicalOperator& node) {
    switch (node.kind) {
      case LogicalKind::kFilter: return "Filter (vectorized)";
      case LogicalKind::kProject: return "Project (vectorized)";
      case LogicalKind::kWindow:
        if (node.window == sql::WindowKind::kSession && SessionsClose(node)) {
          return fmt::format("SessionWindow (retracting; sessions freed at watermark - {} us)", options.allowed_lateness_us);
        }
        return node.window == sql::WindowKind::kSession ? "SessionWindow (retracting)"
               : node.window == sql::WindowKind::kHop   ? "HopWindow"
                                                        : "TumbleWindow";
      case LogicalKind::kAggregate: {
        std::string line = "HashAggregate";
        if (&node == eowc_aggregate) return line + " (emit on window close)";
        Result<bool> input = Retracts(*node.children[0]);
        line += input.ok() && *input ? " (retracting input" : " (insert-only input";
        if (&node == expiry_aggregate) {
          line += fmt::format("; windows freed at watermark - {} us", expiry.allowed_lateness_us);
        }
        if (options.state_ttl_us > 0 && !node.groups.empty()) {
          line += fmt::format("; state ttl {} us: idle groups retracted", options.state_ttl_us);
        }
        return line + ")";
      }
      case LogicalKind::kDistinctOn: return "DistinctOn";
      case LogicalKind::kRowNumber:
        return node.limit >= 0 ? fmt::format("TopN keep <= {}", node.limit) : std::string("RowNumber (all ranks)");
      default: return "?";
    }
  }

  Status Lower(const LogicalOperator& node, Operator* downstream) {
    if (node.kind == LogicalKind::kScan) return LowerScan(node, downstream);
    if (node.kind == LogicalKind::kJoin) return LowerJoin(node, downstream);
    const std::vector<DataType> input_types =
        node.children.empty() ? std::vector<DataType>{} : TypesOf(node.children[0]->schema);
    std::unique_ptr<Operator> built;
    switch (node.kind) {
      case LogicalKind::kFilter: {
        SLUICE_ASSIGN_OR_RETURN(built, FilterOperator::Create(*node.predicate, input_types, options.now_micros));
        break;
      }
      case LogicalKind::kProject: {
        SLUICE_ASSIGN_OR_RETURN(built, ProjectOperator::Create(node.exprs, options.now_micros));
        break;
      }
      case LogicalKind::kWindow:
        if (node.window == sql::WindowKind::kSession) {
          SLUICE_ASSIGN_OR_RETURN(auto session, SessionWindowOperator::Create(input_types, node.time_column, node.gap_us,
                                                                             node.session_partition, options.now_micros));
          if (SessionsClose(node)) session->set_expiry(options.allowed_lateness_us);
          built = std::move(session);
          break;
        }
        {
          // The operators above read only some of the columns; the window copies just those.
          std::vector<bool> used = UsedColumns(path, node.schema.size());
          used.resize(input_types.size());
          used[static_cast<size_t>(node.time_column)] = true;
          built = std::make_unique<WindowOperator>(input_types, node.time_column, node.window, node.size_us,
                                                   node.slide_us, std::move(used));
        }
        break;
      case LogicalKind::kAggregate: {
        SLUICE_ASSIGN_OR_RETURN(bool input_retracts, Retracts(*node.children[0]));
        std::optional<AggregateOperator::WindowClose> close;
        std::optional<AggregateOperator::WindowExpiry> expire;
        if (&node == eowc_aggregate) close = window_close;
        if (&node == expiry_aggregate) expire = expiry;
        std::optional<AggregateOperator::StateTtl> ttl;
        if (options.state_ttl_us > 0) ttl = AggregateOperator::StateTtl{options.state_ttl_us};
        SLUICE_ASSIGN_OR_RETURN(built,
                                AggregateOperator::Create(node, options.now_micros, input_retracts, close, expire, ttl));
        break;
      }
      case LogicalKind::kDistinctOn: {
        SLUICE_RETURN_IF_ERROR(Retracts(node).status());
        SLUICE_ASSIGN_OR_RETURN(built, DistinctOnOperator::Create(node.exprs, input_types, options.now_micros));
        break;
      }
      case LogicalKind::kRowNumber: {
        SLUICE_ASSIGN_OR_RETURN(built, TopNOperator::Create(node, input_types, options.now_micros));
        break;
      }
      case LogicalKind::kScan:
      case LogicalKind::kJoin:
      case LogicalKind::kSort:
      case LogicalKind::kLimit:
        return Status::InvalidArgument(fmt::format("not supported yet: {} in a subquery",
                                                   node.kind == LogicalKind::kSort ? "ORDER BY" : "LIMIT"));
    }
    Operator* raw = built.get();
    SLUICE_RETURN_IF_ERROR(Adopt(std::move(built), downstream));
    Describe(PhysicalName(node));
    if (node.children.empty()) {
      no_input_entry = raw;  // SELECT without FROM
      return Status::Ok();
    }
    path.push_back(&node);
    Status s = Lower(*node.children[0], raw);
    path.pop_back();
    return s;
  }
};

bool LatenessRule::IsLate(int64_t time_us, int64_t watermark_us) const {
  if (watermark_us == INT64_MIN) return false;
  if (kind == Kind::kAllowedLateness) {
    return time_us < watermark_us - allowed_lateness_us;
  }
  // The last window containing `time_us` starts at the last slide boundary at or before it.
  int64_t start = time_us - ((time_us % slide_us) + slide_us) % slide_us;
  return start + size_us <= watermark_us;
}

Result<std::unique_ptr<Dataflow>> Dataflow::Build(const LogicalOperator& plan, const DataflowOptions& options) {
  auto df = std::unique_ptr<Dataflow>(new Dataflow());
  df->now_micros_ = options.now_micros;
  // Peel LIMIT and ORDER BY off the top; they apply to the collected rows.
  const LogicalOperator* node = &plan;
  if (node->kind == LogicalKind::kLimit) {
    df->limit_ = node->limit;
    df->offset_ = node->offset;
    node = node->children[0].get();
  }
  if (node->kind == LogicalKind::kSort) {
    for (const sql::BoundOrder& o : node->order) {
      df->order_.push_back({o.expr->Clone(), o.descending, o.nulls_first});
    }
    df->visible_columns_ = node->visible_columns;
    node = node->children[0].get();
  }
  Lowering lowering{df.get(), options};
  if (options.emit_on_window_close) {
    SLUICE_RETURN_IF_ERROR(lowering.PrepareEmitOnWindowClose(*node));
  } else if (options.expire_windows) {
    lowering.PrepareWindowExpiry(*node);
  }
  SLUICE_ASSIGN_OR_RETURN(bool retracts, lowering.Retracts(*node));
  df->append_only_ = !retracts;
  df->sink_ = std::make_unique<CollectSink>(TypesOf(node->schema), options.keep_rows);
  df->explain_ = options.keep_rows ? "  Collect (result rows)\n" : "  Changes (to the sink's topic)\n";
  SLUICE_RETURN_IF_ERROR(lowering.Lower(*node, df->sink_.get()));
  df->no_input_entry_ = lowering.no_input_entry;
  return df;
}

Status Dataflow::Snapshot(std::string* out) const {
  SLUICE_ASSIGN_OR_RETURN(SnapshotWriter write, CaptureSnapshot(out));
  write(out);
  return Status::Ok();
}

Result<Dataflow::SnapshotWriter> Dataflow::CaptureSnapshot(std::string* out) const {
  // The operators' sections are written now, in place; the result's rows are captured copy
  // on write and written by the returned function.
  sql::StateWriter writer(out);
  writer.U64(operators_.size());
  snapshot_bytes_.assign(operators_.size(), -1);
  for (size_t i = 0; i < operators_.size(); ++i) {
    const size_t mark = writer.BeginFixedBytes();
    SLUICE_RETURN_IF_ERROR(operators_[i]->Snapshot(&writer));
    writer.EndFixedBytes(mark);
    snapshot_bytes_[i] = static_cast<int64_t>(out->size() - mark);
  }
  return SnapshotWriter([rows = sink_->CaptureSnapshot()](std::string* out) {
    sql::StateWriter writer(out);
    const size_t mark = writer.BeginFixedBytes();
    rows(&writer);
    writer.EndFixedBytes(mark);
  });
}

std::vector<Dataflow::OperatorState> Dataflow::StateStats() const {
  std::vector<OperatorState> stats;
  for (size_t i = 0; i < operators_.size(); ++i) {
    const char* name = operators_[i]->state_name();
    if (name == nullptr) continue;
    OperatorState s;
    s.name = fmt::format("{}_{}", name, i);
    s.keys = operators_[i]->StateKeys();
    s.expired = operators_[i]->StateExpired();
    if (i < snapshot_bytes_.size()) s.bytes = snapshot_bytes_[i];
    stats.push_back(std::move(s));
  }
  return stats;
}

Status Dataflow::Restore(std::string_view in, SectionFraming framing) {
  sql::StateReader reader(in);
  auto section = [&]() -> Result<std::string_view> {
    return framing == SectionFraming::kFixed ? reader.FixedBytesView() : reader.BytesView();
  };
  SLUICE_ASSIGN_OR_RETURN(uint64_t n, reader.U64());
  if (n != operators_.size()) return Status::Corruption("the state was written by a different plan");
  for (const auto& op : operators_) {
    SLUICE_ASSIGN_OR_RETURN(std::string_view bytes, section());
    sql::StateReader section_reader(bytes);
    SLUICE_RETURN_IF_ERROR(op->Restore(&section_reader));
    if (!section_reader.done()) return Status::Corruption("operator state has trailing bytes");
  }
  SLUICE_ASSIGN_OR_RETURN(std::string_view bytes, section());
  sql::StateReader sink_reader(bytes);
  SLUICE_RETURN_IF_ERROR(sink_->Restore(&sink_reader));
  if (!sink_reader.done() || !reader.done()) return Status::Corruption("dataflow state has trailing bytes");
  return Status::Ok();
}

Status Dataflow::FlushChanges() {
  for (size_t i = 0; i < inputs_.size(); ++i) SLUICE_RETURN_IF_ERROR(FlushInput(i));
  if (no_input_entry_ != nullptr) SLUICE_RETURN_IF_ERROR(no_input_entry_->Flush());
  return sink_->NotifyFlushed();
}

Result<std::vector<std::vector<Value>>> Dataflow::Finish() {
  if (no_input_entry_ != nullptr) {
    // SELECT without FROM: one row with no columns.
    DataChunk one(std::vector<DataType>{}, 1);
    one.set_size(1);
    SLUICE_RETURN_IF_ERROR(no_input_entry_->Push(one));
  }
  SLUICE_RETURN_IF_ERROR(FlushChanges());
  std::vector<std::vector<Value>> rows = sink_->Rows();
  if (!order_.empty() && !rows.empty()) {
    // Evaluate the sort keys over the output rows, then order the row indexes.
    const std::vector<DataType>& types = sink_->output_types();
    std::vector<std::vector<Value>> keys(rows.size());
    for (size_t begin = 0; begin < rows.size(); begin += DataChunk::kDefaultCapacity) {
      size_t n = std::min(DataChunk::kDefaultCapacity, rows.size() - begin);
      DataChunk chunk(types, n);
      for (size_t r = 0; r < n; ++r) {
        for (size_t c = 0; c < types.size(); ++c) SetValue(&chunk.column(c), r, rows[begin + r][c], &chunk.arena());
      }
      chunk.set_size(n);
      for (const sql::BoundOrder& o : order_) {
        SLUICE_ASSIGN_OR_RETURN(auto expr, ExpressionExecutor::Compile(*o.expr, now_micros_));
        Vector out(o.expr->type, n);
        StringArena arena;
        SLUICE_RETURN_IF_ERROR(expr->Execute(chunk, &out, &arena));
        for (size_t r = 0; r < n; ++r) keys[begin + r].push_back(GetValue(out, r));
      }
    }
    std::vector<size_t> order(rows.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      for (size_t k = 0; k < order_.size(); ++k) {
        const sql::BoundOrder& o = order_[k];
        const Value& x = keys[a][k];
        const Value& y = keys[b][k];
        if (x.is_null() || y.is_null()) {
          if (x.is_null() && y.is_null()) continue;
          return x.is_null() == o.nulls_first;
        }
        int c = CompareSqlValues(x, y);
        if (c != 0) return o.descending ? c > 0 : c < 0;
      }
      return false;
    });
    std::vector<std::vector<Value>> sorted;
    sorted.reserve(rows.size());
    for (size_t i : order) sorted.push_back(std::move(rows[i]));
    rows = std::move(sorted);
  }
  if (visible_columns_ >= 0) {
    for (auto& row : rows) row.resize(static_cast<size_t>(visible_columns_));
  }
  if (offset_ > 0 || limit_ >= 0) {
    size_t begin = std::min(rows.size(), static_cast<size_t>(offset_));
    size_t end = limit_ < 0 ? rows.size() : std::min(rows.size(), begin + static_cast<size_t>(limit_));
    rows = std::vector<std::vector<Value>>(std::make_move_iterator(rows.begin() + static_cast<ptrdiff_t>(begin)),
                                           std::make_move_iterator(rows.begin() + static_cast<ptrdiff_t>(end)));
  }
  return rows;
}

}  // namespace sluice::exec
