#include "exec/group_key_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <tuple>

#include "exec/vector_value.h"

namespace sluice::exec {
namespace {

using sql::Value;

// Key columns built from Values, one chunk per batch.
struct Batch {
  explicit Batch(const std::vector<DataType>& types, size_t capacity = 2048) : chunk(types, capacity) {
    for (size_t c = 0; c < types.size(); ++c) columns.push_back(&chunk.column(c));
  }
  void Add(const std::vector<Value>& row) {
    const size_t r = chunk.size();
    for (size_t c = 0; c < row.size(); ++c) SetValue(&chunk.column(c), r, row[c], &chunk.arena());
    chunk.set_size(r + 1);
  }
  DataChunk chunk;
  std::vector<const Vector*> columns;
};

std::vector<uint32_t> Probe(GroupKeyTable& table, Batch& batch, std::vector<uint32_t>* created = nullptr) {
  std::vector<uint32_t> ids(batch.chunk.size());
  std::vector<uint32_t> made;
  table.FindOrInsert(batch.columns.data(), nullptr, ids.size(), ids.data(), created ? created : &made);
  return ids;
}

TEST(GroupKeyTableTest, EqualKeysShareAGroup) {
  GroupKeyTable table({DataType::Bigint()});
  Batch b({DataType::Bigint()});
  for (int64_t k : {5, 7, 5, -1, 7, 5}) b.Add({Value::Bigint(k)});
  std::vector<uint32_t> created;
  std::vector<uint32_t> ids = Probe(table, b, &created);
  EXPECT_EQ(ids[0], ids[2]);
  EXPECT_EQ(ids[0], ids[5]);
  EXPECT_EQ(ids[1], ids[4]);
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_NE(ids[0], ids[3]);
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(created, (std::vector<uint32_t>{ids[0], ids[1], ids[3]}));
  // A second batch finds the same groups and creates none.
  std::vector<uint32_t> again = Probe(table, b, &created);
  EXPECT_EQ(again, ids);
  EXPECT_EQ(created.size(), 3u);
  EXPECT_EQ(table.KeyValue(ids[3], 0), Value::Bigint(-1));
}

TEST(GroupKeyTableTest, NullEqualsNullAndDiffersFromZero) {
  GroupKeyTable table({DataType::Bigint(), DataType::Varchar()});
  Batch b({DataType::Bigint(), DataType::Varchar()});
  b.Add({Value::Null(DataType::Bigint()), Value::Varchar("a")});
  b.Add({Value::Bigint(0), Value::Varchar("a")});
  b.Add({Value::Null(DataType::Bigint()), Value::Varchar("a")});
  b.Add({Value::Bigint(0), Value::Null(DataType::Varchar())});
  b.Add({Value::Bigint(0), Value::Varchar("")});
  b.Add({Value::Bigint(0), Value::Null(DataType::Varchar())});
  std::vector<uint32_t> ids = Probe(table, b);
  EXPECT_EQ(ids[0], ids[2]);
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_EQ(ids[3], ids[5]);
  EXPECT_NE(ids[3], ids[4]);  // NULL is not the empty string
  EXPECT_EQ(table.size(), 4u);
  EXPECT_TRUE(table.KeyValue(ids[0], 0).is_null());
  EXPECT_EQ(table.KeyValue(ids[0], 1), Value::Varchar("a"));
  EXPECT_TRUE(table.KeyValue(ids[3], 1).is_null());
}

TEST(GroupKeyTableTest, NullGroupDiffersFromZeroInABatchWithoutNulls) {
  // Batches without NULLs in 8-byte key columns take a word-compare path; a group whose key is
  // NULL (stored as zero bytes) must still not match a 0.
  GroupKeyTable table({DataType::Bigint(), DataType::Timestamp()});
  Batch with_null({DataType::Bigint(), DataType::Timestamp()});
  with_null.Add({Value::Null(DataType::Bigint()), Value::Timestamp(0)});
  std::vector<uint32_t> null_id = Probe(table, with_null);
  Batch zeros({DataType::Bigint(), DataType::Timestamp()});
  zeros.Add({Value::Bigint(0), Value::Timestamp(0)});
  zeros.Add({Value::Bigint(0), Value::Timestamp(0)});
  std::vector<uint32_t> zero_ids = Probe(table, zeros);
  EXPECT_NE(zero_ids[0], null_id[0]);
  EXPECT_EQ(zero_ids[0], zero_ids[1]);
  EXPECT_EQ(table.size(), 2u);
  // And the NULL group is found again by a batch with NULLs.
  EXPECT_EQ(Probe(table, with_null), null_id);
}

TEST(GroupKeyTableTest, StringsCompareByContentNotPointer) {
  GroupKeyTable table({DataType::Varchar()});
  std::vector<uint32_t> first;
  for (int round = 0; round < 2; ++round) {
    // A fresh chunk each round: the bytes live elsewhere, the keys are the same.
    Batch b({DataType::Varchar()});
    for (const char* s : {"apple", "google", "apple", "a longer string than sixteen bytes", "google"}) {
      b.Add({Value::Varchar(s)});
    }
    std::vector<uint32_t> ids = Probe(table, b);
    EXPECT_EQ(ids[0], ids[2]);
    EXPECT_EQ(ids[1], ids[4]);
    if (round == 0) first = ids;
    EXPECT_EQ(ids, first);
  }
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table.KeyValue(first[3], 0), Value::Varchar("a longer string than sixteen bytes"));
}

TEST(GroupKeyTableTest, EveryFixedWidthTypeRoundTrips) {
  const std::vector<DataType> types = {DataType::Boolean(),   DataType::Int(),           DataType::Date(),
                                       DataType::Timestamp(), DataType::Decimal(38, 2),  DataType::Decimal(10, 3),
                                       DataType::Double(),    DataType::Interval()};
  GroupKeyTable table(types);
  Batch b(types);
  const std::vector<Value> row = {Value::Boolean(true),  Value::Int(-3),
                                  Value::Date(19000),    Value::Timestamp(1'767'225'600'000'000),
                                  Value::Decimal(static_cast<__int128>(1) << 100, 38, 2),
                                  Value::Decimal(-12345, 10, 3),
                                  Value::Double(2.5),    Value::IntervalValue({1, 2, 3})};
  b.Add(row);
  std::vector<Value> other = row;
  other[4] = Value::Decimal((static_cast<__int128>(1) << 100) + 1, 38, 2);  // differs in the low word only
  b.Add(other);
  b.Add(row);
  std::vector<uint32_t> ids = Probe(table, b);
  EXPECT_EQ(ids[0], ids[2]);
  EXPECT_NE(ids[0], ids[1]);
  for (size_t c = 0; c < types.size(); ++c) EXPECT_EQ(table.KeyValue(ids[0], c), row[c]) << c;
  EXPECT_EQ(table.KeyValue(ids[1], 4), other[4]);
}

TEST(GroupKeyTableTest, DoublesCompareByBits) {
  // As GROUP BY keys did before (bytes of the value): -0.0 and 0.0 are different groups.
  GroupKeyTable table({DataType::Double()});
  Batch b({DataType::Double()});
  for (double d : {0.0, -0.0, 0.0, 1.5}) b.Add({Value::Double(d)});
  std::vector<uint32_t> ids = Probe(table, b);
  EXPECT_EQ(ids[0], ids[2]);
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_EQ(table.size(), 3u);
}

TEST(GroupKeyTableTest, NoKeyColumnsIsOneGroup) {
  GroupKeyTable table({});
  std::vector<uint32_t> ids(5), created;
  table.FindOrInsert(nullptr, nullptr, ids.size(), ids.data(), &created);
  EXPECT_EQ(ids, std::vector<uint32_t>(5, 0));
  EXPECT_EQ(created, std::vector<uint32_t>{0});
  EXPECT_EQ(table.size(), 1u);
}

TEST(GroupKeyTableTest, SelectionPicksRows) {
  GroupKeyTable table({DataType::Int()});
  Batch b({DataType::Int()});
  for (int32_t k : {1, 2, 3, 1}) b.Add({Value::Int(k)});
  const uint32_t sel[] = {3, 1};
  std::vector<uint32_t> ids(2), created;
  table.FindOrInsert(b.columns.data(), sel, 2, ids.data(), &created);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.KeyValue(ids[0], 0), Value::Int(1));
  EXPECT_EQ(table.KeyValue(ids[1], 0), Value::Int(2));
  uint32_t id = 99;
  EXPECT_TRUE(table.Find(b.columns.data(), 0, &id));
  EXPECT_EQ(id, ids[0]);
  EXPECT_FALSE(table.Find(b.columns.data(), 2, &id));
}

TEST(GroupKeyTableTest, AllHashesCollide) {
  // hash_mask 0: every key hashes the same, so every probe walks one long run and only the
  // key comparison tells groups apart.
  GroupKeyTable table({DataType::Bigint(), DataType::Varchar()}, /*hash_mask=*/0);
  Batch b({DataType::Bigint(), DataType::Varchar()});
  for (int i = 0; i < 300; ++i) b.Add({Value::Bigint(i % 100), Value::Varchar((i / 100) % 2 ? "x" : "y")});
  std::vector<uint32_t> ids = Probe(table, b);
  EXPECT_EQ(table.size(), 200u);
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(ids[static_cast<size_t>(i)], ids[static_cast<size_t>(i % 200)]) << i;
  }
  // Erase half; the rest are still found, the erased ones are not.
  for (int i = 0; i < 200; i += 2) table.Erase(ids[static_cast<size_t>(i)]);
  for (int i = 0; i < 200; ++i) {
    uint32_t id;
    ASSERT_EQ(table.Find(b.columns.data(), static_cast<size_t>(i), &id), i % 2 == 1) << i;
    if (i % 2 == 1) EXPECT_EQ(id, ids[static_cast<size_t>(i)]);
  }
}

TEST(GroupKeyTableTest, GrowsAndKeepsEveryKey) {
  GroupKeyTable table({DataType::Bigint(), DataType::Timestamp()});
  const size_t initial_slots = table.slot_count();
  std::vector<uint32_t> all;
  for (int batch = 0; batch < 100; ++batch) {
    Batch b({DataType::Bigint(), DataType::Timestamp()});
    for (int i = 0; i < 2000; ++i) {
      const int64_t k = batch * 2000 + i;
      b.Add({Value::Bigint(k / 10), Value::Timestamp(k % 10)});
    }
    std::vector<uint32_t> ids = Probe(table, b);
    all.insert(all.end(), ids.begin(), ids.end());
  }
  EXPECT_EQ(table.size(), 200'000u);
  EXPECT_GE(table.slot_count(), 2 * table.size());
  EXPECT_GT(table.slot_count(), initial_slots);
  // Dense ids: each id once, all below the limit.
  std::vector<bool> seen(table.id_limit());
  for (uint32_t id : all) {
    ASSERT_LT(id, table.id_limit());
    EXPECT_FALSE(seen[id]);
    seen[id] = true;
  }
  EXPECT_EQ(table.KeyValue(all[123'457], 0), Value::Bigint(12'345));
  EXPECT_EQ(table.KeyValue(all[123'457], 1), Value::Timestamp(7));
}

TEST(GroupKeyTableTest, ErasedIdsAreReused) {
  GroupKeyTable table({DataType::Bigint()});
  Batch b({DataType::Bigint()});
  for (int64_t k : {1, 2, 3}) b.Add({Value::Bigint(k)});
  std::vector<uint32_t> ids = Probe(table, b);
  table.Erase(ids[1]);
  EXPECT_EQ(table.size(), 2u);
  Batch c({DataType::Bigint()});
  c.Add({Value::Bigint(4)});
  std::vector<uint32_t> created;
  std::vector<uint32_t> id4 = Probe(table, c, &created);
  EXPECT_EQ(id4[0], ids[1]);  // the freed id comes back, reported as created
  EXPECT_EQ(created, std::vector<uint32_t>{ids[1]});
  EXPECT_EQ(table.KeyValue(id4[0], 0), Value::Bigint(4));
  EXPECT_EQ(table.id_limit(), 3u);
}

// Random inserts and erases against std::map, with few hash bits so probe runs are long and
// erases shift entries across them (and around the end of the slot array).
TEST(GroupKeyTableTest, RandomInsertEraseMatchesMap) {
  for (uint64_t mask : {~0ull, 0x3full, 0x7ull}) {
    GroupKeyTable table({DataType::Int(), DataType::Varchar()}, mask);
    std::map<std::tuple<bool, int32_t, std::string>, uint32_t> expected;  // (null, int, string) -> id
    std::mt19937 rng(7);
    for (int step = 0; step < 300; ++step) {
      Batch b({DataType::Int(), DataType::Varchar()});
      std::vector<std::tuple<bool, int32_t, std::string>> keys;
      for (int i = 0; i < 16; ++i) {
        const bool null = rng() % 10 == 0;
        const int32_t k = static_cast<int32_t>(rng() % 200);
        const std::string s(rng() % 3, static_cast<char>('a' + k % 3));
        b.Add({null ? Value::Null(DataType::Int()) : Value::Int(k), Value::Varchar(s)});
        keys.emplace_back(null, null ? 0 : k, s);
      }
      std::vector<uint32_t> ids = Probe(table, b);
      for (size_t i = 0; i < keys.size(); ++i) {
        auto [it, inserted] = expected.try_emplace(keys[i], ids[i]);
        ASSERT_EQ(it->second, ids[i]) << "step " << step;
      }
      ASSERT_EQ(table.size(), expected.size());
      // Erase a few random groups.
      for (int e = 0; e < 6 && !expected.empty(); ++e) {
        auto it = expected.begin();
        std::advance(it, static_cast<long>(rng() % expected.size()));
        table.Erase(it->second);
        expected.erase(it);
      }
      ASSERT_EQ(table.size(), expected.size());
    }
    // Every remaining key is still found under its id.
    for (const auto& [key, id] : expected) {
      Batch b({DataType::Int(), DataType::Varchar()});
      b.Add({std::get<0>(key) ? Value::Null(DataType::Int()) : Value::Int(std::get<1>(key)),
             Value::Varchar(std::get<2>(key))});
      uint32_t found;
      ASSERT_TRUE(table.Find(b.columns.data(), 0, &found));
      EXPECT_EQ(found, id);
    }
  }
}

}  // namespace
}  // namespace sluice::exec
