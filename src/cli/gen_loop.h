#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "cli/commands.h"
#include "cli/http_client.h"
#include "common/result.h"

namespace sluice::cli {

// Sends generated events to a server until `stop` is set or options.events are sent.
// Each request carries an Idempotency-Key ("<run id>-<batch number>"); a request that fails
// with 429/503 or a connection error is re-sent with the same key after a backoff, so every
// event is stored exactly once whatever happens to the server. Returns an exit code.
int RunGenLoop(const GenRunOptions& options, const std::atomic<bool>& stop);

// Posts one NDJSON body to `target` with an Idempotency-Key, re-sending it after a backoff
// while the server answers 429/503/409 or the connection fails (counted in *retries). Returns
// how many of its events the server rejected into the DLQ; kUnavailable if `stop` was set
// while retrying; kFailedPrecondition for any other answer.
Result<int64_t> PostWithRetry(HttpClient& client, const std::string& target, const std::string& body,
                              const std::string& idempotency_key, const std::atomic<bool>& stop, int64_t* retries);

}  // namespace sluice::cli
