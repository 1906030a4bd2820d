#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "exec/operator.h"
#include "exec/operators.h"
#include "sql/logical_plan.h"

namespace sluice::exec {

// When a source event counts as late for a view (SPEC §3 "Time, watermarks, late data").
struct LatenessRule {
  enum class Kind : uint8_t {
    kAllowedLateness,  // late if its event time < watermark - allowed lateness
    kWindowClosed,     // EMIT ON WINDOW CLOSE: late if the last window containing it has closed
  };
  Kind kind = Kind::kAllowedLateness;
  int64_t allowed_lateness_us = 3600LL * 1000 * 1000;
  int64_t size_us = 0;   // kWindowClosed: the window's size
  int64_t slide_us = 0;  // kWindowClosed: the hop slide (= size for TUMBLE)

  // True if an event at `time_us` is late when the watermark is `watermark_us`.
  bool IsLate(int64_t time_us, int64_t watermark_us) const;
};

// One relation a dataflow reads: a source (append-only events), a table (row versions,
// upserted by primary key) or a materialized view (its change stream).
struct DataflowInput {
  sql::CatalogEntry relation;
  std::vector<DataType> types;  // of the chunks Push expects: the relation's columns
  std::vector<bool> used;       // per column: read by some operator (others may be left NULL)
  Operator* entry = nullptr;    // where its chunks go (a table's upsert, a join's port, ...)
  // Sources with a WATERMARK: when one of its events is late for this dataflow.
  LatenessRule lateness;
};

struct DataflowOptions {
  int64_t now_micros = 0;  // now() of an ad-hoc query (views never contain now())
  bool emit_on_window_close = false;
  int64_t allowed_lateness_us = 3600LL * 1000 * 1000;
  bool keep_rows = true;  // false: the result is only passed to listeners (sinks)
  // Windowed aggregates over a watermarked source forget a window's groups once the watermark
  // passes its end + allowed lateness (AggregateOperator::WindowExpiry).
  bool expire_windows = true;
  // WITH (state_ttl): > 0: aggregates and joins drop the state of groups and stored rows not
  // updated while the watermark advanced by more than this (docs/sql.md, "State TTL").
  int64_t state_ttl_us = 0;
};

// A SELECT lowered into push operators: one or more inputs (a join has two) flowing through
// filters, windows, joins and aggregates into a CollectSink that holds the result rows. The
// same dataflow answers an ad-hoc query (push everything, then Finish, which applies ORDER BY
// and LIMIT) and maintains a materialized view (push, then FlushChanges at each batch
// boundary; the sink's listeners see every change).
//
// Owns everything it needs: the plan may be destroyed once Build returns. Not thread-safe.
class Dataflow {
 public:
  static Result<std::unique_ptr<Dataflow>> Build(const sql::LogicalOperator& plan, const DataflowOptions& options);

  // The relations read, in plan order (left to right). Empty for SELECT without FROM.
  size_t input_count() const { return inputs_.size(); }
  const DataflowInput& input(size_t i) const { return inputs_[i]; }

  Status Push(size_t input, const DataChunk& chunk) { return inputs_[input].entry->Push(chunk); }
  // The input's event time has reached `watermark_us`.
  Status AdvanceWatermark(size_t input, int64_t watermark_us) {
    return inputs_[input].entry->OnWatermark(watermark_us);
  }
  // Ends a unit of one input (a table's upserts are applied; changes are pushed downstream).
  Status FlushInput(size_t input) { return inputs_[input].entry->Flush(); }

  // Ends the input and returns the result rows (sorted and limited as the query says).
  Result<std::vector<std::vector<sql::Value>>> Finish();

  // For a continuously maintained query (a materialized view): pushes the changes owed since
  // the last call (aggregates emit -1/+1 per changed group) into the result.
  Status FlushChanges();
  // The current result rows, unordered. Valid between pushes.
  std::vector<std::vector<sql::Value>> CurrentRows() const { return sink_->Rows(); }
  size_t current_row_count() const { return sink_->row_count(); }
  CollectSink& sink() { return *sink_; }
  // True if the plan ends in ORDER BY or LIMIT (only meaningful for a one-off query).
  bool has_order_or_limit() const { return !order_.empty() || limit_ >= 0 || offset_ > 0; }
  // True if the output only ever inserts rows (no retractions): EMIT ON WINDOW CLOSE views,
  // filters and projections of sources.
  bool append_only() const { return append_only_; }
  // Checkpoints: every operator's state, in lowering order, then the result's, appended to
  // *out (docs/checkpointing.md, "Payload"). Call at a flush boundary (after FlushChanges).
  // Restore reads it into a freshly built dataflow of the same plan. kFailedPrecondition if an
  // operator cannot be checkpointed yet.
  //
  // Each section is written in place after an 8-byte length (kFixed); payload version 2 had
  // varint lengths (kVarint), which cost a copy of every section, and is still read.
  enum class SectionFraming : uint8_t { kFixed, kVarint };
  Status Snapshot(std::string* out) const;
  Status Restore(std::string_view in, SectionFraming framing = SectionFraming::kFixed);
  // Snapshot in two steps, so that the bulk of a view's state is serialised off its thread:
  // CaptureSnapshot (at a flush boundary, on the dataflow's thread) appends the operators'
  // sections to *out and captures the result's rows copy on write
  // (CollectSink::CaptureSnapshot); the returned function appends the rows' section to the
  // same buffer, on any thread, while the dataflow goes on. Snapshot is the two run back to
  // back.
  using SnapshotWriter = std::function<void(std::string* out)>;
  Result<SnapshotWriter> CaptureSnapshot(std::string* out) const;

  // The state each stateful operator holds (for metrics): keys now, bytes in the last
  // Snapshot (-1 before the first). `name` is unique within the dataflow ("aggregate_2").
  struct OperatorState {
    std::string name;
    int64_t keys = 0;
    int64_t bytes = -1;
    int64_t expired = 0;  // keys dropped by the state TTL so far
  };
  std::vector<OperatorState> StateStats() const;

  // The first operator of type T, or nullptr (tests, introspection).
  template <typename T>
  const T* FindOperator() const {
    for (const auto& op : operators_) {
      if (const T* t = dynamic_cast<const T*>(op.get())) return t;
    }
    return nullptr;
  }

  // The physical pipeline, one operator per line (sink first, inputs last), for EXPLAIN.
  const std::string& Explain() const { return explain_; }

 private:
  Dataflow() = default;
  struct Lowering;

  std::vector<DataflowInput> inputs_;
  std::vector<std::unique_ptr<Operator>> operators_;
  std::unique_ptr<CollectSink> sink_;
  mutable std::vector<int64_t> snapshot_bytes_;  // per operator, from the last Snapshot
  std::vector<sql::BoundOrder> order_;  // ORDER BY over the output (empty: none)
  int visible_columns_ = -1;            // >= 0: drop the hidden sort keys after sorting
  int64_t limit_ = -1;
  int64_t offset_ = 0;
  int64_t now_micros_ = 0;
  bool append_only_ = true;
  Operator* no_input_entry_ = nullptr;  // SELECT without FROM: the bottom operator
  std::string explain_;
};

}  // namespace sluice::exec
