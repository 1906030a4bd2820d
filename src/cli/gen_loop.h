#pragma once

#include <atomic>

#include "cli/commands.h"

namespace sluice::cli {

// Sends generated events to a server until `stop` is set or options.events are sent.
// Each request carries an Idempotency-Key ("<run id>-<batch number>"); a request that fails
// with 429/503 or a connection error is re-sent with the same key after a backoff, so every
// event is stored exactly once whatever happens to the server. Returns an exit code.
int RunGenLoop(const GenRunOptions& options, const std::atomic<bool>& stop);

}  // namespace sluice::cli
