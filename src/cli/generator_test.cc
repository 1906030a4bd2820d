#include "cli/generator.h"

#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <simdjson.h>

namespace sluice::cli {
namespace {

GenOptions Options(std::string workload) {
  GenOptions o;
  o.workload = std::move(workload);
  o.seed = 7;
  o.start_time = TimestampMs(1'800'000'000'000);
  return o;
}

std::vector<std::string> Lines(EventGenerator& g, int n) {
  std::vector<std::string> lines;
  for (int i = 0; i < n; ++i) {
    std::string line;
    g.Next(&line, TimestampMs(1));
    lines.push_back(line);
  }
  return lines;
}

TEST(GeneratorTest, SameSeedSameEvents) {
  EventGenerator a(Options("clickstream")), b(Options("clickstream"));
  EXPECT_EQ(Lines(a, 200), Lines(b, 200));
  GenOptions other = Options("clickstream");
  other.seed = 8;
  EventGenerator c(other);
  EventGenerator a2(Options("clickstream"));
  EXPECT_NE(Lines(a2, 50), Lines(c, 50));
}

TEST(GeneratorTest, EventsAreValidJsonObjectsWithKeysAndTimes) {
  for (const char* workload : {"clickstream", "transactions"}) {
    EventGenerator g(Options(workload));
    simdjson::dom::parser parser;
    for (const std::string& line : Lines(g, 500)) {
      ASSERT_EQ(line.back(), '\n');
      simdjson::dom::element doc;
      ASSERT_FALSE(parser.parse(line).get(doc)) << line;
      ASSERT_TRUE(doc.is_object());
      int64_t key = 0;
      EXPECT_FALSE(doc[g.key_field()].get(key)) << line;
      std::string_view ts;
      EXPECT_FALSE(doc["ts"].get(ts));
      int64_t source_ts = 0;
      EXPECT_FALSE(doc["source_ts"].get(source_ts));
      EXPECT_EQ(source_ts, 1);
    }
  }
}

TEST(GeneratorTest, MalformedAndDuplicateFractionsAreRoughlyHonoured) {
  GenOptions o = Options("transactions");
  o.malformed = 0.1;
  o.duplicates = 0.1;
  EventGenerator g(o);
  simdjson::dom::parser parser;
  int malformed = 0, duplicates = 0;
  std::set<std::string> seen;
  for (const std::string& line : Lines(g, 5000)) {
    simdjson::dom::element doc;
    if (parser.parse(line).get(doc) || !doc.is_object()) {
      ++malformed;
      continue;
    }
    if (!seen.insert(line).second) ++duplicates;
  }
  EXPECT_NEAR(malformed, 500, 120);
  EXPECT_NEAR(duplicates, 500, 150);
}

TEST(GeneratorTest, SkewConcentratesKeys) {
  GenOptions o = Options("clickstream");
  o.key_skew = 1.2;
  o.keys = 1000;
  EventGenerator g(o);
  simdjson::dom::parser parser;
  int key_one = 0;
  for (const std::string& line : Lines(g, 2000)) {
    simdjson::dom::element doc;
    ASSERT_FALSE(parser.parse(line).get(doc));
    int64_t user = 0;
    ASSERT_FALSE(doc["user_id"].get(user));
    EXPECT_GE(user, 1);
    EXPECT_LE(user, 1000);
    if (user == 1) ++key_one;
  }
  EXPECT_GT(key_one, 2000 / 10);  // the hottest key gets far more than 1/1000
}

TEST(GeneratorTest, RejectsBadOptions) {
  GenOptions o = Options("nope");
  EXPECT_FALSE(ValidateGenOptions(o).ok());
  o = Options("clickstream");
  o.malformed = 1.5;
  EXPECT_FALSE(ValidateGenOptions(o).ok());
}

}  // namespace
}  // namespace sluice::cli
