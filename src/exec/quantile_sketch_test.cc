#include "exec/quantile_sketch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <vector>

namespace sluice::exec {
namespace {

constexpr double kAlpha = QuantileSketch::kDefaultRelativeAccuracy;
constexpr double kQs[] = {0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1};

// The value the sketch approximates: rank floor(q (n - 1)) of the sorted values.
double LowerRank(std::vector<double> sorted, double q) {
  std::sort(sorted.begin(), sorted.end());
  return sorted[static_cast<size_t>(std::floor(q * static_cast<double>(sorted.size() - 1)))];
}

void ExpectWithinBound(const QuantileSketch& sketch, const std::vector<double>& values,
                       const char* what) {
  ASSERT_EQ(sketch.count(), static_cast<int64_t>(values.size())) << what;
  for (double q : kQs) {
    const double exact = LowerRank(values, q);
    const double got = sketch.Quantile(q);
    // The bound, plus a few ulps for the log/exp of the bucket mapping.
    EXPECT_LE(std::abs(got - exact), kAlpha * std::abs(exact) * (1 + 1e-9))
        << what << " q=" << q << " exact=" << exact;
  }
}

TEST(QuantileSketchTest, AccuracyBoundOnSeveralDistributions) {
  std::mt19937_64 rng(42);
  const size_t n = 50'000;
  struct Case {
    const char* name;
    std::function<double()> draw;
  };
  std::uniform_real_distribution<double> uniform(0, 1000);
  std::normal_distribution<double> normal(0, 100);      // both signs
  std::lognormal_distribution<double> lognormal(0, 3);  // heavy tail over many decades
  std::exponential_distribution<double> exponential(0.01);
  std::vector<Case> cases = {
      {"uniform", [&] { return uniform(rng); }},
      {"normal", [&] { return normal(rng); }},
      {"lognormal", [&] { return lognormal(rng); }},
      {"exponential", [&] { return exponential(rng); }},
      {"integers with ties",
       [&] { return static_cast<double>(static_cast<int>(uniform(rng)) % 7 - 3); }},
      {"negative lognormal", [&] { return -lognormal(rng); }},
  };
  for (const Case& c : cases) {
    QuantileSketch sketch;
    std::vector<double> values;
    for (size_t i = 0; i < n; ++i) {
      values.push_back(c.draw());
      sketch.Add(values.back());
    }
    ExpectWithinBound(sketch, values, c.name);
  }
}

TEST(QuantileSketchTest, BucketValueIsWithinAlphaOfItsRange) {
  QuantileSketch sketch;
  for (double x : {1e-300, 1e-12, 0.5, 1.0, 1.0202, 3.14159, 1e6, 123456789.0, 1e300, 1.7e308}) {
    const double v = sketch.ValueOf(sketch.IndexOf(x));
    EXPECT_LE(std::abs(v - x), kAlpha * x * (1 + 1e-9)) << x;
  }
}

TEST(QuantileSketchTest, SmallSetsAndSingleValues) {
  QuantileSketch sketch;
  sketch.Add(42);
  for (double q : kQs) EXPECT_NEAR(sketch.Quantile(q), 42, 0.42);
  sketch.Add(0);
  sketch.Add(-42);
  EXPECT_NEAR(sketch.Quantile(0), -42, 0.42);
  EXPECT_EQ(sketch.Quantile(0.5), 0);  // zero is exact
  EXPECT_NEAR(sketch.Quantile(1), 42, 0.42);
  // Out-of-range q is clamped.
  EXPECT_NEAR(sketch.Quantile(-1), -42, 0.42);
  EXPECT_NEAR(sketch.Quantile(2), 42, 0.42);
}

TEST(QuantileSketchTest, InsertThenDeleteIsSymmetric) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(50, 40);
  QuantileSketch kept, churned;
  std::vector<double> values, transient;
  for (int i = 0; i < 20'000; ++i) {
    double x = normal(rng);
    if (i % 3 == 0) {
      transient.push_back(x);
    } else {
      values.push_back(x);
      kept.Add(x);
    }
    churned.Add(x);
  }
  for (double x : transient) ASSERT_TRUE(churned.Remove(x)) << x;
  EXPECT_EQ(churned.count(), kept.count());
  for (double q : kQs) EXPECT_EQ(churned.Quantile(q), kept.Quantile(q)) << q;
  ExpectWithinBound(churned, values, "after deletes");
  // Removing everything leaves an empty sketch that works again.
  for (double x : values) ASSERT_TRUE(churned.Remove(x));
  EXPECT_TRUE(churned.empty());
  churned.Add(-5);
  EXPECT_NEAR(churned.Quantile(0.5), -5, 0.05);
}

TEST(QuantileSketchTest, RemovingAValueNeverAddedIsRefused) {
  QuantileSketch sketch;
  sketch.Add(10);
  EXPECT_FALSE(sketch.Remove(1000));
  EXPECT_FALSE(sketch.Remove(-10));
  EXPECT_FALSE(sketch.Remove(0));
  EXPECT_FALSE(sketch.Remove(NAN));
  EXPECT_FALSE(sketch.Remove(10, 2));  // only one copy held
  EXPECT_EQ(sketch.count(), 1);
  EXPECT_TRUE(sketch.Remove(10));
  EXPECT_FALSE(sketch.Remove(10));
}

TEST(QuantileSketchTest, MergeEqualsAddingEverythingToOne) {
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> lognormal(2, 2);
  QuantileSketch a, b, all;
  std::vector<double> values;
  for (int i = 0; i < 10'000; ++i) {
    double x = (i % 2 ? 1 : -1) * lognormal(rng);
    (i % 3 ? a : b).Add(x);
    all.Add(x);
    values.push_back(x);
  }
  a.Merge(b);
  for (double q : kQs) EXPECT_EQ(a.Quantile(q), all.Quantile(q)) << q;
  ExpectWithinBound(a, values, "merged");
}

TEST(QuantileSketchTest, CollapsesLowestBucketsAndKeepsHighAccuracy) {
  // 64 buckets at 1 % cover a factor of ~3.6; values span 1 .. 1e6.
  QuantileSketch sketch(kAlpha, 64);
  std::vector<double> values;
  for (int i = 0; i <= 600; ++i) values.push_back(std::pow(10.0, i / 100.0));
  for (double x : values) sketch.Add(x);
  // The top of the distribution keeps its guarantee ...
  for (double q : {0.95, 0.99, 1.0}) {
    const double exact = LowerRank(values, q);
    EXPECT_LE(std::abs(sketch.Quantile(q) - exact), kAlpha * exact * (1 + 1e-9)) << q;
  }
  // ... the collapsed bottom answers with the lowest kept bucket (an over-estimate).
  EXPECT_GT(sketch.Quantile(0), 1.0);
  EXPECT_LT(sketch.Quantile(0), 1e6);
  // Removals of collapsed values land where their insertions did.
  for (double x : values) ASSERT_TRUE(sketch.Remove(x)) << x;
  EXPECT_TRUE(sketch.empty());
  // Later small values still collapse into the same floor (a collapse is never undone).
  sketch.Add(1);
  EXPECT_TRUE(sketch.Remove(1));
}

TEST(QuantileSketchTest, MergeAcrossDifferentCollapseFloorsKeepsRemovalsConsistent) {
  QuantileSketch a(kAlpha, 64), b(kAlpha, 64);
  std::vector<double> in_a, in_b;
  for (int i = 0; i <= 200; ++i) in_a.push_back(1 + i / 100.0);              // narrow: no collapse
  for (int i = 0; i <= 600; ++i) in_b.push_back(std::pow(10.0, i / 100.0));  // wide: collapses
  for (double x : in_a) a.Add(x);
  for (double x : in_b) b.Add(x);
  a.Merge(b);
  EXPECT_EQ(a.count(), static_cast<int64_t>(in_a.size() + in_b.size()));
  for (double x : in_a) ASSERT_TRUE(a.Remove(x)) << x;
  for (double x : in_b) ASSERT_TRUE(a.Remove(x)) << x;
  EXPECT_TRUE(a.empty());
}

TEST(QuantileSketchTest, ExtremesAndSpecialValues) {
  QuantileSketch sketch;
  // Denormals and tiny magnitudes count as zero; the largest doubles stay finite.
  sketch.Add(5e-324);
  sketch.Add(-1e-310);
  EXPECT_EQ(sketch.Quantile(0), 0);
  EXPECT_EQ(sketch.Quantile(1), 0);
  sketch.Add(1.7976931348623157e308);
  sketch.Add(-1.7976931348623157e308);
  EXPECT_LE(std::abs(sketch.Quantile(1) - 1.7976931348623157e308), kAlpha * 1.7976931348623157e308);
  EXPECT_TRUE(std::isfinite(sketch.Quantile(1)));
  EXPECT_TRUE(std::isfinite(sketch.Quantile(0)));
  // -inf < finite < +inf < NaN, as PostgreSQL orders them; each is answered exactly.
  sketch.Add(INFINITY);
  sketch.Add(-INFINITY);
  sketch.Add(NAN);
  EXPECT_EQ(sketch.count(), 7);
  EXPECT_EQ(sketch.Quantile(0), -INFINITY);
  EXPECT_TRUE(std::isnan(sketch.Quantile(1)));
  EXPECT_EQ(sketch.Quantile(5.0 / 6), INFINITY);
  EXPECT_EQ(sketch.Quantile(0.5), 0);
  EXPECT_TRUE(sketch.Remove(NAN));
  EXPECT_EQ(sketch.Quantile(1), INFINITY);
  EXPECT_TRUE(sketch.Remove(INFINITY));
  EXPECT_TRUE(sketch.Remove(-INFINITY));
  EXPECT_TRUE(std::isfinite(sketch.Quantile(1)));
}

TEST(QuantileSketchTest, WeightsCountAsCopies) {
  QuantileSketch weighted, copies;
  weighted.Add(3, 5);
  weighted.Add(100, 2);
  for (int i = 0; i < 5; ++i) copies.Add(3);
  for (int i = 0; i < 2; ++i) copies.Add(100);
  for (double q : kQs) EXPECT_EQ(weighted.Quantile(q), copies.Quantile(q));
  EXPECT_TRUE(weighted.Remove(3, 5));
  EXPECT_NEAR(weighted.Quantile(0), 100, 1);
}

}  // namespace
}  // namespace sluice::exec
