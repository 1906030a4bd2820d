#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "common/status.h"
#include "engine/engine.h"
#include "server/pgwire/session.h"

namespace sluice::server::pgwire {

struct PgUser {
  std::string name;
  // A plain password, or a SCRAM secret "SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>"
  // (PostgreSQL's stored form), so that the config file need not hold the password.
  std::string password;
};

struct PgOptions {
  bool enabled = true;
  std::string bind = "127.0.0.1";
  uint16_t port = 5433;  // 0 = pick a free port (see PgServer::port())
  int io_threads = 2;                        // point queries run here too (Session::Process)
  int query_threads = 4;                     // statements run here, off the io threads
  AuthMethod auth = AuthMethod::kTrustLoopback;
  std::vector<PgUser> users;
  size_t max_message_bytes = 16u << 20;      // larger messages: FATAL 54000, connection closed
  int64_t auth_timeout_ms = 60'000;          // startup + authentication must finish within this
  int64_t write_timeout_ms = 60'000;         // a client that reads nothing this long is dropped
  int max_connections = 1000;                // more are refused with FATAL 53300
};

// The PostgreSQL wire protocol listener (SPEC §5): an Asio acceptor, one strand per connection
// for its socket, and a pool of query threads that run each connection's Session::Process (so
// that a long statement never holds an io thread).
class PgServer {
 public:
  virtual ~PgServer() = default;

  // `engine` and `metrics` must outlive the server. kInvalidArgument for a bad user list.
  static Result<std::unique_ptr<PgServer>> Create(PgOptions options, engine::Engine* engine, MetricsRegistry* metrics);

  // Binds and starts the threads. kUnavailable if the address is taken.
  virtual Status Start() = 0;
  // The bound port. REQUIRES: Start() succeeded.
  virtual uint16_t port() const = 0;
  // Stops accepting, lets running statements finish (bounded wait), tells every client
  // FATAL 57P01, closes the connections and joins the threads. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace sluice::server::pgwire
