#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sql/bound_expr.h"
#include "sql/catalog.h"

namespace sluice::sql {

// The logical plan the binder produces from a SELECT: relational operators over typed
// columns, before any decision about how they run (the planner lowers this into exec
// pipelines, streaming or batch). EXPLAIN prints it.

enum class LogicalKind : uint8_t {
  kScan,        // a source, table or view
  kWindow,      // TUMBLE / HOP / SESSION: adds window_start, window_end
  kFilter,
  kProject,
  kAggregate,   // GROUP BY: output = group keys, then aggregates
  kJoin,
  kDistinctOn,  // first row per key (DISTINCT ON)
  kRowNumber,   // ROW_NUMBER() OVER (PARTITION BY groups ORDER BY order): appends the rank;
                // `limit` >= 0 keeps only ranks <= limit (top-N, dedup)
  kSort,
  kLimit,
};

enum class WindowKind : uint8_t { kTumble, kHop, kSession };

enum class AggregateFn : uint8_t {
  kCountStar, kCount, kSum, kAvg, kMin, kMax, kStddevSamp, kStddevPop,
  kApproxCountDistinct, kApproxPercentile,
};
std::string_view AggregateFnName(AggregateFn fn);

struct BoundAggregate {
  AggregateFn fn = AggregateFn::kCountStar;
  std::vector<BoundExprPtr> args;  // over the aggregate's input
  bool distinct = false;
  DataType type;                   // result type
  double percentile = 0;           // kApproxPercentile: q in [0, 1]
};

struct BoundOrder {
  BoundExprPtr expr;
  bool descending = false;
  bool nulls_first = false;  // PostgreSQL default: NULLS LAST for ASC, NULLS FIRST for DESC
};

struct LogicalOperator {
  explicit LogicalOperator(LogicalKind k) : kind(k) {}

  LogicalKind kind;
  std::vector<ColumnSchema> schema;  // output columns
  std::vector<std::unique_ptr<LogicalOperator>> children;

  // kScan
  CatalogEntry relation;
  // kWindow
  WindowKind window = WindowKind::kTumble;
  int time_column = -1;        // input column of the event time
  int64_t size_us = 0;         // tumble/hop size
  int64_t slide_us = 0;        // hop slide
  int64_t gap_us = 0;          // session gap
  // SESSION: sessions form per value of these keys (over the input columns): the binder puts
  // here the GROUP BY keys of the aggregate the window feeds that do not read window_start or
  // window_end. Empty: one session sequence over every row.
  std::vector<BoundExprPtr> session_partition;
  // kFilter: predicate; kJoin: condition (null for CROSS)
  BoundExprPtr predicate;
  JoinType join = JoinType::kInner;
  // kProject: one expression per output column; kDistinctOn: the keys
  std::vector<BoundExprPtr> exprs;
  // kAggregate; kRowNumber: PARTITION BY
  std::vector<BoundExprPtr> groups;
  std::vector<BoundAggregate> aggregates;
  // kSort; kRowNumber: ORDER BY
  std::vector<BoundOrder> order;
  int visible_columns = -1;  // columns of the input that are output (hidden sort keys follow)
  // kLimit; kRowNumber: the largest rank kept (-1: all)
  int64_t limit = -1;
  int64_t offset = 0;

  // An indented tree, one operator per line, for EXPLAIN.
  std::string ToString(int indent = 0) const;
};
using LogicalPlan = std::unique_ptr<LogicalOperator>;

// A bound SELECT: the plan plus what the statement asks of its output.
struct BoundQuery {
  LogicalPlan plan;
  bool emit_on_window_close = false;
  std::vector<std::string> dependencies;  // relation names read
};

}  // namespace sluice::sql
