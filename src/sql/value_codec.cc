#include "sql/value_codec.h"

#include <cstring>

namespace sluice::sql {
namespace {

Status Truncated() { return Status::Corruption("operator state is truncated or malformed"); }

}  // namespace

void StateWriter::U64(uint64_t v) {
  // Into a local buffer, then one append: a checkpoint writes tens of millions of these.
  char b[10];
  size_t n = 0;
  while (v >= 0x80) {
    b[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  b[n++] = static_cast<char>(v);
  out_->append(b, n);
}

void StateWriter::Bytes(std::string_view b) {
  U64(b.size());
  out_->append(b);
}

void StateWriter::Val(const Value& v) {
  const char header[4] = {static_cast<char>(v.type().id), static_cast<char>(v.type().precision),
                          static_cast<char>(v.type().scale), static_cast<char>(v.is_null() ? 0 : 1)};
  out_->append(header, sizeof(header));
  if (v.is_null()) return;
  switch (v.type().id) {
    case TypeId::kBoolean: out_->push_back(v.boolean() ? 1 : 0); return;
    case TypeId::kInt:
    case TypeId::kDate: I64(v.int32()); return;
    case TypeId::kBigint:
    case TypeId::kTimestamp:
    case TypeId::kTimestamptz: I64(v.int64()); return;
    case TypeId::kDecimal: {
      const __int128 x = v.int128();
      out_->append(reinterpret_cast<const char*>(&x), sizeof(x));
      return;
    }
    case TypeId::kDouble: {
      const double d = v.float64();
      out_->append(reinterpret_cast<const char*>(&d), sizeof(d));
      return;
    }
    case TypeId::kVarchar: Bytes(v.string()); return;
    case TypeId::kInterval:
      I64(v.interval().months);
      I64(v.interval().days);
      I64(v.interval().micros);
      return;
  }
}

void StateWriter::Row(const std::vector<Value>& row) {
  U64(row.size());
  for (const Value& v : row) Val(v);
}

Result<uint64_t> StateReader::U64() {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in_.empty()) return Truncated();
    const uint8_t b = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
  return Truncated();
}

Result<int64_t> StateReader::I64() {
  SLUICE_ASSIGN_OR_RETURN(uint64_t u, U64());
  return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
}

Result<std::string> StateReader::Bytes() {
  SLUICE_ASSIGN_OR_RETURN(uint64_t n, U64());
  if (n > in_.size()) return Truncated();
  std::string b(in_.substr(0, n));
  in_.remove_prefix(n);
  return b;
}

Result<std::string_view> StateReader::BytesView() {
  SLUICE_ASSIGN_OR_RETURN(uint64_t n, U64());
  if (n > in_.size()) return Truncated();
  std::string_view b = in_.substr(0, n);
  in_.remove_prefix(n);
  return b;
}

Result<std::string_view> StateReader::FixedBytesView() {
  uint64_t n;
  if (in_.size() < sizeof(n)) return Truncated();
  std::memcpy(&n, in_.data(), sizeof(n));
  in_.remove_prefix(sizeof(n));
  if (n > in_.size()) return Truncated();
  std::string_view b = in_.substr(0, n);
  in_.remove_prefix(n);
  return b;
}

Result<uint64_t> StateReader::Count() {
  SLUICE_ASSIGN_OR_RETURN(uint64_t n, U64());
  if (n > in_.size()) return Truncated();
  return n;
}

Result<double> StateReader::F64() {
  double d;
  if (in_.size() < sizeof(d)) return Truncated();
  std::memcpy(&d, in_.data(), sizeof(d));
  in_.remove_prefix(sizeof(d));
  return d;
}

Result<__int128> StateReader::I128() {
  __int128 x;
  if (in_.size() < sizeof(x)) return Truncated();
  std::memcpy(&x, in_.data(), sizeof(x));
  in_.remove_prefix(sizeof(x));
  return x;
}

Result<Value> StateReader::Val() {
  if (in_.size() < 4) return Truncated();
  const auto id = static_cast<uint8_t>(in_[0]);
  if (id > static_cast<uint8_t>(TypeId::kDate)) return Truncated();
  DataType type{static_cast<TypeId>(id), static_cast<uint8_t>(in_[1]), static_cast<uint8_t>(in_[2])};
  const bool present = in_[3] != 0;
  in_.remove_prefix(4);
  if (!present) return Value::Null(type);
  auto fixed = [&](void* dst, size_t n) -> Status {
    if (in_.size() < n) return Truncated();
    std::memcpy(dst, in_.data(), n);
    in_.remove_prefix(n);
    return Status::Ok();
  };
  switch (type.id) {
    case TypeId::kBoolean: {
      if (in_.empty()) return Truncated();
      const bool b = in_[0] != 0;
      in_.remove_prefix(1);
      return Value::Boolean(b);
    }
    case TypeId::kInt: {
      SLUICE_ASSIGN_OR_RETURN(int64_t x, I64());
      return Value::Int(static_cast<int32_t>(x));
    }
    case TypeId::kDate: {
      SLUICE_ASSIGN_OR_RETURN(int64_t x, I64());
      return Value::Date(static_cast<int32_t>(x));
    }
    case TypeId::kBigint: {
      SLUICE_ASSIGN_OR_RETURN(int64_t x, I64());
      return Value::Bigint(x);
    }
    case TypeId::kTimestamp: {
      SLUICE_ASSIGN_OR_RETURN(int64_t x, I64());
      return Value::Timestamp(x);
    }
    case TypeId::kTimestamptz: {
      SLUICE_ASSIGN_OR_RETURN(int64_t x, I64());
      return Value::Timestamptz(x);
    }
    case TypeId::kDecimal: {
      __int128 x;
      SLUICE_RETURN_IF_ERROR(fixed(&x, sizeof(x)));
      return Value::Decimal(x, type.precision, type.scale);
    }
    case TypeId::kDouble: {
      double d;
      SLUICE_RETURN_IF_ERROR(fixed(&d, sizeof(d)));
      return Value::Double(d);
    }
    case TypeId::kVarchar: {
      SLUICE_ASSIGN_OR_RETURN(std::string s, Bytes());
      return Value::Varchar(std::move(s));
    }
    case TypeId::kInterval: {
      SLUICE_ASSIGN_OR_RETURN(int64_t months, I64());
      SLUICE_ASSIGN_OR_RETURN(int64_t days, I64());
      SLUICE_ASSIGN_OR_RETURN(int64_t micros, I64());
      return Value::IntervalValue({static_cast<int32_t>(months), static_cast<int32_t>(days), micros});
    }
  }
  return Truncated();
}

Result<std::vector<Value>> StateReader::Row() {
  SLUICE_ASSIGN_OR_RETURN(uint64_t n, Count());
  std::vector<Value> row;
  row.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    SLUICE_ASSIGN_OR_RETURN(Value v, Val());
    row.push_back(std::move(v));
  }
  return row;
}

}  // namespace sluice::sql
