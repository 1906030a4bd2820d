// `sluice bench kafka`: the Kafka-protocol figures of issue 7, measured with librdkafka against
// a `sluice server` child process (BenchServer: fresh data directory, pinned to CPU 0; the
// clients run on CPU 1). docs/benchmarks-kafka.md describes the method.
//
//   produce  a batching producer (acks=all, linger.ms=5) writes --records values over the
//            partitions of a fresh topic (chunks of 1000 records round-robin, enqueued with
//            rd_kafka_produce_batch; --produce-api record: rd_kafka_produce per record), timed
//            from the first produce call until every delivery report is in;
//   consume  a consumer assigned every partition from the beginning reads them all back and
//            checks that each partition's offsets arrive once each, in order, up to its end;
//   latency  a producer with linger.ms=1 sends one record at a time at a fixed rate; each record's
//   latency is from
//            its produce call to its delivery report (the send time travels in the opaque).
//
// Any record not delivered, not read back, or read twice makes the command exit 1.
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

#include "cli/bench_server.h"
#include "cli/commands.h"
#include "cli/http_client.h"
#include "common/clock.h"

namespace sluice::cli {
namespace {

constexpr const char* kThroughputTopic = "bench";
constexpr const char* kLatencyTopic = "bench-latency";
constexpr int kProduceLingerMs = 5;
constexpr int kProduceBatchBytes = 1'000'000;  // librdkafka's limit is message.max.bytes (1 MB)
constexpr int kLatencyLingerMs = 1;
constexpr int64_t kPaceNanos = 1'000'000;  // the latency case sends what is due once per ms
// A consumer that has read nothing for this long while records are missing gives up.
constexpr int64_t kConsumeStallNanos = 30'000'000'000;

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  void operator()(rd_kafka_topic_t* rkt) const { rd_kafka_topic_destroy(rkt); }
  void operator()(rd_kafka_queue_t* rkqu) const { rd_kafka_queue_destroy(rkqu); }
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
using KafkaClient = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using KafkaTopic = std::unique_ptr<rd_kafka_topic_t, KafkaDeleter>;
using KafkaQueue = std::unique_ptr<rd_kafka_queue_t, KafkaDeleter>;
using KafkaPartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaDeleter>;

using Settings = std::vector<std::pair<std::string, std::string>>;

// What the delivery reports of one producer said. Written by the delivery callback, which runs
// on whichever thread calls rd_kafka_poll/rd_kafka_flush (one at a time in this file).
struct Deliveries {
  int64_t delivered = 0;
  int64_t failed = 0;
  std::string first_error;
  bool record_latency = false;
  std::vector<int64_t> latency_nanos;  // produce call -> delivery report, delivered records only

  void Reset() {
    delivered = failed = 0;
    first_error.clear();
    latency_nanos.clear();
  }
};

void OnDelivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* message, void* opaque) {
  auto* deliveries = static_cast<Deliveries*>(opaque);
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (deliveries->failed++ == 0) deliveries->first_error = rd_kafka_err2str(message->err);
    return;
  }
  ++deliveries->delivered;
  if (deliveries->record_latency) {
    // The message opaque holds the monotonic time of the produce call.
    const auto sent = static_cast<int64_t>(reinterpret_cast<intptr_t>(message->_private));
    deliveries->latency_nanos.push_back(Clock::Real()->MonotonicNanos() - sent);
  }
}

// A producer or consumer with `settings`; a producer reports deliveries into `deliveries`.
Result<KafkaClient> NewClient(rd_kafka_type_t type, const Settings& settings,
                              Deliveries* deliveries) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  for (const auto& [key, value] : settings) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof(error)) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Status::InvalidArgument(fmt::format("librdkafka {}={}: {}", key, value, error));
    }
  }
  if (deliveries != nullptr) {
    rd_kafka_conf_set_opaque(conf, deliveries);
    rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, error, sizeof(error));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);  // rd_kafka_new takes the conf only when it succeeds
    return Status::InvalidArgument(fmt::format("librdkafka: {}", error));
  }
  return KafkaClient(rk);
}

// Waits until the broker's metadata shows `topic` with `partitions` partitions (which also
// connects the client, so that the timed part starts on an open connection).
Status AwaitTopic(rd_kafka_t* rk, rd_kafka_topic_t* topic, int partitions) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    const rd_kafka_metadata_t* metadata = nullptr;
    if (rd_kafka_metadata(rk, 0, topic, &metadata, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const bool ready = metadata->topic_cnt == 1 &&
                         metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                         metadata->topics[0].partition_cnt == partitions;
      rd_kafka_metadata_destroy(metadata);
      if (ready) return Status::Ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Status::Unavailable(fmt::format("topic {} with {} partitions not in the broker's metadata",
                                         rd_kafka_topic_name(topic), partitions));
}

Status CreateTopic(const BenchServer& server, const std::string& name, int partitions) {
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<HttpClient> http, HttpClient::Create(server.url()));
  SLUICE_ASSIGN_OR_RETURN(
      HttpResponse response,
      http->Request("POST", "/v1/topics",
                    fmt::format(R"({{"name":"{}","partitions":{}}})", name, partitions),
                    "application/json"));
  if (response.status / 100 != 2) {
    return Status::Internal(
        fmt::format("creating topic {}: {}", name, ServerErrorMessage(response)));
  }
  return Status::Ok();
}

// The server's own count of `api` requests and their summed duration (arrival to response,
// fsync and long polls included), from /metrics; zeros if it cannot be read.
struct RequestStats {
  double count = 0;
  double seconds = 0;
};
RequestStats ServerRequestStats(const BenchServer& server, const char* api) {
  RequestStats stats;
  Result<std::unique_ptr<HttpClient>> http = HttpClient::Create(server.url());
  if (!http.ok()) return stats;
  Result<HttpResponse> response = (*http)->Request("GET", "/metrics");
  if (!response.ok() || response->status != 200) return stats;
  const auto value = [&](const char* suffix) {
    const std::string key =
        fmt::format("\nsluice_kafka_request_duration_seconds_{}{{api=\"{}\"}} ", suffix, api);
    const size_t at = response->body.find(key);
    return at == std::string::npos ? 0.0 : std::atof(response->body.c_str() + at + key.size());
  };
  stats.count = value("count");
  stats.seconds = value("sum");
  return stats;
}

// "N requests, R records per request, M ms per request on the server" between two readings.
std::string RequestSummary(const RequestStats& before, const RequestStats& after, int64_t records) {
  const double count = after.count - before.count;
  if (count <= 0) return "server request stats unavailable";
  return fmt::format("{:.0f} requests, {:.0f} records and {:.2f} ms each on the server", count,
                     static_cast<double>(records) / count,
                     (after.seconds - before.seconds) / count * 1e3);
}

// Record values: slices of a pool of random letters and digits, so that compressed runs see
// text-like data rather than one repeated value.
class ValuePool {
 public:
  static constexpr size_t kStride = 61;  // values overlap, but no two start at the same byte
  explicit ValuePool(int record_bytes) : record_bytes_(static_cast<size_t>(record_bytes)) {
    static constexpr char kAlphabet[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::mt19937_64 rng(42);
    pool_.resize(std::max<size_t>(8u << 20, 4 * record_bytes_));
    for (char& c : pool_) c = kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
    slots_ = (pool_.size() - record_bytes_) / kStride + 1;
  }
  // The value of record `i`; valid while the pool lives (producers reference it, no copy).
  char* Value(int64_t i) { return pool_.data() + static_cast<size_t>(i) % slots_ * kStride; }
  size_t record_bytes() const { return record_bytes_; }

 private:
  size_t record_bytes_;
  size_t slots_ = 1;
  std::string pool_;
};

Settings ProducerSettings(const BenchServer& server, const BenchKafkaOptions& o, int linger_ms) {
  return {
      {"bootstrap.servers", fmt::format("127.0.0.1:{}", server.kafka_port())},
      {"acks", "all"},
      {"linger.ms", std::to_string(linger_ms)},
      {"batch.size", std::to_string(kProduceBatchBytes)},
      // The Java client's default. With librdkafka's own (1000000), measured in session 8 when
      // sluice still answered a connection's requests one at a time, each after its
      // partition's fdatasync, the queue grew without bound at linger.ms <= 1
      // (docs/benchmarks-kafka.md); kept so that later figures compare with those.
      {"max.in.flight.requests.per.connection", "5"},
      {"batch.num.messages", "1000000"},
      {"queue.buffering.max.messages", "2000000"},
      {"queue.buffering.max.kbytes", "2097151"},
      {"compression.type", o.compression},
      {"message.timeout.ms", "120000"},
  };
}

// A producer with its topic handle, every partition's leader known.
struct BenchProducer {
  KafkaClient client;
  KafkaTopic topic;  // destroyed before the client
};

Result<BenchProducer> OpenProducer(const BenchServer& server, const BenchKafkaOptions& o, int linger_ms,
                                   Deliveries* deliveries, const std::string& topic_name) {
  BenchProducer p;
  SLUICE_ASSIGN_OR_RETURN(p.client, NewClient(RD_KAFKA_PRODUCER, ProducerSettings(server, o, linger_ms), deliveries));
  p.topic.reset(rd_kafka_topic_new(p.client.get(), topic_name.c_str(), nullptr));
  SLUICE_RETURN_IF_ERROR(AwaitTopic(p.client.get(), p.topic.get(), o.partitions));
  return p;
}

// Enqueues a record for `partition` without copying `value`; while librdkafka's queue is full,
// serves delivery reports (if `serve_reports`; else another thread does) and tries again.
// False if librdkafka refused the record for another reason.
bool Produce(rd_kafka_t* rk, rd_kafka_topic_t* topic, int32_t partition, char* value, size_t bytes,
             void* opaque, bool serve_reports, std::string* error) {
  while (rd_kafka_produce(topic, partition, 0, value, bytes, nullptr, 0, opaque) != 0) {
    const rd_kafka_resp_err_t err = rd_kafka_last_error();
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      *error = rd_kafka_err2str(err);
      return false;
    }
    if (serve_reports) {
      rd_kafka_poll(rk, 1);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  return true;
}

struct Figures {
  int64_t records = 0;
  double seconds = 0;
  double server_cpu = 0;
  double client_cpu = 0;
  std::string requests;  // RequestSummary of the case's Produce or Fetch requests
  bool ok = false;
};

// The throughput producer: `o.records` records round-robin over the partitions of `topic_name`.
Figures ProduceAll(const BenchServer& server, const BenchKafkaOptions& o, ValuePool& values,
                   const std::string& topic_name) {
  Figures f;
  Deliveries deliveries;
  Result<BenchProducer> producer = OpenProducer(server, o, kProduceLingerMs, &deliveries, topic_name);
  if (!producer.ok()) {
    fmt::print(stderr, "  produce: {}\n", producer.status().message());
    return f;
  }
  rd_kafka_t* const rk = producer->client.get();
  rd_kafka_topic_t* const topic = producer->topic.get();
  Clock* clock = Clock::Real();
  const RequestStats requests0 = ServerRequestStats(server, "Produce");
  const double server_cpu0 = server.CpuSeconds();
  const double client_cpu0 = ProcessCpuSeconds();
  const int64_t t0 = clock->MonotonicNanos();
  int64_t refused = 0;
  std::string error;
  if (o.produce_api == "batch") {
    // Chunks of kChunk records, chunk k to partition k % partitions, each enqueued with one
    // rd_kafka_produce_batch call (one lock of the partition's queue instead of one per record).
    constexpr int64_t kChunk = 1000;
    std::vector<rd_kafka_message_t> chunk;
    for (int64_t first = 0, k = 0; first < o.records; first += kChunk, ++k) {
      const int64_t n = std::min(kChunk, o.records - first);
      chunk.assign(static_cast<size_t>(n), rd_kafka_message_t{});
      for (int64_t j = 0; j < n; ++j) {
        chunk[static_cast<size_t>(j)].payload = values.Value(first + j);
        chunk[static_cast<size_t>(j)].len = values.record_bytes();
      }
      const auto partition = static_cast<int32_t>(k % o.partitions);
      while (!chunk.empty()) {
        const int enqueued = rd_kafka_produce_batch(topic, partition, 0, chunk.data(),
                                                    static_cast<int>(chunk.size()));
        if (enqueued == static_cast<int>(chunk.size())) break;
        // Keep the records librdkafka had no room for and try them again; count the others.
        size_t kept = 0;
        for (const rd_kafka_message_t& m : chunk) {
          if (m.err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            chunk[kept] = m;
            chunk[kept++].err = RD_KAFKA_RESP_ERR_NO_ERROR;
          } else if (m.err != RD_KAFKA_RESP_ERR_NO_ERROR && refused++ == 0) {
            fmt::print(stderr, "  produce: a record refused: {}\n", rd_kafka_err2str(m.err));
          }
        }
        chunk.resize(kept);
        rd_kafka_poll(rk, 1);
      }
      rd_kafka_poll(rk, 0);  // serve delivery reports as we go
    }
  } else {
    for (int64_t i = 0; i < o.records; ++i) {
      if (!Produce(rk, topic, static_cast<int32_t>(i % o.partitions), values.Value(i),
                   values.record_bytes(), nullptr, true, &error)) {
        if (refused++ == 0) fmt::print(stderr, "  produce: record {} refused: {}\n", i, error);
      }
      if (i % 4096 == 0) rd_kafka_poll(rk, 0);  // serve delivery reports as we go
    }
  }
  (void)rd_kafka_flush(rk, 120'000);
  f.seconds = static_cast<double>(clock->MonotonicNanos() - t0) / 1e9;
  f.server_cpu = server.CpuSeconds() - server_cpu0;
  f.client_cpu = ProcessCpuSeconds() - client_cpu0;
  f.records = deliveries.delivered;
  f.requests = RequestSummary(requests0, ServerRequestStats(server, "Produce"), f.records);
  const int64_t missing = o.records - deliveries.delivered - deliveries.failed - refused;
  if (deliveries.failed > 0) {
    fmt::print(stderr, "  produce: {} records failed (first: {})\n", deliveries.failed,
               deliveries.first_error);
  }
  if (refused > 0) fmt::print(stderr, "  produce: {} records refused by librdkafka\n", refused);
  if (missing > 0) fmt::print(stderr, "  produce: {} records without a delivery report\n", missing);
  f.ok = deliveries.delivered == o.records;
  return f;
}

// Reads every partition of `topic_name` from the beginning; `expected` records in all. Checks
// that each partition's offsets arrive in order, once each, up to its high watermark.
Figures ConsumeAll(const BenchServer& server, const BenchKafkaOptions& o,
                   const std::string& topic_name, int64_t expected) {
  Figures f;
  const Settings settings = {
      {"bootstrap.servers", fmt::format("127.0.0.1:{}", server.kafka_port())},
      {"group.id", "sluice-bench-kafka"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "true"},
      // Defaults chosen by measurement (docs/benchmarks-kafka.md).
      {"fetch.max.bytes", std::to_string(o.fetch_max_bytes)},
      {"max.partition.fetch.bytes", std::to_string(o.partition_fetch_bytes)},
      {"receive.message.max.bytes", std::to_string(std::max<int64_t>(100'000'000, o.fetch_max_bytes + (1 << 20)))},
      {"queued.min.messages", "1000000"},
      {"queued.max.messages.kbytes", "1048576"},
      {"fetch.wait.max.ms", "100"},
  };
  Result<KafkaClient> rk = NewClient(RD_KAFKA_CONSUMER, settings, nullptr);
  if (!rk.ok()) {
    fmt::print(stderr, "  consume: {}\n", rk.status().message());
    return f;
  }
  // The end of each partition: every record acknowledged is durable, hence below it.
  std::vector<int64_t> end(static_cast<size_t>(o.partitions), 0);
  int64_t total_end = 0;
  for (int p = 0; p < o.partitions; ++p) {
    int64_t low = 0;
    const rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk->get(), topic_name.c_str(), p, &low, &end[p], 10'000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR || low != 0) {
      fmt::print(stderr, "  consume: partition {}: watermarks: {} (low {})\n", p,
                 rd_kafka_err2str(err), low);
      return f;
    }
    total_end += end[p];
  }
  if (total_end != expected) {
    fmt::print(stderr, "  consume: the partitions hold {} records, {} were produced\n", total_end,
               expected);
  }

  (void)rd_kafka_poll_set_consumer(rk->get());
  KafkaQueue queue(rd_kafka_queue_get_consumer(rk->get()));
  KafkaPartitionList assignment(rd_kafka_topic_partition_list_new(o.partitions));
  for (int p = 0; p < o.partitions; ++p) {
    rd_kafka_topic_partition_list_add(assignment.get(), topic_name.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  Clock* clock = Clock::Real();
  const RequestStats requests0 = ServerRequestStats(server, "Fetch");
  const double server_cpu0 = server.CpuSeconds();
  const double client_cpu0 = ProcessCpuSeconds();
  const int64_t t0 = clock->MonotonicNanos();
  if (rd_kafka_resp_err_t err = rd_kafka_assign(rk->get(), assignment.get()); err) {
    fmt::print(stderr, "  consume: assign: {}\n", rd_kafka_err2str(err));
    return f;
  }
  std::vector<int64_t> next(static_cast<size_t>(o.partitions), 0);
  int partitions_done = 0;
  for (int p = 0; p < o.partitions; ++p) partitions_done += end[p] == 0 ? 1 : 0;
  int64_t read = 0, out_of_order = 0, errors = 0;
  int64_t last_progress = t0;
  std::vector<rd_kafka_message_t*> batch(10'000);
  while (partitions_done < o.partitions) {
    const ssize_t n = rd_kafka_consume_batch_queue(queue.get(), 100, batch.data(), batch.size());
    const int64_t now = clock->MonotonicNanos();
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t* m = batch[static_cast<size_t>(i)];
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        // Reached the end as it is now; completion is judged by the offsets below.
      } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (errors++ == 0) fmt::print(stderr, "  consume: {}\n", rd_kafka_message_errstr(m));
      } else if (m->partition < 0 || m->partition >= o.partitions ||
                 m->offset != next[static_cast<size_t>(m->partition)]) {
        ++out_of_order;
        ++read;
      } else {
        const auto p = static_cast<size_t>(m->partition);
        ++read;
        if (++next[p] == end[p]) ++partitions_done;
        last_progress = now;
      }
      rd_kafka_message_destroy(m);
    }
    if (now - last_progress > kConsumeStallNanos) {
      fmt::print(stderr, "  consume: nothing read for {} s, giving up\n",
                 kConsumeStallNanos / 1'000'000'000);
      break;
    }
  }
  f.seconds = static_cast<double>(clock->MonotonicNanos() - t0) / 1e9;
  f.server_cpu = server.CpuSeconds() - server_cpu0;
  f.client_cpu = ProcessCpuSeconds() - client_cpu0;
  f.records = read;
  (void)rd_kafka_consumer_close(rk->get());
  f.requests = RequestSummary(requests0, ServerRequestStats(server, "Fetch"), f.records);
  if (out_of_order > 0) {
    fmt::print(stderr, "  consume: {} records at an unexpected offset (duplicate or gap)\n",
               out_of_order);
  }
  if (read != expected) {
    fmt::print(stderr, "  consume: read {} records, {} were produced\n", read, expected);
  }
  f.ok = read == expected && out_of_order == 0 && errors == 0 && total_end == expected;
  return f;
}

struct LatencyFigures {
  int64_t offered = 0;
  double achieved_rate = 0;
  double server_cpu = 0;
  double client_cpu = 0;
  std::string requests;
  std::vector<int64_t> latency_nanos;
  bool ok = false;
};

// A producer at a fixed rate; each record's latency is its produce call to its delivery report.
// One thread produces on schedule, another serves delivery reports as they arrive.
LatencyFigures ProduceAtRate(const BenchServer& server, const BenchKafkaOptions& o,
                             ValuePool& values, const std::string& topic_name) {
  LatencyFigures f;
  Deliveries deliveries;
  Result<BenchProducer> producer = OpenProducer(server, o, kLatencyLingerMs, &deliveries, topic_name);
  if (!producer.ok()) {
    fmt::print(stderr, "  latency: {}\n", producer.status().message());
    return f;
  }
  rd_kafka_t* const rk = producer->client.get();
  rd_kafka_topic_t* const topic = producer->topic.get();
  Clock* clock = Clock::Real();
  std::string error;
  // Warm-up, not counted: a few records per partition open every partition's path.
  for (int64_t i = 0; i < 100LL * o.partitions; ++i) {
    (void)Produce(rk, topic, static_cast<int32_t>(i % o.partitions), values.Value(i),
                  values.record_bytes(), nullptr, true, &error);
  }
  (void)rd_kafka_flush(rk, 30'000);
  deliveries.Reset();
  deliveries.record_latency = true;
  f.offered = static_cast<int64_t>(o.rate * static_cast<double>(o.seconds));
  deliveries.latency_nanos.reserve(static_cast<size_t>(f.offered));

  std::atomic<bool> producing{true};
  std::thread poller([&] {
    const int64_t deadline_after_last = 120'000'000'000;
    int64_t finished_at = 0;
    while (true) {
      rd_kafka_poll(rk, 10);
      if (producing.load()) continue;
      if (rd_kafka_outq_len(rk) == 0) break;
      const int64_t now = clock->MonotonicNanos();
      if (finished_at == 0) finished_at = now;
      if (now - finished_at > deadline_after_last) break;
    }
  });
  const RequestStats requests0 = ServerRequestStats(server, "Produce");
  const double server_cpu0 = server.CpuSeconds();
  const double client_cpu0 = ProcessCpuSeconds();
  const int64_t t0 = clock->MonotonicNanos();
  const double interval_nanos = 1e9 / o.rate;
  int64_t refused = 0;
  int64_t last_send = t0;
  for (int64_t i = 0; i < f.offered;) {
    const int64_t now = clock->MonotonicNanos();
    for (;
         i < f.offered && t0 + static_cast<int64_t>(static_cast<double>(i) * interval_nanos) <= now;
         ++i) {
      last_send = clock->MonotonicNanos();
      void* sent = reinterpret_cast<void*>(static_cast<intptr_t>(last_send));
      if (!Produce(rk, topic, static_cast<int32_t>(i % o.partitions), values.Value(i),
                   values.record_bytes(), sent, false, &error)) {
        if (refused++ == 0) fmt::print(stderr, "  latency: record {} refused: {}\n", i, error);
      }
    }
    if (i < f.offered) {
      // Wake at most once per kPaceNanos: at 50K records/s one wake-up per record would cost
      // the client's core more than librdkafka does, and that core also runs its threads.
      const int64_t due = t0 + static_cast<int64_t>(static_cast<double>(i) * interval_nanos);
      const int64_t tick = t0 + ((now - t0) / kPaceNanos + 1) * kPaceNanos;
      std::this_thread::sleep_for(
          std::chrono::nanoseconds(std::max(due, tick) - clock->MonotonicNanos()));
    }
  }
  producing.store(false);
  poller.join();
  f.server_cpu = server.CpuSeconds() - server_cpu0;
  f.client_cpu = ProcessCpuSeconds() - client_cpu0;
  f.requests =
      RequestSummary(requests0, ServerRequestStats(server, "Produce"), deliveries.delivered);
  const double send_seconds = static_cast<double>(last_send - t0) / 1e9;
  f.achieved_rate = send_seconds > 0 ? static_cast<double>(f.offered) / send_seconds : 0;
  f.latency_nanos = std::move(deliveries.latency_nanos);
  const int64_t missing = f.offered - deliveries.delivered - deliveries.failed - refused;
  if (deliveries.failed > 0) {
    fmt::print(stderr, "  latency: {} records failed (first: {})\n", deliveries.failed,
               deliveries.first_error);
  }
  if (refused > 0) fmt::print(stderr, "  latency: {} records refused by librdkafka\n", refused);
  if (missing > 0) fmt::print(stderr, "  latency: {} records without a delivery report\n", missing);
  f.ok = deliveries.delivered == f.offered;
  return f;
}

std::string PerServerCpuSecond(int64_t records, double server_cpu) {
  return server_cpu > 0 ? fmt::format("{:.0f}", static_cast<double>(records) / server_cpu) : "-";
}

}  // namespace

int RunBenchKafka(const BenchKafkaOptions& o) {
  const std::string& c = o.only;
  if (c != "all" && c != "produce" && c != "consume" && c != "latency") {
    fmt::print(stderr, "sluice bench kafka: --case is produce, consume, latency or all\n");
    return kExitUsage;
  }
  if (o.fsync != "always" && o.fsync != "interval" && o.fsync != "never") {
    fmt::print(stderr, "sluice bench kafka: --fsync is always, interval or never\n");
    return kExitUsage;
  }
  const std::string& z = o.compression;
  if (z != "none" && z != "gzip" && z != "snappy" && z != "lz4" && z != "zstd") {
    fmt::print(stderr, "sluice bench kafka: --compression is none, gzip, snappy, lz4 or zstd\n");
    return kExitUsage;
  }
  if (o.produce_api != "batch" && o.produce_api != "record") {
    fmt::print(stderr, "sluice bench kafka: --produce-api is batch or record\n");
    return kExitUsage;
  }
  if (o.records < 1 || o.record_bytes < 1 || o.partitions < 1 || o.rate <= 0 || o.seconds < 1) {
    fmt::print(stderr,
               "sluice bench kafka: --records, --record-bytes, --partitions, --rate and "
               "--seconds must be positive\n");
    return kExitUsage;
  }
  const bool produce = c == "all" || c == "produce" || c == "consume";
  const bool consume = c == "all" || c == "consume";
  const bool latency = c == "all" || c == "latency";

  BenchServer::Options server_options;
  server_options.self_path = o.self_path;
  server_options.fsync = o.fsync;
  server_options.pin = o.pin;
  Result<std::unique_ptr<BenchServer>> server =
      BenchServer::Start(server_options, "sluice-bench-kafka");
  if (!server.ok()) {
    fmt::print(stderr, "sluice bench kafka: {}\n", server.status().message());
    return kExitRuntimeError;
  }
  const int cpus = static_cast<int>(std::thread::hardware_concurrency());
  // librdkafka's threads are started by this one and inherit its CPU.
  const bool pinned = o.pin && cpus > 1;
  if (pinned) PinToCpu(1);
  for (const char* topic : {kThroughputTopic, kLatencyTopic}) {
    if (Status s = CreateTopic(**server, topic, o.partitions); !s.ok()) {
      fmt::print(stderr, "sluice bench kafka: {}\n", s.message());
      return kExitRuntimeError;
    }
  }
  fmt::print(
      "bench kafka: sluice server (fsync={}{}) on 127.0.0.1:{}, librdkafka {} client{}; "
      "topics of {} partitions, {}-byte values, no keys, compression {}\n",
      o.fsync, o.pin ? ", pinned to CPU 0" : "", (*server)->kafka_port(), rd_kafka_version_str(),
      pinned ? " on CPU 1" : "", o.partitions, o.record_bytes, o.compression);

  ValuePool values(o.record_bytes);
  bool ok = true;
  int64_t produced = 0;
  if (produce) {
    const Figures f = ProduceAll(**server, o, values, kThroughputTopic);
    ok = ok && f.ok;
    produced = f.records;
    const double rate = f.seconds > 0 ? static_cast<double>(f.records) / f.seconds : 0;
    fmt::print(
        "  produce: {} records in {:.2f} s: {:.0f} records/s, {:.1f} MB/s of values; server "
        "CPU {:.2f} s -> {} records per server CPU-second; client CPU {:.2f} s (acks=all, "
        "linger.ms={}, batch.size={}, {}){}\n",
        f.records, f.seconds, rate, rate * static_cast<double>(o.record_bytes) / 1e6, f.server_cpu,
        PerServerCpuSecond(f.records, f.server_cpu), f.client_cpu, kProduceLingerMs,
        kProduceBatchBytes,
        o.produce_api == "batch" ? "rd_kafka_produce_batch" : "rd_kafka_produce",
        c == "consume" ? " [load for the consume case]" : " [target >= 1M records/s]");
    fmt::print("           {}\n", f.requests);
    std::fflush(stdout);
  }
  if (consume) {
    const Figures f = ConsumeAll(**server, o, kThroughputTopic, produced);
    ok = ok && f.ok;
    const double rate = f.seconds > 0 ? static_cast<double>(f.records) / f.seconds : 0;
    fmt::print(
        "  consume: {} of {} records read back in {:.2f} s: {:.0f} records/s, {:.1f} MB/s "
        "of values; server CPU {:.2f} s -> {} records per server CPU-second; client CPU "
        "{:.2f} s [target >= 3M records/s]\n",
        f.records, produced, f.seconds, rate, rate * static_cast<double>(o.record_bytes) / 1e6,
        f.server_cpu, PerServerCpuSecond(f.records, f.server_cpu), f.client_cpu);
    fmt::print("           {}\n", f.requests);
    std::fflush(stdout);
  }
  if (latency) {
    LatencyFigures f = ProduceAtRate(**server, o, values, kLatencyTopic);
    ok = ok && f.ok;
    const auto delivered = static_cast<int64_t>(f.latency_nanos.size());
    fmt::print(
        "  latency: {} of {} records delivered, {:.0f}/s offered ({:.0f}/s sent), "
        "acks=all, linger.ms={}: p50 {:.2f} ms, p99 {:.2f} ms, p99.9 {:.2f} ms, max {:.2f} "
        "ms; server CPU {:.2f} s, client CPU {:.2f} s [target p99 <= 5 ms]\n",
        delivered, f.offered, o.rate, f.achieved_rate, kLatencyLingerMs,
        PercentileMs(f.latency_nanos, 0.5), PercentileMs(f.latency_nanos, 0.99),
        PercentileMs(f.latency_nanos, 0.999), PercentileMs(f.latency_nanos, 1.0), f.server_cpu,
        f.client_cpu);
    fmt::print("           {}\n", f.requests);
  }
  (*server)->Stop();
  if (!ok) {
    fmt::print("  FAILED: records were lost, refused, duplicated or not read back (above)\n");
  }
  return ok ? kExitOk : kExitRuntimeError;
}

}  // namespace sluice::cli
