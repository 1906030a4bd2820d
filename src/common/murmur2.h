#pragma once

#include <cstdint>
#include <string_view>

namespace sluice {

// MurmurHash2 (32-bit) exactly as Kafka's Java client computes it (Utils.murmur2, seed
// 0x9747b28c), so that keys land on the same partitions as with Kafka's default partitioner.
int32_t Murmur2(std::string_view data);

// Kafka's Utils.toPositive: clears the sign bit (not abs(), which fails for INT_MIN).
inline int32_t ToPositive(int32_t x) { return x & 0x7fffffff; }

}  // namespace sluice
