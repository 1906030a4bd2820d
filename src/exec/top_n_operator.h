#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "exec/expression_executor.h"
#include "exec/operator.h"
#include "sql/logical_plan.h"

namespace sluice::exec {

// ROW_NUMBER() OVER (PARTITION BY p ORDER BY o) with an optional bound N (from a filter
// rn <= N on its output): per partition, the rows ranked by the ORDER BY, of which the first N
// are output with their rank appended as a BIGINT column. Incremental: inputs may insert or
// retract rows; at each Flush a partition that changed emits, rank by rank, the retraction of
// the row it showed before and the row it shows now (ranks whose row did not change emit
// nothing). Top-N per group and dedup (rn = 1) are this operator.
//
// Rows equal under the ORDER BY are ranked by their bytes, so ranks are deterministic.
// State: every row of every partition (a retraction can promote any row into the top N).
class TopNOperator final : public Operator {
 public:
  static Result<std::unique_ptr<TopNOperator>> Create(const sql::LogicalOperator& row_number,
                                                      std::vector<DataType> input_types, int64_t now_micros);
  ~TopNOperator() override;
  Status Push(const DataChunk& chunk) override;
  Status Flush() override;

  size_t partition_count() const { return partitions_.size(); }
  const char* state_name() const override { return "top_n"; }
  int64_t StateKeys() const override { return static_cast<int64_t>(partitions_.size()); }

  // REQUIRES (both): at a flush boundary.
  Status Snapshot(sql::StateWriter* out) const override;
  Status Restore(sql::StateReader* in) override;

 private:
  struct SortKey {
    std::vector<sql::Value> keys;  // ORDER BY values
    std::string row;               // the row's bytes: tie-break and identity
  };
  struct KeyLess {
    const std::vector<sql::BoundOrder>* order;
    bool operator()(const SortKey& a, const SortKey& b) const;
  };
  struct Stored {
    std::vector<sql::Value> values;
    int64_t count = 0;
  };
  struct Partition {
    explicit Partition(KeyLess less) : rows(less) {}
    std::string key;
    std::map<SortKey, Stored, KeyLess> rows;
    std::vector<std::vector<sql::Value>> shown;  // rows output, rank order (rank = index + 1)
    bool dirty = false;
  };

  TopNOperator() = default;

  std::vector<sql::BoundOrder> order_;
  std::vector<std::unique_ptr<ExpressionExecutor>> partition_exprs_;
  std::vector<std::unique_ptr<ExpressionExecutor>> order_exprs_;
  int64_t limit_ = -1;
  DataChunk partition_values_;
  DataChunk order_values_;
  absl::flat_hash_map<std::string, std::unique_ptr<Partition>> partitions_;
  std::vector<Partition*> dirty_;
  std::string key_;
  DataChunk out_;
};

}  // namespace sluice::exec
