#pragma once

// Kafka's variable-length integers (zigzag + base-128, least significant group first, as in
// protobuf's sint32/sint64) and big-endian fixed-width integers, for the RecordBatch v2 format.
// Header-only: these sit on the encode/decode hot path.
//
// Encoders write into caller-provided space (kMaxVarintBytes / kMaxVarlongBytes suffice) and
// return the end of what they wrote. Decoders take a std::string_view cursor, advance it past
// the value on success, and on failure (input ends mid-value, more groups than the type can
// hold, or bits beyond the type's width) return false and leave the cursor unchanged.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace sluice {

inline constexpr size_t kMaxVarintBytes = 5;    // int32
inline constexpr size_t kMaxVarlongBytes = 10;  // int64

constexpr uint32_t ZigZagEncode32(int32_t v) {
  return (static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31);
}
constexpr uint64_t ZigZagEncode64(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
constexpr int32_t ZigZagDecode32(uint32_t v) {
  return static_cast<int32_t>((v >> 1) ^ (~(v & 1) + 1));
}
constexpr int64_t ZigZagDecode64(uint64_t v) {
  return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
}

// Bytes the unsigned base-128 encoding of `u` takes.
constexpr size_t UnsignedVarSize(uint64_t u) {
  size_t n = 1;
  while (u >= 0x80) {
    u >>= 7;
    ++n;
  }
  return n;
}
constexpr size_t VarintSize(int32_t v) { return UnsignedVarSize(ZigZagEncode32(v)); }
constexpr size_t VarlongSize(int64_t v) { return UnsignedVarSize(ZigZagEncode64(v)); }

inline char* EncodeUnsignedVar(char* dst, uint64_t u) {
  while (u >= 0x80) {
    *dst++ = static_cast<char>((u & 0x7F) | 0x80);
    u >>= 7;
  }
  *dst++ = static_cast<char>(u);
  return dst;
}
// REQUIRES: dst has room for kMaxVarintBytes.
inline char* EncodeVarint(char* dst, int32_t v) {
  return EncodeUnsignedVar(dst, ZigZagEncode32(v));
}
// REQUIRES: dst has room for kMaxVarlongBytes.
inline char* EncodeVarlong(char* dst, int64_t v) {
  return EncodeUnsignedVar(dst, ZigZagEncode64(v));
}

inline void PutVarint(std::string* dst, int32_t v) {
  char buf[kMaxVarintBytes];
  dst->append(buf, EncodeVarint(buf, v));
}
inline void PutVarlong(std::string* dst, int64_t v) {
  char buf[kMaxVarlongBytes];
  dst->append(buf, EncodeVarlong(buf, v));
}

// Decodes an unsigned base-128 value of at most `bits` bits (32 or 64).
inline bool DecodeUnsignedVar(std::string_view* in, int bits, uint64_t* out) {
  const size_t max_bytes = (static_cast<size_t>(bits) + 6) / 7;
  uint64_t result = 0;
  const size_t n = in->size();
  for (size_t i = 0; i < n && i < max_bytes; ++i) {
    const auto byte = static_cast<uint8_t>((*in)[i]);
    const int shift = static_cast<int>(7 * i);
    if (i + 1 == max_bytes && (byte >> (bits - shift)) != 0) return false;  // overflow or overlong
    result |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) {
      in->remove_prefix(i + 1);
      *out = result;
      return true;
    }
  }
  return false;  // truncated, or a continuation bit on the last allowed byte
}

inline bool GetVarint(std::string_view* in, int32_t* out) {
  uint64_t u;
  if (!DecodeUnsignedVar(in, 32, &u)) return false;
  *out = ZigZagDecode32(static_cast<uint32_t>(u));
  return true;
}
inline bool GetVarlong(std::string_view* in, int64_t* out) {
  uint64_t u;
  if (!DecodeUnsignedVar(in, 64, &u)) return false;
  *out = ZigZagDecode64(u);
  return true;
}

// Big-endian fixed width. Store*/Load* work on raw memory (REQUIRES: enough bytes);
// Put* append to a string.
inline void StoreBigEndian16(char* dst, uint16_t v) {
  v = __builtin_bswap16(v);
  std::memcpy(dst, &v, sizeof(v));
}
inline void StoreBigEndian32(char* dst, uint32_t v) {
  v = __builtin_bswap32(v);
  std::memcpy(dst, &v, sizeof(v));
}
inline void StoreBigEndian64(char* dst, uint64_t v) {
  v = __builtin_bswap64(v);
  std::memcpy(dst, &v, sizeof(v));
}
inline uint16_t LoadBigEndian16(const char* src) {
  uint16_t v;
  std::memcpy(&v, src, sizeof(v));
  return __builtin_bswap16(v);
}
inline uint32_t LoadBigEndian32(const char* src) {
  uint32_t v;
  std::memcpy(&v, src, sizeof(v));
  return __builtin_bswap32(v);
}
inline uint64_t LoadBigEndian64(const char* src) {
  uint64_t v;
  std::memcpy(&v, src, sizeof(v));
  return __builtin_bswap64(v);
}
inline void PutBigEndian16(std::string* dst, uint16_t v) {
  char buf[2];
  StoreBigEndian16(buf, v);
  dst->append(buf, sizeof(buf));
}
inline void PutBigEndian32(std::string* dst, uint32_t v) {
  char buf[4];
  StoreBigEndian32(buf, v);
  dst->append(buf, sizeof(buf));
}
inline void PutBigEndian64(std::string* dst, uint64_t v) {
  char buf[8];
  StoreBigEndian64(buf, v);
  dst->append(buf, sizeof(buf));
}

}  // namespace sluice
