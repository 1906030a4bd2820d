#include "log/transaction_index.h"

#include <gtest/gtest.h>

#include "common/crc32c.h"
#include "common/varint.h"
#include "log/log.h"
#include "log/testing/log_test_util.h"
#include "log/testing/temp_dir.h"

namespace sluice::log {
namespace {

using testing::AppendSync;
using testing::TempDir;

// A transactional data batch of `records` records from producer `pid`.
EncodedBatch TxnBatch(int64_t pid, int records) {
  RecordBatchBuilder builder;
  for (int i = 0; i < records; ++i) builder.Add(TimestampMs(1000 + i), std::nullopt, std::string_view("v"));
  EncodedBatch batch = builder.Finish();
  char* h = batch.bytes.data();
  StoreBigEndian16(h + kBatchAttributesOffset, 0x10);  // transactional
  StoreBigEndian64(h + 43, static_cast<uint64_t>(pid));
  StoreBigEndian16(h + 51, 0);
  StoreBigEndian32(h + kBatchCrcOffset,
                   Crc32c(std::string_view(batch.bytes).substr(kBatchAttributesOffset)));
  return batch;
}

TEST(TransactionIndexTest, ControlBatchesRoundTrip) {
  EncodedBatch commit = BuildControlBatch(42, 3, ControlType::kCommit, TimestampMs(5));
  ASSERT_TRUE(VerifyBatchCrc(commit.bytes));
  Result<BatchHeader> h = DecodeBatchHeader(commit.bytes);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->is_control());
  EXPECT_TRUE(h->is_transactional());
  EXPECT_EQ(h->producer_id, 42);
  EXPECT_EQ(h->producer_epoch, 3);
  EXPECT_EQ(DecodeControlBatch(commit.bytes), ControlType::kCommit);
  EXPECT_EQ(DecodeControlBatch(BuildControlBatch(1, 0, ControlType::kAbort, TimestampMs(5)).bytes),
            ControlType::kAbort);
  EXPECT_FALSE(DecodeControlBatch(TxnBatch(1, 1).bytes).has_value());
  // Readers of records skip markers.
  RecordReader reader(commit.bytes);
  Record r;
  EXPECT_FALSE(reader.Next(&r));
  EXPECT_TRUE(reader.status().ok());
}

TEST(TransactionIndexTest, LastStableOffsetAndAbortedRanges) {
  TransactionIndex index;
  EXPECT_EQ(index.LastStableOffset(Offset(10)), Offset(10));
  EXPECT_TRUE(index.OnData(1, Offset(10)));
  EXPECT_FALSE(index.OnData(1, Offset(12)));  // already open
  EXPECT_TRUE(index.OnData(2, Offset(11)));
  EXPECT_EQ(index.LastStableOffset(Offset(20)), Offset(10));
  index.OnMarker(1, ControlType::kAbort, Offset(13));
  EXPECT_EQ(index.LastStableOffset(Offset(20)), Offset(11));
  index.OnMarker(2, ControlType::kCommit, Offset(14));
  EXPECT_EQ(index.LastStableOffset(Offset(20)), Offset(20));
  ASSERT_EQ(index.AbortedIn(Offset(0), Offset(20)).size(), 1u);
  EXPECT_EQ(index.AbortedIn(Offset(0), Offset(20))[0].first_offset, Offset(10));
  EXPECT_TRUE(index.AbortedIn(Offset(14), Offset(20)).empty());  // ended before the range
  EXPECT_TRUE(index.AbortedIn(Offset(0), Offset(10)).empty());   // starts after it
}

TEST(TransactionIndexTest, RebuildsFromTheLog) {
  TempDir dir;
  LogOptions options;
  options.dir = dir.path();
  options.fsync = FsyncPolicy::kNever;
  auto log = Log::Open(options);
  ASSERT_TRUE(log.ok());
  TopicConfig config;
  config.name = "t";
  ASSERT_TRUE((*log)->CreateTopic(config).ok());
  Partition& p = (*(*log)->GetTopic("t"))->partition(PartitionId(0));
  ASSERT_TRUE(AppendSync(p, TxnBatch(7, 2)).ok());                                         // 0-1
  ASSERT_TRUE(AppendSync(p, TxnBatch(8, 1)).ok());                                         // 2
  ASSERT_TRUE(AppendSync(p, BuildControlBatch(7, 0, ControlType::kAbort, TimestampMs(1))).ok());  // 3
  ASSERT_TRUE(AppendSync(p, TxnBatch(9, 1)).ok());                                         // 4
  ASSERT_TRUE(AppendSync(p, BuildControlBatch(9, 0, ControlType::kCommit, TimestampMs(1))).ok());  // 5
  Result<TransactionIndex> index = TransactionIndex::Rebuild(p);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_EQ(index->LastStableOffset(Offset(6)), Offset(2));  // producer 8 is still open
  EXPECT_EQ(index->OpenProducers(), std::vector<int64_t>{8});
  auto aborted = index->AbortedIn(Offset(0), Offset(6));
  ASSERT_EQ(aborted.size(), 1u);
  EXPECT_EQ(aborted[0].producer_id, 7);
  EXPECT_EQ(aborted[0].first_offset, Offset(0));
  EXPECT_EQ(aborted[0].last_offset, Offset(3));
  ASSERT_TRUE((*log)->Close().ok());
}

}  // namespace
}  // namespace sluice::log
