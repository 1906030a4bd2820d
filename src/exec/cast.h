#pragma once

#include "common/result.h"
#include "sql/types.h"
#include "sql/value.h"

namespace sluice::exec {

// CAST rules (PostgreSQL's, in UTC):
//   numeric <-> numeric   INT, BIGINT, DOUBLE, DECIMAL(p,s). DECIMAL -> integer and DECIMAL ->
//                         DECIMAL round half away from zero; DOUBLE -> integer rounds half to
//                         even (PostgreSQL's rint()); out of range is "integer out of range",
//                         "bigint out of range" or "numeric field overflow".
//   any <-> VARCHAR       the text forms of sql/value_text.h; bad text is "invalid input
//                         syntax for type T: \"text\"".
//   BOOLEAN <-> INT, BIGINT
//   TIMESTAMP <-> TIMESTAMPTZ (identity), TIMESTAMP[TZ] -> DATE (floor), DATE -> TIMESTAMP[TZ]
//   T -> T                identity (DECIMAL rescales to the target's precision and scale)
bool CanCast(const sql::DataType& from, const sql::DataType& to);

// Casts one value (constant folding, pull-query parameters) with exactly the kernel's rules.
// NULL casts to NULL of `to`; kInvalidArgument if the cast is not allowed or fails.
Result<sql::Value> CastValue(const sql::Value& v, const sql::DataType& to);

}  // namespace sluice::exec
