#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "sql/types.h"

namespace sluice::sql {

// One scalar SQL value with its type: constants in plans, rows of pull-query results.
// Representation per type (the same as exec's column layout, see exec/vector.h):
//   BOOLEAN bool | INT, DATE int32_t (days) | BIGINT, TIMESTAMP[TZ] int64_t (microseconds)
//   DECIMAL __int128 (scaled by 10^scale) | DOUBLE double | VARCHAR std::string | INTERVAL Interval
class Value {
 public:
  Value() = default;  // NULL of type BIGINT
  static Value Null(DataType type) {
    Value v;
    v.type_ = type;
    return v;
  }
  static Value Boolean(bool b) { return Value(DataType::Boolean(), b); }
  static Value Int(int32_t i) { return Value(DataType::Int(), i); }
  static Value Bigint(int64_t i) { return Value(DataType::Bigint(), i); }
  static Value Double(double d) { return Value(DataType::Double(), d); }
  static Value Decimal(__int128 scaled, uint8_t precision, uint8_t scale) {
    return Value(DataType::Decimal(precision, scale), scaled);
  }
  static Value Varchar(std::string s) { return Value(DataType::Varchar(), std::move(s)); }
  static Value Timestamp(int64_t micros) { return Value(DataType::Timestamp(), micros); }
  static Value Timestamptz(int64_t micros) { return Value(DataType::Timestamptz(), micros); }
  static Value Date(int32_t days) { return Value(DataType::Date(), days); }
  static Value IntervalValue(Interval iv) { return Value(DataType::Interval(), iv); }

  const DataType& type() const { return type_; }
  bool is_null() const { return std::holds_alternative<std::monostate>(data_); }

  // REQUIRES: !is_null() and the accessor matches the type's representation.
  bool boolean() const { return std::get<bool>(data_); }
  int32_t int32() const { return std::get<int32_t>(data_); }
  int64_t int64() const { return std::get<int64_t>(data_); }
  __int128 int128() const { return std::get<__int128>(data_); }
  double float64() const { return std::get<double>(data_); }
  const std::string& string() const { return std::get<std::string>(data_); }
  const Interval& interval() const { return std::get<Interval>(data_); }

  // Text as a cast to VARCHAR prints it (sql/value_text.h: "true"/"false" as PostgreSQL's
  // ::text, "2026-11-21 22:40:01.123" for timestamps), "NULL" for null. pgwire's boolean
  // "t"/"f" is the protocol edge's business.
  std::string ToString() const;

  bool operator==(const Value&) const = default;

 private:
  template <typename T>
  Value(DataType type, T v) : type_(type), data_(std::move(v)) {}

  DataType type_;
  std::variant<std::monostate, bool, int32_t, int64_t, __int128, double, std::string, Interval> data_;
};

}  // namespace sluice::sql
