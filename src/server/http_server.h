#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/metrics.h"
#include "common/status.h"
#include "engine/engine.h"
#include "server/push_streams.h"

namespace sluice::server {

struct HttpOptions {
  std::string bind = "127.0.0.1";
  uint16_t port = 8080;  // 0 = pick a free port (see HttpServer::port())
  int io_threads = 2;
  size_t max_body_bytes = 64ull << 20;  // larger bodies get 413
  int64_t idle_timeout_ms = 60'000;     // keep-alive connections idle this long are closed
  int64_t read_timeout_ms = 30'000;     // a request (headers + body) must arrive within this
  PushOptions push;                     // /v1/subscribe and /v1/ws (no idle or read timeout)
};

// The HTTP/1.1 edge (Boost.Beast): the routes of SPEC §2, mapped onto engine::Engine.
class HttpServer {
 public:
  virtual ~HttpServer() = default;

  // `engine` and `metrics` must outlive the server.
  static std::unique_ptr<HttpServer> Create(HttpOptions options, engine::Engine* engine,
                                            MetricsRegistry* metrics);

  // Binds and starts the io threads. Fails (kUnavailable) if the address is taken.
  virtual Status Start() = 0;
  // The bound port (useful with port 0). REQUIRES: Start() succeeded.
  virtual uint16_t port() const = 0;
  // Stops accepting, lets in-flight requests finish (bounded wait), closes connections and
  // joins the io threads. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace sluice::server
