// Randomized differential test: random BIGINT/BOOLEAN expression trees over random chunks with
// NULLs, evaluated by ExpressionExecutor and by a straightforward per-row reference.

#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "exec/expression_test_util.h"

namespace sluice::exec::testing {
namespace {

constexpr int kColumns = 3;

// One reference cell: an error, a NULL, or a value (BIGINT, or 0/1 for BOOLEAN).
struct Cell {
  bool error = false;
  bool null = false;
  int64_t v = 0;
};
using Row = std::vector<std::optional<int64_t>>;
using RefFn = std::function<Cell(const Row&)>;

struct Generated {
  BoundExprPtr expr;
  RefFn ref;
};

class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  int64_t RandomValue() {
    int k = Pick(100);
    if (k < 2) return INT64_MAX;
    if (k < 4) return INT64_MIN;
    if (k < 6) return -1;
    if (k < 12) return 0;
    return static_cast<int64_t>(Pick(201)) - 100;
  }

  Generated Bigint(int depth) {
    int k = depth == 0 ? Pick(2) : Pick(7);
    if (k == 0) {
      int c = Pick(kColumns);
      return {Col(c, Big()), [c](const Row& r) { return r[c] ? Cell{false, false, *r[c]} : Cell{false, true, 0}; }};
    }
    if (k == 1) {
      if (Pick(10) == 0) return {Lit(Value::Null(Big())), [](const Row&) { return Cell{false, true, 0}; }};
      int64_t v = RandomValue();
      return {Lit(Value::Bigint(v)), [v](const Row&) { return Cell{false, false, v}; }};
    }
    static constexpr ScalarFn kOps[] = {ScalarFn::kAdd, ScalarFn::kSubtract, ScalarFn::kMultiply, ScalarFn::kDivide,
                                        ScalarFn::kModulo};
    if (k == 6) {
      Generated a = Bigint(depth - 1);
      RefFn ra = a.ref;
      return {Fn(ScalarFn::kNegate, Big(), std::move(a.expr)), [ra](const Row& r) {
                Cell x = ra(r);
                if (x.error || x.null) return x;
                if (x.v == INT64_MIN) return Cell{true};
                return Cell{false, false, -x.v};
              }};
    }
    ScalarFn op = kOps[k - 2 + Pick(2) * (k == 5 ? 1 : 0)];
    Generated a = Bigint(depth - 1), b = Bigint(depth - 1);
    RefFn ra = a.ref, rb = b.ref;
    return {Fn(op, Big(), std::move(a.expr), std::move(b.expr)), [op, ra, rb](const Row& r) {
              Cell x = ra(r), y = rb(r);
              if (x.error || y.error) return Cell{true};
              if (x.null || y.null) return Cell{false, true, 0};
              int64_t out;
              switch (op) {
                case ScalarFn::kAdd: return __builtin_add_overflow(x.v, y.v, &out) ? Cell{true} : Cell{false, false, out};
                case ScalarFn::kSubtract: return __builtin_sub_overflow(x.v, y.v, &out) ? Cell{true} : Cell{false, false, out};
                case ScalarFn::kMultiply: return __builtin_mul_overflow(x.v, y.v, &out) ? Cell{true} : Cell{false, false, out};
                case ScalarFn::kDivide:
                  if (y.v == 0 || (x.v == INT64_MIN && y.v == -1)) return Cell{true};
                  return Cell{false, false, x.v / y.v};
                default:
                  if (y.v == 0) return Cell{true};
                  return Cell{false, false, y.v == -1 ? 0 : x.v % y.v};
              }
            }};
  }

  Generated Boolean(int depth) {
    int k = depth == 0 ? 0 : Pick(5);
    if (k <= 1) {
      static constexpr ScalarFn kCmp[] = {ScalarFn::kEq, ScalarFn::kNotEq, ScalarFn::kLt,
                                          ScalarFn::kLtEq, ScalarFn::kGt, ScalarFn::kGtEq};
      ScalarFn op = kCmp[Pick(6)];
      Generated a = Bigint(std::max(depth - 1, 0)), b = Bigint(std::max(depth - 1, 0));
      RefFn ra = a.ref, rb = b.ref;
      return {Fn(op, Bool(), std::move(a.expr), std::move(b.expr)), [op, ra, rb](const Row& r) {
                Cell x = ra(r), y = rb(r);
                if (x.error || y.error) return Cell{true};
                if (x.null || y.null) return Cell{false, true, 0};
                bool v = op == ScalarFn::kEq ? x.v == y.v : op == ScalarFn::kNotEq ? x.v != y.v
                       : op == ScalarFn::kLt ? x.v < y.v : op == ScalarFn::kLtEq ? x.v <= y.v
                       : op == ScalarFn::kGt ? x.v > y.v : x.v >= y.v;
                return Cell{false, false, v};
              }};
    }
    if (k == 2) {
      Generated a = Boolean(depth - 1);
      RefFn ra = a.ref;
      return {Fn(ScalarFn::kNot, Bool(), std::move(a.expr)), [ra](const Row& r) {
                Cell x = ra(r);
                if (!x.error && !x.null) x.v = !x.v;
                return x;
              }};
    }
    bool is_and = k == 3;
    Generated a = Boolean(depth - 1), b = Boolean(depth - 1);
    RefFn ra = a.ref, rb = b.ref;
    return {Fn(is_and ? ScalarFn::kAnd : ScalarFn::kOr, Bool(), std::move(a.expr), std::move(b.expr)),
            [is_and, ra, rb](const Row& r) {
              // PostgreSQL evaluates the right side only if the left does not decide.
              Cell x = ra(r);
              if (x.error) return x;
              int64_t decisive = is_and ? 0 : 1;
              if (!x.null && x.v == decisive) return Cell{false, false, decisive};
              Cell y = rb(r);
              if (y.error) return y;
              if (!y.null && y.v == decisive) return Cell{false, false, decisive};
              if (x.null || y.null) return Cell{false, true, 0};
              return Cell{false, false, !decisive};
            }};
  }

  uint32_t Pick(uint32_t n) { return std::uniform_int_distribution<uint32_t>(0, n - 1)(rng_); }

 private:
  std::mt19937 rng_;
};

TEST(ExpressionRandomTest, MatchesPerRowReference) {
  Generator gen(20261121);
  int errors = 0, successes = 0;
  for (int iteration = 0; iteration < 400; ++iteration) {
    bool boolean = gen.Pick(2) == 0;
    Generated g = boolean ? gen.Boolean(3) : gen.Bigint(3);
    auto ex = ExpressionExecutor::Compile(*g.expr);
    ASSERT_TRUE(ex.ok()) << g.expr->ToString();
    size_t n = gen.Pick(4) == 0 ? gen.Pick(5) : 1 + gen.Pick(300);
    DataChunk chunk(std::vector<DataType>(kColumns, Big()), std::max<size_t>(n, 1));
    std::vector<Row> rows(n, Row(kColumns));
    for (size_t r = 0; r < n; ++r) {
      for (int c = 0; c < kColumns; ++c) {
        if (gen.Pick(8) == 0) {
          chunk.column(c).SetNull(r);
          chunk.column(c).data<int64_t>()[r] = 0;  // a NULL slot's garbage must not raise errors
        } else {
          rows[r][c] = gen.RandomValue();
          chunk.column(c).data<int64_t>()[r] = *rows[r][c];
        }
      }
    }
    chunk.set_size(n);
    bool want_error = false;
    std::vector<Cell> want(n);
    for (size_t r = 0; r < n; ++r) {
      want[r] = g.ref(rows[r]);
      want_error |= want[r].error;
    }
    Vector out((*ex)->type(), std::max<size_t>(n, 1));
    StringArena arena;
    Status st = (*ex)->Execute(chunk, &out, &arena);
    ASSERT_EQ(st.ok(), !want_error) << g.expr->ToString() << ": " << st.ToString();
    if (!st.ok()) {
      ++errors;
      continue;
    }
    ++successes;
    for (size_t r = 0; r < n; ++r) {
      ASSERT_EQ(out.IsNull(r), want[r].null) << g.expr->ToString() << " row " << r;
      if (want[r].null) continue;
      int64_t got = boolean ? out.data<uint8_t>()[r] : out.data<int64_t>()[r];
      ASSERT_EQ(got, want[r].v) << g.expr->ToString() << " row " << r;
    }
    if (boolean) {
      std::vector<uint32_t> sel;
      ASSERT_TRUE((*ex)->Select(chunk, &sel).ok());
      std::vector<uint32_t> expected;
      for (size_t r = 0; r < n; ++r) {
        if (!want[r].null && want[r].v == 1) expected.push_back(static_cast<uint32_t>(r));
      }
      ASSERT_EQ(sel, expected) << g.expr->ToString();
    }
  }
  EXPECT_GT(successes, 100);
  EXPECT_GT(errors, 5);
}

}  // namespace
}  // namespace sluice::exec::testing
