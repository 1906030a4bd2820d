#include "exec/batch_query.h"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "exec/session_window.h"

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

// The input columns the operators read. Filters and windows pass their input columns through
// at the same positions, so every expression up to (and including) the first operator that
// builds a new row (project, aggregate, DISTINCT ON) is over the input's column positions.
std::vector<bool> UsedInputColumns(const std::vector<const LogicalOperator*>& chain, size_t width) {
  std::vector<bool> used(width, false);
  for (size_t i = 1; i < chain.size(); ++i) {
    const LogicalOperator& op = *chain[i];
    switch (op.kind) {
      case LogicalKind::kFilter:
        MarkColumns(*op.predicate, &used);
        continue;
      case LogicalKind::kWindow:
        if (static_cast<size_t>(op.time_column) < width) used[static_cast<size_t>(op.time_column)] = true;
        for (const auto& k : op.session_partition) MarkColumns(*k, &used);
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

}  // namespace

Result<std::unique_ptr<BatchQuery>> BatchQuery::Build(const LogicalOperator& plan, int64_t now_micros) {
  auto q = std::unique_ptr<BatchQuery>(new BatchQuery());
  q->now_micros_ = now_micros;
  // Peel LIMIT and ORDER BY off the top; they apply to the collected rows.
  const LogicalOperator* node = &plan;
  if (node->kind == LogicalKind::kLimit) {
    q->limit_ = node->limit;
    q->offset_ = node->offset;
    node = node->children[0].get();
  }
  if (node->kind == LogicalKind::kSort) {
    for (const sql::BoundOrder& o : node->order) {
      q->order_.push_back({o.expr->Clone(), o.descending, o.nulls_first});
    }
    q->visible_columns_ = node->visible_columns;
    node = node->children[0].get();
  }
  // Walk down to the scan, collecting the chain (top first).
  std::vector<const LogicalOperator*> chain;
  while (true) {
    chain.push_back(node);
    if (node->children.empty()) break;
    if (node->children.size() != 1) return Status::InvalidArgument("not supported yet: joins in queries");
    node = node->children[0].get();
  }
  std::reverse(chain.begin(), chain.end());  // bottom first
  size_t first = 0;
  if (chain[0]->kind == LogicalKind::kScan) {
    q->input_ = chain[0]->relation;
    q->input_types_ = TypesOf(chain[0]->schema);
    q->input_used_ = UsedInputColumns(chain, q->input_types_.size());
    first = 1;
  }
  bool retracts = false;  // whether rows with weight -1 reach the operator being built
  for (size_t i = first; i < chain.size(); ++i) {
    const LogicalOperator& op = *chain[i];
    const std::vector<DataType> input_types =
        op.children.empty() ? std::vector<DataType>{} : TypesOf(op.children[0]->schema);
    std::unique_ptr<Operator> built;
    switch (op.kind) {
      case LogicalKind::kFilter: {
        SLUICE_ASSIGN_OR_RETURN(built, FilterOperator::Create(*op.predicate, input_types, now_micros));
        break;
      }
      case LogicalKind::kProject: {
        SLUICE_ASSIGN_OR_RETURN(built, ProjectOperator::Create(op.exprs, now_micros));
        break;
      }
      case LogicalKind::kWindow:
        if (op.window == sql::WindowKind::kSession) {
          SLUICE_ASSIGN_OR_RETURN(built, SessionWindowOperator::Create(input_types, op.time_column, op.gap_us,
                                                                      op.session_partition, now_micros));
          retracts = true;  // a session that grows retracts its rows' earlier bounds
          break;
        }
        built = std::make_unique<WindowOperator>(input_types, op.time_column, op.window, op.size_us, op.slide_us);
        break;
      case LogicalKind::kAggregate: {
        SLUICE_ASSIGN_OR_RETURN(built, AggregateOperator::Create(op, now_micros, retracts));
        break;
      }
      case LogicalKind::kDistinctOn: {
        SLUICE_ASSIGN_OR_RETURN(built, DistinctOnOperator::Create(op.exprs, input_types, now_micros));
        break;
      }
      case LogicalKind::kScan:
      case LogicalKind::kJoin:
      case LogicalKind::kSort:
      case LogicalKind::kLimit:
        return Status::InvalidArgument(
            fmt::format("not supported yet: this query shape (an inner {})",
                        op.kind == LogicalKind::kJoin ? "join" : op.kind == LogicalKind::kSort ? "ORDER BY" : "LIMIT"));
    }
    if (!q->operators_.empty()) q->operators_.back()->set_downstream(built.get());
    q->operators_.push_back(std::move(built));
  }
  q->sink_ = std::make_unique<CollectSink>(TypesOf(chain.back()->schema));
  if (q->operators_.empty()) {
    q->first_ = q->sink_.get();
  } else {
    q->operators_.back()->set_downstream(q->sink_.get());
    q->first_ = q->operators_.front().get();
  }
  return q;
}

Result<std::vector<std::vector<Value>>> BatchQuery::Finish() {
  if (!input_) {
    // SELECT without FROM: one row with no columns.
    DataChunk one(std::vector<DataType>{}, 1);
    one.set_size(1);
    SLUICE_RETURN_IF_ERROR(first_->Push(one));
  }
  SLUICE_RETURN_IF_ERROR(first_->Flush());
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
