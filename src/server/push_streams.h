#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/metrics.h"
#include "engine/engine.h"

namespace sluice::server {

struct PushOptions {
  int64_t heartbeat_ms = 15'000;        // SSE comment / WebSocket ping when nothing else was sent
  int64_t stall_timeout_ms = 120'000;   // a client that takes no bytes (or answers no ping) this long is dropped
  size_t ws_max_message_bytes = 64 * 1024;  // larger client messages: close 1009
  // A subscriber's buffer in the engine (0: the engine's [subscriptions] defaults). Past it the
  // subscriber is resynced with a fresh snapshot.
  size_t buffer_batches = 0;
  size_t buffer_bytes = 0;
};

class Router;
struct PushState;

// The long-lived HTTP routes (docs/subscriptions.md): GET /v1/subscribe (Server-Sent Events) and
// /v1/ws (WebSocket). Each stream runs on its connection's strand: it polls its engine
// subscription when notified and writes at most one buffer at a time, so a client that does not
// read only stops its own polling (and the engine resyncs it); heartbeats keep proxies and dead
// peers in check. Thread-safe.
class PushHub {
 public:
  // All pointers must outlive the hub. `open_connections` counts streams like other connections.
  PushHub(engine::Engine* engine, MetricsRegistry* metrics, Router* router, Gauge* open_connections,
          PushOptions options);
  ~PushHub();

  // True if `target` (path and query) is one of the stream routes.
  static bool IsStreamTarget(std::string_view target);

  // Takes over a connection whose request has been read completely. REQUIRES: on the stream's
  // strand, IsStreamTarget(request.target()). Errors are answered as JSON (then the connection
  // closes).
  void Serve(boost::beast::tcp_stream stream, boost::beast::http::request<boost::beast::http::string_body> request);

  // Closes every stream (server shutdown): SSE clients see the end of the response, WebSocket
  // clients a 1001 close. Idempotent.
  void Stop();

 private:
  std::shared_ptr<PushState> state_;
};

}  // namespace sluice::server
