#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/result.h"
#include "exec/cast.h"
#include "exec/vector.h"
#include "exec/vector_value.h"
#include "sql/bound_expr.h"

namespace sluice::exec {

// Evaluates one bound expression over whole chunks: one pass per expression node per chunk,
// each a tight loop over plain arrays (no virtual call, allocation or Value boxing per row;
// types are dispatched once per node and chunk). NULLs travel in validity bitmaps.
//
// Semantics are PostgreSQL's (see sql/bound_expr.h for each function's types; exec/cast.h for
// casts). Operands that can fail (division, casts, substr, ...) are evaluated lazily where
// PostgreSQL is: a CASE branch only over the rows that select it, the right side of AND/OR
// only where the left side does not decide, later COALESCE arguments only where earlier ones
// are NULL. So `CASE WHEN x <> 0 THEN 1 / x ELSE 0 END` never divides by zero.
//
// Not thread-safe (keeps scratch vectors); one per operator instance.
class ExpressionExecutor {
 public:
  // Validates the tree against the type contracts of sql/bound_expr.h (kInvalidArgument naming
  // the function if it breaks them) and prepares per-node state: constant patterns of LIKE,
  // date_trunc/extract units. now() evaluates to `now_micros` (the statement's start time,
  // microseconds since the epoch, UTC); views never contain now().
  static Result<std::unique_ptr<ExpressionExecutor>> Compile(const sql::BoundExpr& expr,
                                                             int64_t now_micros = 0);
  ~ExpressionExecutor();

  const sql::DataType& type() const;

  // Writes rows [0, input.size()) of the result into *out; strings go into `arena` (the output
  // chunk's). Errors (division by zero, overflow, bad cast text, negative substr length...)
  // are kInvalidArgument with PostgreSQL's message; *out is then partly written.
  // REQUIRES: out->type() == type(), out->capacity() >= input.size(); the columns the
  // expression reads exist in `input` with the bound types (kInvalidArgument otherwise).
  Status Execute(const DataChunk& input, Vector* out, StringArena* arena);

  // For filters: evaluates a BOOLEAN expression and appends to *selection the indices of the
  // rows where it is TRUE (not NULL, not FALSE), in increasing order.
  Status Select(const DataChunk& input, std::vector<uint32_t>* selection);

  struct Node;

 private:
  ExpressionExecutor();
  Status Run(const DataChunk& input, Vector* out, StringArena* arena);

  std::unique_ptr<Node> root_;
  std::vector<std::pair<int, sql::DataType>> columns_;  // every column the expression reads
  StringArena scratch_arena_;                           // strings of intermediate results
  StringArena constant_arena_;                          // strings of materialised constants
  std::unique_ptr<Vector> select_result_;
};

}  // namespace sluice::exec
