#include "log/producer_state.h"

#include <algorithm>

namespace sluice::log {

namespace {

int32_t LastSequence(int32_t base_sequence, int32_t record_count) {
  const int64_t last = static_cast<int64_t>(base_sequence) + record_count - 1;
  return static_cast<int32_t>(last > INT32_MAX ? last - INT32_MAX - 1 : last);
}

}  // namespace

ProducerStateTable::CheckResult ProducerStateTable::Check(int64_t producer_id, int16_t epoch, int32_t base_sequence,
                                                          int32_t record_count) const {
  auto it = producers_.find(producer_id);
  if (it == producers_.end()) {
    // A producer this partition never saw must start at sequence 0.
    return {base_sequence == 0 ? Verdict::kAppend : Verdict::kOutOfOrder, Offset()};
  }
  const Producer& p = it->second;
  if (epoch < p.epoch) return {Verdict::kFencedEpoch, Offset()};
  if (epoch > p.epoch) return {base_sequence == 0 ? Verdict::kAppend : Verdict::kOutOfOrder, Offset()};
  const int32_t last = LastSequence(base_sequence, record_count);
  for (const BatchMeta& b : p.batches) {
    if (b.first_sequence == base_sequence && b.last_sequence == last) return {Verdict::kDuplicate, b.base_offset};
  }
  if (p.batches.empty() || base_sequence == NextSequence(p.batches.back().last_sequence)) {
    return {Verdict::kAppend, Offset()};
  }
  return {Verdict::kOutOfOrder, Offset()};
}

void ProducerStateTable::Record(int64_t producer_id, int16_t epoch, int32_t base_sequence, int32_t record_count,
                                Offset base_offset) {
  max_producer_id_ = std::max(max_producer_id_, producer_id);
  Producer& p = producers_[producer_id];
  if (epoch != p.epoch) {
    p.epoch = epoch;
    p.batches.clear();
  }
  p.batches.push_back({base_sequence, LastSequence(base_sequence, record_count), base_offset});
  if (p.batches.size() > kBatchesKept) p.batches.pop_front();
}

void ProducerStateTable::SetOffset(int64_t producer_id, int32_t base_sequence, Offset base_offset) {
  auto it = producers_.find(producer_id);
  if (it == producers_.end()) return;
  for (BatchMeta& b : it->second.batches) {
    if (b.first_sequence == base_sequence) b.base_offset = base_offset;
  }
}

void ProducerStateTable::Forget(int64_t producer_id, int32_t base_sequence) {
  auto it = producers_.find(producer_id);
  if (it == producers_.end()) return;
  auto& batches = it->second.batches;
  batches.erase(std::remove_if(batches.begin(), batches.end(),
                               [&](const BatchMeta& b) { return b.first_sequence == base_sequence; }),
                batches.end());
}

}  // namespace sluice::log
