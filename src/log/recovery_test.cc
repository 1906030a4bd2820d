// Crash, corruption and I/O-fault behaviour of the log, driven by FaultInjectionFileSystem.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <thread>

#include "common/varint.h"
#include "log/log.h"
#include "log/segment.h"
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

class RecoveryTest : public ::testing::Test {
 protected:
  LogOptions Options() {
    LogOptions o;
    o.dir = dir_.path();
    o.fs = &fs_;
    o.clock = &clock_;
    o.index_interval_bytes = 256;
    o.segment_bytes = 8192;
    o.retention_check_interval_ms = 3'600'000;
    return o;
  }
  Partition& P(const std::shared_ptr<Topic>& t) { return t->partition(PartitionId(0)); }
  // Offset -> value of every record readable from the start.
  std::map<int64_t, std::string> ReadEverything(Partition& p) {
    std::map<int64_t, std::string> out;
    Offset from = p.Info().start_offset;
    while (true) {
      Result<ReadResult> r = p.Read(from, 1 << 20);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok() || r->bytes.empty()) break;
      RecordReader reader(r->bytes, from);
      Record rec;
      while (reader.Next(&rec)) out[rec.offset.value()] = std::string(*rec.value);
      EXPECT_TRUE(reader.status().ok());
      from = r->next_offset;
    }
    return out;
  }
  std::string ActiveSegmentPath(const std::string& topic, Offset base) {
    return JoinPath(JoinPath(JoinPath(dir_.path(), topic), "0"), Segment::FileName(base, ".log"));
  }

  TempDir dir_;
  FaultInjectionFileSystem fs_;
  ManualClock clock_;
};

TEST_F(RecoveryTest, AcknowledgedAppendsSurviveCrashWithTornTail) {
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    TempDir dir;
    LogOptions o = Options();
    o.dir = dir.path();
    std::map<int64_t, std::string> acked;
    std::mutex mu;
    {
      auto log = Log::Open(o).value();
      ASSERT_TRUE(log->CreateTopic(TopicNamed("crash")).ok());
      auto topic = *log->GetTopic("crash");
      std::atomic<int> done{0};
      std::atomic<bool> crashed{false};
      constexpr int kBatches = 120;
      for (int i = 0; i < kBatches; ++i) {
        const std::string prefix = "s" + std::to_string(seed) + "b" + std::to_string(i) + "-";
        P(topic).Append(MakeBatch(3, clock_.Now(), prefix), [&, prefix](Result<AppendResult> r) {
          if (r.ok() && !crashed.load()) {
            std::lock_guard lock(mu);
            for (int k = 0; k < 3; ++k)
              acked[r->base_offset.value() + k] = prefix + std::to_string(k);
          }
          done.fetch_add(1);
        });
        if (i == kBatches / 2 + static_cast<int>(seed) * 5) {
          crashed.store(true);  // acknowledgements after this point do not count
          fs_.Crash();
        }
      }
      while (done.load() < kBatches) std::this_thread::yield();
      // The log is destroyed against a crashed file system: nothing more reaches the disk.
    }
    std::mt19937_64 rng(seed);
    fs_.ApplyCrash(&rng, /*tear=*/true);

    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    auto topic = *(*log)->GetTopic("crash");
    std::map<int64_t, std::string> recovered = ReadEverything(P(topic));
    for (const auto& [offset, value] : acked) {
      ASSERT_TRUE(recovered.contains(offset)) << "seed " << seed << " lost acked offset " << offset;
      EXPECT_EQ(recovered[offset], value);
    }
    // Contiguous from 0, whole batches only.
    int64_t expected = 0;
    for (const auto& [offset, value] : recovered) EXPECT_EQ(offset, expected++);
    EXPECT_EQ(expected % 3, 0);
    // And the log takes appends again where it left off.
    Result<AppendResult> next = AppendSync(P(topic), MakeBatch(2, clock_.Now()));
    ASSERT_TRUE(next.ok());
    EXPECT_EQ(next->base_offset, Offset(expected));
  }
}

TEST_F(RecoveryTest, CorruptBatchInActiveSegmentIsTruncatedFromThere) {
  uint64_t batch_size = 0;
  {
    auto log = Log::Open(Options()).value();
    ASSERT_TRUE(log->CreateTopic(TopicNamed("rot")).ok());
    auto topic = *log->GetTopic("rot");
    for (int i = 0; i < 10; ++i) {
      EncodedBatch b = MakeBatch(2, clock_.Now());
      batch_size = b.bytes.size();
      ASSERT_TRUE(AppendSync(P(topic), std::move(b)).ok());
    }
    fs_.Crash();  // no clean shutdown: the active segment is scanned at open
  }
  std::mt19937_64 rng(0);
  fs_.ApplyCrash(&rng, false);
  {
    // Flip one byte inside the 4th batch's records.
    auto file = FileSystem::Default()->OpenFile(ActiveSegmentPath("rot", Offset(0)), false).value();
    const uint64_t size = file->Size();
    std::string bytes(size, '\0');
    ASSERT_TRUE(file->ReadAt(0, bytes).ok());
    bytes[3 * batch_size + kBatchHeaderSize + 2] ^= 0x40;
    ASSERT_TRUE(file->Truncate(0).ok());
    ASSERT_TRUE(file->Append(bytes).ok());
  }
  auto log = Log::Open(Options()).value();
  auto topic = *log->GetTopic("rot");
  EXPECT_EQ(P(topic).Info().end_offset, Offset(6));
  EXPECT_EQ(ReadEverything(P(topic)).size(), 6u);
  EXPECT_EQ(*FileSystem::Default()->FileSize(ActiveSegmentPath("rot", Offset(0))), 3 * batch_size);
}

TEST_F(RecoveryTest, NoSpaceLeavesNoPartialBatchAndLaterAppendsContinue) {
  auto log = Log::Open(Options()).value();
  ASSERT_TRUE(log->CreateTopic(TopicNamed("full")).ok());
  auto topic = *log->GetTopic("full");
  ASSERT_TRUE(AppendSync(P(topic), MakeBatch(5, clock_.Now())).ok());
  const uint64_t size_before = P(topic).Info().bytes;
  fs_.SetWriteBudget(40);  // the next batch gets 40 bytes in, then ENOSPC
  Result<AppendResult> failed = AppendSync(P(topic), MakeBatch(5, clock_.Now()));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kNoSpace);
  EXPECT_EQ(*FileSystem::Default()->FileSize(ActiveSegmentPath("full", Offset(0))), size_before);
  fs_.SetWriteBudget(-1);  // space returns
  Result<AppendResult> later = AppendSync(P(topic), MakeBatch(5, clock_.Now(), "later"));
  ASSERT_TRUE(later.ok()) << later.status().ToString();
  EXPECT_EQ(later->base_offset, Offset(5));
  std::map<int64_t, std::string> all = ReadEverything(P(topic));
  ASSERT_EQ(all.size(), 10u);
  EXPECT_EQ(all[5], "later0");

  ASSERT_TRUE(log->Close().ok());
  log = Log::Open(Options()).value();
  EXPECT_EQ(ReadEverything(P(*log->GetTopic("full"))).size(), 10u);
}

TEST_F(RecoveryTest, SyncFailureFailsCallbacksAndThePartition) {
  auto log = Log::Open(Options()).value();
  ASSERT_TRUE(log->CreateTopic(TopicNamed("eio")).ok());
  auto topic = *log->GetTopic("eio");
  ASSERT_TRUE(AppendSync(P(topic), MakeBatch(2, clock_.Now())).ok());
  fs_.SetSyncFails(true);
  Result<AppendResult> r = AppendSync(P(topic), MakeBatch(2, clock_.Now()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIOError);
  fs_.SetSyncFails(false);
  EXPECT_EQ(AppendSync(P(topic), MakeBatch(2, clock_.Now())).status().code(),
            StatusCode::kUnavailable);
  // Readers still see what was durable.
  EXPECT_EQ(P(topic).Info().end_offset, Offset(2));
  EXPECT_FALSE(log->Close().ok());
}

TEST_F(RecoveryTest, EmptyTrailingSegmentAndStrayTempFiles) {
  {
    auto log = Log::Open(Options()).value();
    ASSERT_TRUE(log->CreateTopic(TopicNamed("odd")).ok());
    ASSERT_TRUE(AppendSync(P(*log->GetTopic("odd")), MakeBatch(4, clock_.Now())).ok());
  }
  const std::string part = JoinPath(JoinPath(dir_.path(), "odd"), "0");
  ASSERT_TRUE(FileSystem::Default()
                  ->OpenFile(JoinPath(part, Segment::FileName(Offset(4), ".log")), true)
                  .ok());
  ASSERT_TRUE(FileSystem::Default()
                  ->OpenFile(JoinPath(part, "00000000000000000000.index.tmp.1.2"), true)
                  .ok());
  auto log = Log::Open(Options()).value();
  auto topic = *log->GetTopic("odd");
  EXPECT_EQ(P(topic).Info().end_offset, Offset(4));
  EXPECT_FALSE(fs_.Exists(JoinPath(part, "00000000000000000000.index.tmp.1.2")));
  Result<AppendResult> r = AppendSync(P(topic), MakeBatch(1, clock_.Now()));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->base_offset, Offset(4));
  EXPECT_EQ(ReadEverything(P(topic)).size(), 5u);
}

TEST_F(RecoveryTest, ScanBatchesReturnsFirstRecordHeaders) {
  auto log = Log::Open(Options()).value();
  ASSERT_TRUE(log->CreateTopic(TopicNamed("idem")).ok());
  auto topic = *log->GetTopic("idem");
  for (int i = 0; i < 30; ++i) {
    const std::string key = "key-" + std::to_string(i);
    const RecordHeader h[] = {{"sluice.idempotency_key", std::string_view(key)}};
    ASSERT_TRUE(
        AppendSync(P(topic), MakeBatch(3, TimestampMs(1000 + i), std::string(300, 'v'), h)).ok());
  }
  std::vector<BatchSummary> seen;
  ASSERT_TRUE(P(topic)
                  .ScanBatches(TimestampMs(1020), [&](const BatchSummary& s) { seen.push_back(s); })
                  .ok());
  ASSERT_EQ(seen.size(), 10u);
  EXPECT_EQ(seen[0].base_offset, Offset(60));
  EXPECT_EQ(seen[0].record_count, 3);
  EXPECT_EQ(seen[0].max_timestamp, TimestampMs(1020));
  ASSERT_EQ(seen[0].first_record_headers.size(), 1u);
  EXPECT_EQ(seen[0].first_record_headers[0].first, "sluice.idempotency_key");
  EXPECT_EQ(seen[0].first_record_headers[0].second, "key-20");
  EXPECT_EQ(seen[9].first_record_headers[0].second, "key-29");
}

}  // namespace
}  // namespace sluice::log
