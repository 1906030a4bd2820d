#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sql/lexer.h"
#include "sql/types.h"

namespace sluice::sql {

// The syntax tree the parser produces: what the user wrote, with positions, before any name
// or type is resolved (that is the binder's job).

// ---- expressions ---------------------------------------------------------------------------

enum class ExprKind : uint8_t {
  kLiteral, kColumnRef, kStar, kParam, kUnary, kBinary, kFunction, kCast, kCase, kIn,
  kBetween, kLike, kIsNull, kSubquery,
};

struct Expr {
  explicit Expr(ExprKind k, SourcePos p) : kind(k), pos(p) {}
  virtual ~Expr() = default;
  const ExprKind kind;
  SourcePos pos;
};
using ExprPtr = std::unique_ptr<Expr>;

enum class LiteralKind : uint8_t { kNull, kBoolean, kInteger, kDecimal, kString, kInterval, kTyped };

struct LiteralExpr : Expr {
  explicit LiteralExpr(SourcePos p) : Expr(ExprKind::kLiteral, p) {}
  LiteralKind literal = LiteralKind::kNull;
  bool boolean = false;
  int64_t integer = 0;
  std::string text;  // decimal digits as written, string contents, or a typed literal's text
  Interval interval;
  DataType type;     // kTyped: TIMESTAMP '...', DATE '...'
};

struct ColumnRefExpr : Expr {
  explicit ColumnRefExpr(SourcePos p) : Expr(ExprKind::kColumnRef, p) {}
  std::string table;  // qualifier, empty if none
  std::string column;
};

// `*` or `t.*` in a select list, and `count(*)`'s argument.
struct StarExpr : Expr {
  explicit StarExpr(SourcePos p) : Expr(ExprKind::kStar, p) {}
  std::string table;
};

struct ParamExpr : Expr {
  explicit ParamExpr(SourcePos p) : Expr(ExprKind::kParam, p) {}
  int index = 0;  // $1 = 1
};

enum class UnaryOp : uint8_t { kNegate, kNot };

struct UnaryExpr : Expr {
  explicit UnaryExpr(SourcePos p) : Expr(ExprKind::kUnary, p) {}
  UnaryOp op = UnaryOp::kNot;
  ExprPtr operand;
};

enum class BinaryOp : uint8_t {
  kAdd, kSubtract, kMultiply, kDivide, kModulo, kConcat,
  kEq, kNotEq, kLt, kLtEq, kGt, kGtEq, kAnd, kOr,
};
std::string_view BinaryOpName(BinaryOp op);

struct BinaryExpr : Expr {
  explicit BinaryExpr(SourcePos p) : Expr(ExprKind::kBinary, p) {}
  BinaryOp op = BinaryOp::kAdd;
  ExprPtr left;
  ExprPtr right;
};

struct OrderItem {
  ExprPtr expr;
  bool descending = false;
  std::optional<bool> nulls_first;
};

// OVER (PARTITION BY ... ORDER BY ...) of a window function such as ROW_NUMBER().
struct OverClause {
  std::vector<ExprPtr> partition_by;
  std::vector<OrderItem> order_by;
};

struct FunctionExpr : Expr {
  explicit FunctionExpr(SourcePos p) : Expr(ExprKind::kFunction, p) {}
  std::string name;  // lower case
  std::vector<ExprPtr> args;
  bool distinct = false;  // count(DISTINCT x)
  bool star = false;      // count(*)
  std::unique_ptr<OverClause> over;
};

struct CastExpr : Expr {
  explicit CastExpr(SourcePos p) : Expr(ExprKind::kCast, p) {}
  ExprPtr operand;
  DataType type;
};

struct CaseExpr : Expr {
  explicit CaseExpr(SourcePos p) : Expr(ExprKind::kCase, p) {}
  ExprPtr operand;  // CASE x WHEN ... (null for the searched form)
  std::vector<std::pair<ExprPtr, ExprPtr>> whens;
  ExprPtr otherwise;
};

struct SelectStmt;

struct InExpr : Expr {
  explicit InExpr(SourcePos p) : Expr(ExprKind::kIn, p) {}
  ExprPtr operand;
  std::vector<ExprPtr> list;
  std::unique_ptr<SelectStmt> subquery;  // x IN (SELECT ...)
  bool negated = false;
};

struct BetweenExpr : Expr {
  explicit BetweenExpr(SourcePos p) : Expr(ExprKind::kBetween, p) {}
  ExprPtr operand, low, high;
  bool negated = false;
};

struct LikeExpr : Expr {
  explicit LikeExpr(SourcePos p) : Expr(ExprKind::kLike, p) {}
  ExprPtr operand, pattern;
  bool negated = false;
  bool case_insensitive = false;  // ILIKE
};

struct IsNullExpr : Expr {
  explicit IsNullExpr(SourcePos p) : Expr(ExprKind::kIsNull, p) {}
  ExprPtr operand;
  bool negated = false;  // IS NOT NULL
};

struct SubqueryExpr : Expr {
  explicit SubqueryExpr(SourcePos p) : Expr(ExprKind::kSubquery, p) {}
  std::unique_ptr<SelectStmt> query;
  bool exists = false;  // EXISTS (SELECT ...)
};

// ---- queries -------------------------------------------------------------------------------

struct SelectItem {
  ExprPtr expr;
  std::string alias;  // empty if none
};

enum class JoinType : uint8_t { kInner, kLeft, kRight, kFull, kCross };

enum class TableRefKind : uint8_t { kNamed, kFunction, kJoin, kSubquery };

struct TableRef {
  TableRefKind kind = TableRefKind::kNamed;
  SourcePos pos;
  std::string name;   // kNamed: the relation; kFunction: tumble | hop | session | ...
  std::string alias;  // empty if none
  std::vector<ExprPtr> args;               // kFunction (first argument is a relation name)
  std::unique_ptr<SelectStmt> subquery;    // kSubquery
  std::unique_ptr<TableRef> left, right;   // kJoin
  JoinType join = JoinType::kInner;
  ExprPtr on;                              // kJoin (null for CROSS JOIN)
};

struct CommonTableExpr {
  std::string name;
  std::unique_ptr<SelectStmt> query;
  SourcePos pos;
};

struct SelectStmt {
  SourcePos pos;
  std::vector<CommonTableExpr> with;
  bool distinct = false;
  std::vector<ExprPtr> distinct_on;
  std::vector<SelectItem> items;
  std::unique_ptr<TableRef> from;  // null for SELECT without FROM
  ExprPtr where;
  std::vector<ExprPtr> group_by;
  ExprPtr having;
  std::vector<OrderItem> order_by;
  std::optional<int64_t> limit;
  std::optional<int64_t> offset;
  bool emit_on_window_close = false;
};

// ---- statements ----------------------------------------------------------------------------

enum class StatementKind : uint8_t {
  kSelect, kCreateSource, kCreateTable, kCreateView, kCreateSink, kDrop, kShow, kDescribe, kExplain,
};

enum class ObjectKind : uint8_t { kSource, kTable, kView, kSink };
std::string_view ObjectKindName(ObjectKind kind);  // "source", "table", "materialized view", "sink"

struct Statement {
  explicit Statement(StatementKind k, SourcePos p) : kind(k), pos(p) {}
  virtual ~Statement() = default;
  const StatementKind kind;
  SourcePos pos;
  std::string text;  // the statement's own SQL text (for the catalog)
};
using StatementPtr = std::unique_ptr<Statement>;

struct SelectStatement : Statement {
  explicit SelectStatement(SourcePos p) : Statement(StatementKind::kSelect, p) {}
  std::unique_ptr<SelectStmt> query;
};

struct ColumnDef {
  std::string name;
  DataType type;
  bool primary_key = false;
  bool not_null = false;
  SourcePos pos;
};

struct WatermarkDef {
  std::string column;
  ExprPtr expr;  // e.g. date_time - INTERVAL '4' SECOND
  SourcePos pos;
};

// WITH (key = 'value', a.b = 3): values kept as text; numbers as written.
using WithOptions = std::map<std::string, std::string>;

// CREATE SOURCE and CREATE TABLE share their shape.
struct CreateRelationStatement : Statement {
  CreateRelationStatement(StatementKind k, SourcePos p) : Statement(k, p) {}
  std::string name;
  bool if_not_exists = false;
  std::vector<ColumnDef> columns;
  std::vector<std::string> primary_key;  // from column or table constraint
  std::optional<WatermarkDef> watermark;
  WithOptions options;
};

struct CreateViewStatement : Statement {
  explicit CreateViewStatement(SourcePos p) : Statement(StatementKind::kCreateView, p) {}
  std::string name;
  bool if_not_exists = false;
  std::unique_ptr<SelectStmt> query;
  WithOptions options;
};

struct CreateSinkStatement : Statement {
  explicit CreateSinkStatement(SourcePos p) : Statement(StatementKind::kCreateSink, p) {}
  std::string name;
  bool if_not_exists = false;
  std::string into;                    // target topic (INTO x); may be empty when WITH names it
  std::string from;                    // CREATE SINK s FROM relation
  std::unique_ptr<SelectStmt> query;   // CREATE SINK s AS SELECT ...
  WithOptions options;
};

struct DropStatement : Statement {
  explicit DropStatement(SourcePos p) : Statement(StatementKind::kDrop, p) {}
  ObjectKind object = ObjectKind::kSource;
  std::string name;
  bool if_exists = false;
  bool cascade = false;
};

enum class ShowKind : uint8_t { kSources, kTables, kViews, kSinks, kTopics };

struct ShowStatement : Statement {
  explicit ShowStatement(SourcePos p) : Statement(StatementKind::kShow, p) {}
  ShowKind what = ShowKind::kSources;
};

struct DescribeStatement : Statement {
  explicit DescribeStatement(SourcePos p) : Statement(StatementKind::kDescribe, p) {}
  std::string name;
};

struct ExplainStatement : Statement {
  explicit ExplainStatement(SourcePos p) : Statement(StatementKind::kExplain, p) {}
  StatementPtr statement;
};

}  // namespace sluice::sql
