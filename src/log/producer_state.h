#pragma once

#include <cstdint>
#include <deque>
#include <unordered_map>

#include "common/types.h"

namespace sluice::log {

// Idempotent-producer state of one partition (Kafka's KIP-98 rules): per producer id, the
// current epoch and the last few batches' sequence ranges and offsets, so that a retried batch
// is recognised instead of appended twice and a gap or reordering is refused. Rebuilt from
// the producer fields of the batches in the log (RecordBatch v2 stores producerId,
// producerEpoch and baseSequence), so it survives restarts without a file of its own.
// Not thread-safe: the caller serialises checks and appends of a partition.
class ProducerStateTable {
 public:
  // Kafka keeps this many batches per producer for duplicate detection (and librdkafka and
  // the Java client cap in-flight requests at 5 with idempotence on).
  static constexpr size_t kBatchesKept = 5;

  enum class Verdict : uint8_t {
    kAppend,        // next in sequence (or a new producer/epoch starting at 0): append it
    kDuplicate,     // the same batch was appended before: acknowledge with its offset
    kOutOfOrder,    // a gap or a reordering: OUT_OF_ORDER_SEQUENCE_NUMBER
    kFencedEpoch,   // an epoch older than the producer's current one: INVALID_PRODUCER_EPOCH
  };
  struct CheckResult {
    Verdict verdict = Verdict::kAppend;
    Offset duplicate_of;  // kDuplicate: base offset of the earlier append
  };

  // Checks a batch of `record_count` records starting at sequence `base_sequence`.
  CheckResult Check(int64_t producer_id, int16_t epoch, int32_t base_sequence, int32_t record_count) const;

  // Records an appended batch (after Check said kAppend, or while rebuilding from the log).
  void Record(int64_t producer_id, int16_t epoch, int32_t base_sequence, int32_t record_count, Offset base_offset);

  // Sets the offset of a batch recorded before its append completed (Record with offset -1).
  void SetOffset(int64_t producer_id, int32_t base_sequence, Offset base_offset);
  // Forgets a recorded batch whose append failed, so that the producer's retry is appended.
  void Forget(int64_t producer_id, int32_t base_sequence);

  // The largest producer id seen (-1 if none), so that new ids never reuse an old one.
  int64_t max_producer_id() const { return max_producer_id_; }

 private:
  struct BatchMeta {
    int32_t first_sequence;
    int32_t last_sequence;
    Offset base_offset;
  };
  struct Producer {
    int16_t epoch = 0;
    std::deque<BatchMeta> batches;  // oldest first, at most kBatchesKept
  };
  std::unordered_map<int64_t, Producer> producers_;
  int64_t max_producer_id_ = -1;
};

// Producer ids at or above this are the engine's own (its sinks' transactional writers,
// derived from the sink's name); the Kafka listener never hands them out and leaves their
// transactions to the engine.
inline constexpr int64_t kEngineProducerIdBase = int64_t{1} << 62;
constexpr bool IsEngineProducerId(int64_t id) { return id >= kEngineProducerIdBase; }

// The sequence after `last` (sequences wrap from INT32_MAX to 0, as in Kafka).
constexpr int32_t NextSequence(int32_t last) { return last == INT32_MAX ? 0 : last + 1; }

}  // namespace sluice::log
