#include "sql/bound_expr.h"

#include <gtest/gtest.h>

namespace sluice::sql {
namespace {

std::vector<BoundExprPtr> Args(BoundExprPtr a, BoundExprPtr b) {
  std::vector<BoundExprPtr> v;
  v.push_back(std::move(a));
  v.push_back(std::move(b));
  return v;
}

TEST(BoundExprTest, ToStringReadsLikeSql) {
  auto add = BoundExpr::Call(ScalarFn::kAdd, DataType::Bigint(),
                             Args(BoundExpr::Column(0, DataType::Bigint(), "price"), BoundExpr::Constant(Value::Bigint(1))));
  EXPECT_EQ(add->ToString(), "($0 + 1)");
  std::vector<BoundExprPtr> one;
  one.push_back(BoundExpr::Column(2, DataType::Varchar()));
  EXPECT_EQ(BoundExpr::Call(ScalarFn::kLower, DataType::Varchar(), std::move(one))->ToString(), "lower($2)");
  EXPECT_EQ(BoundExpr::Cast(BoundExpr::Column(1, DataType::Int()), DataType::Double())->ToString(), "CAST($1 AS DOUBLE)");
  EXPECT_EQ(BoundExpr::Constant(Value::Varchar("it's"))->ToString(), "'it''s'");
  EXPECT_EQ(BoundExpr::Constant(Value::Null(DataType::Int()))->ToString(), "NULL");
  EXPECT_EQ(BoundExpr::Constant(Value::IntervalValue({0, 0, 4'000'000}))->ToString(), "INTERVAL '00:00:04'");
  std::vector<BoundExprPtr> c;
  c.push_back(BoundExpr::Column(0, DataType::Boolean()));
  c.push_back(BoundExpr::Constant(Value::Int(1)));
  c.push_back(BoundExpr::Constant(Value::Int(0)));
  EXPECT_EQ(BoundExpr::Call(ScalarFn::kCase, DataType::Int(), std::move(c))->ToString(), "CASE WHEN $0 THEN 1 ELSE 0 END");
  std::vector<BoundExprPtr> in;
  in.push_back(BoundExpr::Column(0, DataType::Int()));
  in.push_back(BoundExpr::Constant(Value::Int(1)));
  in.push_back(BoundExpr::Constant(Value::Int(2)));
  EXPECT_EQ(BoundExpr::Call(ScalarFn::kIn, DataType::Boolean(), std::move(in))->ToString(), "($0 IN (1, 2))");
}

TEST(BoundExprTest, CloneIsDeep) {
  auto add = BoundExpr::Call(ScalarFn::kMultiply, DataType::Int(),
                             Args(BoundExpr::Column(0, DataType::Int(), "x"), BoundExpr::Constant(Value::Int(3))));
  auto copy = add->Clone();
  EXPECT_EQ(copy->ToString(), add->ToString());
  add->args[1]->constant = Value::Int(4);
  EXPECT_EQ(copy->ToString(), "($0 * 3)");
  EXPECT_EQ(copy->args[0]->name, "x");
  EXPECT_EQ(copy->type, DataType::Int());
}

TEST(BoundExprTest, EveryFunctionHasAName) {
  for (int f = 0; f <= static_cast<int>(ScalarFn::kNow); ++f) {
    EXPECT_NE(ScalarFnName(static_cast<ScalarFn>(f)), "?") << f;
  }
}

}  // namespace
}  // namespace sluice::sql
