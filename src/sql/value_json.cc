#include "sql/value_json.h"

#include <cmath>

namespace sluice::sql {

void WriteJsonValue(JsonWriter& json, const Value& v) {
  if (v.is_null()) {
    json.Null();
    return;
  }
  switch (v.type().id) {
    case TypeId::kBoolean:
      json.Bool(v.boolean());
      return;
    case TypeId::kInt:
      json.Int(v.int32());
      return;
    case TypeId::kBigint:
      json.Int(v.int64());
      return;
    case TypeId::kDouble:
      if (std::isfinite(v.float64())) {
        json.Raw(v.ToString());
      } else {
        json.String(v.ToString());
      }
      return;
    case TypeId::kDecimal:
      json.Raw(v.ToString());
      return;
    default:
      json.String(v.ToString());
      return;
  }
}

}  // namespace sluice::sql
