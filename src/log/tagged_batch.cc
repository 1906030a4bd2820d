#include "log/tagged_batch.h"

#include <algorithm>
#include <future>

namespace sluice::log {

Result<std::optional<TaggedBatch>> FindLastTaggedBatch(const Partition& partition, std::string_view tag_key,
                                                       std::string_view tag_value, std::string_view progress_key,
                                                       int64_t producer_id, Offset from) {
  const PartitionInfo info = partition.Info();
  from = std::max(from, info.start_offset);
  int64_t window = 256;
  Offset lo = info.end_offset;
  while (lo > from) {
    lo = Offset(std::max(from.value(), info.end_offset.value() - window));
    SLUICE_ASSIGN_OR_RETURN(Partition::CommittedView committed, partition.Committed(lo));
    std::optional<TaggedBatch> found;
    Offset at = lo;
    while (at < info.end_offset) {
      SLUICE_ASSIGN_OR_RETURN(ReadResult read, partition.Read(at, 1 << 20));
      if (read.bytes.empty()) break;
      std::string_view rest(read.bytes);
      while (!rest.empty()) {
        SLUICE_ASSIGN_OR_RETURN(BatchHeader h, DecodeBatchHeader(rest));
        const std::string_view batch = rest.substr(0, h.total_size());
        rest.remove_prefix(batch.size());
        if (h.last_offset() < lo || h.is_control() || IsAborted(h, committed.aborted)) continue;
        if (producer_id >= 0 && h.producer_id != producer_id) continue;
        RecordReader reader(batch, h.base_offset);
        Record record;
        if (!reader.Next(&record)) continue;
        bool ours = false;
        std::string_view progress;
        for (const RecordHeader& rh : record.headers) {
          if (rh.key == tag_key && rh.value && *rh.value == tag_value) ours = true;
          if (rh.key == progress_key && rh.value) progress = *rh.value;
        }
        if (ours) found = TaggedBatch{h, std::string(progress)};
      }
      at = std::max(read.next_offset, at + 1);
    }
    if (found) return found;
    window *= 4;
  }
  return std::optional<TaggedBatch>();
}

Result<AppendResult> AppendAndWait(Partition& partition, EncodedBatch batch) {
  std::promise<Result<AppendResult>> done;
  std::future<Result<AppendResult>> result = done.get_future();
  partition.Append(std::move(batch), [&done](Result<AppendResult> r) { done.set_value(std::move(r)); });
  return result.get();
}

}  // namespace sluice::log
