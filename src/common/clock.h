#pragma once

#include <atomic>
#include <cstdint>

#include "common/types.h"

namespace sluice {

// The seam for time: production code asks a Clock, tests inject a ManualClock.
// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time (for log append timestamps, retention, idempotency windows).
  virtual TimestampMs Now() const = 0;
  // Monotonic nanoseconds (for latencies and intervals); unrelated to wall time.
  virtual int64_t MonotonicNanos() const = 0;

  // The process's real clock; never destroyed.
  static Clock* Real();
};

// A clock that moves only when told to.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimestampMs start = TimestampMs(1'700'000'000'000)) : now_ms_(start.value()) {}
  TimestampMs Now() const override { return TimestampMs(now_ms_.load()); }
  int64_t MonotonicNanos() const override { return mono_ns_.load(); }
  void Advance(int64_t ms) {
    now_ms_ += ms;
    mono_ns_ += ms * 1'000'000;
  }

 private:
  std::atomic<int64_t> now_ms_;
  std::atomic<int64_t> mono_ns_{0};
};

}  // namespace sluice
