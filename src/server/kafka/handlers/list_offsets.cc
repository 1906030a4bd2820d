// ListOffsets (key 2), v1-v6: the earliest (-2) or latest (-1) offset of a partition (for
// read_committed, the last stable offset), or the first offset whose record timestamp is >= a
// given time (with that record's timestamp).
#include "server/kafka/broker.h"
#include "server/kafka/errors.h"
#include "server/kafka/producers.h"

namespace sluice::server::kafka {

namespace {

constexpr int64_t kLatest = -1;
constexpr int64_t kEarliest = -2;

struct Answer {
  ErrorCode error = ErrorCode::kNone;
  int64_t timestamp = -1;
  int64_t offset = -1;
};

Answer Find(Broker& broker, std::string_view topic_name, int32_t index, int64_t timestamp, bool read_committed) {
  if (log::IsInternalTopicName(topic_name)) return {ErrorCode::kUnknownTopicOrPartition};
  Result<std::shared_ptr<log::Topic>> topic = broker.log().GetTopic(topic_name);
  if (!topic.ok() || index < 0 || index >= (*topic)->partition_count()) return {ErrorCode::kUnknownTopicOrPartition};
  log::Partition& partition = (*topic)->partition(PartitionId(index));
  const log::PartitionInfo info = partition.Info();
  if (timestamp == kLatest && read_committed) {
    Result<log::Partition::CommittedView> view =
        broker.producers().ViewFrom(&partition, std::string(topic_name), info.end_offset);
    if (!view.ok()) return {ErrorCodeFor(view.status())};
    return {ErrorCode::kNone, -1, view->last_stable_offset.value()};
  }
  if (timestamp == kLatest) return {ErrorCode::kNone, -1, info.end_offset.value()};
  if (timestamp == kEarliest) return {ErrorCode::kNone, -1, info.start_offset.value()};
  if (timestamp < 0) return {ErrorCode::kInvalidRequest};
  Result<Offset> found = partition.OffsetForTimestamp(TimestampMs(timestamp));
  if (!found.ok()) return {ErrorCodeFor(found.status())};
  if (*found >= info.end_offset) return {ErrorCode::kNone, -1, -1};  // no such record (as Kafka)
  // The timestamp of the record found, read from its batch.
  Answer a{ErrorCode::kNone, timestamp, found->value()};
  if (Result<log::ReadResult> read = partition.Read(*found, 1); read.ok()) {
    log::RecordReader reader(read->bytes, *found);
    log::Record record;
    if (reader.Next(&record)) {
      a.offset = record.offset.value();
      a.timestamp = record.timestamp.value();
    }
  }
  return a;
}

}  // namespace

void HandleListOffsets(Broker& broker, const RequestContext& ctx, WireReader& in, ResponseCallback done) {
  const int16_t v = ctx.header.api_version;
  struct Partition {
    int32_t index;
    int64_t timestamp;
  };
  std::vector<std::pair<std::string, std::vector<Partition>>> topics;
  (void)in.Int32();            // replica_id
  const bool read_committed = v >= 2 && in.Int8() == 1;  // isolation_level
  const int32_t topic_count = in.ArrayLength();
  for (int32_t t = 0; t < topic_count && in.ok(); ++t) {
    std::pair<std::string, std::vector<Partition>> topic{std::string(in.String()), {}};
    const int32_t n = in.ArrayLength(12);
    for (int32_t p = 0; p < n && in.ok(); ++p) {
      Partition part{};
      part.index = in.Int32();
      if (v >= 4) (void)in.Int32();  // current_leader_epoch
      part.timestamp = in.Int64();
      in.TaggedFields();
      topic.second.push_back(part);
    }
    in.TaggedFields();
    topics.push_back(std::move(topic));
  }
  in.TaggedFields();
  if (!in.ok()) return done(in.status());

  Response r;
  WireWriter w(&r.body, in.flexible());
  if (v >= 2) w.Int32(0);  // throttle_time_ms
  w.ArrayLength(static_cast<int32_t>(topics.size()));
  for (const auto& [name, partitions] : topics) {
    w.String(name);
    w.ArrayLength(static_cast<int32_t>(partitions.size()));
    for (const Partition& p : partitions) {
      const Answer a = Find(broker, name, p.index, p.timestamp, read_committed);
      if (a.error != ErrorCode::kNone) ++r.errors;
      w.Int32(p.index);
      w.Int16(Wire(a.error));
      w.Int64(a.timestamp);
      w.Int64(a.offset);
      if (v >= 4) w.Int32(0);  // leader_epoch
      w.EmptyTaggedFields();
    }
    w.EmptyTaggedFields();
  }
  w.EmptyTaggedFields();
  done(std::move(r));
}

}  // namespace sluice::server::kafka
