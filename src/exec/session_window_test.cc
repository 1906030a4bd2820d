#include "exec/session_window.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "exec/vector_value.h"
#include "sql/value_codec.h"

namespace sluice::exec {
namespace {

using sql::Value;

constexpr int64_t kSecond = 1'000'000;

// Keeps the consolidated output (row text -> multiplicity) and fails on a retraction of a row
// that is not there, which a downstream aggregate could not survive.
class CheckingSink final : public Operator {
 public:
  Status Push(const DataChunk& chunk) override {
    for (size_t row = 0; row < chunk.size(); ++row) {
      std::string text;
      for (size_t c = 0; c < chunk.column_count(); ++c)
        text += (c ? "|" : "") + GetValue(chunk.column(c), row).ToString();
      int64_t& n = rows_[text];
      n += chunk.weight(row);
      if (n < 0) return Status::Internal("retraction of an absent row: " + text);
      if (n == 0) rows_.erase(text);
      if (chunk.weight(row) < 0) ++retractions_;
    }
    return Status::Ok();
  }
  Status Flush() override { return Status::Ok(); }

  std::vector<std::string> Rows() const {
    std::vector<std::string> out;
    for (const auto& [text, n] : rows_) {
      for (int64_t i = 0; i < n; ++i) out.push_back(text);
    }
    return out;
  }
  int64_t retractions() const { return retractions_; }

 private:
  std::map<std::string, int64_t> rows_;
  int64_t retractions_ = 0;
};

struct Event {
  std::optional<std::string> key;
  int64_t v;
  std::optional<int64_t> ts_us;
};

class SessionWindowTest : public ::testing::Test {
 protected:
  const std::vector<DataType> types_ = {DataType::Varchar(), DataType::Bigint(),
                                        DataType::Timestamp()};

  void Make(int64_t gap_us, bool partitioned = true) {
    std::vector<sql::BoundExprPtr> keys;
    if (partitioned) keys.push_back(sql::BoundExpr::Column(0, DataType::Varchar(), "k"));
    auto op = SessionWindowOperator::Create(types_, 2, gap_us, keys, 0);
    ASSERT_TRUE(op.ok()) << op.status().ToString();
    op_ = std::move(*op);
    op_->set_downstream(&sink_);
  }

  Status Push(const std::vector<Event>& events, int8_t weight = 1) {
    DataChunk chunk(types_, std::max<size_t>(events.size(), 1));
    for (size_t i = 0; i < events.size(); ++i) {
      const Event& e = events[i];
      SetValue(&chunk.column(0), i,
               e.key ? Value::Varchar(*e.key) : Value::Null(DataType::Varchar()), &chunk.arena());
      SetValue(&chunk.column(1), i, Value::Bigint(e.v), &chunk.arena());
      SetValue(&chunk.column(2), i,
               e.ts_us ? Value::Timestamp(*e.ts_us) : Value::Null(DataType::Timestamp()),
               &chunk.arena());
      chunk.weights().push_back(weight);
    }
    chunk.set_size(events.size());
    return op_->Push(chunk);
  }
  Status PushAndFlush(const std::vector<Event>& events, int8_t weight = 1) {
    SLUICE_RETURN_IF_ERROR(Push(events, weight));
    return op_->Flush();
  }

  // The expected output, computed from scratch: per key, sort the times and cut where the
  // next time is `gap` or more after the previous one.
  static std::vector<std::string> Expected(const std::vector<Event>& events, int64_t gap_us,
                                           bool partitioned = true) {
    std::map<std::optional<std::string>, std::vector<const Event*>> by_key;
    for (const Event& e : events) {
      if (e.ts_us) by_key[partitioned ? e.key : std::nullopt].push_back(&e);
    }
    std::vector<std::string> out;
    for (auto& [key, list] : by_key) {
      std::stable_sort(list.begin(), list.end(),
                       [](const Event* a, const Event* b) { return *a->ts_us < *b->ts_us; });
      for (size_t i = 0; i < list.size();) {
        size_t j = i + 1;
        while (j < list.size() && *list[j]->ts_us - *list[j - 1]->ts_us < gap_us) ++j;
        const int64_t start = *list[i]->ts_us;
        const int64_t end = *list[j - 1]->ts_us + gap_us;
        for (size_t r = i; r < j; ++r) {
          const Event& e = *list[r];
          out.push_back(fmt::format(
              "{}|{}|{}|{}|{}", e.key ? *e.key : "NULL", e.v, Value::Timestamp(*e.ts_us).ToString(),
              Value::Timestamp(start).ToString(), Value::Timestamp(end).ToString()));
        }
        i = j;
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  static std::string Row(const std::string& k, int64_t v, int64_t ts_s, int64_t start_s,
                         int64_t end_s) {
    return fmt::format("{}|{}|{}|{}|{}", k, v, Value::Timestamp(ts_s * kSecond).ToString(),
                       Value::Timestamp(start_s * kSecond).ToString(),
                       Value::Timestamp(end_s * kSecond).ToString());
  }

  CheckingSink sink_;
  std::unique_ptr<SessionWindowOperator> op_;
};

TEST_F(SessionWindowTest, RowsWithinTheGapShareASession) {
  Make(5 * kSecond);
  ASSERT_TRUE(
      PushAndFlush(
          {{"a", 1, 0}, {"a", 2, 3 * kSecond}, {"a", 3, 20 * kSecond}, {"b", 4, 1 * kSecond}})
          .ok());
  EXPECT_EQ(sink_.Rows(),
            (std::vector<std::string>{Row("a", 1, 0, 0, 8), Row("a", 2, 3, 0, 8),
                                      Row("a", 3, 20, 20, 25), Row("b", 4, 1, 1, 6)}));
  EXPECT_EQ(sink_.retractions(), 0);  // one flush: insertions only
  EXPECT_EQ(op_->partition_count(), 2u);
}

TEST_F(SessionWindowTest, ExactlyTheGapApartStartsANewSession) {
  Make(5 * kSecond);
  ASSERT_TRUE(PushAndFlush({{"a", 1, 0}, {"a", 2, 5 * kSecond}}).ok());
  EXPECT_EQ(sink_.Rows(), (std::vector<std::string>{Row("a", 1, 0, 0, 5), Row("a", 2, 5, 5, 10)}));
}

TEST_F(SessionWindowTest, ExtendingASessionRetractsItsRows) {
  Make(5 * kSecond);
  ASSERT_TRUE(PushAndFlush({{"a", 1, 0}, {"a", 2, 2 * kSecond}}).ok());
  ASSERT_TRUE(PushAndFlush({{"a", 3, 6 * kSecond}}).ok());
  EXPECT_EQ(sink_.Rows(), (std::vector<std::string>{Row("a", 1, 0, 0, 11), Row("a", 2, 2, 0, 11),
                                                    Row("a", 3, 6, 0, 11)}));
  EXPECT_EQ(sink_.retractions(), 2);
}

TEST_F(SessionWindowTest, BridgingEventMergesTwoSessions) {
  Make(5 * kSecond);
  ASSERT_TRUE(PushAndFlush({{"a", 1, 0}, {"a", 2, 8 * kSecond}, {"a", 3, 12 * kSecond}}).ok());
  EXPECT_EQ(sink_.Rows(), (std::vector<std::string>{Row("a", 1, 0, 0, 5), Row("a", 2, 8, 8, 17),
                                                    Row("a", 3, 12, 8, 17)}));
  ASSERT_TRUE(PushAndFlush({{"a", 4, 4 * kSecond}}).ok());  // 0 .. 4 .. 8: one session
  EXPECT_EQ(sink_.Rows(),
            (std::vector<std::string>{Row("a", 1, 0, 0, 17), Row("a", 2, 8, 0, 17),
                                      Row("a", 3, 12, 0, 17), Row("a", 4, 4, 0, 17)}));
  EXPECT_EQ(sink_.retractions(), 3);
}

TEST_F(SessionWindowTest, OutOfOrderArrivalGivesTheSameSessions) {
  Make(5 * kSecond);
  std::vector<Event> events = {{"a", 1, 30 * kSecond}, {"a", 2, 0},
                               {"a", 3, 26 * kSecond}, {"a", 4, 4 * kSecond},
                               {"a", 5, 8 * kSecond},  {"a", 6, 22 * kSecond},
                               {"a", 7, 13 * kSecond}};
  for (const Event& e : events) ASSERT_TRUE(PushAndFlush({e}).ok());
  EXPECT_EQ(sink_.Rows(), Expected(events, 5 * kSecond));
}

TEST_F(SessionWindowTest, RetractionSplitsASession) {
  Make(5 * kSecond);
  ASSERT_TRUE(PushAndFlush({{"a", 1, 0}, {"a", 2, 4 * kSecond}, {"a", 3, 8 * kSecond}}).ok());
  EXPECT_EQ(sink_.Rows().size(), 3u);
  ASSERT_TRUE(PushAndFlush({{"a", 2, 4 * kSecond}}, -1).ok());
  EXPECT_EQ(sink_.Rows(), (std::vector<std::string>{Row("a", 1, 0, 0, 5), Row("a", 3, 8, 8, 13)}));
  // Take back the rest: nothing is left, and the partition is forgotten.
  ASSERT_TRUE(PushAndFlush({{"a", 1, 0}, {"a", 3, 8 * kSecond}}, -1).ok());
  EXPECT_TRUE(sink_.Rows().empty());
  EXPECT_EQ(op_->partition_count(), 0u);
  EXPECT_EQ(op_->row_count(), 0u);
}

TEST_F(SessionWindowTest, InsertAndRetractWithinOneFlushEmitNothing) {
  Make(5 * kSecond);
  ASSERT_TRUE(Push({{"a", 1, 0}}).ok());
  ASSERT_TRUE(Push({{"a", 1, 0}}, -1).ok());
  ASSERT_TRUE(op_->Flush().ok());
  EXPECT_TRUE(sink_.Rows().empty());
  EXPECT_EQ(sink_.retractions(), 0);
}

TEST_F(SessionWindowTest, RetractionOfAnUnknownRowIsAnError) {
  Make(5 * kSecond);
  ASSERT_TRUE(PushAndFlush({{"a", 1, 0}}).ok());
  EXPECT_FALSE(PushAndFlush({{"a", 2, 0}}, -1).ok());  // same time, other values
  EXPECT_FALSE(PushAndFlush({{"z", 1, 0}}, -1).ok());  // unknown partition
}

TEST_F(SessionWindowTest, NullTimesAreDroppedAndNullKeysFormAPartition) {
  Make(5 * kSecond);
  ASSERT_TRUE(PushAndFlush({{std::nullopt, 1, 0},
                            {std::nullopt, 2, 1 * kSecond},
                            {"a", 3, std::nullopt},
                            {"a", 4, 2 * kSecond}})
                  .ok());
  EXPECT_EQ(sink_.Rows(),
            (std::vector<std::string>{
                "NULL|1|" + Value::Timestamp(0).ToString() + "|" + Value::Timestamp(0).ToString() +
                    "|" + Value::Timestamp(6 * kSecond).ToString(),
                "NULL|2|" + Value::Timestamp(kSecond).ToString() + "|" +
                    Value::Timestamp(0).ToString() + "|" + Value::Timestamp(6 * kSecond).ToString(),
                Row("a", 4, 2, 2, 7)}));
}

TEST_F(SessionWindowTest, WithoutPartitionKeysSessionsSpanAllRows) {
  Make(5 * kSecond, /*partitioned=*/false);
  std::vector<Event> events = {
      {"a", 1, 0}, {"b", 2, 3 * kSecond}, {"c", 3, 7 * kSecond}, {"a", 4, 20 * kSecond}};
  ASSERT_TRUE(PushAndFlush(events).ok());
  EXPECT_EQ(sink_.Rows(), Expected(events, 5 * kSecond, /*partitioned=*/false));
  EXPECT_EQ(op_->partition_count(), 1u);
}

// Many keys, random times (with ties), random flush points and random retractions: after every
// flush the consolidated output equals the sessions computed from scratch, and no retraction
// ever takes back a row that is not there (CheckingSink).
TEST_F(SessionWindowTest, RandomizedAgainstRecomputation) {
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    std::mt19937_64 rng(seed);
    const int64_t gap = (1 + static_cast<int64_t>(rng() % 5)) * kSecond;
    sink_ = CheckingSink();
    Make(gap);
    std::vector<Event> live;
    int64_t next_v = 0;
    const int keys = 1 + static_cast<int>(rng() % 40);
    for (int round = 0; round < 40; ++round) {
      std::vector<Event> inserts, retracts;
      const int n = static_cast<int>(rng() % 60);
      for (int i = 0; i < n; ++i) {
        Event e{"k" + std::to_string(rng() % keys), next_v++,
                static_cast<int64_t>(rng() % 120) * kSecond / 2};
        if (rng() % 20 == 0) e.ts_us.reset();
        if (rng() % 30 == 0) e.key.reset();
        inserts.push_back(e);
      }
      for (size_t i = 0; i < live.size(); ++i) {
        if (rng() % 10 == 0 && live[i].ts_us) {
          retracts.push_back(live[i]);
          live.erase(live.begin() + static_cast<ptrdiff_t>(i));
        }
      }
      ASSERT_TRUE(Push(inserts).ok());
      ASSERT_TRUE(Push(retracts, -1).ok());
      live.insert(live.end(), inserts.begin(), inserts.end());
      if (rng() % 3 != 0) {
        Status s = op_->Flush();
        ASSERT_TRUE(s.ok()) << s.ToString();
        ASSERT_EQ(sink_.Rows(), Expected(live, gap)) << "seed " << seed << " round " << round;
      }
    }
    ASSERT_TRUE(op_->Flush().ok());
    ASSERT_EQ(sink_.Rows(), Expected(live, gap)) << "seed " << seed;
  }
}

TEST_F(SessionWindowTest, LongInOrderStreamInOneFlushUsesPagesAndStrings) {
  Make(10 * kSecond);
  std::vector<Event> all;
  for (int batch = 0; batch < 5; ++batch) {
    std::vector<Event> events;
    for (int i = 0; i < 1000; ++i) {
      const int64_t t = (batch * 1000 + i) * kSecond;
      events.push_back({"key-with-a-longer-name-" + std::to_string(i % 7), t, t});
    }
    ASSERT_TRUE(Push(events).ok());
    all.insert(all.end(), events.begin(), events.end());
  }
  ASSERT_TRUE(op_->Flush().ok());
  EXPECT_EQ(sink_.Rows(), Expected(all, 10 * kSecond));
  EXPECT_EQ(op_->row_count(), 5000u);
}

// Expiry (over a watermarked source): a session that ended by watermark - allowed lateness is
// forgotten; its rows stay in the output, and a later row starts a new session.
TEST_F(SessionWindowTest, ClosedSessionsAreForgottenTheirOutputStays) {
  Make(5 * kSecond);
  op_->set_expiry(2 * kSecond);
  ASSERT_TRUE(PushAndFlush({{"a", 1, 0}, {"a", 2, 2 * kSecond}, {"b", 3, 1 * kSecond}, {"c", 4, 9 * kSecond}}).ok());
  const std::vector<std::string> before = sink_.Rows();
  ASSERT_TRUE(op_->OnWatermark(9 * kSecond).ok());  // cut-off 7 s: a's [0, 7) and b's [1, 6) are closed
  ASSERT_TRUE(op_->Flush().ok());
  EXPECT_EQ(sink_.Rows(), before);
  EXPECT_EQ(sink_.retractions(), 0);
  EXPECT_EQ(op_->row_count(), 1u);  // c's session [9, 14) is open
  EXPECT_EQ(op_->partition_count(), 1u);
  EXPECT_EQ(op_->StateExpired(), 2);
  // A row at the cut-off is not late; it starts a session of its own.
  ASSERT_TRUE(PushAndFlush({{"a", 5, 7 * kSecond}}).ok());
  EXPECT_EQ(sink_.retractions(), 0);
  std::vector<std::string> want = before;
  want.push_back(Row("a", 5, 7, 7, 12));
  std::sort(want.begin(), want.end());
  EXPECT_EQ(sink_.Rows(), want);
}

TEST_F(SessionWindowTest, AnActiveKeyLosesItsEarlierSessionsOnly) {
  Make(5 * kSecond);
  op_->set_expiry(0);
  ASSERT_TRUE(PushAndFlush({{"a", 1, 0}, {"a", 2, 1 * kSecond}}).ok());
  ASSERT_TRUE(PushAndFlush({{"a", 3, 20 * kSecond}}).ok());
  ASSERT_TRUE(op_->OnWatermark(21 * kSecond).ok());
  ASSERT_TRUE(PushAndFlush({{"a", 4, 22 * kSecond}}).ok());  // extends [20, ...)
  EXPECT_EQ(op_->row_count(), 2u);
  EXPECT_EQ(op_->StateExpired(), 1);
  EXPECT_EQ(sink_.Rows(), (std::vector<std::string>{Row("a", 1, 0, 0, 6), Row("a", 2, 1, 0, 6),
                                                    Row("a", 3, 20, 20, 27), Row("a", 4, 22, 20, 27)}));
}

// Random streams whose rows are never late: the output equals a recomputation over every row,
// the state keeps every session that can still change, and nothing once all have closed.
TEST_F(SessionWindowTest, ExpiryKeepsTheOutputOfRecomputation) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    const int64_t gap = (1 + static_cast<int64_t>(rng() % 4)) * kSecond;
    const int64_t lateness = static_cast<int64_t>(rng() % 4) * kSecond;
    sink_ = CheckingSink();
    Make(gap);
    op_->set_expiry(lateness);
    std::vector<Event> all;
    int64_t watermark = 0, next_v = 0;
    for (int round = 0; round < 60; ++round) {
      std::vector<Event> events;
      const int n = static_cast<int>(rng() % 30);
      for (int i = 0; i < n; ++i) {
        // Not late: at or after watermark - lateness.
        const int64_t t = watermark - lateness + static_cast<int64_t>(rng() % 20) * kSecond / 2;
        events.push_back({"k" + std::to_string(rng() % 6), next_v++, t});
      }
      ASSERT_TRUE(Push(events).ok());
      all.insert(all.end(), events.begin(), events.end());
      watermark += static_cast<int64_t>(rng() % 3) * kSecond;
      ASSERT_TRUE(op_->OnWatermark(watermark).ok());
      ASSERT_TRUE(op_->Flush().ok());
      ASSERT_EQ(sink_.Rows(), Expected(all, gap)) << "seed " << seed << " round " << round;
      // Every session that can still change is kept (closed ones may be kept a while: a
      // partition is looked at once the cut-off passes its latest session's end).
      size_t open = 0;
      std::map<std::string, std::vector<int64_t>> times;
      for (const Event& e : all) times[*e.key].push_back(*e.ts_us);
      for (auto& [key, ts] : times) {
        std::sort(ts.begin(), ts.end());
        for (size_t i = 0; i < ts.size();) {
          size_t j = i + 1;
          while (j < ts.size() && ts[j] - ts[j - 1] < gap) ++j;
          if (ts[j - 1] + gap > watermark - lateness) open += j - i;
          i = j;
        }
      }
      ASSERT_GE(op_->row_count(), open) << "seed " << seed << " round " << round;
    }
    ASSERT_TRUE(op_->OnWatermark(watermark + 100 * kSecond).ok());
    ASSERT_TRUE(op_->Flush().ok());
    EXPECT_EQ(op_->row_count(), 0u) << "seed " << seed;
    EXPECT_EQ(op_->partition_count(), 0u) << "seed " << seed;
    ASSERT_EQ(sink_.Rows(), Expected(all, gap)) << "seed " << seed;
  }
}

TEST_F(SessionWindowTest, RestoredSessionsStillClose) {
  Make(5 * kSecond);
  op_->set_expiry(0);
  ASSERT_TRUE(PushAndFlush({{"a", 1, 0}, {"b", 2, 10 * kSecond}}).ok());
  std::string state;
  sql::StateWriter writer(&state);
  ASSERT_TRUE(op_->Snapshot(&writer).ok());
  Make(5 * kSecond);
  op_->set_expiry(0);
  sql::StateReader reader(state);
  ASSERT_TRUE(op_->Restore(&reader).ok());
  EXPECT_EQ(op_->row_count(), 2u);
  ASSERT_TRUE(op_->OnWatermark(6 * kSecond).ok());
  ASSERT_TRUE(op_->Flush().ok());
  EXPECT_EQ(op_->row_count(), 1u);  // a's [0, 5) closed; b's [10, 15) open
  EXPECT_EQ(op_->partition_count(), 1u);
}

}  // namespace
}  // namespace sluice::exec
