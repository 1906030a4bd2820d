#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "common/types.h"

namespace sluice::engine {

// What the ingest path remembers per (topic, Idempotency-Key): which partitions of the topic
// and of its dead-letter topic already hold the request's batch. A retry appends only to the
// partitions missing from here, so a request interrupted between partition appends (by an
// append error or a crash) completes exactly once. Entries older than the window are expired.
//
// The same knowledge is in the log (the first record of each batch carries the key), so after
// a restart the engine rebuilds the table by scanning the window's batches (Recover*).
//
// Thread-safe (one mutex; touched once or twice per request, never per event).
class IdempotencyTable {
 public:
  struct Append {
    PartitionId partition;
    Offset base_offset;
    int32_t count = 0;
  };
  // The appends known for a key when a request claims it.
  struct Known {
    std::vector<Append> topic;
    std::vector<Append> dlq;
    bool seen = false;  // the key was used before (in this process or found in the log)
  };

  explicit IdempotencyTable(int64_t window_ms) : window_ms_(window_ms) {}

  // Claims (topic, key) for a request whose content hashes to `request_hash`.
  // kFailedPrecondition if a request with the key is in flight, or if the key was used in this
  // process for a request with different content.
  Result<Known> Begin(std::string_view topic, std::string_view key, uint64_t request_hash,
                      TimestampMs now);
  // Releases the claim, adding the appends that completed (all of them when the request
  // succeeded, those that did before a failure otherwise).
  void Finish(std::string_view topic, std::string_view key,
              const std::vector<Append>& topic_appends, const std::vector<Append>& dlq_appends,
              TimestampMs now);

  // From a log scan at startup: `topic` held a batch tagged with `key`.
  void RecoverTopicAppend(std::string_view topic, std::string_view key, const Append& append,
                          TimestampMs at);
  // ... or the dead-letter topic of `source_topic` did.
  void RecoverDlqAppend(std::string_view source_topic, std::string_view key, const Append& append,
                        TimestampMs at);

  // Forgets every key of `topic` (the topic was deleted).
  void ForgetTopic(std::string_view topic);

  // Drops entries not touched since now - window (in-flight entries stay).
  void Expire(TimestampMs now);

  size_t size() const;

 private:
  struct Entry {
    std::vector<Append> topic;
    std::vector<Append> dlq;
    uint64_t request_hash = 0;  // 0 = unknown (recovered from the log)
    int64_t touched_ms = 0;
    bool in_flight = false;
  };
  static std::string MapKey(std::string_view topic, std::string_view key);
  static void Merge(std::vector<Append>* into, const Append& append);

  const int64_t window_ms_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // key: topic '\0' idempotency key
  int64_t last_expiry_ms_ = 0;
};

}  // namespace sluice::engine
