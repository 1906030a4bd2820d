#include "engine/sql_executor.h"

#include <unistd.h>

#include <filesystem>

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
    auto sql = SqlExecutor::Open(FileSystem::Default(), dir_ + "/catalog", log_.get(), 2);
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
  EXPECT_NE(Fails("CREATE MATERIALIZED VIEW v AS SELECT auction FROM bid").message().find("not supported yet"),
            std::string::npos);
  EXPECT_EQ(Fails("DROP SOURCE nope").code(), StatusCode::kNotFound);
  Ok("DROP SOURCE IF EXISTS nope");
  Ok("DROP SOURCE bid");
  Reopen();
  EXPECT_TRUE(Ok("SHOW SOURCES")[0].rows.empty());
}

}  // namespace
}  // namespace sluice::engine
