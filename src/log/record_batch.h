#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/types.h"

namespace sluice::log {

// Kafka RecordBatch v2 ("magic 2"), the unit the log stores and a Kafka fetch serves.
// Layout (big-endian; see docs/formats/log.md):
//   baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 (=2) |
//   crc uint32 (CRC-32C of everything after it) | attributes int16 | lastOffsetDelta int32 |
//   baseTimestamp int64 | maxTimestamp int64 | producerId int64 | producerEpoch int16 |
//   baseSequence int32 | recordCount int32 | records...
// Each record: length varint | attributes int8 | timestampDelta varlong | offsetDelta varint |
//   keyLength varint (-1 = null) | key | valueLength varint (-1 = null) | value |
//   headerCount varint | headers (keyLength varint, key, valueLength varint, value)...

inline constexpr size_t kBatchHeaderSize = 61;
inline constexpr size_t kBatchLengthOffset = 8;  // batchLength counts bytes after this field
inline constexpr size_t kBatchCrcOffset = 17;    // crc covers bytes [21, end)
inline constexpr size_t kBatchAttributesOffset = 21;
inline constexpr int8_t kMagicV2 = 2;

enum class Compression : uint8_t { kNone = 0, kGzip = 1, kSnappy = 2, kLz4 = 3, kZstd = 4 };

struct RecordHeader {
  std::string_view key;
  std::optional<std::string_view> value;  // nullopt = null
};

// The fixed-size header of one batch, decoded.
struct BatchHeader {
  Offset base_offset;
  int32_t batch_length = 0;  // bytes after the batchLength field
  int32_t partition_leader_epoch = 0;
  int8_t magic = 0;
  uint32_t crc = 0;
  int16_t attributes = 0;
  int32_t last_offset_delta = 0;
  TimestampMs base_timestamp;
  TimestampMs max_timestamp;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  int32_t record_count = 0;

  size_t total_size() const { return static_cast<size_t>(batch_length) + 12; }
  Offset last_offset() const { return base_offset + last_offset_delta; }
  Compression compression() const { return static_cast<Compression>(attributes & 0x7); }
  bool is_transactional() const { return (attributes & 0x10) != 0; }
  bool is_control() const { return (attributes & 0x20) != 0; }
};

// A finished batch ready to append: its bytes plus what the log indexes without re-parsing.
struct EncodedBatch {
  std::string bytes;
  int32_t record_count = 0;
  TimestampMs max_timestamp;
};

// Builds one batch. Records are encoded as they are added (into one growing buffer, no
// per-record allocation); Finish() writes the header and the CRC.
class RecordBatchBuilder {
 public:
  RecordBatchBuilder() { Reset(); }

  // Forgets all records; keeps the buffer's capacity.
  void Reset();

  // Appends a record. Timestamps may go in any order (maxTimestamp tracks the largest).
  // key/value nullopt = null.
  void Add(TimestampMs timestamp, std::optional<std::string_view> key,
           std::optional<std::string_view> value, std::span<const RecordHeader> headers = {});

  int32_t record_count() const { return record_count_; }
  // Bytes the batch will take once finished.
  size_t size_bytes() const { return buffer_.size(); }

  // REQUIRES: record_count() > 0. Base offset is written as 0; the log overwrites it.
  // Hands the buffer over to the result (no copy) and leaves the builder empty, as after
  // Reset(), with a fresh buffer reserved at the finished batch's size.
  EncodedBatch Finish();

 private:
  std::string buffer_;  // header placeholder + records
  int32_t record_count_ = 0;
  int64_t base_timestamp_ = 0;
  int64_t max_timestamp_ = 0;
  size_t reserve_hint_ = 0;  // size of the last finished batch
};

// Decodes and sanity-checks a batch header alone (the first kBatchHeaderSize bytes of
// `bytes`), without requiring the rest of the batch. kCorruption as below.
Result<BatchHeader> DecodeBatchHeaderOnly(std::string_view bytes);

// Decodes the header of the batch at the start of `bytes`.
// kCorruption if `bytes` is shorter than a header, magic != 2 or the length is impossible;
// kOutOfRange if the header is complete but the batch is truncated.
Result<BatchHeader> DecodeBatchHeader(std::string_view bytes);

// True if the CRC-32C stored in the batch at the start of `batch` (exactly one whole batch)
// matches its contents.
bool VerifyBatchCrc(std::string_view batch);

// Overwrites the base offset of an encoded batch in place (it is outside the CRC).
void SetBaseOffset(std::string* batch, Offset base_offset);

// Transaction markers (Kafka's control batches): attributes transactional + control, the
// producer's id and epoch, one record with key (version int16 = 0, type int16: 0 abort,
// 1 commit) and value (version int16 = 0, coordinator epoch int32).
enum class ControlType : int16_t { kAbort = 0, kCommit = 1 };

// Sets the producer fields of a finished batch (producer id, epoch, base sequence) and, with
// `transactional`, its transactional attribute bit; recomputes the CRC.
void SetProducerFields(EncodedBatch* batch, int64_t producer_id, int16_t producer_epoch, int32_t base_sequence,
                       bool transactional);

EncodedBatch BuildControlBatch(int64_t producer_id, int16_t producer_epoch, ControlType type,
                               TimestampMs timestamp);
// The marker type of a whole control batch, or nullopt if `batch` is not a well-formed one.
std::optional<ControlType> DecodeControlBatch(std::string_view batch);

// One record, decoded; views point into the batch bytes (and the iterator's scratch space
// for headers), valid until the next call to Next() or the bytes go away.
struct Record {
  Offset offset;
  TimestampMs timestamp;
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  std::span<const RecordHeader> headers;
};

// Decodes the record at the start of `*records` (the record area of the batch described by
// `batch`), advances `*records` past it and fills *record; headers go into *scratch, which
// *record then points into. Returns false if the bytes do not form a valid record.
// RecordReader uses this; the log uses it alone to peek at a batch's first record.
bool DecodeRecord(std::string_view* records, const BatchHeader& batch, Record* record,
                  std::vector<RecordHeader>* scratch);

// A transaction that ended with an ABORT marker: the data batches of `producer_id` with base
// offsets in [first_offset, last_offset) belong to it (last_offset is the marker's offset).
struct AbortedTransaction {
  int64_t producer_id = -1;
  Offset first_offset;
  Offset last_offset;
};
// True if the transactional data batch `header` belongs to one of `aborted`.
bool IsAborted(const BatchHeader& header, std::span<const AbortedTransaction> aborted);

// Iterates the records of a buffer of consecutive whole batches (a ReadResult's bytes).
// Verifies each batch's CRC before yielding its records, decompressing compressed batches
// (gzip, snappy, lz4, zstd; see log/compression.h). Records with offset < `from` are
// skipped (a read starts at the batch containing `from`). Control batches are skipped, and
// so are the data batches of the `aborted` transactions (a read_committed reader passes the
// ones Partition::Committed lists; the span must outlive the reader).
class RecordReader {
 public:
  explicit RecordReader(std::string_view batches, Offset from = Offset(0),
                        std::span<const AbortedTransaction> aborted = {});

  // Returns true and fills *record, or false at the end or on error (then status() says).
  bool Next(Record* record);
  const Status& status() const { return status_; }

 private:
  bool NextBatch();

  std::string_view rest_;     // batches not yet started
  std::string_view records_;  // undecoded records of the current batch
  BatchHeader header_;
  int32_t remaining_in_batch_ = 0;
  Offset from_;
  std::span<const AbortedTransaction> aborted_;
  std::vector<RecordHeader> header_scratch_;
  std::string decompressed_;  // records of the current batch, when it is compressed
  Status status_;
};

// A compressed batch whose records decompress to more than this is treated as corrupt.
inline constexpr size_t kMaxDecompressedBatchBytes = 64u << 20;

}  // namespace sluice::log
