#include "log/transaction_index.h"

#include <algorithm>

#include "log/log.h"

namespace sluice::log {

bool TransactionIndex::OnData(int64_t producer_id, Offset first_offset) {
  return open_.try_emplace(producer_id, first_offset).second;
}

void TransactionIndex::SetFirstOffset(int64_t producer_id, Offset first_offset) {
  auto it = open_.find(producer_id);
  if (it != open_.end()) it->second = first_offset;
}

void TransactionIndex::Discard(int64_t producer_id) { open_.erase(producer_id); }

void TransactionIndex::OnMarker(int64_t producer_id, ControlType type, Offset marker_offset) {
  auto it = open_.find(producer_id);
  if (it == open_.end()) return;  // a marker for a transaction without data here
  if (type == ControlType::kAbort) aborted_.push_back({producer_id, it->second, marker_offset});
  ending_.push_back({it->second, marker_offset});
  open_.erase(it);
}

void TransactionIndex::OnBatch(const BatchHeader& header, std::string_view batch) {
  if (header.is_control()) {
    if (std::optional<ControlType> type = DecodeControlBatch(batch)) OnMarker(header.producer_id, *type, header.base_offset);
  } else if (header.is_transactional()) {
    OnData(header.producer_id, header.base_offset);
  }
}

Offset TransactionIndex::LastStableOffset(Offset high_watermark) {
  std::erase_if(ending_, [&](const Ending& e) { return e.marker_offset < high_watermark; });
  Offset lso = high_watermark;
  for (const auto& [pid, first] : open_) lso = std::min(lso, first);
  for (const Ending& e : ending_) lso = std::min(lso, e.first_offset);
  return lso;
}

std::vector<TransactionIndex::Aborted> TransactionIndex::AbortedIn(Offset from, Offset to) const {
  std::vector<Aborted> out;
  for (const Aborted& a : aborted_) {
    if (a.last_offset >= from && a.first_offset < to) out.push_back(a);
  }
  return out;
}

std::vector<int64_t> TransactionIndex::OpenProducers() const {
  std::vector<int64_t> out;
  for (const auto& [pid, first] : open_) out.push_back(pid);
  return out;
}

Result<TransactionIndex> TransactionIndex::Rebuild(const Partition& partition) {
  TransactionIndex index;
  const PartitionInfo info = partition.Info();
  Offset at = info.start_offset;
  while (at < info.end_offset) {
    SLUICE_ASSIGN_OR_RETURN(ReadResult read, partition.Read(at, 1 << 20));
    if (read.bytes.empty()) break;
    std::string_view rest(read.bytes);
    while (!rest.empty()) {
      SLUICE_ASSIGN_OR_RETURN(BatchHeader h, DecodeBatchHeader(rest));
      const std::string_view batch = rest.substr(0, h.total_size());
      rest.remove_prefix(batch.size());
      index.OnBatch(h, batch);
      at = std::max(at, h.last_offset() + 1);
    }
    at = std::max(at, read.next_offset);
  }
  return index;
}

}  // namespace sluice::log
