#include <librdkafka/rdkafka.h>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <functional>
#include <future>
#include <span>
#include <vector>

#include "common/logging.h"
#include "connectors/kafka/kafka_client.h"
#include "connectors/kafka/kafka_connector.h"
#include "log/record_batch.h"
#include "log/tagged_batch.h"

namespace sluice::connectors {
namespace {


// A copied batch holds at most this many bytes of keys and values (several batches are
// appended when a poll brought more), and one round polls at most this much.
constexpr size_t kBatchBytes = 1 << 20;
constexpr size_t kRoundBytes = 8 << 20;
constexpr size_t kRoundMessages = 50'000;

Counter* ErrorCounter(MetricsRegistry* metrics, const std::string& source) {
  if (metrics == nullptr) return nullptr;
  return metrics
      ->AddCounter("sluice_kafka_source_errors_total",
                   "Errors of a Kafka source connector (unreachable cluster, failed appends, ...)", {"source"})
      ->WithLabels({source});
}

class KafkaSource final : public KafkaWorker {
 public:
  KafkaSource(sql::CatalogEntry entry, KafkaOptions options, std::shared_ptr<log::Topic> topic,
              MetricsRegistry* metrics, engine::PartitionOwnership* ownership)
      : KafkaWorker(fmt::format("source {}: Kafka topic '{}' at '{}'", entry.name, options.topic, options.servers),
                    ErrorCounter(metrics, entry.name)),
        entry_(std::move(entry)),
        options_(std::move(options)),
        topic_(std::move(topic)),
        ownership_(ownership) {
    if (metrics != nullptr) {
      records_ = metrics
                     ->AddCounter("sluice_kafka_source_records_total",
                                  "Records a Kafka source connector copied into the log", {"source"})
                     ->WithLabels({entry_.name});
      lag_ = metrics
                 ->AddGauge("sluice_kafka_source_lag_records",
                            "Records in the external topic not yet copied (its high watermarks minus the positions)",
                            {"source"})
                 ->WithLabels({entry_.name});
    }
    StartWorker("kafka-src:" + entry_.name);
  }

  ~KafkaSource() override { StopWorker(); }

 private:
  Status Step() override { return consumer_ ? CopyRound() : Connect(); }

  void Finish() override {
    if (consumer_) (void)rd_kafka_consumer_close(consumer_.get());
    consumer_.reset();
  }

  // Creates the consumer and assigns every partition at the offset the log says comes next.
  Status Connect() {
    std::function<void(rd_kafka_conf_t*)> group_mode;
    if (options_.scale_out) {
      group_mode = [this](rd_kafka_conf_t* conf) {
        rd_kafka_conf_set_opaque(conf, this);
        rd_kafka_conf_set_rebalance_cb(conf, &KafkaSource::OnRebalance);
      };
    }
    SLUICE_ASSIGN_OR_RETURN(KafkaPtr rk, NewKafkaConsumer(options_, "sluice-source-" + entry_.name, group_mode));
    SLUICE_ASSIGN_OR_RETURN(int32_t external, KafkaPartitionCount(rk.get(), options_, kKafkaMetadataTimeoutMs));
    const int32_t local = topic_->partition_count();
    if (external > local) {
      SLUICE_LOG_ERROR(
          "source {}: Kafka topic '{}' has {} partitions but topic '{}' has {}: partitions {}..{} are not copied",
          entry_.name, options_.topic, external, entry_.topic, local, local, external - 1);
    }
    const int32_t copied = std::min(external, local);
    next_.assign(static_cast<size_t>(copied), -1);
    rd_kafka_poll_set_consumer(rk.get());  // errors come through rd_kafka_consumer_poll too
    if (options_.scale_out) {
      // The group decides which partitions this node copies (OnRebalance assigns them).
      PartitionListPtr topics(rd_kafka_topic_partition_list_new(1));
      rd_kafka_topic_partition_list_add(topics.get(), options_.topic.c_str(), RD_KAFKA_PARTITION_UA);
      rd_kafka_resp_err_t err = rd_kafka_subscribe(rk.get(), topics.get());
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return Status::Unavailable(fmt::format("cannot join consumer group '{}': {}", options_.group_id,
                                               rd_kafka_err2str(err)));
      }
      consumer_ = std::move(rk);
      SLUICE_LOG_INFO("source {}: sharing Kafka topic '{}' at '{}' with consumer group '{}'", entry_.name,
                      options_.topic, options_.servers, options_.group_id);
      return Status::Ok();
    }
    PartitionListPtr assignment(rd_kafka_topic_partition_list_new(copied));
    for (int32_t p = 0; p < copied; ++p) {
      SLUICE_ASSIGN_OR_RETURN(int64_t start, ResumeAt(p, options_.latest ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING));
      rd_kafka_topic_partition_list_add(assignment.get(), options_.topic.c_str(), p)->offset = start;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(rk.get(), assignment.get());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Unavailable(fmt::format("cannot assign the partitions: {}", rd_kafka_err2str(err)));
    }
    consumer_ = std::move(rk);
    SLUICE_LOG_INFO("source {}: copying Kafka topic '{}' ({} partitions) at '{}' into topic '{}'", entry_.name,
                    options_.topic, copied, options_.servers, entry_.topic);
    return Status::Ok();
  }

  // Where partition p resumes: right after the last batch the log holds (its tag), else
  // `otherwise`. Sets next_[p] when the log knows.
  Result<int64_t> ResumeAt(int32_t p, int64_t otherwise) {
    SLUICE_ASSIGN_OR_RETURN(std::optional<log::TaggedBatch> last,
                            log::FindLastTaggedBatch(topic_->partition(PartitionId(p)), kKafkaSourceHeader,
                                                     entry_.name, kKafkaSourceOffsetHeader, /*producer_id=*/-1,
                                                     Offset(0)));
    if (!last) return otherwise;
    int64_t at = -1;
    const std::string& text = last->progress;
    if (std::from_chars(text.data(), text.data() + text.size(), at).ec != std::errc() || at < 0) {
      return Status::Corruption(
          fmt::format("topic '{}' partition {}: unreadable Kafka offset tag '{}'", entry_.topic, p, text));
    }
    next_[static_cast<size_t>(p)] = at;
    return at;
  }

  // Scale-out (docs/scale-out.md): the consumer group moved partitions. Called by librdkafka
  // inside rd_kafka_consumer_poll, on the connector's thread. A partition this node gets
  // resumes after its own last copied batch, or at the earliest offset if it never had it,
  // so that its copy holds the partition's whole history; the engine then rebuilds the views.
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                          void* opaque) {
    auto* self = static_cast<KafkaSource*>(opaque);
    std::vector<int32_t> owned;
    self->copying_.assign(self->next_.size(), false);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      for (int i = 0; i < partitions->cnt; ++i) {
        rd_kafka_topic_partition_t& tp = partitions->elems[i];
        if (tp.partition < 0 || static_cast<size_t>(tp.partition) >= self->next_.size()) continue;
        Result<int64_t> start = self->ResumeAt(tp.partition, RD_KAFKA_OFFSET_BEGINNING);
        if (!start.ok()) {
          self->failures_.Failed(start.status());
          continue;  // stays at the group's position; logged
        }
        tp.offset = *start;
        owned.push_back(tp.partition);
        self->copying_[static_cast<size_t>(tp.partition)] = true;
      }
      rd_kafka_assign(rk, partitions);
      SLUICE_LOG_INFO("source {}: this node now copies {} partitions of Kafka topic '{}'", self->entry_.name,
                      owned.size(), self->options_.topic);
    } else {
      rd_kafka_assign(rk, nullptr);
    }
    if (self->ownership_ != nullptr) self->ownership_->Set(std::move(owned));
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
        failures_.Failed(Status::Unavailable(rd_kafka_message_errstr(m.get())));
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
    failures_.Recovered();
    UpdateLag();
    return Status::Ok();
  }

  // Appends `messages` (one partition's, in order) as one batch; retries a failed append
  // (a full disk, too much unsynced) until it succeeds or the connector stops.
  Status Append(int32_t p, std::span<const MessagePtr> messages) {
    const std::string progress = std::to_string(messages.back()->offset + 1);
    std::vector<log::RecordHeader> headers;
    std::string at;
    builder_.Reset();
    for (size_t k = 0; k < messages.size(); ++k) {
      const rd_kafka_message_t* m = messages[k].get();
      headers.clear();
      if (k == 0) {
        headers.push_back({kKafkaSourceHeader, entry_.name});
        headers.push_back({kKafkaSourceOffsetHeader, progress});
      }
      if (k == 0 || m->offset != messages[k - 1]->offset + 1) {
        at = std::to_string(m->offset);
        headers.push_back({kKafkaSourceAtHeader, at});
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
      Result<log::AppendResult> appended = log::AppendAndWait(partition, batch);
      if (appended.ok()) break;
      if (stopping()) return Status::Unavailable("stopping");
      failures_.Failed(appended.status().WithContext(fmt::format("append to topic '{}' partition {}", entry_.topic, p)));
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
      if (!copying_.empty() && !copying_[p]) continue;  // scale-out: another node's partition
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
  const KafkaOptions options_;
  const std::shared_ptr<log::Topic> topic_;
  engine::PartitionOwnership* const ownership_;  // scale-out: null otherwise
  Counter* records_ = nullptr;
  Gauge* lag_ = nullptr;

  // Thread-confined.
  KafkaPtr consumer_;
  std::vector<int64_t> next_;  // per partition: the next external offset to copy (-1: unknown yet)
  std::vector<bool> copying_;  // scale-out: the partitions assigned to this node (empty: all)
  log::RecordBatchBuilder builder_;
};

}  // namespace

std::unique_ptr<engine::Connector> StartKafkaSource(const sql::CatalogEntry& entry, KafkaOptions options,
                                                    std::shared_ptr<log::Topic> topic, MetricsRegistry* metrics,
                                                    engine::PartitionOwnership* ownership) {
  return std::make_unique<KafkaSource>(entry, std::move(options), std::move(topic), metrics, ownership);
}

}  // namespace sluice::connectors
