#include "engine/subscription.h"

#include <absl/container/flat_hash_map.h>
#include <fmt/format.h>

#include <chrono>
#include <random>

#include "exec/dataflow.h"
#include "exec/vector_value.h"

namespace sluice::engine {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

size_t ChunkBytes(const exec::DataChunk& chunk) {
  size_t bytes = sizeof(exec::DataChunk) + chunk.weights().size() +
                 const_cast<exec::DataChunk&>(chunk).arena().bytes_allocated();
  for (size_t c = 0; c < chunk.column_count(); ++c) {
    const exec::Vector& v = chunk.column(c);
    bytes +=
        sizeof(exec::Vector) + v.capacity() * exec::PhysicalSize(v.physical()) + v.capacity() / 8;
  }
  return bytes;
}

std::string NewStreamId() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(NowMs()));
  return fmt::format("{:012x}", rng() & 0xFFFFFFFFFFFFull);
}

// Rows (each once) into chunks of `types`, all with weight +1.
std::vector<exec::DataChunk> RowsToChunks(const std::vector<std::vector<sql::Value>>& rows,
                                          const std::vector<sql::DataType>& types) {
  std::vector<exec::DataChunk> chunks;
  for (size_t begin = 0; begin < rows.size(); begin += exec::DataChunk::kDefaultCapacity) {
    const size_t n = std::min(exec::DataChunk::kDefaultCapacity, rows.size() - begin);
    exec::DataChunk chunk(types, n);
    for (size_t r = 0; r < n; ++r) {
      for (size_t c = 0; c < types.size(); ++c) {
        exec::SetValue(&chunk.column(c), r, rows[begin + r][c], &chunk.arena());
      }
    }
    chunk.set_size(n);
    chunks.push_back(std::move(chunk));
  }
  return chunks;
}

// Collects a filter dataflow's output.
class CollectChunks final : public exec::ChangeListener {
 public:
  explicit CollectChunks(std::vector<exec::DataChunk>* out) : out_(out) {}
  Status OnChanges(const exec::DataChunk& chunk) override {
    if (chunk.size() == 0) return Status::Ok();
    exec::DataChunk copy;
    exec::CopyChunk(chunk, &copy);
    out_->push_back(std::move(copy));
    return Status::Ok();
  }
  Status OnWatermark(int64_t) override { return Status::Ok(); }

 private:
  std::vector<exec::DataChunk>* out_;
};

}  // namespace

// ---- batches ---------------------------------------------------------------------------------

size_t ChangeBatch::row_count() const {
  size_t n = 0;
  for (const exec::DataChunk& c : chunks) n += c.size();
  return n;
}

std::shared_ptr<const std::string> ChangeBatch::Encoded(const std::function<std::string()>& encode,
                                                        Encoding slot) const {
  std::lock_guard<std::mutex> lock(encoded_mu_);
  std::shared_ptr<const std::string>& encoded = encoded_[static_cast<size_t>(slot)];
  if (!encoded) encoded = std::make_shared<const std::string>(encode());
  return encoded;
}

std::vector<WeightedRow> Consolidate(const ChangeBatch& batch) {
  std::vector<WeightedRow> rows;
  absl::flat_hash_map<std::string, size_t> index;
  std::string key;
  for (const exec::DataChunk& chunk : batch.chunks) {
    for (size_t r = 0; r < chunk.size(); ++r) {
      key.clear();
      for (size_t c = 0; c < chunk.column_count(); ++c)
        exec::AppendKeyBytes(chunk.column(c), r, &key);
      auto [it, inserted] = index.try_emplace(key, rows.size());
      if (inserted) {
        WeightedRow row;
        row.values.reserve(chunk.column_count());
        for (size_t c = 0; c < chunk.column_count(); ++c)
          row.values.push_back(exec::GetValue(chunk.column(c), r));
        rows.push_back(std::move(row));
      }
      rows[it->second].weight += chunk.weight(r);
    }
  }
  std::erase_if(rows, [](const WeightedRow& row) { return row.weight == 0; });
  return rows;
}

// ---- one subscriber's buffer -----------------------------------------------------------------

struct SubscriberState {
  std::function<void()> notify;
  size_t max_batches = 0;
  size_t max_bytes = 0;

  std::mutex mu;
  std::deque<std::shared_ptr<const ChangeBatch>> buffer;  // GUARDED_BY(mu)
  size_t buffered_bytes = 0;                              // GUARDED_BY(mu)
  bool need_snapshot = true;                              // GUARDED_BY(mu)
  bool resync = false;        // GUARDED_BY(mu): the next snapshot replaces what was sent before
  uint64_t covered_seq = 0;   // GUARDED_BY(mu): batches up to this are in the output already
  bool notified = false;      // GUARDED_BY(mu): notify called and Poll not yet
  std::optional<Status> end;  // GUARDED_BY(mu)
  bool end_delivered = false;

  // REQUIRES: mu held. True if the subscriber should be notified (once until its next Poll).
  bool WakeLocked() {
    if (notified) return false;
    notified = true;
    return true;
  }

  // Called on the view's thread: never waits for the subscriber.
  void Offer(const std::shared_ptr<const ChangeBatch>& batch) {
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (end || need_snapshot || batch->seq <= covered_seq) return;  // a snapshot will cover it
      const bool fits = buffer.empty() ||
                        (buffer.size() < max_batches && buffered_bytes + batch->bytes <= max_bytes);
      if (fits) {
        buffer.push_back(batch);
        buffered_bytes += batch->bytes;
      } else {
        // Too slow: drop what it has not read; it gets a fresh snapshot when it comes back.
        buffer.clear();
        buffered_bytes = 0;
        need_snapshot = true;
        resync = true;
      }
      wake = WakeLocked();
    }
    if (wake && notify) notify();
  }

  // REQUIRES: mu held. The snapshot at `seq` replaces everything buffered.
  void CoveredByLocked(uint64_t seq) {
    need_snapshot = false;
    covered_seq = seq;
    buffer.clear();
    buffered_bytes = 0;
  }
};

// ---- ChangeFeed ------------------------------------------------------------------------------

ChangeFeed::ChangeFeed(ViewAccess view, std::string view_name,
                       std::vector<sql::ColumnSchema> columns, SubscriptionLimits limits)
    : view_(std::move(view)),
      view_name_(std::move(view_name)),
      columns_(std::move(columns)),
      limits_(limits),
      stream_id_(NewStreamId()) {}

ChangeFeed::~ChangeFeed() = default;

Status ChangeFeed::OnChanges(const exec::DataChunk& chunk) {
  if (chunk.size() == 0) return Status::Ok();
  exec::DataChunk copy;
  exec::CopyChunk(chunk, &copy);
  pending_bytes_ += ChunkBytes(copy);
  pending_.push_back(std::move(copy));
  return Status::Ok();
}

Status ChangeFeed::OnWatermark(int64_t watermark_us) {
  watermark_us_ = std::max(watermark_us_, watermark_us);
  return Status::Ok();
}

Status ChangeFeed::OnFlushed() {
  PublishIfDue();
  return Status::Ok();
}

void ChangeFeed::PublishIfDue() {
  if (pending_.empty()) return;
  const size_t subscribers = subscriber_count_.load(std::memory_order_relaxed);
  const auto now = std::chrono::steady_clock::now();
  const auto gap = std::min<std::chrono::microseconds>(
      limits_.pace_per_subscriber * static_cast<int64_t>(subscribers), limits_.pace_max);
  if (subscribers > 1 && last_publish_ && now < *last_publish_ + gap) return;
  last_publish_ = now;
  PublishPending();
}

void ChangeFeed::PublishPending() {
  if (pending_.empty()) return;
  auto batch = std::make_shared<ChangeBatch>();
  batch->chunks = std::move(pending_);
  batch->bytes = pending_bytes_ + sizeof(ChangeBatch);
  batch->ts_ms = NowMs();
  batch->watermark_us = watermark_us_;
  pending_.clear();
  pending_bytes_ = 0;
  Publish(std::move(batch));
}

void ChangeFeed::Publish(std::shared_ptr<const ChangeBatch> published) {
  std::vector<std::shared_ptr<SubscriberState>> subscribers;
  std::shared_ptr<const ChangeBatch> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ended_) return;
    // The sequence number is given under mu_, so that it orders with snapshots' sequences.
    auto numbered = std::const_pointer_cast<ChangeBatch>(published);
    numbered->seq = ++last_seq_;
    batch = std::move(numbered);
    history_.push_back(batch);
    history_bytes_ += batch->bytes;
    while (history_.size() > 1 &&
           (history_.size() > limits_.history_batches || history_bytes_ > limits_.history_bytes)) {
      history_bytes_ -= history_.front()->bytes;
      history_.pop_front();
    }
    cached_snapshot_.reset();
    subscribers = subscribers_;
  }
  for (const auto& s : subscribers) s->Offer(batch);
}

Result<std::unique_ptr<Subscription>> ChangeFeed::Subscribe(const SubscribeRequest& request,
                                                            std::unique_ptr<exec::Dataflow> filter,
                                                            std::vector<sql::ColumnSchema> columns,
                                                            std::function<void()> notify) {
  auto state = std::make_shared<SubscriberState>();
  state->notify = std::move(notify);
  state->max_batches =
      std::max<size_t>(1, request.buffer_batches ? request.buffer_batches : limits_.buffer_batches);
  state->max_bytes = request.buffer_bytes ? request.buffer_bytes : limits_.buffer_bytes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ended_) return *ended_;
    if (request.resume_after) {
      const auto& [stream, seq] = *request.resume_after;
      const uint64_t oldest = history_.empty() ? last_seq_ + 1 : history_.front()->seq;
      if (stream == stream_id_ && seq <= last_seq_ && seq + 1 >= oldest) {
        // Everything after `seq` is still here: no snapshot, no loss.
        state->need_snapshot = false;
        state->covered_seq = seq;
        for (const auto& b : history_) {
          if (b->seq <= seq) continue;
          state->buffer.push_back(b);
          state->buffered_bytes += b->bytes;
        }
      } else {
        state->resync = true;
      }
    }
    subscribers_.push_back(state);
    subscriber_count_.store(subscribers_.size(), std::memory_order_relaxed);
  }
  auto sub = std::unique_ptr<Subscription>(new Subscription());
  sub->feed_ = shared_from_this();
  sub->state_ = std::move(state);
  sub->columns_ = std::move(columns);
  if (filter) {
    sub->filter_ = std::move(filter);
    sub->filter_sink_ = std::make_unique<CollectChunks>(&sub->filter_out_);
    sub->filter_->sink().AddListener(sub->filter_sink_.get());
  }
  return sub;
}

void ChangeFeed::Remove(SubscriberState* state) {
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(subscribers_,
                [state](const std::shared_ptr<SubscriberState>& s) { return s.get() == state; });
  subscriber_count_.store(subscribers_.size(), std::memory_order_relaxed);
}

void ChangeFeed::End(Status reason) {
  std::vector<std::shared_ptr<SubscriberState>> subscribers;
  {
    std::unique_lock<std::shared_mutex> view_lock(view_mu_);
    view_ = ViewAccess{};
    std::lock_guard<std::mutex> lock(mu_);
    if (ended_) return;
    ended_ = reason;
    history_.clear();
    history_bytes_ = 0;
    cached_snapshot_.reset();
    subscribers = subscribers_;
  }
  for (const auto& s : subscribers) {
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(s->mu);
      if (!s->end) s->end = reason;
      wake = s->WakeLocked();
    }
    if (wake && s->notify) s->notify();
  }
}

size_t ChangeFeed::subscriber_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return subscribers_.size();
}

uint64_t ChangeFeed::last_seq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_seq_;
}

Result<std::shared_ptr<const SubscriptionSnapshot>> ChangeFeed::SnapshotFor(
    SubscriberState* state) {
  std::shared_lock<std::shared_mutex> view_lock(view_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ended_) return *ended_;
    // Several subscribers (re)connecting between two rounds share one copy of the rows.
    if (cached_snapshot_ && cached_snapshot_->seq == last_seq_) {
      std::lock_guard<std::mutex> state_lock(state->mu);
      state->CoveredByLocked(last_seq_);
      return cached_snapshot_;
    }
  }
  if (!view_.snapshot)
    return Status::Unavailable(fmt::format("materialized view \"{}\" stopped", view_name_));
  auto snapshot = std::make_shared<SubscriptionSnapshot>();
  SLUICE_ASSIGN_OR_RETURN(snapshot->rows, view_.snapshot([&] {
    // No round runs now. Changes held back by pacing are in the rows: publish them, so that
    // the rows are exactly the result of batches 1..last_seq_.
    PublishPending();
    std::lock_guard<std::mutex> lock(mu_);
    snapshot->seq = last_seq_;
    snapshot->watermark_us = watermark_us_;
    std::lock_guard<std::mutex> state_lock(state->mu);
    state->CoveredByLocked(last_seq_);
  }));
  snapshot->ts_ms = NowMs();
  std::shared_ptr<const SubscriptionSnapshot> result = std::move(snapshot);
  std::lock_guard<std::mutex> lock(mu_);
  if (last_seq_ == result->seq) cached_snapshot_ = result;
  return result;
}

FeedOwner::~FeedOwner() {
  if (feed)
    feed->End(Status::Unavailable(
        "the materialized view is no longer maintained (server shutting down)"));
}

// ---- Subscription ----------------------------------------------------------------------------

Subscription::~Subscription() {
  if (feed_) feed_->Remove(state_.get());
}

const std::string& Subscription::stream_id() const { return feed_->stream_id(); }

std::vector<SubscriptionEvent> Subscription::Poll() {
  std::vector<SubscriptionEvent> events;
  if (ended_) return events;
  bool need_snapshot = false;
  bool resync = false;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->notified = false;
    need_snapshot = state_->need_snapshot && !state_->end;
    resync = state_->resync;
  }
  if (need_snapshot) {
    Result<std::shared_ptr<const SubscriptionSnapshot>> snapshot = feed_->SnapshotFor(state_.get());
    if (snapshot.ok()) snapshot = Filter(std::move(snapshot).value());
    if (!snapshot.ok()) {
      std::lock_guard<std::mutex> lock(state_->mu);
      if (!state_->end) state_->end = snapshot.status();
    } else {
      SubscriptionEvent e;
      e.kind = SubscriptionEvent::Kind::kSnapshot;
      e.snapshot = std::move(snapshot).value();
      e.resync = resync;
      events.push_back(std::move(e));
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->resync = false;
    }
  }
  std::vector<std::shared_ptr<const ChangeBatch>>& batches = drained_;
  batches.clear();
  std::optional<Status> end;
  bool poll_again = false;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->need_snapshot && !state_->end) {
      // Overflowed again since the snapshot was taken: the next Poll resyncs.
      poll_again = state_->WakeLocked();
    } else {
      // Moved out, not swapped: a swap would leave a new deque, which allocates.
      batches.assign(std::make_move_iterator(state_->buffer.begin()), std::make_move_iterator(state_->buffer.end()));
      state_->buffer.clear();
      state_->buffered_bytes = 0;
      if (!batches.empty()) state_->covered_seq = batches.back()->seq;
    }
    if (state_->end && !state_->end_delivered) {
      state_->end_delivered = true;
      end = state_->end;
    }
  }
  if (poll_again && state_->notify) state_->notify();
  for (auto& b : batches) {
    Result<std::shared_ptr<const ChangeBatch>> filtered = Filter(std::move(b));
    if (!filtered.ok()) {
      end = filtered.status();
      break;
    }
    if ((*filtered)->chunks.empty()) continue;  // nothing passed the filter
    SubscriptionEvent e;
    e.kind = SubscriptionEvent::Kind::kBatch;
    e.batch = std::move(filtered).value();
    events.push_back(std::move(e));
  }
  batches.clear();
  if (end) {
    SubscriptionEvent e;
    e.kind = SubscriptionEvent::Kind::kEnd;
    e.end = *end;
    events.push_back(std::move(e));
    ended_ = true;
  }
  return events;
}

void Subscription::CheckView() {
  Status failure;
  {
    std::shared_lock<std::shared_mutex> view_lock(feed_->view_mu_);
    if (!feed_->view_.failure) return;
    failure = feed_->view_.failure();
  }
  if (!failure.ok()) feed_->End(failure);
}

Result<std::shared_ptr<const ChangeBatch>> Subscription::Filter(
    std::shared_ptr<const ChangeBatch> batch) {
  if (!filter_) return batch;
  filter_out_.clear();
  for (const exec::DataChunk& chunk : batch->chunks)
    SLUICE_RETURN_IF_ERROR(filter_->Push(0, chunk));
  SLUICE_RETURN_IF_ERROR(filter_->FlushChanges());
  auto out = std::make_shared<ChangeBatch>();
  out->seq = batch->seq;
  out->ts_ms = batch->ts_ms;
  out->watermark_us = batch->watermark_us;
  out->chunks = std::move(filter_out_);
  filter_out_.clear();
  for (const exec::DataChunk& c : out->chunks) out->bytes += ChunkBytes(c);
  return std::shared_ptr<const ChangeBatch>(std::move(out));
}

Result<std::shared_ptr<const SubscriptionSnapshot>> Subscription::Filter(
    std::shared_ptr<const SubscriptionSnapshot> snapshot) {
  if (!filter_) return snapshot;
  filter_out_.clear();
  std::vector<sql::DataType> types;
  for (const sql::ColumnSchema& c : feed_->columns()) types.push_back(c.type);
  for (const exec::DataChunk& chunk : RowsToChunks(snapshot->rows, types)) {
    SLUICE_RETURN_IF_ERROR(filter_->Push(0, chunk));
  }
  SLUICE_RETURN_IF_ERROR(filter_->FlushChanges());
  auto out = std::make_shared<SubscriptionSnapshot>();
  out->seq = snapshot->seq;
  out->ts_ms = snapshot->ts_ms;
  out->watermark_us = snapshot->watermark_us;
  for (const exec::DataChunk& chunk : filter_out_) {
    for (size_t r = 0; r < chunk.size(); ++r) {
      std::vector<sql::Value> row;
      row.reserve(chunk.column_count());
      for (size_t c = 0; c < chunk.column_count(); ++c)
        row.push_back(exec::GetValue(chunk.column(c), r));
      for (int w = 1; w < chunk.weight(r); ++w) out->rows.push_back(row);
      if (chunk.weight(r) > 0) out->rows.push_back(std::move(row));
    }
  }
  filter_out_.clear();
  return std::shared_ptr<const SubscriptionSnapshot>(std::move(out));
}

}  // namespace sluice::engine
