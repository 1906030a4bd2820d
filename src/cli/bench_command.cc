#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <future>
#include <random>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <fmt/format.h>

#include "cli/bench_server.h"
#include "cli/commands.h"
#include "cli/http_client.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/process_metrics.h"
#include "log/log.h"
#include "log/record_batch.h"
#include "engine/sql_executor.h"

namespace sluice::cli {
namespace {

std::string MakeTempDir(const char* prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / fmt::format("{}-XXXXXX", prefix)).string();
  if (::mkdtemp(tmpl.data()) == nullptr) return "";
  return tmpl;
}

// One NDJSON body of `batch` events of about `event_bytes` bytes each.
std::string MakeBody(int batch, int event_bytes, int seed) {
  std::string body;
  for (int i = 0; i < batch; ++i) {
    size_t start = body.size();
    fmt::format_to(std::back_inserter(body), "{{\"id\":{},\"user\":{},\"amount\":{}.{:02},\"pad\":\"", seed * batch + i,
                   (seed * 7919 + i * 31) % 10000, i % 1000, i % 100);
    size_t used = body.size() - start + 3;
    if (static_cast<int>(used) < event_bytes) body.append(static_cast<size_t>(event_bytes) - used, 'x');
    body += "\"}\n";
  }
  return body;
}

constexpr const char* kBidSource =
    "CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, "
    "date_time TIMESTAMP, extra VARCHAR) WITH (topic = 'bid')";

// Appends bids number [first, first + events) to partition 0 of `topic`: Nexmark-shaped JSON
// (~100 bytes each), 100K events per second of event time, auctions drawn uniformly from
// `auctions` values (or, with `round_robin`, bid i is for auction i % auctions, so that the
// first `auctions` bids cover every one). The log time is now (retention must not touch them).
Status AppendBids(log::Topic& topic, int64_t first, int64_t events, int64_t auctions, bool round_robin) {
  Clock* clock = Clock::Real();
  std::mt19937_64 rng(42 + static_cast<uint64_t>(first));
  static constexpr const char* kChannels[] = {"apple", "google", "facebook", "baidu"};
  const uint64_t n = static_cast<uint64_t>(auctions);
  log::RecordBatchBuilder builder;
  std::string value;
  for (int64_t i = first; i < first + events; ++i) {
    value.clear();
    const int64_t ms = 1'767'225'600'000 + i / 100;
    const uint64_t drawn = rng() % n;
    const uint64_t auction = 1000 + (round_robin ? static_cast<uint64_t>(i) % n : drawn);
    fmt::format_to(std::back_inserter(value),
                   "{{\"auction\":{},\"bidder\":{},\"price\":{},\"channel\":\"{}\",\"url\":\"https://x.io/{}\","
                   "\"date_time\":{},\"extra\":\"\"}}",
                   auction, 2000 + rng() % 100'000, rng() % 1'000'000, kChannels[rng() % 4], rng() % 1000, ms);
    builder.Add(clock->Now(), std::nullopt, value);
    if (builder.record_count() == 1000 || i + 1 == first + events) {
      std::promise<Status> done;
      topic.partition(PartitionId(0)).Append(builder.Finish(), [&](Result<log::AppendResult> r) {
        done.set_value(r.status());
      });
      SLUICE_RETURN_IF_ERROR(done.get_future().get());
    }
  }
  return Status::Ok();
}

}  // namespace

int RunBenchIngest(const BenchIngestOptions& o) {
  BenchServer::Options server_options;
  server_options.self_path = o.self_path;
  server_options.fsync = o.fsync;
  server_options.io_threads = o.server_threads;
  server_options.pin = o.pin;
  Result<std::unique_ptr<BenchServer>> server = BenchServer::Start(server_options, "sluice-bench-ingest");
  if (!server.ok()) {
    fmt::print(stderr, "sluice bench ingest: {}\n", server.status().message());
    return kExitRuntimeError;
  }
  const int cpus = static_cast<int>(std::thread::hardware_concurrency());
  if (o.pin && cpus > 1) PinToCpu(1);
  const std::string url = (*server)->url();
  auto admin = HttpClient::Create(url);
  (void)(*admin)->Request("POST", "/v1/topics", fmt::format("{{\"name\":\"bench\",\"partitions\":{}}}", o.connections),
                          "application/json");

  constexpr int kBodies = 16;
  std::vector<std::string> bodies;
  for (int i = 0; i < kBodies; ++i) bodies.push_back(MakeBody(o.batch, o.event_bytes, i));
  const size_t body_bytes = bodies[0].size();

  std::atomic<int64_t> next_batch{0};
  const int64_t total_batches = (o.events + o.batch - 1) / o.batch;
  std::mutex mu;
  std::vector<int64_t> latencies;
  std::atomic<int64_t> failures{0};
  Clock* clock = Clock::Real();
  const double cpu0 = (*server)->CpuSeconds();
  const int64_t t0 = clock->MonotonicNanos();

  std::vector<std::thread> threads;
  for (int c = 0; c < o.connections; ++c) {
    threads.emplace_back([&, c] {
      auto client = HttpClient::Create(url);
      std::vector<int64_t> mine;
      const std::string target = fmt::format("/v1/topics/bench/events");
      while (true) {
        int64_t b = next_batch.fetch_add(1);
        if (b >= total_batches) break;
        if (o.rate > 0) {
          int64_t due = t0 + static_cast<int64_t>(static_cast<double>(b * o.batch) / o.rate * 1e9);
          int64_t now = clock->MonotonicNanos();
          if (due > now) std::this_thread::sleep_for(std::chrono::nanoseconds(due - now));
        }
        int64_t start = clock->MonotonicNanos();
        auto res = (*client)->Request("POST", target, bodies[static_cast<size_t>(b % kBodies)],
                                      "application/x-ndjson");
        if (!res.ok() || res->status != 200) {
          ++failures;
          continue;
        }
        mine.push_back(clock->MonotonicNanos() - start);
      }
      std::lock_guard<std::mutex> lock(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  const double secs = (clock->MonotonicNanos() - t0) / 1e9;
  const double server_cpu = (*server)->CpuSeconds() - cpu0;
  (*server)->Stop();

  const double events = static_cast<double>(latencies.size()) * o.batch;
  fmt::print("bench ingest: {} events in {} requests of {} events (~{} B each), {} connections, fsync={}\n",
             static_cast<int64_t>(events), latencies.size(), o.batch, o.event_bytes, o.connections, o.fsync);
  fmt::print("  throughput:   {:.0f} events/s, {:.1f} MB/s of request bodies, {:.2f} s\n", events / secs,
             static_cast<double>(latencies.size() * body_bytes) / secs / 1e6, secs);
  fmt::print("  server CPU:   {:.2f} s ({} io threads{}) -> {:.0f} events per server CPU-second\n", server_cpu,
             o.server_threads, o.pin ? ", pinned to CPU 0" : "", server_cpu > 0 ? events / server_cpu : 0.0);
  fmt::print("  ack latency:  p50 {:.2f} ms, p99 {:.2f} ms, p99.9 {:.2f} ms, max {:.2f} ms{}\n",
             PercentileMs(latencies, 0.5), PercentileMs(latencies, 0.99), PercentileMs(latencies, 0.999),
             PercentileMs(latencies, 1.0), o.rate > 0 ? fmt::format(" (paced at {:.0f} events/s)", o.rate) : "");
  if (failures > 0) fmt::print("  failed requests: {}\n", failures.load());
  return failures > 0 ? kExitRuntimeError : kExitOk;
}

int RunBenchLog(const BenchLogOptions& o) {
  const bool temp = o.dir.empty();
  const std::string dir = temp ? MakeTempDir("sluice-bench-log") : o.dir;
  log::LogOptions options;
  options.dir = dir;
  auto policy = log::ParseFsyncPolicy(o.fsync);
  if (!policy.ok()) {
    fmt::print(stderr, "sluice bench log: {}\n", policy.status().message());
    return kExitUsage;
  }
  options.fsync = *policy;
  auto log_or = log::Log::Open(options);
  if (!log_or.ok()) {
    fmt::print(stderr, "sluice bench log: {}\n", log_or.status().ToString());
    return kExitRuntimeError;
  }
  std::unique_ptr<log::Log> log = std::move(log_or).value();
  log::TopicConfig topic_config;
  topic_config.name = "bench";
  topic_config.partitions = o.partitions;
  Status s = log->CreateTopic(topic_config);
  auto topic = log->GetTopic("bench");
  if (!s.ok() || !topic.ok()) {
    fmt::print(stderr, "sluice bench log: cannot create the topic: {}\n", s.ToString());
    return kExitRuntimeError;
  }

  // Pre-encode one batch per thread; appends reuse it (the log patches the base offset).
  std::string value(static_cast<size_t>(o.event_bytes), 'x');
  const int64_t batches_per_thread = o.events / o.batch / o.threads;
  Clock* clock = Clock::Real();
  std::atomic<int64_t> failures{0};
  const int64_t t0 = clock->MonotonicNanos();
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] {
      log::RecordBatchBuilder builder;
      for (int i = 0; i < o.batch; ++i) builder.Add(TimestampMs(1'700'000'000'000 + i), std::nullopt, value);
      log::EncodedBatch encoded = builder.Finish();
      log::Partition& partition = (*topic)->partition(PartitionId(t % o.partitions));
      // Keep several appends in flight so group commit can share one fdatasync among them.
      constexpr int kInFlight = 8;
      std::mutex mu;
      std::condition_variable cv;
      int in_flight = 0;
      for (int64_t b = 0; b < batches_per_thread; ++b) {
        {
          std::unique_lock<std::mutex> lock(mu);
          cv.wait(lock, [&] { return in_flight < kInFlight; });
          ++in_flight;
        }
        partition.Append(encoded, [&](Result<log::AppendResult> r) {
          if (!r.ok()) ++failures;
          std::lock_guard<std::mutex> lock(mu);
          --in_flight;
          cv.notify_one();
        });
      }
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return in_flight == 0; });
    });
  }
  for (auto& t : threads) t.join();
  const double append_secs = (clock->MonotonicNanos() - t0) / 1e9;
  const double appended = static_cast<double>(batches_per_thread * o.threads * o.batch);

  // Replay: read every partition from offset 0 and decode every record.
  const int64_t r0 = clock->MonotonicNanos();
  int64_t records = 0;
  uint64_t value_bytes = 0;
  for (int p = 0; p < o.partitions; ++p) {
    log::Partition& partition = (*topic)->partition(PartitionId(p));
    Offset from(0);
    while (true) {
      auto read = partition.Read(from, 4 << 20);
      if (!read.ok() || read->bytes.empty()) break;
      log::RecordReader reader(read->bytes, from);
      log::Record record;
      while (reader.Next(&record)) {
        ++records;
        value_bytes += record.value ? record.value->size() : 0;
      }
      if (!reader.status().ok()) {
        fmt::print(stderr, "sluice bench log: replay: {}\n", reader.status().ToString());
        break;
      }
      from = read->next_offset;
    }
  }
  const double read_secs = (clock->MonotonicNanos() - r0) / 1e9;
  (void)log->Close();
  log.reset();
  if (temp) std::filesystem::remove_all(dir);

  fmt::print("bench log: {} threads x {} partitions, {}-record batches of {}-byte values, fsync={}\n", o.threads,
             o.partitions, o.batch, o.event_bytes, o.fsync);
  fmt::print("  append:  {:.0f} events/s, {:.0f} MB/s of values ({:.2f} s)\n", appended / append_secs,
             appended * o.event_bytes / append_secs / 1e6, append_secs);
  fmt::print("  replay:  {:.0f} events/s, {:.0f} MB/s of values ({} records, {:.2f} s)\n",
             static_cast<double>(records) / read_secs, static_cast<double>(value_bytes) / read_secs / 1e6, records,
             read_secs);
  if (failures > 0) fmt::print("  failed appends: {}\n", failures.load());
  return failures > 0 || records != static_cast<int64_t>(appended) ? kExitRuntimeError : kExitOk;
}

int RunBenchSql(const BenchSqlOptions& o) {
  const std::string dir = MakeTempDir("sluice-bench-sql");
  log::LogOptions options;
  options.dir = dir + "/log";
  options.fsync = log::FsyncPolicy::kNever;
  std::filesystem::create_directories(options.dir);
  auto log_or = log::Log::Open(options);
  if (!log_or.ok()) {
    fmt::print(stderr, "sluice bench sql: {}\n", log_or.status().ToString());
    return kExitRuntimeError;
  }
  std::unique_ptr<log::Log> log = std::move(log_or).value();
  auto sql_or = engine::SqlExecutor::Open(FileSystem::Default(), dir + "/catalog", log.get(), 1);
  if (!sql_or.ok()) {
    fmt::print(stderr, "sluice bench sql: {}\n", sql_or.status().ToString());
    return kExitRuntimeError;
  }
  std::unique_ptr<engine::SqlExecutor> sql = std::move(sql_or).value();
  auto created = sql->Execute(kBidSource);
  if (!created.ok()) {
    fmt::print(stderr, "sluice bench sql: {}\n", created.status().ToString());
    return kExitRuntimeError;
  }
  auto topic = log->GetTopic("bid");
  Clock* clock = Clock::Real();
  if (Status appended = AppendBids(**topic, 0, o.events, 10'000, false); !appended.ok()) {
    fmt::print(stderr, "sluice bench sql: {}\n", appended.ToString());
    return kExitRuntimeError;
  }
  struct Case {
    const char* id;
    const char* name;
    const char* sql;
  };
  const Case cases[] = {
      {"filter", "filter + project (q1/q2 shape)", "SELECT auction, price * 0.908 AS euro FROM bid WHERE auction % 123 = 0"},
      {"tumble", "tumble 10 s: count/sum/max by auction (10K keys)",
       "SELECT auction, window_start, count(*), sum(price), max(price) FROM TUMBLE(bid, date_time, INTERVAL '10' "
       "SECOND) GROUP BY auction, window_start"},
      {"hop", "hop 2 s / 10 s: count by auction",
       "SELECT auction, window_start, count(*) FROM HOP(bid, date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND) "
       "GROUP BY auction, window_start"},
  };
  fmt::print("bench sql: {} events in the log (JSON, ~100 B), one thread, median of {} runs\n", o.events, o.runs);
  int rc = kExitOk;
  // CPU time of the process (the query runs on this thread; the log's threads are idle), less
  // noisy than wall-clock time on a shared machine.
  const auto cpu_seconds = ProcessCpuSeconds;
  for (const Case& c : cases) {
    if (std::string_view(c.id).find(o.query) == std::string_view::npos) continue;
    std::vector<double> rates;
    std::vector<double> cpu_rates;
    size_t rows = 0;
    for (int run = 0; run < o.runs; ++run) {
      int64_t t0 = clock->MonotonicNanos();
      const double cpu0 = cpu_seconds();
      auto r = sql->Execute(c.sql);
      double secs = (clock->MonotonicNanos() - t0) / 1e9;
      cpu_rates.push_back(static_cast<double>(o.events) / (cpu_seconds() - cpu0));
      if (!r.ok()) {
        fmt::print(stderr, "  {}: {}\n", c.name, r.status().ToString());
        rc = kExitRuntimeError;
        break;
      }
      rows = (*r)[0].rows.size();
      rates.push_back(static_cast<double>(o.events) / secs);
    }
    if (rates.empty()) continue;
    std::sort(rates.begin(), rates.end());
    std::sort(cpu_rates.begin(), cpu_rates.end());
    fmt::print("  {:<52} {:>12.0f} events/s  {:>12.0f} events/CPU-s  ({} result rows)\n", c.name,
               rates[rates.size() / 2], cpu_rates[cpu_rates.size() / 2], rows);
  }
  sql.reset();
  (void)log->Close();
  log.reset();
  std::filesystem::remove_all(dir);
  return rc;
}

}  // namespace sluice::cli

namespace sluice::cli {
namespace {

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double ProcessCpuNow() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// A log and a SQL executor over `dir` (log/, catalog/, checkpoints/), as the server lays them out.
struct BenchEngine {
  std::unique_ptr<log::Log> log;
  std::unique_ptr<MetricsRegistry> metrics;
  std::unique_ptr<engine::SqlExecutor> sql;

  Status OpenLog(const std::string& dir) {
    log::LogOptions options;
    options.dir = dir + "/log";
    options.fsync = log::FsyncPolicy::kNever;  // loading data; checkpoints fsync regardless
    std::filesystem::create_directories(options.dir);
    SLUICE_ASSIGN_OR_RETURN(log, log::Log::Open(options));
    return Status::Ok();
  }
  // checkpoint_interval_ms 0: no checkpoints.
  Status OpenSql(const std::string& dir, int64_t checkpoint_interval_ms) {
    sql.reset();
    metrics = std::make_unique<MetricsRegistry>();
    SLUICE_ASSIGN_OR_RETURN(sql, engine::SqlExecutor::Open(FileSystem::Default(), dir + "/catalog", log.get(), 1,
                                                           metrics.get(),
                                                           checkpoint_interval_ms > 0 ? dir + "/checkpoints" : "",
                                                           checkpoint_interval_ms));
    return Status::Ok();
  }
  Status Execute(const std::string& statement) { return sql->Execute(statement).status(); }
  double Gauge(const char* name, const std::string& view) {
    return metrics->AddGauge(name, "", {"view"})->WithLabels({view})->value();
  }
  double Counter(const char* name, const std::string& view) {
    return metrics->AddCounter(name, "", {"view"})->WithLabels({view})->value();
  }
  void Close() {
    sql.reset();
    if (log) (void)log->Close();
    log.reset();
  }
};

bool WaitFor(const std::function<bool()>& done, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Raw payload bytes (uncompressed) of the newest checkpoint file under `dir` (docs/formats/checkpoint.md).
uint64_t NewestCheckpointRawBytes(const std::string& dir) {
  std::string newest;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.path().extension() == ".ckpt" && e.path().string() > newest) newest = e.path().string();
  }
  std::ifstream in(newest, std::ios::binary);
  char header[32];
  if (!in.read(header, sizeof(header))) return 0;
  uint64_t raw = 0;
  std::memcpy(&raw, header + 24, 8);
  return raw;
}

constexpr const char* kTumbleView =
    "CREATE MATERIALIZED VIEW tumble AS SELECT auction, window_start, count(*) AS n, sum(price) AS total, "
    "max(price) AS top FROM TUMBLE(bid, date_time, INTERVAL '10' SECOND) GROUP BY auction, window_start";
constexpr const char* kKeysView =
    "CREATE MATERIALIZED VIEW per_key AS SELECT auction, count(*) AS n, sum(price) AS total, max(price) AS top "
    "FROM bid GROUP BY auction";

// Throughput of the TUMBLE view catching up on `events` with and without 1-s checkpoints.
int CheckpointCost(const BenchCheckpointOptions& o, const std::string& dir) {
  BenchEngine e;
  Status s = e.OpenLog(dir);
  if (s.ok()) s = e.OpenSql(dir, 0);
  if (s.ok()) s = e.Execute(kBidSource);
  if (s.ok()) s = e.Execute(kTumbleView);
  if (s.ok()) s = AppendBids(**e.log->GetTopic("bid"), 0, o.events, 10'000, false);
  if (!s.ok()) {
    fmt::print(stderr, "  cost: {}\n", s.ToString());
    return kExitRuntimeError;
  }
  std::vector<double> rate[2], cpu_rate[2], count[2], seconds[2], pauses[2], bytes[2];
  for (int run = 0; run < o.runs; ++run) {
    for (int with = 0; with < 2; ++with) {
      std::filesystem::remove_all(dir + "/checkpoints");
      const auto t0 = std::chrono::steady_clock::now();
      const double cpu0 = ProcessCpuNow();
      s = e.OpenSql(dir, with ? 1000 : 0);  // the view is restored at start and backfills the log
      if (s.ok() && !WaitFor([&] { return e.sql->ViewsCaughtUp(); }, 600)) s = Status::Internal("no catch-up");
      if (!s.ok()) {
        fmt::print(stderr, "  cost: {}\n", s.ToString());
        return kExitRuntimeError;
      }
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      rate[with].push_back(static_cast<double>(o.events) / secs);
      cpu_rate[with].push_back(static_cast<double>(o.events) / (ProcessCpuNow() - cpu0));
      count[with].push_back(e.Counter("sluice_view_checkpoints_total", "tumble"));
      seconds[with].push_back(e.Gauge("sluice_view_checkpoint_seconds", "tumble"));
      bytes[with].push_back(e.Gauge("sluice_view_checkpoint_bytes", "tumble"));
      pauses[with].push_back(e.Gauge("sluice_view_checkpoint_pause_seconds", "tumble"));
      fmt::print("    run {} {:<16} {:>10.0f} events/s  {:>10.0f} events/CPU-s  {:.0f} checkpoints\n", run + 1,
                 with ? "1-s checkpoints" : "no checkpoints", rate[with].back(), cpu_rate[with].back(),
                 count[with].back());
    }
  }
  e.Close();
  const double off = Median(rate[0]), on = Median(rate[1]);
  const double cpu_off = Median(cpu_rate[0]), cpu_on = Median(cpu_rate[1]);
  fmt::print("  cost: TUMBLE view catching up on {} events (medians of {} runs)\n", o.events, o.runs);
  fmt::print("    no checkpoints:  {:>10.0f} events/s ({:.0f} events/CPU-s)\n", off, cpu_off);
  fmt::print("    1-s checkpoints: {:>10.0f} events/s ({:.0f} events/CPU-s), {:.0f} checkpoints, the last {:.1f} ms "
             "({:.1f} ms on the view's thread) and {:.2f} MB\n",
             on, cpu_on, Median(count[1]), Median(seconds[1]) * 1e3, Median(pauses[1]) * 1e3, Median(bytes[1]) / 1e6);
  fmt::print("    throughput cost: {:.1f} % (wall clock), {:.1f} % (CPU time)\n", (1 - on / off) * 100,
             (1 - cpu_on / cpu_off) * 100);
  return kExitOk;
}

// Prepares `dir` with a view of `keys` groups over `keys` bids, caught up and checkpointed.
Status PrepareKeys(BenchEngine& e, const std::string& dir, int64_t keys) {
  SLUICE_RETURN_IF_ERROR(e.OpenLog(dir));
  SLUICE_RETURN_IF_ERROR(e.OpenSql(dir, 1000));
  SLUICE_RETURN_IF_ERROR(e.Execute(kBidSource));
  SLUICE_RETURN_IF_ERROR(e.Execute(kKeysView));
  SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<log::Topic> topic, e.log->GetTopic("bid"));
  SLUICE_RETURN_IF_ERROR(AppendBids(*topic, 0, keys, keys, true));
  if (!WaitFor([&] { return e.Gauge("sluice_view_rows", "per_key") == static_cast<double>(keys) &&
                            e.Gauge("sluice_view_lag_events", "per_key") == 0; },
               600)) {
    return Status::Internal("the view did not catch up");
  }
  // One more bid (an existing key) is applied, then checkpointed with every key.
  const double written = e.Counter("sluice_view_checkpoints_total", "per_key");
  SLUICE_RETURN_IF_ERROR(AppendBids(*topic, keys, 1, keys, true));
  if (!WaitFor([&] { return e.Counter("sluice_view_checkpoints_total", "per_key") > written; }, 60)) {
    return Status::Internal("no checkpoint");
  }
  return Status::Ok();
}

// Time and size of a checkpoint of a view with `keys` groups.
int CheckpointSize(const BenchCheckpointOptions& o, const std::string& dir) {
  BenchEngine e;
  Status s = PrepareKeys(e, dir, o.keys);
  std::vector<double> seconds, pause, bytes, raw;
  for (int run = 0; s.ok() && run < o.runs; ++run) {
    // One more bid (an existing key) makes the next interval checkpoint.
    const double written = e.Counter("sluice_view_checkpoints_total", "per_key");
    s = AppendBids(**e.log->GetTopic("bid"), o.keys + 1 + run, 1, o.keys, true);
    if (s.ok() && !WaitFor([&] { return e.Counter("sluice_view_checkpoints_total", "per_key") > written; }, 60)) {
      s = Status::Internal("no checkpoint");
    }
    if (!s.ok()) break;
    seconds.push_back(e.Gauge("sluice_view_checkpoint_seconds", "per_key"));
    pause.push_back(e.Gauge("sluice_view_checkpoint_pause_seconds", "per_key"));
    bytes.push_back(e.Gauge("sluice_view_checkpoint_bytes", "per_key"));
    raw.push_back(static_cast<double>(NewestCheckpointRawBytes(dir + "/checkpoints")));
    fmt::print("    run {}: {:.1f} ms ({:.1f} ms on the view's thread), {:.2f} MB file, {:.2f} MB of state\n", run + 1,
               seconds.back() * 1e3, pause.back() * 1e3, bytes.back() / 1e6, raw.back() / 1e6);
  }
  e.Close();
  if (!s.ok()) {
    fmt::print(stderr, "  size: {}\n", s.ToString());
    return kExitRuntimeError;
  }
  fmt::print("  size: checkpoint of a view with {} keys (GROUP BY auction: count, sum, max), median of {}\n", o.keys,
             o.runs);
  fmt::print("    {:.1f} ms per checkpoint (snapshot, compression, write, fsync; {:.1f} ms of it on the view's "
             "thread), {:.2f} MB file, {:.2f} MB uncompressed\n",
             Median(seconds) * 1e3, Median(pause) * 1e3, Median(bytes) / 1e6, Median(raw) / 1e6);
  return kExitOk;
}

// `sluice server` from a checkpoint of `keys` groups with `events` to replay: start to /ready.
int RestartTime(const BenchCheckpointOptions& o, const std::string& dir) {
  const std::string data = dir + "/data";
  {
    BenchEngine e;
    Status s = PrepareKeys(e, data, o.keys);
    if (s.ok()) {
      e.sql.reset();  // the view stops: what follows is replayed at the restart
      s = AppendBids(**e.log->GetTopic("bid"), o.keys + 1, o.events, o.keys, false);
    }
    e.Close();
    if (!s.ok()) {
      fmt::print(stderr, "  restart: {}\n", s.ToString());
      return kExitRuntimeError;
    }
  }
  std::filesystem::copy(data + "/checkpoints", dir + "/saved", std::filesystem::copy_options::recursive);
  std::vector<double> ready, recovery;
  for (int run = 0; run < o.runs; ++run) {
    // The same checkpoint every run (a run writes newer ones as it replays).
    std::filesystem::remove_all(data + "/checkpoints");
    std::filesystem::copy(dir + "/saved", data + "/checkpoints", std::filesystem::copy_options::recursive);
    const uint16_t port = PickFreePort();
    const auto t0 = std::chrono::steady_clock::now();
    pid_t child = ::fork();
    if (child == 0) {
      const std::string port_s = std::to_string(port);
      ::execl(o.self_path.c_str(), o.self_path.c_str(), "server", "--data-dir", data.c_str(), "--http-port",
              port_s.c_str(), "--pg-port", "0", "--kafka-port", "0", "--log-level", "warn",
              static_cast<char*>(nullptr));
      std::_Exit(127);
    }
    const std::string url = fmt::format("http://127.0.0.1:{}", port);
    bool up = false;
    double recovered = -1;
    while (!up && std::chrono::steady_clock::now() - t0 < std::chrono::minutes(10)) {
      auto client = HttpClient::Create(url);
      if (client.ok()) {
        auto res = (*client)->Request("GET", "/ready");
        up = res.ok() && res->status == 200;
      }
      if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (up) {
      auto client = HttpClient::Create(url);
      auto res = (*client)->Request("GET", "/metrics");
      const std::string key = "\nsluice_view_recovery_seconds{view=\"per_key\"} ";
      const size_t at = res.ok() ? res->body.find(key) : std::string::npos;
      if (at != std::string::npos) recovered = std::atof(res->body.c_str() + at + key.size());
    }
    ::kill(child, SIGTERM);
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!up) {
      fmt::print(stderr, "  restart: the server did not become ready\n");
      return kExitRuntimeError;
    }
    ready.push_back(secs);
    recovery.push_back(recovered);
    fmt::print("    run {}: ready after {:.2f} s (view recovery {:.2f} s)\n", run + 1, secs, recovered);
  }
  fmt::print("  restart: `sluice server` with a {}-key checkpoint and {} events to replay, median of {}\n", o.keys,
             o.events, o.runs);
  fmt::print("    start to /ready 200: {:.2f} s (the view's restore + replay: {:.2f} s, {:.0f} events/s)\n",
             Median(ready), Median(recovery), static_cast<double>(o.events) / Median(recovery));
  return kExitOk;
}

}  // namespace

int RunBenchCheckpoint(const BenchCheckpointOptions& o) {
  if (!o.only.empty() && o.only != "cost" && o.only != "size" && o.only != "restart") {
    fmt::print(stderr, "sluice bench checkpoint: --case is cost, size or restart\n");
    return kExitUsage;
  }
  fmt::print("bench checkpoint: Nexmark-shaped bids (JSON, ~100 B) in the log, views on one thread each\n");
  int rc = kExitOk;
  for (const char* c : {"cost", "size", "restart"}) {
    if (!o.only.empty() && o.only != c) continue;
    const std::string dir = MakeTempDir("sluice-bench-checkpoint");
    if (dir.empty()) {
      fmt::print(stderr, "sluice bench checkpoint: cannot create a temp dir\n");
      return kExitRuntimeError;
    }
    const std::string_view which(c);
    const int r = which == "cost" ? CheckpointCost(o, dir) : which == "size" ? CheckpointSize(o, dir) : RestartTime(o, dir);
    if (r != kExitOk) rc = r;
    std::filesystem::remove_all(dir);
  }
  return rc;
}

}  // namespace sluice::cli
