#include "exec/join_operator.h"

#include <algorithm>

#include <fmt/format.h>

#include "exec/vector_value.h"

namespace sluice::exec {

// Forwards one side's chunks, flushes and watermarks into the join.
class HashJoinOperator::Port final : public Operator {
 public:
  Port(HashJoinOperator* join, int side) : join_(join), side_(side) {}
  Status Push(const DataChunk& chunk) override { return join_->PushSide(side_, chunk); }
  Status Flush() override { return join_->FlushSide(side_); }
  Status OnWatermark(int64_t watermark_us) override { return join_->WatermarkSide(side_, watermark_us); }

 private:
  HashJoinOperator* join_;
  int side_;
};

HashJoinOperator::~HashJoinOperator() = default;

Operator* HashJoinOperator::port(int side) { return ports_[side].get(); }

Result<std::unique_ptr<HashJoinOperator>> HashJoinOperator::Create(Spec spec, int64_t now_micros) {
  if (spec.left_keys.size() != spec.right_keys.size()) return Status::Internal("join keys do not pair up");
  if (spec.type != sql::JoinType::kInner && spec.type != sql::JoinType::kLeft) {
    return Status::InvalidArgument("not supported yet: RIGHT, FULL and CROSS joins in streaming queries");
  }
  if (spec.type == sql::JoinType::kLeft && spec.lookup_side != 1) {
    return Status::InvalidArgument(
        "not supported yet: LEFT JOIN between two streams (LEFT JOIN works for stream-table enrichment, with the "
        "table on the right)");
  }
  auto op = std::unique_ptr<HashJoinOperator>(new HashJoinOperator());
  for (int side = 0; side < 2; ++side) {
    const auto& exprs = side == 0 ? spec.left_keys : spec.right_keys;
    std::vector<DataType> key_types;
    for (const auto& e : exprs) {
      SLUICE_ASSIGN_OR_RETURN(auto compiled, ExpressionExecutor::Compile(*e, now_micros));
      key_types.push_back(e->type);
      op->keys_[side].push_back(std::move(compiled));
    }
    op->key_values_[side] = DataChunk(key_types);
    op->ports_[side] = std::make_unique<Port>(op.get(), side);
  }
  if (spec.residual) {
    SLUICE_ASSIGN_OR_RETURN(op->residual_, ExpressionExecutor::Compile(*spec.residual, now_micros));
  }
  op->output_types_ = spec.left_types;
  op->output_types_.insert(op->output_types_.end(), spec.right_types.begin(), spec.right_types.end());
  op->candidates_ = DataChunk(op->output_types_);
  op->out_ = DataChunk(op->output_types_);
  op->spec_ = std::move(spec);
  return op;
}

Status HashJoinOperator::Push(const DataChunk&) {
  return Status::Internal("a join takes its input through its ports");
}

template <typename MakeValues>
int HashJoinOperator::UpdateBucket(Bucket& bucket, const std::string& row_key, int64_t weight, MakeValues make_values,
                                   const int64_t* touch, bool* retouched) {
  std::vector<StoredRow>& rows = bucket.rows;
  size_t pos = rows.size();
  if (!bucket.index.empty()) {
    auto it = bucket.index.find(row_key);
    if (it != bucket.index.end()) pos = it->second;
  } else {
    for (size_t i = 0; i < rows.size(); ++i) {
      if (rows[i].row_key == row_key) {
        pos = i;
        break;
      }
    }
  }
  int change = 0;
  if (pos == rows.size()) {
    if (touch != nullptr && weight < 0) return 0;  // the row expired: nothing left to retract
    rows.push_back(StoredRow{row_key, make_values(), 0});
    if (!bucket.index.empty()) {
      bucket.index.emplace(row_key, static_cast<uint32_t>(pos));
    } else if (rows.size() > kIndexFrom) {
      for (size_t i = 0; i < rows.size(); ++i) bucket.index.emplace(rows[i].row_key, static_cast<uint32_t>(i));
    }
    change = 1;
  }
  rows[pos].count += weight;
  if (rows[pos].count != 0) {
    if (touch != nullptr && (change == 1 || rows[pos].touched != *touch)) {
      rows[pos].touched = *touch;
      if (retouched != nullptr) *retouched = true;
    }
    return change;
  }
  // Gone: move the last row into its place.
  if (!bucket.index.empty()) {
    bucket.index.erase(rows[pos].row_key);
    if (pos + 1 != rows.size()) bucket.index[rows.back().row_key] = static_cast<uint32_t>(pos);
  }
  if (pos + 1 != rows.size()) rows[pos] = std::move(rows.back());
  rows.pop_back();
  return change - 1;
}

Status HashJoinOperator::PushSide(int side, const DataChunk& chunk) {
  const int other = 1 - side;
  const bool store = spec_.lookup_side < 0 || spec_.lookup_side == side;
  const bool probe = spec_.lookup_side < 0 || spec_.lookup_side != side;
  DataChunk& keys = key_values_[side];
  keys.Reset();
  for (size_t k = 0; k < keys_[side].size(); ++k) {
    SLUICE_RETURN_IF_ERROR(keys_[side][k]->Execute(chunk, &keys.column(k), &keys.arena()));
  }
  const size_t own_offset = side == 0 ? 0 : spec_.left_types.size();
  const size_t other_offset = side == 0 ? spec_.left_types.size() : 0;
  if (probe) {
    probe_matched_.assign(chunk.size(), false);
    candidates_.Reset();
    candidate_probe_.clear();
  }
  std::string row_key;
  for (size_t row = 0; row < chunk.size(); ++row) {
    const int8_t w = chunk.weight(row);
    bool null_key = false;
    key_.clear();
    for (size_t k = 0; k < keys.column_count(); ++k) {
      null_key = null_key || keys.column(k).IsNull(row);
      AppendKeyBytes(keys.column(k), row, &key_);
    }
    if (null_key) continue;  // never equal to anything
    if (probe) {
      auto it = state_[other].find(key_);
      if (it != state_[other].end()) {
        const uint32_t probe_row = static_cast<uint32_t>(row);
        for (const StoredRow& stored : it->second.rows) {
          for (int64_t copy = 0; copy < stored.count; ++copy) {
            if (candidates_.size() == candidates_.capacity()) SLUICE_RETURN_IF_ERROR(EmitCandidates());
            const size_t r = candidates_.size();
            for (size_t c = 0; c < chunk.column_count(); ++c) {
              GatherVector(chunk.column(c), &probe_row, 1, &candidates_.column(own_offset + c), r,
                           &candidates_.arena());
            }
            for (size_t c = 0; c < stored.values.size(); ++c) {
              SetValue(&candidates_.column(other_offset + c), r, stored.values[c], &candidates_.arena());
            }
            candidates_.weights().push_back(w);
            candidates_.set_size(r + 1);
            candidate_probe_.push_back(probe_row);
          }
        }
      }
    }
    if (store) {
      row_key.clear();
      for (size_t c = 0; c < chunk.column_count(); ++c) AppendKeyBytes(chunk.column(c), row, &row_key);
      Bucket& bucket = state_[side][key_];
      const bool ttl = spec_.state_ttl_us > 0;
      bool retouched = false;
      stored_rows_[side] += UpdateBucket(
          bucket, row_key, w,
          [&] {
            std::vector<sql::Value> values;
            for (size_t c = 0; c < chunk.column_count(); ++c) values.push_back(GetValue(chunk.column(c), row));
            return values;
          },
          ttl ? &forwarded_watermark_ : nullptr, &retouched);
      if (retouched) touch_queue_[side].push_back(Touch{forwarded_watermark_, key_, row_key});
      if (bucket.rows.empty()) state_[side].erase(key_);
    }
  }
  if (!probe) return Status::Ok();
  SLUICE_RETURN_IF_ERROR(EmitCandidates());
  if (spec_.type == sql::JoinType::kLeft) {
    // Stream rows without a match, padded with NULLs on the table's side.
    out_.Reset();
    for (size_t row = 0; row < chunk.size(); ++row) {
      if (probe_matched_[row]) continue;
      if (out_.size() == out_.capacity()) {
        SLUICE_RETURN_IF_ERROR(Emit(out_));
        out_.Reset();
      }
      const size_t r = out_.size();
      const uint32_t probe_row = static_cast<uint32_t>(row);
      for (size_t c = 0; c < chunk.column_count(); ++c) {
        GatherVector(chunk.column(c), &probe_row, 1, &out_.column(own_offset + c), r, &out_.arena());
      }
      for (size_t c = 0; c < out_.column_count() - chunk.column_count(); ++c) out_.column(other_offset + c).SetNull(r);
      out_.weights().push_back(chunk.weight(row));
      out_.set_size(r + 1);
    }
    if (out_.size() > 0) SLUICE_RETURN_IF_ERROR(Emit(out_));
  }
  return Status::Ok();
}

Status HashJoinOperator::EmitCandidates() {
  if (candidates_.size() == 0) return Status::Ok();
  Status s;
  if (!residual_) {
    for (uint32_t p : candidate_probe_) probe_matched_[p] = true;
    s = Emit(candidates_);
  } else {
    selection_.clear();
    SLUICE_RETURN_IF_ERROR(residual_->Select(candidates_, &selection_));
    if (!selection_.empty()) {
      out_.Reset();
      for (size_t c = 0; c < candidates_.column_count(); ++c) {
        GatherVector(candidates_.column(c), selection_.data(), selection_.size(), &out_.column(c), 0, &out_.arena());
      }
      for (uint32_t i : selection_) {
        out_.weights().push_back(candidates_.weights()[i]);
        probe_matched_[candidate_probe_[i]] = true;
      }
      out_.set_size(selection_.size());
      s = Emit(out_);
    }
  }
  candidates_.Reset();
  candidate_probe_.clear();
  return s;
}

Status HashJoinOperator::FlushSide(int) { return Operator::Flush(); }

Status HashJoinOperator::Snapshot(sql::StateWriter* out) const {
  for (int side = 0; side < 2; ++side) {
    out->I64(watermark_[side]);
    out->U64(state_[side].size());
    for (const auto& [key, bucket] : state_[side]) {
      out->Bytes(key);
      out->U64(bucket.rows.size());
      for (const StoredRow& row : bucket.rows) {
        out->Bytes(row.row_key);
        out->Row(row.values);
        out->I64(row.count);
        if (spec_.state_ttl_us > 0) out->I64(row.touched);
      }
    }
  }
  out->I64(forwarded_watermark_);
  if (spec_.state_ttl_us > 0) {
    // Only joins WITH (state_ttl) write these, so checkpoints of other views are unchanged.
    out->I64(first_watermark_);
    out->I64(expired_rows_);
  }
  return Status::Ok();
}

Status HashJoinOperator::Restore(sql::StateReader* in) {
  for (int side = 0; side < 2; ++side) {
    SLUICE_ASSIGN_OR_RETURN(watermark_[side], in->I64());
    SLUICE_ASSIGN_OR_RETURN(uint64_t keys, in->Count());
    state_[side].clear();
    stored_rows_[side] = 0;
    std::vector<Touch> queue;
    for (uint64_t k = 0; k < keys; ++k) {
      SLUICE_ASSIGN_OR_RETURN(std::string key, in->Bytes());
      SLUICE_ASSIGN_OR_RETURN(uint64_t rows, in->Count());
      Bucket& bucket = state_[side][key];
      for (uint64_t r = 0; r < rows; ++r) {
        SLUICE_ASSIGN_OR_RETURN(std::string row_key, in->Bytes());
        SLUICE_ASSIGN_OR_RETURN(std::vector<sql::Value> values, in->Row());
        SLUICE_ASSIGN_OR_RETURN(int64_t count, in->I64());
        if (count <= 0) return Status::Corruption("join state has a row with no copies");
        int64_t touched = 0;
        if (spec_.state_ttl_us > 0) {
          SLUICE_ASSIGN_OR_RETURN(touched, in->I64());
          queue.push_back(Touch{touched, key, row_key});
        }
        const int added = UpdateBucket(
            bucket, row_key, count, [&] { return std::move(values); },
            spec_.state_ttl_us > 0 ? &touched : nullptr);
        stored_rows_[side] += static_cast<size_t>(std::max(added, 0));
      }
    }
    std::stable_sort(queue.begin(), queue.end(), [](const Touch& a, const Touch& b) { return a.touched < b.touched; });
    touch_queue_[side].assign(std::make_move_iterator(queue.begin()), std::make_move_iterator(queue.end()));
  }
  SLUICE_ASSIGN_OR_RETURN(forwarded_watermark_, in->I64());
  if (spec_.state_ttl_us > 0) {
    SLUICE_ASSIGN_OR_RETURN(first_watermark_, in->I64());
    SLUICE_ASSIGN_OR_RETURN(expired_rows_, in->I64());
  }
  return Status::Ok();
}

void HashJoinOperator::ExpireIdleRows() {
  const int64_t horizon = forwarded_watermark_ - spec_.state_ttl_us;  // rows updated before this expire
  for (int side = 0; side < 2; ++side) {
    std::deque<Touch>& queue = touch_queue_[side];
    while (!queue.empty()) {
      const Touch& front = queue.front();
      const int64_t at = front.touched == INT64_MIN ? first_watermark_ : front.touched;
      if (at >= horizon) break;
      auto it = state_[side].find(front.key);
      if (it != state_[side].end()) {
        Bucket& bucket = it->second;
        const StoredRow* row = nullptr;
        if (!bucket.index.empty()) {
          auto found = bucket.index.find(front.row_key);
          if (found != bucket.index.end()) row = &bucket.rows[found->second];
        } else {
          for (const StoredRow& r : bucket.rows) {
            if (r.row_key == front.row_key) row = &r;
          }
        }
        if (row != nullptr && row->touched == front.touched) {
          stored_rows_[side] += UpdateBucket(bucket, front.row_key, -row->count, [] { return std::vector<sql::Value>(); });
          ++expired_rows_;
          if (bucket.rows.empty()) state_[side].erase(it);
        }
      }
      queue.pop_front();
    }
  }
}

Status HashJoinOperator::WatermarkSide(int side, int64_t watermark_us) {
  watermark_[side] = std::max(watermark_[side], watermark_us);
  const int64_t out = spec_.lookup_side < 0 ? std::min(watermark_[0], watermark_[1])
                                            : watermark_[1 - spec_.lookup_side];
  if (out <= forwarded_watermark_) return Status::Ok();
  forwarded_watermark_ = out;
  if (spec_.state_ttl_us > 0) {
    if (first_watermark_ == INT64_MIN) first_watermark_ = out;
    ExpireIdleRows();
  }
  return downstream_ ? downstream_->OnWatermark(out) : Status::Ok();
}

}  // namespace sluice::exec
