#include "engine/subscription.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "exec/vector_value.h"

namespace sluice::engine {
namespace {

using sql::Value;

// Stands in for a materialized view with one BIGINT column: the test changes `rows` and tells
// the feed, as the view's round would.
// Limits whose feed publishes every round (no pacing), so that a test's rounds are its batches.
SubscriptionLimits Unpaced() {
  SubscriptionLimits limits;
  limits.pace_per_subscriber = std::chrono::microseconds(0);
  return limits;
}

class FakeView {
 public:
  FakeView(SubscriptionLimits limits = Unpaced()) {
    ChangeFeed::ViewAccess access;
    access.snapshot =
        [this](const std::function<void()>& under_lock) -> Result<std::vector<std::vector<Value>>> {
      std::lock_guard<std::mutex> lock(mu_);
      if (!failure_.ok()) return failure_;
      under_lock();
      std::vector<std::vector<Value>> out;
      for (int64_t v : rows_) out.push_back({Value::Bigint(v)});
      return out;
    };
    access.failure = [this] {
      std::lock_guard<std::mutex> lock(mu_);
      return failure_;
    };
    feed = std::make_shared<ChangeFeed>(
        std::move(access), "v", std::vector<sql::ColumnSchema>{{"x", sql::DataType::Bigint()}},
        limits);
  }

  // One round: inserts then deletes, published as one batch.
  void Round(std::vector<int64_t> inserts, std::vector<int64_t> deletes = {}) {
    std::lock_guard<std::mutex> lock(mu_);
    exec::DataChunk chunk({sql::DataType::Bigint()},
                          std::max<size_t>(1, inserts.size() + deletes.size()));
    chunk.weights().resize(inserts.size() + deletes.size());
    size_t r = 0;
    for (int64_t v : inserts) {
      exec::SetValue(&chunk.column(0), r, Value::Bigint(v), &chunk.arena());
      chunk.weights()[r++] = 1;
      rows_.push_back(v);
    }
    for (int64_t v : deletes) {
      exec::SetValue(&chunk.column(0), r, Value::Bigint(v), &chunk.arena());
      chunk.weights()[r++] = -1;
      rows_.erase(std::find(rows_.begin(), rows_.end(), v));
    }
    chunk.set_size(r);
    ASSERT_TRUE(feed->OnChanges(chunk).ok());
    ASSERT_TRUE(feed->OnFlushed().ok());
  }

  void Fail(Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    failure_ = std::move(s);
  }

  std::shared_ptr<ChangeFeed> feed;

 private:
  std::mutex mu_;
  std::vector<int64_t> rows_;
  Status failure_;
};

std::vector<int64_t> Values(const std::vector<std::vector<Value>>& rows) {
  std::vector<int64_t> out;
  for (const auto& r : rows) out.push_back(r[0].int64());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<int64_t> Inserted(const ChangeBatch& batch) {
  std::vector<int64_t> out;
  for (const WeightedRow& r : Consolidate(batch)) {
    for (int64_t i = 0; i < r.weight; ++i) out.push_back(r.values[0].int64());
  }
  return out;
}

std::unique_ptr<Subscription> Subscribe(FakeView& view, std::atomic<int>* notified,
                                        SubscribeRequest request = {}) {
  request.view = "v";
  auto sub = view.feed->Subscribe(request, nullptr, view.feed->columns(),
                                  [notified] { notified->fetch_add(1); });
  EXPECT_TRUE(sub.ok()) << sub.status().message();
  return std::move(sub).value();
}

TEST(SubscriptionTest, SnapshotThenBatchesInOrder) {
  FakeView view;
  view.Round({1, 2});
  std::atomic<int> notified{0};
  auto sub = Subscribe(view, &notified);

  auto events = sub->Poll();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, SubscriptionEvent::Kind::kSnapshot);
  EXPECT_FALSE(events[0].resync);
  EXPECT_EQ(events[0].snapshot->seq, 1u);
  EXPECT_EQ(Values(events[0].snapshot->rows), (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(sub->Poll().empty());

  view.Round({3});
  view.Round({4}, {1});
  EXPECT_EQ(notified.load(), 1);  // once until the next Poll
  events = sub->Poll();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].batch->seq, 2u);
  EXPECT_EQ(Inserted(*events[0].batch), (std::vector<int64_t>{3}));
  EXPECT_EQ(events[1].batch->seq, 3u);
  std::vector<WeightedRow> changes = Consolidate(*events[1].batch);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].values[0].int64(), 4);
  EXPECT_EQ(changes[0].weight, 1);
  EXPECT_EQ(changes[1].values[0].int64(), 1);
  EXPECT_EQ(changes[1].weight, -1);
}

TEST(SubscriptionTest, ConsolidateCancelsAnInsertAndADeleteOfOneRow) {
  FakeView view;
  std::atomic<int> notified{0};
  auto sub = Subscribe(view, &notified);
  (void)sub->Poll();
  view.Round({5, 6}, {5});
  auto events = sub->Poll();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(Inserted(*events[0].batch), (std::vector<int64_t>{6}));
}

TEST(SubscriptionTest, OverflowDropsTheBufferAndResyncsWithAFreshSnapshot) {
  FakeView view;
  std::atomic<int> notified{0};
  SubscribeRequest request;
  request.buffer_batches = 2;
  auto slow = Subscribe(view, &notified, request);
  std::atomic<int> fast_notified{0};
  auto fast = Subscribe(view, &fast_notified);
  ASSERT_EQ(slow->Poll().size(), 1u);
  ASSERT_EQ(fast->Poll().size(), 1u);

  std::vector<uint64_t> fast_seqs;
  for (int i = 0; i < 5; ++i) {
    view.Round({i});
    for (const auto& e : fast->Poll()) fast_seqs.push_back(e.batch->seq);
  }
  // The fast subscriber saw every batch; the slow one's buffer overflowed at the third.
  EXPECT_EQ(fast_seqs, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  auto events = slow->Poll();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, SubscriptionEvent::Kind::kSnapshot);
  EXPECT_TRUE(events[0].resync);
  EXPECT_EQ(events[0].snapshot->seq, 5u);
  EXPECT_EQ(Values(events[0].snapshot->rows), (std::vector<int64_t>{0, 1, 2, 3, 4}));

  // Caught up: batches flow again, no resync.
  view.Round({9});
  events = slow->Poll();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, SubscriptionEvent::Kind::kBatch);
  EXPECT_EQ(events[0].batch->seq, 6u);
}

TEST(SubscriptionTest, ByteLimitAlsoOverflows) {
  FakeView view;
  std::atomic<int> notified{0};
  SubscribeRequest request;
  request.buffer_bytes = 1;  // one batch always fits (else nothing could ever be delivered)
  auto sub = Subscribe(view, &notified, request);
  (void)sub->Poll();
  view.Round({1});
  auto events = sub->Poll();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, SubscriptionEvent::Kind::kBatch);
  view.Round({2});
  view.Round({3});
  events = sub->Poll();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].resync);
}

TEST(SubscriptionTest, ResumeFromHistoryWithoutSnapshot) {
  FakeView view;
  view.Round({1});
  view.Round({2});
  view.Round({3});
  std::atomic<int> notified{0};
  SubscribeRequest request;
  request.resume_after = std::make_pair(view.feed->stream_id(), uint64_t{1});
  auto sub = Subscribe(view, &notified, request);
  auto events = sub->Poll();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].batch->seq, 2u);
  EXPECT_EQ(events[1].batch->seq, 3u);

  // Resuming at the newest event: nothing to send until the next round.
  request.resume_after = std::make_pair(view.feed->stream_id(), uint64_t{3});
  auto current = Subscribe(view, &notified, request);
  EXPECT_TRUE(current->Poll().empty());
  view.Round({4});
  events = current->Poll();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].batch->seq, 4u);
}

TEST(SubscriptionTest, ResumeThatCannotBeServedResyncs) {
  SubscriptionLimits limits;
  limits.history_batches = 2;
  FakeView view(limits);
  for (int i = 0; i < 5; ++i) view.Round({i});
  std::atomic<int> notified{0};
  for (auto resume : {std::make_pair(view.feed->stream_id(), uint64_t{1}),  // fell out of history
                      std::make_pair(std::string("other-stream"), uint64_t{4}),  // view restarted
                      std::make_pair(view.feed->stream_id(), uint64_t{99})}) {   // from the future
    SubscribeRequest request;
    request.resume_after = resume;
    auto sub = Subscribe(view, &notified, request);
    auto events = sub->Poll();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].kind, SubscriptionEvent::Kind::kSnapshot);
    EXPECT_TRUE(events[0].resync);
    EXPECT_EQ(events[0].snapshot->seq, 5u);
  }
  // The oldest batch still held resumes fine.
  SubscribeRequest request;
  request.resume_after = std::make_pair(view.feed->stream_id(), uint64_t{3});
  auto sub = Subscribe(view, &notified, request);
  auto events = sub->Poll();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].batch->seq, 4u);
}

TEST(SubscriptionTest, EndDeliversBufferedBatchesThenTheReason) {
  FakeView view;
  std::atomic<int> notified{0};
  auto sub = Subscribe(view, &notified);
  (void)sub->Poll();
  view.Round({1});
  view.feed->End(Status::NotFound("materialized view \"v\" was dropped"));
  EXPECT_EQ(notified.load(), 1);
  auto events = sub->Poll();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, SubscriptionEvent::Kind::kBatch);
  EXPECT_EQ(events[1].kind, SubscriptionEvent::Kind::kEnd);
  EXPECT_EQ(events[1].end.code(), StatusCode::kNotFound);
  EXPECT_TRUE(sub->Poll().empty());
  view.Round({2});  // after the end: ignored
  EXPECT_TRUE(sub->Poll().empty());

  auto again = view.feed->Subscribe(SubscribeRequest{}, nullptr, view.feed->columns(), [] {});
  EXPECT_EQ(again.status().code(), StatusCode::kNotFound);
}

TEST(SubscriptionTest, AFailedViewEndsItsSubscriptionsOnCheck) {
  FakeView view;
  std::atomic<int> notified{0};
  auto sub = Subscribe(view, &notified);
  (void)sub->Poll();
  sub->CheckView();
  EXPECT_TRUE(sub->Poll().empty());
  view.Fail(Status::FailedPrecondition("materialized view \"v\" stopped: division by zero"));
  sub->CheckView();
  auto events = sub->Poll();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, SubscriptionEvent::Kind::kEnd);
  EXPECT_NE(events[0].end.message().find("division by zero"), std::string::npos);
}

TEST(SubscriptionTest, DestroyedSubscriptionLeavesTheFeed) {
  FakeView view;
  std::atomic<int> notified{0};
  {
    auto sub = Subscribe(view, &notified);
    EXPECT_EQ(view.feed->subscriber_count(), 1u);
  }
  EXPECT_EQ(view.feed->subscriber_count(), 0u);
  view.Round({1});
}

// Rounds on one thread, a subscriber polling on another: every change arrives exactly once and
// in order, or a resync snapshot replaces what came before; the rows always add up.
TEST(SubscriptionTest, ConcurrentRoundsAndPollsStayConsistent) {
  FakeView view;
  std::atomic<int> notified{0};
  SubscribeRequest request;
  request.buffer_batches = 8;
  auto sub = Subscribe(view, &notified, request);
  std::atomic<bool> done{false};
  std::thread producer([&] {
    for (int i = 0; i < 2000; ++i) view.Round({i});
    done = true;
  });
  std::vector<int64_t> have;
  uint64_t last_seq = 0;
  int resyncs = 0;
  auto apply = [&](const std::vector<SubscriptionEvent>& events) {
    for (const auto& e : events) {
      if (e.kind == SubscriptionEvent::Kind::kSnapshot) {
        if (e.resync) ++resyncs;
        have = Values(e.snapshot->rows);
        last_seq = e.snapshot->seq;
      } else if (e.kind == SubscriptionEvent::Kind::kBatch) {
        ASSERT_EQ(e.batch->seq, last_seq + 1);
        last_seq = e.batch->seq;
        for (int64_t v : Inserted(*e.batch)) have.push_back(v);
      }
    }
  };
  while (!done) {
    apply(sub->Poll());
    if (last_seq % 7 == 0)
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // fall behind now and then
  }
  producer.join();
  apply(sub->Poll());
  std::sort(have.begin(), have.end());
  ASSERT_EQ(have.size(), 2000u);
  for (int i = 0; i < 2000; ++i) ASSERT_EQ(have[static_cast<size_t>(i)], i);
  EXPECT_EQ(last_seq, 2000u);
  (void)resyncs;
}

}  // namespace
}  // namespace sluice::engine

namespace sluice::engine {
namespace {

TEST(SubscriptionPacingTest, OneSubscriberGetsEveryRound) {
  SubscriptionLimits limits;  // the defaults: paced
  limits.pace_per_subscriber = std::chrono::hours(1);
  FakeView view(limits);
  std::atomic<int> notified{0};
  auto sub = Subscribe(view, &notified);
  ASSERT_EQ(sub->Poll().size(), 1u);
  for (int i = 0; i < 3; ++i) view.Round({i});
  auto events = sub->Poll();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].batch->seq, 3u);
}

TEST(SubscriptionPacingTest, RoundsWithinTheGapAreMergedAndASnapshotPublishesThem) {
  SubscriptionLimits limits;
  limits.pace_per_subscriber = std::chrono::hours(1);  // nothing is due during the test
  limits.pace_max = std::chrono::hours(1);
  FakeView view(limits);
  std::atomic<int> a_notified{0}, b_notified{0};
  auto a = Subscribe(view, &a_notified);
  auto b = Subscribe(view, &b_notified);
  ASSERT_EQ(a->Poll().size(), 1u);
  ASSERT_EQ(b->Poll().size(), 1u);
  view.Round({1});  // the first batch of a feed is due at once
  view.Round({2});
  view.Round({3}, {1});
  std::vector<SubscriptionEvent> events = a->Poll();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].batch->seq, 1u);
  EXPECT_TRUE(a->Poll().empty());  // rounds 2 and 3 are held back

  // A new subscriber's snapshot holds rounds 2 and 3, so they are published first, as one batch
  // (seq 2), and the snapshot covers it: nothing is delivered twice or lost.
  std::atomic<int> c_notified{0};
  auto c = Subscribe(view, &c_notified);
  events = c->Poll();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, SubscriptionEvent::Kind::kSnapshot);
  EXPECT_EQ(events[0].snapshot->seq, 2u);
  EXPECT_EQ(Values(events[0].snapshot->rows), (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(c->Poll().empty());

  events = a->Poll();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].batch->seq, 2u);
  int64_t net = 0;
  for (const WeightedRow& r : Consolidate(*events[0].batch)) net += r.weight;
  EXPECT_EQ(net, 1);  // +2 +3 -1
  EXPECT_GE(a_notified.load(), 1);
}

TEST(SubscriptionPacingTest, HeldChangesGoOutWhenDue) {
  SubscriptionLimits limits;
  limits.pace_per_subscriber = std::chrono::microseconds(500);
  FakeView view(limits);
  std::atomic<int> a_notified{0}, b_notified{0};
  auto a = Subscribe(view, &a_notified);
  auto b = Subscribe(view, &b_notified);
  (void)a->Poll();
  (void)b->Poll();
  view.Round({1});
  view.Round({2});
  ASSERT_EQ(a->Poll().size(), 1u);
  // The view calls PublishIfDue after every round, idle ones too; once the 1-ms gap is over,
  // round 2 is published.
  std::vector<SubscriptionEvent> events;
  for (int i = 0; i < 10000 && events.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    view.feed->PublishIfDue();
    events = a->Poll();
  }
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].batch->seq, 2u);
}

}  // namespace
}  // namespace sluice::engine
