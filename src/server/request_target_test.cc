#include "server/request_target.h"

#include <gtest/gtest.h>

namespace sluice::server {
namespace {

TEST(RequestTargetTest, SplitsPathAndQuery) {
  auto t = ParseRequestTarget("/v1/topics/a%20b/events?partition=1&offset=5&key=user+id&flag");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->segments, (std::vector<std::string>{"v1", "topics", "a b", "events"}));
  EXPECT_EQ(t->Param("partition"), "1");
  EXPECT_EQ(t->Param("offset"), "5");
  EXPECT_EQ(t->Param("key"), "user id");
  EXPECT_EQ(t->Param("flag"), "");
  EXPECT_FALSE(t->Param("limit").has_value());
}

TEST(RequestTargetTest, RootAndTrailingSlashes) {
  EXPECT_TRUE(ParseRequestTarget("/")->segments.empty());
  EXPECT_EQ(ParseRequestTarget("/v1/topics/")->segments.size(), 2u);
}

TEST(RequestTargetTest, MalformedEscapes) {
  EXPECT_FALSE(ParseRequestTarget("/a%2").ok());
  EXPECT_FALSE(ParseRequestTarget("/a%zz").ok());
  EXPECT_FALSE(ParseRequestTarget("/a?x=%").ok());
}

TEST(RequestTargetTest, IntParams) {
  EXPECT_EQ(*ParseIntParam("limit", "10", 1, 100), 10);
  EXPECT_EQ(ParseIntParam("limit", "abc", 1, 100).status().message(),
            "parameter 'limit' must be an integer, got 'abc'");
  EXPECT_FALSE(ParseIntParam("limit", "", 1, 100).ok());
  EXPECT_FALSE(ParseIntParam("limit", "5x", 1, 100).ok());
  EXPECT_FALSE(ParseIntParam("limit", "0", 1, 100).ok());
  EXPECT_FALSE(ParseIntParam("offset", "-1", 0, 100).ok());
  EXPECT_FALSE(ParseIntParam("offset", "99999999999999999999999", 0, INT64_MAX).ok());
}

}  // namespace
}  // namespace sluice::server
