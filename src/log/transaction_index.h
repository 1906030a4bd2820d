#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "common/result.h"
#include "common/types.h"
#include "log/record_batch.h"

namespace sluice::log {

class Partition;

// The transactions of one partition, as its batches record them (Kafka's transactional data
// batches and COMMIT/ABORT control batches): which producers have a transaction open (data
// written, no marker yet) and which transactions were aborted. This gives a read_committed
// reader its last stable offset and the aborted-transaction list a Kafka Fetch returns.
// Rebuilt from the log (Rebuild), so it needs no file of its own. Not thread-safe.
class TransactionIndex {
 public:
  struct Aborted {
    int64_t producer_id;
    Offset first_offset;  // first data offset of the transaction
    Offset last_offset;   // offset of its ABORT marker
  };

  // A transactional data batch of `producer_id` at `first_offset` (or a lower bound of it).
  // Opens the producer's transaction if none is open; returns whether it did.
  bool OnData(int64_t producer_id, Offset first_offset);
  // Replaces the first offset of an open transaction (a lower bound given to OnData before
  // the append knew its offset) with the real one.
  void SetFirstOffset(int64_t producer_id, Offset first_offset);
  // Forgets an open transaction whose first batch could not be appended.
  void Discard(int64_t producer_id);
  // A marker at `marker_offset` closes the producer's open transaction (if any).
  void OnMarker(int64_t producer_id, ControlType type, Offset marker_offset);

  // The first offset of the earliest open transaction, or `high_watermark` if none is open.
  Offset LastStableOffset(Offset high_watermark) const;
  // Aborted transactions with data in [from, to), in marker order.
  std::vector<Aborted> AbortedIn(Offset from, Offset to) const;
  // Producers with a transaction open.
  std::vector<int64_t> OpenProducers() const;

  // Reads every batch of `partition` (from its start offset to its visible end).
  static Result<TransactionIndex> Rebuild(const Partition& partition);

 private:
  std::map<int64_t, Offset> open_;  // producer id -> first offset
  std::vector<Aborted> aborted_;
};

}  // namespace sluice::log
