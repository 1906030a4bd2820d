#include "sql/expression_binder.h"

#include <gtest/gtest.h>

#include "sql/parser.h"

namespace sluice::sql {
namespace {

// Binds the single select item of "SELECT <expr> FROM t" against t's columns.
class ExpressionBinderTest : public ::testing::Test {
 protected:
  BindScope scope_{{{"t", "i", DataType::Int()},
                    {"t", "b", DataType::Bigint()},
                    {"t", "d", DataType::Double()},
                    {"t", "price", DataType::Decimal(10, 2)},
                    {"t", "s", DataType::Varchar()},
                    {"t", "ts", DataType::Timestamp()},
                    {"t", "flag", DataType::Boolean()},
                    {"u", "s", DataType::Varchar()}}};

  Result<BoundExprPtr> BindText(const std::string& expr) {
    auto stmt = ParseOne("SELECT " + expr);
    if (!stmt.ok()) return stmt.status();
    const auto& select = static_cast<const SelectStatement&>(**stmt);
    ExpressionBinder binder(&scope_, "SELECT");
    return binder.Bind(*select.query->items[0].expr);
  }

  BoundExprPtr Ok(const std::string& expr) {
    auto r = BindText(expr);
    EXPECT_TRUE(r.ok()) << expr << ": " << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  std::string Error(const std::string& expr) {
    auto r = BindText(expr);
    EXPECT_FALSE(r.ok()) << expr;
    return r.ok() ? "" : r.status().message();
  }
};

TEST_F(ExpressionBinderTest, ColumnsResolveToIndexes) {
  BoundExprPtr e = Ok("t.ts");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, BoundExprKind::kColumn);
  EXPECT_EQ(e->column, 5);
  EXPECT_EQ(e->type, DataType::Timestamp());
  EXPECT_EQ(Ok("u.s")->column, 7);
}

TEST_F(ExpressionBinderTest, NumericPromotion) {
  BoundExprPtr e = Ok("i + b");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->fn, ScalarFn::kAdd);
  EXPECT_EQ(e->type, DataType::Bigint());
  EXPECT_EQ(e->args[0]->kind, BoundExprKind::kCast);  // INT widened to BIGINT
  EXPECT_EQ(e->args[0]->type, DataType::Bigint());
  EXPECT_EQ(Ok("i + 1")->type, DataType::Int());
  EXPECT_EQ(Ok("b * 2.5")->type.id, TypeId::kDecimal);
  EXPECT_EQ(Ok("price * 0.908")->type, DataType::Decimal(13, 5));
  EXPECT_EQ(Ok("price + price")->type, DataType::Decimal(11, 2));
  EXPECT_EQ(Ok("d / i")->type, DataType::Double());
  EXPECT_EQ(Ok("1.5e3")->type, DataType::Double());
}

TEST_F(ExpressionBinderTest, UntypedLiteralsAdoptTheOtherSide) {
  BoundExprPtr e = Ok("ts > '2026-01-01 00:00:00'");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->fn, ScalarFn::kGt);
  EXPECT_EQ(e->args[1]->kind, BoundExprKind::kCast);
  EXPECT_EQ(e->args[1]->type, DataType::Timestamp());
  EXPECT_EQ(Ok("b = '42'")->args[1]->type, DataType::Bigint());
  BoundExprPtr null_cmp = Ok("b = NULL");
  EXPECT_EQ(null_cmp->args[1]->kind, BoundExprKind::kConstant);
  EXPECT_TRUE(null_cmp->args[1]->constant.is_null());
  EXPECT_EQ(null_cmp->args[1]->type, DataType::Bigint());
  EXPECT_TRUE(Ok("'abc'")->name.empty());  // no internal marker leaks out
}

TEST_F(ExpressionBinderTest, TimeArithmetic) {
  BoundExprPtr e = Ok("ts - INTERVAL '4' SECOND");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->fn, ScalarFn::kTimestampSubInterval);
  EXPECT_EQ(e->type, DataType::Timestamp());
  EXPECT_EQ(Ok("INTERVAL '1' HOUR + ts")->fn, ScalarFn::kTimestampAddInterval);
  EXPECT_EQ(Ok("ts - ts")->type, DataType::Interval());
  EXPECT_EQ(Ok("date_trunc('MINUTE', ts)")->args[0]->constant.string(), "minute");
  EXPECT_EQ(Ok("extract(hour FROM ts)")->type, DataType::Double());
}

TEST_F(ExpressionBinderTest, PredicatesDesugar) {
  BoundExprPtr between = Ok("b BETWEEN 1 AND 10");
  ASSERT_TRUE(between);
  EXPECT_EQ(between->fn, ScalarFn::kAnd);
  EXPECT_EQ(between->args[0]->fn, ScalarFn::kGtEq);
  EXPECT_EQ(between->args[1]->fn, ScalarFn::kLtEq);
  EXPECT_EQ(Ok("b NOT BETWEEN 1 AND 10")->fn, ScalarFn::kNot);
  BoundExprPtr in = Ok("t.s IN ('a', 'b')");
  EXPECT_EQ(in->fn, ScalarFn::kIn);
  EXPECT_EQ(in->args.size(), 3u);
  EXPECT_EQ(Ok("t.s NOT LIKE 'a%'")->args[0]->fn, ScalarFn::kLike);
  EXPECT_EQ(Ok("t.s IS NOT NULL")->fn, ScalarFn::kIsNotNull);
  EXPECT_EQ(Ok("flag IS TRUE")->fn, ScalarFn::kIsTrue);
}

TEST_F(ExpressionBinderTest, CaseAndCoalesceFindACommonType) {
  BoundExprPtr c = Ok("CASE WHEN i > 0 THEN i ELSE d END");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->fn, ScalarFn::kCase);
  EXPECT_EQ(c->type, DataType::Double());
  EXPECT_EQ(c->args.size(), 3u);
  BoundExprPtr no_else = Ok("CASE t.s WHEN 'x' THEN 1 END");
  EXPECT_EQ(no_else->args.size(), 3u);
  EXPECT_TRUE(no_else->args[2]->constant.is_null());
  EXPECT_EQ(no_else->args[0]->fn, ScalarFn::kEq);
  EXPECT_EQ(Ok("coalesce(i, b, 0)")->type, DataType::Bigint());
  EXPECT_EQ(Ok("t.s || b")->args[1]->kind, BoundExprKind::kCast);
}

TEST_F(ExpressionBinderTest, ErrorsArePostgresLikeWithPositions) {
  EXPECT_EQ(Error("pric + 1"), "column \"pric\" does not exist (line 1, column 8)");
  EXPECT_EQ(Error("s"), "column reference \"s\" is ambiguous (line 1, column 8)");
  EXPECT_EQ(Error("x.s"), "missing FROM-clause entry for table \"x\" (line 1, column 8)");
  EXPECT_NE(Error("t.s + 1").find("operator does not exist: varchar + int"), std::string::npos);
  EXPECT_NE(Error("lower(b)").find("function lower(bigint) does not exist"), std::string::npos);
  EXPECT_NE(Error("nosuch(1)").find("function nosuch(int) does not exist"), std::string::npos);
  EXPECT_NE(Error("NOT b").find("argument of NOT must be type boolean"), std::string::npos);
  EXPECT_NE(Error("count(*)").find("aggregate functions are not allowed in SELECT"), std::string::npos);
  EXPECT_NE(Error("CAST(flag AS TIMESTAMP)").find("cannot cast type boolean to timestamp"), std::string::npos);
  EXPECT_NE(Error("date_trunc('fortnight', ts)").find("not recognized"), std::string::npos);
  EXPECT_NE(Error("CASE WHEN flag THEN t.s ELSE b END").find("cannot be matched"), std::string::npos);
}

TEST(CommonTypeTest, Rules) {
  EXPECT_EQ(*CommonType(DataType::Int(), DataType::Bigint()), DataType::Bigint());
  EXPECT_EQ(*CommonType(DataType::Decimal(10, 2), DataType::Decimal(5, 4)), DataType::Decimal(12, 4));
  EXPECT_EQ(*CommonType(DataType::Bigint(), DataType::Decimal(10, 2)), DataType::Decimal(21, 2));
  EXPECT_EQ(*CommonType(DataType::Timestamp(), DataType::Date()), DataType::Timestamp());
  EXPECT_EQ(*CommonType(DataType::Timestamp(), DataType::Timestamptz()), DataType::Timestamptz());
  EXPECT_FALSE(CommonType(DataType::Varchar(), DataType::Bigint()).ok());
  EXPECT_TRUE(CanCastImplicitly(DataType::Int(), DataType::Double()));
  EXPECT_FALSE(CanCastImplicitly(DataType::Double(), DataType::Int()));
}

}  // namespace
}  // namespace sluice::sql
