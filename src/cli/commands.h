#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/config.h"
#include "cli/generator.h"

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

// Blocks SIGINT and SIGTERM in the calling thread (call before starting threads so they
// inherit the mask) and returns a function that waits for one of them.
void BlockTerminationSignals();
int WaitForTerminationSignal();

}  // namespace sluice::cli
