#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "log/record_batch.h"

namespace sluice::log {

// The record-area codecs of RecordBatch v2 (attributes bits 0-2), as Kafka clients write them:
// gzip (RFC 1952), snappy (raw, or the xerial/snappy-java framing the Java client uses),
// lz4 (the LZ4 frame format) and zstd (a zstd frame). The log stores compressed batches as they
// arrive; readers decompress.

// Decompresses `in`. kCorruption if it is not valid `codec` data or would exceed `max_bytes`
// (a bound against decompression bombs). kInvalidArgument for an unknown codec.
Result<std::string> Decompress(Compression codec, std::string_view in, size_t max_bytes);

// Compresses `in` (tests and future sinks; snappy is written raw, as librdkafka does).
Result<std::string> Compress(Compression codec, std::string_view in);

}  // namespace sluice::log
