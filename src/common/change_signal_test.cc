#include "common/change_signal.h"

#include <gtest/gtest.h>

#include <thread>

namespace sluice {
namespace {

using std::chrono::microseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

TEST(ChangeSignal, WaitReturnsAtOnceWhenTheEpochAlreadyMoved) {
  ChangeSignal signal;
  const uint64_t seen = signal.epoch();
  signal.Notify();
  EXPECT_NE(signal.epoch(), seen);
  const auto start = steady_clock::now();
  signal.WaitFor(seen, seconds(60));
  EXPECT_LT(steady_clock::now() - start, seconds(30));
}

TEST(ChangeSignal, WaitTimesOutWithoutANotify) {
  ChangeSignal signal;
  const uint64_t seen = signal.epoch();
  signal.WaitFor(seen, microseconds(2000));
  EXPECT_EQ(signal.epoch(), seen);
}

TEST(ChangeSignal, NotifyFromAnotherThreadWakesEveryWaiter) {
  ChangeSignal signal;
  const uint64_t seen = signal.epoch();
  std::atomic<int> woken{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 4; ++i) {
    waiters.emplace_back([&] {
      signal.WaitFor(seen, seconds(60));
      if (signal.epoch() != seen) ++woken;
    });
  }
  signal.Notify();
  for (std::thread& t : waiters) t.join();  // would take 60 s if a wake-up were lost
  EXPECT_EQ(woken.load(), 4);
}

TEST(ChangeSignal, NoWakeUpIsLostUnderRacingNotifies) {
  // Each round: a waiter takes the epoch, the notifier bumps it concurrently; the waiter must
  // return (its 60-s timeout would show up as a hung test).
  ChangeSignal signal;
  for (int round = 0; round < 2000; ++round) {
    const uint64_t seen = signal.epoch();
    std::thread notifier([&] { signal.Notify(); });
    signal.WaitFor(seen, seconds(60));
    notifier.join();
    EXPECT_NE(signal.epoch(), seen);
  }
}

}  // namespace
}  // namespace sluice
