#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/gen_loop.h"
#include "cli/http_client.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/process_metrics.h"
#include "connectors/kafka/kafka_connector.h"
#include "engine/engine.h"
#include "server/http_server.h"
#include "server/kafka/kafka_server.h"
#include "server/pgwire/pg_server.h"

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

int RunUntilSignalled(const std::function<int(const std::atomic<bool>& stop)>& work) {
  BlockTerminationSignals();
  std::atomic<bool> stop{false};
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    while (!done.load()) {
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGINT);
      sigaddset(&set, SIGTERM);
      timespec timeout{0, 100'000'000};
      if (sigtimedwait(&set, nullptr, &timeout) > 0) {
        stop = true;
        return;
      }
    }
  });
  const int rc = work(stop);
  done = true;
  waiter.join();
  return rc;
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
    engine::EngineOptions options = config_.engine;
    options.connectors = connectors::KafkaConnectors();
    auto engine = engine::Engine::Open(std::move(options), &metrics_);
    if (!engine.ok()) return engine.status().WithContext("opening the data directory");
    engine_ = std::move(engine).value();
    // PostgreSQL first: once HTTP answers /ready, every listener is up.
    if (config_.pgwire.enabled) {
      server::pgwire::PgOptions pg = config_.pgwire;
      pg.bind = config_.http.bind;
      auto created = server::pgwire::PgServer::Create(std::move(pg), engine_.get(), &metrics_);
      Status s = created.ok() ? (*created)->Start() : created.status();
      if (!s.ok()) {
        (void)engine_->Close();
        return s.WithContext(fmt::format("starting the PostgreSQL listener on {}:{}", config_.http.bind,
                                         config_.pgwire.port));
      }
      pg_ = std::move(created).value();
    }
    if (config_.kafka.enabled) {
      server::kafka::KafkaOptions kafka = config_.kafka;
      kafka.bind = config_.http.bind;
      auto created = server::kafka::KafkaServer::Create(std::move(kafka), engine_.get(), &metrics_);
      Status s = created->Start();
      if (!s.ok()) {
        if (pg_) pg_->Stop();
        (void)engine_->Close();
        return s.WithContext(fmt::format("starting the Kafka listener on {}:{}", config_.http.bind,
                                         config_.kafka.port));
      }
      kafka_ = std::move(created);
    }
    http_ = server::HttpServer::Create(config_.http, engine_.get(), &metrics_);
    Status s = http_->Start();
    if (!s.ok()) {
      if (kafka_) kafka_->Stop();
      if (pg_) pg_->Stop();
      (void)engine_->Close();
      return s.WithContext(fmt::format("starting HTTP on {}:{}", config_.http.bind, config_.http.port));
    }
    SLUICE_LOG_INFO("sluice ready in {:.0f} ms: http://{}:{} postgres://{}:{} kafka://{}:{} data dir {} (fsync={})",
                    (Clock::Real()->MonotonicNanos() - t0) / 1e6, config_.http.bind, http_->port(),
                    config_.http.bind, pg_ ? pg_->port() : 0, config_.http.bind, kafka_ ? kafka_->port() : 0,
                    config_.engine.data_dir,
                    log::FsyncPolicyName(config_.engine.log.fsync));
    return Status::Ok();
  }

  // Stops accepting, finishes in-flight requests, syncs and closes the log.
  Status Stop() {
    if (kafka_) kafka_->Stop();
    if (pg_) pg_->Stop();
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
  std::unique_ptr<server::pgwire::PgServer> pg_;
  std::unique_ptr<server::kafka::KafkaServer> kafka_;
};

// The network threads allocate and free buffers of megabytes per request (a Kafka fetch
// reads up to a few MiB per partition). With glibc's defaults such buffers are mapped fresh
// (or the heap top is trimmed after each free), so every response paid page faults and page
// clearing for its whole size: 25-30 % of the server's CPU while serving fetches. Keeping
// buffers up to 32 MiB (glibc's maximum) in the heap, and 256 MiB of free heap top, lets them
// be reused; larger allocations (checkpoint buffers) are still mapped and returned.
void TuneAllocator() {
  (void)mallopt(M_MMAP_THRESHOLD, 32 << 20);
  (void)mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

}  // namespace

int RunServer(const ServerConfig& config) {
  TuneAllocator();
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
  TuneAllocator();
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

  // Example sources and views over the generated traffic (already there after a restart).
  if (auto admin = HttpClient::Create(url); admin.ok()) {
    static constexpr const char* kDemoSql =
        "CREATE SOURCE IF NOT EXISTS clicks (event_id VARCHAR, user_id BIGINT, page VARCHAR, action VARCHAR, "
        "country VARCHAR, device VARCHAR, ts TIMESTAMP, source_ts BIGINT, "
        "WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH (topic = 'clicks');"
        "CREATE SOURCE IF NOT EXISTS transactions (txn_id VARCHAR, account_id BIGINT, merchant_id BIGINT, "
        "category VARCHAR, amount DECIMAL(12,2), currency VARCHAR, country VARCHAR, card_present BOOLEAN, "
        "ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH (topic = 'transactions');"
        "CREATE MATERIALIZED VIEW IF NOT EXISTS revenue_per_country_minute AS SELECT country, window_start, "
        "count(*) AS orders, sum(amount) AS revenue FROM TUMBLE(transactions, ts, INTERVAL '1' MINUTE) "
        "GROUP BY country, window_start;"
        "CREATE MATERIALIZED VIEW IF NOT EXISTS page_views AS SELECT page, count(*) AS views, "
        "count(DISTINCT user_id) AS users FROM clicks WHERE action = 'view' GROUP BY page;"
        "CREATE MATERIALIZED VIEW IF NOT EXISTS big_spenders AS SELECT account_id, count(*) AS txns, "
        "sum(amount) AS spent FROM transactions WHERE amount > 500 GROUP BY account_id;"
        // Top pages of the last 10 minutes (a 1-minute hop), ranked per window.
        "CREATE MATERIALIZED VIEW IF NOT EXISTS top_pages_10m AS SELECT window_end, page, views, rn FROM ("
        "SELECT window_end, page, views, ROW_NUMBER() OVER (PARTITION BY window_end ORDER BY views DESC, page) AS rn "
        "FROM (SELECT window_end, page, count(*) AS views FROM HOP(clicks, ts, INTERVAL '1' MINUTE, "
        "INTERVAL '10' MINUTE) GROUP BY window_end, page) w) r WHERE rn <= 5;"
        // A suspicious-activity rule: several card-not-present payments by one account in a minute,
        // reported once per closed minute.
        "CREATE MATERIALIZED VIEW IF NOT EXISTS suspicious_accounts AS SELECT account_id, window_start, "
        "count(*) AS payments, sum(amount) AS total FROM TUMBLE(transactions, ts, INTERVAL '1' MINUTE) "
        "WHERE NOT card_present GROUP BY account_id, window_start HAVING count(*) >= 3 EMIT ON WINDOW CLOSE;"
        "CREATE SINK IF NOT EXISTS large_payments INTO large_payments AS SELECT txn_id, account_id, amount, "
        "country, ts FROM transactions WHERE amount > 5000";
    std::string body = "{\"sql\":\"";
    for (const char* c = kDemoSql; *c; ++c) body += *c == '"' ? std::string("\\\"") : std::string(1, *c);
    body += "\"}";
    auto res = (*admin)->Request("POST", "/v1/sql", body, "application/json");
    if (!res.ok() || res->status != 200) {
      SLUICE_LOG_WARN("demo: could not create the example views: {}",
                      res.ok() ? ServerErrorMessage(*res) : res.status().message());
    }
  }

  fmt::print("\nsluice demo is running.\n"
             "  dashboard:  {0}/\n"
             "  metrics:    {0}/metrics\n"
             "  topics:     curl {0}/v1/topics\n"
             "  send:       curl -XPOST {0}/v1/topics/clicks/events -d '{{\"user\":1}}'\n"
             "  replay:     curl '{0}/v1/topics/clicks/events?partition=0&offset=0&limit=5'\n"
             "  query:      sluice sql --url {0} -e 'SELECT * FROM page_views ORDER BY views DESC LIMIT 5'\n"
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
