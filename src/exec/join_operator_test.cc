#include "exec/join_operator.h"

#include <algorithm>
#include <array>
#include <map>

#include <gtest/gtest.h>

namespace sluice::exec {
namespace {

// A symmetric join whose every row has the same key (a window start, say), so that one bucket
// holds thousands of rows: duplicates must share an entry and retractions must find theirs,
// past the size at which the bucket switches from a scan to its index.
class JoinBucketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HashJoinOperator::Spec spec;
    spec.left_types = {DataType::Bigint(), DataType::Bigint()};
    spec.right_types = {DataType::Bigint(), DataType::Bigint()};
    spec.left_keys.push_back(sql::BoundExpr::Column(0, DataType::Bigint()));
    spec.right_keys.push_back(sql::BoundExpr::Column(0, DataType::Bigint()));
    auto join = HashJoinOperator::Create(std::move(spec), 0);
    ASSERT_TRUE(join.ok()) << join.status().ToString();
    join_ = std::move(join).value();
    sink_ = std::make_unique<CollectSink>(std::vector<DataType>(4, DataType::Bigint()));
    join_->set_downstream(sink_.get());
  }

  // Pushes rows (key, value, weight) into one side, in chunks of 100.
  void PushRows(int side, const std::vector<std::array<int64_t, 3>>& rows) {
    DataChunk chunk(std::vector<DataType>(2, DataType::Bigint()), 100);
    for (const auto& [key, value, weight] : rows) {
      const size_t r = chunk.size();
      chunk.column(0).data<int64_t>()[r] = key;
      chunk.column(1).data<int64_t>()[r] = value;
      chunk.weights().resize(r);
      chunk.weights().push_back(static_cast<int8_t>(weight));
      chunk.set_size(r + 1);
      if (chunk.size() == chunk.capacity()) {
        ASSERT_TRUE(join_->port(side)->Push(chunk).ok());
        chunk.Reset();
      }
    }
    if (chunk.size() > 0) ASSERT_TRUE(join_->port(side)->Push(chunk).ok());
  }

  // The joined rows as (left value, right value) -> multiplicity.
  std::map<std::pair<int64_t, int64_t>, int64_t> Result() {
    std::map<std::pair<int64_t, int64_t>, int64_t> out;
    for (const auto& row : sink_->Rows()) ++out[{row[1].int64(), row[3].int64()}];
    return out;
  }

  std::unique_ptr<HashJoinOperator> join_;
  std::unique_ptr<CollectSink> sink_;
};

TEST_F(JoinBucketTest, OneKeyWithThousandsOfRowsDuplicatesAndRetractions) {
  // Left: values 0..1999 once, values 0..99 a second time (duplicates), then retract every
  // third value once.
  std::vector<std::array<int64_t, 3>> left;
  for (int64_t v = 0; v < 2000; ++v) left.push_back({7, v, 1});
  for (int64_t v = 0; v < 100; ++v) left.push_back({7, v, 1});
  for (int64_t v = 0; v < 2000; v += 3) left.push_back({7, v, -1});
  PushRows(0, left);
  int64_t want_left = 0;
  std::map<int64_t, int64_t> count;
  for (int64_t v = 0; v < 2000; ++v) {
    count[v] = 1 + (v < 100 ? 1 : 0) - (v % 3 == 0 ? 1 : 0);
    want_left += count[v] > 0 ? 1 : 0;
  }
  EXPECT_EQ(join_->stored_rows(0), static_cast<size_t>(want_left));

  // Right: two rows on the key, one on another key.
  PushRows(1, {{7, -1, 1}, {7, -2, 1}, {8, -3, 1}});
  auto result = Result();
  for (int64_t v = 0; v < 2000; ++v) {
    for (int64_t w : {-1, -2}) {
      auto it = result.find({v, w});
      const int64_t got = it == result.end() ? 0 : it->second;
      ASSERT_EQ(got, count[v]) << "left " << v << " right " << w;
    }
  }
  EXPECT_FALSE(result.count({0, -3}));

  // Retract every left row that is left: the bucket empties, the joined rows go.
  std::vector<std::array<int64_t, 3>> retract;
  for (auto [v, c] : count) {
    for (int64_t i = 0; i < c; ++i) retract.push_back({7, v, -1});
  }
  PushRows(0, retract);
  EXPECT_EQ(join_->stored_rows(0), 0u);
  EXPECT_TRUE(Result().empty());
}

}  // namespace
}  // namespace sluice::exec
