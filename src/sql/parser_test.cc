#include "sql/parser.h"

#include <gtest/gtest.h>

namespace sluice::sql {
namespace {

template <typename T>
const T& As(const Statement& s) {
  return static_cast<const T&>(s);
}

StatementPtr MustParse(std::string_view sql) {
  auto r = ParseOne(sql);
  EXPECT_TRUE(r.ok()) << sql << "\n" << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

std::string ErrorOf(std::string_view sql) {
  auto r = Parse(sql);
  EXPECT_FALSE(r.ok()) << sql;
  return r.ok() ? "" : r.status().message();
}

std::string QuerySql(std::string_view sql) {
  StatementPtr s = MustParse(sql);
  if (!s || s->kind != StatementKind::kSelect) return "";
  return ToSql(*As<SelectStatement>(*s).query);
}

TEST(ParserTest, CreateSourceWithWatermarkAndOptions) {
  StatementPtr s = MustParse(R"(
    CREATE SOURCE bid (
      auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
      date_time TIMESTAMP, extra VARCHAR,
      WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
    ) WITH (topic = 'bid', format = 'json');)");
  ASSERT_TRUE(s);
  ASSERT_EQ(s->kind, StatementKind::kCreateSource);
  const auto& c = As<CreateRelationStatement>(*s);
  EXPECT_EQ(c.name, "bid");
  ASSERT_EQ(c.columns.size(), 7u);
  EXPECT_EQ(c.columns[5].type.id, TypeId::kTimestamp);
  ASSERT_TRUE(c.watermark);
  EXPECT_EQ(c.watermark->column, "date_time");
  EXPECT_EQ(ToSql(*c.watermark->expr), "(date_time - INTERVAL '4 seconds')");
  EXPECT_EQ(c.options.at("topic"), "bid");
  EXPECT_EQ(c.options.at("format"), "json");
  EXPECT_NE(c.text.find("CREATE SOURCE bid"), std::string::npos);
}

TEST(ParserTest, CreateTableWithPrimaryKey) {
  StatementPtr s = MustParse("CREATE TABLE auctions (id BIGINT PRIMARY KEY, seller BIGINT, price DECIMAL(10, 2)) "
                             "WITH (topic = 'auction')");
  ASSERT_TRUE(s);
  const auto& c = As<CreateRelationStatement>(*s);
  EXPECT_EQ(c.kind, StatementKind::kCreateTable);
  EXPECT_EQ(c.primary_key, std::vector<std::string>{"id"});
  EXPECT_EQ(c.columns[2].type.ToString(), "DECIMAL(10,2)");
}

TEST(ParserTest, MaterializedViewWithTumbleAndEmit) {
  StatementPtr s = MustParse(R"(
    CREATE MATERIALIZED VIEW final_counts AS
    SELECT auction, window_start, window_end, count(*) AS n, max(price) AS top
    FROM HOP(bid, date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND)
    GROUP BY auction, window_start, window_end
    EMIT ON WINDOW CLOSE)");
  ASSERT_TRUE(s);
  const auto& v = As<CreateViewStatement>(*s);
  EXPECT_EQ(v.name, "final_counts");
  ASSERT_TRUE(v.query->from);
  EXPECT_EQ(v.query->from->kind, TableRefKind::kFunction);
  EXPECT_EQ(v.query->from->name, "hop");
  EXPECT_EQ(v.query->from->args.size(), 4u);
  EXPECT_TRUE(v.query->emit_on_window_close);
  EXPECT_EQ(v.query->items[3].alias, "n");
  EXPECT_TRUE(static_cast<const FunctionExpr&>(*v.query->items[3].expr).star);
}

TEST(ParserTest, SinkDropShowDescribeExplain) {
  StatementPtr sink = MustParse("CREATE SINK big_bids INTO big_bids_topic AS SELECT * FROM bid WHERE price > 1000000");
  ASSERT_TRUE(sink);
  EXPECT_EQ(As<CreateSinkStatement>(*sink).into, "big_bids_topic");
  // WITH before the query or after it, not both.
  for (const char* text : {"CREATE SINK s INTO t WITH (connector = 'kafka', properties.bootstrap.servers = 'h:1') AS "
                           "SELECT * FROM bid",
                           "CREATE SINK s INTO t AS SELECT * FROM bid WITH (connector = 'kafka', "
                           "properties.bootstrap.servers = 'h:1')",
                           "CREATE SINK s WITH (connector = 'kafka', properties.bootstrap.servers = 'h:1') FROM bid"}) {
    StatementPtr with = MustParse(text);
    ASSERT_TRUE(with) << text;
    EXPECT_EQ(As<CreateSinkStatement>(*with).options.at("properties.bootstrap.servers"), "h:1") << text;
  }
  auto twice = Parse("CREATE SINK s WITH (format = 'json') FROM bid WITH (format = 'json')");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("given twice"), std::string::npos);
  StatementPtr drop = MustParse("DROP MATERIALIZED VIEW IF EXISTS v1");
  ASSERT_TRUE(drop);
  EXPECT_EQ(As<DropStatement>(*drop).object, ObjectKind::kView);
  EXPECT_TRUE(As<DropStatement>(*drop).if_exists);
  StatementPtr show = MustParse("SHOW MATERIALIZED VIEWS");
  ASSERT_TRUE(show);
  EXPECT_EQ(As<ShowStatement>(*show).what, ShowKind::kViews);
  StatementPtr desc = MustParse("DESCRIBE bid");
  ASSERT_TRUE(desc);
  EXPECT_EQ(As<DescribeStatement>(*desc).name, "bid");
  StatementPtr explain = MustParse("EXPLAIN SELECT 1");
  ASSERT_TRUE(explain);
  EXPECT_EQ(As<ExplainStatement>(*explain).statement->kind, StatementKind::kSelect);
}

TEST(ParserTest, OperatorPrecedence) {
  EXPECT_EQ(QuerySql("SELECT 1 + 2 * 3 - 4"), "SELECT ((1 + (2 * 3)) - 4)");
  EXPECT_EQ(QuerySql("SELECT a OR b AND NOT c = d"), "SELECT (a OR (b AND (NOT (c = d))))");
  EXPECT_EQ(QuerySql("SELECT a || b = c"), "SELECT ((a || b) = c)");
  EXPECT_EQ(QuerySql("SELECT -x::int"), "SELECT (-CAST(x AS INT))");
  EXPECT_EQ(QuerySql("SELECT -9223372036854775808"), "SELECT -9223372036854775808");
}

TEST(ParserTest, PredicatesAndSpecialForms) {
  EXPECT_EQ(QuerySql("SELECT x FROM t WHERE a BETWEEN 1 AND 2 AND b NOT IN (1, 2) AND c LIKE 'a%' AND d IS NOT NULL"),
            "SELECT x FROM t WHERE ((((a BETWEEN 1 AND 2) AND (b NOT IN (1, 2))) AND (c LIKE 'a%')) AND (d IS NOT NULL))");
  EXPECT_EQ(QuerySql("SELECT CASE WHEN a > 1 THEN 'big' ELSE 'small' END, CAST(p AS DOUBLE), coalesce(a, 0)"),
            "SELECT CASE WHEN (a > 1) THEN 'big' ELSE 'small' END, CAST(p AS DOUBLE), coalesce(a, 0)");
  EXPECT_EQ(QuerySql("SELECT extract(hour FROM ts), date_trunc('minute', ts), TIMESTAMP '2026-01-01 00:00:00'"),
            "SELECT extract('hour', ts), date_trunc('minute', ts), TIMESTAMP '2026-01-01 00:00:00'");
  EXPECT_EQ(QuerySql("SELECT count(DISTINCT bidder) FROM bid"), "SELECT count(DISTINCT bidder) FROM bid");
  EXPECT_EQ(QuerySql("SELECT INTERVAL '1 hour 30 minutes'"), "SELECT INTERVAL '5400 seconds'");
  EXPECT_EQ(QuerySql("SELECT INTERVAL '2' DAY"), "SELECT INTERVAL '2 days'");
}

TEST(ParserTest, JoinsSubqueriesAndWindows) {
  EXPECT_EQ(QuerySql("SELECT b.price, a.seller FROM bid AS b JOIN auctions a ON b.auction = a.id LEFT JOIN p ON a.seller = p.id"),
            "SELECT b.price, a.seller FROM bid AS b JOIN auctions AS a ON (b.auction = a.id) LEFT JOIN p ON (a.seller = p.id)");
  EXPECT_EQ(QuerySql("SELECT * FROM (SELECT auction, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rn FROM bid) t WHERE rn <= 3"),
            "SELECT * FROM (SELECT auction, row_number() OVER (PARTITION BY auction ORDER BY price DESC) AS rn FROM bid) AS t WHERE (rn <= 3)");
  EXPECT_EQ(QuerySql("SELECT DISTINCT ON (event_id) * FROM clicks"), "SELECT DISTINCT ON (event_id) * FROM clicks");
  EXPECT_EQ(QuerySql("WITH x AS (SELECT 1 AS a) SELECT a FROM x ORDER BY a DESC NULLS LAST LIMIT 5 OFFSET 2"),
            "WITH x AS (SELECT 1 AS a) SELECT a FROM x ORDER BY a DESC NULLS LAST LIMIT 5 OFFSET 2");
  EXPECT_EQ(QuerySql("SELECT * FROM TUMBLE(bid, date_time, INTERVAL '10' SECOND) t"),
            "SELECT * FROM tumble(bid, date_time, INTERVAL '10 seconds') AS t");
}

TEST(ParserTest, SeveralStatements) {
  auto r = Parse("SHOW SOURCES; SHOW SINKS;;");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0]->text, "SHOW SOURCES");
  EXPECT_EQ(Parse("").value().size(), 0u);
}

TEST(ParserTest, SyntaxErrorsNamePositionAndExpectation) {
  EXPECT_EQ(ErrorOf("SELECT a FROM"), "syntax error at line 1, column 14: expected a name, found end of input");
  EXPECT_EQ(ErrorOf("SELECT a,\n  FROM t"), "syntax error at line 2, column 3: expected an expression, found 'FROM'");
  EXPECT_NE(ErrorOf("CREATE SOURCE s (a BIGNUM)").find("unknown type 'BIGNUM'"), std::string::npos);
  EXPECT_NE(ErrorOf("SELECT 1 2").find("expected ';' or end of input"), std::string::npos);
  EXPECT_NE(ErrorOf("CREATE SOURCE s (a INT) WITH (topic = 'a', topic = 'b')").find("given twice"), std::string::npos);
  EXPECT_NE(ErrorOf("SELECT * FROM (SELECT 1)").find("needs an alias"), std::string::npos);
}

TEST(ParserTest, UnsupportedConstructsSaySo) {
  for (const char* sql : {"SELECT a FROM t UNION SELECT b FROM u", "INSERT INTO t VALUES (1)",
                          "SELECT sum(x) FILTER (WHERE y) FROM t", "SELECT a FROM t NATURAL JOIN u",
                          "SELECT row_number() OVER (ORDER BY a ROWS 2 PRECEDING) FROM t", "CREATE VIEW v AS SELECT 1"}) {
    EXPECT_NE(ErrorOf(sql).find("not supported yet"), std::string::npos) << sql;
  }
}

TEST(ParserTest, HugeIntervalsAreErrorsNotOverflow) {
  // Found by the fuzzer: the seconds used to be converted to microseconds unchecked.
  EXPECT_NE(ErrorOf("SELECT count(INTERVAL '1033333333333333' SECOND)").find("out of range"), std::string::npos);
  EXPECT_NE(ErrorOf("SELECT INTERVAL '99999999999' DAY").find("out of range"), std::string::npos);
  EXPECT_NE(ErrorOf("SELECT INTERVAL '1000000000000000000 hours'").find("out of range"), std::string::npos);
}

TEST(ParserTest, HostileInputIsBounded) {
  std::string deep(100000, '(');
  EXPECT_NE(ErrorOf("SELECT " + deep).find("nested too deeply"), std::string::npos);
  std::string nots;
  for (int i = 0; i < 10000; ++i) nots += "NOT ";
  EXPECT_NE(ErrorOf("SELECT " + nots + "1").find("nested too deeply"), std::string::npos);
  std::string huge(kMaxQueryBytes + 1, ' ');
  auto r = Parse(huge);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kTooLarge);
}

}  // namespace
}  // namespace sluice::sql
