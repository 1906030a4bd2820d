#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/gen_loop.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/process_metrics.h"
#include "engine/engine.h"
#include "server/http_server.h"

namespace sluice::cli {

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A client that vanishes must not kill the process; writes report EPIPE instead.
  signal(SIGPIPE, SIG_IGN);
}

int WaitForTerminationSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

namespace {

// The engine and its listeners, started and stopped together.
class Node {
 public:
  explicit Node(const ServerConfig& config) : config_(config) {
    RegisterProcessMetrics(&metrics_, kSluiceVersion);
  }

  Status Start() {
    int64_t t0 = Clock::Real()->MonotonicNanos();
    auto engine = engine::Engine::Open(config_.engine, &metrics_);
    if (!engine.ok()) return engine.status().WithContext("opening the data directory");
    engine_ = std::move(engine).value();
    http_ = server::HttpServer::Create(config_.http, engine_.get(), &metrics_);
    Status s = http_->Start();
    if (!s.ok()) {
      (void)engine_->Close();
      return s.WithContext(fmt::format("starting HTTP on {}:{}", config_.http.bind, config_.http.port));
    }
    SLUICE_LOG_INFO("sluice ready in {:.0f} ms: http://{}:{} data dir {} (fsync={})",
                    (Clock::Real()->MonotonicNanos() - t0) / 1e6, config_.http.bind, http_->port(),
                    config_.engine.data_dir, log::FsyncPolicyName(config_.engine.log.fsync));
    return Status::Ok();
  }

  // Stops accepting, finishes in-flight requests, syncs and closes the log.
  Status Stop() {
    if (http_) http_->Stop();
    Status s = engine_ ? engine_->Close() : Status::Ok();
    if (s.ok()) SLUICE_LOG_INFO("sluice stopped cleanly");
    return s;
  }

  uint16_t http_port() const { return http_->port(); }

 private:
  const ServerConfig& config_;
  MetricsRegistry metrics_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<server::HttpServer> http_;
};

}  // namespace

int RunServer(const ServerConfig& config) {
  BlockTerminationSignals();
  Node node(config);
  Status s = node.Start();
  if (!s.ok()) {
    fmt::print(stderr, "sluice: {}\n", s.message());
    return kExitRuntimeError;
  }
  int sig = WaitForTerminationSignal();
  SLUICE_LOG_INFO("received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  s = node.Stop();
  if (!s.ok()) {
    fmt::print(stderr, "sluice: shutdown: {}\n", s.message());
    return kExitRuntimeError;
  }
  return kExitOk;
}

int RunDemo(ServerConfig config, const DemoOptions& demo) {
  BlockTerminationSignals();
  config.engine.auto_create_topics = true;
  Node node(config);
  Status s = node.Start();
  if (!s.ok()) {
    fmt::print(stderr, "sluice: {}\n", s.message());
    return kExitRuntimeError;
  }
  std::string host = config.http.bind == "0.0.0.0" ? "127.0.0.1" : config.http.bind;
  std::string url = fmt::format("http://{}:{}", host, node.http_port());

  std::atomic<bool> stop{false};
  std::vector<std::thread> generators;
  uint64_t seed = 1;
  for (const char* workload : {"clickstream", "transactions"}) {
    GenRunOptions gen;
    gen.gen.workload = workload;
    gen.gen.seed = seed++;
    gen.gen.rate = demo.rate;
    gen.gen.out_of_order = 0.05;
    gen.gen.duplicates = 0.01;
    gen.gen.malformed = 0.001;
    gen.gen.start_time = Clock::Real()->Now();
    gen.url = url;
    gen.batch = 50;
    gen.quiet = true;
    gen.run_id = fmt::format("demo-{}-{}", workload, gen.gen.start_time.value());
    generators.emplace_back([gen, &stop] { (void)RunGenLoop(gen, stop); });
  }

  fmt::print("\nsluice demo is running.\n"
             "  dashboard:  {0}/\n"
             "  metrics:    {0}/metrics\n"
             "  topics:     curl {0}/v1/topics\n"
             "  send:       curl -XPOST {0}/v1/topics/clicks/events -d '{{\"user\":1}}'\n"
             "  replay:     curl '{0}/v1/topics/clicks/events?partition=0&offset=0&limit=5'\n"
             "Press Ctrl-C to stop.\n\n",
             url);
  std::fflush(stdout);

  WaitForTerminationSignal();
  SLUICE_LOG_INFO("shutting down the demo");
  stop = true;
  for (auto& t : generators) t.join();
  s = node.Stop();
  if (!s.ok()) {
    fmt::print(stderr, "sluice: shutdown: {}\n", s.message());
    return kExitRuntimeError;
  }
  return kExitOk;
}

}  // namespace sluice::cli
