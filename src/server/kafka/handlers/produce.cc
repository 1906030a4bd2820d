// Produce (key 0), v0-v9 (v0-v2 only with RecordBatch v2 records): validates each partition's RecordBatch v2 (one batch per partition,
// CRC-32C, record framing, decompression for gzip/snappy/lz4/zstd) and appends it to the log
// as received; only the base offset and leader epoch (both outside the CRC) are rewritten.
// acks=0 sends no response; acks=1 and acks=-1 answer once the append is durable per the
// log's fsync policy (sluice has one replica, so "all" = the leader's durable write).
// Transactional batches must belong to a partition added to the producer's open transaction.
#include <atomic>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "server/kafka/broker.h"
#include "server/kafka/errors.h"
#include "server/kafka/produce_validation.h"
#include "server/kafka/producers.h"
#include "server/kafka/transactions.h"

namespace sluice::server::kafka {

namespace {

struct PartitionResult {
  int32_t index = 0;
  ErrorCode error = ErrorCode::kNone;
  int64_t base_offset = -1;
  int64_t log_start_offset = -1;
  std::string message;
};

struct TopicResult {
  std::string name;
  std::vector<PartitionResult> partitions;
};

struct PendingPartition {
  size_t topic = 0;
  size_t partition = 0;
  std::string_view records;
};

// Shared by the append callbacks of one request; the last one to finish answers.
struct ProduceState {
  int16_t version = 0;
  bool flexible = false;
  bool respond = true;
  std::vector<TopicResult> topics;
  std::atomic<int> outstanding{0};
  ResponseCallback done;

  void Finish() {
    if (!respond) {
      Response none;
      none.send = false;
      return done(std::move(none));
    }
    Response r;
    WireWriter w(&r.body, flexible);
    w.ArrayLength(static_cast<int32_t>(topics.size()));
    for (const TopicResult& t : topics) {
      w.String(t.name);
      w.ArrayLength(static_cast<int32_t>(t.partitions.size()));
      for (const PartitionResult& p : t.partitions) {
        if (p.error != ErrorCode::kNone) ++r.errors;
        w.Int32(p.index);
        w.Int16(Wire(p.error));
        w.Int64(p.base_offset);
        if (version >= 2) w.Int64(-1);  // log_append_time_ms: CreateTime topics
        if (version >= 5) w.Int64(p.log_start_offset);
        if (version >= 8) {
          w.ArrayLength(0);  // record_errors
          w.NullableString(p.message.empty() ? std::nullopt : std::optional<std::string_view>(p.message));
        }
        w.EmptyTaggedFields();
      }
      w.EmptyTaggedFields();
    }
    if (version >= 1) w.Int32(0);  // throttle_time_ms
    w.EmptyTaggedFields();
    done(std::move(r));
  }

  void CompleteOne() {
    if (outstanding.fetch_sub(1) == 1) Finish();
  }
};

}  // namespace

void HandleProduce(Broker& broker, const RequestContext& ctx, WireReader& in, ResponseCallback done) {
  auto state = std::make_shared<ProduceState>();
  state->version = ctx.header.api_version;
  state->flexible = in.flexible();
  const std::optional<std::string_view> transactional_id =
      state->version >= 3 ? in.NullableString() : std::nullopt;
  const int16_t acks = in.Int16();
  (void)in.Int32();  // timeout_ms: appends never wait on other replicas
  std::vector<PendingPartition> pending;
  const int32_t topic_count = in.ArrayLength();
  for (int32_t t = 0; t < topic_count && in.ok(); ++t) {
    TopicResult topic;
    topic.name = std::string(in.String());
    const int32_t partition_count = in.ArrayLength(4);
    for (int32_t p = 0; p < partition_count && in.ok(); ++p) {
      PartitionResult result;
      result.index = in.Int32();
      const std::optional<std::string_view> records = in.NullableBytes();
      in.TaggedFields();
      pending.push_back({state->topics.size(), topic.partitions.size(), records.value_or("")});
      topic.partitions.push_back(std::move(result));
    }
    in.TaggedFields();
    state->topics.push_back(std::move(topic));
  }
  in.TaggedFields();
  if (!in.ok()) return done(in.status());

  state->respond = acks != 0;
  state->done = std::move(done);
  const bool valid_acks = acks == 0 || acks == 1 || acks == -1;
  // One extra count keeps the state alive until every partition is dispatched.
  state->outstanding.store(static_cast<int>(pending.size()) + 1);
  for (const PendingPartition& item : pending) {
    const std::string& topic_name = state->topics[item.topic].name;
    PartitionResult& result = state->topics[item.topic].partitions[item.partition];
    const auto fail = [&](ErrorCode code, std::string message) {
      result.error = code;
      result.message = std::move(message);
      state->CompleteOne();
    };
    if (!valid_acks) {
      fail(ErrorCode::kInvalidRequiredAcks, fmt::format("acks must be 0, 1 or -1, not {}", acks));
      continue;
    }
    if (log::IsInternalTopicName(topic_name) || !log::ValidateTopicName(topic_name).ok()) {
      fail(ErrorCode::kInvalidTopicException, fmt::format("invalid topic name \"{}\"", topic_name));
      continue;
    }
    Result<std::shared_ptr<log::Topic>> topic = broker.log().GetTopic(topic_name);
    if (!topic.ok() || result.index < 0 || result.index >= (*topic)->partition_count()) {
      fail(ErrorCode::kUnknownTopicOrPartition, "");
      continue;
    }
    Result<ValidatedBatch> batch = ValidateProducedBatch(item.records, broker.options().max_batch_bytes);
    if (item.records.size() > 16 && item.records[16] != log::kMagicV2) {
      fail(ErrorCode::kUnsupportedForMessageFormat, "only RecordBatch v2 (magic 2) is supported");
      continue;
    }
    if (!batch.ok()) {
      fail(batch.status().code() == StatusCode::kTooLarge ? ErrorCode::kMessageTooLarge
           : batch.status().code() == StatusCode::kCorruption ? ErrorCode::kCorruptMessage
                                                               : ErrorCode::kInvalidRecord,
           batch.status().message());
      continue;
    }
    if (batch->header.is_transactional() != transactional_id.has_value()) {
      fail(ErrorCode::kInvalidTxnState, "transactional batches come with a transactional id, and only they");
      continue;
    }
    if (transactional_id) {
      const ErrorCode txn = broker.transactions().CheckProduce(std::string(*transactional_id), batch->header.producer_id,
                                                               batch->header.producer_epoch, topic_name, result.index);
      if (txn != ErrorCode::kNone) {
        fail(txn, "");
        continue;
      }
    }
    log::Partition& partition = (*topic)->partition(PartitionId(result.index));
    broker.producers().Append(
        &partition, topic_name, std::move(batch).value(),
        [state, &result, &partition, keep = *topic](Result<log::AppendResult> appended,
                                                    ErrorCode sequence_error) {
          if (sequence_error != ErrorCode::kNone) {
            result.error = sequence_error;
          } else if (!appended.ok()) {
            result.error = ErrorCodeFor(appended.status());
            result.message = appended.status().message();
          } else {
            result.base_offset = appended->base_offset.value();
          }
          if (state->version >= 5) result.log_start_offset = partition.Info().start_offset.value();
          state->CompleteOne();
        });
  }
  state->CompleteOne();
}

}  // namespace sluice::server::kafka
