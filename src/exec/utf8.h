#pragma once

// UTF-8 helpers for string kernels. Invalid sequences are never rejected: their bytes count as
// characters of their own and are copied unchanged.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice::exec::utf8 {

inline bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Number of code points.
inline size_t Length(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += !IsContinuation(static_cast<unsigned char>(c));
  return n;
}

// Byte length of the code point starting at s[i] (1 for a stray byte). REQUIRES: i < s.size().
inline size_t CharLength(std::string_view s, size_t i) {
  size_t j = i + 1;
  while (j < s.size() && IsContinuation(static_cast<unsigned char>(s[j]))) ++j;
  return j - i;
}

// Byte offset after skipping `n` code points from `from` (s.size() if the string ends first).
inline size_t Skip(std::string_view s, size_t from, uint64_t n) {
  size_t i = from;
  for (; n > 0 && i < s.size(); --n) i += CharLength(s, i);
  return i;
}

// Simple (one-to-one) case mapping of ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic.
// Every mapping keeps the encoded length, so the output is exactly as long as the input.
// Other characters are unchanged. `out` may equal `in`.
void Lower(std::string_view in, char* out);
void Upper(std::string_view in, char* out);

}  // namespace sluice::exec::utf8
