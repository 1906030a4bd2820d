#include "server/pgwire/session.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "server/pgwire/test_messages.h"

namespace sluice::server::pgwire {
namespace {

using namespace testing;  // NOLINT: message builders

// An engine that answers from a script: "SELECT n" returns n rows of (i BIGINT, s VARCHAR);
// "FAIL <code> <message>" fails; anything else is a command echoed as its tag.
class FakeEngine final : public engine::Engine {
 public:
  void Ingest(engine::IngestRequest, engine::IngestCallback) override { std::abort(); }
  Status DeleteTopic(std::string_view) override { return Status::Ok(); }
  Result<std::vector<engine::StatementResult>> ExecuteSql(std::string_view sql) override {
    executed.emplace_back(sql);
    std::string_view s = sql;
    while (!s.empty() && (s.front() == '\n' || s.front() == ' ')) s.remove_prefix(1);
    if (s.starts_with("SELECT ")) {
      engine::StatementResult r;
      r.columns = {{"i", sql::DataType::Bigint()}, {"s", sql::DataType::Varchar()}};
      const int n = std::atoi(std::string(s.substr(7)).c_str());
      for (int i = 0; i < n; ++i) r.rows.push_back({sql::Value::Bigint(i), sql::Value::Varchar("row")});
      r.command = "SELECT " + std::to_string(n);
      return std::vector<engine::StatementResult>{r};
    }
    if (s.starts_with("FAIL ")) return Status::InvalidArgument(std::string(s.substr(5)));
    if (s.starts_with("MISSING")) return Status::NotFound("relation \"nope\" does not exist");
    engine::StatementResult r;
    r.command = std::string(s);
    return std::vector<engine::StatementResult>{r};
  }
  // Statements with "WHERE k =" are point queries, answered like ExecuteSql.
  Result<std::optional<engine::StatementResult>> TryPointQuery(std::string_view sql) override {
    if (sql.find("WHERE k =") == std::string_view::npos) return std::optional<engine::StatementResult>();
    point_queries.emplace_back(sql);
    SLUICE_ASSIGN_OR_RETURN(std::vector<engine::StatementResult> r, ExecuteSql(sql));
    executed.pop_back();
    return std::optional<engine::StatementResult>(std::move(r.front()));
  }
  Result<std::vector<engine::ResultColumn>> DescribeSql(std::string_view sql) override {
    described.emplace_back(sql);
    if (sql.starts_with("SELECT")) {
      return std::vector<engine::ResultColumn>{{"i", sql::DataType::Bigint()}, {"s", sql::DataType::Varchar()}};
    }
    return std::vector<engine::ResultColumn>{};
  }
  Result<engine::SqlExecutor::VerifyReport> VerifyView(std::string_view) override {
    return Status::FailedPrecondition("not used by the session");
  }
  log::Log& log() override { std::abort(); }
  const engine::EngineOptions& options() const override { return options_; }
  bool ready() const override { return true; }
  Status Close() override { return Status::Ok(); }

  std::vector<std::string> executed;
  std::vector<std::string> described;
  std::vector<std::string> point_queries;

 private:
  engine::EngineOptions options_;
};

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override { NewSession(); }

  void NewSession(bool loopback = true) {
    session_ = std::make_unique<Session>(&config_, &engine_, SessionMetrics{}, 77, 1234, loopback,
                                         [this](int32_t pid, int32_t secret) { cancels_.emplace_back(pid, secret); });
  }

  // Feeds bytes and runs Process until it wants input; returns everything written.
  std::vector<Message> Send(const std::string& bytes, bool* closed = nullptr) {
    session_->Feed(bytes);
    std::string out;
    for (;;) {
      Session::Progress p = session_->Process();
      out += session_->output();
      session_->output().clear();
      if (closed != nullptr) *closed = p.close;
      if (p.close || !p.more) break;
    }
    if (!out.empty() && out[0] == 'N' && out.size() == 1) return {{'N', ""}};
    return Split(out);
  }

  // As a connection runs it: Process on the network thread (may_block false) and, from the
  // step it hands off, on a thread that may block. Counts the hand-offs.
  std::vector<Message> SendFromNetworkThread(const std::string& bytes, int* offloads) {
    session_->Feed(bytes);
    std::string out;
    bool may_block = false;
    for (;;) {
      Session::Progress p = session_->Process(may_block);
      if (p.offload) {
        EXPECT_FALSE(may_block);
        ++*offloads;
        may_block = true;
        continue;
      }
      out += session_->output();
      session_->output().clear();
      if (p.close || !p.more) break;
      may_block = false;
    }
    return Split(out);
  }

  void Connect() {
    auto m = Send(Startup({{"user", "alice"}, {"database", "db"}, {"application_name", "t"}}));
    ASSERT_FALSE(m.empty());
    ASSERT_EQ(m.front().type, 'R');
    ASSERT_EQ(m.back().type, 'Z');
  }

  SessionConfig config_;
  FakeEngine engine_;
  std::unique_ptr<Session> session_;
  std::vector<std::pair<int32_t, int32_t>> cancels_;
};

TEST_F(SessionTest, StartupSendsParametersKeyAndReady) {
  auto m = Send(Untyped(kSslRequestCode));
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].type, 'N');
  m = Send(Startup({{"user", "alice"}}));
  const std::string types = Types(m);
  EXPECT_EQ(types.front(), 'R');
  EXPECT_EQ(GetInt32(m[0].body, 0), 0);  // AuthenticationOk
  EXPECT_NE(types.find('S'), std::string::npos);
  EXPECT_NE(types.find('K'), std::string::npos);
  EXPECT_EQ(types.back(), 'Z');
  EXPECT_EQ(m.back().body, "I");
  bool found_version = false;
  for (const Message& msg : m) {
    if (msg.type == 'S' && msg.body.starts_with(std::string("server_version\0", 15))) {
      found_version = true;
      EXPECT_EQ(msg.body, std::string("server_version\0" "15.0 (sluice)\0", 29));
    }
    if (msg.type == 'K') {
      EXPECT_EQ(GetInt32(msg.body, 0), 77);
      EXPECT_EQ(GetInt32(msg.body, 4), 1234);
    }
  }
  EXPECT_TRUE(found_version);
  EXPECT_TRUE(session_->authenticated());
}

TEST_F(SessionTest, StartupErrors) {
  bool closed = false;
  auto m = Send(Startup({{"database", "x"}}), &closed);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(ErrorField(m[0].body, 'C'), "28000");
  EXPECT_EQ(ErrorField(m[0].body, 'S'), "FATAL");
  EXPECT_TRUE(closed);

  NewSession();
  m = Send(Startup({{"user", "a"}}, 2 << 16), &closed);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(ErrorField(m[0].body, 'C'), "0A000");
  EXPECT_TRUE(closed);

  // Garbage instead of a startup packet.
  NewSession();
  m = Send("GET / HTTP/1.1\r\n\r\n", &closed);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(ErrorField(m[0].body, 'C'), "08P01");
  EXPECT_TRUE(closed);

  // Trust-loopback refuses other peers.
  NewSession(/*loopback=*/false);
  m = Send(Startup({{"user", "a"}}), &closed);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(ErrorField(m[0].body, 'C'), "28000");
}

TEST_F(SessionTest, CancelRequestIsForwardedWithoutAnswer) {
  bool closed = false;
  auto m = Send(Untyped(kCancelRequestCode, {55, 99}), &closed);
  EXPECT_TRUE(m.empty());
  EXPECT_TRUE(closed);
  ASSERT_EQ(cancels_.size(), 1u);
  EXPECT_EQ(cancels_[0], std::make_pair(55, 99));
}

TEST_F(SessionTest, SimpleQueryRowsErrorsAndMultipleStatements) {
  Connect();
  auto m = Send(Query("SELECT 2"));
  EXPECT_EQ(Types(m), "TDDCZ");
  EXPECT_EQ(m[3].body, std::string("SELECT 2\0", 9));
  auto row = RowValues(m[1].body);
  EXPECT_EQ(*row[0], "0");
  EXPECT_EQ(*row[1], "row");

  m = Send(Query("CREATE SOURCE x;\n SELECT 1; FAIL syntax error at line 2, column 15: bad; SELECT 5"));
  EXPECT_EQ(Types(m), "CTDCEZ");
  EXPECT_EQ(ErrorField(m[4].body, 'C'), "42601");
  // The engine saw the statement at its own line and column of the whole query...
  EXPECT_EQ(engine_.executed.back().find("FAIL"), 12u);
  EXPECT_EQ(engine_.executed.back()[0], '\n');
  // ... so its "line 2, column 15" is character 17 + 15 of the query.
  EXPECT_EQ(ErrorField(m[4].body, 'P'), "32");
  // The statement after the error did not run.
  EXPECT_EQ(engine_.executed.back().find("SELECT 5"), std::string::npos);

  m = Send(Query("   ;  -- nothing\n"));
  EXPECT_EQ(Types(m), "IZ");
  m = Send(Query("MISSING"));
  EXPECT_EQ(Types(m), "EZ");
  EXPECT_EQ(ErrorField(m[0].body, 'C'), "42P01");
}

TEST_F(SessionTest, SystemQueriesOfGrafanaPostgresJsAndMetabase) {
  Connect();
  // Grafana's version check.
  auto m = Send(Query("SELECT current_setting('server_version_num')::int/100 as version"));
  ASSERT_EQ(Types(m), "TDCZ");
  EXPECT_EQ(*RowValues(m[1].body)[0], "1500");
  // postgres.js at connect: every element type with its array type.
  m = Send(Query("select b.oid, b.typarray from pg_catalog.pg_type a left join pg_catalog.pg_type b "
                 "on b.oid = a.typelem where a.typcategory = 'A' group by b.oid, b.typarray order by b.oid"));
  ASSERT_GE(m.size(), 3u);
  EXPECT_EQ(m.front().type, 'T');
  bool int8 = false;
  for (const Message& row : m) {
    if (row.type != 'D') continue;
    auto v = RowValues(row.body);
    if (*v[0] == "20") int8 = *v[1] == "1016";
  }
  EXPECT_TRUE(int8);
  // A type lookup by OID and one by name; a category with no types.
  m = Send(Query("SELECT t.typname, t.typlen, t.typcategory FROM pg_catalog.pg_type t WHERE t.oid = 1700"));
  ASSERT_EQ(Types(m), "TDCZ");
  EXPECT_EQ(*RowValues(m[1].body)[0], "numeric");
  EXPECT_EQ(*RowValues(m[1].body)[1], "-1");
  m = Send(Query("SELECT oid FROM pg_type WHERE typname IN ('bool', 'nope')"));
  ASSERT_EQ(Types(m), "TDCZ");
  EXPECT_EQ(*RowValues(m[1].body)[0], "16");
  EXPECT_EQ(Types(Send(Query("SELECT oid FROM pg_type WHERE typcategory = 'E'"))), "TCZ");
  // Unmodelled catalog tables: no rows when inner-joined, an error for aggregates.
  EXPECT_EQ(Types(Send(Query("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"))), "TCZ");
  m = Send(Query("SELECT count(*) FROM pg_class GROUP BY relkind HAVING count(*) > 1"));
  ASSERT_EQ(Types(m), "EZ");
  EXPECT_EQ(ErrorField(m[0].body, 'C'), "0A000");
  // Metabase's transaction characteristics.
  EXPECT_EQ(Types(Send(Query("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED"))), "CZ");
  EXPECT_TRUE(engine_.executed.empty());  // none of these reached the engine
}

TEST_F(SessionTest, HostileCatalogQueriesAreAnsweredOrRefusedNotCrashed) {
  Connect();
  std::string deep_concat = "SELECT 'a'";
  for (int i = 0; i < 20000; ++i) deep_concat += " || 'a'";
  std::string deep_parens = "SELECT " + std::string(50000, '(') + "typname" + std::string(50000, ')') + " FROM pg_type";
  std::string long_in = "SELECT typname FROM pg_type WHERE typname IN (";
  for (int i = 0; i < 50000; ++i) long_in += "'x', ";
  std::string nested_case = "SELECT ";
  for (int i = 0; i < 5000; ++i) nested_case += "CASE typname WHEN 'a' THEN ";
  nested_case += "1";
  for (int i = 0; i < 5000; ++i) nested_case += " END";
  nested_case += " FROM pg_type";
  const std::string queries[] = {
      deep_concat + " FROM pg_class",
      deep_parens,
      long_in,  // unterminated list
      nested_case,
      "SELECT typname FROM pg_type WHERE typname = 'unterminated",
      "SELECT CASE typname WHEN FROM pg_type",
      "SELECT CASE END FROM pg_type",
      "SELECT 1 / 0 AS x, current_setting('server_version_num')::int / 0",
      "SELECT current_setting('server_version_num')::int - 99999999999999999999999",
      "SELECT relname FROM pg_class WHERE relname ~ '(((((((((a*)*)*)*)*)*)*)*)*)$'",
      "SELECT quote_ident(typname) || '.' FROM pg_type WHERE typname !~ '^|$|^$||' AND typname NOT IN ()",
      "SELECT a.b.c.d::::int FROM pg_type t WHERE t.oid = 99999999999999999999",
      "WITH table_privileges AS (",
  };
  for (const std::string& q : queries) {
    auto m = Send(Query(q));
    ASSERT_FALSE(m.empty()) << q.substr(0, 80);
    EXPECT_EQ(m.back().type, 'Z') << q.substr(0, 80);
  }
  // Still answering afterwards.
  EXPECT_EQ(Types(Send(Query("SELECT typname FROM pg_type WHERE oid = 25"))), "TDCZ");
}

TEST_F(SessionTest, LargeResultsAreCutAtTheHighWaterMark) {
  Connect();
  session_->Feed(Query("SELECT 100000"));
  Session::Progress p = session_->Process();
  EXPECT_TRUE(p.more);
  EXPECT_GE(session_->output().size(), Session::kOutputHighWater);
  EXPECT_LT(session_->output().size(), Session::kOutputHighWater + 1024);
  session_->output().clear();
  std::string rest;
  while (p.more) {
    p = session_->Process();
    rest += session_->output();
    session_->output().clear();
  }
  auto m = Split(rest);
  ASSERT_GE(m.size(), 2u);
  EXPECT_EQ(m[m.size() - 2].body, std::string("SELECT 100000\0", 14));
  EXPECT_EQ(m.back().type, 'Z');
}

TEST_F(SessionTest, CancelDropsTheRunningResult) {
  Connect();
  session_->Feed(Query("SELECT 100000"));
  Session::Progress p = session_->Process();
  ASSERT_TRUE(p.more);
  session_->output().clear();
  session_->Cancel();
  std::string rest;
  while (p.more) {
    p = session_->Process();
    rest += session_->output();
    session_->output().clear();
  }
  auto m = Split(rest);
  ASSERT_GE(m.size(), 2u);
  EXPECT_EQ(m[m.size() - 2].type, 'E');
  EXPECT_EQ(ErrorField(m[m.size() - 2].body, 'C'), "57014");
  EXPECT_EQ(m.back().type, 'Z');
  // The next query is not affected.
  EXPECT_EQ(Types(Send(Query("SELECT 1"))), "TDCZ");
}

TEST_F(SessionTest, TransactionBlocks) {
  Connect();
  auto m = Send(Query("BEGIN"));
  EXPECT_EQ(Types(m), "CZ");
  EXPECT_EQ(m[1].body, "T");
  m = Send(Query("FAIL division by zero"));
  EXPECT_EQ(ErrorField(m[0].body, 'C'), "22012");
  EXPECT_EQ(m.back().body, "E");
  m = Send(Query("SELECT 1"));
  EXPECT_EQ(ErrorField(m[0].body, 'C'), "25P02");
  m = Send(Query("COMMIT"));
  EXPECT_EQ(m[0].body, std::string("ROLLBACK\0", 9));
  EXPECT_EQ(m.back().body, "I");
  m = Send(Query("COMMIT"));  // outside a block: a warning, then COMMIT
  EXPECT_EQ(Types(m), "NCZ");
}

TEST_F(SessionTest, SetAndShowSettings) {
  Connect();
  auto m = Send(Query("SET application_name = 'psql'"));
  EXPECT_EQ(Types(m), "SCZ");
  m = Send(Query("SHOW application_name"));
  EXPECT_EQ(Types(m), "TDCZ");
  EXPECT_EQ(*RowValues(m[1].body)[0], "psql");
  m = Send(Query("SET TIME ZONE 'UTC'; SET DateStyle TO 'ISO, MDY'; SHOW TimeZone"));
  EXPECT_EQ(Types(m), "CCTDCZ");
  m = Send(Query("SET TimeZone = 'Europe/Paris'"));
  EXPECT_EQ(Types(m), "EZ");
  EXPECT_EQ(ErrorField(m[0].body, 'C'), "0A000");
  m = Send(Query("SHOW transaction isolation level"));
  EXPECT_EQ(*RowValues(m[1].body)[0], "read committed");
}

TEST_F(SessionTest, ExtendedProtocolWithParametersAndRowLimit) {
  Connect();
  auto m = Send(Parse("s", "SELECT $1", {20}) + Describe('S', "s") + Sync());
  EXPECT_EQ(Types(m), "1tTZ");
  EXPECT_EQ(GetInt16(m[1].body, 0), 1);
  EXPECT_EQ(GetInt32(m[1].body, 2), 20);
  // Describe substituted a typed NULL for the parameter.
  EXPECT_NE(engine_.described.back().find("CAST(NULL AS BIGINT)"), std::string::npos);

  m = Send(Bind("p", "s", {std::string("5")}, {}, {1}) + Describe('P', "p") + Execute("p", 2) + Execute("p", 2) +
           Execute("p", 2) + Sync());
  EXPECT_EQ(Types(m), "2TDDsDDsDCZ");
  EXPECT_EQ(GetInt16(m[1].body, 0), 2);
  // Binary result format: an 8-byte bigint.
  auto row = RowValues(m[2].body);
  EXPECT_EQ(row[0]->size(), 8u);
  EXPECT_EQ(m[9].body, std::string("SELECT 1\0", 9));
  EXPECT_NE(engine_.executed.back().find("SELECT  5 "), std::string::npos);

  // Sync ended the portal; the statement stays.
  m = Send(Execute("p") + Sync());
  EXPECT_EQ(Types(m), "EZ");
  EXPECT_EQ(ErrorField(m[0].body, 'C'), "34000");
  m = Send(Bind("", "s", {std::string("3")}) + Execute("") + Sync());
  EXPECT_EQ(Types(m), "2DDDCZ");
}

TEST_F(SessionTest, ExtendedErrorsSkipUntilSync) {
  Connect();
  auto m = Send(Parse("", "SELECT 1; SELECT 2") + Bind("", "", {}) + Execute("") + Sync());
  EXPECT_EQ(Types(m), "EZ");
  EXPECT_EQ(ErrorField(m[0].body, 'C'), "42601");
  m = Send(Parse("", "SELECT $1") + Bind("", "", {}) + Execute("") + Sync());
  EXPECT_EQ(Types(m), "1EZ");
  EXPECT_EQ(ErrorField(m[1].body, 'C'), "08P01");
  m = Send(Parse("", "SELECT $1", {23}) + Bind("", "", {std::string("x")}) + Execute("") + Sync());
  EXPECT_EQ(Types(m), "1EZ");
  EXPECT_EQ(ErrorField(m[1].body, 'C'), "22P02");
  m = Send(Bind("", "nope", {}) + Sync());
  EXPECT_EQ(ErrorField(m[0].body, 'C'), "26000");
  m = Send(Parse("dup", "SELECT 1") + Parse("dup", "SELECT 1") + Sync());
  EXPECT_EQ(Types(m), "1EZ");
  EXPECT_EQ(ErrorField(m[1].body, 'C'), "42P05");
  m = Send(Close('S', "dup") + Parse("dup", "") + Bind("", "dup", {}) + Describe('P', "") + Execute("") + Sync());
  EXPECT_EQ(Types(m), "312nIZ");
}

TEST_F(SessionTest, MalformedAndUnknownMessagesCloseTheConnection) {
  Connect();
  bool closed = false;
  auto m = Send(Typed('?', "xyz"), &closed);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(ErrorField(m[0].body, 'C'), "08P01");
  EXPECT_TRUE(closed);

  NewSession();
  Connect();
  m = Send(Typed('Q', "no terminator"), &closed);
  EXPECT_EQ(ErrorField(m[0].body, 'C'), "08P01");
  EXPECT_TRUE(closed);

  NewSession();
  config_.max_message_bytes = 100;
  Connect();
  m = Send(Query(std::string(200, 'x')), &closed);
  EXPECT_EQ(ErrorField(m[0].body, 'C'), "54000");
  EXPECT_TRUE(closed);
}

TEST_F(SessionTest, PasswordAuthentication) {
  config_.auth = AuthMethod::kPassword;
  config_.users.emplace("alice", MakeScramSecret("pw"));
  NewSession();
  auto m = Send(Startup({{"user", "alice"}}));
  ASSERT_EQ(Types(m), "R");
  EXPECT_EQ(GetInt32(m[0].body, 0), 3);
  m = Send(Password("pw"));
  EXPECT_EQ(Types(m).back(), 'Z');

  NewSession();
  Send(Startup({{"user", "alice"}}));
  bool closed = false;
  m = Send(Password("nope"), &closed);
  EXPECT_EQ(ErrorField(m[0].body, 'C'), "28P01");
  EXPECT_TRUE(closed);
  EXPECT_FALSE(session_->authenticated());

  // A query instead of the password is a protocol violation.
  NewSession();
  Send(Startup({{"user", "alice"}}));
  m = Send(Query("SELECT 1"), &closed);
  EXPECT_EQ(ErrorField(m[0].body, 'C'), "08P01");
  EXPECT_TRUE(closed);
}

TEST_F(SessionTest, ScramAuthentication) {
  config_.auth = AuthMethod::kScram;
  config_.users.emplace("alice", MakeScramSecret("pw"));
  for (const char* password : {"pw", "wrong"}) {
    for (const char* user : {"alice", "mallory"}) {
      NewSession();
      auto m = Send(Startup({{"user", user}}));
      ASSERT_EQ(Types(m), "R");
      EXPECT_EQ(GetInt32(m[0].body, 0), 10);
      EXPECT_EQ(m[0].body.substr(4), std::string("SCRAM-SHA-256\0\0", 15));
      ScramClient client(password, "clientnonce123");
      m = Send(SaslInitial("SCRAM-SHA-256", client.ClientFirst()));
      ASSERT_EQ(Types(m), "R");
      EXPECT_EQ(GetInt32(m[0].body, 0), 11);
      auto final_message = client.ClientFinal(m[0].body.substr(4));
      ASSERT_TRUE(final_message.ok());
      bool closed = false;
      m = Send(Typed('p', *final_message), &closed);
      const bool should_pass = std::string(password) == "pw" && std::string(user) == "alice";
      if (should_pass) {
        ASSERT_GE(m.size(), 3u);
        EXPECT_EQ(GetInt32(m[0].body, 0), 12);
        EXPECT_TRUE(client.VerifyServerFinal(m[0].body.substr(4)));
        EXPECT_EQ(GetInt32(m[1].body, 0), 0);
        EXPECT_TRUE(session_->authenticated());
      } else {
        ASSERT_EQ(m.size(), 1u) << user << "/" << password;
        EXPECT_EQ(ErrorField(m[0].body, 'C'), "28P01");
        EXPECT_TRUE(closed);
      }
    }
  }
}

}  // namespace
}  // namespace sluice::server::pgwire

namespace sluice::server::pgwire {
namespace {

TEST_F(SessionTest, NetworkThreadAnswersPointQueriesAndHandsOffTheRest) {
  Connect();
  int offloads = 0;
  // A point query runs where it arrives.
  auto m = SendFromNetworkThread(Query("SELECT 2 FROM t WHERE k = 7"), &offloads);
  EXPECT_EQ(Types(m), "TDDCZ");
  EXPECT_EQ(offloads, 0);
  EXPECT_EQ(engine_.point_queries.size(), 1u);
  EXPECT_TRUE(engine_.executed.empty());

  // Anything else is handed off before any of it is done, and then runs exactly once; the rest
  // of the message runs where it was handed off.
  m = SendFromNetworkThread(Query("SET application_name = 'x'; SELECT 3; SELECT 1 FROM t WHERE k = 1"), &offloads);
  EXPECT_EQ(offloads, 1);
  EXPECT_EQ(Types(m), "SCTDDDCTDCZ");
  ASSERT_EQ(engine_.executed.size(), 2u);
  EXPECT_NE(engine_.executed[0].find("SELECT 3"), std::string::npos);
  EXPECT_NE(engine_.executed[1].find("SELECT 1 FROM t"), std::string::npos);
  EXPECT_EQ(engine_.point_queries.size(), 1u);

  // The extended protocol: Parse and Bind are answered here, Describe of the portal (which runs
  // the statement) is handed off with everything after it; each message is answered once.
  offloads = 0;
  m = SendFromNetworkThread(Parse("", "SELECT 2") + Bind("", "", {}) + Describe('P', "") + Execute("") + Sync(),
                            &offloads);
  EXPECT_EQ(offloads, 1);
  EXPECT_EQ(Types(m), "12TDDCZ");
  EXPECT_EQ(engine_.executed.size(), 3u);

  // A prepared point query with a parameter stays on the network thread.
  offloads = 0;
  m = SendFromNetworkThread(Parse("q", "SELECT 1 FROM t WHERE k = $1", {20}) + Sync(), &offloads);
  EXPECT_EQ(Types(m), "1Z");
  m = SendFromNetworkThread(Bind("", "q", {std::string("42")}) + Execute("") + Sync(), &offloads);
  EXPECT_EQ(Types(m), "2DCZ");
  EXPECT_EQ(offloads, 0);
  EXPECT_NE(engine_.point_queries.back().find("42"), std::string::npos);

  // Describing a statement binds it in the engine: handed off.
  m = SendFromNetworkThread(Describe('S', "q") + Sync(), &offloads);
  EXPECT_EQ(Types(m), "tTZ");
  EXPECT_EQ(offloads, 1);

  // Catalog queries read the engine's catalog: handed off too.
  offloads = 0;
  m = SendFromNetworkThread(Query("SELECT relname FROM pg_catalog.pg_class WHERE relname = 'x'"), &offloads);
  EXPECT_EQ(offloads, 1);
  EXPECT_EQ(Types(m).back(), 'Z');
}

}  // namespace
}  // namespace sluice::server::pgwire
