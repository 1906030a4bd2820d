#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "exec/vector.h"

namespace sluice::exec {

struct ColumnSpec {
  std::string name;  // the JSON field it is read from
  DataType type;
  // Not read by the query. A VARCHAR column is then left NULL without looking at the field
  // (every JSON value casts to VARCHAR, so skipping it cannot change which events are
  // rejected); other types are still decoded, because an uncastable value rejects the event
  // whether or not the query reads it.
  bool skip = false;
};

// Decodes JSON objects (one event each) straight into the columns of a DataChunk, reading only
// the declared fields (simdjson On-Demand: other fields are skipped, not materialised).
// Casting rules (SPEC §3): a missing field or JSON null is NULL; numbers, numeric strings,
// booleans and timestamps (RFC 3339 text or epoch milliseconds) are cast to the column's type;
// a value that cannot be cast rejects the whole event with a reason naming the column.
// Field names match exactly, or case-insensitively when no exact match exists.
//
// Not thread-safe (owns a parser); one decoder per task.
class JsonDecoder {
 public:
  explicit JsonDecoder(std::vector<ColumnSpec> columns);
  ~JsonDecoder();

  // Decodes `json` into row chunk->size() of `chunk` (whose columns match the specs, in order)
  // and grows the chunk by one row. On error the chunk is unchanged and the Status
  // (kInvalidArgument) says why, for the dead-letter topic.
  // `readable` is how many bytes starting at json.data() may be read: at least json.size() +
  // kJsonPadding avoids a copy (the log's read buffers are allocated that way).
  Status DecodeInto(std::string_view json, size_t readable, DataChunk* chunk);

  const std::vector<ColumnSpec>& columns() const { return columns_; }

  static constexpr size_t kJsonPadding = 64;

 private:
  struct Impl;
  // The column a field name maps to (exact match, else case-insensitive), -1 if none.
  int LookupField(std::string_view key);

  std::vector<ColumnSpec> columns_;
  std::vector<uint8_t> fast_int64_;  // per column: BIGINT or TIMESTAMP[TZ] (int64 fast path)
  std::unique_ptr<Impl> impl_;
};

// Parses a decimal literal ("-12.345", "1e3") into an integer scaled by 10^scale, rounding
// half away from zero; kInvalidArgument if it is not a number or does not fit `precision`.
Result<__int128> ParseDecimal(std::string_view text, int precision, int scale);

}  // namespace sluice::exec
