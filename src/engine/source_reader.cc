#include "engine/source_reader.h"

#include <algorithm>

#include "exec/operator.h"
#include "log/record_batch.h"

namespace sluice::engine {
namespace {

std::vector<exec::ColumnSpec> SpecsFor(const exec::DataflowInput& input) {
  const sql::CatalogEntry& relation = input.relation;
  std::vector<exec::ColumnSpec> specs;
  for (size_t i = 0; i < relation.columns.size(); ++i) {
    specs.push_back({relation.columns[i].name, relation.columns[i].type, i < input.used.size() && !input.used[i]});
  }
  return specs;
}

}  // namespace

Offset ReadableEnd(const log::Partition& partition) {
  Result<log::Partition::CommittedView> committed = partition.Committed(partition.Info().end_offset);
  return committed.ok() ? committed->last_stable_offset : partition.Info().end_offset;
}

SourceReader::SourceReader(exec::Dataflow* dataflow, size_t input, int32_t partitions, int64_t idle_timeout_ms)
    : dataflow_(dataflow),
      input_(input),
      decoder_(SpecsFor(dataflow->input(input))),
      chunk_(dataflow->input(input).types),
      idle_timeout_ms_(idle_timeout_ms),
      partitions_(static_cast<size_t>(std::max(partitions, 0))) {
  const sql::CatalogEntry& relation = dataflow->input(input).relation;
  if (relation.kind == sql::ObjectKind::kSource && relation.watermark_column >= 0) {
    time_column_ = relation.watermark_column;
    delay_us_ = relation.watermark_delay_us;
  }
  if (relation.kind == sql::ObjectKind::kSource && relation.dedup_column >= 0) {
    dedup_column_ = relation.dedup_column;
    dedup_window_ms_ = relation.dedup_window_ms;
  }
}

bool SourceReader::IsRepeat(int64_t ts_ms) {
  const size_t row = chunk_.size() - 1;
  const exec::Vector& keys = chunk_.column(static_cast<size_t>(dedup_column_));
  if (keys.IsNull(row)) return false;
  dedup_key_.clear();
  exec::AppendKeyBytes(keys, row, &dedup_key_);
  auto [it, inserted] = dedup_seen_.try_emplace(dedup_key_, ts_ms);
  if (!inserted) {
    if (ts_ms - it->second < dedup_window_ms_) return true;
    it->second = ts_ms;  // seen long enough ago: a new event, remembered from now
  }
  dedup_order_.emplace_back(ts_ms, dedup_key_);
  return false;
}

void SourceReader::EvictDedupKeys() {
  int64_t low = INT64_MAX;
  for (const PartitionTime& p : partitions_) {
    if (p.max_record_ms != INT64_MIN) low = std::min(low, p.max_record_ms);
  }
  if (low == INT64_MAX) return;
  while (!dedup_order_.empty() && dedup_order_.front().first <= low - dedup_window_ms_) {
    auto it = dedup_seen_.find(dedup_order_.front().second);
    // A key seen again later was re-filed with a newer time: only its newest entry removes it.
    if (it != dedup_seen_.end() && it->second == dedup_order_.front().first) dedup_seen_.erase(it);
    dedup_order_.pop_front();
  }
}

Result<bool> SourceReader::ReadStep(log::Partition& partition, Offset* next, Offset until, size_t max_bytes,
                                    Progress* progress, int64_t now_ms) {
  const Offset start = partition.Info().start_offset;
  if (*next < start) *next = start;  // retention removed what was not read yet
  if (*next >= until) return false;
  // read_committed: nothing at or above the last stable offset, no aborted transaction's data.
  SLUICE_ASSIGN_OR_RETURN(log::Partition::CommittedView committed, partition.Committed(*next));
  until = std::min(until, committed.last_stable_offset);
  if (*next >= until) return false;
  Result<log::ReadResult> read_or = partition.Read(*next, max_bytes);
  if (!read_or.ok() && read_or.status().code() == StatusCode::kOutOfRange &&
      partition.Info().start_offset > *next) {
    *next = partition.Info().start_offset;  // retention ran between Info and Read
    return true;
  }
  SLUICE_ASSIGN_OR_RETURN(log::ReadResult read, std::move(read_or));
  if (read.bytes.empty()) return false;
  const size_t p = static_cast<size_t>(partition.id().value());
  if (p >= partitions_.size()) partitions_.resize(p + 1);
  PartitionTime& times = partitions_[p];
  const exec::LatenessRule& lateness = dataflow_->input(input_).lateness;
  log::RecordReader reader(read.bytes, *next, committed.aborted);
  log::Record record;
  const char* buffer_end = read.bytes.data() + read.bytes.size();
  Offset last = *next - 1;
  while (reader.Next(&record) && record.offset < until) {
    last = record.offset;
    const size_t readable = record.value ? static_cast<size_t>(buffer_end - record.value->data()) : 0;
    Status decoded = record.value ? decoder_.DecodeInto(*record.value, readable, &chunk_)
                                  : Status::InvalidArgument("the event has no value");
    if (!decoded.ok()) {
      ++progress->rejected;
      if (keep_rejects_) {
        rejects_.push_back({partition.id(), record.offset, record.timestamp.value(),
                            record.value ? std::string(*record.value) : std::string(), decoded.message()});
      }
      continue;
    }
    if (dedup_column_ >= 0) {
      const int64_t ts_ms = record.timestamp.value();
      times.max_record_ms = std::max(times.max_record_ms, ts_ms);
      if (IsRepeat(ts_ms)) {
        chunk_.set_size(chunk_.size() - 1);  // drop the row just decoded
        ++progress->duplicates;
        continue;
      }
    }
    if (time_column_ >= 0) {
      const size_t row = chunk_.size() - 1;
      const exec::Vector& times_column = chunk_.column(static_cast<size_t>(time_column_));
      if (!times_column.IsNull(row)) {
        const int64_t t = times_column.data<int64_t>()[row];
        if (lateness.IsLate(t, watermark_)) {
          chunk_.set_size(row);  // drop the row just decoded
          ++progress->late;
          late_.push_back({std::string(*record.value), record.timestamp.value()});
          continue;
        }
        times.max_time = std::max(times.max_time, t);
      }
    }
    ++progress->applied;
    progress->min_record_ms = std::min(progress->min_record_ms, record.timestamp.value());
    if (chunk_.size() == chunk_.capacity()) {
      SLUICE_RETURN_IF_ERROR(dataflow_->Push(input_, chunk_));
      chunk_.Reset();
    }
  }
  SLUICE_RETURN_IF_ERROR(reader.status());
  if (dedup_column_ >= 0) EvictDedupKeys();
  times.last_data_ms = now_ms;
  if (started_ms_ < 0) started_ms_ = now_ms;
  const Offset advanced = std::min(std::max(read.next_offset, last + 1), until);
  const bool moved = advanced > *next;
  *next = advanced;
  return moved;
}

void SourceReader::Snapshot(sql::StateWriter* out) const {
  out->U64(partitions_.size());
  for (const PartitionTime& p : partitions_) {
    out->I64(p.max_time);
    out->I64(p.max_record_ms);
  }
  out->I64(watermark_);
  // Dedup: the live keys in the order they were filed (stale entries of re-filed keys skipped).
  size_t live = 0;
  for (const auto& [ts, key] : dedup_order_) {
    auto it = dedup_seen_.find(key);
    live += it != dedup_seen_.end() && it->second == ts ? 1 : 0;
  }
  out->U64(live);
  for (const auto& [ts, key] : dedup_order_) {
    auto it = dedup_seen_.find(key);
    if (it == dedup_seen_.end() || it->second != ts) continue;
    out->I64(ts);
    out->Bytes(key);
  }
}

Status SourceReader::Restore(sql::StateReader* in, int64_t now_ms) {
  SLUICE_ASSIGN_OR_RETURN(uint64_t n, in->Count());
  partitions_.assign(std::max<size_t>(partitions_.size(), n), PartitionTime{});
  for (uint64_t i = 0; i < n; ++i) {
    SLUICE_ASSIGN_OR_RETURN(partitions_[i].max_time, in->I64());
    SLUICE_ASSIGN_OR_RETURN(partitions_[i].max_record_ms, in->I64());
    partitions_[i].last_data_ms = now_ms;
  }
  SLUICE_ASSIGN_OR_RETURN(watermark_, in->I64());
  SLUICE_ASSIGN_OR_RETURN(uint64_t keys, in->Count());
  dedup_seen_.clear();
  dedup_order_.clear();
  for (uint64_t i = 0; i < keys; ++i) {
    SLUICE_ASSIGN_OR_RETURN(int64_t ts, in->I64());
    SLUICE_ASSIGN_OR_RETURN(std::string key, in->Bytes());
    if (!dedup_seen_.try_emplace(key, ts).second) return Status::Corruption("dedup state holds a key twice");
    dedup_order_.emplace_back(ts, std::move(key));
  }
  started_ms_ = now_ms;
  return Status::Ok();
}

Status SourceReader::Finish() {
  if (chunk_.size() == 0) return Status::Ok();
  Status s = dataflow_->Push(input_, chunk_);
  chunk_.Reset();
  return s;
}

Result<int64_t> SourceReader::AdvanceWatermark(int64_t now_ms) {
  if (time_column_ < 0) return watermark_;
  if (started_ms_ < 0) started_ms_ = now_ms;
  // A partition is active while it delivered data within the idle timeout; one that never did
  // counts as active (holding the watermark back) until the timeout has passed since the start.
  int64_t active = INT64_MAX;
  int64_t any = INT64_MIN;
  for (const PartitionTime& p : partitions_) {
    const int64_t w = p.max_time == INT64_MIN ? INT64_MIN : p.max_time - delay_us_;
    any = std::max(any, w);
    const int64_t since = p.max_time == INT64_MIN ? started_ms_ : p.last_data_ms;
    if (now_ms - since < idle_timeout_ms_) active = std::min(active, w);
  }
  const int64_t candidate = active != INT64_MAX ? active : any;
  if (candidate > watermark_) {
    watermark_ = candidate;
    SLUICE_RETURN_IF_ERROR(dataflow_->AdvanceWatermark(input_, watermark_));
  }
  return watermark_;
}

}  // namespace sluice::engine
