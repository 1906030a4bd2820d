// Micro-benchmarks of the vectorized expression executor over 2048-row chunks (Release build).
// Items processed = rows, so the report's items_per_second is rows/s.
#include <benchmark/benchmark.h>

#include <random>
#include <string>

#include "exec/expression_executor.h"

namespace sluice::exec {
namespace {

using sql::BoundExpr;
using sql::BoundExprPtr;
using sql::DataType;
using sql::ScalarFn;
using sql::Value;

constexpr size_t kRows = DataChunk::kDefaultCapacity;

// The bid stream's columns: price BIGINT, channel VARCHAR, url VARCHAR, date_time TIMESTAMP.
std::vector<DataType> BidTypes() {
  return {DataType::Bigint(), DataType::Varchar(), DataType::Varchar(), DataType::Timestamp()};
}

void FillBids(DataChunk& chunk) {
  std::mt19937 rng(42);
  const char* channels[] = {"apple", "google", "facebook", "baidu"};
  for (size_t r = 0; r < kRows; ++r) {
    chunk.column(0).data<int64_t>()[r] = static_cast<int64_t>(rng() % 2000);
    chunk.column(1).data<StringRef>()[r] = chunk.arena().Add(channels[rng() % 4]);
    std::string url = "https://www.nexmark.com/Item/" + std::to_string(rng() % 100000) +
                      (rng() % 10 == 0 ? "/FOO/bar" : "/item/details") + "?channel_id=" + std::to_string(rng());
    chunk.column(2).data<StringRef>()[r] = chunk.arena().Add(url);
    chunk.column(3).data<int64_t>()[r] = 1'795'300'801'000'000 + static_cast<int64_t>(r) * 1'234'567;
  }
  chunk.set_size(kRows);
}

template <typename... Args>
BoundExprPtr Fn(ScalarFn fn, DataType type, Args&&... args) {
  std::vector<BoundExprPtr> v;
  (v.push_back(std::forward<Args>(args)), ...);
  return BoundExpr::Call(fn, type, std::move(v));
}

void RunProject(benchmark::State& state, const BoundExpr& e) {
  DataChunk chunk(BidTypes(), kRows);
  FillBids(chunk);
  auto ex = ExpressionExecutor::Compile(e);
  if (!ex.ok()) {
    state.SkipWithError(ex.status().ToString().c_str());
    return;
  }
  Vector out((*ex)->type(), kRows);
  StringArena arena;
  for (auto _ : state) {
    arena.Reset();
    Status st = (*ex)->Execute(chunk, &out, &arena);
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
    benchmark::DoNotOptimize(out.data<uint8_t>());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kRows));
}

void BM_FilterPriceAndChannel(benchmark::State& state) {
  auto e = Fn(ScalarFn::kAnd, DataType::Boolean(),
              Fn(ScalarFn::kGt, DataType::Boolean(), BoundExpr::Column(0, DataType::Bigint()), BoundExpr::Constant(Value::Bigint(1000))),
              Fn(ScalarFn::kEq, DataType::Boolean(), BoundExpr::Column(1, DataType::Varchar()), BoundExpr::Constant(Value::Varchar("apple"))));
  DataChunk chunk(BidTypes(), kRows);
  FillBids(chunk);
  auto ex = ExpressionExecutor::Compile(*e);
  std::vector<uint32_t> sel;
  sel.reserve(kRows);
  for (auto _ : state) {
    sel.clear();
    Status st = (*ex)->Select(chunk, &sel);
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
    benchmark::DoNotOptimize(sel.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kRows));
}
BENCHMARK(BM_FilterPriceAndChannel);

void BM_ProjectPriceTimesRateDecimal(benchmark::State& state) {
  // CAST(price AS DECIMAL(18,0)) * 0.908 -> DECIMAL(22,3)
  auto e = Fn(ScalarFn::kMultiply, DataType::Decimal(22, 3),
              BoundExpr::Cast(BoundExpr::Column(0, DataType::Bigint()), DataType::Decimal(18, 0)),
              BoundExpr::Constant(Value::Decimal(908, 3, 3)));
  RunProject(state, *e);
}
BENCHMARK(BM_ProjectPriceTimesRateDecimal);

void BM_ProjectPriceTimesRateDouble(benchmark::State& state) {
  auto e = Fn(ScalarFn::kMultiply, DataType::Double(),
              BoundExpr::Cast(BoundExpr::Column(0, DataType::Bigint()), DataType::Double()),
              BoundExpr::Constant(Value::Double(0.908)));
  RunProject(state, *e);
}
BENCHMARK(BM_ProjectPriceTimesRateDouble);

void BM_LowerUrlLikeContains(benchmark::State& state) {
  auto e = Fn(ScalarFn::kLike, DataType::Boolean(),
              Fn(ScalarFn::kLower, DataType::Varchar(), BoundExpr::Column(2, DataType::Varchar())),
              BoundExpr::Constant(Value::Varchar("%foo%")));
  RunProject(state, *e);
}
BENCHMARK(BM_LowerUrlLikeContains);

void BM_DateTruncMinute(benchmark::State& state) {
  auto e = Fn(ScalarFn::kDateTrunc, DataType::Timestamp(), BoundExpr::Constant(Value::Varchar("minute")),
              BoundExpr::Column(3, DataType::Timestamp()));
  RunProject(state, *e);
}
BENCHMARK(BM_DateTruncMinute);

void BM_BigintAddWithOverflowCheck(benchmark::State& state) {
  auto e = Fn(ScalarFn::kAdd, DataType::Bigint(), BoundExpr::Column(0, DataType::Bigint()),
              BoundExpr::Constant(Value::Bigint(1)));
  RunProject(state, *e);
}
BENCHMARK(BM_BigintAddWithOverflowCheck);

}  // namespace
}  // namespace sluice::exec

BENCHMARK_MAIN();
