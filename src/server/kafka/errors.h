#pragma once

#include "common/status.h"
#include "server/kafka/protocol.h"

namespace sluice::server::kafka {

// The one Status -> Kafka error code mapping (only the protocol edge produces wire errors).
// Retriable conditions (overload, full disk, shutdown) map to retriable Kafka codes so that
// clients back off and retry instead of failing.
ErrorCode ErrorCodeFor(const Status& status);

inline int16_t Wire(ErrorCode code) { return static_cast<int16_t>(code); }

}  // namespace sluice::server::kafka
