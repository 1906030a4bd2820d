#include "log/producer_state.h"

#include <gtest/gtest.h>

namespace sluice::log {
namespace {

using Verdict = ProducerStateTable::Verdict;

TEST(ProducerStateTableTest, SequencesAdvanceAndDuplicatesAreRecognised) {
  ProducerStateTable t;
  EXPECT_EQ(t.Check(7, 0, 0, 3).verdict, Verdict::kAppend);
  t.Record(7, 0, 0, 3, Offset(100));
  EXPECT_EQ(t.Check(7, 0, 3, 2).verdict, Verdict::kAppend);
  t.Record(7, 0, 3, 2, Offset(103));
  // A retry of either batch is a duplicate, answered with its first offset.
  auto dup = t.Check(7, 0, 0, 3);
  EXPECT_EQ(dup.verdict, Verdict::kDuplicate);
  EXPECT_EQ(dup.duplicate_of, Offset(100));
  EXPECT_EQ(t.Check(7, 0, 3, 2).duplicate_of, Offset(103));
  // A gap and a reordering are refused.
  EXPECT_EQ(t.Check(7, 0, 6, 1).verdict, Verdict::kOutOfOrder);
  EXPECT_EQ(t.Check(7, 0, 1, 1).verdict, Verdict::kOutOfOrder);
  EXPECT_EQ(t.max_producer_id(), 7);
}

TEST(ProducerStateTableTest, EpochsFenceOlderProducers) {
  ProducerStateTable t;
  t.Record(1, 2, 0, 1, Offset(0));
  EXPECT_EQ(t.Check(1, 1, 1, 1).verdict, Verdict::kFencedEpoch);
  EXPECT_EQ(t.Check(1, 3, 5, 1).verdict, Verdict::kOutOfOrder);  // a new epoch starts at 0
  EXPECT_EQ(t.Check(1, 3, 0, 1).verdict, Verdict::kAppend);
  t.Record(1, 3, 0, 1, Offset(1));
  EXPECT_EQ(t.Check(1, 2, 1, 1).verdict, Verdict::kFencedEpoch);
}

TEST(ProducerStateTableTest, UnknownProducersStartAtZeroAndOnlyFiveBatchesAreKept) {
  ProducerStateTable t;
  EXPECT_EQ(t.Check(9, 0, 4, 1).verdict, Verdict::kOutOfOrder);
  for (int i = 0; i < 7; ++i) t.Record(9, 0, i, 1, Offset(i));
  EXPECT_EQ(t.Check(9, 0, 6, 1).verdict, Verdict::kDuplicate);
  EXPECT_EQ(t.Check(9, 0, 2, 1).verdict, Verdict::kDuplicate);
  EXPECT_EQ(t.Check(9, 0, 1, 1).verdict, Verdict::kOutOfOrder);  // too old to be recognised
  EXPECT_EQ(t.Check(9, 0, 7, 1).verdict, Verdict::kAppend);
}

TEST(ProducerStateTableTest, SequenceWrapsAtInt32Max) {
  ProducerStateTable t;
  t.Record(1, 0, 0, 1, Offset(0));
  t.Record(1, 0, 1, INT32_MAX - 1, Offset(1));  // last sequence INT32_MAX - 1
  EXPECT_EQ(t.Check(1, 0, INT32_MAX, 2).verdict, Verdict::kAppend);
  t.Record(1, 0, INT32_MAX, 2, Offset(5));  // INT32_MAX, 0
  EXPECT_EQ(t.Check(1, 0, 1, 1).verdict, Verdict::kAppend);
}

}  // namespace
}  // namespace sluice::log
