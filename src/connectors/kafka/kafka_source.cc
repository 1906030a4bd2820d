#include "connectors/kafka/kafka_source.h"

#include <librdkafka/rdkafka.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "common/logging.h"
#include "common/thread_name.h"
#include "log/record_batch.h"
#include "log/tagged_batch.h"

namespace sluice::connectors {
namespace {

constexpr std::string_view kPropertyPrefix = "properties.";
constexpr int kMetadataTimeoutMs = 5000;
// A copied batch holds at most this many bytes of keys and values (several batches are
// appended when a poll brought more), and one round polls at most this much.
constexpr size_t kBatchBytes = 1 << 20;
constexpr size_t kRoundBytes = 8 << 20;
constexpr size_t kRoundMessages = 50'000;

// Options the engine itself reads (format, dedup, watermark idleness) pass through here.
bool IsEngineOption(std::string_view key) {
  return key == "connector" || key == "format" || key == "idle_timeout" || key == "dedup_key" ||
         key == "dedup_window";
}

// librdkafka properties that sluice sets itself: exactly-once copying depends on them.
std::string_view ReservedProperty(std::string_view name) {
  if (name == "group.id") return "use the option group_id";
  if (name == "auto.offset.reset") return "use the option startup_mode";
  if (name == "enable.auto.commit" || name == "enable.auto.offset.store") {
    return "sluice commits offsets itself, after the events are durable in its log";
  }
  if (name == "isolation.level") return "sluice reads committed data only";
  return {};
}

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
struct KafkaDeleter {
  void operator()(rd_kafka_t* k) const { rd_kafka_destroy(k); }
};
struct TopicDeleter {
  void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
};
struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
using KafkaPtr = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using TopicPtr = std::unique_ptr<rd_kafka_topic_t, TopicDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

struct SourceOptions {
  std::string topic;
  std::string servers;
  std::string group_id;
  bool latest = false;
  std::vector<std::pair<std::string, std::string>> properties;  // librdkafka names
};

Result<SourceOptions> ParseOptions(const sql::CatalogEntry& entry) {
  SourceOptions o;
  o.group_id = "sluice-" + entry.name;
  for (const auto& [key, value] : entry.options) {
    if (IsEngineOption(key)) continue;
    if (key == "topic") {
      o.topic = value;
    } else if (key == "group_id") {
      if (value.empty()) return Status::InvalidArgument("option 'group_id' must not be empty");
      o.group_id = value;
    } else if (key == "startup_mode") {
      if (value != "earliest" && value != "latest") {
        return Status::InvalidArgument(
            fmt::format("option 'startup_mode': '{}' is neither 'earliest' nor 'latest'", value));
      }
      o.latest = value == "latest";
    } else if (key.starts_with(kPropertyPrefix) && key.size() > kPropertyPrefix.size()) {
      const std::string name = key.substr(kPropertyPrefix.size());
      if (std::string_view why = ReservedProperty(name); !why.empty()) {
        return Status::InvalidArgument(fmt::format("option '{}' cannot be set: {}", key, why));
      }
      if (name == "bootstrap.servers") o.servers = value;
      o.properties.emplace_back(name, value);
    } else {
      return Status::InvalidArgument(fmt::format(
          "unknown option '{}' for connector 'kafka' (known: topic, properties.bootstrap.servers, "
          "properties.<librdkafka property>, group_id, startup_mode, format, dedup_key, dedup_window, idle_timeout)",
          key));
    }
  }
  if (o.topic.empty()) return Status::InvalidArgument("connector 'kafka' needs option 'topic' (the Kafka topic to read)");
  if (o.servers.empty()) {
    return Status::InvalidArgument(
        "connector 'kafka' needs option 'properties.bootstrap.servers' (the cluster's host:port list)");
  }
  return o;
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

// The consumer's configuration: the user's properties, then sluice's own.
Result<ConfPtr> MakeConf(const SourceOptions& o, const std::string& client_id) {
  ConfPtr conf(rd_kafka_conf_new());
  char err[512];
  auto set = [&](const std::string& name, const std::string& value, bool user) -> Status {
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      return Status::InvalidArgument(user ? fmt::format("option 'properties.{}': {}", name, err)
                                          : fmt::format("librdkafka property {}: {}", name, err));
    }
    return Status::Ok();
  };
  rd_kafka_conf_set_log_cb(conf.get(), LogFromKafka);
  SLUICE_RETURN_IF_ERROR(set("client.id", client_id, false));
  for (const auto& [name, value] : o.properties) SLUICE_RETURN_IF_ERROR(set(name, value, true));
  SLUICE_RETURN_IF_ERROR(set("group.id", o.group_id, false));
  SLUICE_RETURN_IF_ERROR(set("enable.auto.commit", "false", false));
  SLUICE_RETURN_IF_ERROR(set("enable.auto.offset.store", "false", false));
  SLUICE_RETURN_IF_ERROR(set("enable.partition.eof", "false", false));
  SLUICE_RETURN_IF_ERROR(set("isolation.level", "read_committed", false));
  SLUICE_RETURN_IF_ERROR(set("auto.offset.reset", o.latest ? "latest" : "earliest", false));
  SLUICE_RETURN_IF_ERROR(set("allow.auto.create.topics", "false", false));
  return conf;
}

Result<KafkaPtr> NewConsumer(const SourceOptions& o, const std::string& client_id) {
  SLUICE_ASSIGN_OR_RETURN(ConfPtr conf, MakeConf(o, client_id));
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err);
  if (rk == nullptr) return Status::InvalidArgument(fmt::format("cannot create a Kafka consumer: {}", err));
  (void)conf.release();  // rd_kafka_new owns it now
  return KafkaPtr(rk);
}

// The number of partitions of the topic, from the cluster's metadata.
Result<int32_t> PartitionCount(rd_kafka_t* rk, const SourceOptions& o, int timeout_ms) {
  TopicPtr topic(rd_kafka_topic_new(rk, o.topic.c_str(), nullptr));
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

Result<log::AppendResult> AppendAndWait(log::Partition& partition, log::EncodedBatch batch) {
  std::promise<Result<log::AppendResult>> done;
  std::future<Result<log::AppendResult>> result = done.get_future();
  partition.Append(std::move(batch), [&done](Result<log::AppendResult> r) { done.set_value(std::move(r)); });
  return result.get();
}

class KafkaSource final : public engine::SourceConnector {
 public:
  KafkaSource(sql::CatalogEntry entry, SourceOptions options, std::shared_ptr<log::Topic> topic,
              MetricsRegistry* metrics)
      : entry_(std::move(entry)), options_(std::move(options)), topic_(std::move(topic)) {
    if (metrics != nullptr) {
      records_ = metrics
                     ->AddCounter("sluice_kafka_source_records_total",
                                  "Records a Kafka source connector copied into the log", {"source"})
                     ->WithLabels({entry_.name});
      errors_ = metrics
                    ->AddCounter("sluice_kafka_source_errors_total",
                                 "Errors of a Kafka source connector (unreachable cluster, failed appends, ...)",
                                 {"source"})
                    ->WithLabels({entry_.name});
      lag_ = metrics
                 ->AddGauge("sluice_kafka_source_lag_records",
                            "Records in the external topic not yet copied (its high watermarks minus the positions)",
                            {"source"})
                 ->WithLabels({entry_.name});
    }
    thread_ = std::thread([this] {
      SetThreadName("kafka-src:" + entry_.name);
      Run();
    });
  }

  ~KafkaSource() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  void Run() {
    int64_t backoff_ms = 100;
    while (!stopping()) {
      Status s = consumer_ ? CopyRound() : Connect();
      if (s.ok()) {
        backoff_ms = 100;
        continue;
      }
      Failed(s);
      Sleep(backoff_ms);
      backoff_ms = std::min<int64_t>(backoff_ms * 2, 5000);
    }
    if (consumer_) (void)rd_kafka_consumer_close(consumer_.get());
    consumer_.reset();
  }

  bool stopping() {
    std::lock_guard<std::mutex> lock(mu_);
    return stop_;
  }
  void Sleep(int64_t ms) {
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stop_; });
  }

  // Logs the first error of a streak (and every 100th), counts each.
  void Failed(const Status& s) {
    if (errors_ != nullptr) errors_->Inc();
    if (failures_++ % 100 == 0) {
      SLUICE_LOG_WARN("source {}: Kafka topic '{}' at '{}': {} (retrying)", entry_.name, options_.topic,
                      options_.servers, s.message());
    }
  }
  void Recovered() {
    if (failures_ > 0) SLUICE_LOG_INFO("source {}: copying from Kafka topic '{}' again", entry_.name, options_.topic);
    failures_ = 0;
  }

  // Creates the consumer and assigns every partition at the offset the log says comes next.
  Status Connect() {
    SLUICE_ASSIGN_OR_RETURN(KafkaPtr rk, NewConsumer(options_, "sluice-source-" + entry_.name));
    SLUICE_ASSIGN_OR_RETURN(int32_t external, PartitionCount(rk.get(), options_, kMetadataTimeoutMs));
    const int32_t local = topic_->partition_count();
    if (external > local) {
      SLUICE_LOG_ERROR(
          "source {}: Kafka topic '{}' has {} partitions but topic '{}' has {}: partitions {}..{} are not copied",
          entry_.name, options_.topic, external, entry_.topic, local, local, external - 1);
    }
    const int32_t copied = std::min(external, local);
    PartitionListPtr assignment(rd_kafka_topic_partition_list_new(copied));
    next_.assign(static_cast<size_t>(copied), -1);
    for (int32_t p = 0; p < copied; ++p) {
      SLUICE_ASSIGN_OR_RETURN(
          std::optional<log::TaggedBatch> last,
          log::FindLastTaggedBatch(topic_->partition(PartitionId(p)), kKafkaSourceHeader, entry_.name,
                                   kKafkaSourceOffsetHeader, /*producer_id=*/-1, Offset(0)));
      int64_t start = options_.latest ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
      if (last) {
        int64_t at = -1;
        const std::string& text = last->progress;
        if (std::from_chars(text.data(), text.data() + text.size(), at).ec != std::errc() || at < 0) {
          return Status::Corruption(fmt::format("topic '{}' partition {}: unreadable Kafka offset tag '{}'",
                                                entry_.topic, p, text));
        }
        start = at;
        next_[static_cast<size_t>(p)] = at;
      }
      rd_kafka_topic_partition_list_add(assignment.get(), options_.topic.c_str(), p)->offset = start;
    }
    rd_kafka_poll_set_consumer(rk.get());  // errors come through rd_kafka_consumer_poll too
    rd_kafka_resp_err_t err = rd_kafka_assign(rk.get(), assignment.get());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Unavailable(fmt::format("cannot assign the partitions: {}", rd_kafka_err2str(err)));
    }
    consumer_ = std::move(rk);
    SLUICE_LOG_INFO("source {}: copying Kafka topic '{}' ({} partitions) at '{}' into topic '{}'", entry_.name,
                    options_.topic, copied, options_.servers, entry_.topic);
    return Status::Ok();
  }

  // Polls what the consumer has (waiting up to 100 ms for the first message) and appends it,
  // partition by partition, in batches tagged with the offset they end at.
  Status CopyRound() {
    std::vector<MessagePtr> messages;
    size_t bytes = 0;
    for (MessagePtr m(rd_kafka_consumer_poll(consumer_.get(), 100)); m;
         m.reset(rd_kafka_consumer_poll(consumer_.get(), 0))) {
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
        Failed(Status::Unavailable(rd_kafka_message_errstr(m.get())));
        if (messages.empty()) return Status::Ok();  // librdkafka retries by itself
        break;
      }
      if (m->partition < 0 || static_cast<size_t>(m->partition) >= next_.size()) continue;
      bytes += m->len + m->key_len;
      messages.push_back(std::move(m));
      if (messages.size() >= kRoundMessages || bytes >= kRoundBytes) break;
    }
    if (messages.empty()) {
      UpdateLag();
      return Status::Ok();
    }
    // Stable: each partition's messages stay in offset order.
    std::stable_sort(messages.begin(), messages.end(),
                     [](const MessagePtr& a, const MessagePtr& b) { return a->partition < b->partition; });
    PartitionListPtr commit(rd_kafka_topic_partition_list_new(static_cast<int>(next_.size())));
    size_t i = 0;
    while (i < messages.size()) {
      const int32_t p = messages[i]->partition;
      size_t end = i;
      size_t batch_bytes = 0;
      while (end < messages.size() && messages[end]->partition == p &&
             (end == i || batch_bytes + messages[end]->len + messages[end]->key_len <= kBatchBytes)) {
        batch_bytes += messages[end]->len + messages[end]->key_len;
        ++end;
      }
      SLUICE_RETURN_IF_ERROR(Append(p, std::span<const MessagePtr>(messages.data() + i, end - i)));
      const int64_t next = messages[end - 1]->offset + 1;
      next_[static_cast<size_t>(p)] = next;
      if (end == messages.size() || messages[end]->partition != p) {
        rd_kafka_topic_partition_list_add(commit.get(), options_.topic.c_str(), p)->offset = next;
      }
      i = end;
    }
    // For Kafka's tooling (consumer lag); sluice resumes from its log, not from these.
    (void)rd_kafka_commit(consumer_.get(), commit.get(), /*async=*/1);
    Recovered();
    UpdateLag();
    return Status::Ok();
  }

  // Appends `messages` (one partition's, in order) as one batch; retries a failed append
  // (a full disk, too much unsynced) until it succeeds or the connector stops.
  Status Append(int32_t p, std::span<const MessagePtr> messages) {
    const std::string progress = std::to_string(messages.back()->offset + 1);
    std::vector<log::RecordHeader> headers;
    builder_.Reset();
    for (size_t k = 0; k < messages.size(); ++k) {
      const rd_kafka_message_t* m = messages[k].get();
      headers.clear();
      if (k == 0) {
        headers.push_back({kKafkaSourceHeader, entry_.name});
        headers.push_back({kKafkaSourceOffsetHeader, progress});
      }
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name = nullptr;
        const void* value = nullptr;
        size_t size = 0;
        for (size_t h = 0; rd_kafka_header_get_all(hdrs, h, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++h) {
          std::optional<std::string_view> v;
          if (value != nullptr) v = std::string_view(static_cast<const char*>(value), size);
          headers.push_back({name, v});
        }
      }
      rd_kafka_timestamp_type_t type;
      int64_t ts = rd_kafka_message_timestamp(m, &type);
      if (ts < 0) ts = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
      std::optional<std::string_view> key;
      if (m->key != nullptr) key = std::string_view(static_cast<const char*>(m->key), m->key_len);
      std::optional<std::string_view> value;
      if (m->payload != nullptr) value = std::string_view(static_cast<const char*>(m->payload), m->len);
      builder_.Add(TimestampMs(ts), key, value, headers);
    }
    const log::EncodedBatch batch = builder_.Finish();
    log::Partition& partition = topic_->partition(PartitionId(p));
    int64_t backoff_ms = 10;
    while (true) {
      Result<log::AppendResult> appended = AppendAndWait(partition, batch);
      if (appended.ok()) break;
      if (stopping()) return Status::Unavailable("stopping");
      Failed(appended.status().WithContext(fmt::format("append to topic '{}' partition {}", entry_.topic, p)));
      Sleep(backoff_ms);
      backoff_ms = std::min<int64_t>(backoff_ms * 2, 1000);
    }
    if (records_ != nullptr) records_->Inc(static_cast<double>(messages.size()));
    return Status::Ok();
  }

  void UpdateLag() {
    if (lag_ == nullptr) return;
    int64_t lag = 0;
    for (size_t p = 0; p < next_.size(); ++p) {
      int64_t low = 0;
      int64_t high = 0;
      if (rd_kafka_get_watermark_offsets(consumer_.get(), options_.topic.c_str(), static_cast<int32_t>(p), &low,
                                         &high) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        continue;
      }
      const int64_t at = std::max(next_[p], low);
      if (high > at) lag += high - at;
    }
    lag_->Set(static_cast<double>(lag));
  }

  const sql::CatalogEntry entry_;
  const SourceOptions options_;
  const std::shared_ptr<log::Topic> topic_;
  Counter* records_ = nullptr;
  Counter* errors_ = nullptr;
  Gauge* lag_ = nullptr;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // GUARDED_BY(mu_)

  // Thread-confined.
  KafkaPtr consumer_;
  std::vector<int64_t> next_;  // per partition: the next external offset to copy (-1: unknown yet)
  log::RecordBatchBuilder builder_;
  int64_t failures_ = 0;

  std::thread thread_;  // last: started once everything above is initialised
};

class KafkaSourceFactory final : public engine::SourceConnectorFactory {
 public:
  Status CheckOptions(const sql::CatalogEntry& entry) const override {
    SLUICE_ASSIGN_OR_RETURN(SourceOptions o, ParseOptions(entry));
    return MakeConf(o, "sluice").status();  // librdkafka checks every property's name and value
  }

  Result<int32_t> Prepare(const sql::CatalogEntry& entry) override {
    SLUICE_ASSIGN_OR_RETURN(SourceOptions o, ParseOptions(entry));
    SLUICE_ASSIGN_OR_RETURN(KafkaPtr rk, NewConsumer(o, "sluice-create-" + entry.name));
    return PartitionCount(rk.get(), o, kMetadataTimeoutMs);
  }

  Result<std::unique_ptr<engine::SourceConnector>> Start(const sql::CatalogEntry& entry,
                                                         std::shared_ptr<log::Topic> topic,
                                                         MetricsRegistry* metrics) override {
    SLUICE_ASSIGN_OR_RETURN(SourceOptions o, ParseOptions(entry));
    return std::unique_ptr<engine::SourceConnector>(new KafkaSource(entry, std::move(o), std::move(topic), metrics));
  }
};

}  // namespace

std::shared_ptr<engine::SourceConnectorFactory> NewKafkaSourceFactory() {
  return std::make_shared<KafkaSourceFactory>();
}

engine::SourceConnectors KafkaConnectors() {
  engine::SourceConnectors connectors;
  connectors.emplace("kafka", NewKafkaSourceFactory());
  return connectors;
}

}  // namespace sluice::connectors
