#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/change_signal.h"
#include "common/clock.h"
#include "common/file_system.h"
#include "common/metrics.h"
#include "common/result.h"
#include "common/types.h"
#include "log/record_batch.h"

namespace sluice::log {

// The embedded event log: topics -> partitions -> segment files of Kafka RecordBatch v2 bytes.
// The on-disk format is specified in docs/formats/log.md.

enum class FsyncPolicy : uint8_t {
  kAlways,    // an append completes only after fdatasync covers it (group commit)
  kInterval,  // appends complete at once; a background thread syncs every fsync_interval_ms
  kNever,     // appends complete at once; the OS decides (data survives a process crash only)
};

Result<FsyncPolicy> ParseFsyncPolicy(std::string_view name);
std::string_view FsyncPolicyName(FsyncPolicy policy);

struct LogOptions {
  std::string dir;  // root of the log: <dir>/<topic>/<partition>/<base offset>.log
  FsyncPolicy fsync = FsyncPolicy::kAlways;
  int64_t fsync_interval_ms = 1000;
  uint64_t segment_bytes = 128ull << 20;        // roll when the active segment reaches this size
  int64_t segment_ms = 7ll * 24 * 3600 * 1000;  // ... or when its first batch is this old
  uint32_t index_interval_bytes = 4096;         // one sparse index entry per this many bytes
  int64_t retention_check_interval_ms = 30'000;
  int64_t default_retention_ms = 7ll * 24 * 3600 * 1000;  // -1 = keep forever
  int64_t default_retention_bytes = -1;                   // per partition; -1 = no limit
  // Appends beyond this many bytes written but not yet durable are refused with
  // kResourceExhausted (the HTTP edge answers 429 with Retry-After).
  uint64_t max_unsynced_bytes = 256ull << 20;
  FileSystem* fs = FileSystem::Default();
  Clock* clock = Clock::Real();
  MetricsRegistry* metrics = nullptr;  // optional; when set, per-partition series are exported
};

struct TopicConfig {
  std::string name;  // [A-Za-z0-9._-]{1,249}, not "." or ".."
  int32_t partitions = 1;
  int64_t retention_ms = 0;     // 0 = the log's default; -1 = forever
  int64_t retention_bytes = 0;  // 0 = the log's default; -1 = no limit
  std::string key_field;        // default partition key field for JSON ingest; empty = none
};

// Returns ok if `name` is a valid topic name, else kInvalidArgument saying why.
Status ValidateTopicName(std::string_view name);

class Log;
class Topic;
// The topic `name`, created with `partitions` partitions (other settings default) if it does
// not exist yet; a concurrent creation by someone else is not an error.
Result<std::shared_ptr<Topic>> GetOrCreateTopic(Log* log, std::string_view name, int32_t partitions);

// Names starting with '.' are valid but reserved for sluice's own topics; the edges refuse them
// from users (the log itself accepts them).
bool IsInternalTopicName(std::string_view name);

struct PartitionInfo {
  PartitionId partition;
  Offset start_offset;  // first offset still retained
  Offset end_offset;    // next offset to be written (visible to readers)
  uint64_t bytes = 0;   // size on disk of all segments
  uint32_t segments = 0;
};

struct TopicInfo {
  TopicConfig config;  // with defaults resolved
  std::vector<PartitionInfo> partitions;
};

// What a completed append reports.
struct AppendResult {
  Offset base_offset;  // offset of the first record of the batch
  int32_t record_count = 0;
};
// Called exactly once per Append, possibly on another thread, after the batch is durable per
// the fsync policy (or failed). Must not block.
using AppendCallback = std::function<void(Result<AppendResult>)>;

// A read of whole record batches, as stored (the Kafka fetch path serves these bytes as is).
struct ReadResult {
  std::string bytes;    // zero or more complete RecordBatch v2 batches
  Offset next_offset;   // where the next read should start
  Offset end_offset;    // partition end visible to readers at the time of the read
  Offset start_offset;  // partition start at the time of the read
};

// Summary of one batch, for rebuilding in-memory state (idempotency keys) from the log.
struct BatchSummary {
  Offset base_offset;
  int32_t record_count = 0;
  TimestampMs max_timestamp;
  // Idempotent-producer fields of the batch header (-1 when the producer was not idempotent).
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  // Headers of the batch's first record (the ingest path tags a batch there).
  std::vector<std::pair<std::string, std::string>> first_record_headers;
};

class Partition;

// A topic and its partitions. Obtained from Log::GetTopic; shared ownership keeps it usable
// while a concurrent DeleteTopic runs (operations then fail with kNotFound).
class Topic {
 public:
  virtual ~Topic() = default;
  virtual const TopicConfig& config() const = 0;
  virtual int32_t partition_count() const = 0;
  // REQUIRES: 0 <= p < partition_count()
  virtual Partition& partition(PartitionId p) = 0;
};

// One partition: an ordered, append-only sequence of records with offsets 0, 1, 2, ...
// Thread-safe: appends are serialised internally; reads run concurrently with appends.
class Partition {
 public:
  virtual ~Partition() = default;

  virtual PartitionId id() const = 0;

  // Appends the batch, assigning offsets from the partition's end. `batch` is a finished
  // RecordBatchBuilder's output; its base offset field is overwritten (it is outside the CRC).
  // Fails fast (callback called inline) with kResourceExhausted when too much is unsynced,
  // kNoSpace when the disk is full (nothing of the batch stays in the log), kUnavailable when
  // the partition has failed or is closing.
  virtual void Append(EncodedBatch batch, AppendCallback done) = 0;

  // Reads whole batches starting with the one that contains `from`, up to about `max_bytes`
  // (at least one batch if any exists at or after `from`). Only records that are visible
  // (durable under fsync=always) are returned. kOutOfRange if `from` is below the start offset
  // or above the end offset.
  virtual Result<ReadResult> Read(Offset from, size_t max_bytes) const = 0;

  // The first offset whose record timestamp is >= `ts` (the end offset if none).
  virtual Result<Offset> OffsetForTimestamp(TimestampMs ts) const = 0;

  // What a read_committed reader (Kafka's isolation level) starting at `from` may see:
  // records below the last stable offset — the first offset of the earliest transaction that
  // has no visible COMMIT/ABORT marker yet, else the visible end — minus the data batches of
  // the aborted transactions listed (pass them to RecordReader). The partition's transaction
  // index is built by reading every batch header at the first call (appends wait meanwhile),
  // then kept up to date by appends.
  struct CommittedView {
    Offset last_stable_offset;
    std::vector<AbortedTransaction> aborted;  // those with data in [from, last stable offset)
  };
  virtual Result<CommittedView> Committed(Offset from) const = 0;

  // Producers with a transaction open here (data batches, no marker yet) and the first offset
  // of each one's open transaction.
  virtual Result<std::vector<std::pair<int64_t, Offset>>> OpenTransactions() const = 0;

  // Calls fn for each batch whose max timestamp is >= `since`, in offset order.
  virtual Status ScanBatches(TimestampMs since,
                             const std::function<void(const BatchSummary&)>& fn) const = 0;

  virtual PartitionInfo Info() const = 0;
};

// The log. Open() recovers every partition (truncating a torn tail, logging what was dropped)
// before returning. Thread-safe.
class Log {
 public:
  virtual ~Log() = default;

  static Result<std::unique_ptr<Log>> Open(LogOptions options);

  virtual Status CreateTopic(const TopicConfig& config) = 0;
  // Removes the topic and its files. Holders of the Topic see kNotFound afterwards.
  virtual Status DeleteTopic(std::string_view name) = 0;
  // kNotFound if there is no such topic.
  virtual Result<std::shared_ptr<Topic>> GetTopic(std::string_view name) = 0;
  virtual std::vector<TopicInfo> ListTopics() = 0;
  virtual Result<TopicInfo> DescribeTopic(std::string_view name) = 0;

  // Applies retention once, now (the background thread calls it every
  // retention_check_interval_ms). Returns the number of segments deleted.
  virtual Result<int> EnforceRetention() = 0;

  // Completes pending appends, syncs everything, stops background threads. Appends after
  // Close fail with kUnavailable. Idempotent.
  virtual Status Close() = 0;

  // Notified whenever a partition's visible end moves (records became readable, under
  // fsync=always once durable). Readers that found nothing new wait on it instead of polling.
  virtual ChangeSignal& visible_changed() = 0;
};

// Kafka's default partitioner for keyed records: toPositive(murmur2(key)) % partitions.
PartitionId PartitionForKey(std::string_view key, int32_t partitions);

}  // namespace sluice::log
