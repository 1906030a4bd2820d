#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include "common/metrics.h"
#include "engine/engine.h"
#include "server/kafka/handler.h"
#include "server/kafka/kafka_options.h"

namespace sluice::server::kafka {

class GroupCoordinator;
class ProducerRegistry;
class TransactionCoordinator;

// The broker side of the protocol, without sockets: decodes a request's header, runs its
// handler against the engine's log and records per-API metrics. Shared by every connection;
// thread-safe. sluice is a one-node cluster: node 0 leads every partition and coordinates
// every group.
class Broker {
 public:
  // `engine` and `metrics` must outlive the broker.
  Broker(KafkaOptions options, engine::Engine* engine, MetricsRegistry* metrics);
  ~Broker();

  // Handles one request frame (without its size prefix). `done` is called exactly once,
  // possibly on another thread, with the whole response frame (size prefix included; empty
  // for no response) or an error that means "close the connection".
  void HandleFrame(std::string_view frame, RequestContext ctx, std::function<void(Result<OutFrame>)> done);

  // Recovers committed group offsets and starts the group timers. Must succeed before the
  // first request.
  Status Start();
  // Stops background work (group timers). Idempotent.
  void Stop();

  const KafkaOptions& options() const { return options_; }
  engine::Engine& engine() { return *engine_; }
  log::Log& log() { return engine_->log(); }
  GroupCoordinator& groups() { return *groups_; }
  ProducerRegistry& producers() { return *producers_; }
  TransactionCoordinator& transactions() { return *transactions_; }
  static constexpr int32_t kNodeId = 0;

 private:
  struct ApiMetrics {
    Counter* requests = nullptr;
    Counter* errors = nullptr;
    Histogram* latency = nullptr;
  };
  ApiMetrics* MetricsFor(int16_t api_key);

  const KafkaOptions options_;
  engine::Engine* const engine_;
  std::unique_ptr<ProducerRegistry> producers_;
  std::unique_ptr<GroupCoordinator> groups_;
  std::unique_ptr<TransactionCoordinator> transactions_;
  std::array<ApiMetrics, 64> api_metrics_{};  // by api key (all of sluice's keys are < 64)
  ApiMetrics unknown_api_;
  Counter* decode_errors_ = nullptr;
};

}  // namespace sluice::server::kafka
