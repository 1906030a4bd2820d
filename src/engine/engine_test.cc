#include "engine/engine.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <future>
#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "log/record_batch.h"

namespace sluice::engine {
namespace {

struct StoredRecord {
  Offset offset;
  std::optional<std::string> key;
  std::string value;
  std::map<std::string, std::string> headers;
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "sluice-engine-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    options_.data_dir = dir_;
    options_.log.fsync = log::FsyncPolicy::kNever;
    options_.default_partitions = 1;
    options_.auto_create_topics = true;
  }
  void TearDown() override {
    if (engine_) {
      ASSERT_TRUE(engine_->Close().ok());
    }
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Open() {
    if (engine_) {
      ASSERT_TRUE(engine_->Close().ok());
    }
    engine_.reset();
    metrics_ = std::make_unique<MetricsRegistry>();
    auto engine = Engine::Open(options_, metrics_.get());
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(engine).value();
    ASSERT_TRUE(engine_->ready());
  }

  IngestResponse Ingest(std::string topic, std::string body, std::string idempotency_key = {},
                        std::string key_field = {}, BodyFormat format = BodyFormat::kAuto) {
    IngestRequest request;
    request.topic = std::move(topic);
    request.body = std::move(body);
    request.idempotency_key = std::move(idempotency_key);
    request.key_field = std::move(key_field);
    request.format = format;
    std::promise<IngestResponse> promise;
    engine_->Ingest(std::move(request),
                    [&](IngestResponse response) { promise.set_value(std::move(response)); });
    return promise.get_future().get();
  }

  std::vector<StoredRecord> ReadAll(std::string_view topic_name, int32_t partition) {
    auto topic = engine_->log().GetTopic(topic_name);
    EXPECT_TRUE(topic.ok()) << topic.status().ToString();
    if (!topic.ok()) return {};
    std::vector<StoredRecord> out;
    Offset from(0);
    for (;;) {
      auto read = (*topic)->partition(PartitionId(partition)).Read(from, 1 << 20);
      EXPECT_TRUE(read.ok()) << read.status().ToString();
      if (!read.ok() || read->bytes.empty()) break;
      log::RecordReader reader(read->bytes, from);
      log::Record record;
      while (reader.Next(&record)) {
        StoredRecord stored{
            record.offset, std::nullopt, std::string(record.value.value_or("")), {}};
        if (record.key) stored.key = std::string(*record.key);
        for (const log::RecordHeader& h : record.headers) {
          stored.headers[std::string(h.key)] = std::string(h.value.value_or(""));
        }
        out.push_back(std::move(stored));
      }
      EXPECT_TRUE(reader.status().ok()) << reader.status().ToString();
      if (read->next_offset <= from) break;
      from = read->next_offset;
    }
    return out;
  }

  int64_t EndOffset(std::string_view topic, int32_t partition) {
    auto t = engine_->log().GetTopic(topic);
    EXPECT_TRUE(t.ok());
    return (*t)->partition(PartitionId(partition)).Info().end_offset.value();
  }

  std::string dir_;
  EngineOptions options_;
  std::unique_ptr<MetricsRegistry> metrics_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, IngestsNdjsonAndReadsItBack) {
  Open();
  IngestResponse r = Ingest("clicks", "{\"a\":1}\n\n{\"b\":2}\r\n{\"c\":3}\n");
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.accepted, 3);
  EXPECT_EQ(r.rejected, 0);
  ASSERT_TRUE(r.first_offset.has_value());
  EXPECT_EQ(*r.first_offset, Offset(0));
  ASSERT_EQ(r.appends.size(), 1u);
  EXPECT_EQ(r.appends[0].count, 3);
  EXPECT_FALSE(r.duplicate);

  auto records = ReadAll("clicks", 0);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].value, "{\"a\":1}");
  EXPECT_EQ(records[1].value, "{\"b\":2}");
  EXPECT_EQ(records[2].value, "{\"c\":3}");
  EXPECT_EQ(records[2].offset, Offset(2));
  EXPECT_FALSE(records[0].key.has_value());

  IngestResponse second = Ingest("clicks", "[{\"d\": 4}]");
  ASSERT_TRUE(second.status.ok());
  EXPECT_EQ(*second.first_offset, Offset(3));
  EXPECT_EQ(ReadAll("clicks", 0)[3].value, "{\"d\":4}");
}

TEST_F(EngineTest, RejectedEventsGoToTheDeadLetterTopic) {
  Open();
  IngestResponse r = Ingest("orders", "{\"ok\":1}\n{broken\n42\n{\"ok\":2}\n");
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.accepted, 2);
  EXPECT_EQ(r.rejected, 2);
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0].index, 1);
  EXPECT_EQ(r.errors[1].index, 2);
  EXPECT_EQ(r.errors[1].error, "not a JSON object (got a number)");

  auto dlq = ReadAll("orders.dlq", 0);
  ASSERT_EQ(dlq.size(), 2u);
  EXPECT_EQ(dlq[0].value, "{broken");
  EXPECT_EQ(dlq[0].headers["sluice.source-topic"], "orders");
  EXPECT_EQ(dlq[0].headers["sluice.error"], r.errors[0].error);
  EXPECT_EQ(dlq[1].value, "42");
  EXPECT_EQ(dlq[1].headers["sluice.error"], "not a JSON object (got a number)");
  EXPECT_EQ(ReadAll("orders", 0).size(), 2u);

  const std::string metrics = metrics_->Render();
  EXPECT_NE(metrics.find("sluice_ingest_rejected_total{topic=\"orders\"} 2"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("sluice_ingest_events_total{topic=\"orders\"} 2"), std::string::npos);
}

TEST_F(EngineTest, KeyedEventsLandOnPartitionForKey) {
  options_.default_partitions = 4;
  Open();
  std::string body;
  for (int i = 0; i < 40; ++i) body += "{\"user\":\"u" + std::to_string(i) + "\",\"n\":1}\n";
  IngestResponse r = Ingest("keyed", body, {}, "user");
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.accepted, 40);
  int total = 0;
  for (int32_t p = 0; p < 4; ++p) {
    for (const StoredRecord& record : ReadAll("keyed", p)) {
      ASSERT_TRUE(record.key.has_value());
      EXPECT_EQ(log::PartitionForKey(*record.key, 4), PartitionId(p)) << *record.key;
      ++total;
    }
  }
  EXPECT_EQ(total, 40);
}

TEST_F(EngineTest, TopicKeyFieldIsTheDefaultKey) {
  Open();
  log::TopicConfig config;
  config.name = "devices";
  config.partitions = 3;
  config.key_field = "device";
  ASSERT_TRUE(engine_->log().CreateTopic(config).ok());
  ASSERT_TRUE(Ingest("devices", "{\"device\":17,\"t\":1}\n{\"device\":17,\"t\":2}").status.ok());
  const int32_t p = log::PartitionForKey("17", 3).value();
  auto records = ReadAll("devices", p);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(*records[0].key, "17");
}

TEST_F(EngineTest, UnkeyedEventsAreSpreadRoundRobin) {
  options_.default_partitions = 4;
  Open();
  IngestResponse r = Ingest("spread", "{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n");
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.appends.size(), 4u);
  for (const PartitionAppend& a : r.appends) EXPECT_EQ(a.count, 2);
}

TEST_F(EngineTest, RepeatedIdempotencyKeyIsAcknowledgedWithoutAppending) {
  options_.default_partitions = 2;
  Open();
  const std::string body = "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\nnope\n";
  IngestResponse first = Ingest("pay", body, "req-1");
  ASSERT_TRUE(first.status.ok());
  EXPECT_FALSE(first.duplicate);
  IngestResponse again = Ingest("pay", body, "req-1");
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.accepted, 3);
  EXPECT_EQ(again.rejected, 1);
  EXPECT_EQ(again.first_offset, first.first_offset);
  EXPECT_EQ(again.appends.size(), first.appends.size());
  EXPECT_EQ(EndOffset("pay", 0) + EndOffset("pay", 1), 3);
  EXPECT_EQ(EndOffset("pay.dlq", 0), 1);

  // A different key appends; the same key with another body is refused.
  ASSERT_FALSE(Ingest("pay", body, "req-2").duplicate);
  EXPECT_EQ(EndOffset("pay", 0) + EndOffset("pay", 1), 6);
  EXPECT_EQ(Ingest("pay", "{\"x\":1}", "req-1").status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(metrics_->Render().find("sluice_ingest_duplicate_requests_total 1"), std::string::npos);
}

TEST_F(EngineTest, IdempotencySurvivesReopen) {
  options_.default_partitions = 3;
  Open();
  const std::string body = "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n{\"a\":4}\n[]\n";
  IngestResponse first = Ingest("t", body, "retry-me");
  ASSERT_TRUE(first.status.ok());
  Open();  // reopens: idempotency state comes back from the log
  IngestResponse again = Ingest("t", body, "retry-me");
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.accepted, 4);
  EXPECT_EQ(again.rejected, 1);
  EXPECT_EQ(again.first_offset, first.first_offset);
  EXPECT_EQ(EndOffset("t", 0) + EndOffset("t", 1) + EndOffset("t", 2), 4);
  EXPECT_EQ(EndOffset("t.dlq", 0), 1);
}

TEST_F(EngineTest, RetryAfterCrashBetweenPartitionAppendsCompletesTheMissingOnes) {
  options_.default_partitions = 4;
  Open();
  log::TopicConfig config;
  config.name = "crashy";
  config.partitions = 4;
  ASSERT_TRUE(engine_->log().CreateTopic(config).ok());
  // What the engine would have appended to the first partition before "crashing": event 0,
  // tagged with the key, on the partition the key's round-robin starts at.
  const std::string key = "batch-7";
  const int32_t start = log::PartitionForKey(key, 4).value();
  {
    auto topic = engine_->log().GetTopic("crashy");
    ASSERT_TRUE(topic.ok());
    log::RecordBatchBuilder builder;
    const log::RecordHeader tag{"sluice.idempotency-key", key};
    builder.Add(Clock::Real()->Now(), std::nullopt, "{\"i\":0}",
                std::span<const log::RecordHeader>(&tag, 1));
    std::promise<Result<log::AppendResult>> done;
    (*topic)->partition(PartitionId(start)).Append(builder.Finish(), [&](auto r) {
      done.set_value(std::move(r));
    });
    ASSERT_TRUE(done.get_future().get().ok());
  }
  Open();
  IngestResponse r = Ingest("crashy", "{\"i\":0}\n{\"i\":1}\n{\"i\":2}\n{\"i\":3}\n", key);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_FALSE(r.duplicate);
  EXPECT_EQ(r.accepted, 4);
  ASSERT_EQ(r.appends.size(), 4u);
  for (int32_t p = 0; p < 4; ++p) {
    auto records = ReadAll("crashy", p);
    ASSERT_EQ(records.size(), 1u) << "partition " << p;
    const int32_t i = (p - start + 4) % 4;
    EXPECT_EQ(records[0].value, "{\"i\":" + std::to_string(i) + "}");
  }
}

TEST_F(EngineTest, UnknownTopicIsNotFoundWhenAutoCreateIsOff) {
  options_.auto_create_topics = false;
  Open();
  IngestResponse r = Ingest("missing", "{\"a\":1}");
  EXPECT_EQ(r.status.code(), StatusCode::kNotFound);
  EXPECT_FALSE(engine_->log().GetTopic("missing").ok());
  EXPECT_FALSE(engine_->log().GetTopic("missing.dlq").ok());
}

TEST_F(EngineTest, UnsplittableBodiesAreInvalidArgument) {
  Open();
  EXPECT_EQ(Ingest("t", "").status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Ingest("t", "  \n ").status.code(), StatusCode::kInvalidArgument);
  IngestResponse r = Ingest("t", "[{\"a\":1},");
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(EndOffset("t", 0), 0);
}

TEST_F(EngineTest, InvalidTopicNameIsInvalidArgument) {
  Open();
  EXPECT_EQ(Ingest("bad/name", "{}").status.code(), StatusCode::kInvalidArgument);
}

TEST_F(EngineTest, DeleteTopicForgetsIdempotencyKeys) {
  Open();
  ASSERT_TRUE(Ingest("gone", "{}", "k").status.ok());
  ASSERT_TRUE(engine_->DeleteTopic("gone").ok());
  IngestResponse r = Ingest("gone", "{}", "k");
  ASSERT_TRUE(r.status.ok());
  EXPECT_FALSE(r.duplicate);
  EXPECT_EQ(engine_->DeleteTopic("never").code(), StatusCode::kNotFound);
}

TEST_F(EngineTest, IngestAfterCloseIsUnavailable) {
  Open();
  ASSERT_TRUE(engine_->Close().ok());
  EXPECT_FALSE(engine_->ready());
  EXPECT_EQ(Ingest("t", "{}").status.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(engine_->Close().ok());
}

}  // namespace
}  // namespace sluice::engine
