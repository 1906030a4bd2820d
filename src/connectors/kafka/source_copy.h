#pragma once

// The node's copy of a Kafka source in the embedded log (kafka_source.cc writes it), read
// back: which external offsets its records have. Scaled-out sinks use it to map the external
// position another node committed onto this node's copy, whose batches are cut differently
// (docs/scale-out.md). Internal to src/connectors/kafka.

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/types.h"
#include "log/log.h"

namespace sluice::connectors {

// One batch of a partition's copy.
struct CopiedBatch {
  Offset base;  // local offset of its first record
  Offset end;   // local offset after its last record
  // The tag: the external offset after its last record; -1 for batches the source's connector
  // did not write (control batches, other writers).
  int64_t external_end = -1;
};

// The batches in `bytes` (whole batches, as Partition::Read returns them), in order.
Result<std::vector<CopiedBatch>> ScanCopiedBatches(std::string_view bytes, std::string_view source);

// The external offsets of the records of one tagged batch of source `source`, in order
// (kKafkaSourceAtHeader; a batch copied before that header existed counts as contiguous,
// ending at its tag).
Result<std::vector<int64_t>> ExternalOffsets(std::string_view batch, std::string_view source, int64_t external_end);

// Where external offset `external` is in `partition` (a copy of source `source`): the local
// offset of the first copied record whose external offset is >= `external`, or the end of
// the copy when it holds exactly the records below `external`. nullopt when the copy has not
// reached `external` yet. external < 0 (nothing committed): the start of the partition.
Result<std::optional<Offset>> FindCopyPosition(const log::Partition& partition, std::string_view source,
                                               int64_t external);

}  // namespace sluice::connectors
