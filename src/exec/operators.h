#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "exec/expression_executor.h"
#include "exec/group_key_table.h"
#include "exec/operator.h"
#include "sql/logical_plan.h"

namespace sluice::exec {

// Keeps the rows where the predicate is TRUE.
class FilterOperator final : public Operator {
 public:
  static Result<std::unique_ptr<FilterOperator>> Create(const sql::BoundExpr& predicate,
                                                        std::vector<DataType> types, int64_t now_micros);
  Status Push(const DataChunk& chunk) override;

 private:
  std::unique_ptr<ExpressionExecutor> predicate_;
  std::vector<uint32_t> selection_;
  DataChunk out_;
};

// Computes one output column per expression.
class ProjectOperator final : public Operator {
 public:
  static Result<std::unique_ptr<ProjectOperator>> Create(const std::vector<sql::BoundExprPtr>& exprs,
                                                         int64_t now_micros);
  Status Push(const DataChunk& chunk) override;

 private:
  std::vector<std::unique_ptr<ExpressionExecutor>> exprs_;
  DataChunk out_;
};

// TUMBLE and HOP: appends window_start and window_end to every row; HOP emits one copy of the
// row per window that contains it (size / slide copies). Rows with a NULL time are dropped,
// as in Flink and RisingWave. Windows align to the Unix epoch.
//
// `used` (per input column; empty: all) says which input columns the operators downstream
// read: the others are not copied (they are NULL in the output), which matters for HOP, where
// every row is copied size / slide times.
class WindowOperator final : public Operator {
 public:
  WindowOperator(std::vector<DataType> input_types, int time_column, sql::WindowKind kind, int64_t size_us,
                 int64_t slide_us, std::vector<bool> used = {});
  Status Push(const DataChunk& chunk) override;

 private:
  int time_column_;
  int64_t size_us_;
  int64_t slide_us_;
  std::vector<bool> used_;  // per input column
  DataChunk out_;
  std::vector<uint32_t> sel_;
  std::vector<int64_t> starts_;
};

// GROUP BY with incremental accumulators: every input row adds (+1) or retracts (-1) its
// contribution; Flush emits, per changed group, the retraction of the row it emitted before
// and the new row (a group whose rows all went away is retracted). A batch query calls Flush
// once at the end and so sees only insertions.
//
// EMIT ON WINDOW CLOSE: a group's row is emitted once, final, when the watermark passes its
// window's end; the group's state is then freed, and rows that still arrive for a closed
// window are dropped (the source counts such events as late).
class AggregateOperator final : public Operator {
 public:
  // Which group key holds the window and how to get its end from it.
  struct WindowClose {
    int group = -1;            // index into the GROUP BY keys: window_start or window_end
    int64_t end_offset_us = 0;  // added to that key's value to get the window's end
  };
  // A windowed aggregate (not EMIT ON WINDOW CLOSE) over a source whose watermark is on the
  // window's time column: once the watermark passes a window's end + the allowed lateness, no
  // row can reach that window any more (the source drops such rows as late), so its groups are
  // forgotten. The rows already emitted stay in the view.
  struct WindowExpiry {
    WindowClose window;
    int64_t allowed_lateness_us = 0;
  };
  // WITH (state_ttl = ...) (docs/sql.md, "State TTL"): a group's time of last update is the
  // watermark at the Flush that applied its last change (before the first watermark: the first
  // watermark). Aggregates chained behind this one see its changes at that same watermark, so
  // a group downstream never expires before the groups upstream whose rows it holds. Once the watermark passes that time + ttl, the group's row is retracted and
  // its state freed; a row arriving later for its key starts a new group. Not applied to EMIT ON
  // WINDOW CLOSE aggregates or to aggregates without GROUP BY.
  struct StateTtl {
    int64_t ttl_us = 0;  // > 0
  };

  // `input_retracts`: whether rows with weight -1 can arrive (an input that is itself an
  // updating aggregate or join). Insert-only inputs (sources) let min/max keep one value per
  // group instead of an ordered multiset.
  static Result<std::unique_ptr<AggregateOperator>> Create(const sql::LogicalOperator& aggregate,
                                                           int64_t now_micros, bool input_retracts = false,
                                                           std::optional<WindowClose> emit_on_close = std::nullopt,
                                                           std::optional<WindowExpiry> expiry = std::nullopt,
                                                           std::optional<StateTtl> ttl = std::nullopt);
  ~AggregateOperator() override;
  Status Push(const DataChunk& chunk) override;
  Status Flush() override;
  Status OnWatermark(int64_t watermark_us) override;
  // Every live group (keys, then accumulators) and the window bookkeeping; taken between
  // Flushes. Restore requires a freshly created operator of the same plan.
  Status Snapshot(sql::StateWriter* out) const override;
  Status Restore(sql::StateReader* in) override;

  size_t group_count() const { return groups_->size(); }
  const char* state_name() const override { return "aggregate"; }
  int64_t StateKeys() const override { return static_cast<int64_t>(groups_->size()); }
  // Windows forgotten by WindowExpiry so far.
  int64_t expired_windows() const { return expired_windows_; }
  // Groups dropped by the state TTL so far.
  int64_t expired_groups() const { return expired_groups_; }
  int64_t StateExpired() const override { return expired_groups_; }

  struct Accumulator;
  struct AggregateState;

 private:
  AggregateOperator();
  // Forwards the watermark (after the rows just emitted), then flushes downstream.
  Status FlushDownstream();
  // Sizes the per-group arrays for every id handed out and resets the groups in created_.
  void InitGroups();
  void EraseGroup(uint32_t group);
  Result<sql::Value> FinalizeAggregate(size_t aggregate, uint32_t group) const;
  // The window (see WindowClose) groups are tracked by: EMIT ON WINDOW CLOSE's or expiry's.
  const WindowClose* tracked_window() const;
  // Files new group `g` under its window's end in open_windows_.
  void TrackWindow(uint32_t g);
  // Forgets the groups of every window the watermark has passed (WindowExpiry).
  void ExpireWindows();
  // State TTL over an updating input: a retraction whose group had to be created (a group the
  // TTL dropped) has nothing to retract from; drops such rows from the selection (sel, n and
  // ids_) and the groups created only for them.
  void DropRetractionsOfExpiredGroups(const int8_t* weights, const uint32_t** sel, size_t* n);
  // State TTL: notes that group `g` was updated as of the current watermark.
  void Touch(uint32_t g);
  // State TTL: retracts the rows of the groups not updated within the TTL and frees them.
  Status ExpireIdleGroups(const std::function<Status(const std::vector<sql::Value>&, int8_t)>& add_row);

  std::vector<std::unique_ptr<ExpressionExecutor>> group_exprs_;
  std::vector<std::unique_ptr<ExpressionExecutor>> arg_exprs_;  // one per aggregate (null: count(*))
  std::vector<sql::BoundAggregate> aggregates_;
  std::vector<std::unique_ptr<AggregateState>> states_;  // one per aggregate
  bool input_retracts_ = false;
  DataChunk keys_;   // evaluated group expressions of the current input chunk
  DataChunk args_;   // evaluated aggregate arguments of the current input chunk
  std::unique_ptr<GroupKeyTable> groups_;
  std::vector<const Vector*> key_columns_;  // the columns of keys_
  // Per group id (sized by groups_->id_limit()).
  std::vector<int64_t> group_rows_;   // sum of the weights of the group's rows
  std::vector<uint8_t> group_dirty_;  // in dirty_
  std::vector<uint8_t> has_emitted_;
  std::vector<std::vector<sql::Value>> emitted_;  // the row emitted last, retracted on change
  std::vector<uint32_t> dirty_;                   // groups changed since the last Flush
  // Scratch of one Push.
  std::vector<uint32_t> sel_;
  std::vector<uint32_t> ids_;
  std::vector<uint32_t> created_;
  std::string scratch_;  // value bytes for sketches
  DataChunk out_;
  std::optional<WindowClose> emit_on_close_;
  std::optional<WindowExpiry> expiry_;
  // EOWC and expiry: window end -> groups, and per group id the end it was filed under (a group
  // erased earlier, or whose id was reused, no longer matches its entry here).
  std::map<int64_t, std::vector<uint32_t>> open_windows_;
  std::vector<int64_t> window_end_;
  int64_t expired_windows_ = 0;
  // State TTL: per group id the watermark of its last update; and (watermark, group) in the
  // order of the updates, one entry per change of a group's touch time (watermarks only grow, so
  // the queue is sorted). An entry whose group was erased or touched again since is skipped.
  std::optional<StateTtl> ttl_;
  static constexpr int64_t kNotTouched = INT64_MAX;
  std::vector<int64_t> touched_;
  std::vector<uint8_t> fresh_;  // scratch of DropRetractionsOfExpiredGroups
  std::deque<std::pair<int64_t, uint32_t>> touch_queue_;
  int64_t first_watermark_ = INT64_MIN;  // touches before any watermark count as at this one
  int64_t expired_groups_ = 0;
  int64_t closed_until_ = INT64_MIN;     // EOWC: windows ending at or before this are emitted
  int64_t pending_watermark_ = INT64_MIN;
  int64_t forwarded_watermark_ = INT64_MIN;
};

// DISTINCT ON (keys): the first row seen per key (in input order), insert-only input.
class DistinctOnOperator final : public Operator {
 public:
  static Result<std::unique_ptr<DistinctOnOperator>> Create(const std::vector<sql::BoundExprPtr>& keys,
                                                            std::vector<DataType> types, int64_t now_micros);
  Status Push(const DataChunk& chunk) override;
  Status Snapshot(sql::StateWriter* out) const override;
  Status Restore(sql::StateReader* in) override;
  const char* state_name() const override { return "distinct_on"; }
  int64_t StateKeys() const override { return static_cast<int64_t>(seen_.size()); }

 private:
  std::vector<std::unique_ptr<ExpressionExecutor>> keys_;
  DataChunk key_values_;
  absl::flat_hash_map<std::string, bool> seen_;
  std::string key_;
  std::vector<uint32_t> sel_;
  DataChunk out_;
};

// CREATE TABLE: a topic of row versions read as a table. Per primary key the newest row
// replaces the one before; at each Flush the keys that changed emit the retraction of the row
// emitted before (if any) and the new row. Rows with a NULL in the key are dropped.
class UpsertOperator final : public Operator {
 public:
  UpsertOperator(std::vector<DataType> types, std::vector<int> key_columns);
  Status Push(const DataChunk& chunk) override;
  Status Flush() override;
  // REQUIRES (both): at a flush boundary (no dirty keys).
  Status Snapshot(sql::StateWriter* out) const override;
  Status Restore(sql::StateReader* in) override;

  size_t key_count() const { return rows_.size(); }
  int64_t null_key_rows() const { return null_key_rows_; }
  const char* state_name() const override { return "upsert"; }
  int64_t StateKeys() const override { return static_cast<int64_t>(rows_.size()); }

 private:
  struct Row {
    std::vector<sql::Value> current;
    std::vector<sql::Value> emitted;
    bool has_emitted = false;
    bool dirty = false;
  };
  std::vector<int> key_columns_;
  absl::flat_hash_map<std::string, Row> rows_;
  std::vector<std::string> dirty_;
  std::string key_;
  int64_t null_key_rows_ = 0;
  DataChunk out_;
};

}  // namespace sluice::exec
