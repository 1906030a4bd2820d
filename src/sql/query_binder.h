#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "sql/ast.h"
#include "sql/catalog.h"
#include "sql/expression_binder.h"
#include "sql/logical_plan.h"

namespace sluice::sql {

// Binds a SELECT against the catalog into a logical plan: resolves relations (sources,
// tables, views, CTEs, subqueries, window table functions, joins), binds every expression,
// checks GROUP BY rules and names the output columns as PostgreSQL does.
class QueryBinder {
 public:
  explicit QueryBinder(const Catalog* catalog) : catalog_(catalog) {}

  Result<BoundQuery> Bind(const SelectStmt& query);

 private:
  Result<LogicalPlan> BindSelect(const SelectStmt& query, BindScope* out_scope);
  Result<LogicalPlan> BindFrom(const TableRef& ref, BindScope* scope);
  Result<LogicalPlan> BindRelation(std::string_view name, const SourcePos& pos, BindScope* scope,
                                   const std::string& alias);
  Result<LogicalPlan> BindWindow(const TableRef& ref, BindScope* scope);
  // ROW_NUMBER() OVER (...) in a select list: puts a RowNumber operator on *plan and returns
  // the reference to its rank column.
  Result<BoundExprPtr> BindRowNumber(const FunctionExpr& f, const BindScope& scope, LogicalPlan* plan);

  const Catalog* catalog_;
  std::vector<std::map<std::string, const SelectStmt*, std::less<>>> ctes_;  // innermost last
  std::vector<std::string> dependencies_;
};

}  // namespace sluice::sql
