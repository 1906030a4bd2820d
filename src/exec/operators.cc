#include "exec/operators.h"

#include <xxhash.h>


#include "exec/hyperloglog.h"
#include "exec/quantile_sketch.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

namespace sluice::exec {

using sql::AggregateFn;
using sql::Value;

// ---- helpers ---------------------------------------------------------------------------------

namespace {

template <typename T>
void GatherFixed(const Vector& in, const uint32_t* sel, size_t n, Vector* out, size_t at) {
  const T* s = in.data<T>();
  T* d = out->data<T>() + at;
  for (size_t i = 0; i < n; ++i) d[i] = s[sel[i]];
}

}  // namespace

void GatherVector(const Vector& in, const uint32_t* sel, size_t n, Vector* out, size_t at, StringArena* arena) {
  switch (in.physical()) {
    case PhysicalType::kString: {
      const StringRef* s = in.data<StringRef>();
      StringRef* d = out->data<StringRef>();
      for (size_t i = 0; i < n; ++i) d[at + i] = in.IsNull(sel[i]) ? StringRef{} : arena->Add(s[sel[i]].view());
      break;
    }
    case PhysicalType::kBool: GatherFixed<uint8_t>(in, sel, n, out, at); break;
    case PhysicalType::kInt32: GatherFixed<int32_t>(in, sel, n, out, at); break;
    case PhysicalType::kInt64: GatherFixed<int64_t>(in, sel, n, out, at); break;
    case PhysicalType::kDouble: GatherFixed<double>(in, sel, n, out, at); break;
    case PhysicalType::kInt128: GatherFixed<__int128>(in, sel, n, out, at); break;
    case PhysicalType::kInterval: GatherFixed<sql::Interval>(in, sel, n, out, at); break;
  }
  if (!in.has_nulls()) {
    if (out->has_nulls()) {
      for (size_t i = 0; i < n; ++i) out->SetValid(at + i);
    }
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    if (in.IsNull(sel[i])) {
      out->SetNull(at + i);
    } else {
      out->SetValid(at + i);
    }
  }
}

void AppendKeyBytes(const Vector& v, size_t row, std::string* key) {
  if (v.IsNull(row)) {
    key->push_back('\0');
    return;
  }
  key->push_back('\1');
  if (v.physical() == PhysicalType::kString) {
    std::string_view s = v.data<StringRef>()[row].view();
    uint64_t n = s.size();
    key->append(reinterpret_cast<const char*>(&n), sizeof(n));
    key->append(s);
    return;
  }
  const size_t width = PhysicalSize(v.physical());
  key->append(reinterpret_cast<const char*>(v.raw_data()) + row * width, width);
}

namespace {


// Appends the weights of rows `sel[0..n)` of `in` to `out` (nothing if `in` is insert-only).
void CopyWeights(const DataChunk& in, const uint32_t* sel, size_t n, DataChunk* out) {
  if (in.weights().empty()) return;
  out->weights().resize(out->size() + n);
  for (size_t i = 0; i < n; ++i) out->weights()[out->size() + i] = in.weights()[sel[i]];
}

}  // namespace

std::vector<DataType> TypesOf(const std::vector<sql::ColumnSchema>& schema) {
  std::vector<DataType> types;
  for (const auto& c : schema) types.push_back(c.type);
  return types;
}

int CompareSqlValues(const Value& a, const Value& b) {
  switch (a.type().id) {
    case TypeId::kBoolean: return static_cast<int>(a.boolean()) - static_cast<int>(b.boolean());
    case TypeId::kInt:
    case TypeId::kDate: return a.int32() < b.int32() ? -1 : a.int32() > b.int32();
    case TypeId::kBigint:
    case TypeId::kTimestamp:
    case TypeId::kTimestamptz: return a.int64() < b.int64() ? -1 : a.int64() > b.int64();
    case TypeId::kDecimal: return a.int128() < b.int128() ? -1 : a.int128() > b.int128();
    case TypeId::kDouble: return a.float64() < b.float64() ? -1 : a.float64() > b.float64();
    case TypeId::kVarchar: {
      int c = a.string().compare(b.string());
      return c < 0 ? -1 : c > 0;
    }
    case TypeId::kInterval: {
      const sql::Interval& x = a.interval();
      const sql::Interval& y = b.interval();
      if (x.months != y.months) return x.months < y.months ? -1 : 1;
      if (x.days != y.days) return x.days < y.days ? -1 : 1;
      return x.micros < y.micros ? -1 : x.micros > y.micros;
    }
  }
  return 0;
}

namespace {

struct ValueLess {
  bool operator()(const Value& a, const Value& b) const { return CompareSqlValues(a, b) < 0; }
};

__int128 Pow10(int n) {
  __int128 v = 1;
  for (int i = 0; i < n; ++i) v *= 10;
  return v;
}

}  // namespace

// ---- CollectSink -----------------------------------------------------------------------------

CollectSink::RowIndex::Map& CollectSink::RowIndex::ShardOf(std::string_view key) {
  if (shards_.empty()) shards_.resize(kShards);
  return shards_[XXH3_64bits(key.data(), key.size()) % kShards];
}

void CollectSink::RowIndex::reserve(size_t n) {
  if (n < kShards) return;  // small: the shards grow as keys come
  if (shards_.empty()) shards_.resize(kShards);
  for (Map& m : shards_) m.reserve(n / kShards + 1);
}

Status CollectSink::Push(const DataChunk& chunk) {
  for (size_t row = 0; keep_rows_ && row < chunk.size(); ++row) {
    scratch_.clear();
    for (size_t c = 0; c < chunk.column_count(); ++c) AppendKeyBytes(chunk.column(c), row, &scratch_);
    RowIndex::Map& shard = index_.ShardOf(scratch_);
    auto [it, inserted] = shard.try_emplace(scratch_, entries_.size());
    if (inserted) {
      Entry e;
      e.key = scratch_;
      for (size_t c = 0; c < chunk.column_count(); ++c) e.values.push_back(GetValue(chunk.column(c), row));
      entries_.push_back(std::move(e));
      if (!column_indexes_.empty()) IndexEntry(entries_.size() - 1);
    }
    const size_t at = it->second;
    Entry& entry = entries_.Mutable(at);
    const int64_t before = entry.weight;
    entry.weight += chunk.weight(row);
    live_rows_ += std::max<int64_t>(entry.weight, 0) - std::max<int64_t>(before, 0);
    if (entry.weight == 0) {
      // Gone: move the last entry into its place so that churn does not grow the state.
      shard.erase(it);
      if (!column_indexes_.empty()) UnindexEntry(at);
      if (at + 1 != entries_.size()) {
        if (!column_indexes_.empty()) MoveIndexedEntry(entries_.size() - 1, at);
        entry = std::move(entries_.Mutable(entries_.size() - 1));
        index_.ShardOf(entry.key)[entry.key] = at;
      }
      entries_.pop_back();
    }
  }
  for (ChangeListener* l : listeners_) SLUICE_RETURN_IF_ERROR(l->OnChanges(chunk));
  return Status::Ok();
}

Status CollectSink::OnWatermark(int64_t watermark_us) {
  if (watermark_us <= watermark_) return Status::Ok();
  watermark_ = watermark_us;
  for (ChangeListener* l : listeners_) SLUICE_RETURN_IF_ERROR(l->OnWatermark(watermark_us));
  return Status::Ok();
}

Status CollectSink::Snapshot(sql::StateWriter* out) const {
  CaptureSnapshot()(out);
  return Status::Ok();
}

std::function<void(sql::StateWriter*)> CollectSink::CaptureSnapshot() const {
  return [watermark = watermark_, rows = keep_rows_ ? entries_ : CowVector<Entry>()](sql::StateWriter* out) {
    out->I64(watermark);
    out->U64(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      out->Row(rows[i].values);
      out->I64(rows[i].weight);
    }
  };
}

Status CollectSink::Restore(sql::StateReader* in) {
  SLUICE_ASSIGN_OR_RETURN(watermark_, in->I64());
  SLUICE_ASSIGN_OR_RETURN(uint64_t n, in->Count());
  entries_.clear();
  index_.clear();
  live_rows_ = 0;
  column_indexes_.clear();  // rebuilt at the next lookup
  entries_.reserve(n);
  index_.reserve(n);
  DataChunk one(output_types_, 1);  // reused: one allocation per restore, not per row
  for (uint64_t i = 0; i < n; ++i) {
    Entry e;
    SLUICE_ASSIGN_OR_RETURN(e.values, in->Row());
    SLUICE_ASSIGN_OR_RETURN(e.weight, in->I64());
    if (e.values.size() != output_types_.size()) return Status::Corruption("collect sink state has the wrong width");
    // The key bytes are those AppendKeyBytes gives for the row's vectors.
    one.Reset();
    for (size_t c = 0; c < e.values.size(); ++c) SetValue(&one.column(c), 0, e.values[c], &one.arena());
    one.set_size(1);
    for (size_t c = 0; c < e.values.size(); ++c) AppendKeyBytes(one.column(c), 0, &e.key);
    index_.ShardOf(e.key)[e.key] = entries_.size();
    live_rows_ += std::max<int64_t>(e.weight, 0);
    entries_.push_back(std::move(e));
  }
  return Status::Ok();
}

Status CollectSink::NotifyFlushed() {
  for (ChangeListener* l : listeners_) SLUICE_RETURN_IF_ERROR(l->OnFlushed());
  return Status::Ok();
}

void CollectSink::RemoveListener(ChangeListener* listener) {
  listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), listener), listeners_.end());
}

void CopyChunk(const DataChunk& in, DataChunk* out) {
  std::vector<DataType> types;
  for (size_t c = 0; c < in.column_count(); ++c) types.push_back(in.column(c).type());
  *out = DataChunk(types, std::max<size_t>(in.size(), 1));
  std::vector<uint32_t> sel(in.size());
  for (size_t i = 0; i < sel.size(); ++i) sel[i] = static_cast<uint32_t>(i);
  for (size_t c = 0; c < in.column_count(); ++c) {
    GatherVector(in.column(c), sel.data(), sel.size(), &out->column(c), 0, &out->arena());
  }
  out->weights() = in.weights();
  out->set_size(in.size());
}

std::vector<std::vector<Value>> CollectSink::Rows() const {
  std::vector<std::vector<Value>> rows;
  for (size_t at = 0; at < entries_.size(); ++at) {
    for (int64_t i = 0; i < entries_[at].weight; ++i) rows.push_back(entries_[at].values);
  }
  return rows;
}

namespace {

// The index key of a value: its text (one column has one type, so equal values print alike).
std::string ColumnKey(const Value& v) { return v.is_null() ? std::string("\0N", 2) : v.ToString(); }

}  // namespace

void CollectSink::IndexEntry(size_t at) {
  for (auto& [column, index] : column_indexes_) index[ColumnKey(entries_[at].values[column])].push_back(static_cast<uint32_t>(at));
}

void CollectSink::UnindexEntry(size_t at) {
  for (auto& [column, index] : column_indexes_) {
    auto it = index.find(ColumnKey(entries_[at].values[column]));
    if (it == index.end()) continue;
    std::vector<uint32_t>& list = it->second;
    list.erase(std::remove(list.begin(), list.end(), static_cast<uint32_t>(at)), list.end());
    if (list.empty()) index.erase(it);
  }
}

void CollectSink::MoveIndexedEntry(size_t from, size_t to) {
  for (auto& [column, index] : column_indexes_) {
    auto it = index.find(ColumnKey(entries_[from].values[column]));
    if (it == index.end()) continue;
    std::replace(it->second.begin(), it->second.end(), static_cast<uint32_t>(from), static_cast<uint32_t>(to));
  }
}

std::optional<std::vector<std::vector<Value>>> CollectSink::RowsWhere(size_t column, const Value& value,
                                                                     bool build_index) {
  if (!keep_rows_ || column >= output_types_.size() || value.is_null()) return std::nullopt;
  auto found = std::find_if(column_indexes_.begin(), column_indexes_.end(), [&](const auto& c) { return c.first == column; });
  if (found == column_indexes_.end()) {
    if (!build_index || column_indexes_.size() >= kMaxColumnIndexes) return std::nullopt;
    column_indexes_.emplace_back(column, ColumnIndex());
    ColumnIndex& index = column_indexes_.back().second;
    for (size_t at = 0; at < entries_.size(); ++at) index[ColumnKey(entries_[at].values[column])].push_back(static_cast<uint32_t>(at));
    found = column_indexes_.end() - 1;
  }
  std::vector<std::vector<Value>> rows;
  auto it = found->second.find(ColumnKey(value));
  if (it == found->second.end()) return rows;
  for (uint32_t at : it->second) {
    for (int64_t i = 0; i < entries_[at].weight; ++i) rows.push_back(entries_[at].values);
  }
  return rows;
}

// ---- Filter ----------------------------------------------------------------------------------

Result<std::unique_ptr<FilterOperator>> FilterOperator::Create(const sql::BoundExpr& predicate,
                                                               std::vector<DataType> types, int64_t now_micros) {
  auto op = std::unique_ptr<FilterOperator>(new FilterOperator());
  SLUICE_ASSIGN_OR_RETURN(op->predicate_, ExpressionExecutor::Compile(predicate, now_micros));
  op->out_ = DataChunk(types);
  op->output_types_ = std::move(types);
  return op;
}

Status FilterOperator::Push(const DataChunk& chunk) {
  selection_.clear();
  SLUICE_RETURN_IF_ERROR(predicate_->Select(chunk, &selection_));
  if (selection_.empty()) return Status::Ok();
  if (selection_.size() == chunk.size()) return Emit(chunk);
  out_.Reset();
  for (size_t c = 0; c < chunk.column_count(); ++c) {
    GatherVector(chunk.column(c), selection_.data(), selection_.size(), &out_.column(c), 0, &out_.arena());
  }
  CopyWeights(chunk, selection_.data(), selection_.size(), &out_);
  out_.set_size(selection_.size());
  return Emit(out_);
}

// ---- Project ---------------------------------------------------------------------------------

Result<std::unique_ptr<ProjectOperator>> ProjectOperator::Create(const std::vector<sql::BoundExprPtr>& exprs,
                                                                 int64_t now_micros) {
  auto op = std::unique_ptr<ProjectOperator>(new ProjectOperator());
  for (const auto& e : exprs) {
    SLUICE_ASSIGN_OR_RETURN(auto compiled, ExpressionExecutor::Compile(*e, now_micros));
    op->output_types_.push_back(e->type);
    op->exprs_.push_back(std::move(compiled));
  }
  op->out_ = DataChunk(op->output_types_);
  return op;
}

Status ProjectOperator::Push(const DataChunk& chunk) {
  out_.Reset();
  for (size_t i = 0; i < exprs_.size(); ++i) {
    SLUICE_RETURN_IF_ERROR(exprs_[i]->Execute(chunk, &out_.column(i), &out_.arena()));
  }
  out_.weights() = chunk.weights();
  out_.set_size(chunk.size());
  return Emit(out_);
}

// ---- Window ----------------------------------------------------------------------------------

WindowOperator::WindowOperator(std::vector<DataType> input_types, int time_column, sql::WindowKind kind,
                               int64_t size_us, int64_t slide_us, std::vector<bool> used)
    : time_column_(time_column),
      size_us_(size_us),
      slide_us_(kind == sql::WindowKind::kTumble ? size_us : slide_us),
      used_(std::move(used)) {
  used_.resize(input_types.size(), true);
  output_types_ = input_types;
  DataType time_type = input_types[static_cast<size_t>(time_column)];
  output_types_.push_back(time_type);
  output_types_.push_back(time_type);
  out_ = DataChunk(output_types_);
}

Status WindowOperator::Push(const DataChunk& chunk) {
  const Vector& time = chunk.column(static_cast<size_t>(time_column_));
  const int64_t* ts = time.data<int64_t>();
  const size_t n_in = chunk.column_count();
  out_.Reset();
  auto flush = [&]() -> Status {
    size_t n = sel_.size();
    if (n == 0) return Status::Ok();
    for (size_t c = 0; c < n_in; ++c) {
      if (used_[c]) {
        GatherVector(chunk.column(c), sel_.data(), n, &out_.column(c), 0, &out_.arena());
      } else {
        out_.column(c).SetAllNull();
      }
    }
    int64_t* start = out_.column(n_in).data<int64_t>();
    int64_t* end = out_.column(n_in + 1).data<int64_t>();
    for (size_t i = 0; i < n; ++i) {
      start[i] = starts_[i];
      end[i] = starts_[i] + size_us_;
    }
    CopyWeights(chunk, sel_.data(), n, &out_);
    out_.set_size(n);
    Status s = Emit(out_);
    out_.Reset();
    sel_.clear();
    starts_.clear();
    return s;
  };
  sel_.clear();
  starts_.clear();
  for (size_t row = 0; row < chunk.size(); ++row) {
    if (time.IsNull(row)) continue;
    const int64_t t = ts[row];
    // The latest window start at or before t (floor division, also for times before 1970).
    int64_t last = t - (((t % slide_us_) + slide_us_) % slide_us_);
    for (int64_t s = last - size_us_ + slide_us_; s <= last; s += slide_us_) {
      if (sel_.size() == out_.capacity()) SLUICE_RETURN_IF_ERROR(flush());
      sel_.push_back(static_cast<uint32_t>(row));
      starts_.push_back(s);
    }
  }
  return flush();
}

// ---- Aggregate -------------------------------------------------------------------------------

struct AggregateOperator::Accumulator {
  int64_t count = 0;  // rows counted (count(*)), or non-NULL inputs
  __int128 isum = 0;  // sum of integer / scaled-decimal inputs
  double dsum = 0;    // sum of DOUBLE inputs
  double mean = 0;    // stddev: running mean and sum of squared deviations (Welford)
  double m2 = 0;
  std::map<Value, int64_t, ValueLess> values;  // count(DISTINCT), and min/max under retractions
  Value extreme;                               // min/max of an insert-only input
  bool has_extreme = false;
  std::unique_ptr<HyperLogLog> sketch;         // approx_count_distinct
  std::unique_ptr<QuantileSketch> quantiles;   // approx_percentile
};

namespace {

// A numeric cell as a double (DECIMAL scaled down). REQUIRES: a numeric column, row not NULL.
double NumericAsDouble(const Vector& v, size_t row) {
  switch (v.physical()) {
    case PhysicalType::kInt32: return v.data<int32_t>()[row];
    case PhysicalType::kInt64: {
      const double x = static_cast<double>(v.data<int64_t>()[row]);
      return v.type().id == TypeId::kDecimal ? x / std::pow(10.0, v.type().scale) : x;  // DECIMAL(p <= 18)
    }
    case PhysicalType::kInt128: return static_cast<double>(v.data<__int128>()[row]) / std::pow(10.0, v.type().scale);
    default: return v.data<double>()[row];
  }
}

// Adds `w` (+1 or -1) copies of `value` to the accumulator's multiset; a value whose count
// returns to zero leaves it, so min/max/count DISTINCT stay right under retractions.
void AddToMultiset(AggregateOperator::Accumulator* acc, Value value, int64_t w) {
  auto it = acc->values.try_emplace(std::move(value), 0).first;
  it->second += w;
  if (it->second == 0) acc->values.erase(it);
}

}  // namespace

// Per-aggregate state, in arrays indexed by group id. The common aggregates (count, sum, avg,
// and min/max of an insert-only input over fixed-width numbers) keep typed arrays and are
// updated a column at a time with no boxing; the others keep a full Accumulator per group.
struct AggregateOperator::AggregateState {
  enum class Kind : uint8_t {
    kCountStar,
    kCount,        // count(x), not DISTINCT
    kSumInt,       // sum/avg over INT, BIGINT, DECIMAL
    kSumDouble,    // sum/avg over DOUBLE
    kExtremeInt,   // min/max over INT, DATE, BIGINT, TIMESTAMP[TZ], DECIMAL(p<=18): insert-only
    kExtremeDouble,
    kGeneric,
  };
  Kind kind = Kind::kGeneric;
  bool is_min = false;
  std::vector<int64_t> count;    // rows (count(*)) or non-NULL inputs
  std::vector<__int128> isum;    // kSumInt
  std::vector<double> dsum;      // kSumDouble
  std::vector<int64_t> iextreme;  // kExtremeInt (INT/DATE widened)
  std::vector<double> dextreme;   // kExtremeDouble
  std::vector<Accumulator> generic;

  void Resize(size_t n) {
    count.resize(n);
    switch (kind) {
      case Kind::kSumInt: isum.resize(n); break;
      case Kind::kSumDouble: dsum.resize(n); break;
      case Kind::kExtremeInt: iextreme.resize(n); break;
      case Kind::kExtremeDouble: dextreme.resize(n); break;
      case Kind::kGeneric: generic.resize(n); break;
      default: break;
    }
  }
  // Forgets group `g` (a new group, or one that went away): empty state, memory released.
  void Clear(uint32_t g) {
    count[g] = 0;
    switch (kind) {
      case Kind::kSumInt: isum[g] = 0; break;
      case Kind::kSumDouble: dsum[g] = 0; break;
      case Kind::kGeneric: generic[g] = Accumulator(); break;
      default: break;
    }
  }
};

namespace {

// Calls f(i, row) for each selected row: row = sel[i], or i without a selection.
template <typename F>
inline void ForEachRow(const uint32_t* sel, size_t n, F&& f) {
  if (sel != nullptr) {
    for (size_t i = 0; i < n; ++i) f(i, static_cast<size_t>(sel[i]));
  } else {
    for (size_t i = 0; i < n; ++i) f(i, i);
  }
}

// A fixed-width min/max back in its SQL type.
Value ExtremeValue(const DataType& t, int64_t x) {
  switch (t.id) {
    case TypeId::kInt: return Value::Int(static_cast<int32_t>(x));
    case TypeId::kDate: return Value::Date(static_cast<int32_t>(x));
    case TypeId::kTimestamp: return Value::Timestamp(x);
    case TypeId::kTimestamptz: return Value::Timestamptz(x);
    case TypeId::kDecimal: return Value::Decimal(x, t.precision, t.scale);
    default: return Value::Bigint(x);
  }
}

// One row into a full accumulator (aggregates without a typed fast path).
Status AccumulateRow(const sql::BoundAggregate& agg, bool input_retracts, AggregateOperator::Accumulator& acc,
                     const Vector* v, size_t row, int64_t w, std::string* scratch) {
  if (agg.fn == AggregateFn::kCountStar) {
    acc.count += w;
    return Status::Ok();
  }
  if (v->IsNull(row)) return Status::Ok();
  acc.count += w;
  switch (agg.fn) {
    case AggregateFn::kCount:
      if (agg.distinct) AddToMultiset(&acc, GetValue(*v, row), w);
      break;
    case AggregateFn::kSum:
    case AggregateFn::kAvg:
      switch (v->physical()) {
        case PhysicalType::kInt32: acc.isum += static_cast<__int128>(v->data<int32_t>()[row]) * w; break;
        case PhysicalType::kInt64: acc.isum += static_cast<__int128>(v->data<int64_t>()[row]) * w; break;
        case PhysicalType::kInt128: acc.isum += v->data<__int128>()[row] * w; break;
        case PhysicalType::kDouble: acc.dsum += v->data<double>()[row] * static_cast<double>(w); break;
        default: return Status::Internal("sum/avg over a non-numeric column");
      }
      break;
    case AggregateFn::kMin:
    case AggregateFn::kMax:
      if (input_retracts) {
        AddToMultiset(&acc, GetValue(*v, row), w);
      } else {
        // Insert-only input: keep just the extreme (no ordered multiset per group).
        if (w < 0) return Status::Internal("a retraction reached an insert-only min/max");
        Value value = GetValue(*v, row);
        int c = acc.has_extreme ? CompareSqlValues(value, acc.extreme) : 0;
        if (!acc.has_extreme || (agg.fn == AggregateFn::kMin ? c < 0 : c > 0)) {
          acc.extreme = std::move(value);
          acc.has_extreme = true;
        }
      }
      break;
    case AggregateFn::kApproxCountDistinct: {
      if (w < 0) return Status::Internal("a retraction reached approx_count_distinct");
      if (!acc.sketch) acc.sketch = std::make_unique<HyperLogLog>();
      scratch->clear();
      AppendKeyBytes(*v, row, scratch);
      acc.sketch->Add(*scratch);
      break;
    }
    case AggregateFn::kApproxPercentile: {
      if (!acc.quantiles) acc.quantiles = std::make_unique<QuantileSketch>();
      const double x = NumericAsDouble(*v, row);
      if (w > 0) {
        acc.quantiles->Add(x, w);
      } else if (!acc.quantiles->Remove(x, -w)) {
        return Status::Internal("approx_percentile: a retraction of a value never added");
      }
      break;
    }
    case AggregateFn::kStddevSamp:
    case AggregateFn::kStddevPop: {
      const double x = NumericAsDouble(*v, row);
      // acc.count already includes this row's weight.
      if (acc.count <= 0) {
        acc.mean = 0;
        acc.m2 = 0;
      } else if (w > 0) {
        double delta = x - acc.mean;
        acc.mean += delta / static_cast<double>(acc.count);
        acc.m2 += delta * (x - acc.mean);
      } else {
        double delta = x - acc.mean;
        acc.mean -= delta / static_cast<double>(acc.count);
        acc.m2 -= delta * (x - acc.mean);
      }
      break;
    }
    default:
      break;
  }
  return Status::Ok();
}

// Folds rows into typed sums: count[g] += w, sum[g] += x * w for non-NULL x.
template <typename T, typename Sum>
void SumColumn(const Vector& v, const uint32_t* sel, size_t n, const uint32_t* ids, const int8_t* weights,
               int64_t* count, Sum* sum) {
  const T* x = v.data<T>();
  const bool nulls = v.has_nulls();
  ForEachRow(sel, n, [&](size_t i, size_t row) {
    if (nulls && v.IsNull(row)) return;
    const uint32_t g = ids[i];
    const int64_t w = weights ? weights[row] : 1;
    count[g] += w;
    sum[g] += static_cast<Sum>(x[row]) * static_cast<Sum>(w);
  });
}

// Insert-only min/max: keeps the smallest (largest) non-NULL value per group.
template <typename T, typename Load>
void ExtremeColumn(const Vector& v, const uint32_t* sel, size_t n, const uint32_t* ids, bool is_min, int64_t* count,
                   T* extreme, Load load) {
  const bool nulls = v.has_nulls();
  ForEachRow(sel, n, [&](size_t i, size_t row) {
    if (nulls && v.IsNull(row)) return;
    const uint32_t g = ids[i];
    const T x = load(row);
    if (count[g] == 0 || (is_min ? x < extreme[g] : x > extreme[g])) extreme[g] = x;
    ++count[g];
  });
}

}  // namespace

AggregateOperator::AggregateOperator() = default;
AggregateOperator::~AggregateOperator() = default;

Result<std::unique_ptr<AggregateOperator>> AggregateOperator::Create(const sql::LogicalOperator& agg,
                                                                     int64_t now_micros, bool input_retracts,
                                                                     std::optional<WindowClose> emit_on_close,
                                                                     std::optional<WindowExpiry> expiry,
                                                                     std::optional<StateTtl> ttl) {
  auto op = std::unique_ptr<AggregateOperator>(new AggregateOperator());
  op->input_retracts_ = input_retracts;
  auto valid = [&](const WindowClose& w) { return w.group >= 0 && static_cast<size_t>(w.group) < agg.groups.size(); };
  if (emit_on_close) {
    if (!valid(*emit_on_close)) return Status::Internal("EMIT ON WINDOW CLOSE without a window key");
    op->emit_on_close_ = emit_on_close;
  } else if (expiry) {
    if (!valid(expiry->window)) return Status::Internal("window expiry without a window key");
    op->expiry_ = expiry;
  }
  if (ttl) {
    if (ttl->ttl_us <= 0) return Status::Internal("state TTL must be positive");
    // EMIT ON WINDOW CLOSE frees every window's groups anyway; without GROUP BY there is one row.
    if (!emit_on_close && !agg.groups.empty()) op->ttl_ = ttl;
  }
  std::vector<DataType> key_types, arg_types;
  for (const auto& g : agg.groups) {
    SLUICE_ASSIGN_OR_RETURN(auto compiled, ExpressionExecutor::Compile(*g, now_micros));
    key_types.push_back(g->type);
    op->group_exprs_.push_back(std::move(compiled));
  }
  for (const sql::BoundAggregate& a : agg.aggregates) {
    if (a.fn == AggregateFn::kApproxCountDistinct && input_retracts) {
      return Status::InvalidArgument("not supported yet: approx_count_distinct() over an updating input");
    }
    sql::BoundAggregate copy;
    copy.fn = a.fn;
    copy.distinct = a.distinct;
    copy.type = a.type;
    copy.percentile = a.percentile;
    for (const auto& arg : a.args) copy.args.push_back(arg->Clone());
    auto state = std::make_unique<AggregateState>();
    using Kind = AggregateState::Kind;
    if (a.fn == AggregateFn::kCountStar) {
      op->arg_exprs_.push_back(nullptr);
      arg_types.push_back(DataType::Bigint());  // unused column
      state->kind = Kind::kCountStar;
    } else {
      SLUICE_ASSIGN_OR_RETURN(auto compiled, ExpressionExecutor::Compile(*a.args[0], now_micros));
      const DataType& t = a.args[0]->type;
      arg_types.push_back(t);
      op->arg_exprs_.push_back(std::move(compiled));
      const PhysicalType p = PhysicalTypeOf(t);
      const bool int_like = p == PhysicalType::kInt32 || p == PhysicalType::kInt64;
      if (a.fn == AggregateFn::kCount && !a.distinct) {
        state->kind = Kind::kCount;
      } else if ((a.fn == AggregateFn::kSum || a.fn == AggregateFn::kAvg) &&
                 (int_like || p == PhysicalType::kInt128)) {
        state->kind = Kind::kSumInt;
      } else if ((a.fn == AggregateFn::kSum || a.fn == AggregateFn::kAvg) && p == PhysicalType::kDouble) {
        state->kind = Kind::kSumDouble;
      } else if ((a.fn == AggregateFn::kMin || a.fn == AggregateFn::kMax) && !input_retracts && a.type == t &&
                 (int_like || p == PhysicalType::kDouble)) {
        state->kind = int_like ? Kind::kExtremeInt : Kind::kExtremeDouble;
        state->is_min = a.fn == AggregateFn::kMin;
      }
    }
    op->states_.push_back(std::move(state));
    op->aggregates_.push_back(std::move(copy));
  }
  op->keys_ = DataChunk(key_types);
  op->args_ = DataChunk(arg_types);
  op->groups_ = std::make_unique<GroupKeyTable>(key_types);
  for (size_t g = 0; g < key_types.size(); ++g) op->key_columns_.push_back(&op->keys_.column(g));
  op->output_types_ = TypesOf(agg.schema);
  op->out_ = DataChunk(op->output_types_);
  return op;
}

void AggregateOperator::InitGroups() {
  const size_t limit = groups_->id_limit();
  if (group_rows_.size() < limit) {
    group_rows_.resize(limit);
    group_dirty_.resize(limit);
    has_emitted_.resize(limit);
    emitted_.resize(limit);
    window_end_.resize(limit, INT64_MIN);
    touched_.resize(limit, kNotTouched);
    for (auto& s : states_) s->Resize(limit);
  }
  for (uint32_t g : created_) {
    group_rows_[g] = 0;
    group_dirty_[g] = 0;
    has_emitted_[g] = 0;
    touched_[g] = kNotTouched;
    for (auto& s : states_) s->Clear(g);
  }
}

Status AggregateOperator::Push(const DataChunk& chunk) {
  keys_.Reset();
  args_.Reset();
  for (size_t g = 0; g < group_exprs_.size(); ++g) {
    SLUICE_RETURN_IF_ERROR(group_exprs_[g]->Execute(chunk, &keys_.column(g), &keys_.arena()));
  }
  for (size_t a = 0; a < arg_exprs_.size(); ++a) {
    if (arg_exprs_[a]) SLUICE_RETURN_IF_ERROR(arg_exprs_[a]->Execute(chunk, &args_.column(a), &args_.arena()));
  }
  const int8_t* weights = chunk.weights().empty() ? nullptr : chunk.weights().data();
  const bool any_retraction = weights != nullptr && std::any_of(weights, weights + chunk.size(), [](int8_t w) { return w < 0; });
  // The rows that reach a group: EMIT ON WINDOW CLOSE drops rows without a window and rows of
  // windows already emitted (too late).
  const uint32_t* sel = nullptr;
  size_t n = chunk.size();
  const Vector* window_key = emit_on_close_ ? &keys_.column(static_cast<size_t>(emit_on_close_->group)) : nullptr;
  if (window_key != nullptr) {
    sel_.clear();
    const int64_t* start = window_key->data<int64_t>();
    for (size_t row = 0; row < chunk.size(); ++row) {
      if (window_key->IsNull(row) || start[row] + emit_on_close_->end_offset_us <= closed_until_) continue;
      sel_.push_back(static_cast<uint32_t>(row));
    }
    sel = sel_.data();
    n = sel_.size();
  }
  ids_.resize(n);
  created_.clear();
  groups_->FindOrInsert(key_columns_.data(), sel, n, ids_.data(), &created_);
  if (!created_.empty()) {
    InitGroups();
    if (ttl_ && any_retraction) DropRetractionsOfExpiredGroups(weights, &sel, &n);
    if (tracked_window() != nullptr) {
      for (uint32_t g : created_) TrackWindow(g);
    }
  }
  const uint32_t* ids = ids_.data();
  ForEachRow(sel, n, [&](size_t i, size_t row) { group_rows_[ids[i]] += weights ? weights[row] : 1; });
  if (window_key == nullptr) {
    // Held back until the window closes under EMIT ON WINDOW CLOSE; otherwise owed at Flush.
    for (size_t i = 0; i < n; ++i) {
      if (!group_dirty_[ids[i]]) {
        group_dirty_[ids[i]] = 1;
        dirty_.push_back(ids[i]);
      }
    }
  }
  using Kind = AggregateState::Kind;
  for (size_t a = 0; a < aggregates_.size(); ++a) {
    AggregateState& st = *states_[a];
    const Vector& v = args_.column(a);
    int64_t* count = st.count.data();
    switch (st.kind) {
      case Kind::kCountStar:
        ForEachRow(sel, n, [&](size_t i, size_t row) { count[ids[i]] += weights ? weights[row] : 1; });
        break;
      case Kind::kCount:
        ForEachRow(sel, n, [&](size_t i, size_t row) {
          if (!v.IsNull(row)) count[ids[i]] += weights ? weights[row] : 1;
        });
        break;
      case Kind::kSumInt:
        switch (v.physical()) {
          case PhysicalType::kInt32: SumColumn<int32_t>(v, sel, n, ids, weights, count, st.isum.data()); break;
          case PhysicalType::kInt64: SumColumn<int64_t>(v, sel, n, ids, weights, count, st.isum.data()); break;
          default: SumColumn<__int128>(v, sel, n, ids, weights, count, st.isum.data()); break;
        }
        break;
      case Kind::kSumDouble:
        SumColumn<double>(v, sel, n, ids, weights, count, st.dsum.data());
        break;
      case Kind::kExtremeInt:
        if (any_retraction) return Status::Internal("a retraction reached an insert-only min/max");
        if (v.physical() == PhysicalType::kInt32) {
          const int32_t* x = v.data<int32_t>();
          ExtremeColumn<int64_t>(v, sel, n, ids, st.is_min, count, st.iextreme.data(),
                                 [x](size_t row) { return int64_t{x[row]}; });
        } else {
          const int64_t* x = v.data<int64_t>();
          ExtremeColumn<int64_t>(v, sel, n, ids, st.is_min, count, st.iextreme.data(),
                                 [x](size_t row) { return x[row]; });
        }
        break;
      case Kind::kExtremeDouble: {
        if (any_retraction) return Status::Internal("a retraction reached an insert-only min/max");
        const double* x = v.data<double>();
        ExtremeColumn<double>(v, sel, n, ids, st.is_min, count, st.dextreme.data(), [x](size_t row) { return x[row]; });
        break;
      }
      case Kind::kGeneric: {
        const sql::BoundAggregate& agg = aggregates_[a];
        Status s;
        ForEachRow(sel, n, [&](size_t i, size_t row) {
          if (!s.ok()) return;
          s = AccumulateRow(agg, input_retracts_, st.generic[ids[i]], &v, row, weights ? weights[row] : 1, &scratch_);
        });
        SLUICE_RETURN_IF_ERROR(s);
        break;
      }
    }
  }
  return Status::Ok();
}

namespace {

Result<Value> Finalize(const sql::BoundAggregate& agg, const AggregateOperator::Accumulator& acc,
                       const DataType& input_type) {
  const DataType& t = agg.type;
  switch (agg.fn) {
    case AggregateFn::kCountStar:
      return Value::Bigint(acc.count);
    case AggregateFn::kCount:
      return Value::Bigint(agg.distinct ? static_cast<int64_t>(acc.values.size()) : acc.count);
    case AggregateFn::kSum:
      if (acc.count == 0) return Value::Null(t);
      if (t.id == TypeId::kDouble) return Value::Double(acc.dsum);
      if (t.id == TypeId::kBigint) {
        if (acc.isum > INT64_MAX || acc.isum < INT64_MIN) return Status::InvalidArgument("bigint out of range");
        return Value::Bigint(static_cast<int64_t>(acc.isum));
      }
      if (acc.isum >= Pow10(38) || acc.isum <= -Pow10(38)) return Status::InvalidArgument("numeric field overflow");
      return Value::Decimal(acc.isum, t.precision, t.scale);
    case AggregateFn::kAvg: {
      if (acc.count == 0) return Value::Null(t);
      if (t.id == TypeId::kDouble) {
        double sum = input_type.id == TypeId::kDouble ? acc.dsum : static_cast<double>(acc.isum);
        return Value::Double(sum / static_cast<double>(acc.count));
      }
      // DECIMAL: rescale the sum to the result's scale, divide, round half away from zero.
      __int128 num = acc.isum * Pow10(t.scale - input_type.scale);
      __int128 q = num / acc.count;
      __int128 r = num % acc.count;
      if (2 * (r < 0 ? -r : r) >= acc.count) q += num < 0 ? -1 : 1;
      return Value::Decimal(q, t.precision, t.scale);
    }
    case AggregateFn::kMin:
      if (acc.has_extreme) return acc.extreme;
      if (acc.values.empty()) return Value::Null(t);
      return acc.values.begin()->first;
    case AggregateFn::kMax:
      if (acc.has_extreme) return acc.extreme;
      if (acc.values.empty()) return Value::Null(t);
      return acc.values.rbegin()->first;
    case AggregateFn::kApproxCountDistinct:
      return Value::Bigint(acc.sketch ? acc.sketch->Estimate() : 0);
    case AggregateFn::kApproxPercentile:
      if (acc.count == 0 || !acc.quantiles || acc.quantiles->empty()) return Value::Null(t);
      return Value::Double(acc.quantiles->Quantile(agg.percentile));
    case AggregateFn::kStddevSamp:
      if (acc.count < 2) return Value::Null(t);
      return Value::Double(std::sqrt(std::max(0.0, acc.m2 / static_cast<double>(acc.count - 1))));
    case AggregateFn::kStddevPop:
      if (acc.count < 1) return Value::Null(t);
      return Value::Double(std::sqrt(std::max(0.0, acc.m2 / static_cast<double>(acc.count))));
    default:
      return Status::InvalidArgument(fmt::format("not supported yet: {}()", sql::AggregateFnName(agg.fn)));
  }
}

}  // namespace

Result<Value> AggregateOperator::FinalizeAggregate(size_t a, uint32_t g) const {
  const sql::BoundAggregate& agg = aggregates_[a];
  const AggregateState& st = *states_[a];
  const DataType input_type = agg.args.empty() ? DataType::Bigint() : agg.args[0]->type;
  using Kind = AggregateState::Kind;
  if (st.kind == Kind::kGeneric) return Finalize(agg, st.generic[g], input_type);
  if (st.kind == Kind::kExtremeInt || st.kind == Kind::kExtremeDouble) {
    if (st.count[g] == 0) return Value::Null(agg.type);
    return st.kind == Kind::kExtremeInt ? ExtremeValue(agg.type, st.iextreme[g]) : Value::Double(st.dextreme[g]);
  }
  Accumulator acc;
  acc.count = st.count[g];
  if (st.kind == Kind::kSumInt) acc.isum = st.isum[g];
  if (st.kind == Kind::kSumDouble) acc.dsum = st.dsum[g];
  return Finalize(agg, acc, input_type);
}

const AggregateOperator::WindowClose* AggregateOperator::tracked_window() const {
  if (emit_on_close_) return &*emit_on_close_;
  if (expiry_) return &expiry_->window;
  return nullptr;
}

void AggregateOperator::TrackWindow(uint32_t g) {
  const WindowClose& w = *tracked_window();
  const Value key = groups_->KeyValue(g, static_cast<size_t>(w.group));
  if (key.is_null()) return;  // rows without a window: never expire (EOWC drops them)
  const int64_t end = key.int64() + w.end_offset_us;
  window_end_[g] = end;
  open_windows_[end].push_back(g);
}

void AggregateOperator::ExpireWindows() {
  const int64_t lateness = expiry_->allowed_lateness_us;
  while (!open_windows_.empty() && pending_watermark_ != INT64_MIN &&
         open_windows_.begin()->first <= pending_watermark_ - lateness) {
    const int64_t end = open_windows_.begin()->first;
    for (uint32_t g : open_windows_.begin()->second) {
      if (groups_->IsLive(g) && window_end_[g] == end) EraseGroup(g);
    }
    open_windows_.erase(open_windows_.begin());
    ++expired_windows_;
  }
}

void AggregateOperator::DropRetractionsOfExpiredGroups(const int8_t* weights, const uint32_t** sel, size_t* n) {
  fresh_.resize(groups_->id_limit());
  for (uint32_t g : created_) fresh_[g] = 1;  // 1: new, no insertion seen yet; 2: inserted into
  std::vector<uint32_t> kept;
  kept.reserve(*n);
  size_t out = 0;
  for (size_t i = 0; i < *n; ++i) {
    const uint32_t row = *sel != nullptr ? (*sel)[i] : static_cast<uint32_t>(i);
    const uint32_t g = ids_[i];
    if (fresh_[g] == 1 && weights[row] < 0) continue;
    if (fresh_[g] == 1) fresh_[g] = 2;
    kept.push_back(row);
    ids_[out++] = g;
  }
  ids_.resize(out);
  std::vector<uint32_t> created;
  for (uint32_t g : created_) {
    if (fresh_[g] == 1) {
      EraseGroup(g);
    } else {
      created.push_back(g);
    }
    fresh_[g] = 0;
  }
  created_.swap(created);
  sel_.swap(kept);
  *sel = sel_.data();
  *n = sel_.size();
}

void AggregateOperator::Touch(uint32_t g) {
  if (touched_[g] == pending_watermark_) return;
  touched_[g] = pending_watermark_;
  touch_queue_.emplace_back(pending_watermark_, g);
}

Status AggregateOperator::ExpireIdleGroups(const std::function<Status(const std::vector<Value>&, int8_t)>& add_row) {
  if (pending_watermark_ == INT64_MIN) return Status::Ok();
  const int64_t horizon = pending_watermark_ - ttl_->ttl_us;  // groups updated before this expire
  while (!touch_queue_.empty()) {
    const auto [touched, g] = touch_queue_.front();
    const int64_t at = touched == INT64_MIN ? first_watermark_ : touched;
    if (at >= horizon) break;
    touch_queue_.pop_front();
    if (!groups_->IsLive(g) || touched_[g] != touched) continue;  // erased, or updated since
    if (has_emitted_[g]) SLUICE_RETURN_IF_ERROR(add_row(emitted_[g], -1));
    EraseGroup(g);
    ++expired_groups_;
  }
  return Status::Ok();
}

void AggregateOperator::EraseGroup(uint32_t g) {
  window_end_[g] = INT64_MIN;
  if (ttl_) touched_[g] = kNotTouched;
  groups_->Erase(g);
  for (auto& s : states_) s->Clear(g);
  std::vector<Value>().swap(emitted_[g]);
  has_emitted_[g] = 0;
}

Status AggregateOperator::Flush() {
  out_.Reset();
  auto add_row = [&](const std::vector<Value>& values, int8_t weight) -> Status {
    if (out_.size() == out_.capacity()) {
      SLUICE_RETURN_IF_ERROR(Emit(out_));
      out_.Reset();
    }
    size_t row = out_.size();
    for (size_t c = 0; c < values.size(); ++c) SetValue(&out_.column(c), row, values[c], &out_.arena());
    out_.weights().push_back(weight);  // aggregate output always carries weights
    out_.set_size(row + 1);
    return Status::Ok();
  };
  auto finalize = [&](uint32_t g) -> Result<std::vector<Value>> {
    std::vector<Value> values;
    values.reserve(groups_->key_count() + aggregates_.size());
    for (size_t k = 0; k < groups_->key_count(); ++k) values.push_back(groups_->KeyValue(g, k));
    for (size_t a = 0; a < aggregates_.size(); ++a) {
      SLUICE_ASSIGN_OR_RETURN(Value v, FinalizeAggregate(a, g));
      values.push_back(std::move(v));
    }
    return values;
  };
  if (emit_on_close_) {
    // Emit and free every window the watermark has passed, oldest first.
    while (!open_windows_.empty() && open_windows_.begin()->first <= pending_watermark_) {
      const int64_t end = open_windows_.begin()->first;
      for (uint32_t g : open_windows_.begin()->second) {
        if (!groups_->IsLive(g) || window_end_[g] != end) continue;
        if (group_rows_[g] > 0) {
          SLUICE_ASSIGN_OR_RETURN(std::vector<Value> values, finalize(g));
          SLUICE_RETURN_IF_ERROR(add_row(values, 1));
        }
        EraseGroup(g);
      }
      open_windows_.erase(open_windows_.begin());
    }
    closed_until_ = std::max(closed_until_, pending_watermark_);
    if (out_.size() > 0) SLUICE_RETURN_IF_ERROR(Emit(out_));
    return FlushDownstream();
  }
  // With no GROUP BY, an aggregate over no rows still yields one row (count = 0).
  if (group_exprs_.empty() && groups_->size() == 0) {
    uint32_t g = 0;
    created_.clear();
    groups_->FindOrInsert(key_columns_.data(), nullptr, 1, &g, &created_);
    InitGroups();
    group_dirty_[g] = 1;
    dirty_.push_back(g);
  }
  for (uint32_t g : dirty_) {
    group_dirty_[g] = 0;
    if (has_emitted_[g]) SLUICE_RETURN_IF_ERROR(add_row(emitted_[g], -1));
    if (group_rows_[g] > 0 || group_exprs_.empty()) {
      SLUICE_ASSIGN_OR_RETURN(std::vector<Value> values, finalize(g));
      SLUICE_RETURN_IF_ERROR(add_row(values, 1));
      emitted_[g] = std::move(values);
      has_emitted_[g] = 1;
    } else {
      has_emitted_[g] = 0;
    }
  }
  // Groups with no rows left are gone (their retraction was emitted above).
  for (uint32_t g : dirty_) {
    if (group_rows_[g] <= 0 && !group_exprs_.empty()) {
      EraseGroup(g);
    } else if (ttl_) {
      Touch(g);  // updated as of this flush's watermark
    }
  }
  dirty_.clear();
  if (ttl_) SLUICE_RETURN_IF_ERROR(ExpireIdleGroups(add_row));
  if (expiry_) ExpireWindows();
  if (out_.size() > 0) SLUICE_RETURN_IF_ERROR(Emit(out_));
  return FlushDownstream();
}

Status AggregateOperator::OnWatermark(int64_t watermark_us) {
  pending_watermark_ = std::max(pending_watermark_, watermark_us);
  if (first_watermark_ == INT64_MIN) first_watermark_ = pending_watermark_;
  return Status::Ok();
}

Status AggregateOperator::FlushDownstream() {
  if (pending_watermark_ > forwarded_watermark_ && downstream_ != nullptr) {
    forwarded_watermark_ = pending_watermark_;
    SLUICE_RETURN_IF_ERROR(downstream_->OnWatermark(forwarded_watermark_));
  }
  return Operator::Flush();
}

// Checkpoint layout (docs/checkpointing.md, "aggregate"): the shape (key and aggregate counts),
// the watermarks, the live group count n, then n key rows, then n group records in the same
// order: row weight, flags (bit 0 dirty, bit 1 emitted), the row emitted last, and per aggregate
// its count plus the state its kind keeps. Keys come first so Restore can rebuild the group
// table a batch at a time before it reads the accumulators.
namespace {

constexpr uint64_t kGroupDirty = 1;
constexpr uint64_t kGroupEmitted = 2;

void SnapshotAccumulator(const AggregateOperator::Accumulator& acc, sql::StateWriter* out) {
  out->I64(acc.count);
  out->I128(acc.isum);
  out->F64(acc.dsum);
  out->F64(acc.mean);
  out->F64(acc.m2);
  out->U64(acc.values.size());
  for (const auto& [value, n] : acc.values) {
    out->Val(value);
    out->I64(n);
  }
  out->U64(acc.has_extreme ? 1 : 0);
  if (acc.has_extreme) out->Val(acc.extreme);
  out->U64(acc.sketch ? 1 : 0);
  if (acc.sketch) acc.sketch->Snapshot(out);
  out->U64(acc.quantiles ? 1 : 0);
  if (acc.quantiles) acc.quantiles->Snapshot(out);
}

Status RestoreAccumulator(sql::StateReader* in, AggregateOperator::Accumulator* acc) {
  SLUICE_ASSIGN_OR_RETURN(acc->count, in->I64());
  SLUICE_ASSIGN_OR_RETURN(acc->isum, in->I128());
  SLUICE_ASSIGN_OR_RETURN(acc->dsum, in->F64());
  SLUICE_ASSIGN_OR_RETURN(acc->mean, in->F64());
  SLUICE_ASSIGN_OR_RETURN(acc->m2, in->F64());
  SLUICE_ASSIGN_OR_RETURN(uint64_t values, in->Count());
  for (uint64_t i = 0; i < values; ++i) {
    SLUICE_ASSIGN_OR_RETURN(Value v, in->Val());
    SLUICE_ASSIGN_OR_RETURN(int64_t n, in->I64());
    if (n == 0) return Status::Corruption("aggregate state holds a value with no copies");
    acc->values.emplace(std::move(v), n);
  }
  SLUICE_ASSIGN_OR_RETURN(uint64_t has_extreme, in->U64());
  acc->has_extreme = has_extreme != 0;
  if (acc->has_extreme) {
    SLUICE_ASSIGN_OR_RETURN(acc->extreme, in->Val());
  }
  SLUICE_ASSIGN_OR_RETURN(uint64_t has_sketch, in->U64());
  if (has_sketch != 0) {
    acc->sketch = std::make_unique<HyperLogLog>();
    SLUICE_RETURN_IF_ERROR(acc->sketch->Restore(in));
  }
  SLUICE_ASSIGN_OR_RETURN(uint64_t has_quantiles, in->U64());
  if (has_quantiles != 0) {
    acc->quantiles = std::make_unique<QuantileSketch>();
    SLUICE_RETURN_IF_ERROR(acc->quantiles->Restore(in));
  }
  return Status::Ok();
}

}  // namespace

Status AggregateOperator::Snapshot(sql::StateWriter* out) const {
  out->U64(groups_->key_count());
  out->U64(aggregates_.size());
  out->I64(pending_watermark_);
  out->I64(forwarded_watermark_);
  out->I64(closed_until_);
  out->I64(expired_windows_);
  out->U64(groups_->size());
  const uint32_t limit = groups_->id_limit();
  for (uint32_t g = 0; g < limit; ++g) {
    if (!groups_->IsLive(g)) continue;
    for (size_t k = 0; k < groups_->key_count(); ++k) out->Val(groups_->KeyValue(g, k));
  }
  using Kind = AggregateState::Kind;
  for (uint32_t g = 0; g < limit; ++g) {
    if (!groups_->IsLive(g)) continue;
    out->I64(group_rows_[g]);
    out->U64((group_dirty_[g] ? kGroupDirty : 0) | (has_emitted_[g] ? kGroupEmitted : 0));
    if (has_emitted_[g]) out->Row(emitted_[g]);
    for (const auto& st : states_) {
      out->I64(st->count[g]);
      switch (st->kind) {
        case Kind::kSumInt: out->I128(st->isum[g]); break;
        case Kind::kSumDouble: out->F64(st->dsum[g]); break;
        case Kind::kExtremeInt: out->I64(st->iextreme[g]); break;
        case Kind::kExtremeDouble: out->F64(st->dextreme[g]); break;
        case Kind::kGeneric: SnapshotAccumulator(st->generic[g], out); break;
        default: break;
      }
    }
  }
  if (ttl_) {
    // Only views WITH (state_ttl) write this part, so checkpoints of other views are unchanged.
    out->I64(first_watermark_);
    out->I64(expired_groups_);
    for (uint32_t g = 0; g < limit; ++g) {
      if (groups_->IsLive(g)) out->I64(touched_[g]);
    }
  }
  return Status::Ok();
}

Status AggregateOperator::Restore(sql::StateReader* in) {
  if (groups_->size() != 0) return Status::Internal("aggregate state restored into a used operator");
  SLUICE_ASSIGN_OR_RETURN(uint64_t key_count, in->U64());
  SLUICE_ASSIGN_OR_RETURN(uint64_t aggregate_count, in->U64());
  if (key_count != groups_->key_count() || aggregate_count != aggregates_.size()) {
    return Status::Corruption("aggregate state was written for another plan");
  }
  SLUICE_ASSIGN_OR_RETURN(pending_watermark_, in->I64());
  SLUICE_ASSIGN_OR_RETURN(forwarded_watermark_, in->I64());
  SLUICE_ASSIGN_OR_RETURN(closed_until_, in->I64());
  SLUICE_ASSIGN_OR_RETURN(expired_windows_, in->I64());
  SLUICE_ASSIGN_OR_RETURN(uint64_t n, in->Count());
  // Keys, a chunk at a time, into the group table: ids[i] is the i-th group's id.
  std::vector<uint32_t> ids;
  ids.reserve(n);
  const std::vector<DataType>& key_types = groups_->key_types();
  for (uint64_t done = 0; done < n;) {
    keys_.Reset();
    const size_t batch = static_cast<size_t>(std::min<uint64_t>(n - done, keys_.capacity()));
    for (size_t r = 0; r < batch; ++r) {
      for (size_t k = 0; k < key_types.size(); ++k) {
        SLUICE_ASSIGN_OR_RETURN(Value v, in->Val());
        if (!v.is_null() && v.type().id != key_types[k].id) return Status::Corruption("aggregate state: a key has the wrong type");
        SetValue(&keys_.column(k), r, v, &keys_.arena());
      }
    }
    keys_.set_size(batch);
    const size_t first = ids.size();
    ids.resize(first + batch);
    created_.clear();
    groups_->FindOrInsert(key_columns_.data(), nullptr, batch, ids.data() + first, &created_);
    if (created_.size() != batch) return Status::Corruption("aggregate state holds a group twice");
    InitGroups();
    done += batch;
  }
  using Kind = AggregateState::Kind;
  for (uint32_t g : ids) {
    SLUICE_ASSIGN_OR_RETURN(group_rows_[g], in->I64());
    SLUICE_ASSIGN_OR_RETURN(uint64_t flags, in->U64());
    if ((flags & kGroupDirty) != 0) {
      group_dirty_[g] = 1;
      dirty_.push_back(g);
    }
    has_emitted_[g] = (flags & kGroupEmitted) != 0 ? 1 : 0;
    if (has_emitted_[g]) {
      SLUICE_ASSIGN_OR_RETURN(emitted_[g], in->Row());
      if (emitted_[g].size() != output_types_.size()) return Status::Corruption("aggregate state: an emitted row has the wrong width");
    }
    for (auto& st : states_) {
      SLUICE_ASSIGN_OR_RETURN(st->count[g], in->I64());
      switch (st->kind) {
        case Kind::kSumInt: {
          SLUICE_ASSIGN_OR_RETURN(st->isum[g], in->I128());
          break;
        }
        case Kind::kSumDouble: {
          SLUICE_ASSIGN_OR_RETURN(st->dsum[g], in->F64());
          break;
        }
        case Kind::kExtremeInt: {
          SLUICE_ASSIGN_OR_RETURN(st->iextreme[g], in->I64());
          break;
        }
        case Kind::kExtremeDouble: {
          SLUICE_ASSIGN_OR_RETURN(st->dextreme[g], in->F64());
          break;
        }
        case Kind::kGeneric: SLUICE_RETURN_IF_ERROR(RestoreAccumulator(in, &st->generic[g])); break;
        default: break;
      }
    }
    if (tracked_window() != nullptr) TrackWindow(g);
  }
  if (ttl_) {
    SLUICE_ASSIGN_OR_RETURN(first_watermark_, in->I64());
    SLUICE_ASSIGN_OR_RETURN(expired_groups_, in->I64());
    // The groups come in id order: re-queue them by the time of their last update.
    std::vector<std::pair<int64_t, uint32_t>> queue;
    queue.reserve(ids.size());
    for (uint32_t g : ids) {
      SLUICE_ASSIGN_OR_RETURN(touched_[g], in->I64());
      if (touched_[g] != kNotTouched) {
        queue.emplace_back(touched_[g], g);
      } else if (!group_dirty_[g]) {
        // Only a group changed since the last Flush (which will time it) has no update time.
        return Status::Corruption("aggregate state: a group has no update time");
      }
    }
    std::sort(queue.begin(), queue.end());
    touch_queue_.assign(queue.begin(), queue.end());
  }
  return Status::Ok();
}

// ---- DistinctOn ------------------------------------------------------------------------------

Result<std::unique_ptr<DistinctOnOperator>> DistinctOnOperator::Create(const std::vector<sql::BoundExprPtr>& keys,
                                                                       std::vector<DataType> types,
                                                                       int64_t now_micros) {
  auto op = std::unique_ptr<DistinctOnOperator>(new DistinctOnOperator());
  std::vector<DataType> key_types;
  for (const auto& k : keys) {
    SLUICE_ASSIGN_OR_RETURN(auto compiled, ExpressionExecutor::Compile(*k, now_micros));
    key_types.push_back(k->type);
    op->keys_.push_back(std::move(compiled));
  }
  op->key_values_ = DataChunk(key_types);
  op->out_ = DataChunk(types);
  op->output_types_ = std::move(types);
  return op;
}

Status DistinctOnOperator::Snapshot(sql::StateWriter* out) const {
  out->U64(seen_.size());
  for (const auto& [key, unused] : seen_) out->Bytes(key);
  return Status::Ok();
}

Status DistinctOnOperator::Restore(sql::StateReader* in) {
  SLUICE_ASSIGN_OR_RETURN(uint64_t n, in->Count());
  seen_.clear();
  for (uint64_t i = 0; i < n; ++i) {
    SLUICE_ASSIGN_OR_RETURN(std::string key, in->Bytes());
    seen_.emplace(std::move(key), true);
  }
  return Status::Ok();
}

Status DistinctOnOperator::Push(const DataChunk& chunk) {
  if (!chunk.weights().empty()) {
    for (int8_t w : chunk.weights()) {
      if (w < 0) return Status::InvalidArgument("not supported yet: DISTINCT ON over an updating input");
    }
  }
  key_values_.Reset();
  for (size_t k = 0; k < keys_.size(); ++k) {
    SLUICE_RETURN_IF_ERROR(keys_[k]->Execute(chunk, &key_values_.column(k), &key_values_.arena()));
  }
  sel_.clear();
  for (size_t row = 0; row < chunk.size(); ++row) {
    key_.clear();
    for (size_t k = 0; k < keys_.size(); ++k) AppendKeyBytes(key_values_.column(k), row, &key_);
    if (seen_.try_emplace(key_, true).second) sel_.push_back(static_cast<uint32_t>(row));
  }
  if (sel_.empty()) return Status::Ok();
  out_.Reset();
  for (size_t c = 0; c < chunk.column_count(); ++c) {
    GatherVector(chunk.column(c), sel_.data(), sel_.size(), &out_.column(c), 0, &out_.arena());
  }
  out_.set_size(sel_.size());
  return Emit(out_);
}

// ---- Upsert ----------------------------------------------------------------------------------

UpsertOperator::UpsertOperator(std::vector<DataType> types, std::vector<int> key_columns)
    : key_columns_(std::move(key_columns)), out_(types) {
  output_types_ = std::move(types);
}

Status UpsertOperator::Push(const DataChunk& chunk) {
  for (size_t row = 0; row < chunk.size(); ++row) {
    if (chunk.weight(row) < 0) return Status::Internal("a retraction reached a table's upsert");
    key_.clear();
    bool null_key = false;
    for (int k : key_columns_) {
      const Vector& v = chunk.column(static_cast<size_t>(k));
      null_key = null_key || v.IsNull(row);
      AppendKeyBytes(v, row, &key_);
    }
    if (null_key) {
      ++null_key_rows_;
      continue;
    }
    Row& r = rows_[key_];
    r.current.clear();
    for (size_t c = 0; c < chunk.column_count(); ++c) r.current.push_back(GetValue(chunk.column(c), row));
    if (!r.dirty) {
      r.dirty = true;
      dirty_.push_back(key_);
    }
  }
  return Status::Ok();
}

Status UpsertOperator::Snapshot(sql::StateWriter* out) const {
  if (!dirty_.empty()) return Status::Internal("upsert snapshot between flushes");
  out->U64(rows_.size());
  for (const auto& [key, row] : rows_) {
    out->Bytes(key);
    out->Row(row.current);
  }
  out->I64(null_key_rows_);
  return Status::Ok();
}

Status UpsertOperator::Restore(sql::StateReader* in) {
  SLUICE_ASSIGN_OR_RETURN(uint64_t n, in->Count());
  rows_.clear();
  dirty_.clear();
  for (uint64_t i = 0; i < n; ++i) {
    SLUICE_ASSIGN_OR_RETURN(std::string key, in->Bytes());
    Row& r = rows_[key];
    SLUICE_ASSIGN_OR_RETURN(r.current, in->Row());
    r.emitted = r.current;  // at a flush boundary what is current was emitted
    r.has_emitted = true;
  }
  SLUICE_ASSIGN_OR_RETURN(null_key_rows_, in->I64());
  return Status::Ok();
}

Status UpsertOperator::Flush() {
  out_.Reset();
  auto add = [&](const std::vector<Value>& values, int8_t weight) -> Status {
    if (out_.size() == out_.capacity()) {
      SLUICE_RETURN_IF_ERROR(Emit(out_));
      out_.Reset();
    }
    const size_t r = out_.size();
    for (size_t c = 0; c < values.size(); ++c) SetValue(&out_.column(c), r, values[c], &out_.arena());
    out_.weights().push_back(weight);
    out_.set_size(r + 1);
    return Status::Ok();
  };
  for (const std::string& key : dirty_) {
    Row& r = rows_[key];
    r.dirty = false;
    if (r.has_emitted && r.emitted == r.current) continue;
    if (r.has_emitted) SLUICE_RETURN_IF_ERROR(add(r.emitted, -1));
    SLUICE_RETURN_IF_ERROR(add(r.current, 1));
    r.emitted = r.current;
    r.has_emitted = true;
  }
  dirty_.clear();
  if (out_.size() > 0) SLUICE_RETURN_IF_ERROR(Emit(out_));
  return Operator::Flush();
}

}  // namespace sluice::exec

