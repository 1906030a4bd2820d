#include "common/time_format.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(TimeFormatTest, FormatsUtcWithMillis) {
  EXPECT_EQ(FormatRfc3339(TimestampMs(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(TimestampMs(1'763'764'801'123)), "2025-11-21T22:40:01.123Z");
  EXPECT_EQ(FormatRfc3339(TimestampMs(-1)), "1969-12-31T23:59:59.999Z");
}

TEST(TimeFormatTest, ParsesWhatItFormats) {
  for (int64_t ms : {0LL, 1LL, 951'782'400'000LL /* 2000-02-29 */, 1'763'764'801'123LL, -86'400'001LL}) {
    auto parsed = ParseRfc3339(FormatRfc3339(TimestampMs(ms)));
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(parsed->value(), ms);
  }
}

TEST(TimeFormatTest, ParsesOffsetsFractionsAndDates) {
  EXPECT_EQ(ParseRfc3339("2026-01-01T01:00:00+01:00")->value(), ParseRfc3339("2026-01-01T00:00:00Z")->value());
  EXPECT_EQ(ParseRfc3339("2026-01-01T00:00:00.5Z")->value() % 1000, 500);
  EXPECT_EQ(ParseRfc3339("2026-01-01T00:00:00.123456789Z")->value() % 1000, 123);
  EXPECT_EQ(ParseRfc3339("2026-01-01")->value(), ParseRfc3339("2026-01-01T00:00:00Z")->value());
}

TEST(TimeFormatTest, RejectsMalformedInput) {
  for (const char* bad : {"", "2026", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00", "2026-01-01T25:00:00Z",
                          "2026-01-01T00:00:00Zjunk", "yesterday", "2026-01-01T00:00:00.Z"}) {
    EXPECT_FALSE(ParseRfc3339(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace sluice
