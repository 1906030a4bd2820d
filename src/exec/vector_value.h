#pragma once

#include <cstddef>

#include "exec/vector.h"
#include "sql/value.h"

namespace sluice::exec {

// Boxing of single cells, for operators' edges and pull queries (never inside kernels).

// The value at `row` of `v` (NULL of v's type if the row is NULL).
sql::Value GetValue(const Vector& v, size_t row);

// Stores `value` at `row` of `v`, copying strings into `arena`.
// REQUIRES: value.type() == v->type(), or value is NULL; row < v->capacity().
void SetValue(Vector* v, size_t row, const sql::Value& value, StringArena* arena);

}  // namespace sluice::exec
