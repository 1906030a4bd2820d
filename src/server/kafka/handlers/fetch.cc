// Fetch (key 1), v4-v12: whole record batches served from the segment bytes unchanged.
// Long polling: while fewer than min_bytes are available and max_wait_ms has not passed, the
// fetch waits on a timer on the connection's strand (no thread waits) that the server's waker
// thread ends early when the log's visible_changed signal moves; it then reads its partitions
// again. (Without that wake, as in the fuzzer, it looks again every fetch_poll_interval_ms.) Fetch sessions (KIP-227) are declined: session_id 0 tells the client to send full
// fetches. read_committed fetches stop at the last stable offset (the first offset of the
// earliest open transaction) and list the aborted transactions in the range, whose records
// the client drops (each partition keeps its transaction index).
#include <chrono>
#include <memory>

#include "server/kafka/broker.h"
#include "server/kafka/errors.h"
#include "server/kafka/producers.h"

namespace sluice::server::kafka {

namespace {

struct FetchPartition {
  int32_t index = 0;
  int64_t fetch_offset = 0;
  int32_t max_bytes = 0;
  // Filled by each attempt:
  ErrorCode error = ErrorCode::kNone;
  int64_t high_watermark = -1;
  int64_t log_start_offset = -1;
  int64_t last_stable_offset = -1;
  std::vector<log::AbortedTransaction> aborted;
  std::string records;
};

struct FetchTopic {
  std::string name;
  std::vector<FetchPartition> partitions;
};

struct FetchState {
  int16_t version = 0;
  bool flexible = false;
  int32_t min_bytes = 0;
  int32_t max_bytes = 0;
  bool read_committed = false;
  std::chrono::steady_clock::time_point deadline;
  bool read_once = false;
  uint64_t seen_epoch = 0;  // of the log's visible_changed signal, at the last read
  std::vector<FetchTopic> topics;
  RequestContext ctx;
  ResponseCallback done;
};

// Reads every partition once. Returns the number of record bytes found and whether any
// partition has an error (errors are answered at once, as Kafka does).
std::pair<size_t, bool> ReadAll(Broker& broker, FetchState& s) {
  size_t total = 0;
  bool any_error = false;
  for (FetchTopic& t : s.topics) {
    Result<std::shared_ptr<log::Topic>> topic =
        log::IsInternalTopicName(t.name) ? Result<std::shared_ptr<log::Topic>>(Status::NotFound(t.name))
                                         : broker.log().GetTopic(t.name);
    for (FetchPartition& p : t.partitions) {
      p.records.clear();
      p.error = ErrorCode::kNone;
      if (!topic.ok() || p.index < 0 || p.index >= (*topic)->partition_count()) {
        p.error = ErrorCode::kUnknownTopicOrPartition;
        any_error = true;
        continue;
      }
      log::Partition& partition = (*topic)->partition(PartitionId(p.index));
      const log::PartitionInfo info = partition.Info();
      p.high_watermark = info.end_offset.value();
      p.log_start_offset = info.start_offset.value();
      if (p.fetch_offset < info.start_offset.value() || p.fetch_offset > info.end_offset.value()) {
        p.error = ErrorCode::kOffsetOutOfRange;
        any_error = true;
        continue;
      }
      Result<log::Partition::CommittedView> view =
          broker.producers().ViewFrom(&partition, t.name, Offset(p.fetch_offset));
      if (!view.ok()) {
        p.error = ErrorCodeFor(view.status());
        any_error = true;
        continue;
      }
      p.last_stable_offset = view->last_stable_offset.value();
      if (s.read_committed) p.aborted = std::move(view->aborted);
      const int64_t readable_end = s.read_committed ? p.last_stable_offset : info.end_offset.value();
      if (p.fetch_offset >= readable_end) continue;
      // The response's max_bytes bounds the sum, but the first batch is always returned
      // whole so that a consumer can make progress past a large batch (KIP-74).
      const size_t room = static_cast<size_t>(std::max(0, s.max_bytes)) > total
                              ? static_cast<size_t>(s.max_bytes) - total
                              : 0;
      if (room == 0 && total > 0) continue;
      const size_t limit = std::max<size_t>(1, std::min<size_t>(room, static_cast<size_t>(std::max(1, p.max_bytes))));
      Result<log::ReadResult> read = partition.Read(Offset(p.fetch_offset), limit);
      if (!read.ok()) {
        p.error = ErrorCodeFor(read.status());
        any_error = true;
        continue;
      }
      p.high_watermark = read->end_offset.value();
      p.records = std::move(read->bytes);
      if (s.read_committed) {
        // Whole batches below the last stable offset only.
        std::string_view rest(p.records);
        size_t keep = 0;
        while (!rest.empty()) {
          Result<log::BatchHeader> h = log::DecodeBatchHeader(rest);
          if (!h.ok() || h->base_offset.value() >= readable_end) break;
          keep += h->total_size();
          rest.remove_prefix(h->total_size());
        }
        p.records.resize(keep);
      }
      total += p.records.size();
    }
  }
  return {total, any_error};
}

void Respond(FetchState& s) {  // moves the records out of s
  Response r;
  WireWriter w(&r.body, s.flexible);
  w.Int32(0);  // throttle_time_ms
  if (s.version >= 7) {
    w.Int16(Wire(ErrorCode::kNone));
    w.Int32(0);  // session_id: sessions declined
  }
  w.ArrayLength(static_cast<int32_t>(s.topics.size()));
  for (FetchTopic& t : s.topics) {
    w.String(t.name);
    w.ArrayLength(static_cast<int32_t>(t.partitions.size()));
    for (FetchPartition& p : t.partitions) {
      if (p.error != ErrorCode::kNone) ++r.errors;
      w.Int32(p.index);
      w.Int16(Wire(p.error));
      w.Int64(p.high_watermark);
      w.Int64(p.last_stable_offset);
      if (s.version >= 5) w.Int64(p.log_start_offset);
      if (p.error != ErrorCode::kNone || !s.read_committed) {
        w.ArrayLength(-1);
      } else {
        w.ArrayLength(static_cast<int32_t>(p.aborted.size()));
        for (const auto& a : p.aborted) {
          w.Int64(a.producer_id);
          w.Int64(a.first_offset.value());
          w.EmptyTaggedFields();
        }
      }
      if (s.version >= 11) w.Int32(-1);                     // preferred_read_replica
      // The records go out from their read buffer, not copied into the body.
      w.BytesLength(p.records.size());
      if (!p.records.empty()) r.spliced.push_back({r.body.size(), std::move(p.records)});
      w.EmptyTaggedFields();
    }
    w.EmptyTaggedFields();
  }
  w.EmptyTaggedFields();
  s.done(std::move(r));
}

void Attempt(Broker& broker, std::shared_ptr<FetchState> s) {
  // While nothing new became visible in the log (no partition's visible end moved), a waiting
  // fetch does not read its partitions again until its deadline.
  const uint64_t epoch = broker.log().visible_changed().epoch();
  if (!s->read_once || epoch != s->seen_epoch || std::chrono::steady_clock::now() >= s->deadline) {
    s->read_once = true;
    s->seen_epoch = epoch;  // taken before the read: a change during it is read next time
    const auto [bytes, any_error] = ReadAll(broker, *s);
    if (any_error || bytes >= static_cast<size_t>(std::max(0, s->min_bytes)) ||
        std::chrono::steady_clock::now() >= s->deadline) {
      return Respond(*s);
    }
  }
  const auto now = std::chrono::steady_clock::now();
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(s->deadline - now).count();
  auto again = [&broker, s](bool cancelled) {
    if (cancelled) return Respond(*s);
    Attempt(broker, s);
  };
  if (s->ctx.run_after_change) {
    // Woken when a partition's visible end moves (or at the deadline).
    return s->ctx.run_after_change(std::max<int64_t>(1, left), s->seen_epoch, std::move(again));
  }
  const int64_t delay = std::max<int64_t>(1, std::min<int64_t>(broker.options().fetch_poll_interval_ms, left));
  s->ctx.run_after(delay, std::move(again));
}

}  // namespace

void HandleFetch(Broker& broker, const RequestContext& ctx, WireReader& in, ResponseCallback done) {
  auto s = std::make_shared<FetchState>();
  const int16_t v = ctx.header.api_version;
  s->version = v;
  s->flexible = in.flexible();
  (void)in.Int32();  // replica_id
  const int32_t max_wait_ms = in.Int32();
  s->min_bytes = in.Int32();
  s->max_bytes = in.Int32();
  s->read_committed = in.Int8() == 1;  // isolation_level
  if (v >= 7) {
    (void)in.Int32();  // session_id
    (void)in.Int32();  // session_epoch
  }
  const int32_t topic_count = in.ArrayLength();
  for (int32_t t = 0; t < topic_count && in.ok(); ++t) {
    FetchTopic topic;
    topic.name = std::string(in.String());
    const int32_t partition_count = in.ArrayLength(16);
    for (int32_t p = 0; p < partition_count && in.ok(); ++p) {
      FetchPartition part;
      part.index = in.Int32();
      if (v >= 9) (void)in.Int32();  // current_leader_epoch
      part.fetch_offset = in.Int64();
      if (v >= 5) (void)in.Int64();  // log_start_offset (followers only)
      part.max_bytes = in.Int32();
      in.TaggedFields();
      topic.partitions.push_back(std::move(part));
    }
    in.TaggedFields();
    s->topics.push_back(std::move(topic));
  }
  if (v >= 7) {
    const int32_t forgotten = in.ArrayLength();
    for (int32_t i = 0; i < forgotten && in.ok(); ++i) {
      (void)in.String();
      const int32_t n = in.ArrayLength(4);
      for (int32_t j = 0; j < n && in.ok(); ++j) (void)in.Int32();
      in.TaggedFields();
    }
  }
  if (v >= 11) (void)in.String();  // rack_id
  in.TaggedFields();
  if (!in.ok()) return done(in.status());
  s->deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::clamp(max_wait_ms, 0, 60'000));
  s->ctx = ctx;
  s->done = std::move(done);
  Attempt(broker, std::move(s));
}

}  // namespace sluice::server::kafka
