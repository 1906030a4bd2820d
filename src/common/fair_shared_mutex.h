#pragma once

#include <atomic>
#include <mutex>
#include <shared_mutex>

namespace sluice {

// A reader-writer lock under which a steady stream of readers cannot starve a writer (glibc's
// rwlock, behind std::shared_mutex, prefers readers): a writer takes a gate first, and readers
// pass the gate before they share the lock, so readers that come after a waiting writer wait
// behind it. try_lock_shared never waits, and fails while a writer waits or holds the lock.
// Meets the Lockable and SharedLockable requirements (std::unique_lock, std::shared_lock).
class FairSharedMutex {
 public:
  void lock() {
    writers_.fetch_add(1, std::memory_order_seq_cst);
    gate_.lock();
    mu_.lock();
  }
  bool try_lock() {
    if (!gate_.try_lock()) return false;
    if (!mu_.try_lock()) {
      gate_.unlock();
      return false;
    }
    writers_.fetch_add(1, std::memory_order_seq_cst);
    return true;
  }
  void unlock() {
    mu_.unlock();
    gate_.unlock();
    writers_.fetch_sub(1, std::memory_order_seq_cst);
  }

  void lock_shared() {
    { std::lock_guard<std::mutex> pass(gate_); }
    mu_.lock_shared();
  }
  bool try_lock_shared() {
    if (writers_.load(std::memory_order_seq_cst) > 0) return false;
    return mu_.try_lock_shared();
  }
  void unlock_shared() { mu_.unlock_shared(); }

  // Writers waiting for or holding the lock (for tests).
  int writers() const { return writers_.load(std::memory_order_seq_cst); }

 private:
  std::atomic<int> writers_{0};
  std::mutex gate_;
  std::shared_mutex mu_;
};

}  // namespace sluice
