#include "log/log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "common/murmur2.h"
#include "log/testing/fault_injection_file_system.h"
#include "log/testing/log_test_util.h"
#include "log/testing/temp_dir.h"

namespace sluice::log {
namespace {

using testing::AppendSync;
using testing::FaultInjectionFileSystem;
using testing::MakeBatch;
using testing::TempDir;
using testing::TopicNamed;

class LogTest : public ::testing::Test {
 protected:
  LogOptions Options() {
    LogOptions o;
    o.dir = dir_.path();
    o.fs = &fs_;
    o.clock = &clock_;
    o.index_interval_bytes = 64;
    o.retention_check_interval_ms = 3'600'000;  // tests call EnforceRetention themselves
    return o;
  }
  std::unique_ptr<Log> OpenLog(LogOptions o) {
    auto log = Log::Open(std::move(o));
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  }
  std::shared_ptr<Topic> MakeTopic(Log& log, const std::string& name, int partitions = 1) {
    EXPECT_TRUE(log.CreateTopic(TopicNamed(name, partitions)).ok());
    return *log.GetTopic(name);
  }
  // Every record value from `from` to the end, by repeated reads of `max_bytes`.
  std::vector<std::string> ReadAll(Partition& p, Offset from, size_t max_bytes = 1 << 20) {
    std::vector<std::string> values;
    while (true) {
      Result<ReadResult> r = p.Read(from, max_bytes);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok() || r->bytes.empty()) break;
      RecordReader reader(r->bytes, from);
      Record rec;
      Offset expected = from;
      while (reader.Next(&rec)) {
        EXPECT_EQ(rec.offset, expected);
        ++expected;
        values.emplace_back(*rec.value);
      }
      EXPECT_TRUE(reader.status().ok()) << reader.status().ToString();
      EXPECT_EQ(r->next_offset, expected);
      from = r->next_offset;
    }
    return values;
  }

  TempDir dir_;
  FaultInjectionFileSystem fs_;
  ManualClock clock_;
};

TEST_F(LogTest, AppendAndReadBackWithEveryPolicy) {
  for (FsyncPolicy policy : {FsyncPolicy::kAlways, FsyncPolicy::kInterval, FsyncPolicy::kNever}) {
    TempDir dir;
    LogOptions o = Options();
    o.dir = dir.path();
    o.fsync = policy;
    auto log = OpenLog(o);
    auto topic = MakeTopic(*log, "events");
    Partition& p = topic->partition(PartitionId(0));
    for (int i = 0; i < 5; ++i) {
      Result<AppendResult> r =
          AppendSync(p, MakeBatch(10, clock_.Now(), "b" + std::to_string(i) + "-"));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->base_offset, Offset(10 * i));
      EXPECT_EQ(r->record_count, 10);
    }
    std::vector<std::string> values = ReadAll(p, Offset(0));
    ASSERT_EQ(values.size(), 50u);
    EXPECT_EQ(values[0], "b0-0");
    EXPECT_EQ(values[49], "b4-9");
    EXPECT_EQ(ReadAll(p, Offset(37)).size(), 13u);
    EXPECT_EQ(p.Info().end_offset, Offset(50));
    EXPECT_EQ(p.Read(Offset(51), 100).status().code(), StatusCode::kOutOfRange);
    Result<ReadResult> at_end = p.Read(Offset(50), 100);
    ASSERT_TRUE(at_end.ok());
    EXPECT_TRUE(at_end->bytes.empty());
    EXPECT_EQ(at_end->next_offset, Offset(50));
    ASSERT_TRUE(log->Close().ok());
  }
}

TEST_F(LogTest, ReadReturnsWholeBatchesAndAtLeastOne) {
  auto log = OpenLog(Options());
  auto topic = MakeTopic(*log, "t");
  Partition& p = topic->partition(PartitionId(0));
  size_t batch_size = 0;
  for (int i = 0; i < 4; ++i) {
    EncodedBatch b = MakeBatch(10, clock_.Now());
    batch_size = b.bytes.size();
    ASSERT_TRUE(AppendSync(p, std::move(b)).ok());
  }
  Result<ReadResult> one = p.Read(Offset(15), 1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->bytes.size(), batch_size);
  EXPECT_EQ(one->next_offset, Offset(20));
  Result<ReadResult> two = p.Read(Offset(0), 2 * batch_size + batch_size / 2);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->bytes.size(), 2 * batch_size);
  EXPECT_EQ(two->next_offset, Offset(20));
}

TEST_F(LogTest, RollsBySizeAndAgeAndReadsAcrossSegments) {
  LogOptions o = Options();
  o.segment_bytes = 600;
  o.segment_ms = 60'000;
  auto log = OpenLog(o);
  auto topic = MakeTopic(*log, "roll");
  Partition& p = topic->partition(PartitionId(0));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(AppendSync(p, MakeBatch(10, clock_.Now())).ok());
  const uint32_t by_size = p.Info().segments;
  EXPECT_GT(by_size, 3u);
  EXPECT_EQ(ReadAll(p, Offset(0), 300).size(), 200u);
  EXPECT_EQ(ReadAll(p, Offset(0)).size(), 200u);
  EXPECT_EQ(ReadAll(p, Offset(123), 1).size(), 77u);

  ASSERT_TRUE(AppendSync(p, MakeBatch(1, clock_.Now())).ok());
  const uint32_t before_age = p.Info().segments;
  clock_.Advance(60'001);
  ASSERT_TRUE(AppendSync(p, MakeBatch(1, clock_.Now())).ok());
  EXPECT_EQ(p.Info().segments, before_age + 1);

  // Reopen: sealed segments come back from their index files, nothing is lost.
  ASSERT_TRUE(log->Close().ok());
  log = OpenLog(o);
  topic = *log->GetTopic("roll");
  EXPECT_EQ(topic->partition(PartitionId(0)).Info().end_offset, Offset(202));
  EXPECT_EQ(ReadAll(topic->partition(PartitionId(0)), Offset(0), 500).size(), 202u);
}

TEST_F(LogTest, OffsetForTimestamp) {
  LogOptions o = Options();
  o.segment_bytes = 700;
  auto log = OpenLog(o);
  auto topic = MakeTopic(*log, "time");
  Partition& p = topic->partition(PartitionId(0));
  for (int i = 0; i < 30; ++i) {
    RecordBatchBuilder b;
    for (int r = 0; r < 4; ++r)
      b.Add(TimestampMs(10'000 + 40 * i + 10 * r), std::nullopt, std::string_view("x"));
    ASSERT_TRUE(AppendSync(p, b.Finish()).ok());
  }
  EXPECT_GT(p.Info().segments, 2u);
  EXPECT_EQ(*p.OffsetForTimestamp(TimestampMs(0)), Offset(0));
  EXPECT_EQ(*p.OffsetForTimestamp(TimestampMs(10'000)), Offset(0));
  EXPECT_EQ(*p.OffsetForTimestamp(TimestampMs(10'001)), Offset(1));
  EXPECT_EQ(*p.OffsetForTimestamp(TimestampMs(10'000 + 40 * 17 + 20)), Offset(17 * 4 + 2));
  EXPECT_EQ(*p.OffsetForTimestamp(TimestampMs(10'000 + 40 * 29 + 30)), Offset(119));
  EXPECT_EQ(*p.OffsetForTimestamp(TimestampMs(99'999)), Offset(120));  // past the end
}

TEST_F(LogTest, RetentionByTimeAndSize) {
  LogOptions o = Options();
  o.segment_bytes = 1024;
  o.default_retention_ms = 10'000;
  auto log = OpenLog(o);
  auto topic = MakeTopic(*log, "ret");
  Partition& p = topic->partition(PartitionId(0));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(AppendSync(p, MakeBatch(5, clock_.Now())).ok());
  const uint32_t old_segments = p.Info().segments;
  clock_.Advance(20'000);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(AppendSync(p, MakeBatch(5, clock_.Now())).ok());
  // Every sealed segment holding only old batches goes; the one that also took new batches stays.
  EXPECT_GE(*log->EnforceRetention(), static_cast<int>(old_segments) - 1);
  PartitionInfo info = p.Info();
  EXPECT_GT(info.start_offset, Offset(0));
  EXPECT_LE(info.start_offset, Offset(100));
  EXPECT_EQ(p.Read(Offset(0), 100).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(ReadAll(p, info.start_offset).size(),
            static_cast<size_t>(200 - info.start_offset.value()));

  // Size: retention_bytes on a second topic keeps at least that much, never the active segment.
  ASSERT_TRUE(log->CreateTopic([] {
                   TopicConfig c = TopicNamed("small");
                   c.retention_ms = -1;
                   c.retention_bytes = 2048;
                   return c;
                 }())
                  .ok());
  Partition& s = (*log->GetTopic("small"))->partition(PartitionId(0));
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(AppendSync(s, MakeBatch(5, clock_.Now())).ok());
  EXPECT_GT(*log->EnforceRetention(), 0);
  PartitionInfo small = s.Info();
  EXPECT_GE(small.bytes, 2048u);
  EXPECT_LT(small.bytes, 2048u + 1024u + 200u);
  EXPECT_EQ(small.end_offset, Offset(200));
}

TEST_F(LogTest, GroupCommitSharesSyncs) {
  auto log = OpenLog(Options());
  auto topic = MakeTopic(*log, "gc");
  Partition& p = topic->partition(PartitionId(0));
  constexpr int kThreads = 8;
  constexpr int kAppends = 200;
  const uint64_t syncs_before = fs_.sync_count();
  std::atomic<int> ok{0};
  std::mutex mu;
  std::vector<int64_t> bases;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      std::atomic<int> done{0};
      for (int i = 0; i < kAppends; ++i) {
        p.Append(MakeBatch(3, clock_.Now()), [&](Result<AppendResult> r) {
          if (r.ok()) {
            ok.fetch_add(1);
            std::lock_guard lock(mu);
            bases.push_back(r->base_offset.value());
          }
          done.fetch_add(1);
        });
      }
      while (done.load() < kAppends) std::this_thread::yield();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kAppends);
  std::sort(bases.begin(), bases.end());
  for (size_t i = 0; i < bases.size(); ++i) EXPECT_EQ(bases[i], static_cast<int64_t>(3 * i));
  const uint64_t syncs = fs_.sync_count() - syncs_before;
  EXPECT_LT(syncs, static_cast<uint64_t>(kThreads * kAppends) / 4) << syncs << " syncs";
  EXPECT_EQ(p.Info().end_offset, Offset(3 * kThreads * kAppends));
}

TEST_F(LogTest, OverloadIsRefusedWithResourceExhausted) {
  LogOptions o = Options();
  o.max_unsynced_bytes = 1;
  auto log = OpenLog(o);
  auto topic = MakeTopic(*log, "busy");
  Partition& p = topic->partition(PartitionId(0));
  // With a one-byte budget only one batch may await its fdatasync at a time; appends issued
  // faster than syncs complete are refused at once.
  std::atomic<int> exhausted{0};
  std::atomic<int> done{0};
  for (int i = 0; i < 200; ++i) {
    p.Append(MakeBatch(10, clock_.Now()), [&](Result<AppendResult> r) {
      if (!r.ok() && r.status().code() == StatusCode::kResourceExhausted) exhausted.fetch_add(1);
      done.fetch_add(1);
    });
  }
  while (done.load() < 200) std::this_thread::yield();
  EXPECT_GT(exhausted.load(), 0);
}

TEST_F(LogTest, TopicsCreateDeleteListReopen) {
  auto log = OpenLog(Options());
  ASSERT_TRUE(log->CreateTopic([] {
                   TopicConfig c = TopicNamed("a", 3);
                   c.key_field = "user \"id\"";
                   return c;
                 }())
                  .ok());
  ASSERT_TRUE(log->CreateTopic(TopicNamed(".internal", 1)).ok());
  EXPECT_EQ(log->CreateTopic(TopicNamed("a")).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(log->CreateTopic(TopicNamed("b", 0)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(log->CreateTopic(TopicNamed("b", 1025)).code(), StatusCode::kInvalidArgument);
  auto a = *log->GetTopic("a");
  ASSERT_TRUE(AppendSync(a->partition(PartitionId(2)), MakeBatch(4, clock_.Now())).ok());
  EXPECT_EQ(log->ListTopics().size(), 2u);
  EXPECT_TRUE(IsInternalTopicName(".internal"));

  ASSERT_TRUE(log->Close().ok());
  log = OpenLog(Options());
  Result<TopicInfo> info = log->DescribeTopic("a");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->config.partitions, 3);
  EXPECT_EQ(info->config.key_field, "user \"id\"");
  EXPECT_EQ(info->config.retention_ms, Options().default_retention_ms);
  EXPECT_EQ(info->partitions[2].end_offset, Offset(4));

  a = *log->GetTopic("a");
  ASSERT_TRUE(log->DeleteTopic("a").ok());
  EXPECT_EQ(log->GetTopic("a").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(log->DeleteTopic("a").code(), StatusCode::kNotFound);
  EXPECT_EQ(AppendSync(a->partition(PartitionId(0)), MakeBatch(1, clock_.Now())).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(a->partition(PartitionId(0)).Read(Offset(0), 10).status().code(),
            StatusCode::kNotFound);
  EXPECT_FALSE(fs_.Exists(JoinPath(dir_.path(), "a")));
  ASSERT_TRUE(log->CreateTopic(TopicNamed("a", 1)).ok());
  EXPECT_EQ((*log->GetTopic("a"))->partition(PartitionId(0)).Info().end_offset, Offset(0));
}

TEST_F(LogTest, CorruptOrMissingTopicMetadataIsNamed) {
  {
    auto log = OpenLog(Options());
    MakeTopic(*log, "meta");
  }
  const std::string file = JoinPath(JoinPath(dir_.path(), "meta"), "topic.json");
  ASSERT_TRUE(fs_.WriteFileAtomic(file, "{not json").ok());
  Result<std::unique_ptr<Log>> log = Log::Open(Options());
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kCorruption);
  EXPECT_NE(log.status().message().find(file), std::string::npos) << log.status().ToString();
  ASSERT_TRUE(fs_.RemoveFile(file).ok());
  log = Log::Open(Options());
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find(file), std::string::npos) << log.status().ToString();
}

TEST(TopicNameTest, Validation) {
  EXPECT_TRUE(ValidateTopicName("orders").ok());
  EXPECT_TRUE(ValidateTopicName("a.b_c-D9").ok());
  EXPECT_TRUE(ValidateTopicName(std::string(249, 'x')).ok());
  EXPECT_FALSE(ValidateTopicName(std::string(250, 'x')).ok());
  EXPECT_FALSE(ValidateTopicName("").ok());
  EXPECT_FALSE(ValidateTopicName(".").ok());
  EXPECT_FALSE(ValidateTopicName("..").ok());
  EXPECT_FALSE(ValidateTopicName("a/b").ok());
  EXPECT_FALSE(ValidateTopicName("a b").ok());
  EXPECT_FALSE(ValidateTopicName("é").ok());
  EXPECT_EQ(ValidateTopicName("a~b").code(), StatusCode::kInvalidArgument);
}

TEST(PartitionForKeyTest, MatchesKafkaDefaultPartitioner) {
  EXPECT_EQ(PartitionForKey("foobar", 7), PartitionId(ToPositive(-790332482) % 7));
  EXPECT_EQ(PartitionForKey("21", 1), PartitionId(0));
}

TEST(FsyncPolicyTest, ParseAndName) {
  EXPECT_EQ(*ParseFsyncPolicy("always"), FsyncPolicy::kAlways);
  EXPECT_EQ(*ParseFsyncPolicy("interval"), FsyncPolicy::kInterval);
  EXPECT_EQ(*ParseFsyncPolicy("never"), FsyncPolicy::kNever);
  EXPECT_FALSE(ParseFsyncPolicy("sometimes").ok());
  EXPECT_EQ(FsyncPolicyName(FsyncPolicy::kInterval), "interval");
}

}  // namespace
}  // namespace sluice::log
