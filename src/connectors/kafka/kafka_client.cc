#include "connectors/kafka/kafka_client.h"

#include <fmt/format.h>

#include <chrono>

#include "common/logging.h"
#include "common/thread_name.h"

namespace sluice::connectors {
namespace {

constexpr std::string_view kPropertyPrefix = "properties.";

// Options the engine itself reads (format, dedup, watermark idleness) pass through here.
bool IsEngineOption(std::string_view key) {
  return key == "connector" || key == "format" || key == "idle_timeout" || key == "dedup_key" ||
         key == "dedup_window";
}

// librdkafka properties that sluice sets itself: exactly-once depends on them.
std::string_view ReservedProperty(std::string_view name, bool sink) {
  if (name == "group.id") return "use the option group_id";
  if (name == "transactional.id") return "use the option transactional_id";
  if (name == "enable.idempotence" || name == "isolation.level") return "sluice delivers exactly once";
  if (!sink && name == "auto.offset.reset") return "use the option startup_mode";
  if (!sink && (name == "enable.auto.commit" || name == "enable.auto.offset.store")) {
    return "sluice commits offsets itself, after the events are durable in its log";
  }
  return {};
}

// librdkafka's own log lines go to sluice's log, at the matching level (syslog levels).
void LogFromKafka(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  if (level <= 3) {
    SLUICE_LOG_ERROR("kafka {}: {} {}", rd_kafka_name(rk), facility, message);
  } else if (level == 4) {
    SLUICE_LOG_WARN("kafka {}: {} {}", rd_kafka_name(rk), facility, message);
  } else if (level <= 6) {
    SLUICE_LOG_INFO("kafka {}: {} {}", rd_kafka_name(rk), facility, message);
  }
}

}  // namespace

Result<KafkaOptions> ParseKafkaOptions(const sql::CatalogEntry& entry) {
  const bool sink = entry.kind == sql::ObjectKind::kSink;
  KafkaOptions o;
  if (sink) {
    o.topic = entry.topic;
    o.transactional_id = "sluice-sink-" + entry.name;
  } else {
    o.group_id = "sluice-" + entry.name;
  }
  for (const auto& [key, value] : entry.options) {
    if (IsEngineOption(key) || (sink && key == "key")) continue;
    if (key == "topic") {
      o.topic = value;
    } else if (key == "group_id") {
      if (value.empty()) return Status::InvalidArgument("option 'group_id' must not be empty");
      o.group_id = value;
    } else if (!sink && key == "startup_mode") {
      if (value != "earliest" && value != "latest") {
        return Status::InvalidArgument(
            fmt::format("option 'startup_mode': '{}' is neither 'earliest' nor 'latest'", value));
      }
      o.latest = value == "latest";
    } else if (!sink && key == "scale_out") {
      if (value != "true" && value != "false") {
        return Status::InvalidArgument(fmt::format("option 'scale_out': '{}' is neither 'true' nor 'false'", value));
      }
      o.scale_out = value == "true";
    } else if (sink && key == "transactional_id") {
      if (value.empty()) return Status::InvalidArgument("option 'transactional_id' must not be empty");
      o.transactional_id = value;
    } else if (key.starts_with(kPropertyPrefix) && key.size() > kPropertyPrefix.size()) {
      const std::string name = key.substr(kPropertyPrefix.size());
      if (std::string_view why = ReservedProperty(name, sink); !why.empty()) {
        return Status::InvalidArgument(fmt::format("option '{}' cannot be set: {}", key, why));
      }
      if (name == "bootstrap.servers") o.servers = value;
      o.properties.emplace_back(name, value);
    } else {
      return Status::InvalidArgument(fmt::format(
          "unknown option '{}' for connector 'kafka' (known: topic, properties.bootstrap.servers, "
          "properties.<librdkafka property>, group_id, {})",
          key, sink ? "transactional_id, format, key" : "startup_mode, scale_out, format, dedup_key, dedup_window, idle_timeout"));
    }
  }
  if (sink && o.group_id.empty()) o.group_id = o.transactional_id;
  if (o.topic.empty()) return Status::InvalidArgument("connector 'kafka' needs option 'topic' (the Kafka topic to read)");
  if (o.servers.empty()) {
    return Status::InvalidArgument(
        "connector 'kafka' needs option 'properties.bootstrap.servers' (the cluster's host:port list)");
  }
  return o;
}

Result<ConfPtr> MakeKafkaConf(const KafkaOptions& o, const std::string& client_id,
                              const std::vector<std::pair<std::string, std::string>>& settings) {
  ConfPtr conf(rd_kafka_conf_new());
  rd_kafka_conf_set_log_cb(conf.get(), LogFromKafka);
  char err[512];
  auto set = [&](const std::string& name, const std::string& value, bool user) -> Status {
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      return Status::InvalidArgument(user ? fmt::format("option 'properties.{}': {}", name, err)
                                          : fmt::format("librdkafka property {}: {}", name, err));
    }
    return Status::Ok();
  };
  SLUICE_RETURN_IF_ERROR(set("client.id", client_id, false));
  for (const auto& [name, value] : o.properties) SLUICE_RETURN_IF_ERROR(set(name, value, true));
  for (const auto& [name, value] : settings) SLUICE_RETURN_IF_ERROR(set(name, value, false));
  return conf;
}

Result<KafkaPtr> NewKafkaClient(rd_kafka_type_t type, ConfPtr conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof err);
  if (rk == nullptr) return Status::InvalidArgument(fmt::format("cannot create a Kafka client: {}", err));
  (void)conf.release();  // rd_kafka_new owns it now
  return KafkaPtr(rk);
}

namespace {

std::vector<std::pair<std::string, std::string>> ConsumerSettings(const KafkaOptions& o) {
  return {{"group.id", o.group_id},
          {"enable.auto.commit", "false"},
          {"enable.auto.offset.store", "false"},
          {"enable.partition.eof", "false"},
          {"isolation.level", "read_committed"},
          {"auto.offset.reset", o.latest ? "latest" : "earliest"}};
}

}  // namespace

Result<KafkaPtr> NewKafkaConsumer(const KafkaOptions& o, const std::string& client_id,
                                  const std::function<void(rd_kafka_conf_t*)>& configure) {
  SLUICE_ASSIGN_OR_RETURN(ConfPtr conf, MakeKafkaConf(o, client_id, ConsumerSettings(o)));
  if (configure) configure(conf.get());
  return NewKafkaClient(RD_KAFKA_CONSUMER, std::move(conf));
}

Result<int32_t> KafkaPartitionCount(rd_kafka_t* rk, const KafkaOptions& o, int timeout_ms) {
  std::unique_ptr<rd_kafka_topic_t, void (*)(rd_kafka_topic_t*)> topic(rd_kafka_topic_new(rk, o.topic.c_str(), nullptr),
                                                                      rd_kafka_topic_destroy);
  if (!topic) return Status::InvalidArgument(fmt::format("invalid Kafka topic name '{}'", o.topic));
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, topic.get(), &md, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::Unavailable(fmt::format("cannot reach the Kafka cluster at '{}' (within {} ms): {}", o.servers,
                                           timeout_ms, rd_kafka_err2str(err)));
  }
  std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> owned(md, rd_kafka_metadata_destroy);
  if (md->topic_cnt != 1) return Status::Internal("Kafka metadata answered for another topic");
  const rd_kafka_metadata_topic_t& t = md->topics[0];
  if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || t.err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
      (t.err == RD_KAFKA_RESP_ERR_NO_ERROR && t.partition_cnt == 0)) {
    return Status::NotFound(fmt::format("topic '{}' does not exist in the Kafka cluster at '{}'", o.topic, o.servers));
  }
  if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::Unavailable(fmt::format("Kafka topic '{}': {}", o.topic, rd_kafka_err2str(t.err)));
  }
  return t.partition_cnt;
}

Status KafkaErrorStatus(rd_kafka_error_t* error, std::string_view what) {
  ErrorPtr owned(error);
  return Status::Unavailable(fmt::format("{}: {}", what, rd_kafka_error_string(error)));
}

SinkMetrics NewSinkMetrics(MetricsRegistry* metrics, const std::string& sink) {
  SinkMetrics m;
  if (metrics == nullptr) return m;
  m.errors = metrics
                 ->AddCounter("sluice_kafka_sink_errors_total",
                              "Errors of a Kafka sink connector (unreachable cluster, failed transactions, ...)",
                              {"sink"})
                 ->WithLabels({sink});
  m.records = metrics
                  ->AddCounter("sluice_kafka_sink_records_total",
                               "Records a Kafka sink connector delivered in committed transactions", {"sink"})
                  ->WithLabels({sink});
  m.lag = metrics
              ->AddGauge("sluice_kafka_sink_lag_records",
                         "Committed records of the sink's topic not yet delivered to Kafka", {"sink"})
              ->WithLabels({sink});
  return m;
}

Status ProduceRecord(rd_kafka_t* producer, const std::string& topic, std::optional<std::string_view> key,
                     std::optional<std::string_view> value, int64_t timestamp_ms,
                     std::span<const log::RecordHeader> headers, const std::function<bool()>& stopping) {
  while (true) {
    rd_kafka_headers_t* hdrs = rd_kafka_headers_new(headers.size());
    for (const log::RecordHeader& h : headers) {
      rd_kafka_header_add(hdrs, h.key.data(), static_cast<ssize_t>(h.key.size()), h.value ? h.value->data() : nullptr,
                          h.value ? static_cast<ssize_t>(h.value->size()) : 0);
    }
    const void* key_data = key ? key->data() : nullptr;
    const size_t key_len = key ? key->size() : 0;
    void* value_data = value ? const_cast<char*>(value->data()) : nullptr;
    const size_t value_len = value ? value->size() : 0;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key_data, key_len),
        RD_KAFKA_V_VALUE(value_data, value_len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_TIMESTAMP(timestamp_ms), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();  // the message owns the headers
    rd_kafka_headers_destroy(hdrs);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      return Status::Unavailable(fmt::format("producing to Kafka topic '{}': {}", topic, rd_kafka_err2str(err)));
    }
    if (stopping()) return Status::Unavailable("stopping");
    rd_kafka_poll(producer, 50);  // the queue drains as the cluster acknowledges
  }
}

void FailureLog::Failed(const Status& s) {
  if (errors_ != nullptr) errors_->Inc();
  if (failures_++ % 100 == 0) SLUICE_LOG_WARN("{}: {} (retrying)", what_, s.message());
}

void FailureLog::Recovered() {
  if (failures_ > 0) SLUICE_LOG_INFO("{}: working again", what_);
  failures_ = 0;
}

void KafkaWorker::StartWorker(std::string thread_name) {
  thread_ = std::thread([this, name = std::move(thread_name)] {
    SetThreadName(name);
    int64_t backoff_ms = 100;
    while (!stopping()) {
      Status s = Step();
      if (s.ok()) {
        backoff_ms = 100;
        continue;
      }
      if (stopping()) break;
      failures_.Failed(s);
      Sleep(backoff_ms);
      backoff_ms = std::min<int64_t>(backoff_ms * 2, 5000);
    }
    Finish();
  });
}

void KafkaWorker::StopWorker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool KafkaWorker::stopping() {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_;
}

void KafkaWorker::Sleep(int64_t ms) {
  std::unique_lock<std::mutex> lock(mu_);
  wake_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stop_; });
}

}  // namespace sluice::connectors
