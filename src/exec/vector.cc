#include "exec/vector.h"

#include <algorithm>

namespace sluice::exec {

PhysicalType PhysicalTypeOf(const DataType& type) {
  switch (type.id) {
    case TypeId::kBoolean: return PhysicalType::kBool;
    case TypeId::kInt:
    case TypeId::kDate: return PhysicalType::kInt32;
    case TypeId::kBigint:
    case TypeId::kTimestamp:
    case TypeId::kTimestamptz: return PhysicalType::kInt64;
    case TypeId::kDecimal: return type.precision <= 18 ? PhysicalType::kInt64 : PhysicalType::kInt128;
    case TypeId::kDouble: return PhysicalType::kDouble;
    case TypeId::kVarchar: return PhysicalType::kString;
    case TypeId::kInterval: return PhysicalType::kInterval;
  }
  return PhysicalType::kInt64;
}

size_t PhysicalSize(PhysicalType type) {
  switch (type) {
    case PhysicalType::kBool: return 1;
    case PhysicalType::kInt32: return 4;
    case PhysicalType::kInt64: return 8;
    case PhysicalType::kInt128: return 16;
    case PhysicalType::kDouble: return 8;
    case PhysicalType::kString: return sizeof(StringRef);
    case PhysicalType::kInterval: return sizeof(sql::Interval);
  }
  return 8;
}

void StringArena::NewBlock(size_t at_least) {
  // Reuse the first block after a Reset if it is big enough.
  size_t size = std::max(kBlockSize, at_least);
  blocks_.push_back(std::make_unique_for_overwrite<char[]>(size));  // not zero-filled: every byte is written before it is read
  if (blocks_.size() == 1) first_block_size_ = size;
  cursor_ = blocks_.back().get();
  remaining_ = size;
  allocated_ += size;
}

void StringArena::Reset() {
  if (blocks_.empty()) return;
  blocks_.resize(1);
  cursor_ = blocks_[0].get();
  remaining_ = first_block_size_;
  allocated_ = first_block_size_;
}

Vector::Vector(DataType type, size_t capacity)
    : type_(type),
      physical_(PhysicalTypeOf(type)),
      capacity_(capacity),
      data_(new uint8_t[capacity * PhysicalSize(physical_)]()),
      validity_((capacity + 63) / 64, ~0ull) {}

DataChunk::DataChunk(const std::vector<DataType>& types, size_t capacity) : capacity_(capacity) {
  columns_.reserve(types.size());
  for (const DataType& t : types) columns_.emplace_back(t, capacity);
}

void DataChunk::Reset() {
  for (Vector& v : columns_) v.ResetValidity();
  weights_.clear();
  arena_.Reset();
  size_ = 0;
}

}  // namespace sluice::exec
