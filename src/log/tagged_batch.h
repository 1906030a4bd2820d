#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/types.h"
#include "log/log.h"
#include "log/record_batch.h"

namespace sluice::log {

// Writers that must learn after a restart how far they got (the engine's sinks, the Kafka
// source connector) tag the first record of each batch they append: a header naming the
// writer, and a header carrying their progress (the input offsets the batch covers). The
// batch and its tag are appended atomically, so the last tagged batch is exactly the last
// write that happened.
struct TaggedBatch {
  BatchHeader header;
  std::string progress;  // the value of the progress header ("" when absent)
};

// The last data batch at or after `from` whose first record has header `tag_key` equal to
// `tag_value` (and, if producer_id >= 0, written by that producer) and that is not part of an
// aborted transaction; nullopt if there is none. Searches backwards from the end in growing
// windows, so a writer that appended recently is found after reading little.
Result<std::optional<TaggedBatch>> FindLastTaggedBatch(const Partition& partition, std::string_view tag_key,
                                                       std::string_view tag_value, std::string_view progress_key,
                                                       int64_t producer_id, Offset from);

// Appends `batch` and waits until it is durable per the fsync policy (or failed): for writers
// on their own thread that must know their batch is in before they go on.
Result<AppendResult> AppendAndWait(Partition& partition, EncodedBatch batch);

}  // namespace sluice::log
