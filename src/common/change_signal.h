#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace sluice {

// "Something may have changed since you last looked": writers bump an epoch, readers that found
// nothing to do wait until the epoch moves on or a timeout passes. Notify costs an atomic add
// and, only when someone waits, a lock and a wake-up, so it can sit on an append path.
//
//   uint64_t seen = signal.epoch();
//   if (!DoWork()) signal.WaitFor(seen, std::chrono::milliseconds(5));
//
// Taking the epoch before looking for work means a change made while looking is not missed.
// Thread-safe.
class ChangeSignal {
 public:
  uint64_t epoch() const { return epoch_.load(std::memory_order_seq_cst); }

  void Notify();

  // Returns when epoch() != seen (at once if it already differs) or after `timeout`.
  void WaitFor(uint64_t seen, std::chrono::microseconds timeout);

 private:
  // Notify bumps epoch_ then reads waiters_; WaitFor bumps waiters_ then reads epoch_ under mu_;
  // both sequentially consistent, so one of them sees the other's write.
  std::atomic<uint64_t> epoch_{0};
  std::atomic<int32_t> waiters_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace sluice
