#include "exec/expression_executor.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "exec/kernels.h"
#include "exec/utf8.h"

namespace sluice::exec {

using sql::BoundExpr;
using sql::BoundExprKind;
using sql::ScalarFn;

// One node of the compiled tree. Function results live in `result` (grown to the largest chunk
// seen); constants are materialised there once.
struct ExpressionExecutor::Node {
  BoundExprKind kind = BoundExprKind::kConstant;
  ScalarFn fn = ScalarFn::kAdd;
  DataType type;
  int column = -1;
  sql::Value constant;
  std::vector<std::unique_ptr<Node>> children;
  bool may_error = false;  // this subtree can fail on some input rows

  std::unique_ptr<Vector> result;
  bool constant_filled = false;
  std::vector<uint32_t> sel[3];  // row selections for lazy evaluation (CASE, COALESCE, AND, OR)

  TimeUnit unit = TimeUnit::kSecond;  // date_trunc, extract
  std::unique_ptr<LikeState> like;
};

using Node = ExpressionExecutor::Node;

namespace {

// ---- Compilation ----------------------------------------------------------------------------

bool IsNumeric(TypeId t) {
  return t == TypeId::kInt || t == TypeId::kBigint || t == TypeId::kDouble || t == TypeId::kDecimal;
}
bool IsTimestamp(TypeId t) { return t == TypeId::kTimestamp || t == TypeId::kTimestamptz; }

// Types equal, except that DECIMALs of any precision and scale match (kernels rescale, or a
// cast is inserted).
bool SameFamily(const DataType& a, const DataType& b) {
  return a.id == TypeId::kDecimal ? b.id == TypeId::kDecimal : a == b;
}

Status Invalid(const BoundExpr& e, std::string_view why) {
  return Status::InvalidArgument(fmt::format("{}: {}", e.kind == BoundExprKind::kCast ? "CAST" : ScalarFnName(e.fn), why));
}

std::unique_ptr<Node> WrapCast(std::unique_ptr<Node> child, const DataType& to) {
  if (child->type == to) return child;
  auto cast = std::make_unique<Node>();
  cast->kind = BoundExprKind::kCast;
  cast->type = to;
  cast->may_error = true;
  cast->children.push_back(std::move(child));
  return cast;
}

class Compiler {
 public:
  Compiler(int64_t now_micros, std::vector<std::pair<int, DataType>>* columns)
      : now_micros_(now_micros), columns_(columns) {}

  Result<std::unique_ptr<Node>> Build(const BoundExpr& e) {
    auto node = std::make_unique<Node>();
    node->kind = e.kind;
    node->type = e.type;
    node->fn = e.fn;
    switch (e.kind) {
      case BoundExprKind::kConstant:
        if (!e.constant.is_null() && !(e.constant.type() == e.type)) {
          return Status::InvalidArgument(fmt::format("constant of type {} bound as {}", e.constant.type().ToString(), e.type.ToString()));
        }
        node->constant = e.constant.is_null() ? sql::Value::Null(e.type) : e.constant;
        return node;
      case BoundExprKind::kColumn:
        if (e.column < 0) return Status::InvalidArgument("column reference without an index");
        node->column = e.column;
        columns_->emplace_back(e.column, e.type);
        return node;
      case BoundExprKind::kCast:
        if (e.args.size() != 1) return Invalid(e, "expects one operand");
        if (!CanCast(e.args[0]->type, e.type)) {
          return Status::InvalidArgument(fmt::format("cannot cast type {} to {}", e.args[0]->type.ToString(), e.type.ToString()));
        }
        break;
      case BoundExprKind::kCall:
        if (e.fn == ScalarFn::kNow) {
          if (!e.args.empty() || e.type.id != TypeId::kTimestamptz) return Invalid(e, "expects () -> TIMESTAMPTZ");
          node->kind = BoundExprKind::kConstant;
          node->constant = sql::Value::Timestamptz(now_micros_);
          return node;
        }
        SLUICE_RETURN_IF_ERROR(CheckCall(e));
        break;
    }
    for (const sql::BoundExprPtr& arg : e.args) {
      SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<Node> child, Build(*arg));
      node->may_error |= child->may_error;
      node->children.push_back(std::move(child));
    }
    if (e.kind == BoundExprKind::kCast) {
      node->may_error = true;
      return node;
    }
    SLUICE_RETURN_IF_ERROR(Prepare(e, node.get()));
    return node;
  }

 private:
  // The argument and result types of every function, as listed in sql/bound_expr.h.
  static Status CheckCall(const BoundExpr& e) {
    const auto& a = e.args;
    const DataType& t = e.type;
    auto arg_is = [&](size_t i, TypeId id) { return i < a.size() && a[i]->type.id == id; };
    auto arity = [&](size_t lo, size_t hi) { return a.size() >= lo && a.size() <= hi; };
    switch (e.fn) {
      case ScalarFn::kAdd:
      case ScalarFn::kSubtract:
      case ScalarFn::kMultiply:
      case ScalarFn::kDivide:
      case ScalarFn::kModulo:
        if (!arity(2, 2) || !IsNumeric(t.id) || !SameFamily(a[0]->type, t) || !SameFamily(a[1]->type, t)) {
          return Invalid(e, "expects two arguments of the result's numeric type");
        }
        return Status::Ok();
      case ScalarFn::kNegate:
        if (!arity(1, 1) || !IsNumeric(t.id) || !SameFamily(a[0]->type, t)) return Invalid(e, "expects one numeric argument");
        return Status::Ok();
      case ScalarFn::kEq:
      case ScalarFn::kNotEq:
      case ScalarFn::kLt:
      case ScalarFn::kLtEq:
      case ScalarFn::kGt:
      case ScalarFn::kGtEq:
        if (!arity(2, 2) || t.id != TypeId::kBoolean || !SameFamily(a[0]->type, a[1]->type) ||
            a[0]->type.id == TypeId::kInterval) {
          return Invalid(e, "expects two arguments of one comparable type -> BOOLEAN");
        }
        return Status::Ok();
      case ScalarFn::kAnd:
      case ScalarFn::kOr:
        if (!arity(2, 2) || !arg_is(0, TypeId::kBoolean) || !arg_is(1, TypeId::kBoolean) || t.id != TypeId::kBoolean) {
          return Invalid(e, "expects (BOOLEAN, BOOLEAN) -> BOOLEAN");
        }
        return Status::Ok();
      case ScalarFn::kNot:
      case ScalarFn::kIsTrue:
      case ScalarFn::kIsFalse:
      case ScalarFn::kIsNotTrue:
      case ScalarFn::kIsNotFalse:
        if (!arity(1, 1) || !arg_is(0, TypeId::kBoolean) || t.id != TypeId::kBoolean) return Invalid(e, "expects (BOOLEAN) -> BOOLEAN");
        return Status::Ok();
      case ScalarFn::kIsNull:
      case ScalarFn::kIsNotNull:
        if (!arity(1, 1) || t.id != TypeId::kBoolean) return Invalid(e, "expects (x) -> BOOLEAN");
        return Status::Ok();
      case ScalarFn::kLike:
      case ScalarFn::kILike:
        if (!arity(2, 2) || !arg_is(0, TypeId::kVarchar) || !arg_is(1, TypeId::kVarchar) || t.id != TypeId::kBoolean) {
          return Invalid(e, "expects (VARCHAR, VARCHAR) -> BOOLEAN");
        }
        return Status::Ok();
      case ScalarFn::kIn:
        if (a.size() < 2 || t.id != TypeId::kBoolean) return Invalid(e, "expects (x, v1, ...) -> BOOLEAN");
        for (const auto& arg : a) {
          if (!SameFamily(arg->type, a[0]->type)) return Invalid(e, "expects arguments of one type");
        }
        return Status::Ok();
      case ScalarFn::kCoalesce:
        if (a.empty()) return Invalid(e, "expects at least one argument");
        for (const auto& arg : a) {
          if (!SameFamily(arg->type, t)) return Invalid(e, "expects arguments of the result type");
        }
        return Status::Ok();
      case ScalarFn::kCase:
        if (a.size() % 2 == 0) return Invalid(e, "expects (cond, then, ..., else)");
        for (size_t i = 0; i < a.size(); ++i) {
          bool is_cond = i % 2 == 0 && i + 1 < a.size();
          if (is_cond ? a[i]->type.id != TypeId::kBoolean : !SameFamily(a[i]->type, t)) {
            return Invalid(e, is_cond ? "conditions must be BOOLEAN" : "branches must have the result type");
          }
        }
        return Status::Ok();
      case ScalarFn::kLower:
      case ScalarFn::kUpper:
        if (!arity(1, 1) || !arg_is(0, TypeId::kVarchar) || t.id != TypeId::kVarchar) return Invalid(e, "expects (VARCHAR) -> VARCHAR");
        return Status::Ok();
      case ScalarFn::kLength:
        if (!arity(1, 1) || !arg_is(0, TypeId::kVarchar) || t.id != TypeId::kBigint) return Invalid(e, "expects (VARCHAR) -> BIGINT");
        return Status::Ok();
      case ScalarFn::kSubstr:
        if (!arity(2, 3) || !arg_is(0, TypeId::kVarchar) || !arg_is(1, TypeId::kBigint) ||
            (a.size() == 3 && !arg_is(2, TypeId::kBigint)) || t.id != TypeId::kVarchar) {
          return Invalid(e, "expects (VARCHAR, BIGINT[, BIGINT]) -> VARCHAR");
        }
        return Status::Ok();
      case ScalarFn::kConcat:
      case ScalarFn::kConcatOp:
        if (a.empty() || (e.fn == ScalarFn::kConcatOp && a.size() != 2) || t.id != TypeId::kVarchar) {
          return Invalid(e, "expects VARCHAR arguments -> VARCHAR");
        }
        for (size_t i = 0; i < a.size(); ++i) {
          if (!arg_is(i, TypeId::kVarchar)) return Invalid(e, "expects VARCHAR arguments -> VARCHAR");
        }
        return Status::Ok();
      case ScalarFn::kSplitPart:
        if (!arity(3, 3) || !arg_is(0, TypeId::kVarchar) || !arg_is(1, TypeId::kVarchar) || !arg_is(2, TypeId::kBigint) ||
            t.id != TypeId::kVarchar) {
          return Invalid(e, "expects (VARCHAR, VARCHAR, BIGINT) -> VARCHAR");
        }
        return Status::Ok();
      case ScalarFn::kTimestampAddInterval:
      case ScalarFn::kTimestampSubInterval:
        if (!arity(2, 2) || !IsTimestamp(a[0]->type.id) || !arg_is(1, TypeId::kInterval) || !(t == a[0]->type)) {
          return Invalid(e, "expects (TIMESTAMP, INTERVAL) -> TIMESTAMP");
        }
        return Status::Ok();
      case ScalarFn::kTimestampDiff:
        if (!arity(2, 2) || !IsTimestamp(a[0]->type.id) || !(a[0]->type == a[1]->type) || t.id != TypeId::kInterval) {
          return Invalid(e, "expects (TIMESTAMP, TIMESTAMP) -> INTERVAL");
        }
        return Status::Ok();
      case ScalarFn::kDateTrunc:
        if (!arity(2, 2) || !arg_is(0, TypeId::kVarchar) || !IsTimestamp(a[1]->type.id) || !(t == a[1]->type)) {
          return Invalid(e, "expects (VARCHAR, TIMESTAMP) -> TIMESTAMP");
        }
        return Status::Ok();
      case ScalarFn::kExtract:
        if (!arity(2, 2) || !arg_is(0, TypeId::kVarchar) || t.id != TypeId::kDouble ||
            !(IsTimestamp(a[1]->type.id) || arg_is(1, TypeId::kDate) || arg_is(1, TypeId::kInterval))) {
          return Invalid(e, "expects (VARCHAR, TIMESTAMP | DATE | INTERVAL) -> DOUBLE");
        }
        return Status::Ok();
      case ScalarFn::kToTimestamp:
        if (!arity(1, 1) || !arg_is(0, TypeId::kDouble) || t.id != TypeId::kTimestamptz) {
          return Invalid(e, "expects (DOUBLE) -> TIMESTAMPTZ");
        }
        return Status::Ok();
      case ScalarFn::kNow: return Status::Ok();
    }
    return Invalid(e, "unknown function");
  }

  // Per-function state and the casts that make DECIMAL arguments share one scale.
  static Status Prepare(const BoundExpr& e, Node* node) {
    auto& c = node->children;
    switch (e.fn) {
      case ScalarFn::kAdd:
      case ScalarFn::kSubtract:
      case ScalarFn::kMultiply:
      case ScalarFn::kDivide:
      case ScalarFn::kModulo:
      case ScalarFn::kSubstr:
      case ScalarFn::kSplitPart:
      case ScalarFn::kTimestampAddInterval:
      case ScalarFn::kTimestampSubInterval:
      case ScalarFn::kTimestampDiff:
      case ScalarFn::kToTimestamp: node->may_error = true; break;
      case ScalarFn::kNegate: node->may_error |= e.type.id != TypeId::kDouble; break;
      default: break;
    }
    switch (e.fn) {
      case ScalarFn::kIn:
        for (size_t i = 1; i < c.size(); ++i) c[i] = WrapCast(std::move(c[i]), c[0]->type);
        break;
      case ScalarFn::kCoalesce:
        for (auto& child : c) child = WrapCast(std::move(child), e.type);
        break;
      case ScalarFn::kCase:
        for (size_t i = 1; i < c.size(); i += 2) c[i] = WrapCast(std::move(c[i]), e.type);
        c.back() = WrapCast(std::move(c.back()), e.type);
        break;
      case ScalarFn::kLike:
      case ScalarFn::kILike: {
        node->like = std::make_unique<LikeState>();
        node->like->case_insensitive = e.fn == ScalarFn::kILike;
        const BoundExpr& pattern = *e.args[1];
        if (pattern.kind == BoundExprKind::kConstant && !pattern.constant.is_null()) {
          node->like->constant_pattern = true;
          std::string p = pattern.constant.string();
          if (node->like->case_insensitive) utf8::Lower(p, p.data());
          node->like->matcher.Compile(p);
        }
        break;
      }
      case ScalarFn::kDateTrunc:
      case ScalarFn::kExtract: {
        const BoundExpr& unit = *e.args[0];
        if (unit.kind != BoundExprKind::kConstant || unit.constant.is_null()) {
          return Invalid(e, "the unit must be a constant");
        }
        const std::string& name = unit.constant.string();
        bool known = ParseTimeUnit(name, &node->unit);
        if (e.fn == ScalarFn::kDateTrunc) {
          if (!known || node->unit > TimeUnit::kMillennium) {
            return Status::InvalidArgument(fmt::format("unit \"{}\" not recognized for type {}", name, e.type.ToString()));
          }
        } else if (!known || !ExtractSupports(node->unit, e.args[1]->type.id)) {
          return Status::InvalidArgument(fmt::format("unit \"{}\" not supported for type {}", name, e.args[1]->type.ToString()));
        }
        break;
      }
      default: break;
    }
    return Status::Ok();
  }

  int64_t now_micros_;
  std::vector<std::pair<int, DataType>>* columns_;
};

// ---- Evaluation ------------------------------------------------------------------------------

struct EvalContext {
  const DataChunk& input;
  StringArena* scratch;    // strings of intermediate results
  StringArena* constants;  // strings of materialised constants
};

Status EvalInto(Node& node, EvalContext& ctx, Rows rows, Vector* dest, StringArena* arena);

Vector* EnsureResult(Node& node, size_t rows) {
  if (node.result == nullptr || node.result->capacity() < rows) {
    node.result = std::make_unique<Vector>(node.type, std::max(rows, DataChunk::kDefaultCapacity));
    node.constant_filled = false;
  }
  return node.result.get();
}

std::vector<uint32_t>& Selection(Node& node, int i, size_t rows) {
  if (node.sel[i].size() < rows) node.sel[i].resize(std::max(rows, DataChunk::kDefaultCapacity));
  return node.sel[i];
}

// A constant is written into every slot once; later chunks reuse it.
const Vector* Constant(Node& node, EvalContext& ctx) {
  Vector* v = EnsureResult(node, ctx.input.size());
  if (node.constant_filled) return v;
  SetValue(v, 0, node.constant, ctx.constants);
  if (node.constant.is_null()) {
    for (size_t r = 0; r < v->capacity(); ++r) v->SetNull(r);
  } else {
    auto fill = [&]<typename T>(T) {
      T* d = v->data<T>();
      std::fill(d + 1, d + v->capacity(), d[0]);
    };
    switch (v->physical()) {
      case PhysicalType::kBool: fill(uint8_t{}); break;
      case PhysicalType::kInt32: fill(int32_t{}); break;
      case PhysicalType::kInt64: fill(int64_t{}); break;
      case PhysicalType::kInt128: fill(__int128{}); break;
      case PhysicalType::kDouble: fill(double{}); break;
      case PhysicalType::kString: fill(StringRef{}); break;
      case PhysicalType::kInterval: fill(sql::Interval{}); break;
    }
  }
  node.constant_filled = true;
  return v;
}

// Where a child's values are: the input column, the materialised constant, or the child's own
// result vector after evaluating it over `rows`.
Result<const Vector*> EvalChild(Node& node, EvalContext& ctx, Rows rows) {
  switch (node.kind) {
    case BoundExprKind::kColumn: return &ctx.input.column(static_cast<size_t>(node.column));
    case BoundExprKind::kConstant: return Constant(node, ctx);
    default: break;
  }
  Vector* v = EnsureResult(node, ctx.input.size());
  v->ResetValidity();
  SLUICE_RETURN_IF_ERROR(EvalInto(node, ctx, rows, v, ctx.scratch));
  return static_cast<const Vector*>(v);
}

// Splits `rows` by a BOOLEAN vector: rows where it is TRUE (when `want` is true) or FALSE
// (when false) into *taken, the others (including NULL) into *rest.
void Split(const Vector& cond, bool want, Rows rows, uint32_t* taken, size_t* taken_n, uint32_t* rest, size_t* rest_n) {
  const uint8_t* c = cond.data<uint8_t>();
  size_t t = 0, o = 0;
  ForEachRow(rows, [&](uint32_t r) {
    bool hit = !cond.IsNull(r) && (c[r] != 0) == want;
    if (hit) {
      taken[t++] = r;
    } else {
      rest[o++] = r;
    }
  });
  *taken_n = t;
  *rest_n = o;
}

Status EvalLogic(Node& node, EvalContext& ctx, Rows rows, Vector* dest) {
  bool is_and = node.fn == ScalarFn::kAnd;
  SLUICE_ASSIGN_OR_RETURN(const Vector* a, EvalChild(*node.children[0], ctx, rows));
  Rows right = rows;
  if (node.children[1]->may_error) {
    // Evaluate the right side only where the left does not decide (AND: not FALSE).
    uint32_t* undecided = Selection(node, 0, ctx.input.size()).data();
    uint32_t* decided = Selection(node, 1, ctx.input.size()).data();
    size_t n_decided, n_undecided;
    Split(*a, !is_and, rows, decided, &n_decided, undecided, &n_undecided);
    right = Rows{undecided, n_undecided};
  }
  SLUICE_ASSIGN_OR_RETURN(const Vector* b, EvalChild(*node.children[1], ctx, right));
  const uint8_t* x = a->data<uint8_t>();
  const uint8_t* y = b->data<uint8_t>();
  uint8_t* z = dest->data<uint8_t>();
  if (!a->has_nulls() && !b->has_nulls() && right.sel == rows.sel) {
    if (is_and) {
      ForEachRow(rows, [&](uint32_t r) { z[r] = x[r] & y[r]; });
    } else {
      ForEachRow(rows, [&](uint32_t r) { z[r] = x[r] | y[r]; });
    }
    return Status::Ok();
  }
  uint8_t decisive = is_and ? 0 : 1;  // FALSE decides AND, TRUE decides OR
  ForEachRow(rows, [&](uint32_t r) {
    bool an = a->IsNull(r);
    if (!an && x[r] == decisive) {
      z[r] = decisive;
      return;
    }
    bool bn = b->IsNull(r);
    if (!bn && y[r] == decisive) {
      z[r] = decisive;
    } else if (an || bn) {
      z[r] = 0;
      dest->SetNull(r);
    } else {
      z[r] = !decisive;
    }
  });
  return Status::Ok();
}

Status EvalCoalesce(Node& node, EvalContext& ctx, Rows rows, Vector* dest, StringArena* arena) {
  uint32_t* bufs[2] = {Selection(node, 0, ctx.input.size()).data(), Selection(node, 1, ctx.input.size()).data()};
  uint32_t* taken = Selection(node, 2, ctx.input.size()).data();
  Rows remaining = rows;
  for (size_t i = 0; i < node.children.size() && remaining.count > 0; ++i) {
    SLUICE_ASSIGN_OR_RETURN(const Vector* v, EvalChild(*node.children[i], ctx, remaining));
    if (i + 1 == node.children.size() || !v->has_nulls()) {
      CopyRows(*v, remaining, dest, arena);  // the last argument decides the rest, NULL or not
      return Status::Ok();
    }
    uint32_t* next = bufs[i % 2];
    size_t n_taken = 0, n_next = 0;
    ForEachRow(remaining, [&](uint32_t r) {
      if (v->IsNull(r)) {
        next[n_next++] = r;
      } else {
        taken[n_taken++] = r;
      }
    });
    CopyRows(*v, Rows{taken, n_taken}, dest, arena);
    remaining = Rows{next, n_next};
  }
  return Status::Ok();
}

Status EvalCase(Node& node, EvalContext& ctx, Rows rows, Vector* dest, StringArena* arena) {
  uint32_t* bufs[2] = {Selection(node, 0, ctx.input.size()).data(), Selection(node, 1, ctx.input.size()).data()};
  uint32_t* taken = Selection(node, 2, ctx.input.size()).data();
  Rows remaining = rows;
  size_t pairs = node.children.size() / 2;
  for (size_t i = 0; i < pairs && remaining.count > 0; ++i) {
    SLUICE_ASSIGN_OR_RETURN(const Vector* cond, EvalChild(*node.children[2 * i], ctx, remaining));
    uint32_t* next = bufs[i % 2];
    size_t n_taken, n_next;
    Split(*cond, true, remaining, taken, &n_taken, next, &n_next);
    if (n_taken > 0) {
      Rows branch{taken, n_taken};
      SLUICE_ASSIGN_OR_RETURN(const Vector* v, EvalChild(*node.children[2 * i + 1], ctx, branch));
      CopyRows(*v, branch, dest, arena);
    }
    remaining = Rows{next, n_next};
  }
  if (remaining.count > 0) {
    SLUICE_ASSIGN_OR_RETURN(const Vector* v, EvalChild(*node.children.back(), ctx, remaining));
    CopyRows(*v, remaining, dest, arena);
  }
  return Status::Ok();
}

void EvalNullTest(ScalarFn fn, const Vector& a, Rows rows, Vector* dest) {
  const uint8_t* x = a.physical() == PhysicalType::kBool ? a.data<uint8_t>() : nullptr;
  uint8_t* z = dest->data<uint8_t>();
  ForEachRow(rows, [&](uint32_t r) {
    bool null = a.IsNull(r);
    switch (fn) {
      case ScalarFn::kIsNull: z[r] = null; break;
      case ScalarFn::kIsNotNull: z[r] = !null; break;
      case ScalarFn::kIsTrue: z[r] = !null && x[r] != 0; break;
      case ScalarFn::kIsFalse: z[r] = !null && x[r] == 0; break;
      case ScalarFn::kIsNotTrue: z[r] = null || x[r] == 0; break;
      default: z[r] = null || x[r] != 0; break;  // kIsNotFalse
    }
  });
}

Status EvalCall(Node& node, EvalContext& ctx, Rows rows, Vector* dest, StringArena* arena) {
  switch (node.fn) {
    case ScalarFn::kAnd:
    case ScalarFn::kOr: return EvalLogic(node, ctx, rows, dest);
    case ScalarFn::kCoalesce: return EvalCoalesce(node, ctx, rows, dest, arena);
    case ScalarFn::kCase: return EvalCase(node, ctx, rows, dest, arena);
    default: break;
  }
  // Strict functions: every argument over the same rows.
  const Vector* args[16];
  std::vector<const Vector*> many;
  const Vector** argv = args;
  if (node.children.size() > std::size(args)) {
    many.resize(node.children.size());
    argv = many.data();
  }
  for (size_t i = 0; i < node.children.size(); ++i) {
    SLUICE_ASSIGN_OR_RETURN(argv[i], EvalChild(*node.children[i], ctx, rows));
  }
  std::span<const Vector* const> a(argv, node.children.size());
  switch (node.fn) {
    case ScalarFn::kAdd:
    case ScalarFn::kSubtract:
    case ScalarFn::kMultiply:
    case ScalarFn::kDivide:
    case ScalarFn::kModulo: return ArithmeticKernel(node.fn, *a[0], *a[1], rows, dest);
    case ScalarFn::kNegate: return NegateKernel(*a[0], rows, dest);
    case ScalarFn::kEq:
    case ScalarFn::kNotEq:
    case ScalarFn::kLt:
    case ScalarFn::kLtEq:
    case ScalarFn::kGt:
    case ScalarFn::kGtEq: ComparisonKernel(node.fn, *a[0], *a[1], rows, dest); return Status::Ok();
    case ScalarFn::kNot: {
      PropagateNulls(*a[0], rows, dest);
      const uint8_t* x = a[0]->data<uint8_t>();
      uint8_t* z = dest->data<uint8_t>();
      ForEachRow(rows, [&](uint32_t r) { z[r] = !x[r]; });
      return Status::Ok();
    }
    case ScalarFn::kIsNull:
    case ScalarFn::kIsNotNull:
    case ScalarFn::kIsTrue:
    case ScalarFn::kIsFalse:
    case ScalarFn::kIsNotTrue:
    case ScalarFn::kIsNotFalse: EvalNullTest(node.fn, *a[0], rows, dest); return Status::Ok();
    case ScalarFn::kLike:
    case ScalarFn::kILike: LikeKernel(node.like.get(), *a[0], *a[1], rows, dest); return Status::Ok();
    case ScalarFn::kIn: InKernel(a, rows, dest); return Status::Ok();
    case ScalarFn::kLower:
    case ScalarFn::kUpper:
    case ScalarFn::kLength:
    case ScalarFn::kSubstr:
    case ScalarFn::kConcat:
    case ScalarFn::kConcatOp:
    case ScalarFn::kSplitPart: return StringKernel(node.fn, a, rows, dest, arena);
    case ScalarFn::kDateTrunc: return DateTruncKernel(node.unit, *a[1], rows, dest);
    case ScalarFn::kExtract: ExtractKernel(node.unit, *a[1], rows, dest); return Status::Ok();
    case ScalarFn::kTimestampAddInterval:
    case ScalarFn::kTimestampSubInterval:
    case ScalarFn::kTimestampDiff:
    case ScalarFn::kToTimestamp: return TimeKernel(node.fn, a, rows, dest);
    default: return Status::Internal(fmt::format("no kernel for {}", ScalarFnName(node.fn)));
  }
}

Status EvalInto(Node& node, EvalContext& ctx, Rows rows, Vector* dest, StringArena* arena) {
  switch (node.kind) {
    case BoundExprKind::kColumn:
    case BoundExprKind::kConstant: {
      SLUICE_ASSIGN_OR_RETURN(const Vector* v, EvalChild(node, ctx, rows));
      CopyRows(*v, rows, dest, arena);
      return Status::Ok();
    }
    case BoundExprKind::kCast: {
      SLUICE_ASSIGN_OR_RETURN(const Vector* v, EvalChild(*node.children[0], ctx, rows));
      return CastKernel(*v, rows, dest, arena);
    }
    case BoundExprKind::kCall: return EvalCall(node, ctx, rows, dest, arena);
  }
  return Status::Internal("unknown expression kind");
}

}  // namespace

ExpressionExecutor::ExpressionExecutor() = default;
ExpressionExecutor::~ExpressionExecutor() = default;

Result<std::unique_ptr<ExpressionExecutor>> ExpressionExecutor::Compile(const sql::BoundExpr& expr, int64_t now_micros) {
  std::unique_ptr<ExpressionExecutor> ex(new ExpressionExecutor());
  Compiler compiler(now_micros, &ex->columns_);
  SLUICE_ASSIGN_OR_RETURN(ex->root_, compiler.Build(expr));
  return ex;
}

const sql::DataType& ExpressionExecutor::type() const { return root_->type; }

Status ExpressionExecutor::Run(const DataChunk& input, Vector* out, StringArena* arena) {
  for (const auto& [index, type] : columns_) {
    if (static_cast<size_t>(index) >= input.column_count() || !(input.column(static_cast<size_t>(index)).type() == type)) {
      return Status::InvalidArgument(fmt::format("expression reads column {} as {}, which the input does not have", index, type.ToString()));
    }
  }
  scratch_arena_.Reset();
  out->ResetValidity();
  EvalContext ctx{input, &scratch_arena_, &constant_arena_};
  return EvalInto(*root_, ctx, Rows{nullptr, input.size()}, out, arena);
}

Status ExpressionExecutor::Execute(const DataChunk& input, Vector* out, StringArena* arena) {
  if (!(out->type() == type()) || out->capacity() < input.size()) {
    return Status::InvalidArgument("output vector does not match the expression's type or the chunk's size");
  }
  return Run(input, out, arena);
}

Status ExpressionExecutor::Select(const DataChunk& input, std::vector<uint32_t>* selection) {
  if (type().id != TypeId::kBoolean) return Status::InvalidArgument("a filter must be a BOOLEAN expression");
  if (select_result_ == nullptr || select_result_->capacity() < input.size()) {
    select_result_ = std::make_unique<Vector>(type(), std::max(input.size(), DataChunk::kDefaultCapacity));
  }
  SLUICE_RETURN_IF_ERROR(Run(input, select_result_.get(), &scratch_arena_));
  const uint8_t* z = select_result_->data<uint8_t>();
  size_t n = input.size();
  size_t base = selection->size();
  selection->resize(base + n);
  uint32_t* out = selection->data() + base;
  size_t k = 0;
  if (!select_result_->has_nulls()) {
    for (size_t r = 0; r < n; ++r) {
      out[k] = static_cast<uint32_t>(r);
      k += z[r] != 0;  // branch-free compaction
    }
  } else {
    for (size_t r = 0; r < n; ++r) {
      out[k] = static_cast<uint32_t>(r);
      k += z[r] != 0 && !select_result_->IsNull(r);
    }
  }
  selection->resize(base + k);
  return Status::Ok();
}

}  // namespace sluice::exec
