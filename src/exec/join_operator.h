#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "exec/expression_executor.h"
#include "exec/operator.h"
#include "sql/ast.h"
#include "sql/bound_expr.h"

namespace sluice::exec {

// An equi-join of two change streams with an optional residual predicate, in one of two
// modes:
//
// - symmetric (stream–stream, table–table): both sides keep their rows by join key; a row
//   arriving on one side (weight +1 or -1) is matched against the other side's rows and each
//   match is emitted with the product of the weights, so the output is the relational join of
//   everything seen so far, retractions included. Windowed joins (the window bounds among the
//   keys) and interval joins (a time range in the residual) are this mode.
// - lookup (stream–table enrichment): only the table side keeps state; its changes update the
//   state and emit nothing, and each stream row is matched against the table as it is at that
//   moment. Table updates apply to later events, not to rows already joined (SPEC §3).
//
// Output rows are the left columns followed by the right columns. Keys with a NULL never
// match. LEFT joins are supported in lookup mode with the table on the right (a stream row
// with no match is emitted once, padded with NULLs).
//
// WITH (state_ttl = ...) (docs/sql.md, "State TTL"): a stored row's time of last update is the
// join's output watermark when it was last stored or changed (before the first watermark: the
// first watermark); once that watermark passes it + ttl, the row is dropped from the state, on
// either side, without retracting the results already emitted. A retraction that arrives for a
// dropped row still retracts its matches with the other side but stores nothing.
//
// Not yet: state clean-up by watermark for windowed and interval joins (without state_ttl the
// state grows with the input), RIGHT/FULL joins, LEFT joins in symmetric mode.
class HashJoinOperator final : public Operator {
 public:
  struct Spec {
    std::vector<DataType> left_types;
    std::vector<DataType> right_types;
    std::vector<sql::BoundExprPtr> left_keys;   // over the left side's columns
    std::vector<sql::BoundExprPtr> right_keys;  // over the right side's columns, pairwise equal types
    sql::BoundExprPtr residual;                 // over left ++ right columns; null = none
    sql::JoinType type = sql::JoinType::kInner;
    int lookup_side = -1;  // 0 or 1: that side is a table (lookup mode); -1: symmetric
    int64_t state_ttl_us = 0;  // > 0: rows not updated for this long (in watermark time) are dropped
  };

  static Result<std::unique_ptr<HashJoinOperator>> Create(Spec spec, int64_t now_micros);
  ~HashJoinOperator() override;

  // The operator each side's chunks are pushed into.
  Operator* port(int side);

  // Chunks come through the ports; pushing into the join itself is an error.
  Status Push(const DataChunk& chunk) override;

  size_t stored_rows(int side) const { return stored_rows_[side]; }

  Status Snapshot(sql::StateWriter* out) const override;
  Status Restore(sql::StateReader* in) override;
  const char* state_name() const override { return "hash_join"; }
  int64_t StateKeys() const override { return static_cast<int64_t>(stored_rows_[0] + stored_rows_[1]); }
  // Stored rows dropped by the state TTL so far.
  int64_t StateExpired() const override { return expired_rows_; }

 private:
  class Port;
  struct StoredRow {
    std::string row_key;  // AppendKeyBytes of every column: identifies equal rows
    std::vector<sql::Value> values;
    int64_t count = 0;
    int64_t touched = 0;  // state TTL: the watermark of the row's last update
  };
  // The rows of one join key. Equal rows share one entry (found by row_key); once a bucket
  // holds more than kIndexFrom rows they are found through `index` rather than by a scan, so
  // keys with many rows (a window start, a category) do not make storing quadratic.
  struct Bucket {
    std::vector<StoredRow> rows;
    absl::flat_hash_map<std::string, uint32_t> index;  // row_key -> position; empty while small
  };
  static constexpr size_t kIndexFrom = 16;
  // Adds `weight` copies of the row to the bucket (removing the entry when its count drops to
  // zero); `make_values` is called only for a row not stored yet. Returns the change in the
  // number of distinct stored rows (-1, 0, +1).
  //
  // `touch` (state TTL; nullptr without): the row's new update time; a retraction of a row not
  // stored (it expired) is then ignored. Sets *retouched if the row stays and its time changed.
  template <typename MakeValues>
  static int UpdateBucket(Bucket& bucket, const std::string& row_key, int64_t weight, MakeValues make_values,
                          const int64_t* touch = nullptr, bool* retouched = nullptr);

  HashJoinOperator() = default;
  Status PushSide(int side, const DataChunk& chunk);
  Status FlushSide(int side);
  Status WatermarkSide(int side, int64_t watermark_us);
  // Evaluates the residual over the candidates, emits the passing ones and, for LEFT joins,
  // the unmatched probe rows padded with NULLs.
  Status EmitCandidates();
  // State TTL: drops the stored rows not updated since before forwarded_watermark_ - ttl.
  void ExpireIdleRows();

  // State TTL: one entry per change of a stored row's update time, in that order (watermarks
  // only grow, so each queue is sorted). An entry whose row was removed or updated since is
  // skipped.
  struct Touch {
    int64_t touched;
    std::string key;
    std::string row_key;
  };
  std::deque<Touch> touch_queue_[2];
  int64_t first_watermark_ = INT64_MIN;  // touches before any watermark count as at this one
  int64_t expired_rows_ = 0;

  Spec spec_;
  std::unique_ptr<Port> ports_[2];
  std::vector<std::unique_ptr<ExpressionExecutor>> keys_[2];
  std::unique_ptr<ExpressionExecutor> residual_;
  DataChunk key_values_[2];
  absl::flat_hash_map<std::string, Bucket> state_[2];
  size_t stored_rows_[2] = {0, 0};
  int64_t watermark_[2] = {INT64_MIN, INT64_MIN};
  int64_t forwarded_watermark_ = INT64_MIN;
  std::string key_;

  // Candidate output rows of the current probe chunk, and for each the probe row it came from.
  DataChunk candidates_;
  std::vector<uint32_t> candidate_probe_;
  // Which rows of the chunk being probed found a match (LEFT joins pad the others).
  std::vector<bool> probe_matched_;
  std::vector<uint32_t> selection_;
  DataChunk out_;
};

}  // namespace sluice::exec
