#include "server/kafka/transactions.h"

#include <gtest/gtest.h>

#include <future>

#include "engine/engine.h"
#include "log/record_batch.h"
#include "log/tagged_batch.h"
#include "log/testing/temp_dir.h"
#include "server/kafka/broker.h"
#include "server/kafka/wire.h"

// The transaction coordinator's state in `.kafka_transactions` (docs/formats/kafka-transactions.md):
// a commit decided before a stop is completed at the next start, on every partition, with its
// offsets; the id's next producer gets a fresh producer id.
namespace sluice::server::kafka {
namespace {

void AppendTransactional(log::Partition& partition, int64_t pid, const std::string& value) {
  log::RecordBatchBuilder builder;
  builder.Add(TimestampMs(1), std::nullopt, value);
  log::EncodedBatch batch = builder.Finish();
  log::SetProducerFields(&batch, pid, 0, 0, /*transactional=*/true);
  ASSERT_TRUE(log::AppendAndWait(partition, std::move(batch)).ok());
}

// A state record as the format doc describes it.
void AppendState(log::Log& log, const std::string& id, int8_t phase, int64_t pid,
                 const std::vector<std::pair<std::string, int32_t>>& partitions, int64_t group_offset) {
  log::TopicConfig config;
  config.name = std::string(TransactionCoordinator::kStateTopic);
  (void)log.CreateTopic(config);
  std::string key;
  WireWriter k(&key, false);
  k.Int16(1);
  k.String(id);
  std::string value;
  WireWriter v(&value, false);
  v.Int16(1);
  v.Int8(phase);
  v.Int64(pid);
  v.Int16(0);
  v.Int32(60'000);
  v.Int32(static_cast<int32_t>(partitions.size()));
  for (const auto& [topic, p] : partitions) {
    v.String(topic);
    v.Int32(p);
  }
  v.Int32(group_offset >= 0 ? 1 : 0);
  if (group_offset >= 0) {
    v.String("g");
    v.String("t");
    v.Int32(0);
    v.Int64(group_offset);
    v.Int32(-1);
    v.NullableString(std::nullopt);
  }
  log::RecordBatchBuilder builder;
  builder.Add(TimestampMs(1), key, value);
  auto topic = log.GetTopic(TransactionCoordinator::kStateTopic);
  ASSERT_TRUE(topic.ok());
  ASSERT_TRUE(log::AppendAndWait((*topic)->partition(PartitionId(0)), builder.Finish()).ok());
}

TEST(TransactionCoordinatorTest, ACommitDecidedBeforeAStopIsCompletedAtTheNextStart) {
  log::testing::TempDir dir;
  MetricsRegistry metrics;
  engine::EngineOptions options;
  options.data_dir = dir.path();
  options.log.fsync = log::FsyncPolicy::kNever;
  auto engine = engine::Engine::Open(options, &metrics);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  log::Log& log = (*engine)->log();
  log::TopicConfig t;
  t.name = "t";
  t.partitions = 2;
  ASSERT_TRUE(log.CreateTopic(t).ok());
  auto topic = *log.GetTopic("t");
  const int64_t pid = 4242;
  // The stop came after the decision was recorded and before any marker was written.
  AppendTransactional(topic->partition(PartitionId(0)), pid, "a");
  AppendTransactional(topic->partition(PartitionId(1)), pid, "b");
  AppendState(log, "tx", /*phase=*/1, pid, {{"t", 0}, {"t", 1}}, /*group_offset=*/42);
  {
    Broker broker(KafkaOptions{}, engine->get(), &metrics);
    ASSERT_TRUE(broker.Start().ok());
    for (int32_t p = 0; p < 2; ++p) {
      log::Partition& partition = topic->partition(PartitionId(p));
      auto committed = partition.Committed(Offset(0));
      ASSERT_TRUE(committed.ok());
      EXPECT_EQ(committed->last_stable_offset, partition.Info().end_offset) << "partition " << p;
      EXPECT_TRUE(committed->aborted.empty()) << "partition " << p;
    }
    auto offsets = broker.groups().Fetch("g");
    ASSERT_TRUE(offsets.contains({"t", 0}));
    EXPECT_EQ(offsets.at({"t", 0}).offset, 42);
    // The id's next producer gets another producer id: nothing of the old one can join it.
    std::promise<TransactionCoordinator::InitResult> init;
    broker.transactions().InitProducerId("tx", 60'000, [&init](auto r) { init.set_value(r); });
    const TransactionCoordinator::InitResult r = init.get_future().get();
    EXPECT_EQ(r.error, ErrorCode::kNone);
    EXPECT_NE(r.producer_id, pid);
    broker.Stop();
  }
  // Completed once: a second start finds nothing to complete (the id's record says so).
  const Offset end = topic->partition(PartitionId(0)).Info().end_offset;
  {
    Broker broker(KafkaOptions{}, engine->get(), &metrics);
    ASSERT_TRUE(broker.Start().ok());
    EXPECT_EQ(topic->partition(PartitionId(0)).Info().end_offset, end);
    broker.Stop();
  }
  ASSERT_TRUE((*engine)->Close().ok());
}

TEST(TransactionCoordinatorTest, AMalformedStateRecordFailsTheStart) {
  log::testing::TempDir dir;
  MetricsRegistry metrics;
  engine::EngineOptions options;
  options.data_dir = dir.path();
  options.log.fsync = log::FsyncPolicy::kNever;
  auto engine = engine::Engine::Open(options, &metrics);
  ASSERT_TRUE(engine.ok());
  log::Log& log = (*engine)->log();
  log::TopicConfig config;
  config.name = std::string(TransactionCoordinator::kStateTopic);
  ASSERT_TRUE(log.CreateTopic(config).ok());
  std::string key;
  WireWriter k(&key, false);
  k.Int16(1);
  k.String("tx");
  log::RecordBatchBuilder builder;
  builder.Add(TimestampMs(1), key, std::string("\x00\x01\x09", 3));  // version 1, phase 9, then nothing
  ASSERT_TRUE(log::AppendAndWait((*log.GetTopic(config.name))->partition(PartitionId(0)), builder.Finish()).ok());
  Broker broker(KafkaOptions{}, engine->get(), &metrics);
  Status started = broker.Start();
  EXPECT_EQ(started.code(), StatusCode::kCorruption) << started.ToString();
  broker.Stop();
  ASSERT_TRUE((*engine)->Close().ok());
}

}  // namespace
}  // namespace sluice::server::kafka
