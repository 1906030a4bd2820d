#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <string_view>
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
// Rebuilt from the log, so it needs no file of its own: each partition keeps one, built at
// its first use and kept up to date by its appends. Not thread-safe.
class TransactionIndex {
 public:
  using Aborted = AbortedTransaction;

  // Feeds one whole batch as stored in the log (data batches of transactions and markers
  // matter, the rest is ignored).
  void OnBatch(const BatchHeader& header, std::string_view batch);

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

  // The first offset of the earliest transaction that is open, or whose marker is at or above
  // `high_watermark` (not visible to readers yet: the transaction has not ended for them);
  // `high_watermark` if there is none. Forgets the ended transactions whose markers are below.
  Offset LastStableOffset(Offset high_watermark);
  // Aborted transactions with data in [from, to), in marker order.
  std::vector<Aborted> AbortedIn(Offset from, Offset to) const;
  // Producers with a transaction open.
  std::vector<int64_t> OpenProducers() const;
  // The same with the first offset of each one's open transaction.
  std::vector<std::pair<int64_t, Offset>> Open() const { return {open_.begin(), open_.end()}; }

  // Reads every batch of `partition` (from its start offset to its visible end).
  static Result<TransactionIndex> Rebuild(const Partition& partition);

 private:
  struct Ending {
    Offset first_offset;
    Offset marker_offset;
  };
  std::map<int64_t, Offset> open_;  // producer id -> first offset
  std::vector<Ending> ending_;      // ended by a marker readers may not see yet
  std::vector<Aborted> aborted_;
};

}  // namespace sluice::log
