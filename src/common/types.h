#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <limits>

namespace sluice {

// An integer with a distinct type per meaning, so an offset can never be passed where a
// partition id is expected. Arithmetic is allowed only where it means something (offsets and
// timestamps move by a count or a duration of the underlying representation).
template <typename Tag, typename Rep>
class StrongInt {
 public:
  using rep_type = Rep;
  constexpr StrongInt() = default;
  constexpr explicit StrongInt(Rep v) : value_(v) {}
  constexpr Rep value() const { return value_; }
  constexpr auto operator<=>(const StrongInt&) const = default;

  constexpr StrongInt operator+(Rep delta) const { return StrongInt(value_ + delta); }
  constexpr StrongInt operator-(Rep delta) const { return StrongInt(value_ - delta); }
  constexpr Rep operator-(StrongInt other) const { return value_ - other.value_; }
  constexpr StrongInt& operator+=(Rep delta) {
    value_ += delta;
    return *this;
  }
  constexpr StrongInt& operator++() {
    ++value_;
    return *this;
  }

  static constexpr StrongInt Min() { return StrongInt(std::numeric_limits<Rep>::min()); }
  static constexpr StrongInt Max() { return StrongInt(std::numeric_limits<Rep>::max()); }

 private:
  Rep value_{};
};

struct OffsetTag {};
struct PartitionIdTag {};
struct TimestampMsTag {};

// Position of a record within one partition; the first record ever written is offset 0.
using Offset = StrongInt<OffsetTag, int64_t>;
// Index of a partition within a topic, 0-based.
using PartitionId = StrongInt<PartitionIdTag, int32_t>;
// Milliseconds since the Unix epoch (UTC). Event time and log (append) time both use it.
using TimestampMs = StrongInt<TimestampMsTag, int64_t>;

}  // namespace sluice

template <typename Tag, typename Rep>
struct std::hash<sluice::StrongInt<Tag, Rep>> {
  size_t operator()(const sluice::StrongInt<Tag, Rep>& v) const noexcept {
    return std::hash<Rep>()(v.value());
  }
};
