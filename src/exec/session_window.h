#pragma once

#include <absl/container/btree_set.h>
#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "exec/expression_executor.h"
#include "exec/operator.h"
#include "sql/bound_expr.h"

namespace sluice::exec {

// SESSION(src, ts, gap): appends window_start and window_end to every row, where a session is
// a maximal run of rows of one partition whose times, in order, are each less than `gap` after
// the previous one; window_start = the first time, window_end = the last time + gap (the
// half-open [start, end) of TUMBLE; a row exactly `gap` after the previous one starts a new
// session). Rows with a NULL time are dropped, as TUMBLE and HOP drop them.
//
// The partition is the value of `partition_keys` (the binder passes the GROUP BY keys of the
// aggregate the window feeds, other than window_start/window_end; none: every row is in one
// partition). NULL keys form a partition of their own, as GROUP BY treats them.
//
// Incremental: a later row can extend a session, bridge two into one, or (a retraction, weight
// -1) split one. The operator keeps every row it was given and, at Flush, emits for every row
// whose session changed the retraction of what it emitted before (-1, old bounds) and the row
// with its new bounds (+1), so a retractable aggregate downstream stays exact. Within one
// Flush the changes are consolidated: a batch query (one Flush at the end) sees insertions only.
// Rows may arrive in any time order.
//
// Cost: memory holds every row of the sessions still open; a change re-emits every row of the
// sessions it touches (a session that grows by one row per flush is re-emitted each time).
//
// Closing (set_expiry): over a source whose WATERMARK is on the time column, a row earlier
// than watermark - allowed lateness is dropped at the source as late. A session whose end is at
// or before that point can then never change again (a new row would be at or after its end,
// which starts a new session), so its rows are forgotten at the next Flush; what was emitted
// for them stays downstream.
class SessionWindowOperator final : public Operator {
 public:
  // `partition_keys`: expressions over the input columns. REQUIRES: gap_us > 0, the time
  // column is TIMESTAMP or TIMESTAMPTZ.
  static Result<std::unique_ptr<SessionWindowOperator>> Create(
      std::vector<DataType> input_types, int time_column, int64_t gap_us,
      const std::vector<sql::BoundExprPtr>& partition_keys, int64_t now_micros);
  ~SessionWindowOperator() override;

  // Forgets sessions once watermark - allowed_lateness_us reaches their end (see above).
  // REQUIRES: rows older than that are never pushed (the source drops them as late).
  void set_expiry(int64_t allowed_lateness_us) { expiry_lateness_us_ = allowed_lateness_us; }

  Status Push(const DataChunk& chunk) override;
  Status Flush() override;
  Status OnWatermark(int64_t watermark_us) override;
  // Every kept row by partition, with the bounds it was last emitted with; taken between
  // Flushes. Restore requires a freshly created operator of the same plan.
  Status Snapshot(sql::StateWriter* out) const override;
  Status Restore(sql::StateReader* in) override;

  const char* state_name() const override { return "session_window"; }
  int64_t StateKeys() const override { return static_cast<int64_t>(live_rows_); }
  int64_t StateExpired() const override { return expired_sessions_; }
  size_t partition_count() const { return partitions_.size(); }
  size_t row_count() const { return live_rows_; }

 private:
  // Where a kept row lives: page << kPageBits | slot.
  using RowId = uint32_t;
  static constexpr int kPageBits = 10;
  static constexpr size_t kPageRows = size_t{1} << kPageBits;
  static constexpr int64_t kNotEmitted = INT64_MIN;

  struct Partition {
    std::string key;
    absl::btree_set<std::pair<int64_t, RowId>> rows;  // (time, row), in time order
    std::vector<int64_t> changed;                     // times inserted or removed since Flush
    bool dirty = false;
    bool queued = false;  // has an entry in closing_
  };

  SessionWindowOperator() = default;

  RowId AllocateRow();
  void FreeRow(RowId id);
  // Whether kept row `id` holds exactly the values of row `row` of `chunk` (as GROUP BY
  // compares them: NULL equals NULL).
  bool SameRow(RowId id, const DataChunk& chunk, size_t row);
  Status Insert(const DataChunk& chunk, const std::vector<uint32_t>& rows,
                const std::vector<Partition*>& parts);
  Status Retract(const DataChunk& chunk, size_t row, Partition* part);
  // Recomputes the sessions around each changed time of `part`, queueing output for the rows
  // whose bounds changed.
  Status Resessionize(Partition* part);
  // With expiry: forgets the sessions that ended at or before watermark - allowed lateness.
  void ExpireSessions();
  // Queues `part` to be looked at once the cut-off passes its last row's session end.
  void QueueForClosing(Partition* part);
  // The end of a session whose last row is at `last_time` (saturated).
  int64_t SessionEnd(int64_t last_time) const;
  // Appends kept row `id` with bounds [start, end) and `weight` to the output (emitting the
  // output chunk downstream when it is full).
  Status Output(RowId id, int64_t start, int64_t end, int8_t weight);

  std::vector<DataType> input_types_;
  size_t time_column_ = 0;
  int64_t gap_us_ = 0;

  std::vector<std::unique_ptr<ExpressionExecutor>> key_exprs_;
  DataChunk keys_;  // evaluated partition keys of the current input chunk
  std::string key_;
  absl::flat_hash_map<std::string, std::unique_ptr<Partition>> partitions_;
  std::vector<Partition*> dirty_;

  // Kept rows: pages of columns (strings in each page's arena), plus per row what it was last
  // emitted with (start == kNotEmitted: not emitted).
  std::vector<std::unique_ptr<DataChunk>> pages_;
  std::vector<uint32_t> page_live_;
  std::vector<RowId> free_rows_;
  uint64_t next_row_ = 0;  // rows ever allocated from fresh pages
  std::vector<int64_t> emitted_start_;
  std::vector<int64_t> emitted_end_;
  size_t live_rows_ = 0;
  std::vector<RowId> retracted_;  // removed rows whose last emission is still to be retracted

  // Expiry: partitions by the end of their last session, earliest first (one entry each; an
  // entry may be early if the partition grew since: it is then queued again).
  int64_t expiry_lateness_us_ = -1;  // < 0: sessions are never forgotten
  int64_t watermark_ = INT64_MIN;
  std::priority_queue<std::pair<int64_t, std::string>, std::vector<std::pair<int64_t, std::string>>,
                      std::greater<>>
      closing_;
  int64_t expired_sessions_ = 0;

  // Scratch reused chunk after chunk.
  std::vector<uint32_t> insert_rows_;
  std::vector<Partition*> insert_parts_;
  std::vector<RowId> ids_;
  std::string row_bytes_;
  std::string kept_bytes_;
  DataChunk out_;
};

}  // namespace sluice::exec
