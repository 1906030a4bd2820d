#include "exec/group_key_table.h"

#include <xxhash.h>

#include <cassert>
#include <cstring>


namespace sluice::exec {
namespace {

constexpr uint64_t kSeed = 0x9e3779b97f4a7c15ULL;
constexpr uint64_t kNullHash = 0x5851f42d4c957f2dULL;
constexpr size_t kInitialSlots = 64;

// A bijective 64-bit mixer (every input bit affects every output bit).
inline uint64_t Mix(uint64_t x) {
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ULL;
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ULL;
  x ^= x >> 32;
  return x;
}

// Folds one column's value hashes into the row hashes: h = Mix(h ^ value).
template <typename T, typename ToBits>
void HashFixed(const Vector& v, const uint32_t* sel, size_t n, uint64_t* hashes, ToBits to_bits) {
  const T* data = v.data<T>();
  if (!v.has_nulls()) {
    for (size_t i = 0; i < n; ++i) hashes[i] = Mix(hashes[i] ^ to_bits(data[sel ? sel[i] : i]));
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    const size_t row = sel ? sel[i] : i;
    hashes[i] = Mix(hashes[i] ^ (v.IsNull(row) ? kNullHash : to_bits(data[row])));
  }
}

uint64_t Bits128(const void* p) {
  uint64_t w[2];
  std::memcpy(w, p, sizeof(w));
  return w[0] ^ Mix(w[1] + kSeed);
}

}  // namespace

GroupKeyTable::GroupKeyTable(std::vector<DataType> key_types, uint64_t hash_mask)
    : hash_mask_(hash_mask), slots_(kInitialSlots, 0) {
  for (const DataType& t : key_types) {
    Column c;
    c.type = t;
    c.physical = PhysicalTypeOf(t);
    c.width = PhysicalSize(c.physical);
    columns_.push_back(std::move(c));
  }
  key_types_ = std::move(key_types);
}

void GroupKeyTable::HashRows(const Vector* const* keys, const uint32_t* sel, size_t n) {
  row_hashes_.assign(n, kSeed);
  uint64_t* h = row_hashes_.data();
  for (size_t c = 0; c < columns_.size(); ++c) {
    const Vector& v = *keys[c];
    switch (columns_[c].physical) {
      case PhysicalType::kBool: HashFixed<uint8_t>(v, sel, n, h, [](uint8_t x) { return uint64_t{x}; }); break;
      case PhysicalType::kInt32:
        HashFixed<int32_t>(v, sel, n, h, [](int32_t x) { return static_cast<uint64_t>(static_cast<uint32_t>(x)); });
        break;
      case PhysicalType::kInt64:
        HashFixed<int64_t>(v, sel, n, h, [](int64_t x) { return static_cast<uint64_t>(x); });
        break;
      case PhysicalType::kDouble:
        HashFixed<double>(v, sel, n, h, [](double x) {
          uint64_t bits;
          std::memcpy(&bits, &x, sizeof(bits));
          return bits;
        });
        break;
      case PhysicalType::kInt128:
        HashFixed<__int128>(v, sel, n, h, [](const __int128& x) { return Bits128(&x); });
        break;
      case PhysicalType::kInterval:
        HashFixed<sql::Interval>(v, sel, n, h, [](const sql::Interval& x) { return Bits128(&x); });
        break;
      case PhysicalType::kString:
        HashFixed<StringRef>(v, sel, n, h, [](const StringRef& s) { return XXH3_64bits(s.data, s.size); });
        break;
    }
  }
  for (size_t i = 0; i < n; ++i) h[i] &= hash_mask_;
}

bool GroupKeyTable::RowEquals(const Vector* const* keys, size_t row, uint32_t id) const {
  for (size_t c = 0; c < columns_.size(); ++c) {
    const Column& col = columns_[c];
    const Vector& v = *keys[c];
    const bool null = v.IsNull(row);
    if (null != (col.nulls[id] != 0)) return false;
    if (null) continue;
    switch (col.physical) {
      case PhysicalType::kInt64:
      case PhysicalType::kDouble: {
        // Bytes, not values: equal as AppendKeyBytes' keys are (-0.0 and 0.0 differ).
        uint64_t a, b;
        std::memcpy(&a, v.raw_data() + row * 8, 8);
        std::memcpy(&b, col.values.data() + static_cast<size_t>(id) * 8, 8);
        if (a != b) return false;
        break;
      }
      case PhysicalType::kString:
        if (v.data<StringRef>()[row].view() != col.strings[id]) return false;
        break;
      default:
        if (std::memcmp(v.raw_data() + row * col.width, col.values.data() + static_cast<size_t>(id) * col.width,
                        col.width) != 0) {
          return false;
        }
        break;
    }
  }
  return true;
}

void GroupKeyTable::StoreKey(const Vector* const* keys, size_t row, uint32_t id) {
  for (size_t c = 0; c < columns_.size(); ++c) {
    Column& col = columns_[c];
    const Vector& v = *keys[c];
    if (col.nulls.size() <= id) {
      col.nulls.resize(id + 1);
      if (col.physical == PhysicalType::kString) {
        col.strings.resize(id + 1);
      } else {
        col.values.resize((id + 1) * col.width);
      }
    }
    const bool null = v.IsNull(row);
    col.nulls[id] = null ? 1 : 0;
    if (col.physical == PhysicalType::kString) {
      if (null) {
        col.strings[id].clear();
      } else {
        col.strings[id].assign(v.data<StringRef>()[row].view());
      }
    } else {
      uint8_t* dest = col.values.data() + static_cast<size_t>(id) * col.width;
      if (null) {
        std::memset(dest, 0, col.width);
      } else {
        std::memcpy(dest, v.raw_data() + row * col.width, col.width);
      }
    }
  }
}

uint32_t GroupKeyTable::Insert(const Vector* const* keys, size_t row, uint64_t hash) {
  uint32_t id;
  if (!free_ids_.empty()) {
    id = free_ids_.back();
    free_ids_.pop_back();
    hashes_[id] = hash;
  } else {
    id = static_cast<uint32_t>(hashes_.size());
    hashes_.push_back(hash);
    live_ids_.push_back(0);
  }
  live_ids_[id] = 1;
  StoreKey(keys, row, id);
  ++live_;
  return id;
}

void GroupKeyTable::Grow() {
  std::vector<uint64_t> old = std::move(slots_);
  slots_.assign(old.size() * 2, 0);
  const size_t mask = slots_.size() - 1;
  for (uint64_t s : old) {
    if (s == 0) continue;
    const uint32_t id = static_cast<uint32_t>(s) - 1;
    size_t i = Home(hashes_[id]);
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

template <typename Equals>
void GroupKeyTable::Probe(const Vector* const* keys, const uint32_t* sel, size_t n, uint32_t* ids,
                          std::vector<uint32_t>* created, Equals equals) {
  constexpr size_t kPrefetchDistance = 8;
  for (size_t i = 0; i < n; ++i) {
    if (i + kPrefetchDistance < n) __builtin_prefetch(&slots_[Home(row_hashes_[i + kPrefetchDistance])]);
    const size_t row = sel ? sel[i] : i;
    const uint64_t hash = row_hashes_[i];
    const uint64_t tag = hash >> 32 << 32;
    size_t mask = slots_.size() - 1;
    size_t s = Home(hash);
    for (;;) {
      const uint64_t slot = slots_[s];
      if (slot == 0) {
        if ((live_ + 1) * 2 > slots_.size()) {
          Grow();
          mask = slots_.size() - 1;
          s = Home(hash);
          while (slots_[s] != 0) s = (s + 1) & mask;
        }
        const uint32_t id = Insert(keys, row, hash);
        slots_[s] = tag | (uint64_t{id} + 1);
        ids[i] = id;
        created->push_back(id);
        break;
      }
      if ((slot & 0xffffffff00000000ULL) == tag) {
        const uint32_t id = static_cast<uint32_t>(slot) - 1;
        if (equals(row, id)) {
          ids[i] = id;
          break;
        }
      }
      s = (s + 1) & mask;
    }
  }
}

template <size_t K>
void GroupKeyTable::ProbeWords(const Vector* const* keys, const uint32_t* sel, size_t n, uint32_t* ids,
                               std::vector<uint32_t>* created) {
  // K columns of 8-byte values and no NULL among the rows: compare words in place.
  const uint64_t* in[K];
  for (size_t k = 0; k < K; ++k) in[k] = reinterpret_cast<const uint64_t*>(keys[k]->raw_data());
  Probe(keys, sel, n, ids, created, [&](size_t row, uint32_t id) {
    for (size_t k = 0; k < K; ++k) {
      const Column& col = columns_[k];
      uint64_t stored;
      std::memcpy(&stored, col.values.data() + static_cast<size_t>(id) * 8, 8);
      if (stored != in[k][row] || col.nulls[id] != 0) return false;
    }
    return true;
  });
}

void GroupKeyTable::FindOrInsert(const Vector* const* keys, const uint32_t* sel, size_t n, uint32_t* ids,
                                 std::vector<uint32_t>* created) {
  HashRows(keys, sel, n);
  bool words = !columns_.empty() && columns_.size() <= 2;
  for (size_t c = 0; c < columns_.size() && words; ++c) {
    const PhysicalType p = columns_[c].physical;
    words = (p == PhysicalType::kInt64 || p == PhysicalType::kDouble) && !keys[c]->has_nulls();
  }
  if (words && columns_.size() == 1) return ProbeWords<1>(keys, sel, n, ids, created);
  if (words && columns_.size() == 2) return ProbeWords<2>(keys, sel, n, ids, created);
  Probe(keys, sel, n, ids, created, [&](size_t row, uint32_t id) { return RowEquals(keys, row, id); });
}

bool GroupKeyTable::Find(const Vector* const* keys, size_t row, uint32_t* id) {
  const uint32_t one_row = static_cast<uint32_t>(row);
  HashRows(keys, &one_row, 1);
  const uint64_t hash = row_hashes_[0];
  const uint64_t tag = hash >> 32 << 32;
  const size_t mask = slots_.size() - 1;
  for (size_t s = Home(hash);; s = (s + 1) & mask) {
    const uint64_t slot = slots_[s];
    if (slot == 0) return false;
    if ((slot & 0xffffffff00000000ULL) == tag && RowEquals(keys, row, static_cast<uint32_t>(slot) - 1)) {
      *id = static_cast<uint32_t>(slot) - 1;
      return true;
    }
  }
}

void GroupKeyTable::Erase(uint32_t id) {
  assert(id < hashes_.size());
  const size_t mask = slots_.size() - 1;
  size_t hole = Home(hashes_[id]);
  while (static_cast<uint32_t>(slots_[hole]) != id + 1) {
    assert(slots_[hole] != 0);  // the id must be live
    hole = (hole + 1) & mask;
  }
  // Backward shift: move later entries of the probe run into the hole unless that would put
  // them before their home slot.
  for (size_t next = (hole + 1) & mask; slots_[next] != 0; next = (next + 1) & mask) {
    const size_t home = Home(hashes_[static_cast<uint32_t>(slots_[next]) - 1]);
    // The entry at `next` may move to `hole` if its home is not in (hole, next] (cyclically).
    const bool home_in_between = ((next - home) & mask) < ((next - hole) & mask);
    if (home_in_between) continue;
    slots_[hole] = slots_[next];
    hole = next;
  }
  slots_[hole] = 0;
  for (Column& col : columns_) {
    if (col.physical == PhysicalType::kString) std::string().swap(col.strings[id]);
  }
  free_ids_.push_back(id);
  live_ids_[id] = 0;
  --live_;
}

sql::Value GroupKeyTable::KeyValue(uint32_t id, size_t column) const {
  const Column& col = columns_[column];
  if (col.nulls[id] != 0) return sql::Value::Null(col.type);
  if (col.physical == PhysicalType::kString) {
    // VARCHAR values are plain strings (no precision or scale to carry).
    return sql::Value::Varchar(col.strings[id]);
  }
  const uint8_t* p = col.values.data() + static_cast<size_t>(id) * col.width;
  auto load = [p](auto v) {
    std::memcpy(&v, p, sizeof(v));
    return v;
  };
  switch (col.type.id) {
    case TypeId::kBoolean: return sql::Value::Boolean(load(uint8_t{}) != 0);
    case TypeId::kInt: return sql::Value::Int(load(int32_t{}));
    case TypeId::kDate: return sql::Value::Date(load(int32_t{}));
    case TypeId::kBigint: return sql::Value::Bigint(load(int64_t{}));
    case TypeId::kTimestamp: return sql::Value::Timestamp(load(int64_t{}));
    case TypeId::kTimestamptz: return sql::Value::Timestamptz(load(int64_t{}));
    case TypeId::kDouble: return sql::Value::Double(load(double{}));
    case TypeId::kDecimal:
      return sql::Value::Decimal(col.physical == PhysicalType::kInt64 ? load(int64_t{}) : load(__int128{}),
                                 col.type.precision, col.type.scale);
    case TypeId::kInterval: return sql::Value::IntervalValue(load(sql::Interval{}));
    case TypeId::kVarchar: break;
  }
  return sql::Value::Null(col.type);
}

}  // namespace sluice::exec
