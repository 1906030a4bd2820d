#include "engine/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "common/logging.h"
#include "engine/event_splitter.h"
#include "engine/idempotency_table.h"

namespace sluice::engine {

namespace {

// Record headers written by the ingest path (the first record of each batch carries the
// idempotency key; dead-letter records carry the reason and where they came from).
constexpr std::string_view kIdempotencyKeyHeader = "sluice.idempotency-key";
constexpr std::string_view kErrorHeader = "sluice.error";
constexpr std::string_view kSourceTopicHeader = "sluice.source-topic";
constexpr std::string_view kDlqSuffix = ".dlq";
constexpr std::string_view kUnknownTopicLabel = "_unknown";

// Counts operations in progress and lets Close() wait for them (a gate, as in Seastar).
class Gate {
 public:
  // False once Close() has begun; the caller must not proceed.
  bool Enter() {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    ++count_;
    return true;
  }
  void Leave() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--count_ == 0) cv_.notify_all();
  }
  void CloseAndWait() {
    std::unique_lock<std::mutex> lock(mu_);
    closed_ = true;
    cv_.wait(lock, [&] { return count_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t count_ = 0;
  bool closed_ = false;
};

// Per-thread buffers of the ingest path, reused across requests so that splitting and
// encoding allocate only when a request is larger than any before it on this thread.
struct IngestScratch {
  EventSplitter splitter;
  std::vector<SplitEvent> events;
  std::vector<int32_t> event_partition;           // per event: target partition, -1 = rejected
  std::vector<log::RecordBatchBuilder> builders;  // per partition of the topic
  std::vector<int32_t> per_partition_count;
  log::RecordBatchBuilder dlq_builder;
};

IngestScratch& ThreadScratch() {
  thread_local IngestScratch scratch;
  return scratch;
}

uint64_t HashRequest(std::string_view body, BodyFormat format, std::string_view key_field) {
  uint64_t h = std::hash<std::string_view>()(body);
  h ^= std::hash<std::string_view>()(key_field) * 0x9e3779b97f4a7c15ull;
  h ^= static_cast<uint64_t>(format) << 56;
  return h == 0 ? 1 : h;  // 0 means "unknown" in the idempotency table
}

bool Contains(const std::vector<IdempotencyTable::Append>& appends, PartitionId p) {
  return std::any_of(appends.begin(), appends.end(),
                     [&](const IdempotencyTable::Append& a) { return a.partition == p; });
}

const IdempotencyTable::Append* Find(const std::vector<IdempotencyTable::Append>& appends,
                                     PartitionId p) {
  for (const auto& a : appends) {
    if (a.partition == p) return &a;
  }
  return nullptr;
}

}  // namespace

class EngineImpl;

// One ingest request between its appends and its answer. Each append writes only its own
// slot; the last completion (counted down by `remaining`) assembles the response.
struct PendingIngest {
  struct Slot {
    bool dlq = false;
    PartitionId partition;
    int32_t count = 0;
    Result<log::AppendResult> result = Status::Unavailable("append did not complete");
  };

  EngineImpl* engine = nullptr;
  IngestCallback done;
  IngestResponse response;
  std::string topic;
  std::string idempotency_key;
  std::shared_ptr<log::Topic> topic_handle;
  std::shared_ptr<log::Topic> dlq_handle;
  int64_t start_nanos = 0;
  uint64_t body_bytes = 0;
  // Appends already in the log from an earlier attempt with the same idempotency key.
  IdempotencyTable::Known known;
  // The first accepted event: its partition and position within that partition's batch.
  int32_t first_partition = -1;
  int32_t first_position = 0;
  std::vector<Slot> slots;
  std::atomic<int32_t> remaining{0};
};

class EngineImpl final : public Engine {
 public:
  EngineImpl(EngineOptions options, MetricsRegistry* metrics, std::unique_ptr<log::Log> log)
      : options_(std::move(options)),
        metrics_(metrics),
        clock_(options_.log.clock),
        log_(std::move(log)),
        idempotency_(options_.idempotency_window_ms) {
    events_total_ = metrics->AddCounter("sluice_ingest_events_total",
                                        "Events accepted by the ingest path", {"topic"});
    rejected_total_ =
        metrics->AddCounter("sluice_ingest_rejected_total",
                            "Events rejected and written to the dead-letter topic", {"topic"});
    bytes_total_ = metrics->AddCounter("sluice_ingest_bytes_total",
                                       "Request body bytes received by the ingest path", {"topic"});
    requests_total_ = metrics->AddCounter("sluice_ingest_requests_total",
                                          "Ingest requests by outcome", {"topic", "result"});
    duplicates_total_ = metrics
                            ->AddCounter("sluice_ingest_duplicate_requests_total",
                                         "Ingest requests answered from the idempotency record")
                            ->WithLabels({});
    ack_seconds_ = metrics
                       ->AddHistogram("sluice_ingest_ack_seconds",
                                      "Time from receiving an ingest request to its durable ack",
                                      {}, MetricsRegistry::LatencyBuckets())
                       ->WithLabels({});
    idempotency_keys_ =
        metrics
            ->AddGauge("sluice_idempotency_keys", "Idempotency keys remembered within the window")
            ->WithLabels({});
  }

  ~EngineImpl() override { (void)Close(); }

  Status Recover();

  void Ingest(IngestRequest request, IngestCallback done) override;
  Status DeleteTopic(std::string_view name) override;
  Result<std::vector<StatementResult>> ExecuteSql(std::string_view sql) override {
    if (!ready()) return Status::Unavailable("the engine is not ready");
    return sql_->Execute(sql);
  }
  Result<std::optional<StatementResult>> TryPointQuery(std::string_view sql) override {
    if (!ready()) return std::optional<StatementResult>();  // ExecuteSql gives the error
    return sql_->TryPointQuery(sql);
  }
  Result<std::vector<ResultColumn>> DescribeSql(std::string_view sql) override {
    if (!ready()) return Status::Unavailable("the engine is not ready");
    return sql_->Describe(sql);
  }
  Result<SqlExecutor::VerifyReport> VerifyView(std::string_view view) override {
    if (!ready()) return Status::Unavailable("the engine is not ready");
    return sql_->Verify(view);
  }
  Result<std::unique_ptr<Subscription>> Subscribe(SubscribeRequest request, std::function<void()> notify) override {
    if (!ready()) return Status::Unavailable("the engine is not ready");
    return sql_->Subscribe(request, std::move(notify), options_.subscriptions);
  }
  log::Log& log() override { return *log_; }
  const EngineOptions& options() const override { return options_; }
  bool ready() const override { return ready_.load(std::memory_order_acquire); }
  bool caught_up() override { return ready() && sql_->ViewsCaughtUp(); }
  Status Close() override;

  void OnAppendsDone(std::shared_ptr<PendingIngest> op);

 private:
  Result<std::shared_ptr<log::Topic>> GetTopic(std::string_view name, bool create,
                                               int32_t partitions);
  // Answers a request that failed before any append.
  void Fail(std::string_view topic_label, Status status, const IngestCallback& done);
  void CountRequest(std::string_view topic_label, std::string_view result);

  const EngineOptions options_;
  MetricsRegistry* const metrics_;
  Clock* const clock_;
  std::unique_ptr<log::Log> log_;
  std::unique_ptr<SqlExecutor> sql_;
  IdempotencyTable idempotency_;
  Gate gate_;
  std::atomic<bool> ready_{false};
  std::atomic<uint64_t> round_robin_{0};
  std::mutex close_mu_;
  bool closed_ = false;

  CounterFamily* events_total_;
  CounterFamily* rejected_total_;
  CounterFamily* bytes_total_;
  CounterFamily* requests_total_;
  Counter* duplicates_total_;
  Histogram* ack_seconds_;
  Gauge* idempotency_keys_;
};

Result<std::unique_ptr<Engine>> Engine::Open(EngineOptions options, MetricsRegistry* metrics) {
  options.log.dir = JoinPath(options.data_dir, "log");
  options.log.metrics = metrics;
  if (options.default_partitions < 1) {
    return Status::InvalidArgument("default_partitions must be at least 1");
  }
  SLUICE_RETURN_IF_ERROR(options.log.fs->CreateDirs(options.log.dir));
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<log::Log> log, log::Log::Open(options.log));
  auto engine = std::make_unique<EngineImpl>(std::move(options), metrics, std::move(log));
  SLUICE_RETURN_IF_ERROR(engine->Recover());
  return std::unique_ptr<Engine>(std::move(engine));
}

Status EngineImpl::Recover() {
  SLUICE_ASSIGN_OR_RETURN(sql_, SqlExecutor::Open(options_.log.fs, JoinPath(options_.data_dir, "catalog"), log_.get(),
                                                  options_.default_partitions, metrics_,
                                                  JoinPath(options_.data_dir, "checkpoints"),
                                                  options_.checkpoint_interval_ms, options_.connectors));
  const TimestampMs since = clock_->Now() - options_.idempotency_window_ms;
  for (const log::TopicInfo& info : log_->ListTopics()) {
    SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<log::Topic> topic, log_->GetTopic(info.config.name));
    for (int32_t p = 0; p < topic->partition_count(); ++p) {
      const PartitionId partition(p);
      Status status =
          topic->partition(partition).ScanBatches(since, [&](const log::BatchSummary& batch) {
            std::string_view key;
            std::string_view source_topic;
            for (const auto& [name, value] : batch.first_record_headers) {
              if (name == kIdempotencyKeyHeader) key = value;
              if (name == kSourceTopicHeader) source_topic = value;
            }
            if (key.empty()) return;
            const IdempotencyTable::Append append{partition, batch.base_offset, batch.record_count};
            if (source_topic.empty()) {
              idempotency_.RecoverTopicAppend(info.config.name, key, append, batch.max_timestamp);
            } else {
              idempotency_.RecoverDlqAppend(source_topic, key, append, batch.max_timestamp);
            }
          });
      SLUICE_RETURN_IF_ERROR(status.WithContext(
          fmt::format("rebuilding idempotency keys of {}/{}", info.config.name, p)));
    }
  }
  idempotency_keys_->Set(static_cast<double>(idempotency_.size()));
  SLUICE_LOG_INFO("engine ready: {} idempotency keys within the window", idempotency_.size());
  ready_.store(true, std::memory_order_release);
  return Status::Ok();
}

Result<std::shared_ptr<log::Topic>> EngineImpl::GetTopic(std::string_view name, bool create,
                                                         int32_t partitions) {
  Result<std::shared_ptr<log::Topic>> topic = log_->GetTopic(name);
  if (topic.ok() || topic.status().code() != StatusCode::kNotFound) return topic;
  if (!create) return Status::NotFound(fmt::format("topic '{}' does not exist", name));
  SLUICE_RETURN_IF_ERROR(log::ValidateTopicName(name));
  if (log::IsInternalTopicName(name)) {
    return Status::InvalidArgument(fmt::format("topic names starting with '.' are reserved: '{}'", name));
  }
  return log::GetOrCreateTopic(log_.get(), name, partitions);
}

void EngineImpl::CountRequest(std::string_view topic_label, std::string_view result) {
  requests_total_->WithLabels({std::string(topic_label), std::string(result)})->Inc();
}

void EngineImpl::Fail(std::string_view topic_label, Status status, const IngestCallback& done) {
  CountRequest(topic_label, StatusCodeName(status.code()));
  IngestResponse response;
  response.status = std::move(status);
  done(std::move(response));
}

void EngineImpl::Ingest(IngestRequest request, IngestCallback done) {
  if (!gate_.Enter()) {
    Fail(kUnknownTopicLabel, Status::Unavailable("the engine is shutting down"), done);
    return;
  }
  const int64_t start_nanos = clock_->MonotonicNanos();
  const TimestampMs now = clock_->Now();
  const TimestampMs timestamp = request.received_at.value() != 0 ? request.received_at : now;

  Result<std::shared_ptr<log::Topic>> topic =
      GetTopic(request.topic, options_.auto_create_topics, options_.default_partitions);
  if (!topic.ok()) {
    Fail(kUnknownTopicLabel, topic.status(), done);
    gate_.Leave();
    return;
  }
  const std::string_view key_field = request.key_field.empty()
                                         ? std::string_view((*topic)->config().key_field)
                                         : std::string_view(request.key_field);

  IngestScratch& scratch = ThreadScratch();
  const PaddedBody body(std::move(request.body));
  const SplitOptions split_options{.format = request.format,
                                   .max_event_bytes = options_.max_event_bytes,
                                   .key_field = key_field};
  Status split = scratch.splitter.Split(body, split_options, &scratch.events);
  if (!split.ok()) {
    Fail(request.topic, std::move(split), done);
    gate_.Leave();
    return;
  }

  auto op = std::make_shared<PendingIngest>();
  op->engine = this;
  op->done = std::move(done);
  op->topic = std::move(request.topic);
  op->idempotency_key = std::move(request.idempotency_key);
  op->topic_handle = std::move(topic).value();
  op->start_nanos = start_nanos;
  op->body_bytes = body.size();

  if (!op->idempotency_key.empty()) {
    idempotency_.Expire(now);
    Result<IdempotencyTable::Known> known = idempotency_.Begin(
        op->topic, op->idempotency_key, HashRequest(body.view(), request.format, key_field), now);
    if (!known.ok()) {
      Fail(op->topic, known.status(), op->done);
      gate_.Leave();
      return;
    }
    op->known = std::move(known).value();
  }

  // Partitioning: by key when there is one; otherwise round-robin from a starting point that
  // is a function of the idempotency key, so a retry puts every event where it went before.
  const int32_t partitions = op->topic_handle->partition_count();
  const uint64_t round_robin_start =
      op->idempotency_key.empty()
          ? round_robin_.fetch_add(1, std::memory_order_relaxed)
          : static_cast<uint64_t>(log::PartitionForKey(op->idempotency_key, partitions).value());
  uint64_t unkeyed = 0;

  scratch.builders.resize(static_cast<size_t>(partitions));
  scratch.per_partition_count.assign(static_cast<size_t>(partitions), 0);
  for (auto& builder : scratch.builders) builder.Reset();
  scratch.dlq_builder.Reset();

  const log::RecordHeader tag{kIdempotencyKeyHeader, op->idempotency_key};
  const bool tagged = !op->idempotency_key.empty();
  IngestResponse& response = op->response;
  for (const SplitEvent& event : scratch.events) {
    if (!event.accepted()) {
      ++response.rejected;
      response.errors.push_back(EventError{event.index, std::string(event.error)});
      if (Contains(op->known.dlq, PartitionId(0))) continue;
      const log::RecordHeader headers[] = {
          {kErrorHeader, event.error}, {kSourceTopicHeader, op->topic}, tag};
      const size_t header_count = (tagged && scratch.dlq_builder.record_count() == 0) ? 3 : 2;
      scratch.dlq_builder.Add(timestamp, std::nullopt, event.text,
                              std::span<const log::RecordHeader>(headers, header_count));
      continue;
    }
    ++response.accepted;
    const int32_t p = event.has_key()
                          ? log::PartitionForKey(scratch.splitter.key(event), partitions).value()
                          : static_cast<int32_t>((round_robin_start + unkeyed++) %
                                                 static_cast<uint64_t>(partitions));
    const int32_t position = scratch.per_partition_count[static_cast<size_t>(p)]++;
    if (op->first_partition < 0) {
      op->first_partition = p;
      op->first_position = position;
    }
    if (Contains(op->known.topic, PartitionId(p))) continue;
    log::RecordBatchBuilder& builder = scratch.builders[static_cast<size_t>(p)];
    std::optional<std::string_view> key;
    if (event.has_key()) key = scratch.splitter.key(event);
    const bool first = tagged && builder.record_count() == 0;
    builder.Add(
        timestamp, key, event.text,
        first ? std::span<const log::RecordHeader>(&tag, 1) : std::span<const log::RecordHeader>());
  }

  if (scratch.dlq_builder.record_count() > 0) {
    Result<std::shared_ptr<log::Topic>> dlq =
        GetTopic(op->topic + std::string(kDlqSuffix), /*create=*/true, /*partitions=*/1);
    if (!dlq.ok()) {
      if (!op->idempotency_key.empty()) {
        idempotency_.Finish(op->topic, op->idempotency_key, {}, {}, now);
      }
      Fail(op->topic, dlq.status().WithContext("dead-letter topic"), op->done);
      gate_.Leave();
      return;
    }
    op->dlq_handle = std::move(dlq).value();
  }

  // Issue the appends. `remaining` starts one above the number of appends so that callbacks
  // run inline (fail-fast errors) cannot finish the request before every append is issued.
  for (int32_t p = 0; p < partitions; ++p) {
    const int32_t count = scratch.builders[static_cast<size_t>(p)].record_count();
    if (count > 0) op->slots.push_back({.dlq = false, .partition = PartitionId(p), .count = count});
  }
  if (op->dlq_handle) {
    op->slots.push_back(
        {.dlq = true, .partition = PartitionId(0), .count = scratch.dlq_builder.record_count()});
  }
  op->remaining.store(static_cast<int32_t>(op->slots.size()) + 1, std::memory_order_relaxed);
  for (size_t i = 0; i < op->slots.size(); ++i) {
    PendingIngest::Slot& slot = op->slots[i];
    log::RecordBatchBuilder& builder =
        slot.dlq ? scratch.dlq_builder
                 : scratch.builders[static_cast<size_t>(slot.partition.value())];
    log::Topic& target = slot.dlq ? *op->dlq_handle : *op->topic_handle;
    target.partition(slot.partition).Append(builder.Finish(), [op, i](Result<log::AppendResult> r) {
      op->slots[i].result = std::move(r);
      if (op->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        op->engine->OnAppendsDone(op);
      }
    });
  }
  if (op->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) OnAppendsDone(op);
}

void EngineImpl::OnAppendsDone(std::shared_ptr<PendingIngest> op) {
  IngestResponse& response = op->response;
  std::vector<IdempotencyTable::Append> topic_appends;
  std::vector<IdempotencyTable::Append> dlq_appends;
  Status failure;
  for (const PendingIngest::Slot& slot : op->slots) {
    if (!slot.result.ok()) {
      if (failure.ok()) failure = slot.result.status();
      continue;
    }
    const IdempotencyTable::Append append{slot.partition, slot.result->base_offset, slot.count};
    (slot.dlq ? dlq_appends : topic_appends).push_back(append);
  }
  const TimestampMs now = clock_->Now();
  if (!op->idempotency_key.empty()) {
    idempotency_.Finish(op->topic, op->idempotency_key, topic_appends, dlq_appends, now);
    idempotency_keys_->Set(static_cast<double>(idempotency_.size()));
  }

  if (!failure.ok()) {
    CountRequest(op->topic, StatusCodeName(failure.code()));
    IngestResponse failed;
    failed.status = std::move(failure);
    op->done(std::move(failed));
    gate_.Leave();
    return;
  }

  // Appends of this attempt plus those an earlier attempt with the same key already made.
  for (const auto& known : op->known.topic) {
    if (op->topic_handle->partition_count() > known.partition.value() &&
        known.partition.value() >= 0) {
      topic_appends.push_back(known);
    }
  }
  std::sort(topic_appends.begin(), topic_appends.end(),
            [](const auto& a, const auto& b) { return a.partition < b.partition; });
  for (const auto& a : topic_appends) {
    response.appends.push_back(PartitionAppend{a.partition, a.base_offset, a.count});
  }
  if (op->first_partition >= 0) {
    if (const auto* a = Find(topic_appends, PartitionId(op->first_partition))) {
      response.first_offset = a->base_offset + op->first_position;
    }
  }
  response.duplicate = op->known.seen && op->slots.empty();

  events_total_->WithLabels({op->topic})->Inc(static_cast<double>(response.accepted));
  rejected_total_->WithLabels({op->topic})->Inc(static_cast<double>(response.rejected));
  bytes_total_->WithLabels({op->topic})->Inc(static_cast<double>(op->body_bytes));
  if (response.duplicate) duplicates_total_->Inc();
  CountRequest(op->topic, response.duplicate ? "duplicate" : "ok");
  ack_seconds_->Observe(static_cast<double>(clock_->MonotonicNanos() - op->start_nanos) / 1e9);

  op->done(std::move(response));
  gate_.Leave();
}

Status EngineImpl::DeleteTopic(std::string_view name) {
  SLUICE_RETURN_IF_ERROR(log_->DeleteTopic(name));
  idempotency_.ForgetTopic(name);
  idempotency_keys_->Set(static_cast<double>(idempotency_.size()));
  return Status::Ok();
}

Status EngineImpl::Close() {
  std::lock_guard<std::mutex> lock(close_mu_);
  if (closed_) return Status::Ok();
  closed_ = true;
  ready_.store(false, std::memory_order_release);
  gate_.CloseAndWait();
  if (sql_) sql_->StopViews();  // view threads read the log: stop them before it closes
  return log_->Close();
}

}  // namespace sluice::engine
