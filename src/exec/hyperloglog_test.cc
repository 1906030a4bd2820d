#include "exec/hyperloglog.h"

#include <string>

#include <gtest/gtest.h>

namespace sluice::exec {
namespace {

TEST(HyperLogLogTest, EmptyAndSmallSetsAreNearlyExact) {
  HyperLogLog hll;
  EXPECT_EQ(hll.Estimate(), 0);
  for (int i = 0; i < 100; ++i) hll.Add("value-" + std::to_string(i % 50));  // 50 distinct, repeated
  EXPECT_NEAR(hll.Estimate(), 50, 3);  // linear counting: only register collisions are lost
}

TEST(HyperLogLogTest, LargeSetsWithinErrorBound) {
  for (int n : {10'000, 200'000}) {
    HyperLogLog hll;
    for (int i = 0; i < n; ++i) hll.Add(std::to_string(i * 7919));
    // 4096 registers: standard error 1.04/sqrt(4096) ~ 1.6 %; allow 5 %.
    EXPECT_NEAR(static_cast<double>(hll.Estimate()), n, n * 0.05) << n;
  }
}

}  // namespace
}  // namespace sluice::exec
