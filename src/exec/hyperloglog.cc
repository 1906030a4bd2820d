#include "exec/hyperloglog.h"

#include <cmath>

#include <xxhash.h>

#include "sql/value_codec.h"

namespace sluice::exec {

HyperLogLog::HyperLogLog() : registers_(new uint8_t[kRegisters]()) {}

void HyperLogLog::Add(std::string_view bytes) { AddHash(XXH3_64bits(bytes.data(), bytes.size())); }

void HyperLogLog::AddHash(uint64_t hash) {
  const uint32_t index = static_cast<uint32_t>(hash >> (64 - kPrecision));
  // Rank: position of the first 1 bit in the remaining 52 bits (1-based).
  const uint64_t rest = (hash << kPrecision) | (uint64_t{1} << (kPrecision - 1));
  const uint8_t rank = static_cast<uint8_t>(__builtin_clzll(rest) + 1);
  if (rank > registers_[index]) registers_[index] = rank;
}

int64_t HyperLogLog::Estimate() const {
  const double m = kRegisters;
  double sum = 0;
  uint32_t zeros = 0;
  for (uint32_t i = 0; i < kRegisters; ++i) {
    sum += std::ldexp(1.0, -registers_[i]);
    zeros += registers_[i] == 0;
  }
  const double alpha = 0.7213 / (1 + 1.079 / m);
  double estimate = alpha * m * m / sum;
  // Small range: linear counting is more accurate while registers are still empty.
  if (estimate <= 2.5 * m && zeros > 0) estimate = m * std::log(m / zeros);
  return static_cast<int64_t>(std::llround(estimate));
}

void HyperLogLog::Snapshot(sql::StateWriter* out) const {
  out->Bytes(std::string_view(reinterpret_cast<const char*>(registers_.get()), kRegisters));
}

Status HyperLogLog::Restore(sql::StateReader* in) {
  SLUICE_ASSIGN_OR_RETURN(std::string bytes, in->Bytes());
  if (bytes.size() != kRegisters) return Status::Corruption("HyperLogLog state has the wrong register count");
  for (char c : bytes) {
    // A rank is at most the 64 - kPrecision remaining bits plus one.
    if (static_cast<uint8_t>(c) > 64 - kPrecision + 1) return Status::Corruption("HyperLogLog register out of range");
  }
  std::copy(bytes.begin(), bytes.end(), registers_.get());
  return Status::Ok();
}

}  // namespace sluice::exec
