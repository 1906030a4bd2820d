#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "sql/value.h"

namespace sluice::engine {

struct ResultColumn;

// Pull queries by key arrive as the same text with another key: `SELECT a, b FROM v WHERE k =
// 42`. Parsing and binding such a query costs more than the lookup itself, so the executor
// remembers, per query shape, what binding found: the view, the looked-up column and the
// output columns. The shape is the query's tokens with its one literal taken out; the literal
// is the key of each query.
//
// A text has a shape only when it is a SELECT of at most kMaxTextBytes with exactly one literal
// (an integer or a string), written right after `=` and followed by the end, `;` or a word:
// `k = 42`, `k = '42'`. The executor stores a shape's plan only after checking that the
// literal, converted to the column's type, is the value binding compared with, so a plan never
// answers differently than binding would.
struct PointQueryShape {
  static constexpr size_t kMaxTextBytes = 4096;  // longer texts have no shape

  std::string key;      // the tokens, with the literal replaced by a marker of its kind
  bool integer = false;  // the literal: an integer (else a string)
  std::string literal;   // its digits, or the string's unescaped value

  // The shape of `text`, or nullopt when it has none (see above).
  static std::optional<PointQueryShape> Of(std::string_view text);

  // The literal as a value of `type`, as binding converts a constant compared with a column
  // of that type; nullopt when it does not convert.
  std::optional<sql::Value> LiteralAs(const sql::DataType& type) const;
};

// What binding a shape found (sql_executor.cc): `SELECT <columns of view> FROM view WHERE
// column = <literal>`.
struct PointQueryPlan {
  uint64_t catalog_generation = 0;  // the plan holds while the catalog has not changed
  std::string view;
  size_t column = 0;                // the view's column compared with the literal
  sql::DataType column_type;
  std::vector<size_t> outputs;      // the view's column for each output column
  std::vector<std::pair<std::string, sql::DataType>> output_columns;
};

// Plans by shape key; thread-safe. Holds at most `capacity` plans and forgets them all when
// full (a workload has a handful of shapes; a flood of distinct ones gains nothing from any).
class PointQueryCache {
 public:
  explicit PointQueryCache(size_t capacity = 1024) : capacity_(capacity) {}

  // The plan of `key` made under `catalog_generation`, or null.
  std::shared_ptr<const PointQueryPlan> Find(const std::string& key, uint64_t catalog_generation) const;
  void Insert(const std::string& key, PointQueryPlan plan);
  size_t size() const;

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<const PointQueryPlan>> plans_;  // GUARDED_BY(mu_)
};

}  // namespace sluice::engine
