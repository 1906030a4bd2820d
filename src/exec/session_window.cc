#include "exec/session_window.h"

#include <algorithm>
#include <iterator>

#include "exec/vector_value.h"
#include "sql/value_codec.h"

namespace sluice::exec {

SessionWindowOperator::~SessionWindowOperator() = default;

Result<std::unique_ptr<SessionWindowOperator>> SessionWindowOperator::Create(
    std::vector<DataType> input_types, int time_column, int64_t gap_us,
    const std::vector<sql::BoundExprPtr>& partition_keys, int64_t now_micros) {
  if (gap_us <= 0) return Status::InvalidArgument("the session gap must be positive");
  if (time_column < 0 || static_cast<size_t>(time_column) >= input_types.size()) {
    return Status::Internal("SESSION: time column out of range");
  }
  auto op = std::unique_ptr<SessionWindowOperator>(new SessionWindowOperator());
  op->time_column_ = static_cast<size_t>(time_column);
  op->gap_us_ = gap_us;
  std::vector<DataType> key_types;
  for (const auto& k : partition_keys) {
    SLUICE_ASSIGN_OR_RETURN(auto compiled, ExpressionExecutor::Compile(*k, now_micros));
    key_types.push_back(k->type);
    op->key_exprs_.push_back(std::move(compiled));
  }
  op->keys_ = DataChunk(key_types);
  const DataType time_type = input_types[op->time_column_];
  op->output_types_ = input_types;
  op->output_types_.push_back(time_type);
  op->output_types_.push_back(time_type);
  op->input_types_ = std::move(input_types);
  op->out_ = DataChunk(op->output_types_);
  return op;
}

// ---- kept rows -------------------------------------------------------------------------------

SessionWindowOperator::RowId SessionWindowOperator::AllocateRow() {
  RowId id;
  if (!free_rows_.empty()) {
    id = free_rows_.back();
    free_rows_.pop_back();
  } else {
    id = static_cast<RowId>(next_row_++);
    if ((id >> kPageBits) == pages_.size()) {
      pages_.push_back(std::make_unique<DataChunk>(input_types_, kPageRows));
      page_live_.push_back(0);
      emitted_start_.resize(emitted_start_.size() + kPageRows, kNotEmitted);
      emitted_end_.resize(emitted_end_.size() + kPageRows, kNotEmitted);
    }
  }
  ++page_live_[id >> kPageBits];
  ++live_rows_;
  emitted_start_[id] = kNotEmitted;
  return id;
}

void SessionWindowOperator::FreeRow(RowId id) {
  const size_t page = id >> kPageBits;
  --live_rows_;
  // A page whose rows are all gone drops their strings (its slots are all on the free list).
  if (--page_live_[page] == 0) pages_[page]->arena().Reset();
  free_rows_.push_back(id);
}

bool SessionWindowOperator::SameRow(RowId id, const DataChunk& chunk, size_t row) {
  const DataChunk& page = *pages_[id >> kPageBits];
  const size_t slot = id & (kPageRows - 1);
  row_bytes_.clear();
  kept_bytes_.clear();
  for (size_t c = 0; c < chunk.column_count(); ++c) {
    AppendKeyBytes(chunk.column(c), row, &row_bytes_);
    AppendKeyBytes(page.column(c), slot, &kept_bytes_);
  }
  return row_bytes_ == kept_bytes_;
}

// ---- input -----------------------------------------------------------------------------------

Status SessionWindowOperator::Push(const DataChunk& chunk) {
  if (next_row_ + chunk.size() > (uint64_t{1} << 32) - kPageRows) {
    return Status::ResourceExhausted("SESSION window: too many rows kept");
  }
  const Vector& time = chunk.column(time_column_);
  const int64_t* ts = time.data<int64_t>();
  keys_.Reset();
  for (size_t k = 0; k < key_exprs_.size(); ++k) {
    SLUICE_RETURN_IF_ERROR(key_exprs_[k]->Execute(chunk, &keys_.column(k), &keys_.arena()));
  }
  insert_rows_.clear();
  insert_parts_.clear();
  for (size_t row = 0; row < chunk.size(); ++row) {
    if (time.IsNull(row)) continue;
    key_.clear();
    for (size_t k = 0; k < key_exprs_.size(); ++k) AppendKeyBytes(keys_.column(k), row, &key_);
    auto it = partitions_.find(key_);
    if (it == partitions_.end()) {
      auto part = std::make_unique<Partition>();
      part->key = key_;
      it = partitions_.emplace(key_, std::move(part)).first;
    }
    Partition* part = it->second.get();
    if (!part->dirty) {
      part->dirty = true;
      dirty_.push_back(part);
    }
    part->changed.push_back(ts[row]);
    if (chunk.weight(row) > 0) {
      insert_rows_.push_back(static_cast<uint32_t>(row));
      insert_parts_.push_back(part);
      continue;
    }
    // A retraction may take back a row inserted earlier in this very chunk: insert those first.
    SLUICE_RETURN_IF_ERROR(Insert(chunk, insert_rows_, insert_parts_));
    insert_rows_.clear();
    insert_parts_.clear();
    SLUICE_RETURN_IF_ERROR(Retract(chunk, row, part));
  }
  return Insert(chunk, insert_rows_, insert_parts_);
}

Status SessionWindowOperator::Insert(const DataChunk& chunk, const std::vector<uint32_t>& rows,
                                     const std::vector<Partition*>& parts) {
  const size_t n = rows.size();
  if (n == 0) return Status::Ok();
  ids_.resize(n);
  for (size_t i = 0; i < n; ++i) ids_[i] = AllocateRow();
  // Copy the rows column by column, in runs of consecutive slots of one page (the usual case:
  // nothing was ever freed, so every new row takes the next slot).
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && ids_[j] == ids_[j - 1] + 1 && (ids_[j] >> kPageBits) == (ids_[i] >> kPageBits))
      ++j;
    DataChunk& page = *pages_[ids_[i] >> kPageBits];
    const size_t slot = ids_[i] & (kPageRows - 1);
    for (size_t c = 0; c < chunk.column_count(); ++c) {
      GatherVector(chunk.column(c), rows.data() + i, j - i, &page.column(c), slot, &page.arena());
    }
    i = j;
  }
  const int64_t* ts = chunk.column(time_column_).data<int64_t>();
  for (size_t i = 0; i < n; ++i) parts[i]->rows.insert({ts[rows[i]], ids_[i]});
  return Status::Ok();
}

Status SessionWindowOperator::Retract(const DataChunk& chunk, size_t row, Partition* part) {
  const int64_t t = chunk.column(time_column_).data<int64_t>()[row];
  for (auto it = part->rows.lower_bound({t, 0}); it != part->rows.end() && it->first == t; ++it) {
    const RowId id = it->second;
    if (!SameRow(id, chunk, row)) continue;
    part->rows.erase(it);
    if (emitted_start_[id] != kNotEmitted) {
      retracted_.push_back(id);  // retracted (and freed) at Flush
    } else {
      FreeRow(id);
    }
    return Status::Ok();
  }
  return Status::Internal("SESSION window: a retraction of a row that was never inserted");
}

// ---- output ----------------------------------------------------------------------------------

Status SessionWindowOperator::Output(RowId id, int64_t start, int64_t end, int8_t weight) {
  if (out_.size() == out_.capacity()) {
    SLUICE_RETURN_IF_ERROR(Emit(out_));
    out_.Reset();
  }
  const DataChunk& page = *pages_[id >> kPageBits];
  const uint32_t slot = id & (kPageRows - 1);
  const size_t at = out_.size();
  const size_t width = input_types_.size();
  for (size_t c = 0; c < width; ++c)
    GatherVector(page.column(c), &slot, 1, &out_.column(c), at, &out_.arena());
  out_.column(width).data<int64_t>()[at] = start;
  out_.column(width + 1).data<int64_t>()[at] = end;
  out_.weights().push_back(weight);  // session output always carries weights
  out_.set_size(at + 1);
  return Status::Ok();
}

Status SessionWindowOperator::Resessionize(Partition* part) {
  std::vector<int64_t>& changed = part->changed;
  std::sort(changed.begin(), changed.end());
  changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  const auto& rows = part->rows;
  bool covered = false;
  int64_t covered_until = 0;  // the time of the last row of the last region recomputed
  for (int64_t t : changed) {
    if (rows.empty()) break;
    if (covered && t <= covered_until) continue;  // inside a region already recomputed
    // A change at t only alters links to rows within `gap` of t: the last row before t (if
    // that close) and the first row at or after t (if that close; an inserted row is one).
    // Only their sessions can have changed, so recompute from the start of the first through
    // the end of the second (both are session boundaries). A row `gap` or more away was not
    // linked through t before and is not now.
    auto next = rows.lower_bound({t, 0});
    const bool left = next != rows.begin() && t - std::prev(next)->first < gap_us_;
    const bool right = next != rows.end() && next->first - t < gap_us_;
    if (!left && !right) continue;  // a lone row went away: nothing else changed
    auto from = left ? std::prev(next) : next;
    while (from != rows.begin()) {
      auto prev = std::prev(from);
      if (from->first - prev->first >= gap_us_) break;
      from = prev;
    }
    auto last = right ? next : std::prev(next);
    while (true) {
      auto after = std::next(last);
      if (after == rows.end() || after->first - last->first >= gap_us_) break;
      last = after;
    }
    const auto stop = std::next(last);
    for (auto it = from; it != stop;) {
      auto run_last = it;
      while (true) {
        auto after = std::next(run_last);
        if (after == stop || after->first - run_last->first >= gap_us_) break;
        run_last = after;
      }
      const int64_t start = it->first;
      int64_t end;
      if (__builtin_add_overflow(run_last->first, gap_us_, &end)) {
        return Status::InvalidArgument("SESSION window: window_end out of range");
      }
      for (const auto run_stop = std::next(run_last); it != run_stop; ++it) {
        const RowId id = it->second;
        if (emitted_start_[id] == start && emitted_end_[id] == end) continue;
        if (emitted_start_[id] != kNotEmitted) {
          SLUICE_RETURN_IF_ERROR(Output(id, emitted_start_[id], emitted_end_[id], -1));
        }
        SLUICE_RETURN_IF_ERROR(Output(id, start, end, 1));
        emitted_start_[id] = start;
        emitted_end_[id] = end;
      }
    }
    covered = true;
    covered_until = last->first;
  }
  changed.clear();
  return Status::Ok();
}

Status SessionWindowOperator::Flush() {
  // Rows taken back: retract what they were last emitted with, then forget them.
  for (RowId id : retracted_)
    SLUICE_RETURN_IF_ERROR(Output(id, emitted_start_[id], emitted_end_[id], -1));
  // Rows are copied into out_ as they are output, so the freed slots can be reused now (even
  // if out_ was not emitted yet).
  for (RowId id : retracted_) FreeRow(id);
  retracted_.clear();
  for (Partition* part : dirty_) {
    part->dirty = false;
    SLUICE_RETURN_IF_ERROR(Resessionize(part));
  }
  for (Partition* part : dirty_) {
    if (part->rows.empty()) {
      partitions_.erase(part->key);
    } else if (expiry_lateness_us_ >= 0 && !part->queued) {
      QueueForClosing(part);
    }
  }
  dirty_.clear();
  if (out_.size() > 0) {
    SLUICE_RETURN_IF_ERROR(Emit(out_));
    out_.Reset();
  }
  if (expiry_lateness_us_ >= 0) ExpireSessions();
  return Operator::Flush();
}

Status SessionWindowOperator::OnWatermark(int64_t watermark_us) {
  watermark_ = std::max(watermark_, watermark_us);
  return Operator::OnWatermark(watermark_us);
}

int64_t SessionWindowOperator::SessionEnd(int64_t last_time) const {
  int64_t end;
  return __builtin_add_overflow(last_time, gap_us_, &end) ? INT64_MAX : end;
}

void SessionWindowOperator::QueueForClosing(Partition* part) {
  // The last row's session is the partition's latest; its end bounds every session's.
  part->queued = true;
  closing_.emplace(SessionEnd(part->rows.rbegin()->first), part->key);
}

void SessionWindowOperator::ExpireSessions() {
  if (watermark_ == INT64_MIN) return;
  int64_t cutoff;
  if (__builtin_sub_overflow(watermark_, expiry_lateness_us_, &cutoff)) return;
  while (!closing_.empty() && closing_.top().first <= cutoff) {
    const std::string key = closing_.top().second;
    closing_.pop();
    auto found = partitions_.find(key);
    if (found == partitions_.end()) continue;  // emptied by retractions since
    Partition* part = found->second.get();
    part->queued = false;
    // Forget whole sessions from the earliest on while they ended by the cut-off.
    auto& rows = part->rows;
    while (!rows.empty()) {
      auto last = rows.begin();
      while (true) {
        auto after = std::next(last);
        if (after == rows.end() || after->first - last->first >= gap_us_) break;
        last = after;
      }
      if (SessionEnd(last->first) > cutoff) break;
      const auto stop = std::next(last);
      for (auto it = rows.begin(); it != stop; ++it) FreeRow(it->second);
      rows.erase(rows.begin(), stop);
      ++expired_sessions_;
    }
    if (rows.empty()) {
      partitions_.erase(found);
    } else {
      QueueForClosing(part);
    }
  }
}

// ---- checkpoints -----------------------------------------------------------------------------

// Layout (docs/checkpointing.md, "SESSION"): the partition count, then per partition its key
// bytes, its row count and per row (in time order) the time, the row's values and the bounds it
// was last emitted with.
Status SessionWindowOperator::Snapshot(sql::StateWriter* out) const {
  if (!dirty_.empty() || !retracted_.empty()) return Status::Internal("SESSION state taken before a Flush");
  out->U64(partitions_.size());
  std::vector<sql::Value> values(input_types_.size());
  for (const auto& [key, part] : partitions_) {
    out->Bytes(key);
    out->U64(part->rows.size());
    for (const auto& [time, id] : part->rows) {
      const DataChunk& page = *pages_[id >> kPageBits];
      const size_t slot = id & (kPageRows - 1);
      for (size_t c = 0; c < values.size(); ++c) values[c] = GetValue(page.column(c), slot);
      out->I64(time);
      out->Row(values);
      out->I64(emitted_start_[id]);
      out->I64(emitted_end_[id]);
    }
  }
  return Status::Ok();
}

Status SessionWindowOperator::Restore(sql::StateReader* in) {
  if (!partitions_.empty() || live_rows_ != 0) return Status::Internal("SESSION state restored into a used operator");
  SLUICE_ASSIGN_OR_RETURN(uint64_t partitions, in->Count());
  for (uint64_t p = 0; p < partitions; ++p) {
    auto part = std::make_unique<Partition>();
    SLUICE_ASSIGN_OR_RETURN(part->key, in->Bytes());
    SLUICE_ASSIGN_OR_RETURN(uint64_t rows, in->Count());
    if (next_row_ + rows > (uint64_t{1} << 32) - kPageRows) return Status::Corruption("SESSION state holds too many rows");
    for (uint64_t r = 0; r < rows; ++r) {
      SLUICE_ASSIGN_OR_RETURN(int64_t time, in->I64());
      SLUICE_ASSIGN_OR_RETURN(std::vector<sql::Value> values, in->Row());
      SLUICE_ASSIGN_OR_RETURN(int64_t start, in->I64());
      SLUICE_ASSIGN_OR_RETURN(int64_t end, in->I64());
      if (values.size() != input_types_.size()) return Status::Corruption("SESSION state: a row has the wrong width");
      const sql::Value& t = values[time_column_];
      if (t.is_null() || t.int64() != time) return Status::Corruption("SESSION state: a row's time does not match");
      const RowId id = AllocateRow();
      DataChunk& page = *pages_[id >> kPageBits];
      const size_t slot = id & (kPageRows - 1);
      for (size_t c = 0; c < values.size(); ++c) {
        if (!values[c].is_null() && values[c].type().id != input_types_[c].id) {
          return Status::Corruption("SESSION state: a value has the wrong type");
        }
        SetValue(&page.column(c), slot, values[c], &page.arena());
      }
      emitted_start_[id] = start;
      emitted_end_[id] = end;
      if (!part->rows.emplace(time, id).second) return Status::Corruption("SESSION state holds a row twice");
    }
    const std::string key = part->key;
    Partition* restored = part.get();
    if (!partitions_.emplace(key, std::move(part)).second) return Status::Corruption("SESSION state holds a partition twice");
    if (expiry_lateness_us_ >= 0 && !restored->rows.empty()) QueueForClosing(restored);
  }
  return Status::Ok();
}

}  // namespace sluice::exec
