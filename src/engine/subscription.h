#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/result.h"
#include "exec/dataflow.h"
#include "exec/operator.h"
#include "exec/vector.h"
#include "sql/catalog.h"
#include "sql/value.h"

namespace sluice::engine {

// Server-side subscriptions to a materialized view (SPEC §2 /v1/subscribe, §5 SUBSCRIBE): an
// initial snapshot of the view's rows, then every change batch, delivered without ever making
// the view's thread wait for a subscriber. docs/subscriptions.md describes the behaviour.
//
// Pieces:
//   ChangeFeed    one per view (created at its first subscription, lives as long as the view):
//                 the view's listener; turns each round's changes into a sequenced ChangeBatch,
//                 keeps a bounded history of recent batches (for resuming) and offers each batch
//                 to every subscriber.
//   Subscription  one per subscriber: a bounded buffer of batches. When a batch does not fit,
//                 the buffer is dropped and the subscriber is marked for a resync: the next Poll
//                 returns a fresh snapshot (flagged `resync`) instead of the lost batches.

// One round of a view's changes. Immutable once published; shared by the history and every
// subscriber's buffer.
struct ChangeBatch {
  uint64_t seq = 0;    // 1, 2, 3 ... within one feed (see Subscription::stream_id)
  int64_t ts_ms = 0;   // wall clock (Unix ms) when the round that produced it ended
  int64_t watermark_us = INT64_MIN;       // the view's output watermark then (INT64_MIN: none)
  std::vector<exec::DataChunk> chunks;    // rows in the view's (or query's) columns, weights ±n
  size_t bytes = 0;                       // approximate memory held

  size_t row_count() const;

  // An edge's encoding of this batch, computed once and shared by every subscriber that sends the
  // batch unfiltered (1000 SSE clients of one view encode each batch once). Two slots: the
  // message (kMessage: the JSON both SSE and WebSocket send) and its framing as one transport
  // sends it (kFramed: the SSE event with its id and data lines).
  enum class Encoding : uint8_t { kMessage = 0, kFramed = 1 };
  std::shared_ptr<const std::string> Encoded(const std::function<std::string()>& encode,
                                             Encoding slot = Encoding::kMessage) const;

 private:
  mutable std::mutex encoded_mu_;
  mutable std::shared_ptr<const std::string> encoded_[2];  // GUARDED_BY(encoded_mu_)
};

// A row and its net weight within a batch (+n: inserted n times, -n: deleted n times).
struct WeightedRow {
  std::vector<sql::Value> values;
  int64_t weight = 0;
};

// The batch's changes with equal rows merged (a +1 and a -1 of the same row cancel) and rows of
// weight 0 left out, in order of first appearance.
std::vector<WeightedRow> Consolidate(const ChangeBatch& batch);

struct SubscriptionSnapshot {
  uint64_t seq = 0;   // the rows include every batch up to and including this one
  int64_t ts_ms = 0;  // when the snapshot was taken (Unix ms)
  int64_t watermark_us = INT64_MIN;
  std::vector<std::vector<sql::Value>> rows;  // each row repeated by its multiplicity
};

// What a subscriber receives, in this order: one snapshot, then batches (seq increasing, never
// one twice), possibly a new snapshot with `resync` (everything sent before is replaced), and
// finally at most one end.
struct SubscriptionEvent {
  enum class Kind : uint8_t { kSnapshot, kBatch, kEnd };
  Kind kind = Kind::kBatch;
  std::shared_ptr<const SubscriptionSnapshot> snapshot;  // kSnapshot
  bool resync = false;  // kSnapshot: replaces what was sent before (overflow or lost resume point)
  std::shared_ptr<const ChangeBatch> batch;  // kBatch
  Status end;  // kEnd: why the stream stopped (kNotFound: view dropped; kUnavailable: shutdown)
};

struct SubscriptionLimits {
  // A subscriber's buffer: past either limit it is dropped and the subscriber resyncs.
  size_t buffer_batches = 1024;
  size_t buffer_bytes = 8u << 20;
  // Per view: recent batches kept so that a reconnecting subscriber resumes without loss.
  size_t history_batches = 1024;
  size_t history_bytes = 16u << 20;
  // Pacing of a view's batches (ChangeFeed::PublishIfDue): the least time between two batches
  // is this much per subscriber, capped at pace_max; zero publishes every round.
  std::chrono::microseconds pace_per_subscriber{20};
  std::chrono::microseconds pace_max{20'000};
};

struct SubscribeRequest {
  std::string view;  // subscribe to this materialized view ...
  std::string sql;   // ... or to `SELECT cols FROM view [WHERE ...]` (exactly one of the two)
  // Resume after an event this subscriber already has (stream_id and seq as Subscription gives
  // them): the batches after it come from the view's history, or a resync snapshot when the
  // history no longer holds them or the stream is another one (the view restarted).
  std::optional<std::pair<std::string, uint64_t>> resume_after;
  size_t buffer_batches = 0;  // 0: the engine's SubscriptionLimits
  size_t buffer_bytes = 0;
};

class ChangeFeed;
struct SubscriberState;

// A subscription's handle: Poll drains what is ready; the destructor unsubscribes.
// Poll is called from one thread at a time (the subscriber's); `notify` may run on any thread.
class Subscription {
 public:
  ~Subscription();

  // The result columns (the view's, or the query's).
  const std::vector<sql::ColumnSchema>& columns() const { return columns_; }
  // Identifies the view's change stream: sequence numbers of different streams (a view dropped
  // and recreated, or a restarted server) are unrelated.
  const std::string& stream_id() const;

  // Everything ready now, in order (empty: nothing new; wait for `notify`). Takes the view's
  // lock only to read a snapshot (the first call, and after an overflow).
  std::vector<SubscriptionEvent> Poll();

  // Ends the stream if the view has stopped with an error (which a running view cannot tell its
  // subscribers itself); cheap, never waits for the view. Call it now and then (heartbeats).
  void CheckView();

 private:
  friend class ChangeFeed;
  Subscription() = default;
  // Pushes the filter/projection (if any) over rows or a batch.
  Result<std::shared_ptr<const ChangeBatch>> Filter(std::shared_ptr<const ChangeBatch> batch);
  Result<std::shared_ptr<const SubscriptionSnapshot>> Filter(std::shared_ptr<const SubscriptionSnapshot> snapshot);

  std::shared_ptr<ChangeFeed> feed_;
  std::shared_ptr<SubscriberState> state_;
  std::vector<sql::ColumnSchema> columns_;
  std::unique_ptr<exec::Dataflow> filter_;  // null: every row, every column
  std::vector<exec::DataChunk> filter_out_;
  std::unique_ptr<exec::ChangeListener> filter_sink_;
  std::vector<std::shared_ptr<const ChangeBatch>> drained_;  // Poll's, kept for its storage
  bool ended_ = false;
};

// A view's change feed (see the top of this file). Thread-safe. The view calls the
// ChangeListener methods from its thread (under its lock); subscribers call the rest.
class ChangeFeed final : public exec::ChangeListener, public std::enable_shared_from_this<ChangeFeed> {
 public:
  // How the feed reads its view (a seam: tests stand in for the view).
  struct ViewAccess {
    // The view's rows; `under_lock` runs while no round runs (MaterializedView::SnapshotWith).
    std::function<Result<std::vector<std::vector<sql::Value>>>(const std::function<void()>& under_lock)> snapshot;
    // The error that stopped the view, if known without waiting (MaterializedView::FailureIfIdle).
    std::function<Status()> failure;
  };

  ChangeFeed(ViewAccess view, std::string view_name, std::vector<sql::ColumnSchema> columns, SubscriptionLimits limits);
  ~ChangeFeed() override;

  Status OnChanges(const exec::DataChunk& chunk) override;
  Status OnWatermark(int64_t watermark_us) override;
  // Ends a round: its changes become the next batch, now or, when many subscribers listen, with
  // the next rounds (see PublishIfDue).
  Status OnFlushed() override;

  // Pacing. Every batch costs work per subscriber (a wake-up, a poll, a write), so a busy view
  // with many subscribers publishes at most once per gap of 20 µs per subscriber, at most 20 ms
  // (SubscriptionLimits): a view running 1 000 rounds/s with 1 000 subscribers sends each of
  // them ~50 batches/s instead of 1 000. Rounds within a gap are merged into one batch. One subscriber is never
  // held back. The view calls this after every round, idle ones included, under its lock.
  void PublishIfDue();

  // A new subscriber. `filter` (may be null) is a stateless dataflow over the view's rows whose
  // output columns are `columns`. `notify` is called (without locks held, possibly on the view's
  // thread, so it must not block) when Poll has something new after returning nothing.
  Result<std::unique_ptr<Subscription>> Subscribe(const SubscribeRequest& request, std::unique_ptr<exec::Dataflow> filter,
                                                  std::vector<sql::ColumnSchema> columns, std::function<void()> notify);

  // Ends every subscription (and refuses new ones) with `reason`; idempotent, the first reason
  // stays. Called when the view is dropped or stops; after it the feed no longer touches the view.
  void End(Status reason);

  const std::string& stream_id() const { return stream_id_; }
  const std::vector<sql::ColumnSchema>& columns() const { return columns_; }
  size_t subscriber_count() const;
  uint64_t last_seq() const;

 private:
  friend class Subscription;
  void Remove(SubscriberState* state);
  // Takes a snapshot for `state` (under the view's lock, so that it matches the sequence).
  Result<std::shared_ptr<const SubscriptionSnapshot>> SnapshotFor(SubscriberState* state);
  void Publish(std::shared_ptr<const ChangeBatch> batch);
  // Publishes the changes collected since the last batch, if any (view's lock held).
  void PublishPending();

  ViewAccess view_;  // empty once ended; guarded by view_mu_
  const std::string view_name_;
  const std::vector<sql::ColumnSchema> columns_;
  const SubscriptionLimits limits_;
  const std::string stream_id_;

  // Held shared while a subscriber reads the view's rows, exclusively by End: the view is never
  // touched after End returns. Order: view_mu_ -> the view's lock -> mu_ -> a subscriber's mu.
  mutable std::shared_mutex view_mu_;

  // View-thread confined (written under the view's lock): the round being collected.
  std::vector<exec::DataChunk> pending_;
  size_t pending_bytes_ = 0;
  int64_t watermark_us_ = INT64_MIN;
  std::optional<std::chrono::steady_clock::time_point> last_publish_;  // none yet: due at once
  std::atomic<size_t> subscriber_count_{0};  // subscribers_.size(), readable without mu_

  mutable std::mutex mu_;
  uint64_t last_seq_ = 0;                                   // GUARDED_BY(mu_)
  std::deque<std::shared_ptr<const ChangeBatch>> history_;  // GUARDED_BY(mu_)
  size_t history_bytes_ = 0;                                // GUARDED_BY(mu_)
  std::shared_ptr<const SubscriptionSnapshot> cached_snapshot_;  // GUARDED_BY(mu_)
  std::vector<std::shared_ptr<SubscriberState>> subscribers_;   // GUARDED_BY(mu_)
  std::optional<Status> ended_;                                  // GUARDED_BY(mu_)
};

// Holds a view's feed and ends it when the view goes away (a MaterializedView member).
struct FeedOwner {
  FeedOwner() = default;
  FeedOwner(const FeedOwner&) = delete;
  FeedOwner& operator=(const FeedOwner&) = delete;
  ~FeedOwner();
  std::shared_ptr<ChangeFeed> feed;
};

}  // namespace sluice::engine
