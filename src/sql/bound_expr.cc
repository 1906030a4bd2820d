#include "sql/bound_expr.h"
#include "sql/value_text.h"

#include <fmt/format.h>

namespace sluice::sql {

std::string_view ScalarFnName(ScalarFn fn) {
  switch (fn) {
    case ScalarFn::kAdd: return "+";
    case ScalarFn::kSubtract: return "-";
    case ScalarFn::kMultiply: return "*";
    case ScalarFn::kDivide: return "/";
    case ScalarFn::kModulo: return "%";
    case ScalarFn::kNegate: return "-";
    case ScalarFn::kEq: return "=";
    case ScalarFn::kNotEq: return "<>";
    case ScalarFn::kLt: return "<";
    case ScalarFn::kLtEq: return "<=";
    case ScalarFn::kGt: return ">";
    case ScalarFn::kGtEq: return ">=";
    case ScalarFn::kAnd: return "AND";
    case ScalarFn::kOr: return "OR";
    case ScalarFn::kNot: return "NOT";
    case ScalarFn::kIsNull: return "IS NULL";
    case ScalarFn::kIsNotNull: return "IS NOT NULL";
    case ScalarFn::kIsTrue: return "IS TRUE";
    case ScalarFn::kIsFalse: return "IS FALSE";
    case ScalarFn::kIsNotTrue: return "IS NOT TRUE";
    case ScalarFn::kIsNotFalse: return "IS NOT FALSE";
    case ScalarFn::kLike: return "LIKE";
    case ScalarFn::kILike: return "ILIKE";
    case ScalarFn::kIn: return "IN";
    case ScalarFn::kCoalesce: return "coalesce";
    case ScalarFn::kCase: return "CASE";
    case ScalarFn::kLower: return "lower";
    case ScalarFn::kUpper: return "upper";
    case ScalarFn::kLength: return "length";
    case ScalarFn::kSubstr: return "substr";
    case ScalarFn::kConcat: return "concat";
    case ScalarFn::kConcatOp: return "||";
    case ScalarFn::kSplitPart: return "split_part";
    case ScalarFn::kTimestampAddInterval: return "+";
    case ScalarFn::kTimestampSubInterval: return "-";
    case ScalarFn::kTimestampDiff: return "-";
    case ScalarFn::kDateTrunc: return "date_trunc";
    case ScalarFn::kExtract: return "extract";
    case ScalarFn::kToTimestamp: return "to_timestamp";
    case ScalarFn::kNow: return "now";
  }
  return "?";
}

BoundExprPtr BoundExpr::Clone() const {
  auto copy = std::make_unique<BoundExpr>();
  copy->kind = kind;
  copy->type = type;
  copy->constant = constant;
  copy->column = column;
  copy->fn = fn;
  copy->name = name;
  copy->args.reserve(args.size());
  for (const BoundExprPtr& a : args) copy->args.push_back(a->Clone());
  return copy;
}

namespace {

std::string ConstantToString(const Value& v) {
  if (v.is_null()) return "NULL";
  switch (v.type().id) {
    case TypeId::kBoolean:
    case TypeId::kInt:
    case TypeId::kBigint:
    case TypeId::kDouble:
    case TypeId::kDecimal: return v.ToString();
    case TypeId::kVarchar: return QuoteSqlString(v.string());
    default: return fmt::format("{} {}", v.type().ToString(), QuoteSqlString(v.ToString()));
  }
}

}  // namespace

std::string BoundExpr::ToString() const {
  switch (kind) {
    case BoundExprKind::kConstant: return ConstantToString(constant);
    case BoundExprKind::kColumn: return fmt::format("${}", column);
    case BoundExprKind::kCast: return fmt::format("CAST({} AS {})", args[0]->ToString(), type.ToString());
    case BoundExprKind::kCall: break;
  }
  std::vector<std::string> a;
  a.reserve(args.size());
  for (const BoundExprPtr& arg : args) a.push_back(arg->ToString());
  std::string_view name = ScalarFnName(fn);
  switch (fn) {
    case ScalarFn::kNegate: return fmt::format("(- {})", a[0]);
    case ScalarFn::kNot: return fmt::format("(NOT {})", a[0]);
    case ScalarFn::kIsNull:
    case ScalarFn::kIsNotNull:
    case ScalarFn::kIsTrue:
    case ScalarFn::kIsFalse:
    case ScalarFn::kIsNotTrue:
    case ScalarFn::kIsNotFalse: return fmt::format("({} {})", a[0], name);
    case ScalarFn::kIn: {
      std::vector<std::string_view> list(a.begin() + 1, a.end());
      return fmt::format("({} IN ({}))", a[0], fmt::join(list, ", "));
    }
    case ScalarFn::kCase: {
      std::string out = "CASE";
      for (size_t i = 0; i + 1 < a.size(); i += 2) out += fmt::format(" WHEN {} THEN {}", a[i], a[i + 1]);
      out += fmt::format(" ELSE {} END", a.back());
      return out;
    }
    case ScalarFn::kCoalesce:
    case ScalarFn::kLower:
    case ScalarFn::kUpper:
    case ScalarFn::kLength:
    case ScalarFn::kSubstr:
    case ScalarFn::kConcat:
    case ScalarFn::kSplitPart:
    case ScalarFn::kDateTrunc:
    case ScalarFn::kExtract:
    case ScalarFn::kToTimestamp:
    case ScalarFn::kNow: return fmt::format("{}({})", name, fmt::join(a, ", "));
    default: return fmt::format("({} {} {})", a[0], name, a[1]);
  }
}

BoundExprPtr BoundExpr::Constant(Value v) {
  auto e = std::make_unique<BoundExpr>();
  e->kind = BoundExprKind::kConstant;
  e->type = v.type();
  e->constant = std::move(v);
  return e;
}

BoundExprPtr BoundExpr::Column(int index, DataType type, std::string name) {
  auto e = std::make_unique<BoundExpr>();
  e->kind = BoundExprKind::kColumn;
  e->type = type;
  e->column = index;
  e->name = std::move(name);
  return e;
}

BoundExprPtr BoundExpr::Call(ScalarFn fn, DataType type, std::vector<BoundExprPtr> args) {
  auto e = std::make_unique<BoundExpr>();
  e->kind = BoundExprKind::kCall;
  e->type = type;
  e->fn = fn;
  e->args = std::move(args);
  e->name = std::string(ScalarFnName(fn));
  return e;
}

BoundExprPtr BoundExpr::Cast(BoundExprPtr operand, DataType type) {
  auto e = std::make_unique<BoundExpr>();
  e->kind = BoundExprKind::kCast;
  e->type = type;
  e->args.push_back(std::move(operand));
  return e;
}

}  // namespace sluice::sql
