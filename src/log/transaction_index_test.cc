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

TEST(TransactionIndexTest, MarkerNotYetVisibleKeepsTheTransactionUnstable) {
  TransactionIndex index;
  index.OnData(1, Offset(10));
  index.OnMarker(1, ControlType::kCommit, Offset(12));
  EXPECT_EQ(index.LastStableOffset(Offset(12)), Offset(10));  // the marker is not visible yet
  EXPECT_EQ(index.LastStableOffset(Offset(13)), Offset(13));
  EXPECT_EQ(index.LastStableOffset(Offset(13)), Offset(13));
}

// The partition keeps its own index: built lazily from the batches written, then kept up to
// date by appends, and rebuilt the same after a reopen. Readers skip aborted data.
TEST(TransactionIndexTest, PartitionCommittedViewAndReadCommittedRecords) {
  TempDir dir;
  LogOptions options;
  options.dir = dir.path();
  options.fsync = FsyncPolicy::kAlways;
  {
    auto log = Log::Open(options);
    ASSERT_TRUE(log.ok());
    TopicConfig config;
    config.name = "t";
    ASSERT_TRUE((*log)->CreateTopic(config).ok());
    Partition& p = (*(*log)->GetTopic("t"))->partition(PartitionId(0));
    ASSERT_TRUE(AppendSync(p, TxnBatch(7, 2)).ok());  // 0-1
    // Built here, at the first call, from what was written.
    auto view = p.Committed(Offset(0));
    ASSERT_TRUE(view.ok());
    EXPECT_EQ(view->last_stable_offset, Offset(0));
    ASSERT_TRUE(AppendSync(p, TxnBatch(8, 1)).ok());                                                 // 2
    ASSERT_TRUE(AppendSync(p, BuildControlBatch(7, 0, ControlType::kAbort, TimestampMs(1))).ok());   // 3
    view = p.Committed(Offset(0));
    ASSERT_TRUE(view.ok());
    EXPECT_EQ(view->last_stable_offset, Offset(2));  // producer 8 is open
    ASSERT_TRUE(AppendSync(p, BuildControlBatch(8, 0, ControlType::kCommit, TimestampMs(1))).ok());  // 4
    view = p.Committed(Offset(0));
    ASSERT_TRUE(view.ok());
    EXPECT_EQ(view->last_stable_offset, Offset(5));
    ASSERT_EQ(view->aborted.size(), 1u);
    EXPECT_EQ(view->aborted[0].producer_id, 7);
    auto open = p.OpenTransactions();
    ASSERT_TRUE(open.ok());
    EXPECT_TRUE(open->empty());
    // read_committed: only producer 8's record is left.
    auto read = p.Read(Offset(0), 1 << 20);
    ASSERT_TRUE(read.ok());
    RecordReader reader(read->bytes, Offset(0), view->aborted);
    Record r;
    std::vector<int64_t> offsets;
    while (reader.Next(&r)) offsets.push_back(r.offset.value());
    EXPECT_TRUE(reader.status().ok());
    EXPECT_EQ(offsets, std::vector<int64_t>{2});
    ASSERT_TRUE(AppendSync(p, TxnBatch(9, 1)).ok());  // 5, left open
    ASSERT_TRUE((*log)->Close().ok());
  }
  auto log = Log::Open(options);
  ASSERT_TRUE(log.ok());
  Partition& p = (*(*log)->GetTopic("t"))->partition(PartitionId(0));
  auto view = p.Committed(Offset(0));
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->last_stable_offset, Offset(5));
  ASSERT_EQ(view->aborted.size(), 1u);
  auto open = p.OpenTransactions();
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ((*open)[0], std::make_pair(int64_t{9}, Offset(5)));
  ASSERT_TRUE((*log)->Close().ok());
}

TEST(TransactionIndexTest, SetProducerFieldsKeepsTheBatchValid) {
  RecordBatchBuilder builder;
  builder.Add(TimestampMs(1), std::nullopt, std::string_view("a"));
  builder.Add(TimestampMs(2), std::nullopt, std::string_view("b"));
  EncodedBatch batch = builder.Finish();
  SetProducerFields(&batch, 77, 3, 40, /*transactional=*/true);
  ASSERT_TRUE(VerifyBatchCrc(batch.bytes));
  Result<BatchHeader> h = DecodeBatchHeader(batch.bytes);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->is_transactional());
  EXPECT_FALSE(h->is_control());
  EXPECT_EQ(h->producer_id, 77);
  EXPECT_EQ(h->producer_epoch, 3);
  EXPECT_EQ(h->base_sequence, 40);
  h->base_offset = Offset(100);
  const AbortedTransaction aborted[] = {{77, Offset(90), Offset(110)}};
  EXPECT_TRUE(IsAborted(*h, aborted));
  const AbortedTransaction other[] = {{78, Offset(90), Offset(110)}, {77, Offset(101), Offset(110)}};
  EXPECT_FALSE(IsAborted(*h, other));
}

}  // namespace
}  // namespace sluice::log
