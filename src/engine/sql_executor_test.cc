#include "engine/sql_executor.h"

#include "log/record_batch.h"
#include "log/testing/fault_injection_file_system.h"
#include "sql/catalog.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <thread>

#include <gtest/gtest.h>

namespace sluice::engine {
namespace {

class SqlExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("sluice-sql-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    std::filesystem::remove_all(dir_);
    Reopen();
  }
  void TearDown() override {
    sql_.reset();
    if (log_) (void)log_->Close();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    sql_.reset();
    if (log_) (void)log_->Close();
    log::LogOptions options;
    options.dir = dir_ + "/log";
    std::filesystem::create_directories(options.dir);
    auto log = log::Log::Open(options);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
    auto sql = SqlExecutor::Open(fs_, dir_ + "/catalog", log_.get(), 2, metrics_,
                                 checkpoint_interval_ms_ > 0 ? dir_ + "/checkpoints" : std::string(),
                                 checkpoint_interval_ms_);
    ASSERT_TRUE(sql.ok()) << sql.status().ToString();
    sql_ = std::move(sql).value();
  }
  std::vector<StatementResult> Ok(const std::string& text) {
    auto r = sql_->Execute(text);
    EXPECT_TRUE(r.ok()) << text << "\n" << r.status().ToString();
    return r.ok() ? std::move(r).value() : std::vector<StatementResult>{};
  }
  Status Fails(const std::string& text) {
    auto r = sql_->Execute(text);
    EXPECT_FALSE(r.ok()) << text;
    return r.ok() ? Status::Ok() : r.status();
  }

  std::string dir_;
  FileSystem* fs_ = FileSystem::Default();  // of the catalog and the checkpoints
  MetricsRegistry* metrics_ = nullptr;
  int64_t checkpoint_interval_ms_ = 0;  // > 0: checkpoints under dir_/checkpoints
  // For tests that point fs_ and metrics_ here: members, so they outlive the views' threads,
  // which TearDown stops.
  log::testing::FaultInjectionFileSystem fault_fs_;
  MetricsRegistry registry_;
  std::unique_ptr<log::Log> log_;
  std::unique_ptr<SqlExecutor> sql_;
};

constexpr const char* kBid = R"(CREATE SOURCE bid (
  auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, date_time TIMESTAMP, extra VARCHAR,
  WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (topic = 'bid', format = 'json'))";

TEST_F(SqlExecutorTest, CreateSourceMakesTheTopicAndSurvivesRestart) {
  auto r = Ok(kBid);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].command, "CREATE SOURCE");
  EXPECT_TRUE(log_->GetTopic("bid").ok());
  Ok("CREATE TABLE auctions (id BIGINT PRIMARY KEY, seller BIGINT, category BIGINT) WITH (topic = 'auction')");
  auto auction_topic = log_->DescribeTopic("auction");
  ASSERT_TRUE(auction_topic.ok());
  EXPECT_EQ(auction_topic->config.key_field, "id");
  Reopen();
  auto shown = Ok("SHOW SOURCES; SHOW TABLES");
  ASSERT_EQ(shown.size(), 2u);
  ASSERT_EQ(shown[0].rows.size(), 1u);
  EXPECT_EQ(shown[0].rows[0][0].string(), "bid");
  EXPECT_EQ(shown[1].rows[0][1].string(), "auction");
  auto described = Ok("DESCRIBE auctions");
  ASSERT_EQ(described[0].rows.size(), 3u);
  EXPECT_EQ(described[0].rows[0][1].string(), "BIGINT");
  EXPECT_TRUE(described[0].rows[0][3].boolean());
}

TEST_F(SqlExecutorTest, ExplainShowsTheLogicalPlan) {
  Ok(kBid);
  auto r = Ok("EXPLAIN CREATE MATERIALIZED VIEW v AS SELECT auction, count(*) FROM TUMBLE(bid, date_time, "
              "INTERVAL '10' SECOND) GROUP BY auction, window_start EMIT ON WINDOW CLOSE");
  ASSERT_EQ(r.size(), 1u);
  std::string plan;
  for (const auto& row : r[0].rows) plan += row[0].string() + "\n";
  EXPECT_NE(plan.find("EmitOnWindowClose"), std::string::npos) << plan;
  EXPECT_NE(plan.find("Aggregate"), std::string::npos) << plan;
  EXPECT_NE(plan.find("Window TUMBLE"), std::string::npos) << plan;
  EXPECT_NE(plan.find("Scan source bid"), std::string::npos) << plan;
}

TEST_F(SqlExecutorTest, DescribeGivesColumnsWithoutRunning) {
  Ok(kBid);
  auto cols = sql_->Describe("SELECT auction, count(*) AS n, max(price) AS top FROM bid GROUP BY auction");
  ASSERT_TRUE(cols.ok()) << cols.status().ToString();
  ASSERT_EQ(cols->size(), 3u);
  EXPECT_EQ((*cols)[1].name, "n");
  EXPECT_EQ((*cols)[2].type, sql::DataType::Bigint());
  auto show = sql_->Describe("SHOW SOURCES");
  ASSERT_TRUE(show.ok());
  EXPECT_EQ(show->size(), 3u);
  // DDL describes as no columns and does not run.
  auto ddl = sql_->Describe("DROP SOURCE bid");
  ASSERT_TRUE(ddl.ok());
  EXPECT_TRUE(ddl->empty());
  EXPECT_EQ(Ok("SHOW SOURCES")[0].rows.size(), 1u);
  EXPECT_FALSE(sql_->Describe("SELECT nope FROM bid").ok());
}

TEST_F(SqlExecutorTest, ErrorsAreClear) {
  Ok(kBid);
  EXPECT_EQ(Fails(kBid).message(), "source \"bid\" already exists");
  Ok(std::string(kBid).replace(0, 13, "CREATE SOURCE IF NOT EXISTS"));
  EXPECT_NE(Fails("CREATE SOURCE s (a INT, a BIGINT)").message().find("specified more than once"), std::string::npos);
  EXPECT_NE(Fails("CREATE SOURCE s (a INT, WATERMARK FOR a AS a)").message().find("must be TIMESTAMP"),
            std::string::npos);
  EXPECT_NE(Fails("CREATE SOURCE s (a INT) WITH (colour = 'blue')").message().find("unknown option 'colour'"),
            std::string::npos);
  EXPECT_NE(Fails("CREATE SOURCE s (a INT) WITH (format = 'avro')").message().find("not supported yet"),
            std::string::npos);
  EXPECT_NE(Fails("CREATE TABLE t (a INT)").message().find("PRIMARY KEY"), std::string::npos);
  EXPECT_NE(Fails("SELECT nope FROM bid").message().find("column \"nope\" does not exist"), std::string::npos);
  EXPECT_TRUE(Ok("SELECT * FROM bid")[0].rows.empty());
  EXPECT_NE(Fails("CREATE SINK s INTO bid AS SELECT auction FROM bid").message().find("a loop"), std::string::npos);
  EXPECT_NE(Fails("CREATE SINK s INTO t AS SELECT nope FROM bid").message().find("column \"nope\" does not exist"),
            std::string::npos);
  EXPECT_EQ(Fails("DROP SOURCE nope").code(), StatusCode::kNotFound);
  Ok("DROP SOURCE IF EXISTS nope");
  Ok("DROP SOURCE bid");
  Reopen();
  EXPECT_TRUE(Ok("SHOW SOURCES")[0].rows.empty());
}

}  // namespace
}  // namespace sluice::engine

namespace sluice::engine {
namespace {

class MaterializedViewTest : public SqlExecutorTest {
 protected:
  static std::vector<std::string> ThreeBids() {
    return {R"({"auction": 1, "price": 10, "date_time": "2026-01-01T00:00:01Z"})",
            R"({"auction": 2, "price": 20, "date_time": "2026-01-01T00:00:02Z"})",
            R"({"auction": 1, "price": 30, "date_time": "2026-01-01T00:00:03Z"})"};
  }

  // A result as text: "name:TYPE ..." then "| v v" per row.
  static std::string TableText(const StatementResult& r) {
    std::string out;
    for (const ResultColumn& c : r.columns) out += c.name + ":" + std::string(c.type.ToString()) + " ";
    for (const auto& row : r.rows) {
      out += "|";
      for (const auto& v : row) out += " " + v.ToString();
    }
    return out;
  }

  // CREATE MATERIALIZED VIEW per_auction AS SELECT auction, <aggregates> FROM bid GROUP BY
  // auction; true once it holds both auctions of ThreeBids().
  bool CreatePerAuction(const std::string& aggregates) {
    Ok("CREATE MATERIALIZED VIEW per_auction AS SELECT auction, " + aggregates + " FROM bid GROUP BY auction");
    return !WaitFor("SELECT count(*) FROM per_auction", [](const StatementResult& r) { return r.rows[0][0].int64() == 2; })
                .empty();
  }

  void Ingest(const std::vector<std::string>& events) {
    auto topic = log_->GetTopic("bid");
    ASSERT_TRUE(topic.ok());
    log::RecordBatchBuilder builder;
    for (const std::string& e : events) builder.Add(TimestampMs(1), std::nullopt, e);
    std::promise<Status> done;
    (*topic)->partition(PartitionId(0)).Append(builder.Finish(), [&](Result<log::AppendResult> r) {
      done.set_value(r.status());
    });
    ASSERT_TRUE(done.get_future().get().ok());
  }
  // Polls the view until `pred` holds for its rows (the view catches up asynchronously).
  std::vector<StatementResult> WaitFor(const std::string& query, const std::function<bool(const StatementResult&)>& pred) {
    std::string last;
    for (int i = 0; i < 2000; ++i) {
      auto r = sql_->Execute(query);
      if (r.ok() && pred((*r)[0])) return std::move(r).value();
      last = r.ok() ? std::to_string((*r)[0].rows.size()) + " rows" : r.status().ToString();
      if (r.ok()) {
        for (const auto& row : (*r)[0].rows) {
          for (const auto& v : row) last += " " + v.ToString();
          last += ";";
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ADD_FAILURE() << "view never satisfied the condition: " << query << " (last: " << last << ")";
    return {};
  }
};

TEST_F(MaterializedViewTest, PointQueriesRunWithoutWaitingAndMatchExecute) {
  Ok(kBid);
  Ingest(ThreeBids());
  ASSERT_TRUE(CreatePerAuction("count(*) AS n, max(price) AS top"));
  const auto text = TableText;
  // The first lookup of a column builds its index: not without waiting.
  EXPECT_FALSE(sql_->TryPointQuery("SELECT * FROM per_auction WHERE auction = 1")->has_value());
  EXPECT_EQ(Ok("SELECT * FROM per_auction WHERE auction = 1")[0].rows.size(), 1u);
  // Answered through the view's index: the plain shapes without a dataflow, the others with one.
  for (const char* q : {"SELECT auction, n, top FROM per_auction WHERE auction = 1", "SELECT * FROM per_auction WHERE auction = 2",
                        "SELECT top, auction FROM per_auction WHERE 1 = auction", "SELECT auction FROM per_auction WHERE auction = 3",
                        "SELECT auction, n + 1 AS m FROM per_auction WHERE auction = 1",
                        "SELECT n FROM per_auction WHERE auction = 1 AND top > 100",
                        "SELECT count(*) FROM per_auction WHERE auction = '2'"}) {
    Result<std::optional<StatementResult>> point = sql_->TryPointQuery(q);
    ASSERT_TRUE(point.ok()) << q << ": " << point.status().ToString();
    ASSERT_TRUE(point->has_value()) << q;
    auto full = sql_->Execute(q);
    ASSERT_TRUE(full.ok()) << q;
    EXPECT_EQ(text(**point), text((*full)[0])) << q;
  }
  EXPECT_EQ(text(**sql_->TryPointQuery("SELECT top FROM per_auction WHERE auction = 1")), "top:BIGINT | 30");
  // Anything else is left to Execute, errors included.
  for (const char* q : {"SELECT * FROM per_auction", "SELECT * FROM bid WHERE auction = 1", "SELECT count(*) FROM bid",
                        "SELECT * FROM per_auction WHERE n > 1", "SELECT * FROM nope WHERE x = 1", "SELEC 1",
                        "DROP MATERIALIZED VIEW per_auction", "SELECT 1; SELECT 2"}) {
    Result<std::optional<StatementResult>> point = sql_->TryPointQuery(q);
    ASSERT_TRUE(point.ok()) << q;
    EXPECT_FALSE(point->has_value()) << q;
  }
  Ok("DROP MATERIALIZED VIEW per_auction");
  EXPECT_FALSE(sql_->TryPointQuery("SELECT * FROM per_auction WHERE auction = 1")->has_value());
}

TEST_F(MaterializedViewTest, PointQueriesOfAKnownShapeSkipBindingAndFollowTheCatalog) {
  Ok(kBid);
  Ingest(ThreeBids());
  ASSERT_TRUE(CreatePerAuction("count(*) AS n, max(price) AS top"));
  const auto rows = TableText;
  Ok("SELECT * FROM per_auction WHERE auction = 1");  // builds the index
  auto point = [&](const std::string& q) {
    Result<std::optional<StatementResult>> r = sql_->TryPointQuery(q);
    EXPECT_TRUE(r.ok() && r->has_value()) << q;
    return r.ok() && r->has_value() ? rows(**r) : std::string("none");
  };
  EXPECT_EQ(sql_->cached_point_plans(), 0u);
  EXPECT_EQ(point("SELECT top, auction FROM per_auction WHERE auction = 1"), "top:BIGINT auction:BIGINT | 30 1");
  EXPECT_EQ(sql_->cached_point_plans(), 1u);
  // The same shape with other keys, from the plan: each as Execute answers it.
  for (const char* q : {"SELECT top, auction FROM per_auction WHERE auction = 2",
                        "SELECT top, auction FROM per_auction WHERE auction = 3",
                        "select top,auction from PER_AUCTION where auction=1"}) {
    EXPECT_EQ(point(q), rows(Ok(q)[0])) << q;
  }
  // A string key is another shape; converted to the column's type as binding does.
  EXPECT_EQ(point("SELECT top, auction FROM per_auction WHERE auction = '2'"), "top:BIGINT auction:BIGINT | 20 2");
  EXPECT_EQ(point("SELECT top, auction FROM per_auction WHERE auction = '1'"), "top:BIGINT auction:BIGINT | 30 1");
  EXPECT_EQ(sql_->cached_point_plans(), 2u);
  // A key that does not convert is binding's to refuse.
  Result<std::optional<StatementResult>> bad = sql_->TryPointQuery("SELECT top, auction FROM per_auction WHERE auction = 'x'");
  EXPECT_TRUE(!bad.ok() || !bad->has_value());
  (void)Fails("SELECT top, auction FROM per_auction WHERE auction = 'x'");

  // The view is replaced by one with other columns under the same name: the shape's plan is
  // stale and the query is bound again.
  Ok("DROP MATERIALIZED VIEW per_auction");
  EXPECT_FALSE(sql_->TryPointQuery("SELECT top, auction FROM per_auction WHERE auction = 1")->has_value());
  ASSERT_TRUE(CreatePerAuction("min(price) AS top, count(*) AS n"));
  Ok("SELECT * FROM per_auction WHERE auction = 1");
  EXPECT_EQ(point("SELECT top, auction FROM per_auction WHERE auction = 1"), "top:BIGINT auction:BIGINT | 10 1");
  EXPECT_EQ(point("SELECT top, auction FROM per_auction WHERE auction = 2"), "top:BIGINT auction:BIGINT | 20 2");
}

TEST_F(MaterializedViewTest, BackfillsThenFollowsTheLogAndSurvivesRestart) {
  Ok(kBid);
  Ingest({R"({"auction": 1, "price": 10, "date_time": "2026-01-01T00:00:01Z"})",
          R"({"auction": 2, "price": 20, "date_time": "2026-01-01T00:00:02Z"})",
          R"({"auction": 1, "price": 30, "date_time": "2026-01-01T00:00:03Z"})", R"({"auction": "x"})"});
  Ok("CREATE MATERIALIZED VIEW per_auction AS SELECT auction, count(*) AS n, max(price) AS top FROM bid GROUP BY auction");
  auto rows = [](const StatementResult& r) {
    std::vector<std::string> out;
    for (const auto& row : r.rows) out.push_back(row[0].ToString() + ":" + row[1].ToString() + ":" + row[2].ToString());
    return out;
  };
  const std::string q = "SELECT auction, n, top FROM per_auction ORDER BY auction";
  auto r = WaitFor(q, [](const StatementResult& r) { return r.rows.size() == 2; });
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(rows(r[0]), (std::vector<std::string>{"1:2:30", "2:1:20"}));
  // Live: a new event updates the group (the old row is retracted, the new one inserted).
  Ingest({R"({"auction": 2, "price": 99, "date_time": "2026-01-01T00:00:04Z"})"});
  r = WaitFor(q, [](const StatementResult& r) { return r.rows.size() == 2 && r.rows[1][1].int64() == 2; });
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(rows(r[0]), (std::vector<std::string>{"1:2:30", "2:2:99"}));
  // The view's source cannot be dropped while the view reads it.
  EXPECT_NE(Fails("DROP SOURCE bid").message().find("materialized view per_auction depends on it"), std::string::npos);
  Reopen();
  r = WaitFor(q, [](const StatementResult& r) { return r.rows.size() == 2 && r.rows[1][1].int64() == 2; });
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(rows(r[0]), (std::vector<std::string>{"1:2:30", "2:2:99"}));
  Ok("DROP MATERIALIZED VIEW per_auction");
  Ok("DROP SOURCE bid");
}

// Fails appends to files whose path contains `needle` while `fail` is set (a disk that is full
// for one topic only); everything else goes to the real file system.
class FailingAppendFileSystem final : public FileSystem {
 public:
  explicit FailingAppendFileSystem(std::string needle) : needle_(std::move(needle)) {}
  std::atomic<bool> fail{false};
  std::atomic<int> failed{0};

  Result<std::unique_ptr<File>> OpenFile(const std::string& path, bool create) override {
    SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<File> file, base_->OpenFile(path, create));
    if (path.find(needle_) == std::string::npos) return file;
    return std::unique_ptr<File>(new FailingFile(this, std::move(file)));
  }
  Result<std::string> ReadFile(const std::string& path) override { return base_->ReadFile(path); }
  Status WriteFileAtomic(const std::string& path, std::string_view data) override {
    return base_->WriteFileAtomic(path, data);
  }
  Status CreateDirs(const std::string& path) override { return base_->CreateDirs(path); }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override { return base_->ListDir(dir); }
  bool Exists(const std::string& path) override { return base_->Exists(path); }
  Result<uint64_t> FileSize(const std::string& path) override { return base_->FileSize(path); }
  Status RemoveFile(const std::string& path) override { return base_->RemoveFile(path); }
  Status RemoveAll(const std::string& path) override { return base_->RemoveAll(path); }
  Status Rename(const std::string& from, const std::string& to) override { return base_->Rename(from, to); }
  Status SyncDir(const std::string& dir) override { return base_->SyncDir(dir); }

 private:
  class FailingFile final : public File {
   public:
    FailingFile(FailingAppendFileSystem* fs, std::unique_ptr<File> base) : fs_(fs), base_(std::move(base)) {}
    Status Append(std::string_view data) override {
      if (fs_->fail.load()) {
        fs_->failed.fetch_add(1);
        return Status::FromErrno(ENOSPC, path());
      }
      return base_->Append(data);
    }
    Result<size_t> ReadAt(uint64_t offset, std::span<char> out) const override { return base_->ReadAt(offset, out); }
    Status Sync() override { return base_->Sync(); }
    Status Truncate(uint64_t size) override { return base_->Truncate(size); }
    uint64_t Size() const override { return base_->Size(); }
    const std::string& path() const override { return base_->path(); }

   private:
    FailingAppendFileSystem* fs_;
    std::unique_ptr<File> base_;
  };

  FileSystem* base_ = FileSystem::Default();
  std::string needle_;
};

// A sink's checkpoint must never cover output that is not in its topic yet: the round's rows
// are written first, and no checkpoint is taken while that write fails. Otherwise a crash after
// the checkpoint restores past rows that were never written (found by tests/chaos: a kill -9
// while a large checkpoint was being written lost a round of a join sink's output).
TEST_F(SqlExecutorTest, SinkCheckpointNeverCoversUnwrittenOutput) {
  FailingAppendFileSystem fs("sink_out");
  auto open = [&] {
    log::LogOptions options;
    options.dir = dir_ + "/log";
    options.fs = &fs;
    auto log = log::Log::Open(options);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
    auto sql = SqlExecutor::Open(FileSystem::Default(), dir_ + "/catalog", log_.get(), 1, nullptr,
                                 dir_ + "/checkpoints", /*checkpoint_interval_ms=*/0);
    ASSERT_TRUE(sql.ok()) << sql.status().ToString();
    sql_ = std::move(sql).value();
  };
  auto ingest = [&](int64_t id) {
    log::RecordBatchBuilder builder;
    builder.Add(TimestampMs(1), std::nullopt, "{\"id\": " + std::to_string(id) + "}");
    std::promise<Status> done;
    (*log_->GetTopic("ev"))->partition(PartitionId(0)).Append(builder.Finish(), [&](Result<log::AppendResult> r) {
      done.set_value(r.status());
    });
    ASSERT_TRUE(done.get_future().get().ok());
  };
  auto written = [&] {
    std::vector<std::string> out;
    auto topic = log_->GetTopic("sink_out");
    if (!topic.ok()) return out;
    auto read = (*topic)->partition(PartitionId(0)).Read(Offset(0), 1 << 20);
    if (!read.ok()) return out;
    log::RecordReader reader(read->bytes, Offset(0));
    log::Record record;
    while (reader.Next(&record)) out.emplace_back(record.value ? *record.value : "");
    return out;
  };
  auto wait_written = [&](size_t n) {
    for (int i = 0; i < 2000 && written().size() < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return written();
  };
  sql_.reset();
  (void)log_->Close();
  open();
  Ok("CREATE SOURCE ev (id BIGINT) WITH (topic = 'ev')");
  Ok("CREATE SINK s INTO sink_out AS SELECT id FROM ev");
  ingest(1);
  ASSERT_EQ(wait_written(1).size(), 1u);
  // The sink's topic is full: the round that reads id 2 cannot write it.
  fs.fail = true;
  ingest(2);
  for (int i = 0; i < 2000 && fs.failed.load() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_GE(fs.failed.load(), 3) << "the sink never tried to write";
  // Crash (the views stop without a last round), then restart with space again.
  sql_.reset();
  (void)log_->Close();
  fs.fail = false;
  open();
  ingest(3);
  EXPECT_EQ(wait_written(3), (std::vector<std::string>{R"({"id":1})", R"({"id":2})", R"({"id":3})"}));
  sql_.reset();  // before `fs` goes away
  (void)log_->Close();
  log_.reset();
}

TEST_F(MaterializedViewTest, UnsupportedViewShapesSaySo) {
  Ok(kBid);
  EXPECT_NE(Fails("CREATE MATERIALIZED VIEW v AS SELECT auction FROM bid ORDER BY auction").message().find(
                "not supported yet"),
            std::string::npos);
  // EMIT ON WINDOW CLOSE needs the window among the group keys, and a watermark.
  EXPECT_NE(Fails("CREATE MATERIALIZED VIEW v AS SELECT auction, count(*) FROM TUMBLE(bid, date_time, INTERVAL '1' "
                  "SECOND) GROUP BY auction EMIT ON WINDOW CLOSE")
                .message()
                .find("needs GROUP BY window_start or window_end"),
            std::string::npos);
  Ok("CREATE SOURCE nowm (k BIGINT, ts TIMESTAMP)");
  EXPECT_NE(Fails("CREATE MATERIALIZED VIEW v AS SELECT window_end, count(*) FROM TUMBLE(nowm, ts, INTERVAL '1' "
                  "SECOND) GROUP BY window_end EMIT ON WINDOW CLOSE")
                .message()
                .find("has no WATERMARK FOR clause"),
            std::string::npos);
  EXPECT_FALSE(sql_->catalog().Exists("v"));
}

}  // namespace
}  // namespace sluice::engine

namespace sluice::engine {
namespace {

class ViewRecoveryTest : public MaterializedViewTest {
 protected:
  std::vector<std::string> CheckpointFiles() {
    std::vector<std::string> files;
    if (!std::filesystem::exists(dir_ + "/checkpoints")) return files;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_ + "/checkpoints")) {
      if (e.path().extension() == ".ckpt") files.push_back(e.path().filename().string());
    }
    std::sort(files.begin(), files.end());
    return files;
  }
  bool WaitUntil(const std::function<bool()>& pred) {
    for (int i = 0; i < 2000 && !pred(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return pred();
  }
  std::string Event(int auction, int price) {
    return "{\"auction\": " + std::to_string(auction) + ", \"price\": " + std::to_string(price) +
           ", \"date_time\": \"2026-01-01T00:00:01Z\"}";
  }
};

// A checkpoint that cannot be written (ENOSPC) leaves the view running on the previous one, is
// counted, and is retried at the next interval; the newest valid checkpoint is restored.
TEST_F(ViewRecoveryTest, CheckpointWriteFailuresAreCountedAndRetried) {
  log::testing::FaultInjectionFileSystem& fs = fault_fs_;
  MetricsRegistry& metrics = registry_;
  fs_ = &fs;
  metrics_ = &metrics;
  checkpoint_interval_ms_ = 20;
  Reopen();
  Ok(kBid);
  Ok("CREATE MATERIALIZED VIEW totals AS SELECT auction, count(*) AS n FROM bid GROUP BY auction");
  Counter* failures = metrics.AddCounter("sluice_view_checkpoint_failures_total", "", {"view"})->WithLabels({"totals"});
  const std::string q = "SELECT auction, n FROM totals ORDER BY auction";
  Ingest({Event(1, 10), Event(2, 20)});
  ASSERT_FALSE(WaitFor(q, [](const StatementResult& r) { return r.rows.size() == 2; }).empty());
  ASSERT_TRUE(WaitUntil([&] { return !CheckpointFiles().empty(); }));
  // The disk is full: checkpoints fail, the view keeps applying events.
  fs.SetWriteBudget(0);
  const std::vector<std::string> before = CheckpointFiles();
  Ingest({Event(1, 30), Event(3, 40)});
  ASSERT_FALSE(WaitFor(q, [](const StatementResult& r) { return r.rows.size() == 3 && r.rows[0][1].int64() == 2; })
                   .empty());
  ASSERT_TRUE(WaitUntil([&] { return failures->value() >= 2; })) << failures->value();
  EXPECT_EQ(CheckpointFiles(), before);  // nothing new, nothing removed, no temp files left
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_ + "/checkpoints")) {
    EXPECT_TRUE(e.is_directory() || e.path().extension() == ".ckpt") << e.path();
  }
  // Restart on the full disk: the newest valid checkpoint, then the log.
  Reopen();
  ASSERT_FALSE(WaitFor(q, [](const StatementResult& r) { return r.rows.size() == 3 && r.rows[0][1].int64() == 2; })
                   .empty());
  // Space returns: checkpoints are written again.
  fs.SetWriteBudget(-1);
  Ingest({Event(4, 50)});
  ASSERT_TRUE(WaitUntil([&] { return CheckpointFiles() != before; }));
  const double failed = failures->value();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(failures->value(), failed);
  Reopen();
  auto r = WaitFor(q, [](const StatementResult& r) { return r.rows.size() == 4; });
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r[0].rows[0][1].int64(), 2);
}

// A view whose definition no longer binds after a restart (its catalog record names a column
// the source does not have) does not stop the server: it is listed as failed with the reason,
// reading it (or a view over it) says why, the other views run, and DROP removes it.
TEST_F(ViewRecoveryTest, AViewThatNoLongerBindsFailsAloneAndCanBeDropped) {
  Ok(kBid);
  Ok("CREATE MATERIALIZED VIEW good AS SELECT auction, count(*) AS n FROM bid GROUP BY auction");
  Ingest({Event(1, 10), Event(2, 20)});
  sql_.reset();
  {
    std::vector<sql::CatalogRecord> records;
    auto catalog = sql::CatalogLog::Open(FileSystem::Default(), dir_ + "/catalog/catalog.log", &records);
    ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
    ASSERT_EQ(records.size(), 2u);
    const uint64_t version = records.back().version;
    ASSERT_TRUE((*catalog)
                    ->Append({sql::CatalogRecord::Op::kCreate, version + 1, 50, sql::ObjectKind::kView, "bad",
                              "CREATE MATERIALIZED VIEW bad AS SELECT region, count(*) AS n FROM bid GROUP BY region"})
                    .ok());
    ASSERT_TRUE((*catalog)
                    ->Append({sql::CatalogRecord::Op::kCreate, version + 2, 51, sql::ObjectKind::kView, "over_bad",
                              "CREATE MATERIALIZED VIEW over_bad AS SELECT n FROM bad"})
                    .ok());
  }
  Reopen();
  auto shown = Ok("SHOW MATERIALIZED VIEWS");
  ASSERT_EQ(shown.size(), 1u);
  ASSERT_EQ(shown[0].columns.size(), 5u);
  EXPECT_EQ(shown[0].columns[3].name, "status");
  std::map<std::string, std::pair<std::string, std::string>> status;
  for (const auto& row : shown[0].rows) {
    status[row[0].string()] = {row[3].string(), row[4].is_null() ? "" : row[4].string()};
  }
  ASSERT_EQ(status.size(), 3u);
  EXPECT_EQ(status["good"], (std::pair<std::string, std::string>{"running", ""}));
  EXPECT_EQ(status["bad"].first, "failed");
  EXPECT_NE(status["bad"].second.find("its definition no longer binds: column \"region\" does not exist"),
            std::string::npos)
      << status["bad"].second;
  EXPECT_EQ(status["over_bad"].first, "failed");
  EXPECT_NE(status["over_bad"].second.find("materialized view \"bad\" is not available"), std::string::npos)
      << status["over_bad"].second;
  Status read = Fails("SELECT * FROM bad");
  EXPECT_EQ(read.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(read.message().find("materialized view \"bad\" is not available: its definition no longer binds"),
            std::string::npos)
      << read.message();
  EXPECT_EQ(Fails("DESCRIBE bad").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Fails("CREATE MATERIALIZED VIEW bad AS SELECT auction FROM bid").code(), StatusCode::kAlreadyExists);
  // The other view runs and follows the log.
  Ingest({Event(3, 30)});
  ASSERT_FALSE(WaitFor("SELECT count(*) FROM good", [](const StatementResult& r) { return r.rows[0][0].int64() == 3; })
                   .empty());
  Ok("DROP MATERIALIZED VIEW over_bad; DROP MATERIALIZED VIEW bad");
  Ok("CREATE MATERIALIZED VIEW bad AS SELECT auction FROM bid");
  Reopen();
  shown = Ok("SHOW MATERIALIZED VIEWS");
  ASSERT_EQ(shown[0].rows.size(), 2u);
  for (const auto& row : shown[0].rows) EXPECT_EQ(row[3].string(), "running") << row[0].string();
}

}  // namespace
}  // namespace sluice::engine
