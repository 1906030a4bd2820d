#include "connectors/kafka/source_copy.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "connectors/kafka/kafka_connector.h"
#include "log/record_batch.h"
#include "log/tagged_batch.h"

namespace sluice::connectors {
namespace {

Result<int64_t> ParseOffset(std::string_view text, std::string_view what) {
  int64_t v = -1;
  if (std::from_chars(text.data(), text.data() + text.size(), v).ec != std::errc() || v < 0) {
    return Status::Corruption(fmt::format("unreadable Kafka offset '{}' in a copied batch's {}", text, what));
  }
  return v;
}

// The header `key`'s value on `record`, if any.
std::optional<std::string_view> HeaderValue(const log::Record& record, std::string_view key) {
  for (const log::RecordHeader& h : record.headers) {
    if (h.key == key && h.value) return *h.value;
  }
  return std::nullopt;
}

}  // namespace

Result<std::vector<CopiedBatch>> ScanCopiedBatches(std::string_view bytes, std::string_view source) {
  std::vector<CopiedBatch> batches;
  while (!bytes.empty()) {
    SLUICE_ASSIGN_OR_RETURN(log::BatchHeader h, log::DecodeBatchHeader(bytes));
    const std::string_view batch = bytes.substr(0, std::min(bytes.size(), h.total_size()));
    bytes.remove_prefix(batch.size());
    CopiedBatch b{h.base_offset, h.last_offset() + 1, -1};
    if (!h.is_control()) {
      log::RecordReader reader(batch, h.base_offset);
      log::Record first;
      if (reader.Next(&first) && HeaderValue(first, kKafkaSourceHeader) == source) {
        if (std::optional<std::string_view> end = HeaderValue(first, kKafkaSourceOffsetHeader)) {
          SLUICE_ASSIGN_OR_RETURN(b.external_end, ParseOffset(*end, "tag"));
        }
      }
      SLUICE_RETURN_IF_ERROR(reader.status());
    }
    batches.push_back(b);
  }
  return batches;
}

Result<std::vector<int64_t>> ExternalOffsets(std::string_view batch, std::string_view source, int64_t external_end) {
  SLUICE_ASSIGN_OR_RETURN(log::BatchHeader h, log::DecodeBatchHeader(batch));
  std::vector<int64_t> offsets;
  offsets.reserve(static_cast<size_t>(std::max(h.record_count, 0)));
  log::RecordReader reader(batch, h.base_offset);
  log::Record record;
  int64_t next = external_end - h.record_count;  // a batch without the header: contiguous
  while (reader.Next(&record)) {
    if (std::optional<std::string_view> at = HeaderValue(record, kKafkaSourceAtHeader)) {
      SLUICE_ASSIGN_OR_RETURN(next, ParseOffset(*at, "record"));
    }
    offsets.push_back(next++);
  }
  SLUICE_RETURN_IF_ERROR(reader.status());
  return offsets;
}

Result<std::optional<Offset>> FindCopyPosition(const log::Partition& partition, std::string_view source,
                                               int64_t external) {
  const log::PartitionInfo info = partition.Info();
  if (external < 0) return std::optional<Offset>(info.start_offset);
  // Cheap first (a copy still catching up is asked again and again): has it got that far?
  SLUICE_ASSIGN_OR_RETURN(std::optional<log::TaggedBatch> last,
                          log::FindLastTaggedBatch(partition, kKafkaSourceHeader, source, kKafkaSourceOffsetHeader,
                                                   /*producer_id=*/-1, info.start_offset));
  if (!last) return std::optional<Offset>();
  SLUICE_ASSIGN_OR_RETURN(int64_t reached, ParseOffset(last->progress, "tag"));
  if (reached < external) return std::optional<Offset>();
  // External offsets grow with local ones. Search backwards from the end in growing windows
  // (the position another node reached is usually near the end of the copy) until the
  // window's first tagged batch ends at or before `external`, or the window is the whole copy.
  int64_t window = 256;
  while (true) {
    const Offset lo(std::max(info.start_offset.value(), info.end_offset.value() - window));
    std::vector<CopiedBatch> tagged;  // bounds and tags only: the one batch needed is read again
    for (Offset at = lo; at < info.end_offset;) {
      SLUICE_ASSIGN_OR_RETURN(log::ReadResult read, partition.Read(at, 1 << 20));
      if (read.bytes.empty()) break;
      SLUICE_ASSIGN_OR_RETURN(std::vector<CopiedBatch> batches, ScanCopiedBatches(read.bytes, source));
      for (const CopiedBatch& b : batches) {
        if (b.external_end >= 0 && b.end <= info.end_offset) tagged.push_back(b);
      }
      at = std::max(read.next_offset, at + 1);
    }
    const bool whole = lo == info.start_offset;
    if (tagged.empty() && !whole) {
      window *= 4;
      continue;
    }
    if (!whole && tagged.front().external_end > external) {
      window *= 4;  // the position may be further back
      continue;
    }
    for (const CopiedBatch& b : tagged) {
      if (b.external_end <= external) continue;
      // The first batch that reaches past `external`: the first of its records at or after it.
      SLUICE_ASSIGN_OR_RETURN(log::ReadResult read, partition.Read(b.base, 1));  // at least that batch
      std::string_view bytes(read.bytes);
      SLUICE_ASSIGN_OR_RETURN(log::BatchHeader h, log::DecodeBatchHeader(bytes));
      if (h.base_offset != b.base) return Status::Corruption("the copy changed while it was searched");
      bytes = bytes.substr(0, std::min(bytes.size(), h.total_size()));
      SLUICE_ASSIGN_OR_RETURN(std::vector<int64_t> offsets, ExternalOffsets(bytes, source, b.external_end));
      for (size_t k = 0; k < offsets.size(); ++k) {
        if (offsets[k] >= external) return std::optional<Offset>(b.base + static_cast<int64_t>(k));
      }
      return std::optional<Offset>(b.end);  // unreachable for a well-formed tag
    }
    // Every tagged batch ends at or before `external`: the copy continues right after the last
    // one if it ends exactly there, else it has not reached `external` yet.
    if (!tagged.empty() && tagged.back().external_end == external) {
      return std::optional<Offset>(tagged.back().end);
    }
    return std::optional<Offset>();
  }
}

}  // namespace sluice::connectors
