#include <librdkafka/rdkafka.h>

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "common/logging.h"
#include "connectors/kafka/kafka_client.h"
#include "connectors/kafka/kafka_connector.h"
#include "log/record_batch.h"

namespace sluice::connectors {
namespace {

// One Kafka transaction carries at most about this much of the sink's topic.
constexpr size_t kTransactionBytes = 4 << 20;
// How often an idle sink looks for newly committed rows.
constexpr int64_t kIdlePollMs = 10;
constexpr int kTransactionTimeoutMs = 60'000;

// The engine's bookkeeping headers on a sink's records (which sink, which input offsets) stay
// in sluice; `sluice-op` (insert or delete) goes along with each row.
bool IsBookkeepingHeader(std::string_view key) { return key.starts_with("sluice-sink"); }

// Sends the committed records of partition 0 of the sink's topic to the external topic, in
// Kafka transactions that also commit (for options.group_id, as the offset of the external
// topic's partition 0) the position in the sink's topic they reach. After a crash, a new
// producer with the same transactional id fences the old one and aborts its open transaction;
// the committed position then says exactly where to go on.
class KafkaSink final : public KafkaWorker {
 public:
  KafkaSink(sql::CatalogEntry entry, KafkaOptions options, std::shared_ptr<log::Topic> topic, MetricsRegistry* metrics)
      : KafkaWorker(fmt::format("sink {}: Kafka topic '{}' at '{}'", entry.name, options.topic, options.servers),
                    NewSinkMetrics(metrics, entry.name).errors),
        entry_(std::move(entry)),
        options_(std::move(options)),
        topic_(std::move(topic)) {
    const SinkMetrics m = NewSinkMetrics(metrics, entry_.name);
    records_ = m.records;
    lag_ = m.lag;
    StartWorker("kafka-sink:" + entry_.name);
  }

  ~KafkaSink() override { StopWorker(); }

 private:
  Status Step() override {
    if (!producer_) return Connect();
    Status s = SendRound();
    if (!s.ok()) Reset();  // a new producer fences this one and learns the committed position
    return s;
  }

  void Finish() override { Reset(); }

  void Reset() {
    // Destroying the producer leaves an open transaction to the coordinator, which aborts it
    // when the next producer with this transactional id starts (or after its timeout).
    producer_.reset();
    if (group_) {
      rd_kafka_consumer_group_metadata_destroy(group_);
      group_ = nullptr;
    }
  }

  // A transactional producer, and the position the last committed transaction reached.
  Status Connect() {
    SLUICE_ASSIGN_OR_RETURN(
        ConfPtr conf,
        MakeKafkaConf(options_, "sluice-sink-" + entry_.name,
                      {{"transactional.id", options_.transactional_id},
                       {"enable.idempotence", "true"},
                       {"transaction.timeout.ms", std::to_string(kTransactionTimeoutMs)}}));
    SLUICE_ASSIGN_OR_RETURN(KafkaPtr producer, NewKafkaClient(RD_KAFKA_PRODUCER, std::move(conf)));
    SLUICE_RETURN_IF_ERROR(KafkaPartitionCount(producer.get(), options_, kKafkaMetadataTimeoutMs).status());
    if (rd_kafka_error_t* e = rd_kafka_init_transactions(producer.get(), kTransactionTimeoutMs)) {
      return KafkaErrorStatus(e, "starting the transactional producer");
    }
    // Only now (the previous producer's transaction is over) is the committed position final.
    SLUICE_ASSIGN_OR_RETURN(KafkaPtr consumer, NewKafkaConsumer(options_, "sluice-sink-position-" + entry_.name));
    PartitionListPtr position(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(position.get(), options_.topic.c_str(), 0);
    rd_kafka_resp_err_t err = rd_kafka_committed(consumer.get(), position.get(), kTransactionTimeoutMs);
    (void)rd_kafka_consumer_close(consumer.get());
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) err = position->elems[0].err;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Unavailable(
          fmt::format("reading the sink's position (group '{}'): {}", options_.group_id, rd_kafka_err2str(err)));
    }
    const int64_t committed = position->elems[0].offset;
    const int64_t start = topic_->partition(PartitionId(0)).Info().start_offset.value();
    next_ = committed >= 0 ? committed : start;
    group_ = rd_kafka_consumer_group_metadata_new(options_.group_id.c_str());
    producer_ = std::move(producer);
    SLUICE_LOG_INFO("sink {}: delivering topic '{}' from offset {} to Kafka topic '{}' at '{}'", entry_.name,
                    entry_.topic, next_, options_.topic, options_.servers);
    return Status::Ok();
  }

  // Sends what was committed in the sink's topic since the last round, in one transaction.
  Status SendRound() {
    log::Partition& partition = topic_->partition(PartitionId(0));
    const int64_t start = partition.Info().start_offset.value();
    if (next_ < start) {
      SLUICE_LOG_ERROR("sink {}: retention removed offsets {}..{} of topic '{}' before they reached Kafka",
                       entry_.name, next_, start - 1, entry_.topic);
      next_ = start;
    }
    SLUICE_ASSIGN_OR_RETURN(log::Partition::CommittedView committed, partition.Committed(Offset(next_)));
    const int64_t stable = committed.last_stable_offset.value();
    if (lag_ != nullptr) lag_->Set(static_cast<double>(std::max<int64_t>(stable - next_, 0)));
    if (next_ >= stable) {
      Sleep(kIdlePollMs);
      return Status::Ok();
    }
    SLUICE_ASSIGN_OR_RETURN(log::ReadResult read, partition.Read(Offset(next_), kTransactionBytes));
    if (read.bytes.empty()) {
      Sleep(kIdlePollMs);
      return Status::Ok();
    }
    if (rd_kafka_error_t* e = rd_kafka_begin_transaction(producer_.get())) {
      return KafkaErrorStatus(e, "beginning a transaction");
    }
    log::RecordReader reader(read.bytes, Offset(next_), committed.aborted);
    log::Record record;
    int64_t sent = 0;
    int64_t upto = next_;
    while (reader.Next(&record) && record.offset.value() < stable) {
      SLUICE_RETURN_IF_ERROR(Produce(record));
      upto = record.offset.value() + 1;
      ++sent;
    }
    SLUICE_RETURN_IF_ERROR(reader.status());
    // Control batches and aborted data below the stable offset are passed over too.
    const int64_t reached = std::min(std::max(read.next_offset.value(), upto), stable);
    PartitionListPtr position(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(position.get(), options_.topic.c_str(), 0)->offset = reached;
    if (rd_kafka_error_t* e =
            rd_kafka_send_offsets_to_transaction(producer_.get(), position.get(), group_, kTransactionTimeoutMs)) {
      return KafkaErrorStatus(e, "committing the sink's position in the transaction");
    }
    if (rd_kafka_error_t* e = rd_kafka_commit_transaction(producer_.get(), kTransactionTimeoutMs)) {
      return KafkaErrorStatus(e, "committing the transaction");
    }
    next_ = reached;
    if (records_ != nullptr) records_->Inc(static_cast<double>(sent));
    failures_.Recovered();
    return Status::Ok();
  }

  Status Produce(const log::Record& record) {
    headers_.clear();
    for (const log::RecordHeader& h : record.headers) {
      if (!IsBookkeepingHeader(h.key)) headers_.push_back(h);
    }
    return ProduceRecord(producer_.get(), options_.topic, record.key, record.value, record.timestamp.value(), headers_,
                         [this] { return stopping(); });
  }

  const sql::CatalogEntry entry_;
  const KafkaOptions options_;
  const std::shared_ptr<log::Topic> topic_;
  Counter* records_ = nullptr;
  Gauge* lag_ = nullptr;

  // Thread-confined.
  KafkaPtr producer_;
  rd_kafka_consumer_group_metadata_t* group_ = nullptr;
  int64_t next_ = 0;  // the first offset of the sink's topic not delivered yet
  std::vector<log::RecordHeader> headers_;  // Produce's scratch
};

}  // namespace

std::unique_ptr<engine::Connector> StartKafkaSink(const sql::CatalogEntry& entry, KafkaOptions options,
                                                  std::shared_ptr<log::Topic> topic, MetricsRegistry* metrics) {
  return std::make_unique<KafkaSink>(entry, std::move(options), std::move(topic), metrics);
}

}  // namespace sluice::connectors
