#include "exec/dataflow.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "exec/join_operator.h"
#include "exec/json_decoder.h"
#include "exec/vector_value.h"
#include "sql/parser.h"
#include "sql/query_binder.h"

namespace sluice::exec {
namespace {

using sql::Value;

// Runs SQL over events given as JSON lines, the way an ad-hoc query scans a source.
class DataflowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sql::CatalogEntry t;
    t.kind = sql::ObjectKind::kSource;
    t.name = "t";
    t.columns = {{"k", DataType::Varchar()}, {"v", DataType::Bigint()}, {"ts", DataType::Timestamp()}};
    ASSERT_TRUE(catalog_.Create(t).ok());
  }

  Result<std::vector<std::vector<Value>>> Run(const std::string& query, const std::vector<std::string>& events,
                                              size_t chunk_rows = 3) {
    SLUICE_ASSIGN_OR_RETURN(sql::StatementPtr stmt, sql::ParseOne(query));
    sql::QueryBinder binder(&catalog_);
    SLUICE_ASSIGN_OR_RETURN(sql::BoundQuery bound, binder.Bind(*static_cast<const sql::SelectStatement&>(*stmt).query));
    SLUICE_ASSIGN_OR_RETURN(auto q, Dataflow::Build(*bound.plan, DataflowOptions{}));
    if (q->input_count() > 0) {
      std::vector<ColumnSpec> specs;
      for (const auto& c : q->input(0).relation.columns) specs.push_back({c.name, c.type});
      JsonDecoder decoder(specs);
      DataChunk chunk(q->input(0).types, chunk_rows);
      for (const std::string& e : events) {
        SLUICE_RETURN_IF_ERROR(decoder.DecodeInto(e, e.size(), &chunk));
        if (chunk.size() == chunk.capacity()) {
          SLUICE_RETURN_IF_ERROR(q->Push(0, chunk));
          chunk.Reset();
        }
      }
      if (chunk.size() > 0) SLUICE_RETURN_IF_ERROR(q->Push(0, chunk));
    }
    return q->Finish();
  }

  static std::vector<std::string> Text(const std::vector<std::vector<Value>>& rows) {
    std::vector<std::string> out;
    for (const auto& row : rows) {
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) line += (i ? "|" : "") + row[i].ToString();
      out.push_back(line);
    }
    return out;
  }

  std::vector<std::string> Events() {
    return {R"({"k":"a","v":1,"ts":"2026-01-01T00:00:01Z"})", R"({"k":"b","v":5,"ts":"2026-01-01T00:00:02Z"})",
            R"({"k":"a","v":3,"ts":"2026-01-01T00:00:11Z"})", R"({"k":"a","v":null,"ts":"2026-01-01T00:00:12Z"})",
            R"({"k":null,"v":7,"ts":"2026-01-01T00:00:13Z"})", R"({"k":"b","v":-2,"ts":"2026-01-01T00:00:25Z"})",
            R"({"k":"c","v":10})"};
  }

  sql::Catalog catalog_{nullptr};
};

TEST_F(DataflowTest, FilterProjectOrderLimit) {
  auto rows = Run("SELECT k, v * 2 AS dbl FROM t WHERE v > 1 ORDER BY dbl DESC LIMIT 3", Events());
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(Text(*rows), (std::vector<std::string>{"c|20", "NULL|14", "b|10"}));
}

TEST_F(DataflowTest, GroupByWithNullsAndEveryAggregate) {
  auto rows = Run("SELECT k, count(*), count(v), sum(v), min(v), max(v), avg(v) FROM t GROUP BY k ORDER BY k", Events());
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  // NULL sorts last in ascending order; the NULL group is a group of its own.
  EXPECT_EQ(Text(*rows), (std::vector<std::string>{"a|3|2|4|1|3|2", "b|2|2|3|-2|5|1.5", "c|1|1|10|10|10|10",
                                                   "NULL|1|1|7|7|7|7"}));
}

TEST_F(DataflowTest, TumbleAndHopWindows) {
  auto tumble = Run("SELECT window_start, count(*) AS n FROM TUMBLE(t, ts, INTERVAL '10' SECOND) "
                    "GROUP BY window_start ORDER BY window_start",
                    Events());
  ASSERT_TRUE(tumble.ok()) << tumble.status().ToString();
  // The event without ts is dropped by the window function.
  EXPECT_EQ(Text(*tumble), (std::vector<std::string>{"2026-01-01 00:00:00|2", "2026-01-01 00:00:10|3",
                                                     "2026-01-01 00:00:20|1"}));
  auto hop = Run("SELECT window_start, sum(v) FROM HOP(t, ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND) "
                 "GROUP BY window_start ORDER BY 1",
                 Events());
  ASSERT_TRUE(hop.ok()) << hop.status().ToString();
  EXPECT_EQ(Text(*hop), (std::vector<std::string>{"2025-12-31 23:59:55|6", "2026-01-01 00:00:00|6",
                                                  "2026-01-01 00:00:05|10", "2026-01-01 00:00:10|10",
                                                  "2026-01-01 00:00:20|-2", "2026-01-01 00:00:25|-2"}));
}

TEST_F(DataflowTest, GlobalAggregateOverNothingIsOneRow) {
  auto rows = Run("SELECT count(*), sum(v) FROM t WHERE v > 1000", Events());
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(Text(*rows), (std::vector<std::string>{"0|NULL"}));
}

TEST_F(DataflowTest, DistinctOnAndCountDistinctAndHaving) {
  auto first = Run("SELECT DISTINCT ON (k) k, v FROM t", Events());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(Text(*first), (std::vector<std::string>{"a|1", "b|5", "NULL|7", "c|10"}));
  auto having = Run("SELECT k, count(DISTINCT v) FROM t GROUP BY k HAVING count(*) > 1 ORDER BY k", Events());
  ASSERT_TRUE(having.ok()) << having.status().ToString();
  EXPECT_EQ(Text(*having), (std::vector<std::string>{"a|2", "b|2"}));
}

TEST_F(DataflowTest, RepeatedFlushesRetractThePreviousGroupRows) {
  auto stmt = sql::ParseOne("SELECT k, count(*) AS n, max(v) AS top FROM t GROUP BY k");
  ASSERT_TRUE(stmt.ok());
  sql::QueryBinder binder(&catalog_);
  auto bound = binder.Bind(*static_cast<const sql::SelectStatement&>(**stmt).query);
  ASSERT_TRUE(bound.ok());
  auto q = Dataflow::Build(*bound->plan, DataflowOptions{});
  ASSERT_TRUE(q.ok());
  JsonDecoder decoder({{"k", DataType::Varchar()}, {"v", DataType::Bigint()}, {"ts", DataType::Timestamp()}});
  auto push = [&](std::vector<std::string> events) {
    DataChunk chunk((*q)->input(0).types);
    for (const std::string& e : events) ASSERT_TRUE(decoder.DecodeInto(e, e.size(), &chunk).ok());
    ASSERT_TRUE((*q)->Push(0, chunk).ok());
    ASSERT_TRUE((*q)->FlushChanges().ok());
  };
  auto sorted = [&] {
    auto text = Text((*q)->CurrentRows());
    std::sort(text.begin(), text.end());
    return text;
  };
  push({R"({"k":"a","v":1})", R"({"k":"b","v":5})"});
  EXPECT_EQ(sorted(), (std::vector<std::string>{"a|1|1", "b|1|5"}));
  push({R"({"k":"a","v":9})"});
  EXPECT_EQ(sorted(), (std::vector<std::string>{"a|2|9", "b|1|5"}));
  push({R"({"k":"a","v":3})", R"({"k":"c","v":0})"});
  EXPECT_EQ(sorted(), (std::vector<std::string>{"a|3|9", "b|1|5", "c|1|0"}));
}

TEST_F(DataflowTest, RetractableMinMaxAndCountDistinctUnderRetractions) {
  auto stmt = sql::ParseOne("SELECT k, min(v), max(v), count(DISTINCT v), count(*) FROM t GROUP BY k");
  ASSERT_TRUE(stmt.ok());
  sql::QueryBinder binder(&catalog_);
  auto bound = binder.Bind(*static_cast<const sql::SelectStatement&>(**stmt).query);
  ASSERT_TRUE(bound.ok());
  const sql::LogicalOperator& agg = *bound->plan->children[0];
  ASSERT_EQ(agg.kind, sql::LogicalKind::kAggregate);
  auto op = AggregateOperator::Create(agg, 0, /*input_retracts=*/true);
  ASSERT_TRUE(op.ok()) << op.status().ToString();
  CollectSink sink((*op)->output_types());
  (*op)->set_downstream(&sink);
  JsonDecoder decoder({{"k", DataType::Varchar()}, {"v", DataType::Bigint()}, {"ts", DataType::Timestamp()}});
  auto push = [&](std::vector<std::pair<std::string, int8_t>> rows) {
    DataChunk chunk(std::vector<DataType>{DataType::Varchar(), DataType::Bigint(), DataType::Timestamp()});
    for (const auto& [json, w] : rows) {
      ASSERT_TRUE(decoder.DecodeInto(json, json.size(), &chunk).ok());
      chunk.weights().push_back(w);
    }
    ASSERT_TRUE((*op)->Push(chunk).ok());
    ASSERT_TRUE((*op)->Flush().ok());
  };
  push({{R"({"k":"a","v":1})", 1}, {R"({"k":"a","v":9})", 1}, {R"({"k":"a","v":9})", 1}, {R"({"k":"b","v":4})", 1}});
  EXPECT_EQ(Text(sink.Rows()), (std::vector<std::string>{"a|1|9|2|3", "b|4|4|1|1"}));
  // Retract one 9 (the other keeps max at 9), then the 1 (min moves up), then all of b.
  push({{R"({"k":"a","v":9})", -1}, {R"({"k":"a","v":1})", -1}, {R"({"k":"b","v":4})", -1}});
  EXPECT_EQ(Text(sink.Rows()), (std::vector<std::string>{"a|9|9|1|1"}));
}

// count/sum/avg and insert-only min/max keep typed per-group arrays; NULL inputs are ignored
// and a group with only NULLs has NULL min/max/sum.
TEST_F(DataflowTest, TypedAggregatesOverSeveralTypesWithNulls) {
  auto rows = Run(
      "SELECT k, count(v), sum(v), avg(v), min(CAST(v AS INT)), max(CAST(v AS DOUBLE)), sum(CAST(v AS DOUBLE)), "
      "min(ts), max(CAST(v AS DECIMAL(10, 2))) FROM t GROUP BY k ORDER BY k",
      {R"({"k":"a","v":5,"ts":3000})", R"({"k":"a","v":-2,"ts":1000})", R"({"k":"a","ts":2000})",
       R"({"k":"b"})", R"({"k":"a","v":7})", R"({"v":1,"ts":5})"},
      /*chunk_rows=*/2);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(Text(*rows), (std::vector<std::string>{
                             "a|3|10|3.3333333333333335|-2|7|10|1970-01-01 00:00:01|7.00",
                             "b|0|NULL|NULL|NULL|NULL|NULL|NULL|NULL",
                             "NULL|1|1|1|1|1|1|1970-01-01 00:00:00.005|1.00",
                         }));
}

// A group whose rows are all retracted goes away; its id is reused by the next new group, which
// must start from empty state.
TEST_F(DataflowTest, GroupsThatVanishAndComeBackStartEmpty) {
  auto stmt = sql::ParseOne("SELECT k, count(*), sum(v), count(v) FROM t GROUP BY k");
  ASSERT_TRUE(stmt.ok());
  sql::QueryBinder binder(&catalog_);
  auto bound = binder.Bind(*static_cast<const sql::SelectStatement&>(**stmt).query);
  ASSERT_TRUE(bound.ok());
  auto op = AggregateOperator::Create(*bound->plan->children[0], 0, /*input_retracts=*/true);
  ASSERT_TRUE(op.ok()) << op.status().ToString();
  CollectSink sink((*op)->output_types());
  (*op)->set_downstream(&sink);
  JsonDecoder decoder({{"k", DataType::Varchar()}, {"v", DataType::Bigint()}, {"ts", DataType::Timestamp()}});
  auto push = [&](std::vector<std::pair<std::string, int8_t>> rows) {
    DataChunk chunk(std::vector<DataType>{DataType::Varchar(), DataType::Bigint(), DataType::Timestamp()});
    for (const auto& [json, w] : rows) {
      ASSERT_TRUE(decoder.DecodeInto(json, json.size(), &chunk).ok());
      chunk.weights().push_back(w);
    }
    ASSERT_TRUE((*op)->Push(chunk).ok());
    ASSERT_TRUE((*op)->Flush().ok());
  };
  auto sorted = [&] {
    auto text = Text(sink.Rows());
    std::sort(text.begin(), text.end());
    return text;
  };
  push({{R"({"k":"a","v":1})", 1}, {R"({"k":"b","v":10})", 1}, {R"({"k":"b","v":20})", 1}});
  EXPECT_EQ(sorted(), (std::vector<std::string>{"a|1|1|1", "b|2|30|2"}));
  push({{R"({"k":"b","v":10})", -1}, {R"({"k":"b","v":20})", -1}});
  EXPECT_EQ(sorted(), (std::vector<std::string>{"a|1|1|1"}));
  EXPECT_EQ((*op)->group_count(), 1u);
  push({{R"({"k":"c","v":3})", 1}, {R"({"k":"b"})", 1}});
  EXPECT_EQ(sorted(), (std::vector<std::string>{"a|1|1|1", "b|1|NULL|0", "c|1|3|1"}));
  EXPECT_EQ((*op)->group_count(), 3u);
}

TEST_F(DataflowTest, SelectWithoutFromAndErrors) {
  auto rows = Run("SELECT 1 + 2, 'x' || 'y', lower('ABC')", {});
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(Text(*rows), (std::vector<std::string>{"3|xy|abc"}));
  auto div = Run("SELECT v / 0 FROM t", Events());
  ASSERT_FALSE(div.ok());
  EXPECT_NE(div.status().message().find("division by zero"), std::string::npos);
}

TEST_F(DataflowTest, SessionWindowsPerGroupKey) {
  // Gap 5 s: a at 1, 11, 12 (two sessions), b at 2 and 25 (two), NULL key at 13; c has no time.
  auto rows = Run("SELECT k, window_start, window_end, count(*), sum(v) FROM SESSION(t, ts, INTERVAL '5' SECOND) "
                  "GROUP BY k, window_start, window_end ORDER BY k, window_start",
                  Events());
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(Text(*rows), (std::vector<std::string>{
                             "a|2026-01-01 00:00:01|2026-01-01 00:00:06|1|1",
                             "a|2026-01-01 00:00:11|2026-01-01 00:00:17|2|3",
                             "b|2026-01-01 00:00:02|2026-01-01 00:00:07|1|5",
                             "b|2026-01-01 00:00:25|2026-01-01 00:00:30|1|-2",
                             "NULL|2026-01-01 00:00:13|2026-01-01 00:00:18|1|7",
                         }));
  // Without a key in GROUP BY, sessions span every row: 1, 2 | 11, 12, 13 | 25.
  auto global = Run("SELECT window_start, count(*) FROM SESSION(t, ts, INTERVAL '5' SECOND) GROUP BY window_start "
                    "ORDER BY window_start",
                    Events());
  ASSERT_TRUE(global.ok()) << global.status().ToString();
  EXPECT_EQ(Text(*global), (std::vector<std::string>{"2026-01-01 00:00:01|2", "2026-01-01 00:00:11|3",
                                                     "2026-01-01 00:00:25|1"}));
  // WHERE applies to the windowed rows: b's sessions are still formed from all of b's rows.
  auto filtered = Run("SELECT k, window_start, window_end, count(*) FROM SESSION(t, ts, INTERVAL '30' SECOND) "
                      "WHERE v > 0 GROUP BY k, window_start, window_end ORDER BY k",
                      Events());
  ASSERT_TRUE(filtered.ok()) << filtered.status().ToString();
  EXPECT_EQ(Text(*filtered), (std::vector<std::string>{"a|2026-01-01 00:00:01|2026-01-01 00:00:42|2",
                                                       "b|2026-01-01 00:00:02|2026-01-01 00:00:55|1",
                                                       "NULL|2026-01-01 00:00:13|2026-01-01 00:00:43|1"}));
}

TEST_F(DataflowTest, ApproxPercentile) {
  auto rows = Run("SELECT k, approx_percentile(v, 0.5), approx_percentile(v, 1.0), approx_percentile(v, 0) "
                  "FROM t GROUP BY k ORDER BY k",
                  Events());
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 4u);
  auto near = [](const Value& got, double want) {
    return !got.is_null() && std::abs(got.float64() - want) <= 0.01 * std::abs(want) + 1e-12;
  };
  // a: 1, 3 (and a NULL, ignored): the median is the lower middle value.
  EXPECT_TRUE(near((*rows)[0][1], 1)) << (*rows)[0][1].ToString();
  EXPECT_TRUE(near((*rows)[0][2], 3)) << (*rows)[0][2].ToString();
  // b: -2, 5.
  EXPECT_TRUE(near((*rows)[1][1], -2)) << (*rows)[1][1].ToString();
  EXPECT_TRUE(near((*rows)[1][3], -2)) << (*rows)[1][3].ToString();
  // No rows, or only NULLs: NULL.
  auto empty = Run("SELECT approx_percentile(v, 0.5) FROM t WHERE v > 1000", Events());
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(Text(*empty), (std::vector<std::string>{"NULL"}));
}

}  // namespace
}  // namespace sluice::exec

namespace sluice::exec {
namespace {

// A dataflow restored from a snapshot continues exactly as the original: the same input after
// the snapshot gives the same result rows.
TEST(DataflowSnapshotTest, RestoredDataflowContinuesLikeTheOriginal) {
  sql::Catalog catalog{nullptr};
  sql::CatalogEntry t;
  t.kind = sql::ObjectKind::kSource;
  t.name = "t";
  t.columns = {{"k", DataType::Bigint()}, {"v", DataType::Bigint()}};
  ASSERT_TRUE(catalog.Create(t).ok());
  sql::CatalogEntry d;
  d.kind = sql::ObjectKind::kTable;
  d.name = "d";
  d.columns = {{"id", DataType::Bigint()}, {"g", DataType::Varchar()}};
  d.primary_key = {0};
  ASSERT_TRUE(catalog.Create(d).ok());
  auto stmt = sql::ParseOne(
      "SELECT g, v, rn FROM (SELECT d.g, t.v, ROW_NUMBER() OVER (PARTITION BY d.g ORDER BY t.v DESC) AS rn "
      "FROM t JOIN d ON t.k = d.id) x WHERE rn <= 2");
  ASSERT_TRUE(stmt.ok());
  sql::QueryBinder binder(&catalog);
  auto bound = binder.Bind(*static_cast<const sql::SelectStatement&>(**stmt).query);
  ASSERT_TRUE(bound.ok()) << bound.status().ToString();
  auto build = [&] {
    auto df = Dataflow::Build(*bound->plan, DataflowOptions{});
    EXPECT_TRUE(df.ok()) << df.status().ToString();
    return std::move(df).value();
  };
  auto original = build();
  ASSERT_EQ(original->input_count(), 2u);
  auto push = [](Dataflow* df, size_t input, std::vector<std::vector<sql::Value>> rows) {
    DataChunk chunk(df->input(input).types);
    for (const auto& row : rows) {
      const size_t r = chunk.size();
      for (size_t c = 0; c < row.size(); ++c) SetValue(&chunk.column(c), r, row[c], &chunk.arena());
      chunk.set_size(r + 1);
    }
    ASSERT_TRUE(df->Push(input, chunk).ok());
    ASSERT_TRUE(df->FlushChanges().ok());
  };
  using sql::Value;
  push(original.get(), 1, {{Value::Bigint(1), Value::Varchar("a")}, {Value::Bigint(2), Value::Varchar("b")}});
  push(original.get(), 0, {{Value::Bigint(1), Value::Bigint(5)}, {Value::Bigint(1), Value::Bigint(7)},
                           {Value::Bigint(2), Value::Bigint(1)}, {Value::Bigint(3), Value::Bigint(9)}});
  std::string state;
  ASSERT_TRUE(original->Snapshot(&state).ok());
  auto restored = build();
  ASSERT_TRUE(restored->Restore(state).ok());
  auto rows = [](const Dataflow& df) {
    auto r = df.CurrentRows();
    std::vector<std::string> text;
    for (const auto& row : r) text.push_back(row[0].ToString() + "|" + row[1].ToString() + "|" + row[2].ToString());
    std::sort(text.begin(), text.end());
    return text;
  };
  EXPECT_EQ(rows(*restored), rows(*original));
  // The same input after the snapshot: a table update and new stream rows.
  for (Dataflow* df : {original.get(), restored.get()}) {
    push(df, 1, {{Value::Bigint(3), Value::Varchar("a")}});
    push(df, 0, {{Value::Bigint(3), Value::Bigint(6)}, {Value::Bigint(2), Value::Bigint(4)}});
  }
  EXPECT_EQ(rows(*restored), rows(*original));
  EXPECT_EQ(rows(*original), (std::vector<std::string>{"a|6|2", "a|7|1", "b|1|2", "b|4|1"}));
  // Truncated or foreign state is refused, not half-applied silently.
  for (size_t n : {size_t{0}, state.size() / 2, state.size() - 1}) {
    EXPECT_FALSE(build()->Restore(std::string_view(state).substr(0, n)).ok()) << n;
  }
}

// Aggregates (every accumulator kind, retracting inputs, windows with expiry and EMIT ON WINDOW
// CLOSE) and SESSION windows checkpoint and restore mid-stream: a dataflow restored from a
// snapshot taken after any batch ends with exactly the rows of one that never stopped.
class AggregateSnapshotTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    sql::CatalogEntry t;
    t.kind = sql::ObjectKind::kSource;
    t.name = "t";
    t.columns = {{"k", DataType::Varchar()}, {"v", DataType::Bigint()}, {"d", DataType::Double()},
                 {"ts", DataType::Timestamp()}};
    t.watermark_column = 3;
    t.watermark_delay_us = 2'000'000;
    ASSERT_TRUE(catalog_.Create(t).ok());
    // Skewed keys, NULLs, out-of-order times, repeats: one batch per "round".
    uint64_t x = 42;
    auto next = [&x] {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      return x >> 33;
    };
    const int64_t base = 1'767'225'600'000'000;  // 2026-01-01 in microseconds
    for (int b = 0; b < 12; ++b) {
      std::vector<std::vector<Value>> batch;
      for (int i = 0; i < 40; ++i) {
        const uint64_t r = next();
        const int64_t t_us = base + (b * 40 + i) * 250'000 - static_cast<int64_t>(r % 3'000'000);
        batch.push_back({r % 17 == 0 ? Value::Null(DataType::Varchar()) : Value::Varchar("k" + std::to_string(r % 7)),
                         r % 13 == 0 ? Value::Null(DataType::Bigint()) : Value::Bigint(static_cast<int64_t>(r % 50) - 10),
                         Value::Double(static_cast<double>(r % 1000) / 8.0), Value::Timestamp(t_us)});
      }
      batches_.push_back(std::move(batch));
      watermarks_.push_back(base + (b * 40) * 250'000 - 2'000'000);
    }
  }

  std::unique_ptr<Dataflow> Build(const std::string& query) {
    auto stmt = sql::ParseOne(query);
    EXPECT_TRUE(stmt.ok()) << stmt.status().ToString();
    sql::QueryBinder binder(&catalog_);
    auto bound = binder.Bind(*static_cast<const sql::SelectStatement&>(**stmt).query);
    EXPECT_TRUE(bound.ok()) << bound.status().ToString();
    DataflowOptions options;
    options.emit_on_window_close = query.find("/*eowc*/") != std::string::npos;
    options.allowed_lateness_us = 1'000'000;
    if (query.find("/*ttl*/") != std::string::npos) options.state_ttl_us = 15'000'000;
    auto df = Dataflow::Build(*bound->plan, options);
    EXPECT_TRUE(df.ok()) << df.status().ToString();
    return std::move(df).value();
  }

  // Feeds batch b like a view round: rows, then the watermark, then a flush.
  void Round(Dataflow* df, size_t b) {
    DataChunk chunk(df->input(0).types, batches_[b].size());
    const int64_t watermark = watermarks_[b];
    LatenessRule rule = df->input(0).lateness;
    for (const auto& row : batches_[b]) {
      if (rule.IsLate(row[3].int64(), watermark)) continue;  // the source drops these
      const size_t r = chunk.size();
      for (size_t c = 0; c < row.size(); ++c) SetValue(&chunk.column(c), r, row[c], &chunk.arena());
      chunk.set_size(r + 1);
    }
    ASSERT_TRUE(df->Push(0, chunk).ok());
    ASSERT_TRUE(df->AdvanceWatermark(0, watermark).ok());
    ASSERT_TRUE(df->FlushChanges().ok());
  }

  static std::vector<std::string> Rows(const Dataflow& df) {
    std::vector<std::string> text;
    for (const auto& row : df.CurrentRows()) {
      std::string line;
      for (const Value& v : row) line += v.ToString() + "|";
      text.push_back(line);
    }
    std::sort(text.begin(), text.end());
    return text;
  }

  sql::Catalog catalog_{nullptr};
  std::vector<std::vector<std::vector<Value>>> batches_;
  std::vector<int64_t> watermarks_;
};

TEST_P(AggregateSnapshotTest, RestoredAfterAnyRoundEndsLikeTheOriginal) {
  const std::string query = GetParam();
  auto original = Build(query);
  for (size_t b = 0; b < batches_.size(); ++b) Round(original.get(), b);
  const std::vector<std::string> expected = Rows(*original);
  ASSERT_FALSE(expected.empty());
  for (size_t cut : {size_t{0}, size_t{3}, size_t{7}, batches_.size() - 1}) {
    auto first = Build(query);
    for (size_t b = 0; b <= cut; ++b) Round(first.get(), b);
    std::string state;
    ASSERT_TRUE(first->Snapshot(&state).ok());
    auto second = Build(query);
    ASSERT_TRUE(second->Restore(state).ok()) << "cut after round " << cut;
    EXPECT_EQ(Rows(*second), Rows(*first)) << "cut after round " << cut;
    for (size_t b = cut + 1; b < batches_.size(); ++b) Round(second.get(), b);
    EXPECT_EQ(Rows(*second), expected) << "cut after round " << cut;
    // Truncated state is refused, never half-applied silently.
    for (size_t n : {size_t{0}, state.size() / 3, state.size() - 1}) {
      EXPECT_FALSE(Build(query)->Restore(std::string_view(state).substr(0, n)).ok()) << n;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Queries, AggregateSnapshotTest,
    ::testing::Values(
        "SELECT k, count(*), count(v), sum(v), avg(v), min(v), max(v), sum(d), min(d), max(d) FROM t GROUP BY k",
        "SELECT k, count(DISTINCT v), stddev(d), approx_count_distinct(v), approx_percentile(d, 0.9), "
        "min(k), max(k) FROM t GROUP BY k",
        "SELECT count(*), sum(v), max(d) FROM t",
        // Aggregates over an updating input: retracting min/max, count DISTINCT, percentile.
        "SELECT c, count(*), min(s), max(s), approx_percentile(s, 0.5) FROM "
        "(SELECT k, count(*) AS c, sum(v) AS s FROM t GROUP BY k) x GROUP BY c",
        "SELECT k, window_start, count(*), sum(v) FROM TUMBLE(t, ts, INTERVAL '2' SECOND) GROUP BY k, window_start",
        "SELECT window_end, count(*), max(v) FROM HOP(t, ts, INTERVAL '1' SECOND, INTERVAL '4' SECOND) "
        "GROUP BY window_end",
        "SELECT /*eowc*/ k, window_start, count(*), min(v) FROM TUMBLE(t, ts, INTERVAL '3' SECOND) "
        "GROUP BY k, window_start",
        "SELECT k, window_start, window_end, count(*), sum(v) FROM SESSION(t, ts, INTERVAL '1' SECOND) "
        "GROUP BY k, window_start, window_end",
        // WITH (state_ttl = '15 seconds'): groups expire (and are retracted) mid-stream.
        "SELECT /*ttl*/ v, count(*), sum(d), min(d), max(k), count(DISTINCT k) FROM t GROUP BY v",
        "SELECT /*ttl*/ c, count(*), min(s), max(s) FROM "
        "(SELECT v % 9 AS s, count(*) AS c FROM t GROUP BY v % 9) x GROUP BY c"));

// The TTL queries above expire groups mid-stream, so the snapshot test covers TTL bookkeeping.
TEST_F(AggregateSnapshotTest, TtlQueriesExpireGroups) {
  auto df = Build("SELECT /*ttl*/ v, count(*), sum(d), min(d), max(k), count(DISTINCT k) FROM t GROUP BY v");
  for (size_t b = 0; b < batches_.size(); ++b) Round(df.get(), b);
  const auto* agg = df->FindOperator<AggregateOperator>();
  ASSERT_NE(agg, nullptr);
  EXPECT_GT(agg->expired_groups(), 10);
  EXPECT_EQ(static_cast<size_t>(agg->group_count()), Rows(*df).size());
}

// Without EMIT ON WINDOW CLOSE, a windowed aggregate forgets windows the watermark has passed
// (end + allowed lateness) while the view keeps their rows; without a watermark nothing goes.
TEST_F(AggregateSnapshotTest, WindowsAreFreedOnceTheWatermarkPassesTheirEndPlusLateness) {
  auto df = Build("SELECT k, window_start, count(*) FROM TUMBLE(t, ts, INTERVAL '2' SECOND) GROUP BY k, window_start");
  EXPECT_NE(df->Explain().find("windows freed at watermark - 1000000 us"), std::string::npos) << df->Explain();
  for (size_t b = 0; b < batches_.size(); ++b) Round(df.get(), b);
  // The rows of every window stay in the result.
  size_t windows_in_result = Rows(*df).size();
  EXPECT_GT(windows_in_result, 20u);
  // But the aggregate holds only the windows not yet past watermark - lateness: the last few.
  const auto* agg = df->FindOperator<AggregateOperator>();
  ASSERT_NE(agg, nullptr);
  EXPECT_LT(agg->group_count(), 8u * 4);
  EXPECT_GT(agg->expired_windows(), 40);
}

}  // namespace
}  // namespace sluice::exec

namespace sluice::exec {
namespace {

// CollectSink's column index (pull queries by key) against a scan of its rows, through
// inserts, duplicates, retractions and the moves that removals make.
TEST(CollectSinkIndexTest, RowsWhereMatchesAScanThroughChurn) {
  CollectSink sink(std::vector<DataType>{DataType::Bigint(), DataType::Varchar()});
  std::mt19937_64 rng(7);
  auto scan = [&](int64_t key) {
    std::multiset<std::string> out;
    for (const auto& row : sink.Rows()) {
      if (row[0].int64() == key) out.insert(row[1].string());
    }
    return out;
  };
  auto lookup = [&](int64_t key) {
    std::multiset<std::string> out;
    auto rows = sink.RowsWhere(0, sql::Value::Bigint(key));
    EXPECT_TRUE(rows.has_value());
    for (const auto& row : *rows) out.insert(row[1].string());
    return out;
  };
  std::vector<std::pair<int64_t, std::string>> present;
  for (int round = 0; round < 200; ++round) {
    DataChunk chunk(std::vector<DataType>{DataType::Bigint(), DataType::Varchar()}, 64);
    for (int i = 0; i < 64; ++i) {
      const bool remove = !present.empty() && rng() % 3 == 0;
      std::pair<int64_t, std::string> row;
      if (remove) {
        const size_t at = rng() % present.size();
        row = present[at];
        present.erase(present.begin() + static_cast<std::ptrdiff_t>(at));
      } else {
        row = {static_cast<int64_t>(rng() % 50), "v" + std::to_string(rng() % 4)};
        present.push_back(row);
      }
      SetValue(&chunk.column(0), static_cast<size_t>(i), sql::Value::Bigint(row.first), &chunk.arena());
      SetValue(&chunk.column(1), static_cast<size_t>(i), sql::Value::Varchar(row.second), &chunk.arena());
      chunk.weights().resize(static_cast<size_t>(i));
      chunk.weights().push_back(remove ? -1 : 1);
      chunk.set_size(static_cast<size_t>(i) + 1);
    }
    ASSERT_TRUE(sink.Push(chunk).ok());
    ASSERT_EQ(sink.row_count(), present.size()) << "round " << round;  // the running count
    for (int64_t key : {int64_t{0}, static_cast<int64_t>(round % 50), int64_t{49}, int64_t{1000}}) {
      ASSERT_EQ(lookup(key), scan(key)) << "round " << round << " key " << key;
    }
  }
  EXPECT_FALSE(sink.RowsWhere(0, sql::Value::Null(DataType::Bigint())).has_value());
  // The count survives a snapshot and restore.
  std::string state;
  sql::StateWriter writer(&state);
  ASSERT_TRUE(sink.Snapshot(&writer).ok());
  CollectSink restored(std::vector<DataType>{DataType::Bigint(), DataType::Varchar()});
  sql::StateReader reader(state);
  ASSERT_TRUE(restored.Restore(&reader).ok());
  EXPECT_EQ(restored.row_count(), present.size());
  EXPECT_EQ(restored.Rows().size(), present.size());
  // A second column gets an index of its own; a column the rows do not have gets none.
  EXPECT_TRUE(sink.RowsWhere(1, sql::Value::Varchar("v1")).has_value());
  EXPECT_FALSE(sink.RowsWhere(7, sql::Value::Bigint(1)).has_value());
}

TEST(CollectSinkCaptureTest, ACapturedSnapshotWritesTheRowsOfItsMomentWhateverCameAfter) {
  const std::vector<DataType> types{DataType::Bigint(), DataType::Varchar()};
  CollectSink sink(types);
  std::mt19937_64 rng(11);
  std::vector<int64_t> present;
  auto push = [&](int n) {  // inserts and retractions spread over every chunk (1024 rows each)
    DataChunk chunk(types, static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      const bool remove = present.size() > 100 && rng() % 2 == 0;
      int64_t key;
      if (remove) {
        const size_t at = rng() % present.size();
        key = present[at];
        present[at] = present.back();
        present.pop_back();
      } else {
        key = static_cast<int64_t>(rng());
        present.push_back(key);
      }
      SetValue(&chunk.column(0), static_cast<size_t>(i), sql::Value::Bigint(key), &chunk.arena());
      SetValue(&chunk.column(1), static_cast<size_t>(i), sql::Value::Varchar("row " + std::to_string(key)), &chunk.arena());
      chunk.weights().resize(static_cast<size_t>(i));
      chunk.weights().push_back(remove ? -1 : 1);
      chunk.set_size(static_cast<size_t>(i) + 1);
    }
    ASSERT_TRUE(sink.Push(chunk).ok());
  };
  push(5000);
  for (int round = 0; round < 20; ++round) {
    std::string now;
    sql::StateWriter writer(&now);
    ASSERT_TRUE(sink.Snapshot(&writer).ok());
    std::function<void(sql::StateWriter*)> later = sink.CaptureSnapshot();
    push(700);  // churn after the capture, before the write
    push(700);
    std::string written;
    sql::StateWriter deferred(&written);
    later(&deferred);
    ASSERT_EQ(written, now) << "round " << round;
  }
  // And the sink itself still holds what was pushed.
  EXPECT_EQ(sink.row_count(), present.size());
  std::multiset<int64_t> keys;
  for (const auto& row : sink.Rows()) keys.insert(row[0].int64());
  EXPECT_EQ(keys, std::multiset<int64_t>(present.begin(), present.end()));
}

TEST(CowVectorTest, CopiesShareChunksUntilWritten) {
  CowVector<int, 4> a;
  for (int i = 0; i < 10; ++i) a.push_back(i);
  CowVector<int, 4> b = a;
  a.Mutable(5) = 50;
  a.pop_back();
  a.push_back(90);
  a.push_back(100);
  ASSERT_EQ(b.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(b[static_cast<size_t>(i)], i);
  ASSERT_EQ(a.size(), 11u);
  EXPECT_EQ(a[5], 50);
  EXPECT_EQ(a[9], 90);
  EXPECT_EQ(a[10], 100);
  while (!a.empty()) a.pop_back();
  EXPECT_EQ(b.back(), 9);
}

}  // namespace
}  // namespace sluice::exec

namespace sluice::exec {
namespace {

// WITH (state_ttl): the state of a group or a stored join row expires once the watermark has
// moved more than the TTL past its last update, not before.
class StateTtlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sql::CatalogEntry t;
    t.kind = sql::ObjectKind::kSource;
    t.name = "t";
    t.columns = {{"k", DataType::Varchar()}, {"v", DataType::Bigint()}};
    t.watermark_column = -1;
    ASSERT_TRUE(catalog_.Create(t).ok());
  }

  std::unique_ptr<Dataflow> Build(const std::string& query, int64_t ttl_us) {
    auto stmt = sql::ParseOne(query);
    EXPECT_TRUE(stmt.ok()) << stmt.status().ToString();
    sql::QueryBinder binder(&catalog_);
    auto bound = binder.Bind(*static_cast<const sql::SelectStatement&>(**stmt).query);
    EXPECT_TRUE(bound.ok()) << bound.status().ToString();
    DataflowOptions options;
    options.state_ttl_us = ttl_us;
    auto df = Dataflow::Build(*bound->plan, options);
    EXPECT_TRUE(df.ok()) << df.status().ToString();
    return std::move(df).value();
  }

  static void Push(Dataflow* df, size_t input, const std::vector<std::pair<std::string, int64_t>>& rows) {
    DataChunk chunk(df->input(input).types);
    for (const auto& [k, v] : rows) {
      const size_t r = chunk.size();
      SetValue(&chunk.column(0), r, Value::Varchar(k), &chunk.arena());
      SetValue(&chunk.column(1), r, Value::Bigint(v), &chunk.arena());
      chunk.set_size(r + 1);
    }
    ASSERT_TRUE(df->Push(input, chunk).ok());
  }

  static void Watermark(Dataflow* df, int64_t seconds, int64_t extra_us = 0) {
    for (size_t i = 0; i < df->input_count(); ++i) {
      ASSERT_TRUE(df->AdvanceWatermark(i, seconds * 1'000'000 + extra_us).ok());
    }
  }

  static std::vector<std::string> Rows(const Dataflow& df) {
    std::vector<std::string> text;
    for (const auto& row : df.CurrentRows()) {
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) line += (i ? "|" : "") + row[i].ToString();
      text.push_back(line);
    }
    std::sort(text.begin(), text.end());
    return text;
  }

  using Lines = std::vector<std::string>;
  sql::Catalog catalog_{nullptr};
};

TEST_F(StateTtlTest, IdleGroupsAreRetractedOnceTheWatermarkPassesTheirLastUpdatePlusTtl) {
  auto df = Build("SELECT k, count(*), sum(v) FROM t GROUP BY k", 10'000'000);
  EXPECT_NE(df->Explain().find("state ttl 10000000 us"), std::string::npos) << df->Explain();
  const auto* agg = df->FindOperator<AggregateOperator>();
  ASSERT_NE(agg, nullptr);
  // Before the first watermark: updates count as made at the first watermark (100 s).
  Push(df.get(), 0, {{"a", 1}, {"b", 2}});
  ASSERT_TRUE(df->FlushChanges().ok());
  Watermark(df.get(), 100);
  ASSERT_TRUE(df->FlushChanges().ok());
  Watermark(df.get(), 105);
  Push(df.get(), 0, {{"a", 3}});
  ASSERT_TRUE(df->FlushChanges().ok());
  EXPECT_EQ(Rows(*df), (Lines{"a|2|4", "b|1|2"}));
  // Exactly ttl after b's last update: not yet.
  Watermark(df.get(), 110);
  ASSERT_TRUE(df->FlushChanges().ok());
  EXPECT_EQ(Rows(*df), (Lines{"a|2|4", "b|1|2"}));
  EXPECT_EQ(agg->expired_groups(), 0);
  // Past it: b's row is retracted and its state freed; a (updated at 105 s) stays.
  Watermark(df.get(), 110, 1);
  ASSERT_TRUE(df->FlushChanges().ok());
  EXPECT_EQ(Rows(*df), (Lines{"a|2|4"}));
  EXPECT_EQ(agg->expired_groups(), 1);
  EXPECT_EQ(agg->group_count(), 1u);
  // A later row for b starts over.
  Push(df.get(), 0, {{"b", 7}});
  ASSERT_TRUE(df->FlushChanges().ok());
  EXPECT_EQ(Rows(*df), (Lines{"a|2|4", "b|1|7"}));
  // A snapshot in the middle: the restored dataflow expires the same groups at the same time.
  std::string state;
  ASSERT_TRUE(df->Snapshot(&state).ok());
  auto restored = Build("SELECT k, count(*), sum(v) FROM t GROUP BY k", 10'000'000);
  ASSERT_TRUE(restored->Restore(state).ok());
  for (Dataflow* d : {df.get(), restored.get()}) {
    Watermark(d, 116);
    ASSERT_TRUE(d->FlushChanges().ok());
  }
  EXPECT_EQ(Rows(*df), (Lines{"b|1|7"}));
  EXPECT_EQ(Rows(*restored), Rows(*df));
  for (Dataflow* d : {df.get(), restored.get()}) {
    Watermark(d, 121);
    ASSERT_TRUE(d->FlushChanges().ok());
  }
  EXPECT_EQ(Rows(*df), Lines{});
  EXPECT_EQ(Rows(*restored), Lines{});
  EXPECT_EQ(restored->FindOperator<AggregateOperator>()->expired_groups(), 3);
  // Without the TTL, nothing expires.
  auto forever = Build("SELECT k, count(*), sum(v) FROM t GROUP BY k", 0);
  Push(forever.get(), 0, {{"a", 1}});
  Watermark(forever.get(), 1'000'000);
  ASSERT_TRUE(forever->FlushChanges().ok());
  EXPECT_EQ(Rows(*forever), (Lines{"a|1|1"}));
}

TEST_F(StateTtlTest, JoinRowsExpireOnBothSidesWithoutRetractingEmittedResults) {
  const std::string query = "SELECT x.k, x.v, y.v FROM t x JOIN t y ON x.k = y.k";
  auto df = Build(query, 10'000'000);
  EXPECT_NE(df->Explain().find("HashJoin INNER symmetric (both sides kept) (state ttl 10000000 us"), std::string::npos)
      << df->Explain();
  const auto* join = df->FindOperator<HashJoinOperator>();
  ASSERT_NE(join, nullptr);
  Watermark(df.get(), 100);
  Push(df.get(), 0, {{"a", 1}});
  Watermark(df.get(), 105);
  Push(df.get(), 1, {{"a", 2}});
  ASSERT_TRUE(df->FlushChanges().ok());
  EXPECT_EQ(Rows(*df), (Lines{"a|1|2"}));
  // The left row (stored at 100 s) expires after 110 s; the right one (105 s) is kept.
  Watermark(df.get(), 110);
  EXPECT_EQ(join->stored_rows(0), 1u);
  std::string state;
  ASSERT_TRUE(df->Snapshot(&state).ok());
  auto restored = Build(query, 10'000'000);
  ASSERT_TRUE(restored->Restore(state).ok());
  for (Dataflow* d : {df.get(), restored.get()}) {
    Watermark(d, 111);
    const auto* j = d->FindOperator<HashJoinOperator>();
    EXPECT_EQ(j->stored_rows(0), 0u);
    EXPECT_EQ(j->stored_rows(1), 1u);
    EXPECT_EQ(j->StateExpired(), 1);
    // The result emitted before stays; a new left row meets only the live right row.
    Push(d, 0, {{"a", 3}});
    ASSERT_TRUE(d->FlushChanges().ok());
    EXPECT_EQ(Rows(*d), (Lines{"a|1|2", "a|3|2"}));
    // A retraction of the expired left row still retracts its match, and stores nothing.
    DataChunk retract(d->input(0).types);
    SetValue(&retract.column(0), 0, Value::Varchar("a"), &retract.arena());
    SetValue(&retract.column(1), 0, Value::Bigint(1), &retract.arena());
    retract.set_size(1);
    retract.weights().push_back(-1);
    ASSERT_TRUE(d->Push(0, retract).ok());
    ASSERT_TRUE(d->FlushChanges().ok());
    EXPECT_EQ(Rows(*d), (Lines{"a|3|2"}));
    EXPECT_EQ(j->stored_rows(0), 1u);
    Watermark(d, 116);
    EXPECT_EQ(j->stored_rows(0), 1u);
    EXPECT_EQ(j->stored_rows(1), 0u);
    EXPECT_EQ(j->StateExpired(), 2);
  }
}

}  // namespace
}  // namespace sluice::exec
