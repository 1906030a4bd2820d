#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "engine/decode_rejects.h"
#include "exec/dataflow.h"
#include "exec/json_decoder.h"
#include "log/log.h"
#include "sql/catalog.h"

namespace sluice::engine {

// Where a read_committed reader of `partition` must stop now: its last stable offset (its
// end when no transaction is open).
Offset ReadableEnd(const log::Partition& partition);

// An event a view dropped as late, kept for the source's `.late` topic.
struct LateEvent {
  std::string value;  // the event as stored in the log
  int64_t timestamp_ms = 0;
};

// Feeds one log-backed input of a dataflow (a source, or a table's row versions): reads record
// batches from the log, decodes each event into the input's chunk (only the columns the
// dataflow reads are materialised) and pushes full chunks. Shared by ad-hoc scans and
// materialized views. Not thread-safe.
//
// Watermarks: for a source with a WATERMARK, each partition's watermark is the largest event
// time read from it minus the declared delay; the input's watermark is the minimum over the
// partitions that delivered data within the idle timeout (the maximum if all are idle), and
// never goes back. A partition that never delivered data holds the watermark back until the
// idle timeout has passed since the reader started (as an idle Kafka split does in Flink). Events the dataflow's lateness rule calls late (against the watermark last
// handed to the dataflow) are not pushed: they are counted and kept for the `.late` topic.
//
// Dedup (a source WITH (dedup_key, dedup_window)): an event whose key equals that of an event
// appended (by the log's record timestamp) less than the window before it is dropped and
// counted, before the lateness check; a NULL key is never a repeat. Keys are remembered until
// every partition that has delivered data has moved a window past them, so a repeat in another
// partition is still found while partitions are read at different speeds. The remembered keys
// are part of Snapshot, so dedup holds across restarts. Record timestamps come from the log, so
// a replay drops exactly the events the first reading dropped.
class SourceReader {
 public:
  struct Progress {
    int64_t applied = 0;   // events decoded and pushed
    int64_t rejected = 0;  // events that do not match the source's schema (skipped)
    int64_t late = 0;      // events dropped as late
    int64_t duplicates = 0;  // events dropped as repeats (dedup_key)
    int64_t min_record_ms = INT64_MAX;  // smallest record (source) timestamp applied
  };

  // `dataflow` must outlive the reader; `input` is the index of the relation read.
  SourceReader(exec::Dataflow* dataflow, size_t input, int32_t partitions, int64_t idle_timeout_ms = 5000);

  // Reads up to about `max_bytes` of `partition` from *next, never past `until` nor the
  // partition's last stable offset, and advances *next; records of aborted transactions are
  // skipped (read_committed, as every internal reader of the log). If retention removed offsets before *next, continues from the new start. Returns
  // false when nothing was left to read below `until`. `now_ms` is the (steady) time of the
  // read, for idleness.
  Result<bool> ReadStep(log::Partition& partition, Offset* next, Offset until, size_t max_bytes,
                        Progress* progress, int64_t now_ms = 0);

  // Pushes the rows still buffered in the chunk.
  Status Finish();

  // Recomputes the input's watermark at `now_ms` and hands it to the dataflow if it advanced.
  // Returns the watermark (INT64_MIN: none yet, or the source has no WATERMARK).
  Result<int64_t> AdvanceWatermark(int64_t now_ms);
  int64_t watermark() const { return watermark_; }

  // The late events read since the last call.
  std::vector<LateEvent> TakeLate() { return std::exchange(late_, {}); }
  // The events that did not decode since the last call (kept only if `keep_rejects`).
  std::vector<DecodeReject> TakeRejects() { return std::exchange(rejects_, {}); }

  // Checkpoints: the watermark state (per partition the largest event time, and the
  // watermark). A restored partition counts as having delivered data at `now_ms`.
  void Snapshot(sql::StateWriter* out) const;
  Status Restore(sql::StateReader* in, int64_t now_ms);
  void set_keep_rejects(bool keep) { keep_rejects_ = keep; }
  // Keys remembered for dedup.
  size_t dedup_keys() const { return dedup_seen_.size(); }

 private:
  struct PartitionTime {
    int64_t max_time = INT64_MIN;  // largest event time read (micros)
    int64_t last_data_ms = 0;      // when data last came from this partition
    int64_t max_record_ms = INT64_MIN;  // dedup: largest record timestamp read
  };

  // Dedup of the row just decoded (record timestamp `ts_ms`): true if it repeats a key seen
  // within the window (the caller drops it).
  bool IsRepeat(int64_t ts_ms);
  // Forgets keys every partition has moved a window past.
  void EvictDedupKeys();

  exec::Dataflow* dataflow_;
  size_t input_;
  exec::JsonDecoder decoder_;
  exec::DataChunk chunk_;
  int time_column_ = -1;  // the watermark column, -1: no watermark
  int64_t delay_us_ = 0;
  int64_t idle_timeout_ms_;
  std::vector<PartitionTime> partitions_;
  int64_t watermark_ = INT64_MIN;
  int64_t started_ms_ = -1;  // the first read or watermark computation
  std::vector<LateEvent> late_;
  bool keep_rejects_ = false;
  std::vector<DecodeReject> rejects_;
  int dedup_column_ = -1;
  int64_t dedup_window_ms_ = 0;
  absl::flat_hash_map<std::string, int64_t> dedup_seen_;       // key bytes -> record timestamp
  std::deque<std::pair<int64_t, std::string>> dedup_order_;    // (timestamp, key) as first seen
  std::string dedup_key_;
};

}  // namespace sluice::engine
