#pragma once

// Vectorized scalar kernels behind ExpressionExecutor (internal to exec).
//
// Every kernel evaluates one function over the rows listed in a `Rows` (all rows of the chunk
// or a selection of them, for CASE branches and lazily evaluated operands) and writes each
// result at the same row position of `out`, so arguments and results stay aligned whatever
// subset is evaluated. Rows outside the selection are left undefined. Kernels set the
// validity of every row they evaluate (callers reset `out`'s validity first), loop over plain
// arrays, dispatch on types once per call and allocate nothing per row except string results,
// which go into `arena`. Rows that are NULL in an argument are never inspected by a kernel that
// can fail, so garbage in a NULL slot cannot raise an error.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"
#include "exec/like_matcher.h"
#include "exec/vector.h"
#include "sql/bound_expr.h"

namespace sluice::exec {

struct Rows {
  const uint32_t* sel = nullptr;  // nullptr: rows [0, count)
  size_t count = 0;
};

// Calls f(row) for every row; the dense case is a plain counted loop the compiler can unroll.
template <typename F>
inline void ForEachRow(Rows rows, F&& f) {
  if (rows.sel == nullptr) {
    for (size_t i = 0; i < rows.count; ++i) f(static_cast<uint32_t>(i));
  } else {
    for (size_t i = 0; i < rows.count; ++i) f(rows.sel[i]);
  }
}

// Marks `out` NULL on every row where any of `args` is NULL; returns whether any row was.
// REQUIRES: out's validity was reset for this evaluation.
bool PropagateNulls(std::span<const Vector* const> args, Rows rows, Vector* out);
inline bool PropagateNulls(const Vector& a, Rows rows, Vector* out) {
  const Vector* args[] = {&a};
  return PropagateNulls(args, rows, out);
}
inline bool PropagateNulls(const Vector& a, const Vector& b, Rows rows, Vector* out) {
  const Vector* args[] = {&a, &b};
  return PropagateNulls(args, rows, out);
}

// Copies rows (values and validity) from `src` to `dst` of the same type; strings are copied
// into `arena`.
void CopyRows(const Vector& src, Rows rows, Vector* dst, StringArena* arena);

// kAdd .. kModulo on INT, BIGINT, DOUBLE, DECIMAL (operand scales may differ; the result
// precision and scale are out's). Errors as PostgreSQL: "integer out of range", "bigint out of
// range", "division by zero", "numeric field overflow", "value out of range: overflow".
Status ArithmeticKernel(sql::ScalarFn fn, const Vector& a, const Vector& b, Rows rows, Vector* out);
Status NegateKernel(const Vector& a, Rows rows, Vector* out);

// kEq .. kGtEq on any type but INTERVAL (DECIMAL scales may differ).
void ComparisonKernel(sql::ScalarFn fn, const Vector& a, const Vector& b, Rows rows, Vector* out);

// x IN (list...): SQL semantics (NULL when no match and x or an element is NULL).
void InKernel(std::span<const Vector* const> args, Rows rows, Vector* out);

// CAST between the types listed in exec/cast.h. `in` and `out` types differ.
Status CastKernel(const Vector& in, Rows rows, Vector* out, StringArena* arena);

// kLower, kUpper, kLength, kSubstr, kConcat, kConcatOp, kSplitPart.
Status StringKernel(sql::ScalarFn fn, std::span<const Vector* const> args, Rows rows, Vector* out,
                    StringArena* arena);

// kLike / kILike. A constant pattern is compiled once into `matcher` (constant_pattern set);
// otherwise each row's pattern is compiled into it. ILIKE folds case (utf8::Lower) on both
// sides, the input into the reused `folded` buffer.
struct LikeState {
  bool case_insensitive = false;
  bool constant_pattern = false;
  LikeMatcher matcher;
  std::string folded;
};
void LikeKernel(LikeState* state, const Vector& s, const Vector& pattern, Rows rows, Vector* out);

// date_trunc / extract units, resolved once at compile time.
enum class TimeUnit : uint8_t {
  kMicroseconds, kMilliseconds, kSecond, kMinute, kHour, kDay, kWeek, kMonth, kQuarter, kYear,
  kDecade, kCentury, kMillennium,
  // extract only:
  kDow, kIsodow, kDoy, kEpoch, kIsoyear,
};
// Parses a PostgreSQL unit name (case-insensitive, plural and abbreviated forms).
bool ParseTimeUnit(std::string_view name, TimeUnit* unit);
// Whether extract(unit FROM <type>) is defined (e.g. no hour from a DATE, no dow from INTERVAL).
bool ExtractSupports(TimeUnit unit, sql::TypeId source);
// date_trunc on TIMESTAMP[TZ] (kDow.. are not valid truncation units).
Status DateTruncKernel(TimeUnit unit, const Vector& ts, Rows rows, Vector* out);
// extract(unit FROM TIMESTAMP[TZ] | DATE | INTERVAL) -> DOUBLE.
void ExtractKernel(TimeUnit unit, const Vector& source, Rows rows, Vector* out);
// kTimestampAddInterval, kTimestampSubInterval, kTimestampDiff, kToTimestamp.
Status TimeKernel(sql::ScalarFn fn, std::span<const Vector* const> args, Rows rows, Vector* out);

}  // namespace sluice::exec
