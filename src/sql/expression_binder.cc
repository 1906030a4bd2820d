#include "sql/expression_binder.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "common/time_format.h"

namespace sluice::sql {
namespace {

Status ErrorAt(const SourcePos& pos, std::string message) {
  return Status::InvalidArgument(fmt::format("{} (line {}, column {})", message, pos.line, pos.column));
}

std::string LowerTypeName(const DataType& t) {
  std::string s = t.ToString();
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int NumericRank(TypeId id) {
  switch (id) {
    case TypeId::kInt: return 1;
    case TypeId::kBigint: return 2;
    case TypeId::kDecimal: return 3;
    case TypeId::kDouble: return 4;
    default: return 0;
  }
}

// Integer types seen as decimals, for mixing with DECIMAL operands.
DataType AsDecimal(const DataType& t) {
  if (t.id == TypeId::kInt) return DataType::Decimal(10, 0);
  if (t.id == TypeId::kBigint) return DataType::Decimal(19, 0);
  return t;
}

DataType DecimalOf(int precision, int scale) {
  precision = std::clamp(precision, 1, 38);
  scale = std::clamp(scale, 0, precision);
  return DataType::Decimal(static_cast<uint8_t>(precision), static_cast<uint8_t>(scale));
}

}  // namespace

bool IsAggregateFunction(std::string_view name) {
  static const std::set<std::string, std::less<>> kAggregates = {
      "count", "sum", "avg", "min", "max", "stddev", "stddev_samp", "stddev_pop", "approx_count_distinct",
      "approx_percentile"};
  return kAggregates.contains(name);
}

bool IsNumeric(const DataType& t) { return NumericRank(t.id) > 0; }

bool IsTemporal(const DataType& t) {
  return t.id == TypeId::kTimestamp || t.id == TypeId::kTimestamptz || t.id == TypeId::kDate;
}

Result<DataType> CommonType(const DataType& a, const DataType& b) {
  if (a.id == b.id && a.id != TypeId::kDecimal) return a;
  if (IsNumeric(a) && IsNumeric(b)) {
    if (a.id == TypeId::kDouble || b.id == TypeId::kDouble) return DataType::Double();
    if (a.id == TypeId::kDecimal || b.id == TypeId::kDecimal) {
      DataType da = AsDecimal(a), db = AsDecimal(b);
      int scale = std::max(da.scale, db.scale);
      int integer_digits = std::max(da.precision - da.scale, db.precision - db.scale);
      return DecimalOf(integer_digits + scale, scale);
    }
    return NumericRank(a.id) >= NumericRank(b.id) ? a : b;
  }
  if (IsTemporal(a) && IsTemporal(b)) {
    if (a.id == TypeId::kTimestamptz || b.id == TypeId::kTimestamptz) return DataType::Timestamptz();
    return DataType::Timestamp();
  }
  return Status::InvalidArgument(fmt::format("types {} and {} cannot be matched", LowerTypeName(a), LowerTypeName(b)));
}

bool CanCastImplicitly(const DataType& from, const DataType& to) {
  if (from == to) return true;
  auto common = CommonType(from, to);
  return common.ok() && *common == to;
}

BoundExprPtr CastIfNeeded(BoundExprPtr e, const DataType& to) {
  if (e->type == to) return e;
  return BoundExpr::Cast(std::move(e), to);
}

Result<int> BindScope::Resolve(std::string_view table, std::string_view column) const {
  int found = -1;
  bool table_seen = table.empty();
  for (size_t i = 0; i < columns_.size(); ++i) {
    const ScopeColumn& c = columns_[i];
    if (!table.empty()) {
      if (c.table != table) continue;
      table_seen = true;
    }
    if (c.name != column) continue;
    if (found >= 0) {
      return Status::InvalidArgument(fmt::format("column reference \"{}\" is ambiguous", column));
    }
    found = static_cast<int>(i);
  }
  if (found >= 0) return found;
  if (!table_seen) {
    return Status::NotFound(fmt::format("missing FROM-clause entry for table \"{}\"", table));
  }
  if (!table.empty()) return Status::NotFound(fmt::format("column {}.{} does not exist", table, column));
  return Status::NotFound(fmt::format("column \"{}\" does not exist", column));
}

namespace {

// Tracks which bound constants came from untyped literals ('text' or NULL), which adopt the
// type of whatever they are compared or combined with, as in PostgreSQL.
struct Untyped {
  static bool Is(const BoundExpr& e) { return e.kind == BoundExprKind::kConstant && e.name == "?untyped"; }
};

BoundExprPtr UntypedConstant(Value v) {
  BoundExprPtr e = BoundExpr::Constant(std::move(v));
  e->name = "?untyped";
  return e;
}

// Gives an untyped literal the type `to` (a cast of the constant; exec folds it).
BoundExprPtr Adopt(BoundExprPtr e, const DataType& to) {
  if (!Untyped::Is(*e) || e->type == to) return e;
  if (e->constant.is_null()) return BoundExpr::Constant(Value::Null(to));
  e->name.clear();
  return BoundExpr::Cast(std::move(e), to);
}

Result<DataType> ArithmeticType(BinaryOp op, const DataType& a, const DataType& b) {
  SLUICE_ASSIGN_OR_RETURN(DataType common, CommonType(a, b));
  if (common.id != TypeId::kDecimal) return common;
  DataType da = AsDecimal(a), db = AsDecimal(b);
  switch (op) {
    case BinaryOp::kAdd:
    case BinaryOp::kSubtract: {
      int scale = std::max(da.scale, db.scale);
      int digits = std::max(da.precision - da.scale, db.precision - db.scale) + 1;
      return DecimalOf(digits + scale, scale);
    }
    case BinaryOp::kMultiply:
      return DecimalOf(da.precision + db.precision, std::min(da.scale + db.scale, 38));
    case BinaryOp::kDivide:
      return DecimalOf(38, std::max({6, static_cast<int>(da.scale), static_cast<int>(db.scale)}));
    default:  // modulo
      return common;
  }
}

ScalarFn ArithmeticFn(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd: return ScalarFn::kAdd;
    case BinaryOp::kSubtract: return ScalarFn::kSubtract;
    case BinaryOp::kMultiply: return ScalarFn::kMultiply;
    case BinaryOp::kDivide: return ScalarFn::kDivide;
    default: return ScalarFn::kModulo;
  }
}

ScalarFn ComparisonFn(BinaryOp op) {
  switch (op) {
    case BinaryOp::kEq: return ScalarFn::kEq;
    case BinaryOp::kNotEq: return ScalarFn::kNotEq;
    case BinaryOp::kLt: return ScalarFn::kLt;
    case BinaryOp::kLtEq: return ScalarFn::kLtEq;
    case BinaryOp::kGt: return ScalarFn::kGt;
    default: return ScalarFn::kGtEq;
  }
}

bool IsCastAllowed(const DataType& from, const DataType& to) {
  if (from == to || from.id == TypeId::kVarchar || to.id == TypeId::kVarchar) return true;
  if (IsNumeric(from) && IsNumeric(to)) return true;
  if (IsTemporal(from) && IsTemporal(to)) return true;
  bool from_int = from.id == TypeId::kInt || from.id == TypeId::kBigint;
  bool to_int = to.id == TypeId::kInt || to.id == TypeId::kBigint;
  if ((from.id == TypeId::kBoolean && to_int) || (from_int && to.id == TypeId::kBoolean)) return true;
  return false;
}

}  // namespace

Result<BoundExprPtr> ExpressionBinder::BindExpr(const Expr& expr) {
  switch (expr.kind) {
    case ExprKind::kLiteral:
      return BindLiteral(static_cast<const LiteralExpr&>(expr));
    case ExprKind::kColumnRef: {
      const auto& c = static_cast<const ColumnRefExpr&>(expr);
      auto index = scope_->Resolve(c.table, c.column);
      if (!index.ok()) return ErrorAt(expr.pos, index.status().message());
      const ScopeColumn& col = scope_->columns()[static_cast<size_t>(*index)];
      return BoundExpr::Column(*index, col.type, c.table.empty() ? c.column : c.table + "." + c.column);
    }
    case ExprKind::kStar:
      return ErrorAt(expr.pos, fmt::format("'*' is not allowed in {}", clause_));
    case ExprKind::kParam:
      return ErrorAt(expr.pos, "not supported yet: query parameters ($n)");
    case ExprKind::kUnary: {
      const auto& u = static_cast<const UnaryExpr&>(expr);
      SLUICE_ASSIGN_OR_RETURN(BoundExprPtr operand, BindExpr(*u.operand));
      if (u.op == UnaryOp::kNot) {
        operand = Adopt(std::move(operand), DataType::Boolean());
        if (operand->type.id != TypeId::kBoolean) {
          return ErrorAt(expr.pos, fmt::format("argument of NOT must be type boolean, not type {}",
                                               LowerTypeName(operand->type)));
        }
        std::vector<BoundExprPtr> args;
        args.push_back(std::move(operand));
        return BoundExpr::Call(ScalarFn::kNot, DataType::Boolean(), std::move(args));
      }
      if (!IsNumeric(operand->type)) {
        return ErrorAt(expr.pos, fmt::format("operator does not exist: - {}", LowerTypeName(operand->type)));
      }
      DataType type = operand->type;
      std::vector<BoundExprPtr> args;
      args.push_back(std::move(operand));
      return BoundExpr::Call(ScalarFn::kNegate, type, std::move(args));
    }
    case ExprKind::kBinary:
      return BindBinary(static_cast<const BinaryExpr&>(expr));
    case ExprKind::kFunction:
      return BindFunction(static_cast<const FunctionExpr&>(expr));
    case ExprKind::kCast: {
      const auto& c = static_cast<const CastExpr&>(expr);
      SLUICE_ASSIGN_OR_RETURN(BoundExprPtr operand, BindExpr(*c.operand));
      if (Untyped::Is(*operand) && operand->constant.is_null()) return BoundExpr::Constant(Value::Null(c.type));
      // A column keeps its name: the query binder marks aggregate references by it, so
      // CAST(sum(x) AS ...) must not lose the mark.
      if (operand->kind != BoundExprKind::kColumn) operand->name.clear();
      if (!IsCastAllowed(operand->type, c.type)) {
        return ErrorAt(expr.pos, fmt::format("cannot cast type {} to {}", LowerTypeName(operand->type),
                                             LowerTypeName(c.type)));
      }
      return BoundExpr::Cast(std::move(operand), c.type);
    }
    case ExprKind::kCase:
      return BindCase(static_cast<const CaseExpr&>(expr));
    case ExprKind::kIn:
      return BindIn(static_cast<const InExpr&>(expr));
    case ExprKind::kBetween: {
      const auto& b = static_cast<const BetweenExpr&>(expr);
      // x BETWEEN lo AND hi  ==  x >= lo AND x <= hi
      SLUICE_ASSIGN_OR_RETURN(BoundExprPtr x1, BindExpr(*b.operand));
      SLUICE_ASSIGN_OR_RETURN(BoundExprPtr lo, BindExpr(*b.low));
      SLUICE_ASSIGN_OR_RETURN(BoundExprPtr hi, BindExpr(*b.high));
      auto compare = [&](BoundExprPtr l, BoundExprPtr r, ScalarFn fn) -> Result<BoundExprPtr> {
        if (Untyped::Is(*l)) l = Adopt(std::move(l), r->type);
        if (Untyped::Is(*r)) r = Adopt(std::move(r), l->type);
        auto common = CommonType(l->type, r->type);
        if (!common.ok()) return ErrorAt(expr.pos, common.status().message());
        std::vector<BoundExprPtr> args;
        args.push_back(CastIfNeeded(std::move(l), *common));
        args.push_back(CastIfNeeded(std::move(r), *common));
        return BoundExpr::Call(fn, DataType::Boolean(), std::move(args));
      };
      BoundExprPtr x2 = x1->Clone();
      SLUICE_ASSIGN_OR_RETURN(BoundExprPtr lower, compare(std::move(x1), std::move(lo), ScalarFn::kGtEq));
      SLUICE_ASSIGN_OR_RETURN(BoundExprPtr upper, compare(std::move(x2), std::move(hi), ScalarFn::kLtEq));
      std::vector<BoundExprPtr> args;
      args.push_back(std::move(lower));
      args.push_back(std::move(upper));
      BoundExprPtr both = BoundExpr::Call(ScalarFn::kAnd, DataType::Boolean(), std::move(args));
      if (!b.negated) return both;
      std::vector<BoundExprPtr> not_args;
      not_args.push_back(std::move(both));
      return BoundExpr::Call(ScalarFn::kNot, DataType::Boolean(), std::move(not_args));
    }
    case ExprKind::kLike: {
      const auto& l = static_cast<const LikeExpr&>(expr);
      SLUICE_ASSIGN_OR_RETURN(BoundExprPtr operand, BindExpr(*l.operand));
      SLUICE_ASSIGN_OR_RETURN(BoundExprPtr pattern, BindExpr(*l.pattern));
      operand = Adopt(std::move(operand), DataType::Varchar());
      pattern = Adopt(std::move(pattern), DataType::Varchar());
      if (operand->type.id != TypeId::kVarchar || pattern->type.id != TypeId::kVarchar) {
        return ErrorAt(expr.pos, fmt::format("operator does not exist: {} ~~ {}", LowerTypeName(operand->type),
                                             LowerTypeName(pattern->type)));
      }
      operand->name = operand->kind == BoundExprKind::kConstant ? "" : operand->name;
      pattern->name = pattern->kind == BoundExprKind::kConstant ? "" : pattern->name;
      std::vector<BoundExprPtr> args;
      args.push_back(std::move(operand));
      args.push_back(std::move(pattern));
      BoundExprPtr like =
          BoundExpr::Call(l.case_insensitive ? ScalarFn::kILike : ScalarFn::kLike, DataType::Boolean(), std::move(args));
      if (!l.negated) return like;
      std::vector<BoundExprPtr> not_args;
      not_args.push_back(std::move(like));
      return BoundExpr::Call(ScalarFn::kNot, DataType::Boolean(), std::move(not_args));
    }
    case ExprKind::kIsNull: {
      const auto& n = static_cast<const IsNullExpr&>(expr);
      SLUICE_ASSIGN_OR_RETURN(BoundExprPtr operand, BindExpr(*n.operand));
      operand->name = operand->kind == BoundExprKind::kConstant ? "" : operand->name;
      std::vector<BoundExprPtr> args;
      args.push_back(std::move(operand));
      return BoundExpr::Call(n.negated ? ScalarFn::kIsNotNull : ScalarFn::kIsNull, DataType::Boolean(),
                             std::move(args));
    }
    case ExprKind::kSubquery:
      return ErrorAt(expr.pos, "not supported yet: subqueries in expressions");
  }
  return Status::Internal("unknown expression kind");
}

namespace {

void ClearUntypedMarkers(BoundExpr* e) {
  if (Untyped::Is(*e)) e->name.clear();
  for (BoundExprPtr& a : e->args) ClearUntypedMarkers(a.get());
}

}  // namespace

Result<BoundExprPtr> ExpressionBinder::Bind(const Expr& expr) {
  SLUICE_ASSIGN_OR_RETURN(BoundExprPtr bound, BindExpr(expr));
  ClearUntypedMarkers(bound.get());
  return bound;
}

Result<BoundExprPtr> ExpressionBinder::BindLiteral(const LiteralExpr& e) {
  switch (e.literal) {
    case LiteralKind::kNull:
      return UntypedConstant(Value::Null(DataType::Varchar()));
    case LiteralKind::kBoolean:
      return BoundExpr::Constant(Value::Boolean(e.boolean));
    case LiteralKind::kInteger:
      if (e.integer >= INT32_MIN && e.integer <= INT32_MAX) {
        return BoundExpr::Constant(Value::Int(static_cast<int32_t>(e.integer)));
      }
      return BoundExpr::Constant(Value::Bigint(e.integer));
    case LiteralKind::kDecimal: {
      // 0.908 -> DECIMAL(4,3); with an exponent, or beyond 38 digits -> DOUBLE.
      const std::string& t = e.text;
      if (t.find_first_of("eE") == std::string::npos) {
        size_t dot = t.find('.');
        int scale = dot == std::string::npos ? 0 : static_cast<int>(t.size() - dot - 1);
        int digits = 0;
        bool leading = true;
        for (char c : t) {
          if (c < '0' || c > '9') continue;
          if (leading && c == '0') continue;
          leading = false;
          ++digits;
        }
        int precision = std::max(digits, scale);
        if (precision == 0) precision = 1;
        if (precision <= 38) {
          __int128 v = 0;
          for (char c : t) {
            if (c >= '0' && c <= '9') v = v * 10 + (c - '0');
          }
          if (!t.empty() && t[0] == '-') v = -v;
          return BoundExpr::Constant(
              Value::Decimal(v, static_cast<uint8_t>(precision), static_cast<uint8_t>(scale)));
        }
      }
      return BoundExpr::Constant(Value::Double(std::strtod(t.c_str(), nullptr)));
    }
    case LiteralKind::kString:
      return UntypedConstant(Value::Varchar(e.text));
    case LiteralKind::kInterval:
      return BoundExpr::Constant(Value::IntervalValue(e.interval));
    case LiteralKind::kTyped: {
      auto micros = ParseTimestampMicros(e.text, /*require_zone=*/false);
      if (!micros.ok()) return ErrorAt(e.pos, micros.status().message());
      if (e.type.id == TypeId::kDate) {
        int64_t us = *micros;
        int64_t days = us >= 0 ? us / 86'400'000'000LL : -((-us + 86'399'999'999LL) / 86'400'000'000LL);
        return BoundExpr::Constant(Value::Date(static_cast<int32_t>(days)));
      }
      return BoundExpr::Constant(e.type.id == TypeId::kTimestamp ? Value::Timestamp(*micros)
                                                                  : Value::Timestamptz(*micros));
    }
  }
  return Status::Internal("unknown literal kind");
}

Result<BoundExprPtr> ExpressionBinder::BindBinary(const BinaryExpr& e) {
  SLUICE_ASSIGN_OR_RETURN(BoundExprPtr l, BindExpr(*e.left));
  SLUICE_ASSIGN_OR_RETURN(BoundExprPtr r, BindExpr(*e.right));
  auto call = [](ScalarFn fn, DataType type, BoundExprPtr a, BoundExprPtr b) {
    std::vector<BoundExprPtr> args;
    args.push_back(std::move(a));
    args.push_back(std::move(b));
    return BoundExpr::Call(fn, type, std::move(args));
  };
  auto no_operator = [&] {
    return ErrorAt(e.pos, fmt::format("operator does not exist: {} {} {}", LowerTypeName(l->type), BinaryOpName(e.op),
                                      LowerTypeName(r->type)));
  };
  switch (e.op) {
    case BinaryOp::kAnd:
    case BinaryOp::kOr: {
      l = Adopt(std::move(l), DataType::Boolean());
      r = Adopt(std::move(r), DataType::Boolean());
      for (const BoundExprPtr* side : {&l, &r}) {
        if ((*side)->type.id != TypeId::kBoolean) {
          return ErrorAt(e.pos, fmt::format("argument of {} must be type boolean, not type {}", BinaryOpName(e.op),
                                            LowerTypeName((*side)->type)));
        }
      }
      return call(e.op == BinaryOp::kAnd ? ScalarFn::kAnd : ScalarFn::kOr, DataType::Boolean(), std::move(l),
                  std::move(r));
    }
    case BinaryOp::kConcat: {
      l = Adopt(std::move(l), DataType::Varchar());
      r = Adopt(std::move(r), DataType::Varchar());
      return call(ScalarFn::kConcatOp, DataType::Varchar(), CastIfNeeded(std::move(l), DataType::Varchar()),
                  CastIfNeeded(std::move(r), DataType::Varchar()));
    }
    case BinaryOp::kEq:
    case BinaryOp::kNotEq:
    case BinaryOp::kLt:
    case BinaryOp::kLtEq:
    case BinaryOp::kGt:
    case BinaryOp::kGtEq: {
      if (Untyped::Is(*l) && !Untyped::Is(*r)) l = Adopt(std::move(l), r->type);
      if (Untyped::Is(*r) && !Untyped::Is(*l)) r = Adopt(std::move(r), l->type);
      if (Untyped::Is(*l)) l->name.clear();
      if (Untyped::Is(*r)) r->name.clear();
      auto common = CommonType(l->type, r->type);
      if (!common.ok() || common->id == TypeId::kInterval) return no_operator();
      return call(ComparisonFn(e.op), DataType::Boolean(), CastIfNeeded(std::move(l), *common),
                  CastIfNeeded(std::move(r), *common));
    }
    case BinaryOp::kAdd:
    case BinaryOp::kSubtract:
    case BinaryOp::kMultiply:
    case BinaryOp::kDivide:
    case BinaryOp::kModulo: {
      // Time arithmetic first.
      bool l_time = l->type.id == TypeId::kTimestamp || l->type.id == TypeId::kTimestamptz;
      bool r_time = r->type.id == TypeId::kTimestamp || r->type.id == TypeId::kTimestamptz;
      if (l->type.id == TypeId::kDate && r->type.id == TypeId::kInterval) {
        l = BoundExpr::Cast(std::move(l), DataType::Timestamp());
        l_time = true;
      }
      if (l_time && Untyped::Is(*r)) r = Adopt(std::move(r), DataType::Interval());
      if (l_time && r->type.id == TypeId::kInterval &&
          (e.op == BinaryOp::kAdd || e.op == BinaryOp::kSubtract)) {
        DataType type = l->type;
        return call(e.op == BinaryOp::kAdd ? ScalarFn::kTimestampAddInterval : ScalarFn::kTimestampSubInterval, type,
                    std::move(l), std::move(r));
      }
      if (r_time && l->type.id == TypeId::kInterval && e.op == BinaryOp::kAdd) {
        DataType type = r->type;
        return call(ScalarFn::kTimestampAddInterval, type, std::move(r), std::move(l));
      }
      if (l_time && Untyped::Is(*r)) r = Adopt(std::move(r), l->type);
      if (r_time && Untyped::Is(*l)) l = Adopt(std::move(l), r->type);
      if (l_time && r_time && e.op == BinaryOp::kSubtract) {
        auto common = CommonType(l->type, r->type);
        if (!common.ok()) return no_operator();
        return call(ScalarFn::kTimestampDiff, DataType::Interval(), CastIfNeeded(std::move(l), *common),
                    CastIfNeeded(std::move(r), *common));
      }
      if (Untyped::Is(*l) && IsNumeric(r->type)) l = Adopt(std::move(l), r->type);
      if (Untyped::Is(*r) && IsNumeric(l->type)) r = Adopt(std::move(r), l->type);
      if (!IsNumeric(l->type) || !IsNumeric(r->type)) return no_operator();
      auto type = ArithmeticType(e.op, l->type, r->type);
      if (!type.ok()) return no_operator();
      // Operands are converted to the result's type family (for DECIMAL, its own scale).
      // DECIMAL operands keep their own scale (the kernel rescales); integers become DECIMAL.
      if (type->id == TypeId::kDecimal) {
        DataType lt = AsDecimal(l->type), rt = AsDecimal(r->type);
        return call(ArithmeticFn(e.op), *type, CastIfNeeded(std::move(l), lt), CastIfNeeded(std::move(r), rt));
      }
      return call(ArithmeticFn(e.op), *type, CastIfNeeded(std::move(l), *type), CastIfNeeded(std::move(r), *type));
    }
  }
  return Status::Internal("unknown binary operator");
}

Result<BoundExprPtr> ExpressionBinder::BindCase(const CaseExpr& e) {
  std::vector<BoundExprPtr> conditions, results;
  BoundExprPtr operand;
  if (e.operand) {
    SLUICE_ASSIGN_OR_RETURN(operand, BindExpr(*e.operand));
  }
  for (const auto& [when, then] : e.whens) {
    SLUICE_ASSIGN_OR_RETURN(BoundExprPtr cond, BindExpr(*when));
    if (operand) {
      // CASE x WHEN v  ==  CASE WHEN x = v
      BoundExprPtr x = operand->Clone();
      if (Untyped::Is(*cond)) cond = Adopt(std::move(cond), x->type);
      auto common = CommonType(x->type, cond->type);
      if (!common.ok()) return ErrorAt(when->pos, common.status().message());
      std::vector<BoundExprPtr> args;
      args.push_back(CastIfNeeded(std::move(x), *common));
      args.push_back(CastIfNeeded(std::move(cond), *common));
      cond = BoundExpr::Call(ScalarFn::kEq, DataType::Boolean(), std::move(args));
    }
    cond = Adopt(std::move(cond), DataType::Boolean());
    if (cond->type.id != TypeId::kBoolean) {
      return ErrorAt(when->pos, fmt::format("argument of CASE/WHEN must be type boolean, not type {}",
                                            LowerTypeName(cond->type)));
    }
    conditions.push_back(std::move(cond));
    SLUICE_ASSIGN_OR_RETURN(BoundExprPtr result, BindExpr(*then));
    results.push_back(std::move(result));
  }
  BoundExprPtr otherwise;
  if (e.otherwise) {
    SLUICE_ASSIGN_OR_RETURN(otherwise, BindExpr(*e.otherwise));
  } else {
    otherwise = UntypedConstant(Value::Null(DataType::Varchar()));
  }
  // Result type: the common type of every typed branch; all-untyped branches are VARCHAR.
  std::optional<DataType> type;
  auto consider = [&](const BoundExprPtr& r) -> Status {
    if (Untyped::Is(*r)) return Status::Ok();
    if (!type) {
      type = r->type;
      return Status::Ok();
    }
    auto common = CommonType(*type, r->type);
    if (!common.ok()) return ErrorAt(e.pos, fmt::format("CASE types {} and {} cannot be matched", LowerTypeName(*type),
                                                        LowerTypeName(r->type)));
    type = *common;
    return Status::Ok();
  };
  for (const auto& r : results) SLUICE_RETURN_IF_ERROR(consider(r));
  SLUICE_RETURN_IF_ERROR(consider(otherwise));
  DataType result_type = type.value_or(DataType::Varchar());
  std::vector<BoundExprPtr> args;
  for (size_t i = 0; i < conditions.size(); ++i) {
    args.push_back(std::move(conditions[i]));
    BoundExprPtr r = Adopt(std::move(results[i]), result_type);
    r->name = r->kind == BoundExprKind::kConstant ? "" : r->name;
    args.push_back(CastIfNeeded(std::move(r), result_type));
  }
  otherwise = Adopt(std::move(otherwise), result_type);
  otherwise->name = otherwise->kind == BoundExprKind::kConstant ? "" : otherwise->name;
  args.push_back(CastIfNeeded(std::move(otherwise), result_type));
  return BoundExpr::Call(ScalarFn::kCase, result_type, std::move(args));
}

Result<BoundExprPtr> ExpressionBinder::BindIn(const InExpr& e) {
  if (e.subquery) return ErrorAt(e.pos, "not supported yet: IN (subquery)");
  SLUICE_ASSIGN_OR_RETURN(BoundExprPtr operand, BindExpr(*e.operand));
  std::vector<BoundExprPtr> items;
  DataType type = operand->type;
  bool typed = !Untyped::Is(*operand);
  for (const ExprPtr& item : e.list) {
    SLUICE_ASSIGN_OR_RETURN(BoundExprPtr b, BindExpr(*item));
    if (!Untyped::Is(*b)) {
      if (!typed) {
        type = b->type;
        typed = true;
      } else {
        auto common = CommonType(type, b->type);
        if (!common.ok()) return ErrorAt(item->pos, common.status().message());
        type = *common;
      }
    }
    items.push_back(std::move(b));
  }
  std::vector<BoundExprPtr> args;
  operand = Adopt(std::move(operand), type);
  operand->name = operand->kind == BoundExprKind::kConstant ? "" : operand->name;
  args.push_back(CastIfNeeded(std::move(operand), type));
  for (BoundExprPtr& item : items) {
    item = Adopt(std::move(item), type);
    item->name = item->kind == BoundExprKind::kConstant ? "" : item->name;
    args.push_back(CastIfNeeded(std::move(item), type));
  }
  BoundExprPtr in = BoundExpr::Call(ScalarFn::kIn, DataType::Boolean(), std::move(args));
  if (!e.negated) return in;
  std::vector<BoundExprPtr> not_args;
  not_args.push_back(std::move(in));
  return BoundExpr::Call(ScalarFn::kNot, DataType::Boolean(), std::move(not_args));
}

Result<BoundExprPtr> ExpressionBinder::BindFunction(const FunctionExpr& e) {
  if (e.over) return ErrorAt(e.pos, fmt::format("not supported yet: window function {}() in {}", e.name, clause_));
  if (IsAggregateFunction(e.name)) {
    if (!aggregates_) return ErrorAt(e.pos, fmt::format("aggregate functions are not allowed in {}", clause_));
    return aggregates_(e);
  }
  if (e.star || e.distinct) return ErrorAt(e.pos, fmt::format("{}() is not an aggregate function", e.name));
  std::vector<BoundExprPtr> args;
  for (const ExprPtr& a : e.args) {
    SLUICE_ASSIGN_OR_RETURN(BoundExprPtr b, BindExpr(*a));
    args.push_back(std::move(b));
  }
  auto signature = [&] {
    std::string s = e.name + "(";
    for (size_t i = 0; i < args.size(); ++i) s += (i ? ", " : "") + LowerTypeName(args[i]->type);
    return s + ")";
  };
  auto no_function = [&] { return ErrorAt(e.pos, fmt::format("function {} does not exist", signature())); };
  auto expect_args = [&](size_t lo, size_t hi) -> Status {
    if (args.size() < lo || args.size() > hi) return no_function();
    return Status::Ok();
  };
  auto varchar_arg = [&](size_t i) -> Status {
    args[i] = Adopt(std::move(args[i]), DataType::Varchar());
    if (args[i]->kind == BoundExprKind::kConstant) args[i]->name.clear();
    if (args[i]->type.id != TypeId::kVarchar) return no_function();
    return Status::Ok();
  };
  auto bigint_arg = [&](size_t i) -> Status {
    args[i] = Adopt(std::move(args[i]), DataType::Bigint());
    if (args[i]->type.id != TypeId::kInt && args[i]->type.id != TypeId::kBigint) return no_function();
    args[i] = CastIfNeeded(std::move(args[i]), DataType::Bigint());
    return Status::Ok();
  };
  auto constant_unit = [&](size_t i, std::string* out) -> Status {
    SLUICE_RETURN_IF_ERROR(varchar_arg(i));
    if (args[i]->kind != BoundExprKind::kConstant || args[i]->constant.is_null()) {
      return ErrorAt(e.pos, fmt::format("the first argument of {}() must be a constant string", e.name));
    }
    *out = args[i]->constant.string();
    for (char& c : *out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    args[i] = BoundExpr::Constant(Value::Varchar(*out));
    return Status::Ok();
  };
  const std::string& n = e.name;
  if (n == "lower" || n == "upper") {
    SLUICE_RETURN_IF_ERROR(expect_args(1, 1));
    SLUICE_RETURN_IF_ERROR(varchar_arg(0));
    return BoundExpr::Call(n == "lower" ? ScalarFn::kLower : ScalarFn::kUpper, DataType::Varchar(), std::move(args));
  }
  if (n == "length" || n == "char_length" || n == "character_length") {
    SLUICE_RETURN_IF_ERROR(expect_args(1, 1));
    SLUICE_RETURN_IF_ERROR(varchar_arg(0));
    return BoundExpr::Call(ScalarFn::kLength, DataType::Bigint(), std::move(args));
  }
  if (n == "substr" || n == "substring") {
    SLUICE_RETURN_IF_ERROR(expect_args(2, 3));
    SLUICE_RETURN_IF_ERROR(varchar_arg(0));
    for (size_t i = 1; i < args.size(); ++i) SLUICE_RETURN_IF_ERROR(bigint_arg(i));
    return BoundExpr::Call(ScalarFn::kSubstr, DataType::Varchar(), std::move(args));
  }
  if (n == "concat") {
    if (args.empty()) return no_function();
    for (BoundExprPtr& a : args) {
      a = Adopt(std::move(a), DataType::Varchar());
      if (a->kind == BoundExprKind::kConstant) a->name.clear();
      a = CastIfNeeded(std::move(a), DataType::Varchar());
    }
    return BoundExpr::Call(ScalarFn::kConcat, DataType::Varchar(), std::move(args));
  }
  if (n == "split_part") {
    SLUICE_RETURN_IF_ERROR(expect_args(3, 3));
    SLUICE_RETURN_IF_ERROR(varchar_arg(0));
    SLUICE_RETURN_IF_ERROR(varchar_arg(1));
    SLUICE_RETURN_IF_ERROR(bigint_arg(2));
    return BoundExpr::Call(ScalarFn::kSplitPart, DataType::Varchar(), std::move(args));
  }
  if (n == "coalesce") {
    if (args.empty()) return no_function();
    std::optional<DataType> type;
    for (const BoundExprPtr& a : args) {
      if (Untyped::Is(*a)) continue;
      if (!type) {
        type = a->type;
        continue;
      }
      auto common = CommonType(*type, a->type);
      if (!common.ok()) return ErrorAt(e.pos, fmt::format("COALESCE {}", common.status().message()));
      type = *common;
    }
    DataType t = type.value_or(DataType::Varchar());
    for (BoundExprPtr& a : args) {
      a = Adopt(std::move(a), t);
      if (a->kind == BoundExprKind::kConstant) a->name.clear();
      a = CastIfNeeded(std::move(a), t);
    }
    return BoundExpr::Call(ScalarFn::kCoalesce, t, std::move(args));
  }
  if (n == "date_trunc") {
    SLUICE_RETURN_IF_ERROR(expect_args(2, 2));
    std::string unit;
    SLUICE_RETURN_IF_ERROR(constant_unit(0, &unit));
    static const std::set<std::string, std::less<>> kUnits = {"microseconds", "milliseconds", "second", "minute",
                                                              "hour",         "day",          "week",   "month",
                                                              "quarter",      "year",         "decade", "century",
                                                              "millennium"};
    if (!kUnits.contains(unit)) return ErrorAt(e.pos, fmt::format("unit \"{}\" not recognized for date_trunc", unit));
    args[1] = Adopt(std::move(args[1]), DataType::Timestamp());
    if (args[1]->type.id == TypeId::kDate) args[1] = BoundExpr::Cast(std::move(args[1]), DataType::Timestamp());
    if (args[1]->type.id != TypeId::kTimestamp && args[1]->type.id != TypeId::kTimestamptz) return no_function();
    DataType type = args[1]->type;
    return BoundExpr::Call(ScalarFn::kDateTrunc, type, std::move(args));
  }
  if (n == "extract" || n == "date_part") {
    SLUICE_RETURN_IF_ERROR(expect_args(2, 2));
    std::string field;
    SLUICE_RETURN_IF_ERROR(constant_unit(0, &field));
    static const std::set<std::string, std::less<>> kFields = {
        "microseconds", "milliseconds", "second", "minute", "hour",   "day",     "dow",        "isodow", "doy",
        "week",         "month",        "quarter", "year",  "decade", "century", "millennium", "epoch"};
    if (!kFields.contains(field)) return ErrorAt(e.pos, fmt::format("unit \"{}\" not recognized for extract", field));
    args[1] = Adopt(std::move(args[1]), DataType::Timestamp());
    TypeId t = args[1]->type.id;
    if (!IsTemporal(args[1]->type) && t != TypeId::kInterval) return no_function();
    return BoundExpr::Call(ScalarFn::kExtract, DataType::Double(), std::move(args));
  }
  if (n == "to_timestamp") {
    SLUICE_RETURN_IF_ERROR(expect_args(1, 1));
    args[0] = Adopt(std::move(args[0]), DataType::Double());
    if (!IsNumeric(args[0]->type)) return no_function();
    args[0] = CastIfNeeded(std::move(args[0]), DataType::Double());
    return BoundExpr::Call(ScalarFn::kToTimestamp, DataType::Timestamptz(), std::move(args));
  }
  if (n == "now" || n == "current_timestamp") {
    SLUICE_RETURN_IF_ERROR(expect_args(0, 0));
    return BoundExpr::Call(ScalarFn::kNow, DataType::Timestamptz(), std::move(args));
  }
  if (n.starts_with("is_") && args.size() == 1) {
    static const std::pair<std::string_view, ScalarFn> kTests[] = {{"is_true", ScalarFn::kIsTrue},
                                                                   {"is_false", ScalarFn::kIsFalse},
                                                                   {"is_not_true", ScalarFn::kIsNotTrue},
                                                                   {"is_not_false", ScalarFn::kIsNotFalse}};
    for (const auto& [name, fn] : kTests) {
      if (n != name) continue;
      args[0] = Adopt(std::move(args[0]), DataType::Boolean());
      if (args[0]->type.id != TypeId::kBoolean) return no_function();
      return BoundExpr::Call(fn, DataType::Boolean(), std::move(args));
    }
  }
  return ErrorAt(e.pos, fmt::format("function {} does not exist", signature()));
}

}  // namespace sluice::sql
