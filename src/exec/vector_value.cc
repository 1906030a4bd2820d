#include "exec/vector_value.h"

#include <cassert>

namespace sluice::exec {

sql::Value GetValue(const Vector& v, size_t row) {
  const DataType& t = v.type();
  if (v.IsNull(row)) return sql::Value::Null(t);
  switch (t.id) {
    case TypeId::kBoolean: return sql::Value::Boolean(v.data<uint8_t>()[row] != 0);
    case TypeId::kInt: return sql::Value::Int(v.data<int32_t>()[row]);
    case TypeId::kBigint: return sql::Value::Bigint(v.data<int64_t>()[row]);
    case TypeId::kDouble: return sql::Value::Double(v.data<double>()[row]);
    case TypeId::kDecimal: {
      __int128 scaled = v.physical() == PhysicalType::kInt64 ? v.data<int64_t>()[row] : v.data<__int128>()[row];
      return sql::Value::Decimal(scaled, t.precision, t.scale);
    }
    case TypeId::kVarchar: return sql::Value::Varchar(std::string(v.data<StringRef>()[row].view()));
    case TypeId::kTimestamp: return sql::Value::Timestamp(v.data<int64_t>()[row]);
    case TypeId::kTimestamptz: return sql::Value::Timestamptz(v.data<int64_t>()[row]);
    case TypeId::kInterval: return sql::Value::IntervalValue(v.data<sql::Interval>()[row]);
    case TypeId::kDate: return sql::Value::Date(v.data<int32_t>()[row]);
  }
  return sql::Value::Null(t);
}

void SetValue(Vector* v, size_t row, const sql::Value& value, StringArena* arena) {
  if (value.is_null()) {
    v->SetNull(row);
    return;
  }
  assert(value.type().id == v->type().id && "SetValue: type mismatch");
  v->SetValid(row);
  switch (v->type().id) {
    case TypeId::kBoolean: v->data<uint8_t>()[row] = value.boolean(); break;
    case TypeId::kInt:
    case TypeId::kDate: v->data<int32_t>()[row] = value.int32(); break;
    case TypeId::kBigint:
    case TypeId::kTimestamp:
    case TypeId::kTimestamptz: v->data<int64_t>()[row] = value.int64(); break;
    case TypeId::kDouble: v->data<double>()[row] = value.float64(); break;
    case TypeId::kDecimal:
      if (v->physical() == PhysicalType::kInt64) {
        v->data<int64_t>()[row] = static_cast<int64_t>(value.int128());
      } else {
        v->data<__int128>()[row] = value.int128();
      }
      break;
    case TypeId::kVarchar: v->data<StringRef>()[row] = arena->Add(value.string()); break;
    case TypeId::kInterval: v->data<sql::Interval>()[row] = value.interval(); break;
  }
}

}  // namespace sluice::exec
