#include "exec/cast.h"

#include <gtest/gtest.h>

#include <cmath>
#include <optional>

#include "exec/expression_test_util.h"
#include "sql/value_text.h"

namespace sluice::exec::testing {
namespace {

// CAST(v AS to) through the kernel (as an expression) and through CastValue: both must agree.
std::string Cast(Value v, DataType to) {
  std::string kernel = Eval(CastTo(Lit(v), to));
  auto direct = CastValue(v, to);
  std::string value = direct.ok() ? direct->ToString() : "ERROR: " + direct.status().message();
  EXPECT_EQ(kernel, value) << v.ToString() << " -> " << to.ToString();
  return kernel;
}

Value V(std::string s) { return Value::Varchar(std::move(s)); }

TEST(CastTest, BetweenNumericTypes) {
  EXPECT_EQ(Cast(Value::Int(-5), Big()), "-5");
  EXPECT_EQ(Cast(Value::Bigint(INT64_MAX), Int()), "ERROR: integer out of range");
  EXPECT_EQ(Cast(Value::Bigint(INT32_MIN), Int()), "-2147483648");
  EXPECT_EQ(Cast(Value::Bigint(1) , Dbl()), "1");
  EXPECT_EQ(Cast(Value::Double(2.5), Int()), "2");  // rint(): half to even, as PostgreSQL
  EXPECT_EQ(Cast(Value::Double(3.5), Int()), "4");
  EXPECT_EQ(Cast(Value::Double(-2.7), Big()), "-3");
  EXPECT_EQ(Cast(Value::Double(3e9), Int()), "ERROR: integer out of range");
  EXPECT_EQ(Cast(Value::Double(9.3e18), Big()), "ERROR: bigint out of range");
  EXPECT_EQ(Cast(Value::Double(NAN), Big()), "ERROR: bigint out of range");
  EXPECT_EQ(Cast(Value::Decimal(250, 5, 2), Int()), "3");   // DECIMAL rounds half away from zero
  EXPECT_EQ(Cast(Value::Decimal(-250, 5, 2), Int()), "-3");
  EXPECT_EQ(Cast(Value::Decimal(-249, 5, 2), Big()), "-2");
  EXPECT_EQ(Cast(Value::Decimal(sql::Pow10(37), 38, 0), Big()), "ERROR: bigint out of range");
  EXPECT_EQ(Cast(Value::Int(42), DataType::Decimal(5, 2)), "42.00");
  EXPECT_EQ(Cast(Value::Int(1000), DataType::Decimal(5, 2)), "ERROR: numeric field overflow");
  EXPECT_EQ(Cast(Value::Bigint(INT64_MIN), DataType::Decimal(38, 0)), "-9223372036854775808");
  EXPECT_EQ(Cast(Value::Double(0.1), DataType::Decimal(10, 3)), "0.100");
  EXPECT_EQ(Cast(Value::Double(1.0005), DataType::Decimal(10, 3)), "1.001");
  EXPECT_EQ(Cast(Value::Double(-1.0005), DataType::Decimal(10, 3)), "-1.001");
  EXPECT_EQ(Cast(Value::Double(1e20), DataType::Decimal(10, 0)), "ERROR: numeric field overflow");
  EXPECT_EQ(Cast(Value::Double(NAN), DataType::Decimal(10, 0)), "ERROR: cannot convert NaN to numeric");
  EXPECT_EQ(Cast(Value::Double(HUGE_VAL), DataType::Decimal(10, 0)), "ERROR: cannot convert infinity to numeric");
  EXPECT_EQ(Cast(Value::Decimal(908, 3, 3), Dbl()), "0.908");
  EXPECT_EQ(Cast(Value::Decimal(sql::Pow10(38) - 1, 38, 10), Dbl()), "1e+28");
  EXPECT_EQ(Cast(Value::Decimal(12345, 10, 3), DataType::Decimal(10, 1)), "12.3");
  EXPECT_EQ(Cast(Value::Decimal(12355, 10, 3), DataType::Decimal(10, 2)), "12.36");
  EXPECT_EQ(Cast(Value::Decimal(12345, 10, 3), DataType::Decimal(30, 10)), "12.3450000000");
  EXPECT_EQ(Cast(Value::Decimal(12345, 10, 3), DataType::Decimal(2, 1)), "ERROR: numeric field overflow");
}

TEST(CastTest, NumbersToAndFromText) {
  EXPECT_EQ(Cast(Value::Int(-7), Var()), "-7");
  EXPECT_EQ(Cast(Value::Double(1e20), Var()), "1e+20");
  EXPECT_EQ(Cast(Value::Double(0.1), Var()), "0.1");
  EXPECT_EQ(Cast(Value::Decimal(100, 10, 2), Var()), "1.00");
  EXPECT_EQ(Cast(Value::Decimal(-sql::Pow10(38) + 1, 38, 38), Var()), "-0.99999999999999999999999999999999999999");
  EXPECT_EQ(Cast(V(" 42 "), Int()), "42");
  EXPECT_EQ(Cast(V("abc"), Big()), "ERROR: invalid input syntax for type bigint: \"abc\"");
  EXPECT_EQ(Cast(V("1.5"), Int()), "ERROR: invalid input syntax for type integer: \"1.5\"");
  EXPECT_EQ(Cast(V(""), Int()), "ERROR: invalid input syntax for type integer: \"\"");
  EXPECT_EQ(Cast(V("99999999999"), Int()), "ERROR: value \"99999999999\" is out of range for type integer");
  EXPECT_EQ(Cast(V("1.5e3"), Dbl()), "1500");
  EXPECT_EQ(Cast(V("NaN"), Dbl()), "NaN");
  EXPECT_EQ(Cast(V("-inf"), Dbl()), "-Infinity");
  EXPECT_EQ(Cast(V("1,5"), Dbl()), "ERROR: invalid input syntax for type double precision: \"1,5\"");
  EXPECT_EQ(Cast(V("123.455"), DataType::Decimal(10, 2)), "123.46");
  EXPECT_EQ(Cast(V("-0.5"), DataType::Decimal(10, 0)), "-1");
  EXPECT_EQ(Cast(V("12a"), DataType::Decimal(10, 2)), "ERROR: invalid input syntax for type numeric: \"12a\"");
  EXPECT_EQ(Cast(V("123456"), DataType::Decimal(5, 2)), "ERROR: numeric field overflow");
}

TEST(CastTest, Booleans) {
  EXPECT_EQ(Cast(Value::Boolean(true), Var()), "true");
  EXPECT_EQ(Cast(Value::Boolean(false), Var()), "false");
  EXPECT_EQ(Cast(V("YES"), Bool()), "true");
  EXPECT_EQ(Cast(V("off"), Bool()), "false");
  EXPECT_EQ(Cast(V("maybe"), Bool()), "ERROR: invalid input syntax for type boolean: \"maybe\"");
  EXPECT_EQ(Cast(Value::Int(5), Bool()), "true");
  EXPECT_EQ(Cast(Value::Bigint(0), Bool()), "false");
  EXPECT_EQ(Cast(Value::Boolean(true), Int()), "1");
}

TEST(CastTest, TimesToAndFromText) {
  EXPECT_EQ(Cast(V("2026-11-21 22:40:01.123456"), Ts()), "2026-11-21 22:40:01.123456");
  EXPECT_EQ(Cast(V("2026-11-21T22:40:01.120Z"), Ts()), "2026-11-21 22:40:01.12");
  EXPECT_EQ(Cast(V("2026-11-21 22:40:01+02:00"), DataType::Timestamptz()), "2026-11-21 20:40:01+00");
  EXPECT_EQ(Cast(V("2026-11-21"), Ts()), "2026-11-21 00:00:00");
  EXPECT_EQ(Cast(V("1969-07-20 20:17:40"), Ts()), "1969-07-20 20:17:40");
  EXPECT_EQ(Cast(V("not a time"), Ts()), "ERROR: invalid input syntax for type timestamp: \"not a time\"");
  EXPECT_EQ(Cast(V("2026-13-01"), DataType::Timestamptz()),
            "ERROR: invalid input syntax for type timestamp with time zone: \"2026-13-01\"");
  EXPECT_EQ(Cast(V("2026-11-21"), DataType::Date()), "2026-11-21");
  EXPECT_EQ(Cast(V("2026-02-29"), DataType::Date()), "ERROR: date/time field value out of range: \"2026-02-29\"");
  EXPECT_EQ(Cast(V("x"), DataType::Date()), "ERROR: invalid input syntax for type date: \"x\"");
  EXPECT_EQ(Cast(Value::Date(-1), Var()), "1969-12-31");
  EXPECT_EQ(Cast(V("1 hour 30 minutes"), DataType::Interval()), "01:30:00");
  EXPECT_EQ(Cast(V("2 days"), DataType::Interval()), "2 days");
  EXPECT_EQ(Cast(V("1 mon"), DataType::Interval()), "1 mon");
  EXPECT_EQ(Cast(V("soon"), DataType::Interval()), "ERROR: invalid input syntax for type interval: \"soon\"");
  EXPECT_EQ(Cast(Value::IntervalValue({0, 1, 7'384'000'000}), Var()), "1 day 02:03:04");
}

TEST(CastTest, BetweenTimeTypes) {
  auto ts = CastValue(V("1969-12-31 23:59:59.9"), Ts());
  ASSERT_TRUE(ts.ok());
  EXPECT_EQ(Cast(*ts, DataType::Date()), "1969-12-31");  // floor, not toward zero
  EXPECT_EQ(Cast(*ts, DataType::Timestamptz()), "1969-12-31 23:59:59.9+00");
  EXPECT_EQ(Cast(Value::Timestamptz(0), Ts()), "1970-01-01 00:00:00");
  EXPECT_EQ(Cast(Value::Date(1), Ts()), "1970-01-02 00:00:00");
  EXPECT_EQ(Cast(Value::Date(INT32_MAX), Ts()), "ERROR: timestamp out of range");
}

TEST(CastTest, NullsAndRefusedCasts) {
  EXPECT_EQ(Cast(Value::Null(Var()), Int()), "NULL");
  EXPECT_EQ(Cast(Value::Null(Dbl()), DataType::Decimal(5, 2)), "NULL");
  auto bad = CastValue(Value::IntervalValue({}), Dbl());
  EXPECT_EQ(bad.status().message(), "cannot cast type INTERVAL to DOUBLE");
  EXPECT_FALSE(CanCast(DataType::Date(), Int()));
  EXPECT_TRUE(CanCast(DataType::Date(), Var()));
  EXPECT_FALSE(CanCast(Bool(), Dbl()));
}

TEST(CastTest, ValueToStringMatchesCastToVarchar) {
  std::vector<Value> values = {Value::Boolean(true), Value::Int(-3), Value::Bigint(7), Value::Double(2.5e-7),
                               Value::Decimal(-1234, 8, 3), Value::Timestamp(-1), Value::Timestamptz(123456789),
                               Value::Date(20000), Value::IntervalValue({-13, 2, -1})};
  for (const Value& v : values) EXPECT_EQ(Cast(v, Var()), v.ToString());
}

TEST(CastTest, SelectionAndNullsInAColumn) {
  // CAST($0 AS INT) over a column with NULLs and a bad value in a NULL slot's neighbour.
  auto e = CastTo(Col(0, Var()), Int());
  auto r = EvalRows(*e, {Var()}, {{V("1")}, {Value::Null(Var())}, {V("-3")}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].ToString(), "1");
  EXPECT_EQ((*r)[1].ToString(), "NULL");
  EXPECT_EQ((*r)[2].ToString(), "-3");
  auto bad = EvalRows(*e, {Var()}, {{V("1")}, {V("x")}});
  EXPECT_EQ(bad.status().message(), "invalid input syntax for type integer: \"x\"");
}

}  // namespace
}  // namespace sluice::exec::testing
