#include "engine/point_query_cache.h"

#include <gtest/gtest.h>

namespace sluice::engine {
namespace {

TEST(PointQueryShapeTest, TheSameQueryWithAnotherKeyHasTheSameShape) {
  auto a = PointQueryShape::Of("SELECT k, n FROM v WHERE k = 42");
  auto b = PointQueryShape::Of("select K,n   from V where k=7;");
  auto c = PointQueryShape::Of("SELECT k, n FROM v WHERE k = 42;");
  ASSERT_TRUE(a && b && c);
  EXPECT_NE(a->key, b->key);  // the `;`
  EXPECT_EQ(a->key + "", PointQueryShape::Of("SELECT k, n FROM v WHERE k = 9")->key);
  EXPECT_EQ(b->key, c->key);
  EXPECT_TRUE(a->integer);
  EXPECT_EQ(a->literal, "42");
  EXPECT_EQ(b->literal, "7");
}

TEST(PointQueryShapeTest, IntegerAndStringKeysAreDifferentShapes) {
  auto i = PointQueryShape::Of("SELECT * FROM v WHERE k = 42");
  auto s = PointQueryShape::Of("SELECT * FROM v WHERE k = '42'");
  ASSERT_TRUE(i && s);
  EXPECT_NE(i->key, s->key);
  EXPECT_FALSE(s->integer);
  EXPECT_EQ(s->literal, "42");
  EXPECT_EQ(PointQueryShape::Of("SELECT * FROM v WHERE k = 'it''s'")->literal, "it's");
}

TEST(PointQueryShapeTest, QuotedIdentifiersKeepTheirCaseInTheShape) {
  auto a = PointQueryShape::Of("SELECT * FROM \"V\" WHERE k = 1");
  auto b = PointQueryShape::Of("SELECT * FROM v WHERE k = 1");
  auto c = PointQueryShape::Of("SELECT * FROM V WHERE k = 1");
  ASSERT_TRUE(a && b && c);
  EXPECT_NE(a->key, b->key);
  EXPECT_EQ(b->key, c->key);
}

TEST(PointQueryShapeTest, NoIdentifierCanImitateATokenBoundary) {
  // A quoted identifier may hold any byte, including whatever a key uses between tokens.
  for (const char* sep : {"\x1f", ":", "\"\"", "1:w"}) {
    const std::string tricky = std::string("SELECT * FROM \"v") + sep + "Bw\" WHERE k = 1";
    auto a = PointQueryShape::Of(tricky);
    auto b = PointQueryShape::Of("SELECT * FROM \"v\" w WHERE k = 1");
    ASSERT_TRUE(a && b) << tricky;
    EXPECT_NE(a->key, b->key) << tricky;
  }
  EXPECT_NE(PointQueryShape::Of("SELECT a FROM v WHERE k = 1")->key, PointQueryShape::Of("SELECT \"a\" FROM v WHERE k = 1")->key);
}

TEST(PointQueryShapeTest, OnlyShortSelectsHaveAShape) {
  EXPECT_FALSE(PointQueryShape::Of("INSERT INTO t VALUES (1)"));
  EXPECT_FALSE(PointQueryShape::Of("  sel"));
  EXPECT_TRUE(PointQueryShape::Of("  sElEcT * FROM v WHERE k = 1"));
  const std::string alias(PointQueryShape::kMaxTextBytes, 'a');
  EXPECT_FALSE(PointQueryShape::Of("SELECT k AS " + alias + " FROM v WHERE k = 1"));
}

TEST(PointQueryShapeTest, OnlyOneLiteralRightAfterEqualsAndAloneHasAShape) {
  for (const char* q : {"SELECT * FROM v",                          // no literal
                        "SELECT * FROM v WHERE k = 1 AND j = 2",    // two
                        "SELECT * FROM v WHERE k = -1",             // a sign before it
                        "SELECT * FROM v WHERE k = 1::int",         // a cast after it
                        "SELECT * FROM v WHERE k = 1 + j",          // an operator after it
                        "SELECT * FROM v WHERE k = abs(1)",         // inside a call
                        "SELECT * FROM v WHERE 1 = k",              // before `=`
                        "SELECT * FROM v WHERE k > 1",              // not `=`
                        "SELECT * FROM v WHERE k = 1.5",            // a decimal
                        "SELECT * FROM v WHERE k = $1",             // a parameter
                        "SELECT * FROM v WHERE k = DATE '2026-01-01'",
                        "SELECT * FROM v WHERE k = 'unterminated"}) {
    EXPECT_FALSE(PointQueryShape::Of(q).has_value()) << q;
  }
  EXPECT_TRUE(PointQueryShape::Of("SELECT * FROM v WHERE k = 1 ORDER BY n").has_value());
}

TEST(PointQueryShapeTest, TheLiteralConvertsAsACastToTheColumnsType) {
  auto shape = PointQueryShape::Of("SELECT * FROM v WHERE k = 42");
  ASSERT_TRUE(shape);
  EXPECT_EQ(shape->LiteralAs(sql::DataType::Bigint()), sql::Value::Bigint(42));
  EXPECT_EQ(shape->LiteralAs(sql::DataType::Int()), sql::Value::Int(42));
  auto text = PointQueryShape::Of("SELECT * FROM v WHERE k = '42'");
  EXPECT_EQ(text->LiteralAs(sql::DataType::Bigint()), sql::Value::Bigint(42));
  EXPECT_EQ(text->LiteralAs(sql::DataType::Varchar()), sql::Value::Varchar("42"));
  EXPECT_FALSE(PointQueryShape::Of("SELECT * FROM v WHERE k = 'x'")->LiteralAs(sql::DataType::Bigint()));
  EXPECT_FALSE(PointQueryShape::Of("SELECT * FROM v WHERE k = 99999999999")->LiteralAs(sql::DataType::Int()));
  EXPECT_FALSE(PointQueryShape::Of("SELECT * FROM v WHERE k = 99999999999999999999")->LiteralAs(sql::DataType::Bigint()));
}

TEST(PointQueryCacheTest, APlanHoldsForItsCatalogGenerationOnly) {
  PointQueryCache cache(2);
  PointQueryPlan plan;
  plan.catalog_generation = 5;
  plan.view = "v";
  cache.Insert("a", plan);
  ASSERT_NE(cache.Find("a", 5), nullptr);
  EXPECT_EQ(cache.Find("a", 5)->view, "v");
  EXPECT_EQ(cache.Find("a", 6), nullptr);
  EXPECT_EQ(cache.Find("b", 5), nullptr);
  cache.Insert("b", plan);
  EXPECT_EQ(cache.size(), 2u);
  cache.Insert("c", plan);  // full: starts over
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_NE(cache.Find("c", 5), nullptr);
  EXPECT_EQ(cache.Find("a", 5), nullptr);
}

}  // namespace
}  // namespace sluice::engine
