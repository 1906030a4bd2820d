#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice::server::kafka {

// Kafka protocol primitive types (https://kafka.apache.org/protocol#protocol_types), decoded
// from and encoded to request/response bodies. In "flexible" versions (KIP-482) strings, byte
// arrays and arrays are "compact" (length + 1 as an unsigned varint, 0 = null) and every
// struct ends with a tagged-field section.

// A bounded cursor over one request body. Never reads past the end: a failed read leaves the
// reader failed (ok() false), and every later read returns a zero value, so a handler decodes
// the whole request and checks ok() once at the end.
class WireReader {
 public:
  WireReader(std::string_view bytes, bool flexible) : rest_(bytes), flexible_(flexible) {}

  bool ok() const { return ok_; }
  bool flexible() const { return flexible_; }
  size_t remaining() const { return rest_.size(); }
  // What went wrong first, for logs (empty while ok).
  const std::string& error() const { return error_; }
  // kInvalidArgument naming the first failure, or ok.
  Status status() const;

  int8_t Int8();
  int16_t Int16();
  int32_t Int32();
  int64_t Int64();
  bool Bool() { return Int8() != 0; }
  uint32_t UnsignedVarint();
  int32_t Varint();
  void Uuid() { Bytes(16); }

  // STRING / COMPACT_STRING (by the reader's flexibility). A null string reads as "".
  std::string_view String();
  // NULLABLE_STRING / COMPACT_NULLABLE_STRING.
  std::optional<std::string_view> NullableString();
  // BYTES / COMPACT_BYTES and their nullable forms (records fields are nullable bytes).
  std::optional<std::string_view> NullableBytes();
  // ARRAY / COMPACT_ARRAY length: -1 for null, else the element count. Fails (and returns -1)
  // when the count cannot fit in the remaining bytes at `min_element_bytes` each, so a hostile
  // count never drives a large allocation.
  int32_t ArrayLength(size_t min_element_bytes = 1);
  // Skips a tagged-field section (flexible versions only; a no-op otherwise).
  void TaggedFields();

  // Marks the reader failed with `why` (first failure wins).
  void Fail(std::string_view why);

 private:
  std::string_view Bytes(size_t n);

  std::string_view rest_;
  bool flexible_;
  bool ok_ = true;
  std::string error_;
};

// Appends protocol primitives to a growing buffer.
class WireWriter {
 public:
  WireWriter(std::string* out, bool flexible) : out_(out), flexible_(flexible) {}

  bool flexible() const { return flexible_; }
  std::string* buffer() { return out_; }

  void Int8(int8_t v) { out_->push_back(static_cast<char>(v)); }
  void Bool(bool v) { Int8(v ? 1 : 0); }
  void Int16(int16_t v);
  void Int32(int32_t v);
  void Int64(int64_t v);
  void UnsignedVarint(uint32_t v);
  void Uuid() { out_->append(16, '\0'); }  // sluice has no topic ids: the zero UUID
  void String(std::string_view s);
  void NullableString(std::optional<std::string_view> s);
  void NullableBytes(std::optional<std::string_view> b);
  // The length prefix of non-null bytes of `size` (NullableBytes without the bytes), for bytes
  // that are spliced in rather than copied.
  void BytesLength(size_t size);
  void ArrayLength(int32_t n);  // -1 = null
  void EmptyTaggedFields() {
    if (flexible_) UnsignedVarint(0);
  }
  // Overwrites 4 bytes at `pos` with a big-endian int32 (frame sizes).
  void PatchInt32(size_t pos, int32_t v);

 private:
  std::string* out_;
  bool flexible_;
};

}  // namespace sluice::server::kafka
