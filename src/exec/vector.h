#pragma once

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "sql/types.h"

namespace sluice::exec {

using sql::DataType;
using sql::TypeId;

// How a SQL type is laid out in a column:
//   BOOLEAN -> uint8_t (0/1)          INT, DATE (days since epoch) -> int32_t
//   BIGINT, TIMESTAMP[TZ] (microseconds since epoch), DECIMAL(p<=18) (scaled) -> int64_t
//   DECIMAL(p>18) -> __int128 (scaled)  DOUBLE -> double
//   VARCHAR -> StringRef (into the chunk's arena)  INTERVAL -> sql::Interval
enum class PhysicalType : uint8_t { kBool, kInt32, kInt64, kInt128, kDouble, kString, kInterval };

PhysicalType PhysicalTypeOf(const DataType& type);
size_t PhysicalSize(PhysicalType type);

// A string value in a column: bytes owned by an arena (or by something that outlives the
// chunk). 16 bytes, trivially copyable.
struct StringRef {
  const char* data = nullptr;
  uint64_t size = 0;
  std::string_view view() const { return {data, size}; }
};

// Bump allocator for a chunk's strings. Reset() keeps the first block for reuse, so a chunk
// that is refilled batch after batch allocates nothing in steady state.
class StringArena {
 public:
  StringArena() = default;
  StringArena(const StringArena&) = delete;
  StringArena& operator=(const StringArena&) = delete;
  // Moving keeps every string where it is (the blocks change owner); the source is left empty.
  StringArena(StringArena&& other) noexcept { *this = std::move(other); }
  StringArena& operator=(StringArena&& other) noexcept {
    blocks_ = std::move(other.blocks_);
    first_block_size_ = other.first_block_size_;
    cursor_ = other.cursor_;
    remaining_ = other.remaining_;
    allocated_ = other.allocated_;
    other.blocks_.clear();
    other.cursor_ = nullptr;
    other.remaining_ = 0;
    other.allocated_ = 0;
    return *this;
  }

  // Copies `s` into the arena.
  StringRef Add(std::string_view s) {
    char* p = Allocate(s.size());
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    return StringRef{p, s.size()};
  }
  char* Allocate(size_t n) {
    if (n > remaining_) NewBlock(n);
    char* p = cursor_;
    cursor_ += n;
    remaining_ -= n;
    return p;
  }
  void Reset();
  size_t bytes_allocated() const { return allocated_; }

 private:
  static constexpr size_t kBlockSize = 64 * 1024;
  void NewBlock(size_t at_least);

  std::vector<std::unique_ptr<char[]>> blocks_;
  size_t first_block_size_ = 0;
  char* cursor_ = nullptr;
  size_t remaining_ = 0;
  size_t allocated_ = 0;
};

// One column of a chunk: `capacity` values of one type plus a validity bitmap. Fixed-size
// values live in one contiguous buffer so kernels loop over plain arrays.
class Vector {
 public:
  Vector(DataType type, size_t capacity);

  const DataType& type() const { return type_; }
  PhysicalType physical() const { return physical_; }
  size_t capacity() const { return capacity_; }

  template <typename T>
  T* data() {
    assert(sizeof(T) == PhysicalSize(physical_));
    return reinterpret_cast<T*>(data_.get());
  }
  template <typename T>
  const T* data() const {
    assert(sizeof(T) == PhysicalSize(physical_));
    return reinterpret_cast<const T*>(data_.get());
  }

  // The value buffer as bytes (capacity() * PhysicalSize(physical()) of them).
  uint8_t* raw_data() { return data_.get(); }
  const uint8_t* raw_data() const { return data_.get(); }

  // Validity: every row starts valid; SetNull marks one row NULL.
  bool IsNull(size_t row) const { return has_nulls_ && (validity_[row / 64] & (1ull << (row % 64))) == 0; }
  void SetNull(size_t row) {
    if (!has_nulls_) {
      std::fill(validity_.begin(), validity_.end(), ~0ull);
      has_nulls_ = true;
    }
    validity_[row / 64] &= ~(1ull << (row % 64));
  }
  void SetValid(size_t row) {
    if (has_nulls_) validity_[row / 64] |= 1ull << (row % 64);
  }
  // Marks every row NULL (the values are left as they are).
  void SetAllNull() {
    std::fill(validity_.begin(), validity_.end(), 0ull);
    has_nulls_ = true;
  }
  bool has_nulls() const { return has_nulls_; }
  const uint64_t* validity() const { return validity_.data(); }
  // Marks every row valid again (cheap when there were no NULLs).
  void ResetValidity() { has_nulls_ = false; }

 private:
  DataType type_;
  PhysicalType physical_;
  size_t capacity_;
  std::unique_ptr<uint8_t[]> data_;
  std::vector<uint64_t> validity_;  // bit set = valid; meaningful only when has_nulls_
  bool has_nulls_ = false;
};

// A batch of rows in columns: what operators pass to each other. Each row carries a weight
// (+1 insert, -1 retract); an insert-only chunk leaves `weights` empty.
class DataChunk {
 public:
  static constexpr size_t kDefaultCapacity = 2048;

  DataChunk() = default;
  DataChunk(const std::vector<DataType>& types, size_t capacity = kDefaultCapacity);

  size_t size() const { return size_; }
  void set_size(size_t n) {
    assert(n <= capacity_);
    size_ = n;
  }
  size_t capacity() const { return capacity_; }
  size_t column_count() const { return columns_.size(); }
  Vector& column(size_t i) { return columns_[i]; }
  const Vector& column(size_t i) const { return columns_[i]; }
  StringArena& arena() { return arena_; }

  std::vector<int8_t>& weights() { return weights_; }
  const std::vector<int8_t>& weights() const { return weights_; }
  int8_t weight(size_t row) const { return weights_.empty() ? 1 : weights_[row]; }

  // Empties the chunk for reuse: size 0, all valid, arena reset, no weights.
  void Reset();

 private:
  std::vector<Vector> columns_;
  std::vector<int8_t> weights_;
  StringArena arena_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace sluice::exec
