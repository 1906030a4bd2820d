#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "common/types.h"
#include "log/log.h"

namespace sluice::engine {

// An event of a source's topic that does not match the source's schema (not a JSON object,
// or a value that cannot be cast to its column's type).
struct DecodeReject {
  PartitionId partition;
  Offset offset;
  int64_t timestamp_ms = 0;
  std::string value;   // the event as stored
  std::string reason;  // the decoder's message, naming the column
};

// Writes decode-time rejects to the dead-letter topic `<topic>.dlq` (SPEC §3: an uncastable
// value rejects the event to the DLQ), once per event however many views read the source: per
// source and partition it remembers the next offset not yet reported, so the first view to
// decode an event reports it and the others skip it. Offsets below the end of the log when
// the source is registered (at creation, or at start-up for the events read before a restart)
// are not reported again. Thread-safe.
class DecodeRejectReporter {
 public:
  DecodeRejectReporter(log::Log* log, MetricsRegistry* metrics);

  // Starts tracking `source` (reading `topic`) from its topic's current end.
  void Register(const std::string& source, const std::string& topic);
  void Forget(const std::string& source);

  // Reports what has not been reported yet; appends asynchronously.
  void Report(const std::string& source, const std::string& topic, std::vector<DecodeReject> rejects);

 private:
  log::Log* log_;
  CounterFamily* counter_ = nullptr;
  std::mutex mu_;
  std::map<std::string, std::vector<Offset>, std::less<>> next_;  // GUARDED_BY(mu_)
};

}  // namespace sluice::engine
