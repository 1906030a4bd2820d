#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sql/types.h"
#include "sql/value.h"

namespace sluice::sql {

// A resolved, typed scalar expression: what the binder produces from the syntax tree and what
// exec compiles into vectorized kernels. Every name is resolved to a column index, every
// implicit conversion is an explicit kCast, and every operator or function is one ScalarFn
// whose argument types are exactly the ones listed in its comment (the binder guarantees it),
// so an evaluator needs no type dispatch beyond the argument's physical type.

enum class ScalarFn : uint8_t {
  // Arithmetic. Arguments and result share one numeric type: INT, BIGINT, DOUBLE or
  // DECIMAL (for DECIMAL the binder sets the result's precision/scale; see docs/sql/types.md).
  // Integer overflow and division by zero are errors, not wrap-around.
  kAdd, kSubtract, kMultiply, kDivide, kModulo, kNegate,
  // Comparison: both arguments of one type (any type but INTERVAL) -> BOOLEAN.
  kEq, kNotEq, kLt, kLtEq, kGt, kGtEq,
  // Three-valued logic on BOOLEAN.
  kAnd, kOr, kNot,
  // (x) -> BOOLEAN, never NULL.
  kIsNull, kIsNotNull, kIsTrue, kIsFalse, kIsNotTrue, kIsNotFalse,
  // (x, pattern VARCHAR) -> BOOLEAN; % and _ wildcards, no escape character.
  kLike, kILike,
  // (x, v1, v2, ...) all of one type -> BOOLEAN, SQL semantics with NULLs.
  kIn,
  // (a, b, ...) all of one type -> that type: the first non-NULL argument.
  kCoalesce,
  // (cond1 BOOLEAN, then1, cond2, then2, ..., else) -> the then-type. `else` is always present
  // (a NULL constant when the query has none).
  kCase,
  // Strings.
  kLower, kUpper,          // (VARCHAR) -> VARCHAR
  kLength,                 // (VARCHAR) -> BIGINT, in characters (UTF-8 code points)
  kSubstr,                 // (VARCHAR, start BIGINT[, count BIGINT]) -> VARCHAR, 1-based, code points
  kConcat,                 // (VARCHAR, VARCHAR, ...) -> VARCHAR; NULL arguments are skipped (concat())
  kConcatOp,               // (VARCHAR, VARCHAR) -> VARCHAR; NULL if either is NULL (the || operator)
  kSplitPart,              // (VARCHAR, delimiter VARCHAR, n BIGINT) -> VARCHAR
  // Time.
  kTimestampAddInterval,   // (TIMESTAMP, INTERVAL) -> TIMESTAMP (also TIMESTAMPTZ)
  kTimestampSubInterval,   // (TIMESTAMP, INTERVAL) -> TIMESTAMP
  kTimestampDiff,          // (TIMESTAMP, TIMESTAMP) -> INTERVAL
  kDateTrunc,              // (unit VARCHAR constant, TIMESTAMP) -> TIMESTAMP; unit: microseconds ..
                           //   millennium as in PostgreSQL
  kExtract,                // (field VARCHAR constant, TIMESTAMP|DATE|INTERVAL) -> DOUBLE
                           //   (year, month, day, hour, minute, second, dow, doy, epoch, ...)
  kToTimestamp,            // (DOUBLE seconds since epoch) -> TIMESTAMPTZ
  kNow,                    // () -> TIMESTAMPTZ; the statement's start time (never in views)
};

std::string_view ScalarFnName(ScalarFn fn);

enum class BoundExprKind : uint8_t { kConstant, kColumn, kCall, kCast };

struct BoundExpr;
using BoundExprPtr = std::unique_ptr<BoundExpr>;

struct BoundExpr {
  BoundExprKind kind = BoundExprKind::kConstant;
  DataType type;                      // result type
  Value constant;                     // kConstant
  int column = -1;                    // kColumn: index into the input chunk's columns
  ScalarFn fn = ScalarFn::kAdd;       // kCall
  std::vector<BoundExprPtr> args;     // kCall arguments; kCast: the one operand
  std::string name;                   // for EXPLAIN: the column name or the call's SQL name

  BoundExprPtr Clone() const;
  // Readable form for EXPLAIN: "($0 + 1)", "lower($2)", "CAST($1 AS DOUBLE)".
  std::string ToString() const;

  static BoundExprPtr Constant(Value v);
  static BoundExprPtr Column(int index, DataType type, std::string name = {});
  static BoundExprPtr Call(ScalarFn fn, DataType type, std::vector<BoundExprPtr> args);
  static BoundExprPtr Cast(BoundExprPtr operand, DataType type);
};

}  // namespace sluice::sql
