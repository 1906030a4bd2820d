#include "exec/expression_executor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <optional>

#include "exec/expression_test_util.h"
#include "sql/value_text.h"

namespace sluice::exec::testing {
namespace {

Value N(DataType t) { return Value::Null(t); }
BoundExprPtr I(int32_t v) { return Lit(Value::Int(v)); }
BoundExprPtr B(int64_t v) { return Lit(Value::Bigint(v)); }
BoundExprPtr D(double v) { return Lit(Value::Double(v)); }
BoundExprPtr S(std::string v) { return Lit(Value::Varchar(std::move(v))); }
BoundExprPtr Dec(__int128 v, uint8_t p, uint8_t s) { return Lit(Value::Decimal(v, p, s)); }
BoundExprPtr Bo(bool b) { return Lit(Value::Boolean(b)); }
BoundExprPtr NullOf(DataType t) { return Lit(N(t)); }
BoundExprPtr TsLit(std::string_view text) {
  auto v = CastValue(Value::Varchar(std::string(text)), Ts());
  EXPECT_TRUE(v.ok()) << text;
  return Lit(*v);
}
BoundExprPtr IvLit(std::string_view text) {
  auto v = CastValue(Value::Varchar(std::string(text)), DataType::Interval());
  EXPECT_TRUE(v.ok()) << text;
  return Lit(*v);
}

TEST(ArithmeticTest, Integers) {
  EXPECT_EQ(Eval(Fn(ScalarFn::kAdd, Int(), I(2), I(3))), "5");
  EXPECT_EQ(Eval(Fn(ScalarFn::kSubtract, Big(), B(2), B(3))), "-1");
  EXPECT_EQ(Eval(Fn(ScalarFn::kMultiply, Big(), B(-4), B(3))), "-12");
  EXPECT_EQ(Eval(Fn(ScalarFn::kDivide, Int(), I(7), I(2))), "3");
  EXPECT_EQ(Eval(Fn(ScalarFn::kDivide, Int(), I(-7), I(2))), "-3");  // toward zero
  EXPECT_EQ(Eval(Fn(ScalarFn::kModulo, Int(), I(-7), I(3))), "-1");  // sign of the dividend
  EXPECT_EQ(Eval(Fn(ScalarFn::kModulo, Int(), I(7), I(-3))), "1");
  EXPECT_EQ(Eval(Fn(ScalarFn::kNegate, Int(), I(5))), "-5");
}

TEST(ArithmeticTest, IntegerErrors) {
  EXPECT_EQ(Eval(Fn(ScalarFn::kAdd, Int(), I(INT32_MAX), I(1))), "ERROR: integer out of range");
  EXPECT_EQ(Eval(Fn(ScalarFn::kMultiply, Int(), I(65536), I(65536))), "ERROR: integer out of range");
  EXPECT_EQ(Eval(Fn(ScalarFn::kSubtract, Big(), B(INT64_MIN), B(1))), "ERROR: bigint out of range");
  EXPECT_EQ(Eval(Fn(ScalarFn::kDivide, Big(), B(INT64_MIN), B(-1))), "ERROR: bigint out of range");
  EXPECT_EQ(Eval(Fn(ScalarFn::kModulo, Big(), B(INT64_MIN), B(-1))), "0");
  EXPECT_EQ(Eval(Fn(ScalarFn::kDivide, Big(), B(1), B(0))), "ERROR: division by zero");
  EXPECT_EQ(Eval(Fn(ScalarFn::kModulo, Int(), I(1), I(0))), "ERROR: division by zero");
  EXPECT_EQ(Eval(Fn(ScalarFn::kNegate, Big(), B(INT64_MIN))), "ERROR: bigint out of range");
  EXPECT_EQ(Eval(Fn(ScalarFn::kNegate, Int(), I(INT32_MIN))), "ERROR: integer out of range");
  // A NULL operand never raises: 1 / NULL and NULL / 0 are NULL.
  EXPECT_EQ(Eval(Fn(ScalarFn::kDivide, Big(), B(1), NullOf(Big()))), "NULL");
  EXPECT_EQ(Eval(Fn(ScalarFn::kDivide, Big(), NullOf(Big()), B(0))), "NULL");
}

TEST(ArithmeticTest, Doubles) {
  EXPECT_EQ(Eval(Fn(ScalarFn::kAdd, Dbl(), D(0.1), D(0.2))), "0.30000000000000004");
  EXPECT_EQ(Eval(Fn(ScalarFn::kDivide, Dbl(), D(1), D(4))), "0.25");
  EXPECT_EQ(Eval(Fn(ScalarFn::kDivide, Dbl(), D(1), D(0))), "ERROR: division by zero");
  EXPECT_EQ(Eval(Fn(ScalarFn::kMultiply, Dbl(), D(1e300), D(1e300))), "ERROR: value out of range: overflow");
  EXPECT_EQ(Eval(Fn(ScalarFn::kAdd, Dbl(), D(HUGE_VAL), D(1))), "Infinity");
  EXPECT_EQ(Eval(Fn(ScalarFn::kModulo, Dbl(), D(-7.5), D(2))), "-1.5");
  EXPECT_EQ(Eval(Fn(ScalarFn::kNegate, Dbl(), D(2.5))), "-2.5");
}

TEST(ArithmeticTest, Decimals) {
  // 1.25 + 0.005 with the result DECIMAL(10,3)
  EXPECT_EQ(Eval(Fn(ScalarFn::kAdd, DataType::Decimal(10, 3), Dec(125, 5, 2), Dec(5, 5, 3))), "1.255");
  EXPECT_EQ(Eval(Fn(ScalarFn::kSubtract, DataType::Decimal(10, 2), Dec(125, 5, 2), Dec(300, 5, 2))), "-1.75");
  // 1.25 * 0.908 = 1.135 (scale 5 -> rounded to the result's scale 3... and 2)
  EXPECT_EQ(Eval(Fn(ScalarFn::kMultiply, DataType::Decimal(12, 5), Dec(125, 5, 2), Dec(908, 3, 3))), "1.13500");
  EXPECT_EQ(Eval(Fn(ScalarFn::kMultiply, DataType::Decimal(12, 2), Dec(125, 5, 2), Dec(908, 3, 3))), "1.14");
  EXPECT_EQ(Eval(Fn(ScalarFn::kMultiply, DataType::Decimal(12, 2), Dec(-125, 5, 2), Dec(908, 3, 3))), "-1.14");
  EXPECT_EQ(Eval(Fn(ScalarFn::kDivide, DataType::Decimal(20, 6), Dec(1, 5, 0), Dec(3, 5, 0))), "0.333333");
  EXPECT_EQ(Eval(Fn(ScalarFn::kDivide, DataType::Decimal(20, 6), Dec(2, 5, 0), Dec(3, 5, 0))), "0.666667");
  EXPECT_EQ(Eval(Fn(ScalarFn::kDivide, DataType::Decimal(20, 2), Dec(-1000, 5, 2), Dec(300, 5, 2))), "-3.33");
  EXPECT_EQ(Eval(Fn(ScalarFn::kDivide, DataType::Decimal(20, 2), Dec(1, 5, 2), Dec(0, 5, 2))), "ERROR: division by zero");
  EXPECT_EQ(Eval(Fn(ScalarFn::kModulo, DataType::Decimal(10, 2), Dec(-750, 5, 2), Dec(200, 5, 2))), "-1.50");
  EXPECT_EQ(Eval(Fn(ScalarFn::kNegate, DataType::Decimal(5, 2), Dec(125, 5, 2))), "-1.25");
  // DECIMAL(38) limits: the largest value + 1 overflows; int128 multiplication overflow too.
  __int128 max38 = sql::Pow10(38) - 1;
  EXPECT_EQ(Eval(Fn(ScalarFn::kAdd, DataType::Decimal(38, 0), Dec(max38, 38, 0), Dec(1, 38, 0))), "ERROR: numeric field overflow");
  EXPECT_EQ(Eval(Fn(ScalarFn::kSubtract, DataType::Decimal(38, 0), Dec(max38, 38, 0), Dec(1, 38, 0))),
            "99999999999999999999999999999999999998");
  EXPECT_EQ(Eval(Fn(ScalarFn::kMultiply, DataType::Decimal(38, 0), Dec(max38, 38, 0), Dec(max38, 38, 0))),
            "ERROR: numeric field overflow");
  EXPECT_EQ(Eval(Fn(ScalarFn::kAdd, DataType::Decimal(3, 0), Dec(999, 3, 0), Dec(1, 3, 0))), "ERROR: numeric field overflow");
  EXPECT_EQ(Eval(Fn(ScalarFn::kAdd, DataType::Decimal(10, 2), NullOf(DataType::Decimal(5, 2)), Dec(1, 5, 2))), "NULL");
}

TEST(ComparisonTest, EveryTypeAndNulls) {
  auto cmp = [](ScalarFn fn, BoundExprPtr a, BoundExprPtr b) { return Eval(Fn(fn, Bool(), std::move(a), std::move(b))); };
  EXPECT_EQ(cmp(ScalarFn::kLt, I(1), I(2)), "true");
  EXPECT_EQ(cmp(ScalarFn::kGtEq, B(1), B(2)), "false");
  EXPECT_EQ(cmp(ScalarFn::kEq, D(0.5), D(0.5)), "true");
  EXPECT_EQ(cmp(ScalarFn::kNotEq, S("abc"), S("abd")), "true");
  EXPECT_EQ(cmp(ScalarFn::kLt, S("Z"), S("a")), "true");    // bytewise (C collation)
  EXPECT_EQ(cmp(ScalarFn::kLt, S("ab"), S("abc")), "true");
  EXPECT_EQ(cmp(ScalarFn::kGt, S("é"), S("z")), "true");    // UTF-8 bytes compare unsigned
  EXPECT_EQ(cmp(ScalarFn::kLtEq, Bo(false), Bo(true)), "true");
  EXPECT_EQ(cmp(ScalarFn::kEq, Dec(150, 5, 2), Dec(15, 5, 1)), "true");  // 1.50 = 1.5
  EXPECT_EQ(cmp(ScalarFn::kLt, Dec(149, 5, 2), Dec(15, 5, 1)), "true");
  EXPECT_EQ(cmp(ScalarFn::kGt, Dec(sql::Pow10(38) - 1, 38, 0), Dec(1, 38, 2)), "true");
  EXPECT_EQ(cmp(ScalarFn::kLt, TsLit("1969-12-31 23:59:59"), TsLit("1970-01-01")), "true");
  EXPECT_EQ(cmp(ScalarFn::kEq, Lit(Value::Date(3)), Lit(Value::Date(3))), "true");
  EXPECT_EQ(cmp(ScalarFn::kEq, NullOf(Int()), I(1)), "NULL");
  EXPECT_EQ(cmp(ScalarFn::kEq, I(1), NullOf(Int())), "NULL");
  EXPECT_EQ(cmp(ScalarFn::kEq, NullOf(Var()), NullOf(Var())), "NULL");
}

TEST(LogicTest, ThreeValuedTruthTables) {
  auto v = [](int x) { return x == 2 ? NullOf(Bool()) : Bo(x == 1); };  // 0 false, 1 true, 2 NULL
  const char* names[] = {"false", "true", "NULL"};
  const int and_table[3][3] = {{0, 0, 0}, {0, 1, 2}, {0, 2, 2}};
  const int or_table[3][3] = {{0, 1, 2}, {1, 1, 1}, {2, 1, 2}};
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) {
      EXPECT_EQ(Eval(Fn(ScalarFn::kAnd, Bool(), v(a), v(b))), names[and_table[a][b]]) << a << " AND " << b;
      EXPECT_EQ(Eval(Fn(ScalarFn::kOr, Bool(), v(a), v(b))), names[or_table[a][b]]) << a << " OR " << b;
    }
  }
  EXPECT_EQ(Eval(Fn(ScalarFn::kNot, Bool(), Bo(true))), "false");
  EXPECT_EQ(Eval(Fn(ScalarFn::kNot, Bool(), NullOf(Bool()))), "NULL");
}

TEST(LogicTest, NullTests) {
  EXPECT_EQ(Eval(Fn(ScalarFn::kIsNull, Bool(), NullOf(Var()))), "true");
  EXPECT_EQ(Eval(Fn(ScalarFn::kIsNull, Bool(), S(""))), "false");
  EXPECT_EQ(Eval(Fn(ScalarFn::kIsNotNull, Bool(), NullOf(Int()))), "false");
  EXPECT_EQ(Eval(Fn(ScalarFn::kIsTrue, Bool(), NullOf(Bool()))), "false");
  EXPECT_EQ(Eval(Fn(ScalarFn::kIsFalse, Bool(), Bo(false))), "true");
  EXPECT_EQ(Eval(Fn(ScalarFn::kIsNotTrue, Bool(), NullOf(Bool()))), "true");
  EXPECT_EQ(Eval(Fn(ScalarFn::kIsNotFalse, Bool(), NullOf(Bool()))), "true");
  EXPECT_EQ(Eval(Fn(ScalarFn::kIsNotFalse, Bool(), Bo(false))), "false");
}

TEST(LogicTest, RightSideOfAndIsLazyWhenItCanFail) {
  // x <> 0 AND 10 / x > 1 over x = 0, 5, NULL
  auto e = Fn(ScalarFn::kAnd, Bool(), Fn(ScalarFn::kNotEq, Bool(), Col(0, Big()), B(0)),
              Fn(ScalarFn::kGt, Bool(), Fn(ScalarFn::kDivide, Big(), B(10), Col(0, Big())), B(1)));
  auto r = EvalRows(*e, {Big()}, {{Value::Bigint(0)}, {Value::Bigint(5)}, {N(Big())}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)[0].ToString(), "false");
  EXPECT_EQ((*r)[1].ToString(), "true");
  EXPECT_EQ((*r)[2].ToString(), "NULL");
  // x = 0 OR 10 / x > 1
  auto o = Fn(ScalarFn::kOr, Bool(), Fn(ScalarFn::kEq, Bool(), Col(0, Big()), B(0)),
              Fn(ScalarFn::kGt, Bool(), Fn(ScalarFn::kDivide, Big(), B(10), Col(0, Big())), B(1)));
  auto ro = EvalRows(*o, {Big()}, {{Value::Bigint(0)}, {Value::Bigint(20)}});
  ASSERT_TRUE(ro.ok()) << ro.status().ToString();
  EXPECT_EQ((*ro)[0].ToString(), "true");
  EXPECT_EQ((*ro)[1].ToString(), "false");
}

std::string Like(std::string s, std::string p, ScalarFn fn = ScalarFn::kLike) {
  return Eval(Fn(fn, Bool(), S(std::move(s)), S(std::move(p))));
}

TEST(LikeTest, Patterns) {
  EXPECT_EQ(Like("abc", "abc"), "true");
  EXPECT_EQ(Like("abc", "ab"), "false");
  EXPECT_EQ(Like("abc", "%"), "true");
  EXPECT_EQ(Like("", "%"), "true");
  EXPECT_EQ(Like("", ""), "true");
  EXPECT_EQ(Like("a", ""), "false");
  EXPECT_EQ(Like("", "_"), "false");
  EXPECT_EQ(Like("abc", "a%"), "true");
  EXPECT_EQ(Like("abc", "%c"), "true");
  EXPECT_EQ(Like("abc", "%b%"), "true");
  EXPECT_EQ(Like("abc", "%d%"), "false");
  EXPECT_EQ(Like("abc", "a_c"), "true");
  EXPECT_EQ(Like("abc", "___"), "true");
  EXPECT_EQ(Like("abc", "____"), "false");
  EXPECT_EQ(Like("abcbcd", "a%bc%d"), "true");
  EXPECT_EQ(Like("abcbce", "a%bc%d"), "false");
  EXPECT_EQ(Like("aXbXc", "%b%%c"), "true");
  EXPECT_EQ(Like("mississippi", "%iss%ppi"), "true");
  EXPECT_EQ(Like("mississippi", "m%ss%i_pi"), "true");
  EXPECT_EQ(Like("héllo", "h_llo"), "true");   // _ is one code point, not one byte
  EXPECT_EQ(Like("héllo", "h__llo"), "false");
  EXPECT_EQ(Like("日本語", "%本%"), "true");
  EXPECT_EQ(Like("日本語", "__語"), "true");
  EXPECT_EQ(Like("ABC", "abc"), "false");
  EXPECT_EQ(Like("ABC", "a%", ScalarFn::kILike), "true");
  EXPECT_EQ(Like("Ärger", "är%", ScalarFn::kILike), "true");
  EXPECT_EQ(Eval(Fn(ScalarFn::kLike, Bool(), NullOf(Var()), S("%"))), "NULL");
  EXPECT_EQ(Eval(Fn(ScalarFn::kLike, Bool(), S("a"), NullOf(Var()))), "NULL");
}

TEST(LikeTest, PerRowPatterns) {
  auto e = Fn(ScalarFn::kILike, Bool(), Col(0, Var()), Col(1, Var()));
  auto r = EvalRows(*e, {Var(), Var()},
                    {{Value::Varchar("Hello"), Value::Varchar("h%O")},
                     {Value::Varchar("Hello"), Value::Varchar("%x%")},
                     {Value::Varchar("x"), N(Var())}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].ToString(), "true");
  EXPECT_EQ((*r)[1].ToString(), "false");
  EXPECT_EQ((*r)[2].ToString(), "NULL");
}

TEST(InTest, SqlSemantics) {
  EXPECT_EQ(Eval(Fn(ScalarFn::kIn, Bool(), I(2), I(1), I(2))), "true");
  EXPECT_EQ(Eval(Fn(ScalarFn::kIn, Bool(), I(3), I(1), I(2))), "false");
  EXPECT_EQ(Eval(Fn(ScalarFn::kIn, Bool(), I(3), I(1), NullOf(Int()))), "NULL");
  EXPECT_EQ(Eval(Fn(ScalarFn::kIn, Bool(), I(1), I(1), NullOf(Int()))), "true");
  EXPECT_EQ(Eval(Fn(ScalarFn::kIn, Bool(), NullOf(Int()), I(1))), "NULL");
  EXPECT_EQ(Eval(Fn(ScalarFn::kIn, Bool(), S("b"), S("a"), S("b"))), "true");
  EXPECT_EQ(Eval(Fn(ScalarFn::kIn, Bool(), Dec(150, 5, 2), Dec(15, 3, 1))), "true");  // cast inserted
}

TEST(CoalesceTest, FirstNonNullAndLazy) {
  EXPECT_EQ(Eval(Fn(ScalarFn::kCoalesce, Int(), NullOf(Int()), I(2), I(3))), "2");
  EXPECT_EQ(Eval(Fn(ScalarFn::kCoalesce, Int(), NullOf(Int()), NullOf(Int()))), "NULL");
  EXPECT_EQ(Eval(Fn(ScalarFn::kCoalesce, Var(), S("a"), NullOf(Var()))), "a");
  // Later arguments are not evaluated where an earlier one is non-NULL.
  EXPECT_EQ(Eval(Fn(ScalarFn::kCoalesce, Int(), I(1), Fn(ScalarFn::kDivide, Int(), I(1), I(0)))), "1");
  auto e = Fn(ScalarFn::kCoalesce, Var(), Col(0, Var()), Col(1, Var()), S("z"));
  auto r = EvalRows(*e, {Var(), Var()},
                    {{Value::Varchar("a"), N(Var())}, {N(Var()), Value::Varchar("b")}, {N(Var()), N(Var())}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].ToString(), "a");
  EXPECT_EQ((*r)[1].ToString(), "b");
  EXPECT_EQ((*r)[2].ToString(), "z");
}

TEST(CaseTest, BranchesOnlySeeTheirRows) {
  // CASE WHEN x <> 0 THEN 100 / x ELSE 0 END
  auto e = Fn(ScalarFn::kCase, Big(), Fn(ScalarFn::kNotEq, Bool(), Col(0, Big()), B(0)),
              Fn(ScalarFn::kDivide, Big(), B(100), Col(0, Big())), B(0));
  auto r = EvalRows(*e, {Big()}, {{Value::Bigint(0)}, {Value::Bigint(7)}, {N(Big())}, {Value::Bigint(-50)}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)[0].ToString(), "0");
  EXPECT_EQ((*r)[1].ToString(), "14");
  EXPECT_EQ((*r)[2].ToString(), "0");  // NULL condition -> ELSE
  EXPECT_EQ((*r)[3].ToString(), "-2");
}

TEST(CaseTest, SeveralBranchesAndNullElse) {
  auto e = Fn(ScalarFn::kCase, Var(), Fn(ScalarFn::kLt, Bool(), Col(0, Int()), I(0)), S("neg"),
              Fn(ScalarFn::kEq, Bool(), Col(0, Int()), I(0)), S("zero"), NullOf(Var()));
  auto r = EvalRows(*e, {Int()}, {{Value::Int(-1)}, {Value::Int(0)}, {Value::Int(1)}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].ToString(), "neg");
  EXPECT_EQ((*r)[1].ToString(), "zero");
  EXPECT_EQ((*r)[2].ToString(), "NULL");
  // A failing branch that no row selects is never evaluated; one that a row selects fails.
  EXPECT_EQ(Eval(Fn(ScalarFn::kCase, Int(), Bo(false), Fn(ScalarFn::kDivide, Int(), I(1), I(0)), I(5))), "5");
  EXPECT_EQ(Eval(Fn(ScalarFn::kCase, Int(), Bo(true), Fn(ScalarFn::kDivide, Int(), I(1), I(0)), I(5))),
            "ERROR: division by zero");
}

TEST(StringTest, LowerUpperLength) {
  EXPECT_EQ(Eval(Fn(ScalarFn::kLower, Var(), S("HeLLo"))), "hello");
  EXPECT_EQ(Eval(Fn(ScalarFn::kUpper, Var(), S("straße"))), "STRAßE");
  EXPECT_EQ(Eval(Fn(ScalarFn::kLower, Var(), S("ÀÉÎÕÜ ΣΑΣ ПРИВЕТ Ł"))), "àéîõü σασ привет ł");
  EXPECT_EQ(Eval(Fn(ScalarFn::kUpper, Var(), S("àéîõü σας привет ł ÿ"))), "ÀÉÎÕÜ ΣΑΣ ПРИВЕТ Ł Ÿ");
  EXPECT_EQ(Eval(Fn(ScalarFn::kLower, Var(), S(""))), "");
  EXPECT_EQ(Eval(Fn(ScalarFn::kLower, Var(), NullOf(Var()))), "NULL");
  EXPECT_EQ(Eval(Fn(ScalarFn::kLength, Big(), S("héllo"))), "5");
  EXPECT_EQ(Eval(Fn(ScalarFn::kLength, Big(), S("日本語"))), "3");
  EXPECT_EQ(Eval(Fn(ScalarFn::kLength, Big(), S(""))), "0");
  EXPECT_EQ(Eval(Fn(ScalarFn::kLength, Big(), NullOf(Var()))), "NULL");
}

TEST(StringTest, Substr) {
  auto sub = [](std::string s, int64_t start, std::optional<int64_t> count) {
    if (count) return Eval(Fn(ScalarFn::kSubstr, Var(), S(std::move(s)), B(start), B(*count)));
    return Eval(Fn(ScalarFn::kSubstr, Var(), S(std::move(s)), B(start)));
  };
  EXPECT_EQ(sub("hello", 2, 3), "ell");
  EXPECT_EQ(sub("hello", 2, std::nullopt), "ello");
  EXPECT_EQ(sub("hello", 0, 3), "he");     // positions before 1 use up the count
  EXPECT_EQ(sub("hello", -5, 3), "");
  EXPECT_EQ(sub("hello", 10, 3), "");
  EXPECT_EQ(sub("hello", 4, 100), "lo");
  EXPECT_EQ(sub("hello", 1, INT64_MAX), "hello");
  EXPECT_EQ(sub("héllo wörld", 2, 4), "éllo");
  EXPECT_EQ(sub("日本語", 3, 1), "語");
  EXPECT_EQ(sub("", 1, 1), "");
  EXPECT_EQ(sub("hello", 1, -1), "ERROR: negative substring length not allowed");
  EXPECT_EQ(Eval(Fn(ScalarFn::kSubstr, Var(), NullOf(Var()), B(1), B(-1))), "NULL");
  EXPECT_EQ(Eval(Fn(ScalarFn::kSubstr, Var(), S("a"), NullOf(Big()))), "NULL");
  EXPECT_EQ(Eval(Fn(ScalarFn::kSubstr, Var(), S("a"), B(1), NullOf(Big()))), "NULL");
}

TEST(StringTest, ConcatAndSplitPart) {
  EXPECT_EQ(Eval(Fn(ScalarFn::kConcat, Var(), S("a"), NullOf(Var()), S("b"))), "ab");
  EXPECT_EQ(Eval(Fn(ScalarFn::kConcat, Var(), NullOf(Var()))), "");
  EXPECT_EQ(Eval(Fn(ScalarFn::kConcatOp, Var(), S("a"), S("é"))), "aé");
  EXPECT_EQ(Eval(Fn(ScalarFn::kConcatOp, Var(), S("a"), NullOf(Var()))), "NULL");
  EXPECT_EQ(Eval(Fn(ScalarFn::kConcatOp, Var(), NullOf(Var()), S("a"))), "NULL");
  auto split = [](std::string s, std::string d, int64_t n) {
    return Eval(Fn(ScalarFn::kSplitPart, Var(), S(std::move(s)), S(std::move(d)), B(n)));
  };
  EXPECT_EQ(split("a,b,c", ",", 1), "a");
  EXPECT_EQ(split("a,b,c", ",", 3), "c");
  EXPECT_EQ(split("a,b,c", ",", 4), "");
  EXPECT_EQ(split("a,b,c", ",", -1), "c");
  EXPECT_EQ(split("a,b,c", ",", -3), "a");
  EXPECT_EQ(split("a,b,c", ",", -4), "");
  EXPECT_EQ(split("a::b", "::", 2), "b");
  EXPECT_EQ(split("abc", "", 1), "abc");
  EXPECT_EQ(split("abc", "", 2), "");
  EXPECT_EQ(split("", ",", 1), "");
  EXPECT_EQ(split("a,b", ",", 0), "ERROR: field position must not be zero");
  EXPECT_EQ(Eval(Fn(ScalarFn::kSplitPart, Var(), S("a"), NullOf(Var()), B(1))), "NULL");
  EXPECT_EQ(Eval(Fn(ScalarFn::kSplitPart, Var(), S("a"), S(","), NullOf(Big()))), "NULL");
}

std::string Trunc(std::string unit, std::string_view ts) {
  return Eval(Fn(ScalarFn::kDateTrunc, Ts(), S(std::move(unit)), TsLit(ts)));
}

TEST(TimeTest, DateTrunc) {
  const char* t = "2026-11-21 22:40:01.123456";
  EXPECT_EQ(Trunc("microseconds", t), "2026-11-21 22:40:01.123456");
  EXPECT_EQ(Trunc("milliseconds", t), "2026-11-21 22:40:01.123");
  EXPECT_EQ(Trunc("second", t), "2026-11-21 22:40:01");
  EXPECT_EQ(Trunc("MINUTE", t), "2026-11-21 22:40:00");
  EXPECT_EQ(Trunc("hour", t), "2026-11-21 22:00:00");
  EXPECT_EQ(Trunc("day", t), "2026-11-21 00:00:00");
  EXPECT_EQ(Trunc("week", t), "2026-11-16 00:00:00");  // Monday
  EXPECT_EQ(Trunc("month", t), "2026-11-01 00:00:00");
  EXPECT_EQ(Trunc("quarter", t), "2026-10-01 00:00:00");
  EXPECT_EQ(Trunc("year", t), "2026-01-01 00:00:00");
  EXPECT_EQ(Trunc("decade", t), "2020-01-01 00:00:00");
  EXPECT_EQ(Trunc("century", t), "2001-01-01 00:00:00");
  EXPECT_EQ(Trunc("millennium", t), "2001-01-01 00:00:00");
  // Before 1970 and across boundaries.
  EXPECT_EQ(Trunc("minute", "1969-12-31 23:59:59.5"), "1969-12-31 23:59:00");
  EXPECT_EQ(Trunc("day", "1969-12-31 23:59:59.5"), "1969-12-31 00:00:00");
  EXPECT_EQ(Trunc("week", "1970-01-01"), "1969-12-29 00:00:00");
  EXPECT_EQ(Trunc("week", "2027-01-03 12:00"), "2026-12-28 00:00:00");
  EXPECT_EQ(Trunc("month", "1900-03-15 01:00"), "1900-03-01 00:00:00");
  EXPECT_EQ(Trunc("century", "2000-06-01"), "1901-01-01 00:00:00");
  EXPECT_EQ(Trunc("millennium", "2000-06-01"), "1001-01-01 00:00:00");
  EXPECT_EQ(Eval(Fn(ScalarFn::kDateTrunc, Ts(), S("hour"), NullOf(Ts()))), "NULL");
  auto bad = ExpressionExecutor::Compile(*Fn(ScalarFn::kDateTrunc, Ts(), S("fortnight"), TsLit("2026-01-01")));
  EXPECT_EQ(bad.status().message(), "unit \"fortnight\" not recognized for type TIMESTAMP");
}

std::string Extract(std::string field, BoundExprPtr source) {
  return Eval(Fn(ScalarFn::kExtract, Dbl(), S(std::move(field)), std::move(source)));
}

TEST(TimeTest, ExtractFromTimestamp) {
  const char* t = "2026-11-21 22:40:01.5";
  EXPECT_EQ(Extract("microseconds", TsLit(t)), "1500000");
  EXPECT_EQ(Extract("milliseconds", TsLit(t)), "1500");
  EXPECT_EQ(Extract("second", TsLit(t)), "1.5");
  EXPECT_EQ(Extract("minute", TsLit(t)), "40");
  EXPECT_EQ(Extract("hour", TsLit(t)), "22");
  EXPECT_EQ(Extract("day", TsLit(t)), "21");
  EXPECT_EQ(Extract("dow", TsLit(t)), "6");  // Saturday
  EXPECT_EQ(Extract("isodow", TsLit("2026-11-22")), "7");
  EXPECT_EQ(Extract("dow", TsLit("2026-11-22")), "0");
  EXPECT_EQ(Extract("doy", TsLit("2026-12-31")), "365");
  EXPECT_EQ(Extract("doy", TsLit("2024-12-31")), "366");
  EXPECT_EQ(Extract("week", TsLit(t)), "47");
  EXPECT_EQ(Extract("week", TsLit("2027-01-01")), "53");  // ISO week of the previous year
  EXPECT_EQ(Extract("isoyear", TsLit("2027-01-01")), "2026");
  EXPECT_EQ(Extract("month", TsLit(t)), "11");
  EXPECT_EQ(Extract("quarter", TsLit(t)), "4");
  EXPECT_EQ(Extract("year", TsLit(t)), "2026");
  EXPECT_EQ(Extract("decade", TsLit(t)), "202");
  EXPECT_EQ(Extract("century", TsLit(t)), "21");
  EXPECT_EQ(Extract("century", TsLit("2000-12-31")), "20");
  EXPECT_EQ(Extract("millennium", TsLit(t)), "3");
  EXPECT_EQ(Extract("epoch", TsLit("1970-01-01 00:00:01.5")), "1.5");
  EXPECT_EQ(Extract("epoch", TsLit("1969-12-31 23:59:59")), "-1");
  EXPECT_EQ(Extract("year", TsLit("1969-12-31 23:59:59")), "1969");
  EXPECT_EQ(Extract("second", TsLit("1969-12-31 23:59:59.25")), "59.25");
  EXPECT_EQ(Extract("day", NullOf(Ts())), "NULL");
}

TEST(TimeTest, ExtractFromDateAndInterval) {
  EXPECT_EQ(Extract("year", Lit(Value::Date(-1))), "1969");
  EXPECT_EQ(Extract("dow", Lit(Value::Date(0))), "4");
  EXPECT_EQ(Extract("epoch", Lit(Value::Date(1))), "86400");
  auto bad = ExpressionExecutor::Compile(*Fn(ScalarFn::kExtract, Dbl(), S("hour"), Lit(Value::Date(0))));
  EXPECT_EQ(bad.status().message(), "unit \"hour\" not supported for type DATE");
  EXPECT_EQ(Extract("hour", IvLit("1 day 26:30:00")), "26");
  EXPECT_EQ(Extract("minute", IvLit("26:30:00")), "30");
  EXPECT_EQ(Extract("second", IvLit("00:00:10.5")), "10.5");
  EXPECT_EQ(Extract("month", IvLit("1 year 2 mons")), "2");
  EXPECT_EQ(Extract("year", IvLit("1 year 2 mons")), "1");
  EXPECT_EQ(Extract("day", IvLit("3 days")), "3");
  EXPECT_EQ(Extract("epoch", IvLit("1 day 00:00:01")), "86401");
  EXPECT_EQ(Extract("epoch", IvLit("1 year")), "31557600");
}

TEST(TimeTest, IntervalArithmetic) {
  auto add = [](std::string_view ts, std::string_view iv) {
    return Eval(Fn(ScalarFn::kTimestampAddInterval, Ts(), TsLit(ts), IvLit(iv)));
  };
  auto sub = [](std::string_view ts, std::string_view iv) {
    return Eval(Fn(ScalarFn::kTimestampSubInterval, Ts(), TsLit(ts), IvLit(iv)));
  };
  EXPECT_EQ(add("2026-01-31", "1 month"), "2026-02-28 00:00:00");
  EXPECT_EQ(add("2024-01-31", "1 month"), "2024-02-29 00:00:00");
  EXPECT_EQ(add("2026-03-31 10:00", "-1 month"), "2026-02-28 10:00:00");
  EXPECT_EQ(add("2026-12-15", "1 month"), "2027-01-15 00:00:00");
  EXPECT_EQ(add("2026-11-21 22:40:01", "10 seconds"), "2026-11-21 22:40:11");
  EXPECT_EQ(add("2026-12-31 23:30", "1 hour"), "2027-01-01 00:30:00");
  EXPECT_EQ(add("1970-01-01", "-1 day"), "1969-12-31 00:00:00");
  EXPECT_EQ(add("2026-01-31", "1 mon 1 day"), "2026-03-01 00:00:00");  // months first, then days
  EXPECT_EQ(sub("2026-03-31", "1 month"), "2026-02-28 00:00:00");
  EXPECT_EQ(sub("2026-01-01", "4 seconds"), "2025-12-31 23:59:56");
  EXPECT_EQ(Eval(Fn(ScalarFn::kTimestampAddInterval, Ts(), NullOf(Ts()), IvLit("1 day"))), "NULL");
  EXPECT_EQ(Eval(Fn(ScalarFn::kTimestampAddInterval, Ts(), TsLit("2026-01-01"), NullOf(DataType::Interval()))), "NULL");
  EXPECT_EQ(Eval(Fn(ScalarFn::kTimestampAddInterval, Ts(), Lit(Value::Timestamp(INT64_MAX - 10)), IvLit("1 second"))),
            "ERROR: timestamp out of range");
  auto diff = [](std::string_view a, std::string_view b) {
    return Eval(Fn(ScalarFn::kTimestampDiff, DataType::Interval(), TsLit(a), TsLit(b)));
  };
  EXPECT_EQ(diff("2026-01-02 03:04:05", "2026-01-01"), "1 day 03:04:05");
  EXPECT_EQ(diff("2026-01-01", "2026-01-02 03:04:05"), "-1 days -03:04:05");
  EXPECT_EQ(diff("2026-03-01", "2026-02-01"), "28 days");
  EXPECT_EQ(diff("2026-01-01", "2026-01-01"), "00:00:00");
}

TEST(TimeTest, ToTimestampAndNow) {
  EXPECT_EQ(Eval(Fn(ScalarFn::kToTimestamp, DataType::Timestamptz(), D(1.5))), "1970-01-01 00:00:01.5+00");
  EXPECT_EQ(Eval(Fn(ScalarFn::kToTimestamp, DataType::Timestamptz(), D(-1))), "1969-12-31 23:59:59+00");
  EXPECT_EQ(Eval(Fn(ScalarFn::kToTimestamp, DataType::Timestamptz(), D(NAN))), "ERROR: timestamp cannot be NaN");
  EXPECT_EQ(Eval(Fn(ScalarFn::kToTimestamp, DataType::Timestamptz(), D(1e300))), "ERROR: timestamp out of range");
  EXPECT_EQ(Eval(Fn(ScalarFn::kToTimestamp, DataType::Timestamptz(), NullOf(Dbl()))), "NULL");
  EXPECT_EQ(Eval(BoundExpr::Call(ScalarFn::kNow, DataType::Timestamptz(), {})), "2023-11-14 22:13:20+00");
}

TEST(CompileTest, RejectsTreesThatBreakTheContracts) {
  auto msg = [](BoundExprPtr e) {
    auto r = ExpressionExecutor::Compile(*e);
    return r.ok() ? std::string("ok") : r.status().message();
  };
  EXPECT_EQ(msg(Fn(ScalarFn::kAdd, Int(), I(1), B(2))), "+: expects two arguments of the result's numeric type");
  EXPECT_EQ(msg(Fn(ScalarFn::kLt, Bool(), IvLit("1 day"), IvLit("2 days"))),
            "<: expects two arguments of one comparable type -> BOOLEAN");
  EXPECT_EQ(msg(Fn(ScalarFn::kLower, Var(), I(1))), "lower: expects (VARCHAR) -> VARCHAR");
  EXPECT_EQ(msg(Fn(ScalarFn::kCase, Int(), Bo(true), I(1))), "CASE: expects (cond, then, ..., else)");
  EXPECT_EQ(msg(Fn(ScalarFn::kDateTrunc, Ts(), Col(0, Var()), TsLit("2026-01-01"))), "date_trunc: the unit must be a constant");
  EXPECT_EQ(msg(CastTo(IvLit("1 day"), Int())), "cannot cast type INTERVAL to INT");
  EXPECT_EQ(msg(Fn(ScalarFn::kAnd, Bool(), Bo(true), I(1))), "AND: expects (BOOLEAN, BOOLEAN) -> BOOLEAN");
}

TEST(ExecuteTest, ChecksInputColumnsAndOutput) {
  auto e = Fn(ScalarFn::kAdd, Big(), Col(1, Big()), B(1));
  auto ex = ExpressionExecutor::Compile(*e);
  ASSERT_TRUE(ex.ok());
  DataChunk chunk({Big()}, 4);
  chunk.set_size(1);
  Vector out(Big(), 4);
  StringArena arena;
  EXPECT_EQ((*ex)->Execute(chunk, &out, &arena).code(), StatusCode::kInvalidArgument);
  DataChunk chunk2({Big(), Big()}, 4);
  Vector wrong(Int(), 4);
  EXPECT_EQ((*ex)->Execute(chunk2, &wrong, &arena).code(), StatusCode::kInvalidArgument);
}

TEST(ExecuteTest, ChunksOfZeroOneAndManyRows) {
  // (x * 2 + 1) for x in [0, n), and a VARCHAR column passed through: strings land in the
  // output arena even when the expression is a bare column.
  auto e = Fn(ScalarFn::kAdd, Big(), Fn(ScalarFn::kMultiply, Big(), Col(0, Big()), B(2)), B(1));
  auto ex = ExpressionExecutor::Compile(*e);
  ASSERT_TRUE(ex.ok());
  auto pass = ExpressionExecutor::Compile(*Col(1, Var()));
  ASSERT_TRUE(pass.ok());
  for (size_t n : {0, 1, 2048, 5000}) {
    DataChunk chunk({Big(), Var()}, std::max<size_t>(n, 1));
    for (size_t r = 0; r < n; ++r) {
      chunk.column(0).data<int64_t>()[r] = static_cast<int64_t>(r);
      chunk.column(1).data<StringRef>()[r] = chunk.arena().Add("s" + std::to_string(r));
      if (r % 7 == 3) chunk.column(0).SetNull(r);
    }
    chunk.set_size(n);
    Vector out(Big(), std::max<size_t>(n, 1));
    StringArena arena;
    ASSERT_TRUE((*ex)->Execute(chunk, &out, &arena).ok());
    Vector strings(Var(), std::max<size_t>(n, 1));
    ASSERT_TRUE((*pass)->Execute(chunk, &strings, &arena).ok());
    chunk.arena().Reset();
    for (size_t r = 0; r < n; ++r) {
      if (r % 7 == 3) {
        EXPECT_TRUE(out.IsNull(r));
      } else {
        EXPECT_EQ(out.data<int64_t>()[r], static_cast<int64_t>(2 * r + 1));
      }
      ASSERT_EQ(strings.data<StringRef>()[r].view(), "s" + std::to_string(r));
    }
  }
}

TEST(SelectTest, KeepsOnlyTrueRows) {
  // price > 1000 AND channel = 'apple'
  auto e = Fn(ScalarFn::kAnd, Bool(), Fn(ScalarFn::kGt, Bool(), Col(0, Big()), B(1000)),
              Fn(ScalarFn::kEq, Bool(), Col(1, Var()), S("apple")));
  auto ex = ExpressionExecutor::Compile(*e);
  ASSERT_TRUE(ex.ok());
  DataChunk chunk({Big(), Var()}, 8);
  std::vector<std::pair<std::optional<int64_t>, std::optional<std::string>>> rows = {
      {2000, "apple"}, {10, "apple"}, {std::nullopt, "apple"}, {2000, std::nullopt},
      {5000, "google"}, {1001, "apple"}, {std::nullopt, std::nullopt}, {3000, "apple"}};
  for (size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].first) {
      chunk.column(0).data<int64_t>()[r] = *rows[r].first;
    } else {
      chunk.column(0).SetNull(r);
    }
    if (rows[r].second) {
      chunk.column(1).data<StringRef>()[r] = chunk.arena().Add(*rows[r].second);
    } else {
      chunk.column(1).SetNull(r);
    }
  }
  chunk.set_size(rows.size());
  std::vector<uint32_t> sel = {99};  // appended to, not replaced
  ASSERT_TRUE((*ex)->Select(chunk, &sel).ok());
  EXPECT_EQ(sel, (std::vector<uint32_t>{99, 0, 5, 7}));
  auto not_bool = ExpressionExecutor::Compile(*Col(0, Big()));
  ASSERT_TRUE(not_bool.ok());
  EXPECT_FALSE((*not_bool)->Select(chunk, &sel).ok());
}

}  // namespace
}  // namespace sluice::exec::testing
