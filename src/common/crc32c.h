#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of Kafka RecordBatch v2.
// Uses the CPU's crc32 instruction when the CPU has SSE4.2 (checked once, at run time), else a
// portable slicing-by-8 table implementation. Both give identical results. Thread-safe.

// Extends `crc` (the CRC-32C of some prefix; 0 for none) over `n` more bytes at `data`.
uint32_t Crc32cExtend(uint32_t crc, const char* data, size_t n);

inline uint32_t Crc32c(std::string_view data) { return Crc32cExtend(0, data.data(), data.size()); }

namespace crc32c_internal {
// The table-driven implementation, exposed so tests can compare it with the hardware path.
uint32_t ExtendPortable(uint32_t crc, const char* data, size_t n);
// The SSE4.2 implementation. REQUIRES: HardwareAvailable().
uint32_t ExtendHardware(uint32_t crc, const char* data, size_t n);
bool HardwareAvailable();
}  // namespace crc32c_internal

}  // namespace sluice
