#pragma once

#include <cstdint>
#include <string>

namespace sluice::server::kafka {

struct KafkaOptions {
  bool enabled = true;
  std::string bind = "127.0.0.1";
  uint16_t port = 9092;  // 0 = pick a free port (see KafkaServer::port())
  // Host advertised in Metadata; empty = the address each client connected to.
  std::string advertised_host;
  int io_threads = 2;
  int max_connections = 1000;
  // A request frame larger than this closes the connection (Kafka's socket.request.max.bytes).
  size_t max_request_bytes = 32u << 20;
  // A produced record batch larger than this gets MESSAGE_TOO_LARGE (Kafka's message.max.bytes).
  size_t max_batch_bytes = 8u << 20;
  // How often a Fetch waiting for min_bytes looks at the log again when nothing wakes it (the
  // server wakes it when the log's visible end moves; this is for callers without that wake).
  int64_t fetch_poll_interval_ms = 5;
  // Bounds on consumer group members' session timeouts (Kafka's group.min/max.session.timeout.ms).
  int64_t group_min_session_timeout_ms = 1000;
  int64_t group_max_session_timeout_ms = 300'000;
  // How long a new group waits for more members before its first rebalance completes
  // (Kafka's group.initial.rebalance.delay.ms).
  int64_t group_initial_rebalance_delay_ms = 300;
};

}  // namespace sluice::server::kafka
