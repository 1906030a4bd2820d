#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"

namespace sluice::sql {
class StateReader;
class StateWriter;
}  // namespace sluice::sql

namespace sluice::exec {

// A DDSketch-style quantile sketch (Masson, Rim, Lee, VLDB 2019) that also forgets values, so a
// retractable aggregate (approx_percentile) can take back a row it was given.
//
// Accuracy: with relative accuracy `alpha`, every bucket covers magnitudes (g^(i-1), g^i] for
// g = (1 + alpha) / (1 - alpha), and is answered by 2 g^i / (1 + g), which is within
// alpha * |x| of every x in it. Quantile(q) therefore returns a value y with
// |y - x| <= alpha * |x|, where x is the value of rank floor(q * (n - 1)) among the n values
// held (0-based, sorted ascending: the "lower" nearest rank). Zero is exact.
//
// Size: positive and negative magnitudes have stores of their own, each at most `max_buckets`
// counters wide (by default 2048, which at alpha = 1 % spans magnitudes over a factor of
// ~6e17). A store that would grow wider collapses its lowest-magnitude buckets into one; the
// values there then lose their accuracy guarantee (the highest magnitudes keep it). A
// collapse is never undone, so a removal lands in the same bucket its insertion did.
//
// Special values, ordered as PostgreSQL orders them: -inf < finite values < +inf < NaN. Each is
// counted exactly (outside the stores) and is returned as itself when the rank falls on it.
//
// Not thread-safe. Counts are exact integers: Add/Remove never lose a unit.
class QuantileSketch {
 public:
  static constexpr double kDefaultRelativeAccuracy = 0.01;
  static constexpr int32_t kDefaultMaxBuckets = 2048;

  // REQUIRES: 0 < relative_accuracy < 1, max_buckets >= 2.
  explicit QuantileSketch(double relative_accuracy = kDefaultRelativeAccuracy,
                          int32_t max_buckets = kDefaultMaxBuckets);

  // Adds `weight` copies of x. REQUIRES: weight > 0 (Remove takes values back).
  void Add(double x, int64_t weight = 1);
  // Takes back `weight` copies of x added before. Returns false (and changes nothing) if the
  // sketch does not hold that many values in x's bucket, i.e. x was never added.
  bool Remove(double x, int64_t weight = 1);
  // Adds every value of `other`. REQUIRES: same relative accuracy and max_buckets.
  void Merge(const QuantileSketch& other);

  // The number of values held.
  int64_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  double relative_accuracy() const { return alpha_; }

  // The q-quantile (q in [0, 1], clamped) as described above. REQUIRES: !empty().
  double Quantile(double q) const;

  // The bucket index of a positive finite magnitude, and the value that answers for a bucket
  // (exposed for tests).
  int32_t IndexOf(double magnitude) const;

  // Checkpoints: the counts (the accuracy and width are the constructor's). Restore refuses
  // state whose counts do not add up, or that is wider than max_buckets.
  void Snapshot(sql::StateWriter* out) const;
  Status Restore(sql::StateReader* in);
  double ValueOf(int32_t index) const;

 private:
  // Counts per bucket index over a contiguous window [offset_, offset_ + counts_.size()),
  // bounded to max_buckets wide by collapsing the lowest indexes.
  class Store {
   public:
    explicit Store(int32_t max_buckets) : max_buckets_(max_buckets) {}
    // Adds `w` (may be negative) to bucket `index` (or the collapsed bucket it falls into).
    void Add(int32_t index, int64_t w);
    // The count of the bucket `index` falls into.
    int64_t CountAt(int32_t index) const;
    void Merge(const Store& other);
    void Snapshot(sql::StateWriter* out) const;
    Status Restore(sql::StateReader* in);
    int64_t total() const { return total_; }
    // Visits non-empty buckets in ascending (or descending) index order until `fn` returns true;
    // returns the index it stopped at (INT32_MIN if none).
    template <typename Fn>
    int32_t Find(bool ascending, Fn fn) const;

   private:
    int32_t Clamp(int32_t index) const { return index < floor_ ? floor_ : index; }
    // Makes the window hold `index`, collapsing low buckets if it would grow too wide.
    // REQUIRES: index >= floor_.
    void Cover(int32_t index);
    // Collapses every bucket below `floor` into it, now and for later values.
    void RaiseFloor(int32_t floor);

    int32_t max_buckets_;
    int32_t offset_ = 0;
    int32_t floor_ = INT32_MIN;  // every index below goes to this one (after a collapse)
    std::vector<int64_t> counts_;
    int64_t total_ = 0;
  };

  // Adds `weight` (negative: removes) copies of x, unchecked.
  void Update(double x, int64_t weight);

  double alpha_;
  double gamma_;
  double inv_log_gamma_;
  double log_gamma_;
  Store positive_;
  Store negative_;
  int64_t zero_ = 0;
  int64_t neg_inf_ = 0;
  int64_t pos_inf_ = 0;
  int64_t nan_ = 0;
  int64_t count_ = 0;
};

}  // namespace sluice::exec
