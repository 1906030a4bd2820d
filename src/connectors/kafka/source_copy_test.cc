#include "connectors/kafka/source_copy.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "connectors/kafka/kafka_connector.h"
#include "log/record_batch.h"
#include "log/tagged_batch.h"

namespace sluice::connectors {
namespace {

// A partition holding a copy of source "src" cut into batches as the connector cuts them:
// the first record tagged with the external offset the batch ends at, the external offset
// itself on the first record and after every gap.
class SourceCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/source_copy_test_" + std::to_string(::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    log::LogOptions options;
    options.dir = dir_;
    options.fsync = log::FsyncPolicy::kNever;
    auto log = log::Log::Open(options);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
    log::TopicConfig config;
    config.name = "copy";
    ASSERT_TRUE(log_->CreateTopic(config).ok());
    partition_ = &(*log_->GetTopic("copy"))->partition(PartitionId(0));
  }
  void TearDown() override {
    if (log_) (void)log_->Close();
    std::filesystem::remove_all(dir_);
  }

  // One copied batch of the records at these external offsets (ascending).
  void Copy(const std::vector<int64_t>& externals, std::string_view source = "src", bool at_headers = true) {
    log::RecordBatchBuilder builder;
    const std::string end = std::to_string(externals.back() + 1);
    for (size_t k = 0; k < externals.size(); ++k) {
      std::vector<log::RecordHeader> headers;
      if (k == 0) {
        headers.push_back({kKafkaSourceHeader, source});
        headers.push_back({kKafkaSourceOffsetHeader, end});
      }
      const std::string at = std::to_string(externals[k]);
      if (at_headers && (k == 0 || externals[k] != externals[k - 1] + 1)) headers.push_back({kKafkaSourceAtHeader, at});
      const std::string value = "{\"x\": " + at + "}";
      builder.Add(TimestampMs(1), std::nullopt, value, headers);
    }
    ASSERT_TRUE(log::AppendAndWait(*partition_, builder.Finish()).ok());
  }

  // FindCopyPosition as a number: -1 for "not reached yet", -2 for an error.
  int64_t Position(int64_t external) {
    auto found = FindCopyPosition(*partition_, "src", external);
    EXPECT_TRUE(found.ok()) << found.status().ToString();
    if (!found.ok()) return -2;
    return *found ? (*found)->value() : -1;
  }

  std::string dir_;
  std::unique_ptr<log::Log> log_;
  log::Partition* partition_ = nullptr;
};

TEST_F(SourceCopyTest, FindsTheFirstRecordAtOrAfterAnExternalOffsetAcrossGaps) {
  Copy({10, 11, 12});      // local 0..2
  Copy({13, 15, 16, 20});  // local 3..6: gaps after 13 and 16 (transaction markers)
  Copy({21});              // local 7
  EXPECT_EQ(Position(-1), 0);  // nothing committed: the start
  EXPECT_EQ(Position(0), 0);   // before the copy's first record
  EXPECT_EQ(Position(10), 0);
  EXPECT_EQ(Position(12), 2);
  EXPECT_EQ(Position(13), 3);  // a batch boundary
  EXPECT_EQ(Position(14), 4);  // in a gap: the next record
  EXPECT_EQ(Position(16), 5);
  EXPECT_EQ(Position(17), 6);
  EXPECT_EQ(Position(20), 6);
  EXPECT_EQ(Position(22), 8);  // exactly the end of the copy: what comes next
  EXPECT_EQ(Position(23), -1);  // not reached yet
}

TEST_F(SourceCopyTest, IgnoresOtherWritersAndReadsOldBatchesAsContiguous) {
  Copy({0, 1, 2}, "other");             // local 0..2: another source's tag
  Copy({5, 6, 7}, "src", /*at=*/false);  // local 3..5: copied before the at header
  Copy({8, 9});                          // local 6..7
  EXPECT_EQ(Position(0), 3);
  EXPECT_EQ(Position(6), 4);
  EXPECT_EQ(Position(9), 7);
  EXPECT_EQ(Position(10), 8);
}

TEST_F(SourceCopyTest, SearchesFarBackInALongCopy) {
  int64_t external = 0;
  for (int b = 0; b < 400; ++b) {  // 2000 records, the position near the start
    std::vector<int64_t> batch;
    for (int k = 0; k < 5; ++k) batch.push_back(external++ * 2);  // every other offset
    Copy(batch);
  }
  EXPECT_EQ(Position(7), 4);  // external 8 is the 5th record
  EXPECT_EQ(Position(3000), 1500);
  EXPECT_EQ(Position(3999), 2000);  // the last record is 3998: the copy holds everything below
  EXPECT_EQ(Position(4000), -1);
}

TEST_F(SourceCopyTest, AnUnreadableOffsetHeaderIsCorruptionNotAGuess) {
  log::RecordBatchBuilder builder;
  const log::RecordHeader headers[] = {
      {kKafkaSourceHeader, "src"}, {kKafkaSourceOffsetHeader, "9"}, {kKafkaSourceAtHeader, "-x7"}};
  builder.Add(TimestampMs(1), std::nullopt, "{}", headers);
  ASSERT_TRUE(log::AppendAndWait(*partition_, builder.Finish()).ok());
  auto found = FindCopyPosition(*partition_, "src", 3);
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), StatusCode::kCorruption) << found.status().ToString();
}

TEST_F(SourceCopyTest, ScanListsTagsAndLeavesOthersUntagged) {
  Copy({4, 5});
  Copy({0}, "other");
  auto read = partition_->Read(Offset(0), 1 << 20);
  ASSERT_TRUE(read.ok());
  auto batches = ScanCopiedBatches(read->bytes, "src");
  ASSERT_TRUE(batches.ok()) << batches.status().ToString();
  ASSERT_EQ(batches->size(), 2u);
  EXPECT_EQ((*batches)[0].base.value(), 0);
  EXPECT_EQ((*batches)[0].end.value(), 2);
  EXPECT_EQ((*batches)[0].external_end, 6);
  EXPECT_EQ((*batches)[1].external_end, -1);
}

}  // namespace
}  // namespace sluice::connectors
