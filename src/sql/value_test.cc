#include "sql/value.h"

#include <gtest/gtest.h>

#include <cmath>

#include "sql/value_text.h"

namespace sluice::sql {
namespace {

TEST(ValueTest, ToStringPrintsPostgresTextForms) {
  EXPECT_EQ(Value::Null(DataType::Int()).ToString(), "NULL");
  EXPECT_EQ(Value::Boolean(true).ToString(), "true");
  EXPECT_EQ(Value::Boolean(false).ToString(), "false");
  EXPECT_EQ(Value::Int(-42).ToString(), "-42");
  EXPECT_EQ(Value::Bigint(INT64_MIN).ToString(), "-9223372036854775808");
  EXPECT_EQ(Value::Double(1.5).ToString(), "1.5");
  EXPECT_EQ(Value::Decimal(-5, 10, 2).ToString(), "-0.05");
  EXPECT_EQ(Value::Decimal(12345, 10, 0).ToString(), "12345");
  EXPECT_EQ(Value::Varchar("héllo").ToString(), "héllo");
  EXPECT_EQ(Value::Date(0).ToString(), "1970-01-01");
  EXPECT_EQ(Value::Timestamp(1'795'300'801'123'000).ToString(), "2026-11-21 22:40:01.123");
  EXPECT_EQ(Value::Timestamptz(0).ToString(), "1970-01-01 00:00:00+00");
  EXPECT_EQ(Value::IntervalValue({0, 1, 7'384'000'000}).ToString(), "1 day 02:03:04");
}

std::string Double(double d) {
  char buf[kMaxValueTextSize];
  return std::string(buf, FormatDouble(d, buf));
}

TEST(ValueTextTest, DoubleShortestRoundTrip) {
  EXPECT_EQ(Double(0), "0");
  EXPECT_EQ(Double(-0.0), "-0");
  EXPECT_EQ(Double(1.5), "1.5");
  EXPECT_EQ(Double(0.1), "0.1");
  EXPECT_EQ(Double(100), "100");
  EXPECT_EQ(Double(1e14), "100000000000000");
  EXPECT_EQ(Double(1e15), "1e+15");
  EXPECT_EQ(Double(1e20), "1e+20");
  EXPECT_EQ(Double(123456789012345678.0), "1.2345678901234568e+17");
  EXPECT_EQ(Double(0.0001), "0.0001");
  EXPECT_EQ(Double(0.00001), "1e-05");
  EXPECT_EQ(Double(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(Double(1e-300), "1e-300");
  EXPECT_EQ(Double(HUGE_VAL), "Infinity");
  EXPECT_EQ(Double(-HUGE_VAL), "-Infinity");
  EXPECT_EQ(Double(NAN), "NaN");
}

std::string Ts(int64_t micros, bool zone = false) {
  char buf[kMaxValueTextSize];
  return std::string(buf, FormatTimestamp(micros, zone, buf));
}

TEST(ValueTextTest, TimestampsTrimFractionAndHandleBeforeEpoch) {
  EXPECT_EQ(Ts(0), "1970-01-01 00:00:00");
  EXPECT_EQ(Ts(1), "1970-01-01 00:00:00.000001");
  EXPECT_EQ(Ts(500'000), "1970-01-01 00:00:00.5");
  EXPECT_EQ(Ts(-1), "1969-12-31 23:59:59.999999");
  EXPECT_EQ(Ts(-1, true), "1969-12-31 23:59:59.999999+00");
  auto parsed = ParseTimestamp("0001-01-01 00:00:00", false);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(Ts(*parsed - 86'400'000'000LL), "0001-12-31 00:00:00 BC");
}

std::string Iv(Interval v) {
  char buf[kMaxValueTextSize];
  return std::string(buf, FormatInterval(v, buf));
}

TEST(ValueTextTest, IntervalsPrintLikePostgres) {
  EXPECT_EQ(Iv({0, 0, 0}), "00:00:00");
  EXPECT_EQ(Iv({0, 0, 10'000'000}), "00:00:10");
  EXPECT_EQ(Iv({1, 0, 0}), "1 mon");
  EXPECT_EQ(Iv({14, 3, 0}), "1 year 2 mons 3 days");
  EXPECT_EQ(Iv({0, 2, 0}), "2 days");
  EXPECT_EQ(Iv({0, 0, -3'600'000'000LL}), "-01:00:00");
  EXPECT_EQ(Iv({0, -1, 3'600'000'000LL}), "-1 days +01:00:00");
  EXPECT_EQ(Iv({-12, 0, 0}), "-1 years");
  EXPECT_EQ(Iv({0, 0, 100LL * 3'600'000'000LL + 1'500'000}), "100:00:01.5");
}

TEST(ValueTextTest, ParseIntervalForms) {
  auto check = [](std::string_view text, Interval want) {
    auto got = ParseInterval(text);
    ASSERT_TRUE(got.ok()) << text << ": " << got.status().ToString();
    EXPECT_EQ(*got, want) << text;
  };
  check("10 seconds", {0, 0, 10'000'000});
  check("1 hour 30 minutes", {0, 0, 5'400'000'000LL});
  check("2 days", {0, 2, 0});
  check("1 day 02:03:04", {0, 1, 7'384'000'000LL});
  check("-1 mon", {-1, 0, 0});
  check("1 year 2 mons", {14, 0, 0});
  check("1.5 hours", {0, 0, 5'400'000'000LL});
  check("1.5 days", {0, 1, 43'200'000'000LL});
  check("1.5 months", {1, 15, 0});
  check("90", {0, 0, 90'000'000});
  check("  4 SECOND ", {0, 0, 4'000'000});
  check("1 week", {0, 7, 0});
  check("2 hours ago", {0, 0, -7'200'000'000LL});
  check("00:00:10.25", {0, 0, 10'250'000});
  EXPECT_EQ(ParseInterval("abc").status().message(), "invalid input syntax for type interval: \"abc\"");
  EXPECT_FALSE(ParseInterval("").ok());
  EXPECT_FALSE(ParseInterval("10 parsecs").ok());
}

TEST(ValueTextTest, ParseScalars) {
  EXPECT_EQ(*ParseInt64(" -9223372036854775808 "), INT64_MIN);
  EXPECT_EQ(ParseInt64("9223372036854775808").status().message(),
            "value \"9223372036854775808\" is out of range for type bigint");
  EXPECT_EQ(ParseInt32("abc").status().message(), "invalid input syntax for type integer: \"abc\"");
  EXPECT_EQ(ParseInt32("").status().message(), "invalid input syntax for type integer: \"\"");
  EXPECT_EQ(*ParseInt32("2147483647"), INT32_MAX);
  EXPECT_FALSE(ParseInt32("2147483648").ok());
  EXPECT_EQ(*ParseDecimal("1.005", 10, 2), 101);
  EXPECT_EQ(*ParseDecimal("-1.005", 10, 2), -101);
  EXPECT_EQ(*ParseDecimal("1e3", 10, 0), 1000);
  EXPECT_EQ(*ParseDecimal(".5", 10, 0), 1);
  EXPECT_EQ(ParseDecimal("1000", 3, 0).status().message(), "numeric field overflow");
  EXPECT_EQ(ParseDecimal("1..2", 10, 0).status().message(), "invalid input syntax for type numeric: \"1..2\"");
  EXPECT_EQ(*ParseDecimal("99999999999999999999999999999999999999", 38, 0), Pow10(38) - 1);
  EXPECT_FALSE(ParseDecimal("100000000000000000000000000000000000000", 38, 0).ok());
  EXPECT_EQ(*ParseDouble("1e3"), 1000.0);
  EXPECT_EQ(*ParseDouble("-Infinity"), -HUGE_VAL);
  EXPECT_EQ(ParseDouble("1e400").status().message(), "\"1e400\" is out of range for type double precision");
  EXPECT_EQ(ParseDouble("x1").status().message(), "invalid input syntax for type double precision: \"x1\"");
  for (auto t : {"t", "TRUE", "yes", "on", "1", " y "}) EXPECT_TRUE(*ParseBoolean(t)) << t;
  for (auto f : {"f", "false", "NO", "off", "0", "of"}) EXPECT_FALSE(*ParseBoolean(f)) << f;
  EXPECT_EQ(ParseBoolean("o").status().message(), "invalid input syntax for type boolean: \"o\"");
  EXPECT_EQ(*ParseDate("1969-12-31"), -1);
  EXPECT_EQ(ParseDate("2026-02-30").status().message(), "date/time field value out of range: \"2026-02-30\"");
  EXPECT_EQ(ParseTimestamp("yesterday", false).status().message(), "invalid input syntax for type timestamp: \"yesterday\"");
}

}  // namespace
}  // namespace sluice::sql
