#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "common/status.h"

namespace sluice::sql {
class StateReader;
class StateWriter;
}  // namespace sluice::sql

namespace sluice::exec {

// HyperLogLog distinct-count sketch (Flajolet et al. 2007) with 2^12 one-byte registers
// (~1.6 % standard error) and linear counting for small cardinalities. Values are hashed with
// XXH3-64 by their bytes. Insert-only: a sketch cannot forget a value.
class HyperLogLog {
 public:
  static constexpr int kPrecision = 12;
  static constexpr uint32_t kRegisters = 1u << kPrecision;

  HyperLogLog();
  void Add(std::string_view bytes);
  void AddHash(uint64_t hash);
  // Estimated number of distinct values added.
  int64_t Estimate() const;

  // Checkpoints: the registers. Restore refuses a register count or rank that cannot be.
  void Snapshot(sql::StateWriter* out) const;
  Status Restore(sql::StateReader* in);

 private:
  std::unique_ptr<uint8_t[]> registers_;
};

}  // namespace sluice::exec
