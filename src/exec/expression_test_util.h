#pragma once

// Builders and evaluators shared by the expression tests.

#include <string>
#include <utility>
#include <vector>

#include "exec/expression_executor.h"

namespace sluice::exec::testing {

using sql::BoundExpr;
using sql::BoundExprPtr;
using sql::DataType;
using sql::ScalarFn;
using sql::Value;

inline BoundExprPtr Lit(Value v) { return BoundExpr::Constant(std::move(v)); }
inline BoundExprPtr Col(int i, DataType t) { return BoundExpr::Column(i, t); }
inline BoundExprPtr CastTo(BoundExprPtr e, DataType t) { return BoundExpr::Cast(std::move(e), t); }

template <typename... Args>
BoundExprPtr Fn(ScalarFn fn, DataType type, Args&&... args) {
  std::vector<BoundExprPtr> v;
  (v.push_back(std::forward<Args>(args)), ...);
  return BoundExpr::Call(fn, type, std::move(v));
}

inline DataType Bool() { return DataType::Boolean(); }
inline DataType Int() { return DataType::Int(); }
inline DataType Big() { return DataType::Bigint(); }
inline DataType Dbl() { return DataType::Double(); }
inline DataType Var() { return DataType::Varchar(); }
inline DataType Ts() { return DataType::Timestamp(); }

// Evaluates `e` over rows given as Values (one vector per row, matching `types`).
inline Result<std::vector<Value>> EvalRows(const BoundExpr& e, const std::vector<DataType>& types,
                                           const std::vector<std::vector<Value>>& rows) {
  SLUICE_ASSIGN_OR_RETURN(auto ex, ExpressionExecutor::Compile(e, /*now_micros=*/1'700'000'000'000'000));
  DataChunk chunk(types, std::max<size_t>(rows.size(), 1));
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t c = 0; c < types.size(); ++c) SetValue(&chunk.column(c), r, rows[r][c], &chunk.arena());
  }
  chunk.set_size(rows.size());
  Vector out(ex->type(), std::max<size_t>(rows.size(), 1));
  StringArena arena;
  SLUICE_RETURN_IF_ERROR(ex->Execute(chunk, &out, &arena));
  std::vector<Value> result;
  for (size_t r = 0; r < rows.size(); ++r) result.push_back(GetValue(out, r));
  return result;
}

// The text of `e` evaluated over one row without columns, or "ERROR: message".
inline std::string Eval(const BoundExprPtr& e) {
  auto r = EvalRows(*e, {}, {{}});
  if (!r.ok()) return "ERROR: " + r.status().message();
  return (*r)[0].ToString();
}

}  // namespace sluice::exec::testing
