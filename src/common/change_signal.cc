#include "common/change_signal.h"

namespace sluice {

void ChangeSignal::Notify() {
  epoch_.fetch_add(1, std::memory_order_seq_cst);
  if (waiters_.load(std::memory_order_seq_cst) == 0) return;
  std::lock_guard<std::mutex> lock(mu_);  // a waiter between its check and its wait holds mu_
  cv_.notify_all();
}

void ChangeSignal::WaitFor(uint64_t seen, std::chrono::microseconds timeout) {
  waiters_.fetch_add(1, std::memory_order_seq_cst);
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return epoch_.load(std::memory_order_seq_cst) != seen; });
  }
  waiters_.fetch_sub(1, std::memory_order_seq_cst);
}

}  // namespace sluice
