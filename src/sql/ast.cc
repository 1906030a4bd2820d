#include <fmt/format.h>

#include "sql/ast.h"
#include "sql/parser.h"
#include "sql/value_text.h"

namespace sluice::sql {

std::string DataType::ToString() const {
  switch (id) {
    case TypeId::kBoolean: return "BOOLEAN";
    case TypeId::kInt: return "INT";
    case TypeId::kBigint: return "BIGINT";
    case TypeId::kDouble: return "DOUBLE";
    case TypeId::kDecimal: return fmt::format("DECIMAL({},{})", precision, scale);
    case TypeId::kVarchar: return "VARCHAR";
    case TypeId::kTimestamp: return "TIMESTAMP";
    case TypeId::kTimestamptz: return "TIMESTAMPTZ";
    case TypeId::kInterval: return "INTERVAL";
    case TypeId::kDate: return "DATE";
  }
  return "UNKNOWN";
}

std::string_view BinaryOpName(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd: return "+";
    case BinaryOp::kSubtract: return "-";
    case BinaryOp::kMultiply: return "*";
    case BinaryOp::kDivide: return "/";
    case BinaryOp::kModulo: return "%";
    case BinaryOp::kConcat: return "||";
    case BinaryOp::kEq: return "=";
    case BinaryOp::kNotEq: return "<>";
    case BinaryOp::kLt: return "<";
    case BinaryOp::kLtEq: return "<=";
    case BinaryOp::kGt: return ">";
    case BinaryOp::kGtEq: return ">=";
    case BinaryOp::kAnd: return "AND";
    case BinaryOp::kOr: return "OR";
  }
  return "?";
}

std::string_view ObjectKindName(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kSource: return "source";
    case ObjectKind::kTable: return "table";
    case ObjectKind::kView: return "materialized view";
    case ObjectKind::kSink: return "sink";
  }
  return "object";
}

namespace {

std::string IntervalToSql(const Interval& iv) {
  std::string out;
  if (iv.months != 0) out += fmt::format("{} months ", iv.months);
  if (iv.days != 0) out += fmt::format("{} days ", iv.days);
  if (iv.micros != 0 || out.empty()) {
    if (iv.micros % 1'000'000 == 0) {
      out += fmt::format("{} seconds ", iv.micros / 1'000'000);
    } else {
      out += fmt::format("{} microseconds ", iv.micros);
    }
  }
  out.pop_back();
  return "INTERVAL " + QuoteSqlString(out);
}

void AppendList(std::string* out, const std::vector<ExprPtr>& list) {
  for (size_t i = 0; i < list.size(); ++i) {
    if (i > 0) out->append(", ");
    out->append(ToSql(*list[i]));
  }
}

void AppendOrder(std::string* out, const std::vector<OrderItem>& items) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out->append(", ");
    out->append(ToSql(*items[i].expr));
    if (items[i].descending) out->append(" DESC");
    if (items[i].nulls_first) out->append(*items[i].nulls_first ? " NULLS FIRST" : " NULLS LAST");
  }
}

std::string TableRefToSql(const TableRef& ref) {
  std::string out;
  switch (ref.kind) {
    case TableRefKind::kNamed:
      out = ref.name;
      break;
    case TableRefKind::kFunction:
      out = fmt::format("{}(", ref.name);
      AppendList(&out, ref.args);
      out += ")";
      break;
    case TableRefKind::kSubquery:
      out = fmt::format("({})", ToSql(*ref.subquery));
      break;
    case TableRefKind::kJoin: {
      std::string_view join = ref.join == JoinType::kInner  ? "JOIN"
                              : ref.join == JoinType::kLeft ? "LEFT JOIN"
                              : ref.join == JoinType::kRight ? "RIGHT JOIN"
                              : ref.join == JoinType::kFull ? "FULL JOIN"
                                                            : "CROSS JOIN";
      out = fmt::format("{} {} {}", TableRefToSql(*ref.left), join, TableRefToSql(*ref.right));
      if (ref.on) out += " ON " + ToSql(*ref.on);
      return out;
    }
  }
  if (!ref.alias.empty()) out += " AS " + ref.alias;
  return out;
}

}  // namespace

std::string ToSql(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kLiteral: {
      const auto& l = static_cast<const LiteralExpr&>(e);
      switch (l.literal) {
        case LiteralKind::kNull: return "NULL";
        case LiteralKind::kBoolean: return l.boolean ? "TRUE" : "FALSE";
        case LiteralKind::kInteger: return fmt::format("{}", l.integer);
        case LiteralKind::kDecimal: return l.text;
        case LiteralKind::kString: return QuoteSqlString(l.text);
        case LiteralKind::kInterval: return IntervalToSql(l.interval);
        case LiteralKind::kTyped: return fmt::format("{} {}", l.type.ToString(), QuoteSqlString(l.text));
      }
      return "?";
    }
    case ExprKind::kColumnRef: {
      const auto& c = static_cast<const ColumnRefExpr&>(e);
      return c.table.empty() ? c.column : fmt::format("{}.{}", c.table, c.column);
    }
    case ExprKind::kStar: {
      const auto& s = static_cast<const StarExpr&>(e);
      return s.table.empty() ? "*" : s.table + ".*";
    }
    case ExprKind::kParam:
      return fmt::format("${}", static_cast<const ParamExpr&>(e).index);
    case ExprKind::kUnary: {
      const auto& u = static_cast<const UnaryExpr&>(e);
      return fmt::format("({}{})", u.op == UnaryOp::kNot ? "NOT " : "-", ToSql(*u.operand));
    }
    case ExprKind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      return fmt::format("({} {} {})", ToSql(*b.left), BinaryOpName(b.op), ToSql(*b.right));
    }
    case ExprKind::kFunction: {
      const auto& f = static_cast<const FunctionExpr&>(e);
      std::string out = f.name + "(";
      if (f.star) out += "*";
      if (f.distinct) out += "DISTINCT ";
      AppendList(&out, f.args);
      out += ")";
      if (f.over) {
        out += " OVER (";
        if (!f.over->partition_by.empty()) {
          out += "PARTITION BY ";
          AppendList(&out, f.over->partition_by);
        }
        if (!f.over->order_by.empty()) {
          if (!f.over->partition_by.empty()) out += " ";
          out += "ORDER BY ";
          AppendOrder(&out, f.over->order_by);
        }
        out += ")";
      }
      return out;
    }
    case ExprKind::kCast: {
      const auto& c = static_cast<const CastExpr&>(e);
      return fmt::format("CAST({} AS {})", ToSql(*c.operand), c.type.ToString());
    }
    case ExprKind::kCase: {
      const auto& c = static_cast<const CaseExpr&>(e);
      std::string out = "CASE";
      if (c.operand) out += " " + ToSql(*c.operand);
      for (const auto& [when, then] : c.whens) out += fmt::format(" WHEN {} THEN {}", ToSql(*when), ToSql(*then));
      if (c.otherwise) out += " ELSE " + ToSql(*c.otherwise);
      return out + " END";
    }
    case ExprKind::kIn: {
      const auto& in = static_cast<const InExpr&>(e);
      std::string out = fmt::format("({} {}IN (", ToSql(*in.operand), in.negated ? "NOT " : "");
      if (in.subquery) {
        out += ToSql(*in.subquery);
      } else {
        AppendList(&out, in.list);
      }
      return out + "))";
    }
    case ExprKind::kBetween: {
      const auto& b = static_cast<const BetweenExpr&>(e);
      return fmt::format("({} {}BETWEEN {} AND {})", ToSql(*b.operand), b.negated ? "NOT " : "", ToSql(*b.low),
                         ToSql(*b.high));
    }
    case ExprKind::kLike: {
      const auto& l = static_cast<const LikeExpr&>(e);
      return fmt::format("({} {}{} {})", ToSql(*l.operand), l.negated ? "NOT " : "", l.case_insensitive ? "ILIKE" : "LIKE",
                         ToSql(*l.pattern));
    }
    case ExprKind::kIsNull: {
      const auto& n = static_cast<const IsNullExpr&>(e);
      return fmt::format("({} IS {}NULL)", ToSql(*n.operand), n.negated ? "NOT " : "");
    }
    case ExprKind::kSubquery: {
      const auto& s = static_cast<const SubqueryExpr&>(e);
      return fmt::format("{}({})", s.exists ? "EXISTS " : "", ToSql(*s.query));
    }
  }
  return "?";
}

std::string ToSql(const SelectStmt& q) {
  std::string out;
  if (!q.with.empty()) {
    out += "WITH ";
    for (size_t i = 0; i < q.with.size(); ++i) {
      if (i > 0) out += ", ";
      out += fmt::format("{} AS ({})", q.with[i].name, ToSql(*q.with[i].query));
    }
    out += " ";
  }
  out += "SELECT ";
  if (q.distinct) {
    out += "DISTINCT ";
    if (!q.distinct_on.empty()) {
      out += "ON (";
      AppendList(&out, q.distinct_on);
      out += ") ";
    }
  }
  for (size_t i = 0; i < q.items.size(); ++i) {
    if (i > 0) out += ", ";
    out += ToSql(*q.items[i].expr);
    if (!q.items[i].alias.empty()) out += " AS " + q.items[i].alias;
  }
  if (q.from) out += " FROM " + TableRefToSql(*q.from);
  if (q.where) out += " WHERE " + ToSql(*q.where);
  if (!q.group_by.empty()) {
    out += " GROUP BY ";
    AppendList(&out, q.group_by);
  }
  if (q.having) out += " HAVING " + ToSql(*q.having);
  if (!q.order_by.empty()) {
    out += " ORDER BY ";
    AppendOrder(&out, q.order_by);
  }
  if (q.limit) out += fmt::format(" LIMIT {}", *q.limit);
  if (q.offset) out += fmt::format(" OFFSET {}", *q.offset);
  if (q.emit_on_window_close) out += " EMIT ON WINDOW CLOSE";
  return out;
}

}  // namespace sluice::sql
