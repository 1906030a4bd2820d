#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "common/result.h"
#include "exec/cow_vector.h"
#include "exec/vector.h"
#include "sql/catalog.h"
#include "sql/value_codec.h"
#include "sql/value.h"

namespace sluice::exec {

// A push-based physical operator: chunks of changes (rows with weights +1/-1) flow from the
// source down a chain. The same operators run a batch query (one pass over a bounded input,
// then Finish) and, next, a streaming view (Flush at every batch boundary).
//
// Push and Flush run on one thread per pipeline; chunks handed downstream are only valid for
// the duration of the downstream call (operators that keep data copy it).
class Operator {
 public:
  virtual ~Operator() = default;

  // Consumes `chunk`; may push zero or more chunks downstream before returning.
  virtual Status Push(const DataChunk& chunk) = 0;
  // End of a unit of input: operators that hold results back (aggregations) push the changes
  // they owe, then flush downstream.
  virtual Status Flush() { return downstream_ ? downstream_->Flush() : Status::Ok(); }
  // Event time has advanced: no more rows with an event time below `watermark_us` (micros since
  // the epoch) will arrive, except late ones that the source drops. Operators that hold rows
  // back (EMIT ON WINDOW CLOSE aggregates) release them at the next Flush and forward the
  // watermark after what they emit; the others forward it at once.
  virtual Status OnWatermark(int64_t watermark_us) {
    return downstream_ ? downstream_->OnWatermark(watermark_us) : Status::Ok();
  }

  // Checkpoints (docs/checkpointing.md): writes the operator's state; Restore reads it into a
  // freshly built operator of the same plan. Stateless operators write nothing.
  virtual Status Snapshot(sql::StateWriter* out) const { return Status::Ok(); }
  virtual Status Restore(sql::StateReader* in) { return Status::Ok(); }

  // Operators that keep state name it (for metrics: "aggregate", "hash_join", ...) and count
  // its keys (groups, stored rows); stateless ones return nullptr and 0.
  virtual const char* state_name() const { return nullptr; }
  virtual int64_t StateKeys() const { return 0; }
  // Keys (groups, stored rows) dropped so far because the view's state_ttl expired them.
  virtual int64_t StateExpired() const { return 0; }

  void set_downstream(Operator* downstream) { downstream_ = downstream; }
  const std::vector<DataType>& output_types() const { return output_types_; }

 protected:
  Status Emit(const DataChunk& chunk) { return downstream_ ? downstream_->Push(chunk) : Status::Ok(); }

  Operator* downstream_ = nullptr;
  std::vector<DataType> output_types_;
};

// Copies rows `sel[0..n)` of `in` into `out` starting at out row `at`; strings are copied into
// out's arena. REQUIRES: same type, out capacity >= at + n.
void GatherVector(const Vector& in, const uint32_t* sel, size_t n, Vector* out, size_t at, StringArena* arena);

// Appends the bytes that identify row `row` of `v` (NULL flag, then the value) to *key, so that
// equal SQL values (and NULL with NULL, as GROUP BY treats them) give equal bytes.
void AppendKeyBytes(const Vector& v, size_t row, std::string* key);

// The column types of a schema (what operators' chunks are built from).
std::vector<DataType> TypesOf(const std::vector<sql::ColumnSchema>& schema);

// Orders two values as ORDER BY and min/max do: -1, 0 or 1.
// REQUIRES: both non-NULL and of one type.
int CompareSqlValues(const sql::Value& a, const sql::Value& b);

// Receives a pipeline's output changes as they are produced (views over views, sinks).
class ChangeListener {
 public:
  virtual ~ChangeListener() = default;
  virtual Status OnChanges(const DataChunk& chunk) = 0;
  virtual Status OnWatermark(int64_t watermark_us) = 0;
  // Every change of one unit of work (one round of a view: Dataflow::FlushChanges) has been
  // passed on: what came since the last call is one consistent step of the result.
  virtual Status OnFlushed() { return Status::Ok(); }
};

// The end of a pipeline: keeps every row with its weight applied (a +1 then a -1 of the same
// row cancel), in arrival order of first insertion, and passes every change on to its
// listeners.
class CollectSink final : public Operator {
 public:
  // `keep_rows` false: only pass changes on (a sink's pipeline keeps no result).
  explicit CollectSink(std::vector<DataType> types, bool keep_rows = true) : keep_rows_(keep_rows) {
    output_types_ = std::move(types);
  }
  Status Push(const DataChunk& chunk) override;
  Status Flush() override { return Status::Ok(); }
  Status OnWatermark(int64_t watermark_us) override;
  Status Snapshot(sql::StateWriter* out) const override;
  Status Restore(sql::StateReader* in) override;
  // Checkpoints off the view's thread: captures the rows now (copy on write, one pointer per
  // 1024 rows) and returns what writes exactly Snapshot's bytes later, on any thread.
  std::function<void(sql::StateWriter*)> CaptureSnapshot() const;

  void AddListener(ChangeListener* listener) { listeners_.push_back(listener); }
  void RemoveListener(ChangeListener* listener);
  // Tells the listeners that the changes since the last call form one step (OnFlushed).
  Status NotifyFlushed();
  // The output watermark (INT64_MIN before the first).
  int64_t watermark() const { return watermark_; }

  // The rows currently present (each repeated by its multiplicity).
  std::vector<std::vector<sql::Value>> Rows() const;
  // Kept as rows come and go: the view reads it every round, and a scan of a large result per
  // round costs more than the round's work.
  size_t row_count() const { return static_cast<size_t>(live_rows_); }

  // Point lookups (pull queries `WHERE column = value`): the rows present whose `column` has
  // the text of `value`, through a hash index on that column built at the first lookup and
  // kept up to date by Push from then on. At most kMaxColumnIndexes columns are indexed; for
  // others (and NULL values) the answer is nullopt and the caller scans Rows(). Rows whose
  // values print alike but differ (doubles) may be included: callers filter again.
  // `build_index` false: nullopt unless the column's index exists already (building one reads
  // every row).
  std::optional<std::vector<std::vector<sql::Value>>> RowsWhere(size_t column, const sql::Value& value,
                                                               bool build_index = true);
  static constexpr size_t kMaxColumnIndexes = 4;

 private:
  struct Entry {
    std::string key;
    std::vector<sql::Value> values;
    int64_t weight = 0;
  };
  using ColumnIndex = absl::flat_hash_map<std::string, std::vector<uint32_t>>;  // value text -> entries
  void IndexEntry(size_t at);
  void UnindexEntry(size_t at);
  void MoveIndexedEntry(size_t from, size_t to);

  // Row key bytes -> entry, in shards picked by the key's hash: a growing shard rehashes only
  // its own keys (one map of 1M rows stopped the view for ~0.1 s each time it doubled, which
  // set the p99 of event -> subscriber latency at 100K events/s).
  class RowIndex {
   public:
    using Map = absl::flat_hash_map<std::string, size_t>;
    Map& ShardOf(std::string_view key);
    void clear() { shards_.clear(); }
    void reserve(size_t n);

   private:
    static constexpr size_t kShards = 256;
    std::vector<Map> shards_;  // kShards once used
  };

  CowVector<Entry> entries_;  // copy on write: a checkpoint captures it and writes it later
  RowIndex index_;
  std::vector<std::pair<size_t, ColumnIndex>> column_indexes_;  // by column, built on demand
  std::string scratch_;
  std::vector<ChangeListener*> listeners_;
  int64_t watermark_ = INT64_MIN;
  int64_t live_rows_ = 0;  // sum of the positive weights
  bool keep_rows_ = true;
};

// Copies `in` (rows, weights, strings) into *out, which takes in's types and capacity.
void CopyChunk(const DataChunk& in, DataChunk* out);

}  // namespace sluice::exec
