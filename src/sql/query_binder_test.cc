#include "sql/query_binder.h"

#include <gtest/gtest.h>

#include "sql/parser.h"

namespace sluice::sql {
namespace {

class QueryBinderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CatalogEntry bid;
    bid.kind = ObjectKind::kSource;
    bid.name = "bid";
    bid.columns = {{"auction", DataType::Bigint()}, {"bidder", DataType::Bigint()}, {"price", DataType::Bigint()},
                   {"channel", DataType::Varchar()}, {"date_time", DataType::Timestamp()}};
    ASSERT_TRUE(catalog_.Create(bid).ok());
    CatalogEntry auctions;
    auctions.kind = ObjectKind::kTable;
    auctions.name = "auctions";
    auctions.columns = {{"id", DataType::Bigint()}, {"seller", DataType::Bigint()}, {"category", DataType::Bigint()}};
    ASSERT_TRUE(catalog_.Create(auctions).ok());
    CatalogEntry sink;
    sink.kind = ObjectKind::kSink;
    sink.name = "out";
    ASSERT_TRUE(catalog_.Create(sink).ok());
  }

  Result<BoundQuery> BindText(const std::string& sql) {
    auto stmt = ParseOne(sql);
    if (!stmt.ok()) return stmt.status();
    QueryBinder binder(&catalog_);
    return binder.Bind(*static_cast<const SelectStatement&>(**stmt).query);
  }
  BoundQuery Ok(const std::string& sql) {
    auto r = BindText(sql);
    EXPECT_TRUE(r.ok()) << sql << "\n" << r.status().ToString();
    return r.ok() ? std::move(r).value() : BoundQuery{};
  }
  std::string Error(const std::string& sql) {
    auto r = BindText(sql);
    EXPECT_FALSE(r.ok()) << sql;
    return r.ok() ? "" : r.status().message();
  }
  static std::vector<std::string> Names(const LogicalOperator& op) {
    std::vector<std::string> names;
    for (const auto& c : op.schema) names.push_back(c.name);
    return names;
  }

  Catalog catalog_{nullptr};
};

TEST_F(QueryBinderTest, FilterProject) {
  BoundQuery q = Ok("SELECT auction, price * 0.908 AS euro FROM bid WHERE auction % 123 = 0");
  ASSERT_TRUE(q.plan);
  EXPECT_EQ(q.plan->kind, LogicalKind::kProject);
  EXPECT_EQ(Names(*q.plan), (std::vector<std::string>{"auction", "euro"}));
  EXPECT_EQ(q.plan->schema[1].type.id, TypeId::kDecimal);
  ASSERT_EQ(q.plan->children.size(), 1u);
  EXPECT_EQ(q.plan->children[0]->kind, LogicalKind::kFilter);
  EXPECT_EQ(q.plan->children[0]->children[0]->kind, LogicalKind::kScan);
  EXPECT_EQ(q.dependencies, std::vector<std::string>{"bid"});
}

TEST_F(QueryBinderTest, TumbleAggregate) {
  BoundQuery q = Ok(
      "SELECT auction, window_start, window_end, count(*) AS n, max(price) AS top "
      "FROM TUMBLE(bid, date_time, INTERVAL '10' SECOND) GROUP BY auction, window_start, window_end "
      "EMIT ON WINDOW CLOSE");
  ASSERT_TRUE(q.plan);
  EXPECT_TRUE(q.emit_on_window_close);
  EXPECT_EQ(Names(*q.plan), (std::vector<std::string>{"auction", "window_start", "window_end", "n", "top"}));
  const LogicalOperator& agg = *q.plan->children[0];
  ASSERT_EQ(agg.kind, LogicalKind::kAggregate);
  EXPECT_EQ(agg.groups.size(), 3u);
  ASSERT_EQ(agg.aggregates.size(), 2u);
  EXPECT_EQ(agg.aggregates[0].fn, AggregateFn::kCountStar);
  EXPECT_EQ(agg.aggregates[1].fn, AggregateFn::kMax);
  EXPECT_EQ(agg.aggregates[1].type, DataType::Bigint());
  const LogicalOperator& window = *agg.children[0];
  ASSERT_EQ(window.kind, LogicalKind::kWindow);
  EXPECT_EQ(window.size_us, 10'000'000);
  EXPECT_EQ(window.time_column, 4);
  // The projection reads the aggregate's output: groups first, then aggregates.
  EXPECT_EQ(q.plan->exprs[3]->column, 3);
  EXPECT_EQ(q.plan->exprs[4]->column, 4);
}

TEST_F(QueryBinderTest, SessionPartitionIsTheGroupKeysWithoutWindowColumns) {
  BoundQuery q = Ok("SELECT auction, upper(channel), window_start, count(*) FROM SESSION(bid, date_time, INTERVAL "
                    "'5' SECOND) WHERE price > 10 GROUP BY auction, upper(channel), window_start, "
                    "date_trunc('hour', window_end)");
  ASSERT_TRUE(q.plan);
  const LogicalOperator& agg = *q.plan->children[0];
  ASSERT_EQ(agg.kind, LogicalKind::kAggregate);
  const LogicalOperator& window = *agg.children[0]->children[0];  // under the WHERE filter
  ASSERT_EQ(window.kind, LogicalKind::kWindow);
  EXPECT_EQ(window.gap_us, 5'000'000);
  ASSERT_EQ(window.session_partition.size(), 2u);
  EXPECT_EQ(window.session_partition[0]->ToString(), "$0");
  EXPECT_EQ(window.session_partition[1]->ToString(), "upper($3)");
  // No aggregate: one session sequence over all rows.
  BoundQuery all = Ok("SELECT * FROM SESSION(bid, date_time, INTERVAL '5' SECOND)");
  ASSERT_TRUE(all.plan);
  EXPECT_TRUE(all.plan->children[0]->session_partition.empty());
}

TEST_F(QueryBinderTest, CastOverAnAggregate) {
  BoundQuery q = Ok("SELECT auction, CAST(sum(price) AS BIGINT), CAST(approx_percentile(price, 0.5) AS BIGINT) "
                    "FROM bid GROUP BY auction");
  ASSERT_TRUE(q.plan);
  EXPECT_EQ(q.plan->schema[1].type, DataType::Bigint());
  EXPECT_NE(Error("SELECT CAST(price AS DOUBLE), count(*) FROM bid").find("must appear in the GROUP BY"),
            std::string::npos);
}

TEST_F(QueryBinderTest, HopSessionJoinAndDistinctOn) {
  BoundQuery hop = Ok("SELECT auction, count(*) FROM HOP(bid, date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND) "
                      "GROUP BY auction, window_start");
  ASSERT_TRUE(hop.plan);
  EXPECT_EQ(hop.plan->children[0]->children[0]->slide_us, 2'000'000);
  BoundQuery join = Ok("SELECT b.price, a.seller FROM bid b JOIN auctions a ON b.auction = a.id");
  ASSERT_TRUE(join.plan);
  EXPECT_EQ(join.plan->children[0]->kind, LogicalKind::kJoin);
  EXPECT_EQ(join.plan->exprs[1]->column, 6);
  EXPECT_EQ(join.dependencies, (std::vector<std::string>{"auctions", "bid"}));
  BoundQuery dedup = Ok("SELECT DISTINCT ON (auction) auction, price FROM bid");
  ASSERT_TRUE(dedup.plan);
  EXPECT_EQ(dedup.plan->kind, LogicalKind::kDistinctOn);
}

TEST_F(QueryBinderTest, CtesSubqueriesOrderLimitAndStar) {
  BoundQuery q = Ok("WITH hot AS (SELECT auction, count(*) AS n FROM bid GROUP BY auction) "
                    "SELECT * FROM (SELECT auction, n FROM hot WHERE n > 10) t ORDER BY n DESC, 1 LIMIT 5");
  ASSERT_TRUE(q.plan);
  EXPECT_EQ(q.plan->kind, LogicalKind::kLimit);
  EXPECT_EQ(q.plan->limit, 5);
  EXPECT_EQ(q.plan->children[0]->kind, LogicalKind::kSort);
  EXPECT_TRUE(q.plan->children[0]->order[0].descending);
  EXPECT_TRUE(q.plan->children[0]->order[0].nulls_first);
  EXPECT_EQ(Names(*q.plan), (std::vector<std::string>{"auction", "n"}));
  BoundQuery star = Ok("SELECT * FROM bid");
  EXPECT_EQ(star.plan->schema.size(), 5u);
}

TEST_F(QueryBinderTest, GroupByRulesAndErrors) {
  EXPECT_NE(Error("SELECT bidder, count(*) FROM bid GROUP BY auction")
                .find("column \"bid.bidder\" must appear in the GROUP BY clause"),
            std::string::npos);
  EXPECT_NE(Error("SELECT count(max(price)) FROM bid").find("cannot be nested"), std::string::npos);
  EXPECT_NE(Error("SELECT * FROM nope").find("relation \"nope\" does not exist"), std::string::npos);
  EXPECT_NE(Error("SELECT * FROM out").find("is a sink"), std::string::npos);
  EXPECT_NE(Error("SELECT * FROM TUMBLE(bid, price, INTERVAL '1' SECOND)").find("must be TIMESTAMP"), std::string::npos);
  EXPECT_NE(Error("SELECT * FROM TUMBLE(bid, date_time, INTERVAL '1' MONTH)").find("fixed duration"), std::string::npos);
  EXPECT_NE(Error("SELECT * FROM HOP(bid, date_time, INTERVAL '3' SECOND, INTERVAL '10' SECOND)").find("multiple"),
            std::string::npos);
  EXPECT_NE(Error("SELECT sum(channel) FROM bid").find("does not exist"), std::string::npos);
  EXPECT_NE(Error("SELECT auction FROM bid WHERE price").find("WHERE must be type boolean"), std::string::npos);
  EXPECT_NE(Error("SELECT auction FROM bid WHERE count(*) > 1").find("not allowed in WHERE"), std::string::npos);
  EXPECT_NE(Error("SELECT auction FROM bid ORDER BY 3").find("ORDER BY position 3"), std::string::npos);
  // Expressions over grouped columns are fine; so are aggregates of expressions.
  BoundQuery q = Ok("SELECT auction % 10 AS bucket, sum(price * 2) FROM bid GROUP BY auction % 10 HAVING count(*) > 1");
  ASSERT_TRUE(q.plan);
  EXPECT_EQ(q.plan->children[0]->kind, LogicalKind::kFilter);
  EXPECT_EQ(q.plan->schema[1].type, DataType::Decimal(38, 0));
}

}  // namespace
}  // namespace sluice::sql
