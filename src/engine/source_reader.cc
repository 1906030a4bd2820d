#include "engine/source_reader.h"

#include <algorithm>

#include "log/record_batch.h"

namespace sluice::engine {
namespace {

std::vector<exec::ColumnSpec> SpecsFor(const sql::CatalogEntry& source, const exec::BatchQuery& query) {
  const std::vector<bool>& used = query.input_columns_used();
  std::vector<exec::ColumnSpec> specs;
  for (size_t i = 0; i < source.columns.size(); ++i) {
    specs.push_back({source.columns[i].name, source.columns[i].type, i < used.size() && !used[i]});
  }
  return specs;
}

}  // namespace

SourceReader::SourceReader(const sql::CatalogEntry& source, exec::BatchQuery* query)
    : query_(query), decoder_(SpecsFor(source, *query)), chunk_(query->input_types()) {}

Result<bool> SourceReader::ReadStep(log::Partition& partition, Offset* next, Offset until, size_t max_bytes,
                                    Progress* progress) {
  const Offset start = partition.Info().start_offset;
  if (*next < start) *next = start;  // retention removed what was not read yet
  if (*next >= until) return false;
  Result<log::ReadResult> read_or = partition.Read(*next, max_bytes);
  if (!read_or.ok() && read_or.status().code() == StatusCode::kOutOfRange &&
      partition.Info().start_offset > *next) {
    *next = partition.Info().start_offset;  // retention ran between Info and Read
    return true;
  }
  SLUICE_ASSIGN_OR_RETURN(log::ReadResult read, std::move(read_or));
  if (read.bytes.empty()) return false;
  log::RecordReader reader(read.bytes, *next);
  log::Record record;
  const char* buffer_end = read.bytes.data() + read.bytes.size();
  Offset last = *next - 1;
  while (reader.Next(&record) && record.offset < until) {
    last = record.offset;
    const size_t readable = record.value ? static_cast<size_t>(buffer_end - record.value->data()) : 0;
    if (!record.value || !decoder_.DecodeInto(*record.value, readable, &chunk_).ok()) {
      ++progress->rejected;
      continue;
    }
    ++progress->applied;
    if (chunk_.size() == chunk_.capacity()) {
      SLUICE_RETURN_IF_ERROR(query_->Push(chunk_));
      chunk_.Reset();
    }
  }
  SLUICE_RETURN_IF_ERROR(reader.status());
  const Offset advanced = std::min(std::max(read.next_offset, last + 1), until);
  const bool moved = advanced > *next;
  *next = advanced;
  return moved;
}

Status SourceReader::Finish() {
  if (chunk_.size() == 0) return Status::Ok();
  Status s = query_->Push(chunk_);
  chunk_.Reset();
  return s;
}

}  // namespace sluice::engine
