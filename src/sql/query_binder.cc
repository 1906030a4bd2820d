#include "sql/query_binder.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace sluice::sql {
namespace {

Status ErrorAt(const SourcePos& pos, std::string message) {
  return Status::InvalidArgument(fmt::format("{} (line {}, column {})", message, pos.line, pos.column));
}

BindScope ScopeOf(const std::vector<ColumnSchema>& columns, const std::string& table) {
  BindScope scope;
  for (const ColumnSchema& c : columns) scope.Add({table, c.name, c.type});
  return scope;
}

// The output name PostgreSQL gives an unaliased select item.
std::string DefaultName(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kColumnRef:
      return static_cast<const ColumnRefExpr&>(e).column;
    case ExprKind::kFunction:
      return static_cast<const FunctionExpr&>(e).name;
    case ExprKind::kCast:
      return DefaultName(*static_cast<const CastExpr&>(e).operand);
    case ExprKind::kCase:
      return "case";
    default:
      return "?column?";
  }
}

Result<int64_t> FixedDuration(const Expr& e, std::string_view what) {
  if (e.kind != ExprKind::kLiteral || static_cast<const LiteralExpr&>(e).literal != LiteralKind::kInterval) {
    return ErrorAt(e.pos, fmt::format("{} must be a constant INTERVAL such as INTERVAL '10' SECOND", what));
  }
  const Interval& iv = static_cast<const LiteralExpr&>(e).interval;
  if (iv.months != 0) return ErrorAt(e.pos, fmt::format("{} must be a fixed duration (no months or years)", what));
  int64_t us = iv.days * 86'400'000'000LL + iv.micros;
  if (us <= 0) return ErrorAt(e.pos, fmt::format("{} must be positive", what));
  return us;
}

const char* kAggregateMarker = "?aggregate";

// Replaces every subtree equal to a GROUP BY expression by a reference to the aggregate's
// output column for it; aggregate references (marked by the handler) stay. Any other column
// reference is an error: it is neither grouped nor aggregated.
Result<BoundExprPtr> RewriteOverGroups(BoundExprPtr e, const std::vector<std::string>& group_text,
                                       const std::vector<BoundExprPtr>& groups, const BindScope& input,
                                       std::string_view clause) {
  if (e->kind == BoundExprKind::kColumn && e->name == kAggregateMarker) {
    e->name.clear();
    return e;
  }
  std::string text = e->ToString();
  for (size_t g = 0; g < group_text.size(); ++g) {
    if (text == group_text[g]) {
      std::string name = groups[g]->kind == BoundExprKind::kColumn ? groups[g]->name : "";
      return BoundExpr::Column(static_cast<int>(g), groups[g]->type, name);
    }
  }
  if (e->kind == BoundExprKind::kColumn) {
    const ScopeColumn& c = input.columns()[static_cast<size_t>(e->column)];
    return Status::InvalidArgument(fmt::format(
        "column \"{}\" must appear in the GROUP BY clause or be used in an aggregate function (in {})",
        c.table.empty() ? c.name : c.table + "." + c.name, clause));
  }
  for (BoundExprPtr& arg : e->args) {
    SLUICE_ASSIGN_OR_RETURN(arg, RewriteOverGroups(std::move(arg), group_text, groups, input, clause));
  }
  return e;
}

Result<BoundAggregate> BindAggregateCall(const FunctionExpr& f, const BindScope& input) {
  BoundAggregate agg;
  agg.distinct = f.distinct;
  ExpressionBinder binder(&input, "aggregate arguments");
  for (const ExprPtr& a : f.args) {
    if (a->kind == ExprKind::kFunction && IsAggregateFunction(static_cast<const FunctionExpr&>(*a).name)) {
      return ErrorAt(a->pos, "aggregate function calls cannot be nested");
    }
    SLUICE_ASSIGN_OR_RETURN(BoundExprPtr b, binder.Bind(*a));
    agg.args.push_back(std::move(b));
  }
  auto arity = [&](size_t n) -> Status {
    if (agg.args.size() != n) {
      return ErrorAt(f.pos, fmt::format("{}() takes {} argument{}", f.name, n, n == 1 ? "" : "s"));
    }
    return Status::Ok();
  };
  auto numeric_arg = [&]() -> Status {
    if (!IsNumeric(agg.args[0]->type)) {
      return ErrorAt(f.pos, fmt::format("function {}({}) does not exist", f.name, agg.args[0]->type.ToString()));
    }
    return Status::Ok();
  };
  const std::string& n = f.name;
  if (n == "count") {
    if (f.star) {
      agg.fn = AggregateFn::kCountStar;
    } else {
      SLUICE_RETURN_IF_ERROR(arity(1));
      agg.fn = AggregateFn::kCount;
    }
    agg.type = DataType::Bigint();
    return agg;
  }
  if (f.star) return ErrorAt(f.pos, fmt::format("{}(*) is not allowed; only count(*)", n));
  SLUICE_RETURN_IF_ERROR(arity(n == "approx_percentile" ? 2 : 1));
  const DataType& t = agg.args[0]->type;
  if (n == "sum") {
    SLUICE_RETURN_IF_ERROR(numeric_arg());
    agg.fn = AggregateFn::kSum;
    // As PostgreSQL: sum(int) is bigint, sum(bigint) and sum(decimal) are exact decimals.
    if (t.id == TypeId::kInt) {
      agg.type = DataType::Bigint();
    } else if (t.id == TypeId::kBigint) {
      agg.type = DataType::Decimal(38, 0);
    } else if (t.id == TypeId::kDecimal) {
      agg.type = DataType::Decimal(38, t.scale);
    } else {
      agg.type = DataType::Double();
    }
  } else if (n == "avg") {
    SLUICE_RETURN_IF_ERROR(numeric_arg());
    agg.fn = AggregateFn::kAvg;
    agg.type = t.id == TypeId::kDecimal ? DataType::Decimal(38, std::max<uint8_t>(t.scale, 6)) : DataType::Double();
  } else if (n == "min" || n == "max") {
    if (t.id == TypeId::kInterval || t.id == TypeId::kBoolean) {
      return ErrorAt(f.pos, fmt::format("function {}({}) does not exist", n, t.ToString()));
    }
    agg.fn = n == "min" ? AggregateFn::kMin : AggregateFn::kMax;
    agg.type = t;
  } else if (n == "stddev" || n == "stddev_samp" || n == "stddev_pop") {
    SLUICE_RETURN_IF_ERROR(numeric_arg());
    agg.fn = n == "stddev_pop" ? AggregateFn::kStddevPop : AggregateFn::kStddevSamp;
    agg.type = DataType::Double();
  } else if (n == "approx_count_distinct") {
    agg.fn = AggregateFn::kApproxCountDistinct;
    agg.type = DataType::Bigint();
  } else if (n == "approx_percentile") {
    SLUICE_RETURN_IF_ERROR(numeric_arg());
    const BoundExpr& q = *agg.args[1];
    if (q.kind != BoundExprKind::kConstant || q.constant.is_null() || !IsNumeric(q.type)) {
      return ErrorAt(f.pos, "approx_percentile(x, q) needs a constant q between 0 and 1");
    }
    double v = q.type.id == TypeId::kDouble    ? q.constant.float64()
               : q.type.id == TypeId::kDecimal ? static_cast<double>(q.constant.int128()) /
                                                     std::pow(10.0, q.type.scale)
               : q.type.id == TypeId::kBigint  ? static_cast<double>(q.constant.int64())
                                               : static_cast<double>(q.constant.int32());
    if (v < 0 || v > 1) return ErrorAt(f.pos, "approx_percentile(x, q) needs a constant q between 0 and 1");
    agg.percentile = v;
    agg.args.pop_back();
    agg.fn = AggregateFn::kApproxPercentile;
    agg.type = DataType::Double();
  } else {
    return ErrorAt(f.pos, fmt::format("function {} does not exist", n));
  }
  if (agg.distinct && agg.fn != AggregateFn::kCount) {
    return ErrorAt(f.pos, fmt::format("not supported yet: {}(DISTINCT ...); count(DISTINCT x) is", n));
  }
  return agg;
}

bool ReadsColumnFrom(const BoundExpr& e, int first) {
  if (e.kind == BoundExprKind::kColumn && e.column >= first) return true;
  return std::any_of(e.args.begin(), e.args.end(), [&](const BoundExprPtr& a) { return ReadsColumnFrom(*a, first); });
}

// A SESSION window that feeds an aggregate (directly or through WHERE) forms its sessions per
// group: its partition keys are the GROUP BY keys that read neither window_start nor window_end.
void SetSessionPartition(LogicalOperator* input, const std::vector<BoundExprPtr>& groups) {
  while (input->kind == LogicalKind::kFilter) input = input->children[0].get();
  if (input->kind != LogicalKind::kWindow || input->window != WindowKind::kSession) return;
  const int window_columns = static_cast<int>(input->children[0]->schema.size());  // then start, end
  for (const BoundExprPtr& g : groups) {
    if (!ReadsColumnFrom(*g, window_columns)) input->session_partition.push_back(g->Clone());
  }
}

bool ContainsAggregate(const Expr& e);

bool AnyContainsAggregate(const std::vector<ExprPtr>& list) {
  return std::any_of(list.begin(), list.end(), [](const ExprPtr& e) { return e && ContainsAggregate(*e); });
}

bool ContainsAggregate(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kFunction: {
      const auto& f = static_cast<const FunctionExpr&>(e);
      if (IsAggregateFunction(f.name) && !f.over) return true;
      return AnyContainsAggregate(f.args);
    }
    case ExprKind::kUnary:
      return ContainsAggregate(*static_cast<const UnaryExpr&>(e).operand);
    case ExprKind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      return ContainsAggregate(*b.left) || ContainsAggregate(*b.right);
    }
    case ExprKind::kCast:
      return ContainsAggregate(*static_cast<const CastExpr&>(e).operand);
    case ExprKind::kCase: {
      const auto& c = static_cast<const CaseExpr&>(e);
      if (c.operand && ContainsAggregate(*c.operand)) return true;
      if (c.otherwise && ContainsAggregate(*c.otherwise)) return true;
      for (const auto& [w, t] : c.whens) {
        if (ContainsAggregate(*w) || ContainsAggregate(*t)) return true;
      }
      return false;
    }
    case ExprKind::kIn: {
      const auto& in = static_cast<const InExpr&>(e);
      return ContainsAggregate(*in.operand) || AnyContainsAggregate(in.list);
    }
    case ExprKind::kBetween: {
      const auto& b = static_cast<const BetweenExpr&>(e);
      return ContainsAggregate(*b.operand) || ContainsAggregate(*b.low) || ContainsAggregate(*b.high);
    }
    case ExprKind::kLike: {
      const auto& l = static_cast<const LikeExpr&>(e);
      return ContainsAggregate(*l.operand) || ContainsAggregate(*l.pattern);
    }
    case ExprKind::kIsNull:
      return ContainsAggregate(*static_cast<const IsNullExpr&>(e).operand);
    default:
      return false;
  }
}

}  // namespace

void PushRankBounds(LogicalOperator* node);

Result<BoundQuery> QueryBinder::Bind(const SelectStmt& query) {
  dependencies_.clear();
  ctes_.clear();
  BindScope scope;
  BoundQuery bound;
  SLUICE_ASSIGN_OR_RETURN(bound.plan, BindSelect(query, &scope));
  PushRankBounds(bound.plan.get());
  bound.emit_on_window_close = query.emit_on_window_close;
  std::sort(dependencies_.begin(), dependencies_.end());
  dependencies_.erase(std::unique(dependencies_.begin(), dependencies_.end()), dependencies_.end());
  bound.dependencies = dependencies_;
  return bound;
}

Result<LogicalPlan> QueryBinder::BindRelation(std::string_view name, const SourcePos& pos, BindScope* scope,
                                              const std::string& alias) {
  const std::string table = alias.empty() ? std::string(name) : alias;
  for (auto it = ctes_.rbegin(); it != ctes_.rend(); ++it) {
    auto found = it->find(name);
    if (found == it->end()) continue;
    BindScope inner;
    SLUICE_ASSIGN_OR_RETURN(LogicalPlan plan, BindSelect(*found->second, &inner));
    *scope = ScopeOf(plan->schema, table);
    return plan;
  }
  auto entry = catalog_->Find(name);
  if (!entry.ok()) return ErrorAt(pos, entry.status().message());
  if (!entry->failure.empty()) {
    return Status::FailedPrecondition(
        fmt::format("{} \"{}\" is not available: {}", ObjectKindName(entry->kind), name, entry->failure));
  }
  if (entry->kind == ObjectKind::kSink) return ErrorAt(pos, fmt::format("\"{}\" is a sink and cannot be read", name));
  auto scan = std::make_unique<LogicalOperator>(LogicalKind::kScan);
  scan->relation = *entry;
  scan->schema = entry->columns;
  *scope = ScopeOf(scan->schema, table);
  dependencies_.push_back(entry->name);
  return scan;
}

Result<LogicalPlan> QueryBinder::BindWindow(const TableRef& ref, BindScope* scope) {
  const std::string& fn = ref.name;
  size_t want = fn == "hop" ? 4 : 3;
  if (ref.args.size() != want) {
    return ErrorAt(ref.pos, fmt::format("{}() takes {} arguments: {}", fn, want,
                                        fn == "tumble"  ? "(relation, time column, size)"
                                        : fn == "hop"   ? "(relation, time column, slide, size)"
                                                        : "(relation, time column, gap)"));
  }
  if (ref.args[0]->kind != ExprKind::kColumnRef) {
    return ErrorAt(ref.args[0]->pos, fmt::format("the first argument of {}() must be a relation name", fn));
  }
  const auto& rel = static_cast<const ColumnRefExpr&>(*ref.args[0]);
  BindScope input;
  SLUICE_ASSIGN_OR_RETURN(LogicalPlan child, BindRelation(rel.column, rel.pos, &input, rel.column));
  if (ref.args[1]->kind != ExprKind::kColumnRef) {
    return ErrorAt(ref.args[1]->pos, fmt::format("the second argument of {}() must be a time column", fn));
  }
  const auto& time = static_cast<const ColumnRefExpr&>(*ref.args[1]);
  auto time_index = input.Resolve("", time.column);
  if (!time_index.ok()) return ErrorAt(time.pos, time_index.status().message());
  DataType time_type = input.columns()[static_cast<size_t>(*time_index)].type;
  if (time_type.id != TypeId::kTimestamp && time_type.id != TypeId::kTimestamptz) {
    return ErrorAt(time.pos, fmt::format("the time column of {}() must be TIMESTAMP or TIMESTAMPTZ, not {}", fn,
                                         time_type.ToString()));
  }
  auto window = std::make_unique<LogicalOperator>(LogicalKind::kWindow);
  window->time_column = *time_index;
  if (fn == "tumble") {
    window->window = WindowKind::kTumble;
    SLUICE_ASSIGN_OR_RETURN(window->size_us, FixedDuration(*ref.args[2], "the window size"));
  } else if (fn == "hop") {
    window->window = WindowKind::kHop;
    SLUICE_ASSIGN_OR_RETURN(window->slide_us, FixedDuration(*ref.args[2], "the hop slide"));
    SLUICE_ASSIGN_OR_RETURN(window->size_us, FixedDuration(*ref.args[3], "the window size"));
    if (window->size_us % window->slide_us != 0) {
      return ErrorAt(ref.args[3]->pos, "the window size must be a multiple of the slide");
    }
  } else {
    window->window = WindowKind::kSession;
    SLUICE_ASSIGN_OR_RETURN(window->gap_us, FixedDuration(*ref.args[2], "the session gap"));
  }
  window->schema = child->schema;
  window->schema.push_back({"window_start", time_type, true});
  window->schema.push_back({"window_end", time_type, true});
  window->children.push_back(std::move(child));
  const std::string table = ref.alias.empty() ? rel.column : ref.alias;
  *scope = ScopeOf(window->schema, table);
  return window;
}

Result<LogicalPlan> QueryBinder::BindFrom(const TableRef& ref, BindScope* scope) {
  switch (ref.kind) {
    case TableRefKind::kNamed:
      return BindRelation(ref.name, ref.pos, scope, ref.alias);
    case TableRefKind::kFunction:
      if (ref.name == "tumble" || ref.name == "hop" || ref.name == "session") return BindWindow(ref, scope);
      return ErrorAt(ref.pos, fmt::format("table function {}() does not exist (known: TUMBLE, HOP, SESSION)", ref.name));
    case TableRefKind::kSubquery: {
      BindScope inner;
      SLUICE_ASSIGN_OR_RETURN(LogicalPlan plan, BindSelect(*ref.subquery, &inner));
      *scope = ScopeOf(plan->schema, ref.alias);
      return plan;
    }
    case TableRefKind::kJoin: {
      BindScope left_scope, right_scope;
      SLUICE_ASSIGN_OR_RETURN(LogicalPlan left, BindFrom(*ref.left, &left_scope));
      SLUICE_ASSIGN_OR_RETURN(LogicalPlan right, BindFrom(*ref.right, &right_scope));
      auto join = std::make_unique<LogicalOperator>(LogicalKind::kJoin);
      join->join = ref.join;
      BindScope both = left_scope;
      for (const ScopeColumn& c : right_scope.columns()) both.Add(c);
      join->schema = left->schema;
      for (const ColumnSchema& c : right->schema) join->schema.push_back(c);
      if (ref.on) {
        ExpressionBinder binder(&both, "JOIN conditions");
        SLUICE_ASSIGN_OR_RETURN(join->predicate, binder.Bind(*ref.on));
        if (join->predicate->type.id != TypeId::kBoolean) {
          return ErrorAt(ref.on->pos, "argument of JOIN/ON must be type boolean");
        }
      }
      join->children.push_back(std::move(left));
      join->children.push_back(std::move(right));
      *scope = std::move(both);
      return join;
    }
  }
  return Status::Internal("unknown table reference");
}

Result<BoundExprPtr> QueryBinder::BindRowNumber(const FunctionExpr& f, const BindScope& scope, LogicalPlan* plan) {
  if (f.name != "row_number") {
    return ErrorAt(f.pos, fmt::format("not supported yet: window function {}() (ROW_NUMBER() is)", f.name));
  }
  if (!f.args.empty() || f.star || f.distinct) return ErrorAt(f.pos, "row_number() takes no arguments");
  if ((*plan)->kind == LogicalKind::kRowNumber) {
    return ErrorAt(f.pos, "not supported yet: more than one window function in a SELECT");
  }
  auto node = std::make_unique<LogicalOperator>(LogicalKind::kRowNumber);
  ExpressionBinder binder(&scope, "PARTITION BY");
  for (const ExprPtr& e : f.over->partition_by) {
    SLUICE_ASSIGN_OR_RETURN(BoundExprPtr bound, binder.Bind(*e));
    node->groups.push_back(std::move(bound));
  }
  ExpressionBinder order_binder(&scope, "ORDER BY");
  for (const OrderItem& o : f.over->order_by) {
    BoundOrder bo;
    SLUICE_ASSIGN_OR_RETURN(bo.expr, order_binder.Bind(*o.expr));
    bo.descending = o.descending;
    bo.nulls_first = o.nulls_first.value_or(o.descending);
    node->order.push_back(std::move(bo));
  }
  node->schema = (*plan)->schema;
  const int rank_column = static_cast<int>(node->schema.size());
  node->schema.push_back({"row_number", DataType::Bigint(), true});
  node->children.push_back(std::move(*plan));
  *plan = std::move(node);
  return BoundExpr::Column(rank_column, DataType::Bigint(), "row_number");
}

namespace {

// The largest rank a conjunct `rank <= N` (or < N, = N, N >= rank ...) over column `rank`
// allows, or -1 if the conjunct does not bound it.
int64_t RankBound(const BoundExpr& e, int rank) {
  if (e.kind != BoundExprKind::kCall || e.args.size() != 2) return -1;
  ScalarFn fn = e.fn;
  const BoundExpr* column = e.args[0].get();
  const BoundExpr* constant = e.args[1].get();
  if (column->kind != BoundExprKind::kColumn) {
    std::swap(column, constant);
    switch (fn) {  // N >= rank is rank <= N
      case ScalarFn::kGtEq: fn = ScalarFn::kLtEq; break;
      case ScalarFn::kGt: fn = ScalarFn::kLt; break;
      case ScalarFn::kLtEq: fn = ScalarFn::kGtEq; break;
      case ScalarFn::kLt: fn = ScalarFn::kGt; break;
      default: break;
    }
  }
  if (column->kind != BoundExprKind::kColumn || column->column != rank) return -1;
  if (constant->kind == BoundExprKind::kCast && constant->args.size() == 1) constant = constant->args[0].get();
  if (constant->kind != BoundExprKind::kConstant || constant->constant.is_null()) return -1;
  int64_t n;
  if (constant->type.id == TypeId::kBigint) {
    n = constant->constant.int64();
  } else if (constant->type.id == TypeId::kInt) {
    n = constant->constant.int32();
  } else {
    return -1;
  }
  switch (fn) {
    case ScalarFn::kLtEq: return std::max<int64_t>(n, 0);
    case ScalarFn::kLt: return std::max<int64_t>(n - 1, 0);
    case ScalarFn::kEq: return std::max<int64_t>(n, 0);
    default: return -1;
  }
}

void CollectConjuncts(const BoundExpr& e, std::vector<const BoundExpr*>* out) {
  if (e.kind == BoundExprKind::kCall && e.fn == ScalarFn::kAnd) {
    for (const auto& a : e.args) CollectConjuncts(*a, out);
    return;
  }
  out->push_back(&e);
}

}  // namespace

// Top-N: a filter on a ROW_NUMBER() column below it (through projections that pass the
// column on) bounds how many ranks the ROW_NUMBER operator has to keep.
void PushRankBounds(LogicalOperator* node) {
  for (auto& child : node->children) PushRankBounds(child.get());
  if (node->kind != LogicalKind::kFilter || node->children.size() != 1) return;
  LogicalOperator* below = node->children[0].get();
  std::vector<const BoundExpr*> conjuncts;
  CollectConjuncts(*node->predicate, &conjuncts);
  for (const BoundExpr* c : conjuncts) {
    // Follow each column-reference projection down to the ROW_NUMBER operator.
    for (int candidate = 0; candidate < static_cast<int>(below->schema.size()); ++candidate) {
      const int64_t bound = RankBound(*c, candidate);
      if (bound < 0) continue;
      LogicalOperator* at = below;
      int index = candidate;
      while (at->kind == LogicalKind::kProject && at->children.size() == 1 &&
             at->exprs[static_cast<size_t>(index)]->kind == BoundExprKind::kColumn) {
        index = at->exprs[static_cast<size_t>(index)]->column;
        at = at->children[0].get();
      }
      if (at->kind == LogicalKind::kRowNumber && index == static_cast<int>(at->schema.size()) - 1) {
        at->limit = at->limit < 0 ? bound : std::min(at->limit, bound);
      }
    }
  }
}

Result<LogicalPlan> QueryBinder::BindSelect(const SelectStmt& q, BindScope* out_scope) {
  if (!q.with.empty()) {
    std::map<std::string, const SelectStmt*, std::less<>> level;
    for (const CommonTableExpr& cte : q.with) {
      if (!level.emplace(cte.name, cte.query.get()).second) {
        return ErrorAt(cte.pos, fmt::format("WITH query name \"{}\" specified more than once", cte.name));
      }
    }
    ctes_.push_back(std::move(level));
  }
  struct PopCtes {
    QueryBinder* b;
    bool active;
    ~PopCtes() {
      if (active) b->ctes_.pop_back();
    }
  } pop{this, !q.with.empty()};

  // FROM
  BindScope scope;
  LogicalPlan plan;
  if (q.from) {
    SLUICE_ASSIGN_OR_RETURN(plan, BindFrom(*q.from, &scope));
  } else {
    // SELECT without FROM: a single empty row.
    plan = std::make_unique<LogicalOperator>(LogicalKind::kProject);
  }

  // WHERE
  if (q.where) {
    ExpressionBinder binder(&scope, "WHERE");
    SLUICE_ASSIGN_OR_RETURN(BoundExprPtr predicate, binder.Bind(*q.where));
    if (predicate->type.id != TypeId::kBoolean) {
      return ErrorAt(q.where->pos, fmt::format("argument of WHERE must be type boolean, not type {}",
                                               predicate->type.ToString()));
    }
    auto filter = std::make_unique<LogicalOperator>(LogicalKind::kFilter);
    filter->predicate = std::move(predicate);
    filter->schema = plan->schema;
    filter->children.push_back(std::move(plan));
    plan = std::move(filter);
  }

  // Expand * in the select list.
  struct Item {
    const Expr* expr;
    std::string name;
    int star_column = -1;  // >= 0: a column expanded from *
  };
  std::vector<Item> items;
  for (const SelectItem& item : q.items) {
    if (item.expr->kind == ExprKind::kStar) {
      const auto& star = static_cast<const StarExpr&>(*item.expr);
      bool any = false;
      for (size_t i = 0; i < scope.columns().size(); ++i) {
        if (!star.table.empty() && scope.columns()[i].table != star.table) continue;
        items.push_back({item.expr.get(), scope.columns()[i].name, static_cast<int>(i)});
        any = true;
      }
      if (!any) {
        return ErrorAt(item.expr->pos, star.table.empty() ? "SELECT * with no tables specified is not valid"
                                                          : fmt::format("missing FROM-clause entry for table \"{}\"",
                                                                        star.table));
      }
      continue;
    }
    items.push_back({item.expr.get(), item.alias.empty() ? DefaultName(*item.expr) : item.alias, -1});
  }

  bool aggregating = !q.group_by.empty() || (q.having != nullptr);
  for (const Item& item : items) {
    if (item.star_column < 0 && ContainsAggregate(*item.expr)) aggregating = true;
  }
  if (aggregating) {
    for (const Item& item : items) {
      if (item.star_column < 0 && item.expr->kind == ExprKind::kFunction &&
          static_cast<const FunctionExpr&>(*item.expr).over) {
        return ErrorAt(item.expr->pos,
                       "not supported yet: window functions together with GROUP BY (aggregate in a subquery, then "
                       "rank its rows)");
      }
    }
  }

  std::vector<BoundExprPtr> outputs;
  if (aggregating) {
    auto agg = std::make_unique<LogicalOperator>(LogicalKind::kAggregate);
    std::vector<std::string> group_text;
    ExpressionBinder group_binder(&scope, "GROUP BY");
    for (const ExprPtr& g : q.group_by) {
      // GROUP BY 1 refers to the first select item, as in PostgreSQL.
      const Expr* target = g.get();
      if (g->kind == ExprKind::kLiteral && static_cast<const LiteralExpr&>(*g).literal == LiteralKind::kInteger) {
        int64_t ordinal = static_cast<const LiteralExpr&>(*g).integer;
        if (ordinal < 1 || ordinal > static_cast<int64_t>(items.size()) || items[static_cast<size_t>(ordinal - 1)].star_column >= 0) {
          return ErrorAt(g->pos, fmt::format("GROUP BY position {} is not in select list", ordinal));
        }
        target = items[static_cast<size_t>(ordinal - 1)].expr;
      }
      if (ContainsAggregate(*target)) return ErrorAt(g->pos, "aggregate functions are not allowed in GROUP BY");
      SLUICE_ASSIGN_OR_RETURN(BoundExprPtr bound, group_binder.Bind(*target));
      group_text.push_back(bound->ToString());
      agg->groups.push_back(std::move(bound));
    }
    const size_t group_count = agg->groups.size();
    AggregateHandler handler = [&](const FunctionExpr& f) -> Result<BoundExprPtr> {
      SLUICE_ASSIGN_OR_RETURN(BoundAggregate a, BindAggregateCall(f, scope));
      DataType type = a.type;
      agg->aggregates.push_back(std::move(a));
      BoundExprPtr ref =
          BoundExpr::Column(static_cast<int>(group_count + agg->aggregates.size() - 1), type, kAggregateMarker);
      return ref;
    };
    auto bind_over_groups = [&](const Expr& e, std::string_view clause) -> Result<BoundExprPtr> {
      ExpressionBinder binder(&scope, std::string(clause), handler);
      SLUICE_ASSIGN_OR_RETURN(BoundExprPtr bound, binder.Bind(e));
      auto rewritten = RewriteOverGroups(std::move(bound), group_text, agg->groups, scope, clause);
      if (!rewritten.ok()) return ErrorAt(e.pos, rewritten.status().message());
      return rewritten;
    };
    for (const Item& item : items) {
      if (item.star_column >= 0) {
        BoundExprPtr column = BoundExpr::Column(item.star_column, scope.columns()[static_cast<size_t>(item.star_column)].type,
                                                item.name);
        auto rewritten = RewriteOverGroups(std::move(column), group_text, agg->groups, scope, "SELECT");
        if (!rewritten.ok()) return ErrorAt(item.expr->pos, rewritten.status().message());
        outputs.push_back(std::move(rewritten).value());
        continue;
      }
      SLUICE_ASSIGN_OR_RETURN(BoundExprPtr out, bind_over_groups(*item.expr, "SELECT"));
      outputs.push_back(std::move(out));
    }
    BoundExprPtr having;
    if (q.having) {
      SLUICE_ASSIGN_OR_RETURN(having, bind_over_groups(*q.having, "HAVING"));
      if (having->type.id != TypeId::kBoolean) return ErrorAt(q.having->pos, "argument of HAVING must be type boolean");
    }
    for (size_t g = 0; g < agg->groups.size(); ++g) {
      const BoundExpr& ge = *agg->groups[g];
      std::string name = ge.kind == BoundExprKind::kColumn ? scope.columns()[static_cast<size_t>(ge.column)].name
                                                           : fmt::format("group_{}", g);
      agg->schema.push_back({name, ge.type, false});
    }
    for (size_t a = 0; a < agg->aggregates.size(); ++a) {
      agg->schema.push_back({std::string(AggregateFnName(agg->aggregates[a].fn)), agg->aggregates[a].type, false});
    }
    SetSessionPartition(plan.get(), agg->groups);
    agg->children.push_back(std::move(plan));
    plan = std::move(agg);
    if (having) {
      auto filter = std::make_unique<LogicalOperator>(LogicalKind::kFilter);
      filter->predicate = std::move(having);
      filter->schema = plan->schema;
      filter->children.push_back(std::move(plan));
      plan = std::move(filter);
    }
  } else {
    ExpressionBinder binder(&scope, "SELECT");
    for (const Item& item : items) {
      if (item.star_column >= 0) {
        outputs.push_back(BoundExpr::Column(item.star_column, scope.columns()[static_cast<size_t>(item.star_column)].type,
                                            item.name));
        continue;
      }
      if (item.expr->kind == ExprKind::kFunction && static_cast<const FunctionExpr&>(*item.expr).over) {
        SLUICE_ASSIGN_OR_RETURN(BoundExprPtr rank,
                                BindRowNumber(static_cast<const FunctionExpr&>(*item.expr), scope, &plan));
        outputs.push_back(std::move(rank));
        continue;
      }
      SLUICE_ASSIGN_OR_RETURN(BoundExprPtr out, binder.Bind(*item.expr));
      outputs.push_back(std::move(out));
    }
  }

  // The projection.
  auto project = std::make_unique<LogicalOperator>(LogicalKind::kProject);
  BindScope output_scope;
  for (size_t i = 0; i < items.size(); ++i) {
    project->schema.push_back({items[i].name, outputs[i]->type, false});
    output_scope.Add({"", items[i].name, outputs[i]->type});
  }
  project->exprs = std::move(outputs);
  LogicalOperator* project_node = project.get();
  if (plan->kind != LogicalKind::kProject || !plan->children.empty() || !plan->exprs.empty()) {
    project->children.push_back(std::move(plan));
  }
  plan = std::move(project);

  // DISTINCT / DISTINCT ON over the output.
  if (q.distinct) {
    if (q.distinct_on.empty()) {
      auto distinct = std::make_unique<LogicalOperator>(LogicalKind::kAggregate);
      for (size_t i = 0; i < plan->schema.size(); ++i) {
        distinct->groups.push_back(BoundExpr::Column(static_cast<int>(i), plan->schema[i].type, plan->schema[i].name));
      }
      distinct->schema = plan->schema;
      distinct->children.push_back(std::move(plan));
      plan = std::move(distinct);
    } else {
      auto distinct = std::make_unique<LogicalOperator>(LogicalKind::kDistinctOn);
      ExpressionBinder binder(&output_scope, "DISTINCT ON");
      for (const ExprPtr& k : q.distinct_on) {
        SLUICE_ASSIGN_OR_RETURN(BoundExprPtr key, binder.Bind(*k));
        distinct->exprs.push_back(std::move(key));
      }
      distinct->schema = plan->schema;
      distinct->children.push_back(std::move(plan));
      plan = std::move(distinct);
    }
  }

  // ORDER BY output columns (by name, position or expression over them), then LIMIT.
  if (!q.order_by.empty()) {
    auto sort = std::make_unique<LogicalOperator>(LogicalKind::kSort);
    ExpressionBinder binder(&output_scope, "ORDER BY");
    for (const OrderItem& o : q.order_by) {
      BoundOrder bo;
      const Expr& e = *o.expr;
      if (e.kind == ExprKind::kLiteral && static_cast<const LiteralExpr&>(e).literal == LiteralKind::kInteger) {
        int64_t ordinal = static_cast<const LiteralExpr&>(e).integer;
        if (ordinal < 1 || ordinal > static_cast<int64_t>(plan->schema.size())) {
          return ErrorAt(e.pos, fmt::format("ORDER BY position {} is not in select list", ordinal));
        }
        size_t i = static_cast<size_t>(ordinal - 1);
        bo.expr = BoundExpr::Column(static_cast<int>(i), plan->schema[i].type, plan->schema[i].name);
      } else {
        auto bound = binder.Bind(e);
        if (!bound.ok() && !aggregating && !q.distinct && bound.status().message().find("does not exist") != std::string::npos) {
          // ORDER BY an input column that is not selected (PostgreSQL allows it): compute it as
          // a hidden column after the visible ones; the sort drops it again.
          ExpressionBinder input_binder(&scope, "ORDER BY");
          SLUICE_ASSIGN_OR_RETURN(BoundExprPtr hidden, input_binder.Bind(e));
          const int index = static_cast<int>(project_node->exprs.size());
          DataType type = hidden->type;
          project_node->schema.push_back({fmt::format("?sort{}", index), type, false});
          project_node->exprs.push_back(std::move(hidden));
          bound = BoundExpr::Column(index, type);
        }
        SLUICE_ASSIGN_OR_RETURN(bo.expr, std::move(bound));
      }
      bo.descending = o.descending;
      bo.nulls_first = o.nulls_first.value_or(o.descending);
      sort->order.push_back(std::move(bo));
    }
    sort->schema = plan->schema;
    sort->visible_columns = static_cast<int>(output_scope.columns().size());
    sort->schema.resize(output_scope.columns().size());  // hidden sort keys are not output
    sort->children.push_back(std::move(plan));
    plan = std::move(sort);
  }
  if (q.limit || q.offset) {
    auto limit = std::make_unique<LogicalOperator>(LogicalKind::kLimit);
    limit->limit = q.limit.value_or(-1);
    limit->offset = q.offset.value_or(0);
    limit->schema = plan->schema;
    limit->children.push_back(std::move(plan));
    plan = std::move(limit);
  }
  *out_scope = ScopeOf(plan->schema, "");
  return plan;
}

std::string_view AggregateFnName(AggregateFn fn) {
  switch (fn) {
    case AggregateFn::kCountStar:
    case AggregateFn::kCount: return "count";
    case AggregateFn::kSum: return "sum";
    case AggregateFn::kAvg: return "avg";
    case AggregateFn::kMin: return "min";
    case AggregateFn::kMax: return "max";
    case AggregateFn::kStddevSamp: return "stddev_samp";
    case AggregateFn::kStddevPop: return "stddev_pop";
    case AggregateFn::kApproxCountDistinct: return "approx_count_distinct";
    case AggregateFn::kApproxPercentile: return "approx_percentile";
  }
  return "aggregate";
}

std::string LogicalOperator::ToString(int indent) const {
  std::string pad(static_cast<size_t>(indent) * 2, ' ');
  std::string line;
  auto list = [](const std::vector<BoundExprPtr>& exprs) {
    std::string s;
    for (size_t i = 0; i < exprs.size(); ++i) s += (i ? ", " : "") + exprs[i]->ToString();
    return s;
  };
  switch (kind) {
    case LogicalKind::kScan:
      line = fmt::format("Scan {} {}", ObjectKindName(relation.kind), relation.name);
      break;
    case LogicalKind::kWindow:
      if (window == WindowKind::kTumble) {
        line = fmt::format("Window TUMBLE(${}, size {} us)", time_column, size_us);
      } else if (window == WindowKind::kHop) {
        line = fmt::format("Window HOP(${}, slide {} us, size {} us)", time_column, slide_us, size_us);
      } else {
        line = fmt::format("Window SESSION(${}, gap {} us{})", time_column, gap_us,
                           session_partition.empty() ? "" : ", partition by " + list(session_partition));
      }
      break;
    case LogicalKind::kFilter:
      line = "Filter " + predicate->ToString();
      break;
    case LogicalKind::kProject:
      line = "Project " + list(exprs);
      break;
    case LogicalKind::kAggregate: {
      line = "Aggregate groups=[" + list(groups) + "] aggregates=[";
      for (size_t i = 0; i < aggregates.size(); ++i) {
        const BoundAggregate& a = aggregates[i];
        line += fmt::format("{}{}({}{})", i ? ", " : "", AggregateFnName(a.fn), a.distinct ? "DISTINCT " : "",
                            a.fn == AggregateFn::kCountStar ? "*" : list(a.args));
      }
      line += "]";
      break;
    }
    case LogicalKind::kJoin: {
      static const char* kNames[] = {"INNER", "LEFT", "RIGHT", "FULL", "CROSS"};
      line = fmt::format("Join {}{}", kNames[static_cast<int>(join)], predicate ? " ON " + predicate->ToString() : "");
      break;
    }
    case LogicalKind::kDistinctOn:
      line = "DistinctOn " + list(exprs);
      break;
    case LogicalKind::kSort: {
      line = "Sort ";
      for (size_t i = 0; i < order.size(); ++i) {
        line += fmt::format("{}{}{}", i ? ", " : "", order[i].expr->ToString(), order[i].descending ? " DESC" : "");
      }
      break;
    }
    case LogicalKind::kLimit:
      line = fmt::format("Limit {} offset {}", limit, offset);
      break;
    case LogicalKind::kRowNumber: {
      line = "RowNumber partition=[" + list(groups) + "] order=[";
      for (size_t i = 0; i < order.size(); ++i) {
        line += fmt::format("{}{}{}", i ? ", " : "", order[i].expr->ToString(), order[i].descending ? " DESC" : "");
      }
      line += limit >= 0 ? fmt::format("] keep <= {}", limit) : "]";
      break;
    }
  }
  std::string out = pad + line + "\n";
  for (const auto& child : children) out += child->ToString(indent + 1);
  return out;
}

}  // namespace sluice::sql
