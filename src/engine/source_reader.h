#pragma once

#include <cstdint>

#include "common/result.h"
#include "exec/batch_query.h"
#include "exec/json_decoder.h"
#include "log/log.h"
#include "sql/catalog.h"

namespace sluice::engine {

// Feeds a source's events into a query: reads record batches from the log, decodes each event
// into the query's input chunk (only the columns the query needs materialised) and pushes full
// chunks. Shared by ad-hoc scans and materialized views. Not thread-safe.
class SourceReader {
 public:
  struct Progress {
    int64_t applied = 0;   // events decoded and pushed
    int64_t rejected = 0;  // events that do not match the source's schema (skipped)
  };

  // `query` must outlive the reader and read `source`.
  SourceReader(const sql::CatalogEntry& source, exec::BatchQuery* query);

  // Reads up to about `max_bytes` of `partition` from *next, never past `until`, and advances
  // *next. If retention removed offsets before *next, continues from the new start. Returns
  // false when nothing was left to read below `until`.
  Result<bool> ReadStep(log::Partition& partition, Offset* next, Offset until, size_t max_bytes,
                        Progress* progress);

  // Pushes the rows still buffered in the chunk.
  Status Finish();

 private:
  exec::BatchQuery* query_;
  exec::JsonDecoder decoder_;
  exec::DataChunk chunk_;
};

}  // namespace sluice::engine
