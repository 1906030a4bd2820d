#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/file_system.h"
#include "common/result.h"
#include "sql/ast.h"
#include "sql/types.h"

namespace sluice::sql {

struct ColumnSchema {
  std::string name;
  DataType type;
  bool not_null = false;
};

// One catalog object: a source, table, materialized view or sink, as bound at creation.
struct CatalogEntry {
  uint64_t id = 0;          // unique, never reused
  ObjectKind kind = ObjectKind::kSource;
  std::string name;
  std::string sql;          // the CREATE statement as the user wrote it
  std::vector<ColumnSchema> columns;
  std::string topic;        // sources and tables: the topic read; sinks: the topic written
  std::vector<int> primary_key;            // tables: column indexes
  std::vector<std::string> dependencies;   // relations this object reads (views, sinks)
  WithOptions options;
  // Sources: the WATERMARK FOR column (-1: none) and its delay (the watermark is the largest
  // event time seen minus this). Derived from `sql` when the entry is built.
  int watermark_column = -1;
  int64_t watermark_delay_us = 0;
  int64_t idle_timeout_ms = 5000;  // sources: a partition without data this long is idle
  // Sources WITH (dedup_key, dedup_window): an event whose dedup_key column equals that of an
  // event appended less than dedup_window_ms before it is dropped (-1: no dedup).
  int dedup_column = -1;
  int64_t dedup_window_ms = 0;
  // Views: whether their output only inserts rows (no retractions).
  bool append_only = true;
  // Non-empty: the object came back from the catalog file but cannot run (its DDL no longer
  // binds, or it failed to start); this says why. It keeps its name until it is dropped, and
  // reading it fails with this message.
  std::string failure;
};

// A record of the catalog's durable history (docs/formats/catalog.md).
struct CatalogRecord {
  enum class Op : uint8_t { kCreate = 1, kDrop = 2 };
  Op op = Op::kCreate;
  uint64_t version = 0;  // catalog version after this record
  uint64_t id = 0;       // the object created or dropped
  ObjectKind kind = ObjectKind::kSource;
  std::string name;
  std::string sql;       // kCreate: the DDL text, re-planned on load
};

// The catalog's append-only file: one CRC-checked record per DDL. Open() reads every valid
// record; a torn or corrupt tail (a crash mid-append) is cut off. Thread-compatible: the
// Catalog serialises access.
class CatalogLog {
 public:
  static Result<std::unique_ptr<CatalogLog>> Open(FileSystem* fs, std::string path,
                                                  std::vector<CatalogRecord>* records);
  // Appends and fsyncs one record.
  Status Append(const CatalogRecord& record);

 private:
  CatalogLog(std::unique_ptr<File> file) : file_(std::move(file)) {}
  std::unique_ptr<File> file_;
};

std::string EncodeCatalogRecord(const CatalogRecord& record);
// Decodes one record from the front of *in; false at a torn or corrupt record.
bool DecodeCatalogRecord(std::string_view* in, CatalogRecord* record);

// The named objects of one sluice instance. Names are unique across kinds (as in PostgreSQL's
// relations). Thread-safe; returned entries are copies.
class Catalog {
 public:
  // `log` may be null (an in-memory catalog, for tests and batch tools).
  explicit Catalog(std::unique_ptr<CatalogLog> log) : log_(std::move(log)) {}

  Result<CatalogEntry> Find(std::string_view name) const;
  bool Exists(std::string_view name) const;
  std::vector<CatalogEntry> List(ObjectKind kind) const;  // by name
  uint64_t version() const;

  // Ok if no object is called `name`, else the kAlreadyExists Create would return.
  Status CheckNameFree(std::string_view name) const;

  // Assigns an id, persists a create record (unless `replay`), and adds the entry.
  // kAlreadyExists if the name is taken: "source \"bid\" already exists".
  Result<uint64_t> Create(CatalogEntry entry, bool replay = false);
  // Removes `name`, which must be of kind `kind`. Refused with kFailedPrecondition naming a
  // dependent when another object reads it: "cannot drop source bid because materialized view
  // v depends on it". kNotFound if absent (the caller handles IF EXISTS).
  Status Drop(std::string_view name, ObjectKind kind, bool replay = false);

  // Marks `name` as unable to run (CatalogEntry::failure); nothing is persisted.
  void MarkFailed(std::string_view name, std::string failure);

  // Restores the id/version counters after a replay of `records`.
  void RestoreCounters(const std::vector<CatalogRecord>& records);

 private:
  mutable std::mutex mu_;
  std::unique_ptr<CatalogLog> log_;
  std::map<std::string, CatalogEntry, std::less<>> entries_;
  uint64_t next_id_ = 1;
  uint64_t version_ = 0;
};

}  // namespace sluice::sql
