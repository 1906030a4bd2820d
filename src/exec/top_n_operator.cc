#include "exec/top_n_operator.h"

#include "exec/operators.h"
#include "exec/vector_value.h"

namespace sluice::exec {

bool TopNOperator::KeyLess::operator()(const SortKey& a, const SortKey& b) const {
  for (size_t k = 0; k < order->size(); ++k) {
    const sql::BoundOrder& o = (*order)[k];
    const sql::Value& x = a.keys[k];
    const sql::Value& y = b.keys[k];
    if (x.is_null() || y.is_null()) {
      if (x.is_null() && y.is_null()) continue;
      return x.is_null() == o.nulls_first;
    }
    const int c = CompareSqlValues(x, y);
    if (c != 0) return o.descending ? c > 0 : c < 0;
  }
  return a.row < b.row;
}

TopNOperator::~TopNOperator() = default;

Result<std::unique_ptr<TopNOperator>> TopNOperator::Create(const sql::LogicalOperator& row_number,
                                                           std::vector<DataType> input_types, int64_t now_micros) {
  auto op = std::unique_ptr<TopNOperator>(new TopNOperator());
  std::vector<DataType> partition_types, order_types;
  for (const auto& e : row_number.groups) {
    SLUICE_ASSIGN_OR_RETURN(auto compiled, ExpressionExecutor::Compile(*e, now_micros));
    partition_types.push_back(e->type);
    op->partition_exprs_.push_back(std::move(compiled));
  }
  for (const sql::BoundOrder& o : row_number.order) {
    SLUICE_ASSIGN_OR_RETURN(auto compiled, ExpressionExecutor::Compile(*o.expr, now_micros));
    order_types.push_back(o.expr->type);
    op->order_exprs_.push_back(std::move(compiled));
    op->order_.push_back({o.expr->Clone(), o.descending, o.nulls_first});
  }
  op->limit_ = row_number.limit;
  op->partition_values_ = DataChunk(partition_types);
  op->order_values_ = DataChunk(order_types);
  op->output_types_ = std::move(input_types);
  op->output_types_.push_back(DataType::Bigint());
  op->out_ = DataChunk(op->output_types_);
  return op;
}

Status TopNOperator::Push(const DataChunk& chunk) {
  partition_values_.Reset();
  order_values_.Reset();
  for (size_t i = 0; i < partition_exprs_.size(); ++i) {
    SLUICE_RETURN_IF_ERROR(partition_exprs_[i]->Execute(chunk, &partition_values_.column(i), &partition_values_.arena()));
  }
  for (size_t i = 0; i < order_exprs_.size(); ++i) {
    SLUICE_RETURN_IF_ERROR(order_exprs_[i]->Execute(chunk, &order_values_.column(i), &order_values_.arena()));
  }
  for (size_t row = 0; row < chunk.size(); ++row) {
    key_.clear();
    for (size_t i = 0; i < partition_exprs_.size(); ++i) AppendKeyBytes(partition_values_.column(i), row, &key_);
    auto it = partitions_.find(key_);
    if (it == partitions_.end()) {
      it = partitions_.emplace(key_, std::make_unique<Partition>(KeyLess{&order_})).first;
      it->second->key = key_;
    }
    Partition& partition = *it->second;
    SortKey sort_key;
    for (size_t i = 0; i < order_exprs_.size(); ++i) sort_key.keys.push_back(GetValue(order_values_.column(i), row));
    for (size_t c = 0; c < chunk.column_count(); ++c) AppendKeyBytes(chunk.column(c), row, &sort_key.row);
    auto [entry, inserted] = partition.rows.try_emplace(std::move(sort_key));
    if (inserted) {
      for (size_t c = 0; c < chunk.column_count(); ++c) entry->second.values.push_back(GetValue(chunk.column(c), row));
    }
    entry->second.count += chunk.weight(row);
    if (entry->second.count <= 0) partition.rows.erase(entry);
    if (!partition.dirty) {
      partition.dirty = true;
      dirty_.push_back(&partition);
    }
  }
  return Status::Ok();
}

Status TopNOperator::Snapshot(sql::StateWriter* out) const {
  if (!dirty_.empty()) return Status::Internal("top-N snapshot between flushes");
  out->U64(partitions_.size());
  for (const auto& [key, partition] : partitions_) {
    out->Bytes(key);
    out->U64(partition->rows.size());
    for (const auto& [sort_key, stored] : partition->rows) {
      out->Row(sort_key.keys);
      out->Bytes(sort_key.row);
      out->Row(stored.values);
      out->I64(stored.count);
    }
    out->U64(partition->shown.size());
    for (const auto& row : partition->shown) out->Row(row);
  }
  return Status::Ok();
}

Status TopNOperator::Restore(sql::StateReader* in) {
  SLUICE_ASSIGN_OR_RETURN(uint64_t n, in->Count());
  partitions_.clear();
  dirty_.clear();
  for (uint64_t p = 0; p < n; ++p) {
    SLUICE_ASSIGN_OR_RETURN(std::string key, in->Bytes());
    auto partition = std::make_unique<Partition>(KeyLess{&order_});
    partition->key = key;
    SLUICE_ASSIGN_OR_RETURN(uint64_t rows, in->Count());
    for (uint64_t r = 0; r < rows; ++r) {
      SortKey sort_key;
      SLUICE_ASSIGN_OR_RETURN(sort_key.keys, in->Row());
      if (sort_key.keys.size() != order_.size()) return Status::Corruption("top-N state has the wrong ORDER BY width");
      SLUICE_ASSIGN_OR_RETURN(sort_key.row, in->Bytes());
      Stored stored;
      SLUICE_ASSIGN_OR_RETURN(stored.values, in->Row());
      SLUICE_ASSIGN_OR_RETURN(stored.count, in->I64());
      partition->rows.emplace(std::move(sort_key), std::move(stored));
    }
    SLUICE_ASSIGN_OR_RETURN(uint64_t shown, in->Count());
    for (uint64_t r = 0; r < shown; ++r) {
      SLUICE_ASSIGN_OR_RETURN(std::vector<sql::Value> row, in->Row());
      partition->shown.push_back(std::move(row));
    }
    partitions_.emplace(std::move(key), std::move(partition));
  }
  return Status::Ok();
}

Status TopNOperator::Flush() {
  out_.Reset();
  auto add = [&](const std::vector<sql::Value>& values, int64_t rank, int8_t weight) -> Status {
    if (out_.size() == out_.capacity()) {
      SLUICE_RETURN_IF_ERROR(Emit(out_));
      out_.Reset();
    }
    const size_t r = out_.size();
    for (size_t c = 0; c < values.size(); ++c) SetValue(&out_.column(c), r, values[c], &out_.arena());
    SetValue(&out_.column(values.size()), r, sql::Value::Bigint(rank), &out_.arena());
    out_.weights().push_back(weight);
    out_.set_size(r + 1);
    return Status::Ok();
  };
  std::vector<std::vector<sql::Value>> now;
  for (Partition* partition : dirty_) {
    partition->dirty = false;
    now.clear();
    for (const auto& [key, stored] : partition->rows) {
      for (int64_t copy = 0; copy < stored.count; ++copy) {
        if (limit_ >= 0 && static_cast<int64_t>(now.size()) >= limit_) break;
        now.push_back(stored.values);
      }
      if (limit_ >= 0 && static_cast<int64_t>(now.size()) >= limit_) break;
    }
    const size_t ranks = std::max(now.size(), partition->shown.size());
    for (size_t i = 0; i < ranks; ++i) {
      const bool had = i < partition->shown.size();
      const bool has = i < now.size();
      if (had && has && partition->shown[i] == now[i]) continue;
      if (had) SLUICE_RETURN_IF_ERROR(add(partition->shown[i], static_cast<int64_t>(i + 1), -1));
      if (has) SLUICE_RETURN_IF_ERROR(add(now[i], static_cast<int64_t>(i + 1), 1));
    }
    partition->shown.swap(now);
  }
  // Partitions with no rows left are gone.
  for (Partition* partition : dirty_) {
    if (partition->rows.empty()) {
      const std::string key = partition->key;
      partitions_.erase(key);
    }
  }
  dirty_.clear();
  if (out_.size() > 0) SLUICE_RETURN_IF_ERROR(Emit(out_));
  return Operator::Flush();
}

}  // namespace sluice::exec
