#pragma once

#include <string_view>

#include "common/result.h"
#include "log/record_batch.h"

namespace sluice::server::kafka {

struct ValidatedBatch {
  log::EncodedBatch batch;  // the producer's bytes, base offset and leader epoch zeroed
  log::BatchHeader header;
};

// Checks a Produce request's records field for one partition: exactly one RecordBatch v2,
// at most `max_bytes`, CRC-32C intact, not a control batch, lastOffsetDelta = records - 1,
// and every record well-formed (compressed batches are decompressed to check). Errors:
// kTooLarge, kCorruption (CRC, framing, undecodable records or compression), kInvalidArgument
// (valid bytes that a producer must not send).
Result<ValidatedBatch> ValidateProducedBatch(std::string_view records, size_t max_bytes);

}  // namespace sluice::server::kafka
