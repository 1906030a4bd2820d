#include "common/fair_shared_mutex.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace sluice {
namespace {

TEST(FairSharedMutexTest, ReadersShareAndAWriterExcludesThem) {
  FairSharedMutex mu;
  std::shared_lock<FairSharedMutex> a(mu);
  std::shared_lock<FairSharedMutex> b(mu, std::try_to_lock);
  EXPECT_TRUE(b.owns_lock());
  EXPECT_FALSE(mu.try_lock());
  a.unlock();
  b.unlock();
  std::unique_lock<FairSharedMutex> w(mu, std::try_to_lock);
  ASSERT_TRUE(w.owns_lock());
  EXPECT_FALSE(mu.try_lock_shared());
  w.unlock();
  EXPECT_EQ(mu.writers(), 0);
  EXPECT_TRUE(mu.try_lock_shared());
  mu.unlock_shared();
}

TEST(FairSharedMutexTest, AWaitingWriterTurnsNewReadersAway) {
  FairSharedMutex mu;
  mu.lock_shared();  // a long reader
  std::atomic<bool> wrote{false};
  std::thread writer([&] {
    std::unique_lock<FairSharedMutex> w(mu);
    wrote = true;
  });
  while (mu.writers() == 0) std::this_thread::yield();
  EXPECT_FALSE(mu.try_lock_shared());  // would otherwise jump ahead of the writer
  EXPECT_FALSE(wrote.load());
  mu.unlock_shared();
  writer.join();
  EXPECT_TRUE(wrote.load());
  EXPECT_TRUE(mu.try_lock_shared());
  mu.unlock_shared();
}

TEST(FairSharedMutexTest, ReadersThatNeverStopDoNotStarveAWriter) {
  FairSharedMutex mu;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> reads{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        std::shared_lock<FairSharedMutex> r(mu);
        reads.fetch_add(1);
      }
    });
  }
  while (reads.load() < 1000) std::this_thread::yield();
  for (int i = 0; i < 100; ++i) {
    std::unique_lock<FairSharedMutex> w(mu);  // returns: the readers let it in
  }
  stop = true;
  for (std::thread& t : readers) t.join();
  EXPECT_GE(reads.load(), 1000);
}

}  // namespace
}  // namespace sluice
