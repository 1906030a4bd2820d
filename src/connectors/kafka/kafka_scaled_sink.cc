#include <librdkafka/rdkafka.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <vector>

#include "common/logging.h"
#include "connectors/kafka/kafka_client.h"
#include "connectors/kafka/kafka_connector.h"
#include "connectors/kafka/source_copy.h"
#include "engine/sink_rows.h"
#include "engine/source_reader.h"

namespace sluice::connectors {
namespace {

// One transaction covers at most about this much of a partition's copy.
constexpr size_t kRoundBytes = 4 << 20;
// How often an idle sink looks for new records and ownership changes.
constexpr int64_t kIdlePollMs = 10;
// An idle partition's position is committed again this often: the sink's group has no
// members, so Kafka expires its offsets offsets.retention.minutes (7 days by default) after
// their last commit, and a task that then found none would send the partition again.
constexpr int64_t kRecommitMs = 3'600'000;
constexpr int kTransactionTimeoutMs = 60'000;

struct GroupMetadataDeleter {
  void operator()(rd_kafka_consumer_group_metadata_t* g) const { rd_kafka_consumer_group_metadata_destroy(g); }
};
using GroupMetadataPtr = std::unique_ptr<rd_kafka_consumer_group_metadata_t, GroupMetadataDeleter>;

std::vector<std::string> ColumnNames(const sql::CatalogEntry& entry) {
  std::vector<std::string> names;
  for (const sql::ColumnSchema& c : entry.columns) names.push_back(c.name);
  return names;
}

int64_t SteadyMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A stateless sink over a scaled-out Kafka source (docs/scale-out.md, "Sinks over a scaled-out
// source"), run as one task per partition p of the source this node owns, as Kafka Streams
// runs exactly-once tasks:
//  - task p's transactional producer is '<transactional_id>-p<p>', whichever node owns p, so a
//    node that takes p over fences the producer of the node that had it, and its
//    InitProducerId ends that node's open transaction;
//  - each transaction carries the rows of the next stretch of the node's copy of p and
//    commits, for the sink's group, the source's external offset in p that stretch ends at;
//  - a task that starts reads that committed offset and resumes at the first record of its
//    own copy at or after it (FindCopyPosition), once the copy has got that far.
// The rows of p therefore reach Kafka exactly once for read_committed readers, whichever
// nodes owned p and however often it moved. One thread runs every task, one after another;
// the tasks share the sink's dataflow (stateless, so a round's rows depend only on what it
// pushed).
class KafkaScaledSink final : public KafkaWorker {
 public:
  KafkaScaledSink(sql::CatalogEntry entry, KafkaOptions options, KafkaOptions source_options,
                  engine::ScaledOutSinkInput input, MetricsRegistry* metrics)
      : KafkaWorker(fmt::format("sink {}: Kafka topic '{}' at '{}'", entry.name, options.topic, options.servers),
                    NewSinkMetrics(metrics, entry.name).errors),
        entry_(std::move(entry)),
        options_(std::move(options)),
        source_topic_(std::move(source_options.topic)),
        rows_(std::make_unique<engine::SinkRowWriter>(ColumnNames(entry_), input.key_column)),
        input_(std::move(input)) {
    input_.dataflow->sink().AddListener(rows_.get());
    const SinkMetrics m = NewSinkMetrics(metrics, entry_.name);
    records_ = m.records;
    lag_ = m.lag;
    if (metrics != nullptr) {
      partitions_ = metrics
                        ->AddGauge("sluice_kafka_sink_partitions",
                                   "Partitions of a scaled-out source a sink delivers on this node (its tasks)",
                                   {"sink"})
                        ->WithLabels({entry_.name});
    }
    StartWorker("kafka-sink:" + entry_.name);
  }

  ~KafkaScaledSink() override { StopWorker(); }

 private:
  struct Task {
    KafkaPtr producer;  // null until started
    GroupMetadataPtr group;
    std::unique_ptr<engine::SourceReader> reader;
    std::optional<Offset> next;  // in the copy; unset until the committed position is found
    int64_t external = -1;       // the committed external offset (where the copy resumes)
    int64_t committed_ms = 0;    // steady clock: the last transaction that committed it
  };

  Status Step() override {
    Follow();
    bool worked = false;
    Status failed;
    int64_t lag = 0;
    for (auto& [p, task] : tasks_) {
      if (stopping()) break;
      Status s = Round(p, task, &worked, &lag);
      if (!s.ok()) {
        // A new producer fences this one and learns the committed position again.
        task = Task();
        if (failed.ok()) failed = s.WithContext(fmt::format("partition {}", p));
      }
    }
    if (lag_ != nullptr) lag_->Set(static_cast<double>(lag));
    if (!failed.ok()) return failed;
    failures_.Recovered();
    if (!worked) Sleep(kIdlePollMs);
    return Status::Ok();
  }

  void Finish() override { tasks_.clear(); }

  // Starts and stops tasks as the source's consumer group moves partitions.
  void Follow() {
    auto [owned, generation] = input_.ownership->Get();
    if (generation == generation_) return;
    generation_ = generation;
    std::map<int32_t, Task> tasks;
    for (int32_t p : owned) {
      if (p < 0 || p >= input_.topic->partition_count()) continue;
      auto it = tasks_.find(p);
      tasks[p] = it != tasks_.end() ? std::move(it->second) : Task();
    }
    // Tasks of revoked partitions end here: between rounds no transaction is open.
    tasks_ = std::move(tasks);
    if (partitions_ != nullptr) partitions_->Set(static_cast<double>(tasks_.size()));
    SLUICE_LOG_INFO("sink {}: delivering {} partitions of source {} on this node", entry_.name, tasks_.size(),
                    input_.source.name);
  }

  // Takes partition p's transactional id (fencing its previous owner) and reads the position
  // its last committed transaction reached.
  Status Start(int32_t p, Task& task) {
    SLUICE_ASSIGN_OR_RETURN(
        ConfPtr conf,
        MakeKafkaConf(options_, fmt::format("sluice-sink-{}-p{}", entry_.name, p),
                      {{"transactional.id", fmt::format("{}-p{}", options_.transactional_id, p)},
                       {"enable.idempotence", "true"},
                       {"transaction.timeout.ms", std::to_string(kTransactionTimeoutMs)}}));
    SLUICE_ASSIGN_OR_RETURN(KafkaPtr producer, NewKafkaClient(RD_KAFKA_PRODUCER, std::move(conf)));
    if (rd_kafka_error_t* e = rd_kafka_init_transactions(producer.get(), kTransactionTimeoutMs)) {
      return KafkaErrorStatus(e, "starting the transactional producer");
    }
    // Only now (the previous owner's transaction is over) is the committed position final.
    SLUICE_ASSIGN_OR_RETURN(KafkaPtr consumer,
                            NewKafkaConsumer(options_, fmt::format("sluice-sink-position-{}-p{}", entry_.name, p)));
    PartitionListPtr position(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(position.get(), source_topic_.c_str(), p);
    rd_kafka_resp_err_t err = rd_kafka_committed(consumer.get(), position.get(), kTransactionTimeoutMs);
    (void)rd_kafka_consumer_close(consumer.get());
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) err = position->elems[0].err;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Unavailable(
          fmt::format("reading the sink's position (group '{}'): {}", options_.group_id, rd_kafka_err2str(err)));
    }
    task.external = position->elems[0].offset >= 0 ? position->elems[0].offset : -1;
    task.group.reset(rd_kafka_consumer_group_metadata_new(options_.group_id.c_str()));
    task.reader = std::make_unique<engine::SourceReader>(input_.dataflow.get(), 0, input_.topic->partition_count(),
                                                         input_.source.idle_timeout_ms);
    task.producer = std::move(producer);
    task.next.reset();
    task.committed_ms = SteadyMillis();
    SLUICE_LOG_INFO("sink {}: partition {} of source {} resumes at its external offset {}", entry_.name, p,
                    input_.source.name, task.external);
    return Status::Ok();
  }

  // Sends the rows of the next stretch of partition p's copy in one transaction.
  Status Round(int32_t p, Task& task, bool* worked, int64_t* lag) {
    if (!task.producer) {
      SLUICE_RETURN_IF_ERROR(Start(p, task));
      *worked = true;
    }
    log::Partition& partition = input_.topic->partition(PartitionId(p));
    if (!task.next) {
      SLUICE_ASSIGN_OR_RETURN(task.next, FindCopyPosition(partition, input_.source.name, task.external));
      if (!task.next) return Status::Ok();  // the copy has not reached the position yet
    }
    const Offset readable = engine::ReadableEnd(partition);
    *lag += std::max<int64_t>(readable.value() - task.next->value(), 0);
    if (*task.next >= readable) {
      if (task.external < 0 || SteadyMillis() - task.committed_ms < kRecommitMs) return Status::Ok();
      return Deliver(p, task, {}, task.external);  // keeps the position from expiring
    }
    // The stretch: whole batches from *next, ending after the last tagged one read.
    SLUICE_ASSIGN_OR_RETURN(log::ReadResult read, partition.Read(*task.next, kRoundBytes));
    SLUICE_ASSIGN_OR_RETURN(std::vector<CopiedBatch> batches, ScanCopiedBatches(read.bytes, input_.source.name));
    Offset until = *task.next;
    int64_t external = task.external;
    for (const CopiedBatch& b : batches) {
      if (b.end > readable) break;
      until = b.end;
      if (b.external_end >= 0) external = b.external_end;
    }
    if (until <= *task.next) return Status::Ok();
    *worked = true;
    (void)rows_->Take();  // rows a failed round of any task left behind are not this stretch's
    Offset at = *task.next;
    engine::SourceReader::Progress progress;
    while (at < until) {
      SLUICE_ASSIGN_OR_RETURN(bool more, task.reader->ReadStep(partition, &at, until, kRoundBytes, &progress,
                                                               SteadyMillis()));
      if (!more) break;
    }
    if (at < until) {  // never skip what the transaction would say was delivered
      return Status::Internal(fmt::format("read of the copy stopped at offset {} before {}", at.value(), until.value()));
    }
    SLUICE_RETURN_IF_ERROR(task.reader->Finish());
    SLUICE_RETURN_IF_ERROR(input_.dataflow->FlushChanges());
    std::vector<engine::SinkRow> rows = rows_->Take();
    if (rows.empty() && external <= task.external) {  // nothing to send, no position to move
      task.next = until;
      return Status::Ok();
    }
    SLUICE_RETURN_IF_ERROR(Deliver(p, task, rows, external));
    task.next = until;
    return Status::Ok();
  }

  // One transaction: `rows`, and the source's external offset `external` (if known) in p.
  Status Deliver(int32_t p, Task& task, const std::vector<engine::SinkRow>& rows, int64_t external) {
    if (rd_kafka_error_t* e = rd_kafka_begin_transaction(task.producer.get())) {
      return KafkaErrorStatus(e, "beginning a transaction");
    }
    for (const engine::SinkRow& row : rows) SLUICE_RETURN_IF_ERROR(Produce(task, row));
    if (external >= 0) {
      PartitionListPtr position(rd_kafka_topic_partition_list_new(1));
      rd_kafka_topic_partition_list_add(position.get(), source_topic_.c_str(), p)->offset = external;
      if (rd_kafka_error_t* e = rd_kafka_send_offsets_to_transaction(task.producer.get(), position.get(),
                                                                     task.group.get(), kTransactionTimeoutMs)) {
        return KafkaErrorStatus(e, "committing the sink's position in the transaction");
      }
    }
    if (rd_kafka_error_t* e = rd_kafka_commit_transaction(task.producer.get(), kTransactionTimeoutMs)) {
      return KafkaErrorStatus(e, "committing the transaction");
    }
    task.external = std::max(task.external, external);
    task.committed_ms = SteadyMillis();
    if (records_ != nullptr) records_->Inc(static_cast<double>(rows.size()));
    return Status::Ok();
  }

  Status Produce(Task& task, const engine::SinkRow& row) {
    const log::RecordHeader op[] = {{engine::kSinkOpHeader, row.retraction ? "delete" : "insert"}};
    return ProduceRecord(task.producer.get(), options_.topic, row.key, row.json, /*timestamp_ms=*/0, op,
                         [this] { return stopping(); });
  }

  const sql::CatalogEntry entry_;
  const KafkaOptions options_;
  const std::string source_topic_;  // the source's external topic, whose offsets are committed
  std::unique_ptr<engine::SinkRowWriter> rows_;  // the dataflow's listener (outlives the dataflow)
  engine::ScaledOutSinkInput input_;
  Counter* records_ = nullptr;
  Gauge* lag_ = nullptr;
  Gauge* partitions_ = nullptr;

  // Thread-confined.
  uint64_t generation_ = 0;        // of the ownership the tasks follow
  std::map<int32_t, Task> tasks_;  // by source partition
};

}  // namespace

std::unique_ptr<engine::Connector> StartKafkaScaledSink(const sql::CatalogEntry& entry, KafkaOptions options,
                                                        KafkaOptions source_options, engine::ScaledOutSinkInput input,
                                                        MetricsRegistry* metrics) {
  return std::make_unique<KafkaScaledSink>(entry, std::move(options), std::move(source_options), std::move(input),
                                           metrics);
}

}  // namespace sluice::connectors
