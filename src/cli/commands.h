#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cli/config.h"
#include "cli/generator.h"
#include "cli/nexmark.h"

namespace sluice::cli {

inline constexpr const char* kSluiceVersion = "0.1.0";

// Exit codes of every command (SPEC §1).
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntimeError = 1;
inline constexpr int kExitUsage = 2;

// Runs the engine and its listeners until SIGINT/SIGTERM, then shuts down cleanly.
int RunServer(const ServerConfig& config);

struct DemoOptions {
  double rate = 200;  // events/s per workload
};
// `sluice server` plus built-in traffic for the example workloads.
int RunDemo(ServerConfig config, const DemoOptions& demo);

struct GenRunOptions {
  GenOptions gen;
  std::string url = "http://127.0.0.1:8080";
  std::string topic;     // default: the workload's topic
  int64_t events = -1;   // -1 = until interrupted
  int batch = 500;       // events per request
  bool quiet = false;
  std::string run_id;    // prefix of Idempotency-Keys; default derived from seed and start time
};
int RunGen(const GenRunOptions& options);

struct TopicsOptions {
  std::string action;  // list | create | describe | delete
  std::string url = "http://127.0.0.1:8080";
  std::string name;
  int32_t partitions = 0;
  std::string retention;
  std::string key;
};
int RunTopics(const TopicsOptions& options);

struct VerifyOptions {
  std::string view;
  std::string url = "http://127.0.0.1:8080";
  int max_rows = 20;  // mismatching rows printed per side
};
// `sluice verify VIEW`: the data-parity check; exit 1 on any mismatch.
int RunVerify(const VerifyOptions& options);

struct BenchIngestOptions {
  std::string fsync = "always";
  int connections = 4;
  int batch = 1000;
  int64_t events = 2'000'000;
  double rate = 0;          // 0 = as fast as possible; else paced total events/s
  int event_bytes = 100;
  int server_threads = 1;
  bool pin = true;          // server on CPU 0, clients on the others
  std::string self_path;    // path of this binary (to start the server process)
};
int RunBenchIngest(const BenchIngestOptions& options);

struct BenchLatencyOptions {
  double rate = 10'000;  // events/s offered
  int64_t seconds = 10;
  int event_bytes = 100;
  std::string fsync = "always";
  int subscribers = 1;    // SSE subscriptions to the view, each must receive every row
  int server_threads = 1;  // the server's HTTP io threads
  std::string self_path;  // path of this binary (to start the server process)
};
int RunBenchLatency(const BenchLatencyOptions& options);

struct BenchLogOptions {
  std::string fsync = "always";
  int threads = 4;
  int partitions = 4;
  int batch = 1000;
  int64_t events = 5'000'000;
  int event_bytes = 100;
  std::string dir;  // default: a temp dir, removed afterwards
};
int RunBenchLog(const BenchLogOptions& options);

struct BenchSqlOptions {
  int64_t events = 2'000'000;
  int runs = 3;
  std::string query;  // run only the cases whose short name (filter, tumble, hop) contains this
};
// Ad-hoc queries over events already in the log (JSON decoding included), one thread.
int RunBenchSql(const BenchSqlOptions& options);

// `sluice bench checkpoint`: the cost of checkpoints (issue 4), Release build, median of runs.
struct BenchCheckpointOptions {
  int64_t events = 10'000'000;  // cost: events the TUMBLE view catches up on; restart: events to replay
  int64_t keys = 1'000'000;     // size and restart: GROUP BY keys in the view's state
  int runs = 3;
  std::string only;             // cost | size | restart (default: all three)
  std::string self_path;        // this binary (restart starts `sluice server`)
};
int RunBenchCheckpoint(const BenchCheckpointOptions& options);

// `sluice bench kafka`: produce and consume throughput and produce latency over the Kafka
// protocol (issue 7), librdkafka against a `sluice server` child process
// (docs/benchmarks-kafka.md).
struct BenchKafkaOptions {
  std::string only = "all";           // produce | consume | latency | all
  int64_t records = 5'000'000;        // produce (and consume) case
  int record_bytes = 100;
  int partitions = 4;
  double rate = 50'000;               // latency case: records/s offered
  int64_t seconds = 10;               // latency case: how long to send
  std::string fsync = "always";
  std::string compression = "none";   // librdkafka compression.type of the producers
  std::string produce_api = "batch";  // produce case: batch (rd_kafka_produce_batch) | record
  int64_t fetch_max_bytes = 8 << 20;            // consume case: fetch.max.bytes
  int64_t partition_fetch_bytes = 2 << 20;      // consume case: max.partition.fetch.bytes
  bool pin = true;                    // server on CPU 0, the client on CPU 1
  std::string self_path;              // this binary (to start the server process)
};
int RunBenchKafka(const BenchKafkaOptions& options);

// `sluice gen nexmark`: the Nexmark person/auction/bid streams (docs/nexmark.md) sent to the
// topics `person`, `auction` and `bid` over HTTP, or written as NDJSON files.
struct GenNexmarkOptions {
  nexmark::Options nexmark;
  std::string url = "http://127.0.0.1:8080";
  int64_t events = -1;     // -1 = until interrupted
  int batch = 1000;        // events generated per round (split into one request per topic)
  bool max_speed = false;  // send as fast as possible (event time still follows --rate)
  std::string output_dir;  // non-empty: write <dir>/{person,auction,bid}.ndjson instead of sending
  bool quiet = false;
  std::string run_id;      // prefix of Idempotency-Keys; default derived from seed and start time
};
int RunGenNexmark(const GenNexmarkOptions& options);

// `sluice bench nexmark`: one Nexmark query over N generated events, one thread.
struct BenchNexmarkOptions {
  std::string query = "q0";  // q0..q22 (those bench/nexmark/ has)
  int64_t events = 1'000'000;
  uint64_t seed = 42;
  double rate = 10'000'000;  // event time rate (the published suite's 10M events/s)
  bool in_process = false;   // generated rows straight into the dataflow (no JSON, no log)
  int runs = 1;
  bool list = false;         // print the available queries and exit
};
int RunBenchNexmark(const BenchNexmarkOptions& options);

// Blocks SIGINT and SIGTERM in the calling thread (call before starting threads so they
// inherit the mask) and returns a function that waits for one of them.
void BlockTerminationSignals();
int WaitForTerminationSignal();
// Runs `work` with SIGINT/SIGTERM turned into `stop` becoming true (so a loop can end cleanly
// and print its summary); returns what `work` returns.
int RunUntilSignalled(const std::function<int(const std::atomic<bool>& stop)>& work);

}  // namespace sluice::cli
