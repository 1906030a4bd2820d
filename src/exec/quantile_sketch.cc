#include "exec/quantile_sketch.h"

#include <algorithm>
#include <cassert>
#include <cfloat>
#include <cmath>

#include "sql/value_codec.h"

namespace sluice::exec {

namespace {

// Magnitudes below this count as zero: the bucket values near the bottom of the double range
// lose precision, and an absolute error under 1e-300 is no error for SQL data.
constexpr double kMinMagnitude = 1e-300;

}  // namespace

// ---- Store -----------------------------------------------------------------------------------

void QuantileSketch::Store::Cover(int32_t index) {
  if (counts_.empty()) {
    offset_ = index;
    counts_.assign(1, 0);
    return;
  }
  const int64_t lo = offset_;
  const int64_t hi = offset_ + static_cast<int64_t>(counts_.size()) - 1;
  if (index >= lo && index <= hi) return;
  int64_t new_lo = std::min<int64_t>(lo, index);
  int64_t new_hi = std::max<int64_t>(hi, index);
  if (new_hi - new_lo + 1 > max_buckets_) {
    // Too wide: the lowest buckets collapse into the lowest one that still fits.
    new_lo = new_hi - max_buckets_ + 1;
    floor_ = static_cast<int32_t>(std::max<int64_t>(floor_, new_lo));
  } else {
    // Grow with some slack in the direction of growth, so a run of new extremes does not
    // reallocate every time.
    const int64_t width = new_hi - new_lo + 1;
    const int64_t slack = std::min<int64_t>(max_buckets_ - width, std::max<int64_t>(8, width / 2));
    if (index < lo) {
      new_lo = std::max<int64_t>(new_lo - slack, floor_);
    } else {
      new_hi += slack;
    }
  }
  std::vector<int64_t> grown(static_cast<size_t>(new_hi - new_lo + 1), 0);
  for (size_t i = 0; i < counts_.size(); ++i) {
    const int64_t at = std::max<int64_t>(lo + static_cast<int64_t>(i), new_lo);
    grown[static_cast<size_t>(at - new_lo)] += counts_[i];
  }
  offset_ = static_cast<int32_t>(new_lo);
  counts_ = std::move(grown);
}

void QuantileSketch::Store::Add(int32_t index, int64_t w) {
  Cover(Clamp(index));
  index = Clamp(index);  // a collapse in Cover may have raised the floor past it
  counts_[static_cast<size_t>(index - offset_)] += w;
  total_ += w;
  if (total_ == 0) counts_.clear();  // keeps floor_: later values map as before
}

int64_t QuantileSketch::Store::CountAt(int32_t index) const {
  index = Clamp(index);
  if (counts_.empty() || index < offset_ || index - offset_ >= static_cast<int64_t>(counts_.size()))
    return 0;
  return counts_[static_cast<size_t>(index - offset_)];
}

void QuantileSketch::Store::RaiseFloor(int32_t floor) {
  if (floor <= floor_) return;
  floor_ = floor;
  if (counts_.empty() || offset_ >= floor_) return;
  Cover(floor_);  // may collapse further (and raise floor_ again)
  if (offset_ >= floor_) return;
  const auto cut = counts_.begin() + (floor_ - offset_);
  int64_t below = 0;
  for (auto it = counts_.begin(); it != cut; ++it) below += *it;
  counts_.erase(counts_.begin(), cut);
  counts_[0] += below;
  offset_ = floor_;
}

void QuantileSketch::Store::Merge(const Store& other) {
  // Adopt the higher floor first, so every value of either side maps to one bucket from now on
  // (a later Remove must find its value where Add put it).
  RaiseFloor(other.floor_);
  for (size_t i = 0; i < other.counts_.size(); ++i) {
    if (other.counts_[i] != 0) Add(other.offset_ + static_cast<int32_t>(i), other.counts_[i]);
  }
}

template <typename Fn>
int32_t QuantileSketch::Store::Find(bool ascending, Fn fn) const {
  const size_t n = counts_.size();
  for (size_t k = 0; k < n; ++k) {
    const size_t i = ascending ? k : n - 1 - k;
    if (counts_[i] == 0) continue;
    const int32_t index = offset_ + static_cast<int32_t>(i);
    if (fn(counts_[i])) return index;
  }
  return INT32_MIN;
}

// ---- QuantileSketch --------------------------------------------------------------------------

QuantileSketch::QuantileSketch(double relative_accuracy, int32_t max_buckets)
    : alpha_(relative_accuracy),
      gamma_((1 + relative_accuracy) / (1 - relative_accuracy)),
      inv_log_gamma_(1 / std::log(gamma_)),
      log_gamma_(std::log(gamma_)),
      positive_(max_buckets),
      negative_(max_buckets) {
  assert(relative_accuracy > 0 && relative_accuracy < 1);
  assert(max_buckets >= 2);
}

int32_t QuantileSketch::IndexOf(double magnitude) const {
  return static_cast<int32_t>(std::ceil(std::log(magnitude) * inv_log_gamma_));
}

double QuantileSketch::ValueOf(int32_t index) const {
  const double v = std::exp(index * log_gamma_) * (2 / (1 + gamma_));
  return std::isfinite(v) ? v : DBL_MAX;
}

void QuantileSketch::Add(double x, int64_t weight) {
  assert(weight > 0);
  Update(x, weight);
}

void QuantileSketch::Update(double x, int64_t weight) {
  count_ += weight;
  if (std::isnan(x)) {
    nan_ += weight;
  } else if (std::isinf(x)) {
    (x > 0 ? pos_inf_ : neg_inf_) += weight;
  } else if (x >= kMinMagnitude) {
    positive_.Add(IndexOf(x), weight);
  } else if (x <= -kMinMagnitude) {
    negative_.Add(IndexOf(-x), weight);
  } else {
    zero_ += weight;
  }
}

bool QuantileSketch::Remove(double x, int64_t weight) {
  int64_t held;
  if (std::isnan(x)) {
    held = nan_;
  } else if (std::isinf(x)) {
    held = x > 0 ? pos_inf_ : neg_inf_;
  } else if (x >= kMinMagnitude) {
    held = positive_.CountAt(IndexOf(x));
  } else if (x <= -kMinMagnitude) {
    held = negative_.CountAt(IndexOf(-x));
  } else {
    held = zero_;
  }
  if (held < weight) return false;
  Update(x, -weight);
  return true;
}

void QuantileSketch::Merge(const QuantileSketch& other) {
  assert(other.alpha_ == alpha_);
  positive_.Merge(other.positive_);
  negative_.Merge(other.negative_);
  zero_ += other.zero_;
  neg_inf_ += other.neg_inf_;
  pos_inf_ += other.pos_inf_;
  nan_ += other.nan_;
  count_ += other.count_;
}

double QuantileSketch::Quantile(double q) const {
  assert(count_ > 0);
  q = std::clamp(q, 0.0, 1.0);
  // The 0-based rank of the value answered; the first place where the running count passes it.
  int64_t rank = static_cast<int64_t>(std::floor(q * static_cast<double>(count_ - 1)));
  rank = std::clamp<int64_t>(rank, 0, count_ - 1);
  int64_t seen = 0;
  auto passes = [&](int64_t n) {
    seen += n;
    return seen > rank;
  };
  if (passes(neg_inf_)) return -INFINITY;
  int32_t index = negative_.Find(/*ascending=*/false, passes);  // most negative first
  if (index != INT32_MIN) return -ValueOf(index);
  if (passes(zero_)) return 0;
  index = positive_.Find(/*ascending=*/true, passes);
  if (index != INT32_MIN) return ValueOf(index);
  if (passes(pos_inf_)) return INFINITY;
  return NAN;
}

// ---- checkpoints -----------------------------------------------------------------------------

void QuantileSketch::Store::Snapshot(sql::StateWriter* out) const {
  out->I64(offset_);
  out->I64(floor_);
  out->U64(counts_.size());
  for (int64_t c : counts_) out->I64(c);
}

Status QuantileSketch::Store::Restore(sql::StateReader* in) {
  SLUICE_ASSIGN_OR_RETURN(int64_t offset, in->I64());
  SLUICE_ASSIGN_OR_RETURN(int64_t floor, in->I64());
  SLUICE_ASSIGN_OR_RETURN(uint64_t n, in->Count());
  if (offset < INT32_MIN || offset > INT32_MAX || floor < INT32_MIN || floor > INT32_MAX ||
      n > static_cast<uint64_t>(max_buckets_) || offset + static_cast<int64_t>(n) > INT32_MAX) {
    return Status::Corruption("quantile sketch state out of range");
  }
  std::vector<int64_t> counts(n);
  int64_t total = 0;
  for (uint64_t i = 0; i < n; ++i) {
    SLUICE_ASSIGN_OR_RETURN(counts[i], in->I64());
    if (counts[i] < 0) return Status::Corruption("quantile sketch state has a negative count");
    total += counts[i];
  }
  offset_ = static_cast<int32_t>(offset);
  floor_ = static_cast<int32_t>(floor);
  counts_ = std::move(counts);
  total_ = total;
  return Status::Ok();
}

void QuantileSketch::Snapshot(sql::StateWriter* out) const {
  positive_.Snapshot(out);
  negative_.Snapshot(out);
  for (int64_t c : {zero_, neg_inf_, pos_inf_, nan_, count_}) out->I64(c);
}

Status QuantileSketch::Restore(sql::StateReader* in) {
  SLUICE_RETURN_IF_ERROR(positive_.Restore(in));
  SLUICE_RETURN_IF_ERROR(negative_.Restore(in));
  for (int64_t* c : {&zero_, &neg_inf_, &pos_inf_, &nan_, &count_}) {
    SLUICE_ASSIGN_OR_RETURN(*c, in->I64());
    if (*c < 0) return Status::Corruption("quantile sketch state has a negative count");
  }
  if (positive_.total() + negative_.total() + zero_ + neg_inf_ + pos_inf_ + nan_ != count_) {
    return Status::Corruption("quantile sketch state: the counts do not add up");
  }
  return Status::Ok();
}

}  // namespace sluice::exec
