#include "common/murmur2.h"

namespace sluice {

int32_t Murmur2(std::string_view data) {
  constexpr uint32_t kSeed = 0x9747b28cu;
  constexpr uint32_t kM = 0x5bd1e995u;
  constexpr int kR = 24;

  const auto length = static_cast<uint32_t>(data.size());
  // Java bytes are signed; the reference masks each with 0xff when assembling words, which is
  // the same as reading them unsigned. Arithmetic is modulo 2^32, so unsigned is exact.
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  uint32_t h = kSeed ^ length;

  const uint32_t words = length / 4;
  for (uint32_t i = 0; i < words; ++i) {
    const unsigned char* w = p + 4 * i;
    uint32_t k = static_cast<uint32_t>(w[0]) | (static_cast<uint32_t>(w[1]) << 8) |
                 (static_cast<uint32_t>(w[2]) << 16) | (static_cast<uint32_t>(w[3]) << 24);
    k *= kM;
    k ^= k >> kR;
    k *= kM;
    h *= kM;
    h ^= k;
  }

  const unsigned char* tail = p + 4 * words;
  switch (length % 4) {
    case 3:
      h ^= static_cast<uint32_t>(tail[2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<uint32_t>(tail[1]) << 8;
      [[fallthrough]];
    case 1:
      h ^= static_cast<uint32_t>(tail[0]);
      h *= kM;
  }

  h ^= h >> 13;
  h *= kM;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

}  // namespace sluice
