#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "sql/ast.h"
#include "sql/bound_expr.h"

namespace sluice::sql {

// One column an expression can name: `table.name` (table may be empty for computed columns).
struct ScopeColumn {
  std::string table;  // the relation's name or alias
  std::string name;
  DataType type;
};

// The columns visible at one point of a query, in input-chunk order.
class BindScope {
 public:
  BindScope() = default;
  explicit BindScope(std::vector<ScopeColumn> columns) : columns_(std::move(columns)) {}

  const std::vector<ScopeColumn>& columns() const { return columns_; }
  void Add(ScopeColumn column) { columns_.push_back(std::move(column)); }

  // The index of `table.column` (table may be empty). kNotFound if absent, kInvalidArgument if
  // the unqualified name is ambiguous; messages follow PostgreSQL's wording.
  Result<int> Resolve(std::string_view table, std::string_view column) const;

 private:
  std::vector<ScopeColumn> columns_;
};

// Called for aggregate calls (count, sum, ...) met while binding; returns the expression that
// stands for the aggregate's result (usually a column of the aggregation's output). When no
// handler is given, aggregates are an error ("aggregate functions are not allowed in WHERE").
using AggregateHandler = std::function<Result<BoundExprPtr>(const FunctionExpr&)>;

// True for the aggregate function names of SPEC §3.
bool IsAggregateFunction(std::string_view name);

// Resolves names, checks types, inserts implicit casts and picks the ScalarFn of every operator
// and function call (PostgreSQL's rules, documented in docs/sql/types.md). Errors name the
// position in the query: "column \"pric\" does not exist (line 2, column 8)".
class ExpressionBinder {
 public:
  ExpressionBinder(const BindScope* scope, std::string_view clause, AggregateHandler aggregates = nullptr)
      : scope_(scope), clause_(clause), aggregates_(std::move(aggregates)) {}

  Result<BoundExprPtr> Bind(const Expr& expr);

 private:
  Result<BoundExprPtr> BindExpr(const Expr& expr);
  Result<BoundExprPtr> BindLiteral(const LiteralExpr& e);
  Result<BoundExprPtr> BindBinary(const BinaryExpr& e);
  Result<BoundExprPtr> BindFunction(const FunctionExpr& e);
  Result<BoundExprPtr> BindCase(const CaseExpr& e);
  Result<BoundExprPtr> BindIn(const InExpr& e);

  const BindScope* scope_;
  std::string clause_;  // "WHERE", "SELECT", ... for messages
  AggregateHandler aggregates_;
};

// Type rules shared with the planner.
bool IsNumeric(const DataType& t);
bool IsTemporal(const DataType& t);
// The type both `a` and `b` are converted to for arithmetic or comparison, or an error.
Result<DataType> CommonType(const DataType& a, const DataType& b);
// Wraps `e` in a cast to `to` unless it already has that type.
BoundExprPtr CastIfNeeded(BoundExprPtr e, const DataType& to);
// Whether an implicit (assignment) cast from `from` to `to` is allowed.
bool CanCastImplicitly(const DataType& from, const DataType& to);

}  // namespace sluice::sql
