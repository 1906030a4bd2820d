#include "server/kafka/produce_validation.h"

#include <fmt/format.h>

namespace sluice::server::kafka {

Result<ValidatedBatch> ValidateProducedBatch(std::string_view records, size_t max_bytes) {
  if (records.size() > max_bytes) {
    return Status::TooLarge(fmt::format("record batch of {} bytes is over the limit of {}", records.size(), max_bytes));
  }
  if (records.empty()) return Status::Corruption("no record batch");
  Result<log::BatchHeader> header = log::DecodeBatchHeader(records);
  if (!header.ok()) return Status::Corruption(header.status().message());
  if (header->total_size() != records.size()) {
    return Status::Corruption("a partition's records must be exactly one record batch");
  }
  if (!log::VerifyBatchCrc(records)) return Status::Corruption("record batch CRC-32C mismatch");
  if (header->is_control()) return Status::InvalidArgument("producers may not write control batches");
  if (header->record_count <= 0 || header->last_offset_delta != header->record_count - 1) {
    return Status::InvalidArgument(fmt::format("record batch claims {} records with last offset delta {}",
                                               header->record_count, header->last_offset_delta));
  }
  ValidatedBatch out;
  out.batch.bytes = std::string(records);
  log::SetBaseOffset(&out.batch.bytes, Offset(0));
  std::fill_n(out.batch.bytes.data() + 12, 4, '\0');  // partitionLeaderEpoch: one leader, epoch 0
  log::RecordReader reader(out.batch.bytes);
  log::Record record;
  int32_t n = 0;
  while (reader.Next(&record)) {
    if (record.offset != Offset(n)) {
      return Status::InvalidArgument(fmt::format("record {} has offset delta {}", n, record.offset.value()));
    }
    ++n;
  }
  if (!reader.status().ok()) return Status::Corruption(reader.status().message());
  if (n != header->record_count) {
    return Status::Corruption(fmt::format("record batch holds {} records, its header says {}", n, header->record_count));
  }
  out.header = *header;
  out.header.base_offset = Offset(0);
  out.batch.record_count = header->record_count;
  out.batch.max_timestamp = header->max_timestamp;
  return out;
}

}  // namespace sluice::server::kafka
