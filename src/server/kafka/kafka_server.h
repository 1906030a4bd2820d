#pragma once

#include <cstdint>
#include <memory>

#include "common/metrics.h"
#include "common/result.h"
#include "engine/engine.h"
#include "server/kafka/kafka_options.h"

namespace sluice::server::kafka {

// The Kafka wire protocol listener (issue 7, docs/kafka.md): an Asio acceptor, one strand per
// connection. Each connection handles one request at a time, in order, as a Kafka broker does
// (the next request is read once the previous response is written): frames are a 4-byte
// big-endian size and the request; a size below the smallest header or above
// max_request_bytes, or a request that cannot be decoded, closes that connection only.
class KafkaServer {
 public:
  virtual ~KafkaServer() = default;

  // `engine` and `metrics` must outlive the server.
  static std::unique_ptr<KafkaServer> Create(KafkaOptions options, engine::Engine* engine, MetricsRegistry* metrics);

  // Binds and starts the io threads. kUnavailable if the address is taken.
  virtual Status Start() = 0;
  // The bound port. REQUIRES: Start() succeeded.
  virtual uint16_t port() const = 0;
  // Stops accepting, answers waiting fetches at once, lets in-flight produce requests finish
  // (bounded wait), closes the connections and joins the threads. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace sluice::server::kafka
