#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/types.h"

namespace sluice::cli {

// Synthetic workloads for demos, tests and benchmarks. Given the same options (seed and
// start time included) the generator produces the same events, byte for byte, except the
// `source_ts` field, which is the wall-clock send time used to measure end-to-end latency.
struct GenOptions {
  std::string workload;       // "clickstream" | "transactions"
  uint64_t seed = 42;
  double rate = 1000;         // events per second of event time (and of sending, when paced)
  int64_t keys = 10'000;      // distinct users / accounts
  double key_skew = 1.0;      // Zipf exponent over keys; 0 = uniform
  double out_of_order = 0;    // fraction of events whose event time is pushed back ...
  int64_t max_disorder_ms = 2'000;  // ... by up to this much
  double late = 0;            // fraction of events far behind (late_by_ms) the stream's time
  int64_t late_by_ms = 2 * 3600 * 1000;
  double duplicates = 0;      // fraction of events that repeat an earlier event exactly
  double malformed = 0;       // fraction of lines that are not valid JSON events
  TimestampMs start_time;     // event time of event 0
};

// Validates options; kInvalidArgument names the bad one.
Status ValidateGenOptions(const GenOptions& options);

class EventGenerator {
 public:
  explicit EventGenerator(GenOptions options);

  // The topic the workload writes to.
  std::string_view topic() const;
  // The field the events are keyed by (partition key).
  std::string_view key_field() const;

  // Appends the next event as one NDJSON line (with '\n') to *out.
  // `source_ts` is stamped into the event as "source_ts".
  void Next(std::string* out, TimestampMs source_ts);

  uint64_t generated() const { return n_; }

 private:
  int64_t NextKey();
  void AppendClick(std::string* out, int64_t event_time, TimestampMs source_ts);
  void AppendTransaction(std::string* out, int64_t event_time, TimestampMs source_ts);

  GenOptions options_;
  bool clickstream_;
  std::mt19937_64 rng_;
  std::vector<double> zipf_cdf_;  // cumulative probabilities over keys (empty = uniform)
  uint64_t n_ = 0;                // events produced so far
  std::string last_events_[64];   // ring of recent events, the source of duplicates
};

}  // namespace sluice::cli
