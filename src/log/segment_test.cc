#include "log/segment.h"

#include <gtest/gtest.h>

#include "log/testing/log_test_util.h"
#include "log/testing/temp_dir.h"

namespace sluice::log {
namespace {

using testing::MakeBatch;
using testing::TempDir;

// Writes `batches` batches of `per_batch` records at ts = 1000 + 10 * batch index.
std::shared_ptr<Segment> Fill(FileSystem* fs, const std::string& dir, int batches, int per_batch) {
  auto segment = Segment::Create(fs, dir, Offset(100), /*index_interval_bytes=*/1);
  EXPECT_TRUE(segment.ok());
  Offset next(100);
  for (int b = 0; b < batches; ++b) {
    EncodedBatch batch = MakeBatch(per_batch, TimestampMs(1000 + 10 * b));
    SetBaseOffset(&batch.bytes, next);
    const uint64_t pos = (*segment)->size();
    EXPECT_TRUE((*segment)->Write(batch.bytes).ok());
    (*segment)->Commit(*DecodeBatchHeader(batch.bytes), pos);
    next += per_batch;
  }
  return *segment;
}

TEST(SegmentTest, IndexesLookUpOffsetsAndTimestamps) {
  TempDir dir;
  auto segment = Fill(FileSystem::Default(), dir.path(), 10, 5);
  EXPECT_EQ(segment->next_offset(), Offset(150));
  EXPECT_EQ(segment->max_timestamp(), TimestampMs(1090));
  // Interval 1: an entry for every batch but the first, keyed by each batch's last offset.
  ASSERT_EQ(segment->offset_index().size(), 9u);
  const uint64_t batch_size = segment->size() / 10;
  EXPECT_EQ(segment->PositionFor(Offset(100)), 0u);
  EXPECT_EQ(segment->PositionFor(Offset(109)), batch_size);       // last offset of batch 1
  EXPECT_EQ(segment->PositionFor(Offset(112)), batch_size);       // between entries
  EXPECT_EQ(segment->PositionFor(Offset(149)), 9 * batch_size);   // last
  EXPECT_EQ(segment->PositionFor(Offset(5000)), 9 * batch_size);  // past the end
  EXPECT_EQ(segment->OffsetForTimestampLowerBound(TimestampMs(0)), Offset(100));
  // Batch 3 (ts 1030) ends at offset 119: records before it are all older than 1035.
  EXPECT_EQ(segment->OffsetForTimestampLowerBound(TimestampMs(1035)), Offset(119));
  EXPECT_EQ(segment->OffsetForTimestampLowerBound(TimestampMs(99999)), Offset(149));
}

TEST(SegmentTest, IndexFilesReloadAndInvalidOnesAreRebuilt) {
  TempDir dir;
  FileSystem* fs = FileSystem::Default();
  std::vector<Segment::OffsetEntry> offsets;
  {
    auto segment = Fill(fs, dir.path(), 10, 5);
    offsets = segment->offset_index();
    ASSERT_TRUE(segment->WriteIndexFiles().ok());
  }
  Segment::RecoveryReport report;
  auto reopened = Segment::Open(fs, dir.path(), Offset(100), 1, /*trust_index=*/true, &report);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_FALSE(report.index_rebuilt);
  EXPECT_EQ((*reopened)->next_offset(), Offset(150));
  EXPECT_EQ((*reopened)->max_timestamp(), TimestampMs(1090));
  EXPECT_EQ((*reopened)->offset_index().size(), offsets.size());
  reopened->reset();

  // A garbage index (positions out of order) is detected and rebuilt by scanning.
  ASSERT_TRUE(fs->WriteFileAtomic(JoinPath(dir.path(), Segment::FileName(Offset(100), ".index")),
                                  std::string("\0\0\0\5\0\0\0\0\0\0\0\1\0\0\0\0", 16))
                  .ok());
  Segment::RecoveryReport report2;
  reopened = Segment::Open(fs, dir.path(), Offset(100), 1, true, &report2);
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE(report2.index_rebuilt);
  EXPECT_EQ((*reopened)->next_offset(), Offset(150));
  EXPECT_EQ((*reopened)->offset_index().size(), offsets.size());
}

TEST(SegmentTest, RecoveryTruncatesTornTail) {
  TempDir dir;
  FileSystem* fs = FileSystem::Default();
  uint64_t full = 0;
  {
    auto segment = Fill(fs, dir.path(), 4, 3);
    full = segment->size();
  }
  const std::string path = JoinPath(dir.path(), Segment::FileName(Offset(100), ".log"));
  {
    auto file = fs->OpenFile(path, false);
    ASSERT_TRUE((*file)->Truncate(full - 7).ok());
  }
  Segment::RecoveryReport report;
  auto segment = Segment::Open(fs, dir.path(), Offset(100), 1, false, &report);
  ASSERT_TRUE(segment.ok());
  EXPECT_EQ((*segment)->next_offset(), Offset(109));
  EXPECT_EQ(report.truncated_bytes, full / 4 - 7);
  EXPECT_EQ((*segment)->size(), full / 4 * 3);
}

}  // namespace
}  // namespace sluice::log
