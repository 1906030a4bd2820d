#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/metrics.h"
#include "common/result.h"
#include "common/types.h"
#include "engine/sql_executor.h"
#include "engine/connector.h"
#include "engine/subscription.h"
#include "log/log.h"

namespace sluice::engine {

// The one interface that every network edge (HTTP, later pgwire and the Kafka protocol) calls:
// ingest events, administer topics, read the log. Protocol-specific error codes do not exist
// below this line; edges map Status codes to their own.

struct EngineOptions {
  std::string data_dir = "./sluice-data";
  log::LogOptions log;  // log.dir is set to <data_dir>/log by Open
  bool auto_create_topics = true;
  int32_t default_partitions = 4;
  // A repeated ingest request with the same Idempotency-Key (and topic) within this window is
  // acknowledged again without appending twice. Survives restarts (rebuilt from the log).
  int64_t idempotency_window_ms = 10 * 60 * 1000;
  size_t max_event_bytes = 1 << 20;  // one event (one JSON object) at most
  // Views and sinks checkpoint their state under <data_dir>/checkpoints this often.
  int64_t checkpoint_interval_ms = 1000;
  // Subscriptions: per-subscriber buffers and per-view history (engine/subscription.h).
  SubscriptionLimits subscriptions;
  // External connectors for sources and tables (`connector = 'kafka'`), by name.
  Connectors connectors;
};

enum class BodyFormat : uint8_t {
  kAuto,    // sniff: '[' = JSON array, one JSON object = single event, else NDJSON
  kNdjson,  // one JSON object per line
  kJson,    // a JSON array of objects, or a single object (sniffed like kAuto, so an NDJSON
            // body sent as application/json still splits by lines)
};

struct IngestRequest {
  std::string topic;
  std::string body;
  BodyFormat format = BodyFormat::kAuto;
  std::string key_field;        // ?key=FIELD; empty = topic's key field, else round-robin
  std::string idempotency_key;  // empty = none
  TimestampMs received_at;      // log timestamp for the records; 0 = engine clock
};

struct EventError {
  int64_t index = 0;  // position of the event in the request, 0-based
  std::string error;
};

struct PartitionAppend {
  PartitionId partition;
  Offset first_offset;
  int32_t count = 0;
};

struct IngestResponse {
  // Not ok: nothing of the request was acknowledged. Codes: kNotFound (unknown topic),
  // kInvalidArgument (body cannot be split into events), kTooLarge, kResourceExhausted
  // (overload: retry), kNoSpace / kUnavailable (retry later), kFailedPrecondition
  // (same Idempotency-Key in flight).
  Status status;
  int64_t accepted = 0;
  int64_t rejected = 0;
  std::optional<Offset> first_offset;  // offset of the first accepted event, in its partition
  std::vector<PartitionAppend> appends;
  std::vector<EventError> errors;
  bool duplicate = false;  // answered from the idempotency record, nothing appended
};

using IngestCallback = std::function<void(IngestResponse)>;

class Engine {
 public:
  virtual ~Engine() = default;

  // Opens the log under options.data_dir (recovering it) and rebuilds idempotency state.
  // `metrics` must outlive the engine.
  static Result<std::unique_ptr<Engine>> Open(EngineOptions options, MetricsRegistry* metrics);

  // Validates, partitions and appends the request's events; calls `done` exactly once, after
  // the accepted events (and the rejected ones, in <topic>.dlq) are durable per the fsync
  // policy, possibly on another thread. Never blocks on I/O.
  virtual void Ingest(IngestRequest request, IngestCallback done) = 0;

  // Deletes the topic from the log and forgets its idempotency keys (a recreated topic starts
  // afresh). kNotFound if there is no such topic. Its dead-letter topic is kept.
  virtual Status DeleteTopic(std::string_view name) = 0;

  // Runs one or more SQL statements (SPEC §3); see SqlExecutor::Execute for the contract.
  virtual Result<std::vector<StatementResult>> ExecuteSql(std::string_view sql) = 0;
  // Runs a point query on a view now if it can without waiting (SqlExecutor::TryPointQuery);
  // nullopt: run it with ExecuteSql on a thread that may block.
  virtual Result<std::optional<StatementResult>> TryPointQuery(std::string_view sql) {
    (void)sql;
    return std::optional<StatementResult>();
  }
  // The columns one statement would return, without running it (SqlExecutor::Describe).
  virtual Result<std::vector<ResultColumn>> DescribeSql(std::string_view sql) = 0;
  // Recomputes a view in batch and compares it with its state (SqlExecutor::Verify).
  virtual Result<SqlExecutor::VerifyReport> VerifyView(std::string_view view) = 0;

  // Subscribes to a materialized view's changes (SqlExecutor::Subscribe; docs/subscriptions.md):
  // Poll the result for a snapshot, then change batches, then the end (view dropped, server
  // stopping). `notify` runs (on any thread, must not block) when there is something new to Poll.
  // Delivery never makes the view wait: a subscriber that falls behind is resynced.
  virtual Result<std::unique_ptr<Subscription>> Subscribe(SubscribeRequest request, std::function<void()> notify) {
    (void)request;
    (void)notify;
    return Status::Unavailable("this engine has no subscriptions");
  }

  virtual log::Log& log() = 0;
  virtual const EngineOptions& options() const = 0;
  // True once every view and sink restored at start has caught up with its inputs (GET /ready).
  virtual bool caught_up() { return true; }
  // True once recovery is done and the engine accepts traffic.
  virtual bool ready() const = 0;

  // Stops accepting, completes in-flight appends, syncs and closes the log. Idempotent.
  virtual Status Close() = 0;
};

}  // namespace sluice::engine
