#include "common/clock.h"

#include <chrono>

namespace sluice {
namespace {

class RealClock final : public Clock {
 public:
  TimestampMs Now() const override {
    auto now = std::chrono::system_clock::now().time_since_epoch();
    return TimestampMs(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
  }
  int64_t MonotonicNanos() const override {
    auto now = std::chrono::steady_clock::now().time_since_epoch();
    return std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
  }
};

}  // namespace

Clock* Clock::Real() {
  static RealClock* clock = new RealClock();
  return clock;
}

}  // namespace sluice
