// The sluice binary: every command of SPEC §1 behind one CLI11 parser.

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "cli/commands.h"
#include "cli/config.h"
#include "cli/sql_shell.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/time_format.h"

namespace sluice::cli {
namespace {

// Flags shared by `server` and `demo`; applied over the config file only when given.
struct ServerFlags {
  std::string config_file;
  std::string data_dir;
  std::string bind;
  uint16_t http_port = 0;
  uint16_t pg_port = 0;
  uint16_t kafka_port = 0;
  std::string fsync;
  int io_threads = 0;
  std::string log_level;
  std::vector<CLI::Option*> options;

  void Register(CLI::App* app) {
    app->add_option("--config", config_file, "TOML config file (see docs/configuration.md)")
        ->check(CLI::ExistingFile);
    app->add_option("--data-dir", data_dir, "Data directory (default ./sluice-data)");
    app->add_option("--bind", bind, "Address to listen on (default 127.0.0.1)");
    app->add_option("--http-port", http_port, "HTTP port (default 8080; 0 = any free port)");
    app->add_option("--pg-port", pg_port, "PostgreSQL wire port (default 5433; 0 = any free port)");
    app->add_option("--kafka-port", kafka_port, "Kafka protocol port (default 9092; 0 = any free port)");
    app->add_option("--fsync", fsync, "fsync policy: always | interval | never (default always)");
    app->add_option("--io-threads", io_threads, "HTTP io threads (default 2)")->check(CLI::Range(1, 256));
    app->add_option("--log-level", log_level, "trace | debug | info | warn | error (default info)");
  }

  // Builds the effective config: defaults, then the file, then flags.
  Result<ServerConfig> Resolve(CLI::App* app) const {
    ServerConfig config;
    if (!config_file.empty()) SLUICE_RETURN_IF_ERROR(LoadConfigFile(config_file, &config));
    if (app->count("--data-dir")) config.engine.data_dir = data_dir;
    if (app->count("--bind")) config.http.bind = bind;
    if (app->count("--http-port")) config.http.port = http_port;
    if (app->count("--pg-port")) config.pgwire.port = pg_port;
    if (app->count("--kafka-port")) config.kafka.port = kafka_port;
    if (app->count("--io-threads")) config.http.io_threads = io_threads;
    if (app->count("--log-level")) config.log_level = log_level;
    if (app->count("--fsync")) {
      SLUICE_ASSIGN_OR_RETURN(config.engine.log.fsync, log::ParseFsyncPolicy(fsync));
    }
    return config;
  }
};

Status ConfigureLogging(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    return Status::InvalidArgument(fmt::format("unknown log level '{}'", level));
  }
  auto logger = spdlog::stderr_color_mt("sluice");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);
  spdlog::set_level(parsed);
  return Status::Ok();
}

// A server holds a descriptor per connection, subscriber, segment and index, and the soft limit
// is often 1 024: raise it to the hard limit the administrator allows (as databases do).
void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  (void)setrlimit(RLIMIT_NOFILE, &limit);
}

int Main(int argc, char** argv) {
  RaiseOpenFileLimit();
  CLI::App app("sluice: a real-time streaming analytics engine in one binary", "sluice");
  app.require_subcommand(1);
  app.set_version_flag("--version", kSluiceVersion);

  // server
  CLI::App* server = app.add_subcommand("server", "Run the engine (HTTP on 8080)");
  ServerFlags server_flags;
  server_flags.Register(server);

  // demo
  CLI::App* demo = app.add_subcommand("demo", "Run the server with built-in traffic and print the dashboard URL");
  ServerFlags demo_flags;
  demo_flags.Register(demo);
  DemoOptions demo_options;
  demo->add_option("--rate", demo_options.rate, "Events/s per demo workload (default 200)")
      ->check(CLI::Range(0.0, 1e7));

  // gen
  CLI::App* gen = app.add_subcommand("gen", "Send a synthetic workload to a server");
  GenRunOptions gen_options;
  std::string start_time;
  gen->add_option("workload", gen_options.gen.workload, "clickstream | transactions | nexmark")->required();
  gen->add_option("--url", gen_options.url, "Server URL (default http://127.0.0.1:8080)");
  gen->add_option("--rate", gen_options.gen.rate,
                  "Events/s (default 1000; 0 = as fast as possible); nexmark: of event time (default 10000)");
  gen->add_option("--events", gen_options.events, "Stop after N events (default: until Ctrl-C)");
  gen->add_option("--batch", gen_options.batch, "Events per request (default 500)")->check(CLI::Range(1, 1000000));
  gen->add_option("--seed", gen_options.gen.seed, "Random seed (default 42)");
  gen->add_option("--topic", gen_options.topic, "Topic (default: clicks / transactions)");
  gen->add_option("--keys", gen_options.gen.keys, "Distinct users/accounts (default 10000)");
  gen->add_option("--key-skew", gen_options.gen.key_skew, "Zipf exponent of key popularity (0 = uniform; default 1)");
  gen->add_option("--out-of-order", gen_options.gen.out_of_order, "Fraction of events delayed in event time");
  gen->add_option("--max-disorder-ms", gen_options.gen.max_disorder_ms, "Largest delay of an out-of-order event");
  gen->add_option("--late", gen_options.gen.late, "Fraction of events far behind the stream (late data)");
  gen->add_option("--duplicates", gen_options.gen.duplicates, "Fraction of events that repeat an earlier one");
  gen->add_option("--malformed", gen_options.gen.malformed, "Fraction of lines that are not valid JSON events");
  gen->add_option("--start-time", start_time,
                  "Event time of the first event (RFC 3339 or epoch ms; default now, nexmark 2026-01-01)");
  gen->add_option("--run-id", gen_options.run_id, "Prefix of the Idempotency-Keys (default from seed + start time)");
  gen->add_flag("--quiet", gen_options.quiet, "No progress output");
  GenNexmarkOptions nexmark_options;
  gen->add_flag("--max-speed", nexmark_options.max_speed, "nexmark: send as fast as possible (event time keeps --rate)");
  gen->add_option("--output", nexmark_options.output_dir, "nexmark: write DIR/{person,auction,bid}.ndjson instead of sending");

  // topics
  CLI::App* topics = app.add_subcommand("topics", "List, create, describe or delete topics");
  TopicsOptions topics_options;
  topics->add_option("action", topics_options.action, "list | create | describe | delete")
      ->required()
      ->check(CLI::IsMember({"list", "create", "describe", "delete"}));
  topics->add_option("name", topics_options.name, "Topic name");
  topics->add_option("--url", topics_options.url, "Server URL (default http://127.0.0.1:8080)");
  topics->add_option("--partitions", topics_options.partitions, "Partitions (create)")->check(CLI::Range(1, 1024));
  topics->add_option("--retention", topics_options.retention, "Retention, e.g. 7d, 12h, -1 = forever (create)");
  topics->add_option("--key", topics_options.key, "Default partition key field (create)");

  // verify
  CLI::App* verify = app.add_subcommand("verify", "Recompute a view in batch from the retained log and diff it");
  VerifyOptions verify_options;
  verify->add_option("view", verify_options.view, "Materialized view")->required();
  verify->add_option("--url", verify_options.url, "Server URL (default http://127.0.0.1:8080)");
  verify->add_option("--max-rows", verify_options.max_rows, "Mismatching rows printed per side (default 20)")
      ->check(CLI::Range(0, 1000000));

  // sql
  CLI::App* sql = app.add_subcommand("sql", "SQL shell against a server (or one statement with -e)");
  SqlShellOptions sql_options;
  sql->add_option("-e,--execute", sql_options.execute, "Run these statements and exit");
  sql->add_option("--url", sql_options.url, "Server URL (default http://127.0.0.1:8080)");
  sql->add_flag("--timing", sql_options.timing, "Print how long each statement took");

  // bench
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks (see BENCHMARKS.md)");
  bench->require_subcommand(1);
  CLI::App* bench_ingest = bench->add_subcommand("ingest", "HTTP NDJSON ingest throughput and ack latency");
  BenchIngestOptions ingest_options;
  bench_ingest->add_option("--fsync", ingest_options.fsync, "always | interval | never (default always)");
  bench_ingest->add_option("--connections", ingest_options.connections, "Client connections (default 4)");
  bench_ingest->add_option("--batch", ingest_options.batch, "Events per request (default 1000)");
  bench_ingest->add_option("--events", ingest_options.events, "Events in total (default 2000000)");
  bench_ingest->add_option("--rate", ingest_options.rate, "Pace at this many events/s (default: flat out)");
  bench_ingest->add_option("--event-bytes", ingest_options.event_bytes, "Approximate event size (default 100)");
  bench_ingest->add_option("--server-threads", ingest_options.server_threads, "Server io threads (default 1)");
  bool no_pin = false;
  bench_ingest->add_flag("--no-pin", no_pin, "Do not pin the server to CPU 0 and clients to the others");
  CLI::App* bench_latency =
      bench->add_subcommand("latency", "Source time to SSE delivery of the view change, at a paced rate");
  BenchLatencyOptions latency_options;
  bench_latency->add_option("--rate", latency_options.rate, "Events/s offered (default 10000)");
  bench_latency->add_option("--seconds", latency_options.seconds, "How long to send (default 10)");
  bench_latency->add_option("--event-bytes", latency_options.event_bytes, "Approximate event size (default 100)");
  bench_latency->add_option("--fsync", latency_options.fsync, "always | interval | never (default always)");
  bench_latency->add_option("--subscribers", latency_options.subscribers, "SSE subscribers of the view (default 1)")
      ->check(CLI::Range(1, 100000));
  bench_latency->add_option("--server-threads", latency_options.server_threads, "The server's HTTP io threads (default 1)")
      ->check(CLI::Range(1, 64));
  CLI::App* bench_kafka = bench->add_subcommand(
      "kafka", "Kafka protocol: produce and consume throughput, produce latency (librdkafka)");
  BenchKafkaOptions kafka_bench;
  bench_kafka->add_option("--case", kafka_bench.only, "produce | consume | latency | all (default all)")
      ->check(CLI::IsMember({"produce", "consume", "latency", "all"}));
  bench_kafka->add_option("--records", kafka_bench.records,
                          "Records produced (and read back) by the throughput cases (default 5000000)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  bench_kafka->add_option("--record-bytes", kafka_bench.record_bytes, "Value size in bytes (default 100)")
      ->check(CLI::Range(1, 1 << 20));
  bench_kafka->add_option("--partitions", kafka_bench.partitions, "Partitions of the topics (default 4)")
      ->check(CLI::Range(1, 1024));
  bench_kafka->add_option("--rate", kafka_bench.rate, "Latency case: records/s offered (default 50000)")
      ->check(CLI::Range(1.0, 1e8));
  bench_kafka->add_option("--seconds", kafka_bench.seconds, "Latency case: how long to send (default 10)")
      ->check(CLI::Range(int64_t{1}, int64_t{86400}));
  bench_kafka->add_option("--fsync", kafka_bench.fsync, "always | interval | never (default always)")
      ->check(CLI::IsMember({"always", "interval", "never"}));
  bench_kafka->add_option("--compression", kafka_bench.compression,
                          "Producer compression: none | gzip | snappy | lz4 | zstd (default none)")
      ->check(CLI::IsMember({"none", "gzip", "snappy", "lz4", "zstd"}));
  bench_kafka->add_option("--produce-api", kafka_bench.produce_api,
                          "Produce case: batch (rd_kafka_produce_batch, 1000 records a call) | record "
                          "(rd_kafka_produce per record) (default batch)")
      ->check(CLI::IsMember({"batch", "record"}));
  bench_kafka->add_option("--fetch-max-bytes", kafka_bench.fetch_max_bytes,
                          "Consume case: the consumer's fetch.max.bytes (default 8388608)")
      ->check(CLI::Range(int64_t{1024}, int64_t{1} << 30));
  bench_kafka->add_option("--partition-fetch-bytes", kafka_bench.partition_fetch_bytes,
                          "Consume case: the consumer's max.partition.fetch.bytes (default 2097152)")
      ->check(CLI::Range(int64_t{1024}, int64_t{1} << 30));
  bool kafka_no_pin = false;
  bench_kafka->add_flag("--no-pin", kafka_no_pin, "Do not pin the server to CPU 0 and the client to CPU 1");
  CLI::App* bench_log = bench->add_subcommand("log", "In-process log append and replay throughput");
  BenchLogOptions log_options;
  bench_log->add_option("--fsync", log_options.fsync, "always | interval | never (default always)");
  bench_log->add_option("--threads", log_options.threads, "Appending threads (default 4)");
  bench_log->add_option("--partitions", log_options.partitions, "Partitions (default 4)");
  bench_log->add_option("--batch", log_options.batch, "Records per batch (default 1000)");
  bench_log->add_option("--events", log_options.events, "Events in total (default 5000000)");
  bench_log->add_option("--event-bytes", log_options.event_bytes, "Value size (default 100)");
  bench_log->add_option("--dir", log_options.dir, "Directory (default: a temp dir, removed afterwards)");

  CLI::App* bench_nexmark = bench->add_subcommand("nexmark", "A Nexmark query over generated events (one thread)");
  BenchNexmarkOptions nexmark_bench;
  bench_nexmark->add_option("--query", nexmark_bench.query, "q0..q22, those in bench/nexmark (default q0; see --list)");
  bench_nexmark->add_option("--events", nexmark_bench.events, "Events generated (default 1000000)");
  bench_nexmark->add_option("--seed", nexmark_bench.seed, "Generator seed (default 42)");
  bench_nexmark->add_option("--rate", nexmark_bench.rate, "Event-time rate, events/s (default 10000000)");
  bench_nexmark->add_option("--runs", nexmark_bench.runs, "Runs; the median is printed (default 1)");
  bench_nexmark->add_flag("--in-process", nexmark_bench.in_process, "Rows straight into the dataflow (no JSON, no log)");
  bench_nexmark->add_flag("--list", nexmark_bench.list, "Print the available queries");

  CLI::App* bench_checkpoint =
      bench->add_subcommand("checkpoint", "Checkpoint cost, size and restart time of views (issue 4)");
  BenchCheckpointOptions checkpoint_bench;
  bench_checkpoint->add_option("--events", checkpoint_bench.events,
                               "Events the TUMBLE view catches up on (cost) and events replayed at restart "
                               "(default 10000000)");
  bench_checkpoint->add_option("--keys", checkpoint_bench.keys, "GROUP BY keys of the size and restart cases (default 1000000)");
  bench_checkpoint->add_option("--runs", checkpoint_bench.runs, "Runs per case; medians are printed (default 3)");
  bench_checkpoint->add_option("--case", checkpoint_bench.only, "Only this case: cost | size | restart");
  CLI::App* bench_sql = bench->add_subcommand("sql", "SQL over events already in the log (one thread)");
  BenchSqlOptions sql_bench_options;
  bench_sql->add_option("--events", sql_bench_options.events, "Events in the log (default 2000000)");
  bench_sql->add_option("--runs", sql_bench_options.runs, "Runs per query; the median is printed (default 3)");
  bench_sql->add_option("--query", sql_bench_options.query, "Only the queries whose name contains this: filter | tumble | hop");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }

  auto resolve = [](ServerFlags& flags, CLI::App* sub) -> Result<ServerConfig> {
    SLUICE_ASSIGN_OR_RETURN(ServerConfig config, flags.Resolve(sub));
    SLUICE_RETURN_IF_ERROR(ConfigureLogging(config.log_level));
    return config;
  };

  if (server->parsed() || demo->parsed()) {
    bool is_demo = demo->parsed();
    auto config = resolve(is_demo ? demo_flags : server_flags, is_demo ? demo : server);
    if (!config.ok()) {
      fmt::print(stderr, "sluice: {}\n", config.status().message());
      return kExitUsage;
    }
    return is_demo ? RunDemo(*config, demo_options) : RunServer(*config);
  }
  (void)ConfigureLogging("warn");
  if (gen->parsed()) {
    std::optional<TimestampMs> start;
    if (std::all_of(start_time.begin(), start_time.end(), ::isdigit) && !start_time.empty()) {
      start = TimestampMs(std::stoll(start_time));
    } else if (!start_time.empty()) {
      auto ts = ParseRfc3339(start_time);
      if (!ts.ok()) {
        fmt::print(stderr, "sluice gen: --start-time: {}\n", ts.status().message());
        return kExitUsage;
      }
      start = *ts;
    }
    const bool nexmark = gen_options.gen.workload == "nexmark";
    for (const char* flag : {"--topic", "--keys", "--key-skew", "--out-of-order", "--max-disorder-ms", "--late",
                             "--duplicates", "--malformed", "--max-speed", "--output"}) {
      const bool nexmark_flag = std::string_view(flag) == "--max-speed" || std::string_view(flag) == "--output";
      if (gen->count(flag) > 0 && nexmark != nexmark_flag) {
        fmt::print(stderr, "sluice gen: {} applies to {} only\n", flag,
                   nexmark_flag ? "the nexmark workload" : "the clickstream and transactions workloads");
        return kExitUsage;
      }
    }
    if (nexmark) {
      // Deterministic by default: a fixed start time unless --start-time is given (docs/nexmark.md).
      nexmark_options.url = gen_options.url;
      nexmark_options.events = gen_options.events;
      nexmark_options.quiet = gen_options.quiet;
      nexmark_options.run_id = gen_options.run_id;
      nexmark_options.nexmark.seed = gen_options.gen.seed;
      if (gen->count("--batch") > 0) nexmark_options.batch = gen_options.batch;
      if (gen->count("--rate") > 0) nexmark_options.nexmark.rate = gen_options.gen.rate;
      if (start) nexmark_options.nexmark.base_time = *start;
      return RunGenNexmark(nexmark_options);
    }
    gen_options.gen.start_time = start ? *start : Clock::Real()->Now();
    return RunGen(gen_options);
  }
  if (topics->parsed()) return RunTopics(topics_options);
  if (sql->parsed()) return RunSqlShell(sql_options);
  if (verify->parsed()) return RunVerify(verify_options);
  // The path of this binary (the benchmarks that start `sluice server` run it).
  auto self_path = [&] {
    char self[4096];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
    return n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string(argv[0]);
  };
  if (bench_ingest->parsed()) {
    ingest_options.pin = !no_pin;
    ingest_options.self_path = self_path();
    return RunBenchIngest(ingest_options);
  }
  if (bench_latency->parsed()) {
    latency_options.self_path = self_path();
    return RunBenchLatency(latency_options);
  }
  if (bench_kafka->parsed()) {
    kafka_bench.pin = !kafka_no_pin;
    kafka_bench.self_path = self_path();
    return RunBenchKafka(kafka_bench);
  }
  if (bench_log->parsed()) return RunBenchLog(log_options);
  if (bench_sql->parsed()) return RunBenchSql(sql_bench_options);
  if (bench_checkpoint->parsed()) {
    checkpoint_bench.self_path = self_path();
    return RunBenchCheckpoint(checkpoint_bench);
  }
  if (bench_nexmark->parsed()) return RunBenchNexmark(nexmark_bench);
  return kExitUsage;
}

}  // namespace
}  // namespace sluice::cli

int main(int argc, char** argv) { return sluice::cli::Main(argc, argv); }
