#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "exec/operator.h"

namespace sluice::engine {

// A sink's output row as it leaves sluice: a JSON object of the row's columns, the record key
// (the value of the sink's `key` column as text, when the sink names one; NULL: no key), and
// whether the change retracts the row (`sluice-op: delete`) or inserts it.
struct SinkRow {
  std::string json;
  std::optional<std::string> key;
  bool retraction = false;
};

// Collects a dataflow's changes as SinkRows until taken. Shared by the engine's sinks (one
// record per row in the sink's topic) and the Kafka connector's scaled-out sinks.
class SinkRowWriter final : public exec::ChangeListener {
 public:
  // `columns` are the JSON field names; `key_column` the column whose value is the record
  // key (-1: none).
  SinkRowWriter(std::vector<std::string> columns, int key_column)
      : columns_(std::move(columns)), key_column_(key_column) {}

  Status OnChanges(const exec::DataChunk& chunk) override;
  Status OnWatermark(int64_t) override { return Status::Ok(); }

  std::vector<SinkRow> Take() { return std::exchange(rows_, {}); }

 private:
  std::vector<std::string> columns_;
  int key_column_;
  std::vector<SinkRow> rows_;
};

// The header every sink record carries: "insert" or "delete".
inline constexpr std::string_view kSinkOpHeader = "sluice-op";

}  // namespace sluice::engine
