#include "server/kafka/wire.h"

#include <fmt/format.h>

namespace sluice::server::kafka {

namespace {

template <typename T>
T LoadBigEndian(std::string_view b) {
  using U = std::make_unsigned_t<T>;
  U v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v = static_cast<U>((v << 8) | static_cast<uint8_t>(b[i]));
  return static_cast<T>(v);
}

template <typename T>
void StoreBigEndian(std::string* out, T v) {
  using U = std::make_unsigned_t<T>;
  const U u = static_cast<U>(v);
  for (int i = static_cast<int>(sizeof(T)) - 1; i >= 0; --i) out->push_back(static_cast<char>((u >> (8 * i)) & 0xFF));
}

}  // namespace

Status WireReader::status() const { return ok_ ? Status::Ok() : Status::InvalidArgument(error_); }

void WireReader::Fail(std::string_view why) {
  if (ok_) error_ = std::string(why);
  ok_ = false;
  rest_ = {};
}

std::string_view WireReader::Bytes(size_t n) {
  if (!ok_) return {};
  if (n > rest_.size()) {
    Fail(fmt::format("request ends {} bytes early", n - rest_.size()));
    return {};
  }
  std::string_view out = rest_.substr(0, n);
  rest_.remove_prefix(n);
  return out;
}

int8_t WireReader::Int8() {
  std::string_view b = Bytes(1);
  return b.empty() ? 0 : static_cast<int8_t>(b[0]);
}
int16_t WireReader::Int16() {
  std::string_view b = Bytes(2);
  return b.empty() ? 0 : LoadBigEndian<int16_t>(b);
}
int32_t WireReader::Int32() {
  std::string_view b = Bytes(4);
  return b.empty() ? 0 : LoadBigEndian<int32_t>(b);
}
int64_t WireReader::Int64() {
  std::string_view b = Bytes(8);
  return b.empty() ? 0 : LoadBigEndian<int64_t>(b);
}

uint32_t WireReader::UnsignedVarint() {
  uint32_t v = 0;
  for (int shift = 0; shift <= 28; shift += 7) {
    std::string_view b = Bytes(1);
    if (b.empty()) return 0;
    const auto byte = static_cast<uint8_t>(b[0]);
    if (shift == 28 && (byte & 0xF0) != 0) break;
    v |= static_cast<uint32_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) return v;
  }
  Fail("unsigned varint longer than 32 bits");
  return 0;
}

int32_t WireReader::Varint() {
  const uint32_t u = UnsignedVarint();
  return static_cast<int32_t>((u >> 1) ^ (~(u & 1) + 1));
}

std::optional<std::string_view> WireReader::NullableString() {
  int64_t length;
  if (flexible_) {
    length = static_cast<int64_t>(UnsignedVarint()) - 1;
  } else {
    length = Int16();
  }
  if (!ok_) return std::nullopt;
  if (length < -1) {
    Fail(fmt::format("string length {}", length));
    return std::nullopt;
  }
  if (length == -1) return std::nullopt;
  std::string_view s = Bytes(static_cast<size_t>(length));
  if (!ok_) return std::nullopt;
  return s;
}

std::string_view WireReader::String() { return NullableString().value_or(std::string_view()); }

std::optional<std::string_view> WireReader::NullableBytes() {
  int64_t length = flexible_ ? static_cast<int64_t>(UnsignedVarint()) - 1 : Int32();
  if (!ok_) return std::nullopt;
  if (length < -1) {
    Fail(fmt::format("bytes length {}", length));
    return std::nullopt;
  }
  if (length == -1) return std::nullopt;
  std::string_view b = Bytes(static_cast<size_t>(length));
  if (!ok_) return std::nullopt;
  return b;
}

int32_t WireReader::ArrayLength(size_t min_element_bytes) {
  int64_t n = flexible_ ? static_cast<int64_t>(UnsignedVarint()) - 1 : Int32();
  if (!ok_) return -1;
  if (n < -1) {
    Fail(fmt::format("array length {}", n));
    return -1;
  }
  if (n > 0 && static_cast<uint64_t>(n) * std::max<size_t>(min_element_bytes, 1) > rest_.size()) {
    Fail(fmt::format("array of {} elements in {} bytes", n, rest_.size()));
    return -1;
  }
  return static_cast<int32_t>(n);
}

void WireReader::TaggedFields() {
  if (!flexible_) return;
  const uint32_t count = UnsignedVarint();
  for (uint32_t i = 0; i < count && ok_; ++i) {
    (void)UnsignedVarint();  // tag
    const uint32_t size = UnsignedVarint();
    Bytes(size);
  }
}

void WireWriter::Int16(int16_t v) { StoreBigEndian(out_, v); }
void WireWriter::Int32(int32_t v) { StoreBigEndian(out_, v); }
void WireWriter::Int64(int64_t v) { StoreBigEndian(out_, v); }

void WireWriter::UnsignedVarint(uint32_t v) {
  while (v >= 0x80) {
    out_->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out_->push_back(static_cast<char>(v));
}

void WireWriter::NullableString(std::optional<std::string_view> s) {
  if (flexible_) {
    UnsignedVarint(s ? static_cast<uint32_t>(s->size() + 1) : 0);
  } else {
    Int16(s ? static_cast<int16_t>(s->size()) : int16_t{-1});
  }
  if (s) out_->append(*s);
}

void WireWriter::String(std::string_view s) { NullableString(s); }

void WireWriter::NullableBytes(std::optional<std::string_view> b) {
  if (!b) {
    if (flexible_) {
      UnsignedVarint(0);
    } else {
      Int32(-1);
    }
    return;
  }
  BytesLength(b->size());
  out_->append(*b);
}

void WireWriter::BytesLength(size_t size) {
  if (flexible_) {
    UnsignedVarint(static_cast<uint32_t>(size + 1));
  } else {
    Int32(static_cast<int32_t>(size));
  }
}

void WireWriter::ArrayLength(int32_t n) {
  if (flexible_) {
    UnsignedVarint(n < 0 ? 0 : static_cast<uint32_t>(n) + 1);
  } else {
    Int32(n);
  }
}

void WireWriter::PatchInt32(size_t pos, int32_t v) {
  const auto u = static_cast<uint32_t>(v);
  for (int i = 0; i < 4; ++i) (*out_)[pos + i] = static_cast<char>((u >> (8 * (3 - i))) & 0xFF);
}

}  // namespace sluice::server::kafka
