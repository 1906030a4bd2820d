#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "common/result.h"
#include "exec/operator.h"
#include "exec/operators.h"
#include "sql/logical_plan.h"

namespace sluice::exec {

// Owns everything it needs: the plan may be destroyed once Build returns.
//
// A SELECT run once over a bounded input (an ad-hoc query on a source: a scan of its retained
// log). The plan is lowered into the same push operators the streaming views use; ORDER BY and
// LIMIT are applied to the final rows.
//
// Supported now: one input relation (no joins) read through Filter, Window (TUMBLE/HOP/SESSION),
// Aggregate, Project and DISTINCT ON; joins answer "not supported yet".
class BatchQuery {
 public:
  static Result<std::unique_ptr<BatchQuery>> Build(const sql::LogicalOperator& plan, int64_t now_micros);

  // The relation at the bottom of the plan, or nullptr for SELECT without FROM.
  const sql::CatalogEntry* input() const { return input_ ? &*input_ : nullptr; }
  // Column types of the chunks Push expects (the relation's columns).
  const std::vector<DataType>& input_types() const { return input_types_; }
  // Per input column: whether any operator reads it (the others can be left NULL by the scan).
  const std::vector<bool>& input_columns_used() const { return input_used_; }

  Status Push(const DataChunk& chunk) { return first_->Push(chunk); }
  // Ends the input and returns the result rows (sorted and limited as the query says).
  Result<std::vector<std::vector<sql::Value>>> Finish();

  // For a continuously maintained query (a materialized view): pushes the changes owed since
  // the last call (aggregates emit -1/+1 per changed group) into the result.
  Status FlushChanges() { return first_->Flush(); }
  // The current result rows, unordered. Valid between pushes.
  std::vector<std::vector<sql::Value>> CurrentRows() const { return sink_->Rows(); }
  size_t current_row_count() const { return sink_->row_count(); }
  // True if the plan ends in ORDER BY or LIMIT (only meaningful for a one-off query).
  bool has_order_or_limit() const { return !order_.empty() || limit_ >= 0 || offset_ > 0; }

 private:
  BatchQuery() = default;

  std::optional<sql::CatalogEntry> input_;
  std::vector<DataType> input_types_;
  std::vector<bool> input_used_;
  std::vector<std::unique_ptr<Operator>> operators_;  // bottom to top
  std::unique_ptr<CollectSink> sink_;
  Operator* first_ = nullptr;
  std::vector<sql::BoundOrder> order_;  // ORDER BY over the output (empty: none)
  int visible_columns_ = -1;            // >= 0: drop the hidden sort keys after sorting
  int64_t limit_ = -1;
  int64_t offset_ = 0;
  int64_t now_micros_ = 0;
};

}  // namespace sluice::exec
