#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "sql/value.h"

namespace sluice::sql {

// The byte encoding of operator state in checkpoints (docs/checkpointing.md): varints for
// integers, length-prefixed bytes, and values as a type (id, precision, scale) plus a null flag
// plus the value's physical representation.
class StateWriter {
 public:
  explicit StateWriter(std::string* out) : out_(out) {}
  void U64(uint64_t v);
  void I64(int64_t v) { U64((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void Bytes(std::string_view b);
  void F64(double d) { Fixed(&d, sizeof(d)); }   // the value's 8 bytes, as they are in memory
  void I128(__int128 x) { Fixed(&x, sizeof(x)); }
  void Val(const Value& v);
  void Row(const std::vector<Value>& row);
  // Length-prefixed bytes written in place: BeginFixedBytes reserves an 8-byte little-endian
  // length, EndFixedBytes(mark) fills it with what was written since (read with
  // StateReader::FixedBytesView). Nests.
  size_t BeginFixedBytes() {
    out_->append(8, '\0');
    return out_->size();
  }
  void EndFixedBytes(size_t mark) {
    const uint64_t n = out_->size() - mark;
    std::memcpy(out_->data() + mark - 8, &n, 8);  // little-endian hosts only, as the file header
  }

 private:
  void Fixed(const void* p, size_t n) { out_->append(static_cast<const char*>(p), n); }

  std::string* out_;
};

// Reads what StateWriter wrote; every read is bounds-checked and a malformed or truncated input
// is kCorruption, never a crash.
class StateReader {
 public:
  explicit StateReader(std::string_view in) : in_(in) {}
  Result<uint64_t> U64();
  Result<int64_t> I64();
  Result<std::string> Bytes();
  // The bytes of Bytes() without a copy (valid while the input is).
  Result<std::string_view> BytesView();
  // Bytes after an 8-byte little-endian length (StateWriter::BeginFixedBytes), without a copy.
  Result<std::string_view> FixedBytesView();
  Result<double> F64();
  Result<__int128> I128();
  Result<Value> Val();
  Result<std::vector<Value>> Row();
  // A count of items that follow, each at least one byte: refuses counts the input cannot hold.
  Result<uint64_t> Count();
  bool done() const { return in_.empty(); }
  std::string_view rest() const { return in_; }  // what is not read yet

 private:
  std::string_view in_;
};

}  // namespace sluice::sql
