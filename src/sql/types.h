#pragma once

#include <cstdint>
#include <string>

namespace sluice::sql {

// An interval as PostgreSQL keeps it: months and days do not have a fixed length in time.
struct Interval {
  int32_t months = 0;
  int32_t days = 0;
  int64_t micros = 0;
  bool operator==(const Interval&) const = default;
};

// SQL data types (SPEC §3). How each is stored in memory is exec's business (exec/vector.h).
enum class TypeId : uint8_t {
  kBoolean, kInt, kBigint, kDouble, kDecimal, kVarchar, kTimestamp, kTimestamptz, kInterval, kDate,
};

struct DataType {
  TypeId id = TypeId::kBigint;
  uint8_t precision = 0;  // DECIMAL(p, s) only
  uint8_t scale = 0;
  std::string ToString() const;  // "DECIMAL(10,2)", "VARCHAR", ...
  bool operator==(const DataType&) const = default;

  static DataType Boolean() { return {TypeId::kBoolean}; }
  static DataType Int() { return {TypeId::kInt}; }
  static DataType Bigint() { return {TypeId::kBigint}; }
  static DataType Double() { return {TypeId::kDouble}; }
  static DataType Decimal(uint8_t p, uint8_t s) { return {TypeId::kDecimal, p, s}; }
  static DataType Varchar() { return {TypeId::kVarchar}; }
  static DataType Timestamp() { return {TypeId::kTimestamp}; }
  static DataType Timestamptz() { return {TypeId::kTimestamptz}; }
  static DataType Interval() { return {TypeId::kInterval}; }
  static DataType Date() { return {TypeId::kDate}; }
};

}  // namespace sluice::sql
