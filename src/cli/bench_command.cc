#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
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
  auto created = sql->Execute(
      "CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, "
      "date_time TIMESTAMP, extra VARCHAR) WITH (topic = 'bid')");
  if (!created.ok()) {
    fmt::print(stderr, "sluice bench sql: {}\n", created.status().ToString());
    return kExitRuntimeError;
  }
  // Nexmark-shaped bids (~100 bytes of JSON each), 10K distinct auctions, 100K events per second.
  auto topic = log->GetTopic("bid");
  Clock* clock = Clock::Real();
  std::mt19937_64 rng(42);
  static constexpr const char* kChannels[] = {"apple", "google", "facebook", "baidu"};
  log::RecordBatchBuilder builder;
  std::string value;
  for (int64_t i = 0; i < o.events; ++i) {
    value.clear();
    int64_t ms = 1'767'225'600'000 + i / 100;  // 100K events per second of event time
    fmt::format_to(std::back_inserter(value),
                   "{{\"auction\":{},\"bidder\":{},\"price\":{},\"channel\":\"{}\",\"url\":\"https://x.io/{}\","
                   "\"date_time\":{},\"extra\":\"\"}}",
                   1000 + rng() % 10'000, 2000 + rng() % 100'000, rng() % 1'000'000, kChannels[rng() % 4], rng() % 1000, ms);
    builder.Add(clock->Now(), std::nullopt, value);  // log time is now: retention must not touch it
    if (builder.record_count() == 1000 || i + 1 == o.events) {
      std::promise<bool> done;
      (*topic)->partition(PartitionId(0)).Append(builder.Finish(), [&](Result<log::AppendResult> r) { done.set_value(r.ok()); });
      if (!done.get_future().get()) {
        fmt::print(stderr, "sluice bench sql: append failed\n");
        return kExitRuntimeError;
      }
    }
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
  auto cpu_seconds = [] {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
  };
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
