#pragma once

#include "common/json_writer.h"
#include "sql/value.h"

namespace sluice::sql {

// One SQL value as JSON: numbers as numbers (DECIMAL keeps its exact digits; NaN and the
// infinities, which JSON lacks, as strings), booleans as booleans, NULL as null, everything else
// as the text PostgreSQL would print.
void WriteJsonValue(JsonWriter& json, const Value& v);

}  // namespace sluice::sql
