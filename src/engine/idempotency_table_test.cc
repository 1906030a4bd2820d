#include "engine/idempotency_table.h"

#include <gtest/gtest.h>

namespace sluice::engine {
namespace {

using Append = IdempotencyTable::Append;

TEST(IdempotencyTableTest, FirstUseIsUnseenAndClaims) {
  IdempotencyTable table(60'000);
  auto known = table.Begin("t", "k", 1, TimestampMs(1000));
  ASSERT_TRUE(known.ok());
  EXPECT_FALSE(known->seen);
  auto again = table.Begin("t", "k", 1, TimestampMs(1000));
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(again.status().message(), "request with this Idempotency-Key is in progress");
}

TEST(IdempotencyTableTest, FinishedKeyReportsAppends) {
  IdempotencyTable table(60'000);
  ASSERT_TRUE(table.Begin("t", "k", 1, TimestampMs(1000)).ok());
  table.Finish("t", "k", {Append{PartitionId(2), Offset(10), 3}},
               {Append{PartitionId(0), Offset(5), 1}}, TimestampMs(1001));
  auto known = table.Begin("t", "k", 1, TimestampMs(1002));
  ASSERT_TRUE(known.ok());
  EXPECT_TRUE(known->seen);
  ASSERT_EQ(known->topic.size(), 1u);
  EXPECT_EQ(known->topic[0].partition, PartitionId(2));
  EXPECT_EQ(known->topic[0].base_offset, Offset(10));
  ASSERT_EQ(known->dlq.size(), 1u);
  // Keys are per topic.
  EXPECT_FALSE(table.Begin("u", "k", 1, TimestampMs(1002))->seen);
}

TEST(IdempotencyTableTest, DifferentBodyWithSameKeyIsRefused) {
  IdempotencyTable table(60'000);
  ASSERT_TRUE(table.Begin("t", "k", 1, TimestampMs(1000)).ok());
  table.Finish("t", "k", {}, {}, TimestampMs(1000));
  EXPECT_EQ(table.Begin("t", "k", 2, TimestampMs(1000)).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST(IdempotencyTableTest, RecoveredEntriesAcceptAnyHashAndMerge) {
  IdempotencyTable table(60'000);
  table.RecoverTopicAppend("t", "k", Append{PartitionId(0), Offset(0), 2}, TimestampMs(1000));
  table.RecoverTopicAppend("t", "k", Append{PartitionId(1), Offset(7), 2}, TimestampMs(1000));
  table.RecoverDlqAppend("t", "k", Append{PartitionId(0), Offset(3), 1}, TimestampMs(1000));
  auto known = table.Begin("t", "k", 99, TimestampMs(2000));
  ASSERT_TRUE(known.ok());
  EXPECT_TRUE(known->seen);
  EXPECT_EQ(known->topic.size(), 2u);
  EXPECT_EQ(known->dlq.size(), 1u);
}

TEST(IdempotencyTableTest, ExpiresOldEntriesButNotInFlightOnes) {
  IdempotencyTable table(10'000);
  ASSERT_TRUE(table.Begin("t", "done", 1, TimestampMs(1000)).ok());
  table.Finish("t", "done", {}, {}, TimestampMs(1000));
  ASSERT_TRUE(table.Begin("t", "flying", 1, TimestampMs(1000)).ok());
  EXPECT_EQ(table.size(), 2u);
  table.Expire(TimestampMs(20'000));
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.Begin("t", "flying", 1, TimestampMs(20'000)).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_FALSE(table.Begin("t", "done", 1, TimestampMs(20'000))->seen);
}

TEST(IdempotencyTableTest, ForgetTopic) {
  IdempotencyTable table(10'000);
  table.RecoverTopicAppend("t", "a", Append{PartitionId(0), Offset(0), 1}, TimestampMs(1));
  table.RecoverTopicAppend("t2", "a", Append{PartitionId(0), Offset(0), 1}, TimestampMs(1));
  table.ForgetTopic("t");
  EXPECT_EQ(table.size(), 1u);
}

}  // namespace
}  // namespace sluice::engine
