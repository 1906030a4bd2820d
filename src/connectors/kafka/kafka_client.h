#pragma once

// Shared by the Kafka source and sink connectors: their options, librdkafka handles owned
// by unique_ptr, and the cluster's metadata. Internal to src/connectors/kafka.

#include <librdkafka/rdkafka.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/metrics.h"
#include "common/result.h"
#include "engine/connector.h"
#include "log/log.h"
#include "log/record_batch.h"
#include "sql/catalog.h"

namespace sluice::connectors {

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
struct KafkaDeleter {
  void operator()(rd_kafka_t* k) const { rd_kafka_destroy(k); }
};
struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
};
struct ErrorDeleter {
  void operator()(rd_kafka_error_t* e) const { rd_kafka_error_destroy(e); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
using KafkaPtr = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;
using ErrorPtr = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;

// How long a metadata request (does the cluster answer, does the topic exist) may take.
inline constexpr int kKafkaMetadataTimeoutMs = 5000;

// A source's, table's or sink's WITH options for connector 'kafka' (kafka_connector.h).
struct KafkaOptions {
  std::string topic;    // external
  std::string servers;  // properties.bootstrap.servers
  std::string group_id;
  bool latest = false;           // sources: startup_mode = 'latest'
  std::string transactional_id;  // sinks
  bool scale_out = false;        // sources: share the partitions with the consumer group
  std::vector<std::pair<std::string, std::string>> properties;  // librdkafka names, as given
};
Result<KafkaOptions> ParseKafkaOptions(const sql::CatalogEntry& entry);

// A client's configuration: sluice's log callback and client.id, the user's properties, then
// `settings` (sluice's own, which the options cannot override).
Result<ConfPtr> MakeKafkaConf(const KafkaOptions& options, const std::string& client_id,
                              const std::vector<std::pair<std::string, std::string>>& settings);
Result<KafkaPtr> NewKafkaClient(rd_kafka_type_t type, ConfPtr conf);
// A consumer for options.group_id, reading committed data only; it never commits by itself,
// and starts where startup_mode says when a partition has no position yet.
// `configure` (optional) adjusts the configuration last (callbacks).
Result<KafkaPtr> NewKafkaConsumer(const KafkaOptions& options, const std::string& client_id,
                                  const std::function<void(rd_kafka_conf_t*)>& configure = {});

// The number of partitions of options.topic: kUnavailable if the cluster does not answer
// within `timeout_ms`, kNotFound if it has no such topic.
Result<int32_t> KafkaPartitionCount(rd_kafka_t* rk, const KafkaOptions& options, int timeout_ms);

// A librdkafka error object as a Status (kUnavailable), consuming it.
Status KafkaErrorStatus(rd_kafka_error_t* error, std::string_view what);

// The metrics every Kafka sink connector exports, labelled by sink (all null without a
// registry).
struct SinkMetrics {
  Counter* errors = nullptr;
  Counter* records = nullptr;
  Gauge* lag = nullptr;
};
SinkMetrics NewSinkMetrics(MetricsRegistry* metrics, const std::string& sink);

// Produces one record (copied) to `topic`, polling while the producer's queue is full;
// kUnavailable on any other error, or once `stopping()` says so while waiting.
// timestamp_ms 0: the producer's clock.
Status ProduceRecord(rd_kafka_t* producer, const std::string& topic, std::optional<std::string_view> key,
                     std::optional<std::string_view> value, int64_t timestamp_ms,
                     std::span<const log::RecordHeader> headers, const std::function<bool()>& stopping);

// Logs the first failure of a streak and every 100th, counts each; says when it recovers.
class FailureLog {
 public:
  FailureLog(std::string what, Counter* errors) : what_(std::move(what)), errors_(errors) {}
  void Failed(const Status& s);
  void Recovered();

 private:
  const std::string what_;
  Counter* const errors_;
  int64_t failures_ = 0;
};

// A connector's thread: runs Step() until stopped, backing off (100 ms doubling to 5 s) after
// a step that failed. A derived class calls StartWorker() at the end of its constructor and
// StopWorker() at the start of its destructor (the thread uses its members).
class KafkaWorker : public engine::Connector {
 protected:
  KafkaWorker(std::string what, Counter* errors) : failures_(std::move(what), errors) {}
  void StartWorker(std::string thread_name);
  void StopWorker();
  bool stopping();
  // Waits `ms` or until stopped.
  void Sleep(int64_t ms);
  // One unit of work; an error is logged (FailureLog) and the step retried after a backoff.
  virtual Status Step() = 0;
  // On the thread, after the last step.
  virtual void Finish() {}

  FailureLog failures_;

 private:
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

std::unique_ptr<engine::Connector> StartKafkaSource(const sql::CatalogEntry& entry, KafkaOptions options,
                                                    std::shared_ptr<log::Topic> topic, MetricsRegistry* metrics,
                                                    engine::PartitionOwnership* ownership);
std::unique_ptr<engine::Connector> StartKafkaScaledSink(const sql::CatalogEntry& entry, KafkaOptions options,
                                                        KafkaOptions source_options, engine::ScaledOutSinkInput input,
                                                        MetricsRegistry* metrics);
std::unique_ptr<engine::Connector> StartKafkaSink(const sql::CatalogEntry& entry, KafkaOptions options,
                                                  std::shared_ptr<log::Topic> topic, MetricsRegistry* metrics);

}  // namespace sluice::connectors
