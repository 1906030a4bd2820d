#include "sql/value.h"

#include "sql/value_text.h"

namespace sluice::sql {

std::string Value::ToString() const {
  if (is_null()) return "NULL";
  char buf[kMaxValueTextSize];
  size_t n = 0;
  switch (type_.id) {
    case TypeId::kBoolean: n = FormatBoolean(boolean(), buf); break;
    case TypeId::kInt: n = FormatInt64(int32(), buf); break;
    case TypeId::kBigint: n = FormatInt64(int64(), buf); break;
    case TypeId::kDouble: n = FormatDouble(float64(), buf); break;
    case TypeId::kDecimal: n = FormatDecimal(int128(), type_.scale, buf); break;
    case TypeId::kVarchar: return string();
    case TypeId::kTimestamp: n = FormatTimestamp(int64(), /*with_zone=*/false, buf); break;
    case TypeId::kTimestamptz: n = FormatTimestamp(int64(), /*with_zone=*/true, buf); break;
    case TypeId::kInterval: n = FormatInterval(interval(), buf); break;
    case TypeId::kDate: n = FormatDate(int32(), buf); break;
  }
  return std::string(buf, n);
}

}  // namespace sluice::sql
