#include "connectors/kafka/kafka_connector.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "engine/sql_executor.h"
#include "log/record_batch.h"
#include "log/tagged_batch.h"

// The Kafka source connector against librdkafka's own mock cluster (a real Kafka protocol
// server inside the test process): what the connector copies into the embedded log, that a
// restart neither loses nor repeats a record, and the errors of bad options.
namespace sluice::connectors {
namespace {

using namespace std::chrono_literals;

struct Copied {
  std::optional<std::string> key;
  std::optional<std::string> value;
  int64_t timestamp = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // the producer's, in order
  bool operator==(const Copied&) const = default;
};

// Commits offsets for `group` with a plain consumer (OffsetCommit), as Kafka tools can.
void CommitOffsets(const std::string& servers, const std::string& group, const std::string& topic,
                   const std::vector<std::pair<int32_t, int64_t>>& offsets) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", servers.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", group.c_str(), err, sizeof err);
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  ASSERT_NE(consumer, nullptr) << err;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const auto& [p, o] : offsets) rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = o;
  EXPECT_EQ(rd_kafka_commit(consumer, list, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
}

class KafkaConnectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/kafka_source_test_" + std::to_string(::getpid());
    std::filesystem::remove_all(dir_);
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    ASSERT_EQ(rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err), RD_KAFKA_CONF_OK);
    owner_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    ASSERT_NE(owner_, nullptr) << err;
    cluster_ = rd_kafka_mock_cluster_new(owner_, 1);
    ASSERT_NE(cluster_, nullptr);
    servers_ = rd_kafka_mock_cluster_bootstraps(cluster_);
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, "orders", 3, 1), RD_KAFKA_RESP_ERR_NO_ERROR);

    conf = rd_kafka_conf_new();
    ASSERT_EQ(rd_kafka_conf_set(conf, "bootstrap.servers", servers_.c_str(), err, sizeof err), RD_KAFKA_CONF_OK);
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    ASSERT_NE(producer_, nullptr) << err;
    OpenLog();
  }

  void TearDown() override {
    sql_.reset();
    if (log_) (void)log_->Close();
    if (producer_) rd_kafka_destroy(producer_);
    if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
    if (owner_) rd_kafka_destroy(owner_);
    std::filesystem::remove_all(dir_);
  }

  void OpenLog() {
    sql_.reset();
    if (log_) (void)log_->Close();
    log::LogOptions options;
    options.dir = dir_ + "/log";
    options.fsync = log::FsyncPolicy::kNever;
    std::filesystem::create_directories(options.dir);
    auto log = log::Log::Open(options);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
  }

  void OpenSql() {
    auto sql = engine::SqlExecutor::Open(FileSystem::Default(), dir_ + "/catalog", log_.get(), 2, &metrics_, {}, 1000,
                                         KafkaConnectors());
    ASSERT_TRUE(sql.ok()) << sql.status().ToString();
    sql_ = std::move(sql).value();
  }

  // Produces `n` records round-robin over the three partitions; record i has key "k<i % 7>",
  // value {"id": i, ...}, timestamp 1'700'000'000'000 + i and a header. Returns them per partition.
  void Produce(int from, int n, std::vector<std::vector<Copied>>* expected) {
    expected->resize(3);
    for (int i = from; i < from + n; ++i) {
      const std::string key = "k" + std::to_string(i % 7);
      const std::string value = "{\"id\": " + std::to_string(i) + ", \"k\": \"" + key + "\"}";
      const std::string h = "h" + std::to_string(i);
      const int64_t ts = 1'700'000'000'000 + i;
      rd_kafka_resp_err_t err = rd_kafka_producev(
          producer_, RD_KAFKA_V_TOPIC("orders"), RD_KAFKA_V_PARTITION(i % 3),
          RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(ts),
          RD_KAFKA_V_HEADER("trace", h.data(), static_cast<ssize_t>(h.size())), RD_KAFKA_V_END);
      ASSERT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
      (*expected)[static_cast<size_t>(i % 3)].push_back(Copied{key, value, ts, {{"trace", h}}});
    }
    ASSERT_EQ(rd_kafka_flush(producer_, 10'000), RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  // Every record of the local topic's partition p, without sluice's tag headers; counts the
  // batches and checks that each one's first record carries the tag.
  std::vector<Copied> Read(const std::string& topic_name, int32_t p, int* batches = nullptr) {
    std::vector<Copied> out;
    auto topic = log_->GetTopic(topic_name);
    EXPECT_TRUE(topic.ok());
    if (!topic.ok()) return out;
    log::Partition& partition = (*topic)->partition(PartitionId(p));
    Offset at = partition.Info().start_offset;
    while (at < partition.Info().end_offset) {
      auto read = partition.Read(at, 1 << 20);
      EXPECT_TRUE(read.ok());
      if (!read.ok() || read->bytes.empty()) break;
      std::string_view rest(read->bytes);
      while (!rest.empty()) {
        auto h = log::DecodeBatchHeader(rest);
        EXPECT_TRUE(h.ok());
        if (!h.ok()) return out;
        log::RecordReader reader(rest.substr(0, h->total_size()), h->base_offset);
        rest.remove_prefix(h->total_size());
        if (batches != nullptr) ++*batches;
        log::Record record;
        bool first = true;
        while (reader.Next(&record)) {
          Copied c;
          if (record.key) c.key = std::string(*record.key);
          if (record.value) c.value = std::string(*record.value);
          c.timestamp = record.timestamp.value();
          bool tagged = false;
          for (const log::RecordHeader& rh : record.headers) {
            if (rh.key == kKafkaSourceHeader || rh.key == kKafkaSourceOffsetHeader) {
              tagged = true;
              continue;
            }
            if (rh.key == kKafkaSourceAtHeader) continue;  // checked by source_copy_test.cc
            c.headers.emplace_back(std::string(rh.key), rh.value ? std::string(*rh.value) : std::string("<null>"));
          }
          EXPECT_EQ(tagged, first) << "only the first record of a batch is tagged";
          first = false;
          out.push_back(std::move(c));
        }
      }
      at = read->next_offset;
    }
    return out;
  }

  int64_t Total(const std::string& topic_name) {
    auto topic = log_->GetTopic(topic_name);
    if (!topic.ok()) return -1;
    int64_t n = 0;
    for (int32_t p = 0; p < (*topic)->partition_count(); ++p) n += (*topic)->partition(PartitionId(p)).Info().end_offset.value();
    return n;
  }

  // Waits (up to 30 s) until the topic holds `n` records.
  bool WaitFor(const std::string& topic_name, int64_t n) {
    for (auto deadline = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < deadline;) {
      if (Total(topic_name) >= n) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  sql::CatalogEntry Entry(const std::string& name, sql::WithOptions options) {
    sql::CatalogEntry e;
    e.kind = sql::ObjectKind::kSource;
    e.name = name;
    e.topic = name;
    e.options = std::move(options);
    return e;
  }
  sql::WithOptions Options() {
    return {{"connector", "kafka"}, {"topic", "orders"}, {"properties.bootstrap.servers", servers_}};
  }

  std::string dir_;
  rd_kafka_t* owner_ = nullptr;  // owns the mock cluster
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string servers_;
  rd_kafka_t* producer_ = nullptr;
  MetricsRegistry metrics_;
  std::unique_ptr<log::Log> log_;
  std::unique_ptr<engine::SqlExecutor> sql_;
};

TEST_F(KafkaConnectorTest, CopiesEveryPartitionInOrderAndResumesAfterARestartWithoutRepeats) {
  std::vector<std::vector<Copied>> expected;
  Produce(0, 3000, &expected);
  auto factory = NewKafkaConnectorFactory();
  const sql::CatalogEntry entry = Entry("src", Options());
  ASSERT_TRUE(factory->CheckOptions(entry).ok());
  Result<int32_t> partitions = factory->Prepare(entry);
  ASSERT_TRUE(partitions.ok()) << partitions.status().ToString();
  EXPECT_EQ(*partitions, 3);
  log::TopicConfig config;
  config.name = "src";
  config.partitions = 3;
  ASSERT_TRUE(log_->CreateTopic(config).ok());
  {
    auto running = factory->Start(entry, *log_->GetTopic("src"), &metrics_, nullptr);
    ASSERT_TRUE(running.ok()) << running.status().ToString();
    ASSERT_TRUE(WaitFor("src", 3000));
  }
  for (int32_t p = 0; p < 3; ++p) EXPECT_EQ(Read("src", p), expected[static_cast<size_t>(p)]) << "partition " << p;
  EXPECT_NE(metrics_.Render().find("sluice_kafka_source_records_total{source=\"src\"} 3000"), std::string::npos);

  // Stopped: more records arrive. The consumer group's committed offsets are set back to 0 (as
  // if the commits after the appends had been lost in a crash): the connector resumes from
  // what the log holds, not from them.
  Produce(3000, 1500, &expected);
  CommitOffsets(servers_, "sluice-src", "orders", {{0, 0}, {1, 0}, {2, 0}});
  OpenLog();  // a restart of the process: the log is recovered from its files
  {
    auto running = factory->Start(entry, *log_->GetTopic("src"), &metrics_, nullptr);
    ASSERT_TRUE(running.ok());
    ASSERT_TRUE(WaitFor("src", 4500));
    std::this_thread::sleep_for(300ms);  // anything extra would have arrived by now
  }
  EXPECT_EQ(Total("src"), 4500);
  int batches = 0;
  for (int32_t p = 0; p < 3; ++p) {
    EXPECT_EQ(Read("src", p, &batches), expected[static_cast<size_t>(p)]) << "partition " << p;
  }
  EXPECT_GE(batches, 6);  // at least one batch per partition and run
}

TEST_F(KafkaConnectorTest, CopiesOddRecordsAsTheyAre) {
  // Null keys and values, empty and binary values, a value of 900 KB: copied byte for byte
  // (a view later rejects what is not JSON to the DLQ, as for any event in the log).
  const std::string big(900'000, 'x');
  const std::string binary("\0\xff\x01{", 4);
  struct Odd {
    const char* key;
    size_t key_len;
    const char* value;
    size_t value_len;
  };
  const std::vector<Odd> odd = {
      {nullptr, 0, "{}", 2}, {"k", 1, nullptr, 0}, {"", 0, "", 0}, {"b", 1, binary.data(), binary.size()},
      {"big", 3, big.data(), big.size()}};
  for (const Odd& o : odd) {
    ASSERT_EQ(rd_kafka_producev(producer_, RD_KAFKA_V_TOPIC("orders"), RD_KAFKA_V_PARTITION(1),
                                RD_KAFKA_V_KEY(o.key, o.key_len), RD_KAFKA_V_VALUE(const_cast<char*>(o.value), o.value_len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  ASSERT_EQ(rd_kafka_flush(producer_, 10'000), RD_KAFKA_RESP_ERR_NO_ERROR);
  auto factory = NewKafkaConnectorFactory();
  log::TopicConfig config;
  config.name = "odd";
  config.partitions = 3;
  ASSERT_TRUE(log_->CreateTopic(config).ok());
  auto running = factory->Start(Entry("odd", Options()), *log_->GetTopic("odd"), &metrics_, nullptr);
  ASSERT_TRUE(running.ok());
  ASSERT_TRUE(WaitFor("odd", 5));
  std::vector<Copied> got = Read("odd", 1);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0].key, std::nullopt);
  EXPECT_EQ(got[0].value, "{}");
  EXPECT_EQ(got[1].key, "k");
  EXPECT_EQ(got[1].value, std::nullopt);
  EXPECT_EQ(got[2].value, "");
  EXPECT_EQ(got[3].value, binary);
  EXPECT_EQ(got[4].value, big);
}

TEST_F(KafkaConnectorTest, BadOptionsAreRefusedWithTheReason) {
  auto factory = NewKafkaConnectorFactory();
  auto check = [&](sql::WithOptions options) { return factory->CheckOptions(Entry("s", std::move(options))); };
  Status s = check({{"connector", "kafka"}, {"properties.bootstrap.servers", servers_}});
  EXPECT_NE(s.message().find("needs option 'topic'"), std::string::npos) << s.ToString();
  s = check({{"connector", "kafka"}, {"topic", "orders"}});
  EXPECT_NE(s.message().find("properties.bootstrap.servers"), std::string::npos) << s.ToString();
  sql::WithOptions o = Options();
  o["colour"] = "blue";
  s = check(o);
  EXPECT_NE(s.message().find("unknown option 'colour'"), std::string::npos) << s.ToString();
  o = Options();
  o["properties.no.such.property"] = "1";
  s = check(o);
  EXPECT_NE(s.message().find("properties.no.such.property"), std::string::npos) << s.ToString();
  o = Options();
  o["properties.enable.auto.commit"] = "true";
  s = check(o);
  EXPECT_NE(s.message().find("cannot be set"), std::string::npos) << s.ToString();
  o = Options();
  o["scale_out"] = "maybe";
  s = check(o);
  EXPECT_NE(s.message().find("scale_out"), std::string::npos) << s.ToString();
  o = Options();
  o["scale_out"] = "true";
  EXPECT_TRUE(check(o).ok());
  EXPECT_TRUE(factory->ScalesOut(Entry("s", o)));
  EXPECT_FALSE(factory->ScalesOut(Entry("s", Options())));
  o = Options();
  o["startup_mode"] = "middle";
  s = check(o);
  EXPECT_NE(s.message().find("startup_mode"), std::string::npos) << s.ToString();

  // (A topic missing from the cluster is tested against sluice's own Kafka listener, in
  // tests/system/test_kafka_source.py: the mock cluster creates topics on demand.)
  o = Options();
  o["properties.bootstrap.servers"] = "127.0.0.1:1";
  Result<int32_t> unreachable = factory->Prepare(Entry("s", o));
  EXPECT_EQ(unreachable.status().code(), StatusCode::kUnavailable) << unreachable.status().ToString();
}

TEST_F(KafkaConnectorTest, AViewOverAKafkaSourceCountsEveryRecordOnceAcrossRestarts) {
  std::vector<std::vector<Copied>> expected;
  Produce(0, 700, &expected);
  OpenSql();
  const std::string create = "CREATE SOURCE orders (id BIGINT, k VARCHAR) WITH (connector = 'kafka', topic = 'orders', "
                             "properties.bootstrap.servers = '" + servers_ + "')";
  ASSERT_TRUE(sql_->Execute(create).ok());
  ASSERT_TRUE(sql_->Execute("CREATE MATERIALIZED VIEW per_key AS SELECT k, count(*) AS n, CAST(sum(id) AS BIGINT) AS s FROM orders "
                            "GROUP BY k").ok());
  auto rows = [&]() -> std::map<std::string, std::pair<int64_t, int64_t>> {
    auto r = sql_->Execute("SELECT k, n, s FROM per_key");
    std::map<std::string, std::pair<int64_t, int64_t>> out;
    if (!r.ok()) return out;
    for (const auto& row : (*r)[0].rows) out[row[0].string()] = {row[1].int64(), row[2].int64()};
    return out;
  };
  auto wait_rows = [&](int64_t n) {
    for (auto deadline = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < deadline;) {
      int64_t total = 0;
      for (const auto& [k, v] : rows()) total += v.first;
      if (total >= n) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  };
  ASSERT_TRUE(wait_rows(700));
  Produce(700, 700, &expected);
  OpenLog();  // closes the executor (connectors and views) and the log, as a restart
  OpenSql();
  ASSERT_TRUE(wait_rows(1400));
  std::this_thread::sleep_for(300ms);
  std::map<std::string, std::pair<int64_t, int64_t>> want;
  for (int i = 0; i < 1400; ++i) {
    auto& [n, s] = want["k" + std::to_string(i % 7)];
    ++n;
    s += i;
  }
  EXPECT_EQ(rows(), want);

  // Options are checked at CREATE, and the cluster must answer.
  auto bad = sql_->Execute("CREATE SOURCE nope (id BIGINT) WITH (connector = 'kafka', topic = 'orders', "
                           "properties.bootstrap.servers = '127.0.0.1:1')");
  EXPECT_EQ(bad.status().code(), StatusCode::kUnavailable) << bad.status().ToString();
  EXPECT_FALSE(sql_->catalog().Exists("nope"));
  bad = sql_->Execute("CREATE SOURCE nope (id BIGINT) WITH (connector = 'kafkaa', topic = 'orders')");
  EXPECT_NE(bad.status().message().find("known: embedded, kafka"), std::string::npos) << bad.status().ToString();
  EXPECT_TRUE(sql_->Execute("DROP MATERIALIZED VIEW per_key; DROP SOURCE orders").ok());
}

// Appends `n` rows ("row<i>") to the sink topic's partition 0 as one batch; the first record
// carries the engine's bookkeeping headers. With a producer id the batch is transactional.
void AppendRows(log::Partition& partition, int from, int n, int64_t producer_id = -1) {
  log::RecordBatchBuilder builder;
  for (int i = from; i < from + n; ++i) {
    const std::string value = "{\"row\": " + std::to_string(i) + "}";
    std::vector<log::RecordHeader> headers = {{"sluice-op", "insert"}};
    if (i == from) {
      headers.push_back({"sluice-sink", "s"});
      headers.push_back({"sluice-sink-offsets", "0:0=1"});
    }
    builder.Add(TimestampMs(1'700'000'000'000 + i), std::nullopt, value, headers);
  }
  log::EncodedBatch batch = builder.Finish();
  if (producer_id >= 0) log::SetProducerFields(&batch, producer_id, 0, from, /*transactional=*/true);
  ASSERT_TRUE(log::AppendAndWait(partition, std::move(batch)).ok());
}

// Every record of the external topic `out` a read_committed consumer sees, as "value header=..."
// ("key|value header=..." with `with_key`).
std::vector<std::string> ConsumeCommitted(const std::string& servers, size_t want, bool with_key = false) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", servers.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", "reader", err, sizeof err);
  rd_kafka_conf_set(conf, "isolation.level", "read_committed", err, sizeof err);
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, "out", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(consumer, list);
  rd_kafka_topic_partition_list_destroy(list);
  std::vector<std::string> out;
  for (auto deadline = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < deadline;) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
    if (m == nullptr) {
      if (out.size() >= want) break;  // and nothing more came within 100 ms
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::string row(static_cast<const char*>(m->payload), m->len);
      if (with_key) row = (m->key ? std::string(static_cast<const char*>(m->key), m->key_len) : "<null>") + "|" + row;
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* value;
        size_t size;
        for (size_t h = 0; rd_kafka_header_get_all(hdrs, h, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++h) {
          row += std::string(" ") + name + "=" + std::string(static_cast<const char*>(value), size);
        }
      }
      out.push_back(row);
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  return out;
}

TEST_F(KafkaConnectorTest, SinkDeliversCommittedRowsOnceAndResumesFromThePositionItCommitted) {
  ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, "out", 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  log::TopicConfig config;
  config.name = "s_out";
  ASSERT_TRUE(log_->CreateTopic(config).ok());
  log::Partition& partition = (*log_->GetTopic("s_out"))->partition(PartitionId(0));
  const int64_t pid = int64_t{1} << 62;
  AppendRows(partition, 0, 100);                // plain data: committed
  AppendRows(partition, 100, 10, pid);          // a transaction that is aborted
  ASSERT_TRUE(log::AppendAndWait(partition, log::BuildControlBatch(pid, 0, log::ControlType::kAbort, TimestampMs(1))).ok());
  AppendRows(partition, 110, 20, pid);          // one that commits
  ASSERT_TRUE(log::AppendAndWait(partition, log::BuildControlBatch(pid, 0, log::ControlType::kCommit, TimestampMs(1))).ok());
  AppendRows(partition, 130, 5, pid);           // one still open: not delivered yet

  sql::CatalogEntry entry = Entry("s", {{"connector", "kafka"}, {"topic", "out"}, {"properties.bootstrap.servers", servers_}});
  entry.kind = sql::ObjectKind::kSink;
  entry.topic = "s_out";
  auto factory = NewKafkaConnectorFactory();
  ASSERT_TRUE(factory->CheckOptions(entry).ok()) << factory->CheckOptions(entry).ToString();
  ASSERT_TRUE(factory->Prepare(entry).ok());
  std::vector<std::string> want;
  for (int i = 0; i < 100; ++i) want.push_back("{\"row\": " + std::to_string(i) + "} sluice-op=insert");
  for (int i = 110; i < 130; ++i) want.push_back("{\"row\": " + std::to_string(i) + "} sluice-op=insert");
  {
    auto running = factory->Start(entry, *log_->GetTopic("s_out"), &metrics_, nullptr);
    ASSERT_TRUE(running.ok()) << running.status().ToString();
    EXPECT_EQ(ConsumeCommitted(servers_, want.size()), want);
  }
  // librdkafka's mock cluster acknowledges a transaction's offset commit without storing it
  // (sluice's own Kafka listener stores it: tests/system/test_kafka_sink.py restarts a sink
  // against it). So the position the sink's transactions commit is stored here with a plain
  // offset commit for the sink's group: offset 132, where the open transaction starts (rows
  // 0..99 at 0..99, the aborted ones at 100..109, ABORT at 110, rows 110..129 at 111..130, COMMIT
  // at 131), as far as the sink could go.
  CommitOffsets(servers_, "sluice-sink-s", "out", {{0, 132}});
  // The open transaction commits while the sink is stopped, and more rows come: the restarted
  // sink sends those, from the committed position, and nothing it had sent before.
  ASSERT_TRUE(log::AppendAndWait(partition, log::BuildControlBatch(pid, 0, log::ControlType::kCommit, TimestampMs(1))).ok());
  AppendRows(partition, 135, 50);
  for (int i = 130; i < 185; ++i) want.push_back("{\"row\": " + std::to_string(i) + "} sluice-op=insert");
  {
    auto running = factory->Start(entry, *log_->GetTopic("s_out"), &metrics_, nullptr);
    ASSERT_TRUE(running.ok());
    EXPECT_EQ(ConsumeCommitted(servers_, want.size()), want);
  }
  EXPECT_NE(metrics_.Render().find("sluice_kafka_sink_records_total{sink=\"s\"} 175"), std::string::npos)
      << metrics_.Render();
}

TEST_F(KafkaConnectorTest, ASinkOverAScaledOutSourceDeliversTheOwnedPartitionsRowsKeyedOnce) {
  ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, "out", 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  std::vector<std::vector<Copied>> expected;
  Produce(0, 60, &expected);
  OpenSql();
  const std::string kafka = "connector = 'kafka', properties.bootstrap.servers = '" + servers_ + "'";
  auto created = sql_->Execute("CREATE SOURCE orders (id BIGINT, k VARCHAR) WITH (" + kafka +
                               ", topic = 'orders', group_id = 'g', scale_out = 'true', "
                               "properties.session.timeout.ms = '6000')");
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  created = sql_->Execute("CREATE SINK evens INTO out WITH (" + kafka +
                          ", key = 'k') AS SELECT id, k FROM orders WHERE id % 2 = 0");
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  // The only member of group g owns all three partitions: every even id, keyed by k, once.
  std::vector<std::string> want;
  for (int i = 0; i < 60; i += 2) {
    const std::string k = "k" + std::to_string(i % 7);
    want.push_back(k + "|{\"id\":" + std::to_string(i) + ",\"k\":\"" + k + "\"} sluice-op=insert");
  }
  std::vector<std::string> got = ConsumeCommitted(servers_, want.size(), /*with_key=*/true);
  std::sort(got.begin(), got.end());  // partitions are delivered by separate tasks
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  const std::string metrics = metrics_.Render();
  EXPECT_NE(metrics.find("sluice_kafka_sink_records_total{sink=\"evens\"} 30"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("sluice_kafka_sink_partitions{sink=\"evens\"} 3"), std::string::npos) << metrics;
  // It has no topic in the embedded log: its tasks send straight from the source's copy.
  EXPECT_FALSE(log_->GetTopic("out").ok());
  EXPECT_TRUE(sql_->Execute("DROP SINK evens; DROP SOURCE orders").ok());
}

}  // namespace
}  // namespace sluice::connectors
