#include "log/record_batch.h"

#include <fmt/format.h>

#include <cassert>
#include <cstring>

#include "common/crc32c.h"
#include "common/varint.h"
#include "log/compression.h"

namespace sluice::log {
namespace {

// Field positions within the 61-byte batch header.
constexpr size_t kBaseOffsetPos = 0;
constexpr size_t kPartitionLeaderEpochPos = 12;
constexpr size_t kMagicPos = 16;
constexpr size_t kLastOffsetDeltaPos = 23;
constexpr size_t kBaseTimestampPos = 27;
constexpr size_t kMaxTimestampPos = 35;
constexpr size_t kProducerIdPos = 43;
constexpr size_t kProducerEpochPos = 51;
constexpr size_t kBaseSequencePos = 53;
constexpr size_t kRecordCountPos = 57;

// batchLength counts everything after itself; the smallest batch has no records.
constexpr int32_t kMinBatchLength = static_cast<int32_t>(kBatchHeaderSize - 12);
// Far above anything the log writes (segments are 128 MiB by default); guards against reading
// a garbage length as a huge allocation.
constexpr int32_t kMaxBatchLength = 1 << 30;

constexpr int16_t kTimestampTypeLogAppendTime = 0x08;

// Bytes a nullable byte string takes on the wire: varint length (-1 = null) + bytes.
inline size_t NullableSize(const std::optional<std::string_view>& s) {
  return s ? VarintSize(static_cast<int32_t>(s->size())) + s->size() : VarintSize(-1);
}

inline char* EncodeNullable(char* p, const std::optional<std::string_view>& s) {
  if (!s) return EncodeVarint(p, -1);
  p = EncodeVarint(p, static_cast<int32_t>(s->size()));
  if (!s->empty()) std::memcpy(p, s->data(), s->size());
  return p + s->size();
}

inline bool DecodeNullable(std::string_view* in, std::optional<std::string_view>* out) {
  int32_t length;
  if (!GetVarint(in, &length)) return false;
  if (length == -1) {
    out->reset();
    return true;
  }
  if (length < 0 || static_cast<size_t>(length) > in->size()) return false;
  *out = in->substr(0, static_cast<size_t>(length));
  in->remove_prefix(static_cast<size_t>(length));
  return true;
}

}  // namespace

void RecordBatchBuilder::Reset() {
  buffer_.clear();
  if (reserve_hint_ > buffer_.capacity()) buffer_.reserve(reserve_hint_);
  buffer_.resize(kBatchHeaderSize);
  record_count_ = 0;
  base_timestamp_ = 0;
  max_timestamp_ = 0;
}

void RecordBatchBuilder::Add(TimestampMs timestamp, std::optional<std::string_view> key,
                             std::optional<std::string_view> value,
                             std::span<const RecordHeader> headers) {
  if (record_count_ == 0) {
    base_timestamp_ = timestamp.value();
    max_timestamp_ = timestamp.value();
  } else if (timestamp.value() > max_timestamp_) {
    max_timestamp_ = timestamp.value();
  }
  const int64_t timestamp_delta = timestamp.value() - base_timestamp_;
  const int32_t offset_delta = record_count_;

  size_t body = 1 + VarlongSize(timestamp_delta) + VarintSize(offset_delta) + NullableSize(key) +
                NullableSize(value) + VarintSize(static_cast<int32_t>(headers.size()));
  for (const RecordHeader& h : headers) {
    body += VarintSize(static_cast<int32_t>(h.key.size())) + h.key.size() + NullableSize(h.value);
  }

  // One resize per record (amortised growth of the single buffer), then raw writes.
  const size_t start = buffer_.size();
  buffer_.resize(start + VarintSize(static_cast<int32_t>(body)) + body);
  char* p = buffer_.data() + start;
  p = EncodeVarint(p, static_cast<int32_t>(body));
  *p++ = 0;  // record attributes: unused in v2
  p = EncodeVarlong(p, timestamp_delta);
  p = EncodeVarint(p, offset_delta);
  p = EncodeNullable(p, key);
  p = EncodeNullable(p, value);
  p = EncodeVarint(p, static_cast<int32_t>(headers.size()));
  for (const RecordHeader& h : headers) {
    p = EncodeNullable(p, h.key);
    p = EncodeNullable(p, h.value);
  }
  assert(p == buffer_.data() + buffer_.size());
  ++record_count_;
}

EncodedBatch RecordBatchBuilder::Finish() {
  assert(record_count_ > 0);
  char* h = buffer_.data();
  StoreBigEndian64(h + kBaseOffsetPos, 0);
  StoreBigEndian32(h + kBatchLengthOffset, static_cast<uint32_t>(buffer_.size() - 12));
  // Leader epoch 0: the embedded log has one leader that never changes.
  StoreBigEndian32(h + kPartitionLeaderEpochPos, 0);
  h[kMagicPos] = kMagicV2;
  StoreBigEndian16(h + kBatchAttributesOffset, 0);  // no compression, CreateTime, not transactional
  StoreBigEndian32(h + kLastOffsetDeltaPos, static_cast<uint32_t>(record_count_ - 1));
  StoreBigEndian64(h + kBaseTimestampPos, static_cast<uint64_t>(base_timestamp_));
  StoreBigEndian64(h + kMaxTimestampPos, static_cast<uint64_t>(max_timestamp_));
  StoreBigEndian64(h + kProducerIdPos, static_cast<uint64_t>(-1));
  StoreBigEndian16(h + kProducerEpochPos, static_cast<uint16_t>(-1));
  StoreBigEndian32(h + kBaseSequencePos, static_cast<uint32_t>(-1));
  StoreBigEndian32(h + kRecordCountPos, static_cast<uint32_t>(record_count_));
  const uint32_t crc =
      Crc32cExtend(0, h + kBatchAttributesOffset, buffer_.size() - kBatchAttributesOffset);
  StoreBigEndian32(h + kBatchCrcOffset, crc);

  EncodedBatch batch;
  batch.record_count = record_count_;
  batch.max_timestamp = TimestampMs(max_timestamp_);
  reserve_hint_ = buffer_.size();
  batch.bytes = std::move(buffer_);
  buffer_ = std::string();
  Reset();
  return batch;
}

Result<BatchHeader> DecodeBatchHeaderOnly(std::string_view bytes) {
  if (bytes.size() < kBatchHeaderSize) {
    return Status::Corruption(
        fmt::format("batch header truncated: {} of {} bytes", bytes.size(), kBatchHeaderSize));
  }
  const char* p = bytes.data();
  BatchHeader h;
  h.base_offset = Offset(static_cast<int64_t>(LoadBigEndian64(p + kBaseOffsetPos)));
  h.batch_length = static_cast<int32_t>(LoadBigEndian32(p + kBatchLengthOffset));
  h.partition_leader_epoch = static_cast<int32_t>(LoadBigEndian32(p + kPartitionLeaderEpochPos));
  h.magic = static_cast<int8_t>(p[kMagicPos]);
  h.crc = LoadBigEndian32(p + kBatchCrcOffset);
  h.attributes = static_cast<int16_t>(LoadBigEndian16(p + kBatchAttributesOffset));
  h.last_offset_delta = static_cast<int32_t>(LoadBigEndian32(p + kLastOffsetDeltaPos));
  h.base_timestamp = TimestampMs(static_cast<int64_t>(LoadBigEndian64(p + kBaseTimestampPos)));
  h.max_timestamp = TimestampMs(static_cast<int64_t>(LoadBigEndian64(p + kMaxTimestampPos)));
  h.producer_id = static_cast<int64_t>(LoadBigEndian64(p + kProducerIdPos));
  h.producer_epoch = static_cast<int16_t>(LoadBigEndian16(p + kProducerEpochPos));
  h.base_sequence = static_cast<int32_t>(LoadBigEndian32(p + kBaseSequencePos));
  h.record_count = static_cast<int32_t>(LoadBigEndian32(p + kRecordCountPos));

  if (h.magic != kMagicV2) return Status::Corruption(fmt::format("batch magic {} != 2", h.magic));
  if (h.batch_length < kMinBatchLength || h.batch_length > kMaxBatchLength) {
    return Status::Corruption(fmt::format("impossible batch length {}", h.batch_length));
  }
  if (h.base_offset.value() < 0 || h.last_offset_delta < 0 || h.record_count < 0) {
    return Status::Corruption(fmt::format("impossible batch offsets: base {} delta {} count {}",
                                          h.base_offset.value(), h.last_offset_delta,
                                          h.record_count));
  }
  return h;
}

Result<BatchHeader> DecodeBatchHeader(std::string_view bytes) {
  SLUICE_ASSIGN_OR_RETURN(BatchHeader h, DecodeBatchHeaderOnly(bytes));
  if (bytes.size() < h.total_size()) {
    return Status::OutOfRange(
        fmt::format("batch truncated: {} of {} bytes", bytes.size(), h.total_size()));
  }
  return h;
}

bool VerifyBatchCrc(std::string_view batch) {
  if (batch.size() < kBatchHeaderSize) return false;
  const uint32_t stored = LoadBigEndian32(batch.data() + kBatchCrcOffset);
  return Crc32cExtend(0, batch.data() + kBatchAttributesOffset,
                      batch.size() - kBatchAttributesOffset) == stored;
}

void SetBaseOffset(std::string* batch, Offset base_offset) {
  assert(batch->size() >= kBatchHeaderSize);
  StoreBigEndian64(batch->data() + kBaseOffsetPos, static_cast<uint64_t>(base_offset.value()));
}

bool DecodeRecord(std::string_view* records, const BatchHeader& batch, Record* record,
                  std::vector<RecordHeader>* scratch) {
  std::string_view in = *records;
  int32_t length;
  if (!GetVarint(&in, &length) || length < 0 || static_cast<size_t>(length) > in.size()) {
    return false;
  }
  std::string_view body = in.substr(0, static_cast<size_t>(length));
  in.remove_prefix(static_cast<size_t>(length));

  if (body.empty()) return false;
  body.remove_prefix(1);  // record attributes
  int64_t timestamp_delta;
  int32_t offset_delta;
  int32_t header_count;
  if (!GetVarlong(&body, &timestamp_delta) || !GetVarint(&body, &offset_delta) ||
      !DecodeNullable(&body, &record->key) || !DecodeNullable(&body, &record->value) ||
      !GetVarint(&body, &header_count) || header_count < 0 ||
      static_cast<size_t>(header_count) > body.size()) {
    return false;
  }
  scratch->clear();
  for (int32_t i = 0; i < header_count; ++i) {
    std::optional<std::string_view> key;
    RecordHeader header;
    if (!DecodeNullable(&body, &key) || !key || !DecodeNullable(&body, &header.value)) return false;
    header.key = *key;
    scratch->push_back(header);
  }
  if (!body.empty()) return false;

  record->offset = batch.base_offset + offset_delta;
  record->timestamp = (batch.attributes & kTimestampTypeLogAppendTime) != 0
                          ? batch.max_timestamp
                          : batch.base_timestamp + timestamp_delta;
  record->headers = std::span<const RecordHeader>(scratch->data(), scratch->size());
  *records = in;
  return true;
}

bool IsAborted(const BatchHeader& header, std::span<const AbortedTransaction> aborted) {
  if (!header.is_transactional() || header.is_control()) return false;
  for (const AbortedTransaction& a : aborted) {
    if (a.producer_id == header.producer_id && a.first_offset <= header.base_offset &&
        header.base_offset < a.last_offset) {
      return true;
    }
  }
  return false;
}

RecordReader::RecordReader(std::string_view batches, Offset from, std::span<const AbortedTransaction> aborted)
    : rest_(batches), from_(from), aborted_(aborted) {}

bool RecordReader::NextBatch() {
  while (!rest_.empty()) {
    Result<BatchHeader> header = DecodeBatchHeader(rest_);
    if (!header.ok()) {
      status_ = Status::Corruption("record batch: " + header.status().message());
      return false;
    }
    const std::string_view batch = rest_.substr(0, header->total_size());
    rest_.remove_prefix(batch.size());
    if (!VerifyBatchCrc(batch)) {
      status_ = Status::Corruption(
          fmt::format("record batch at offset {}: CRC mismatch", header->base_offset.value()));
      return false;
    }
    if (header->is_control() || header->last_offset() < from_ || header->record_count == 0 ||
        (!aborted_.empty() && IsAborted(*header, aborted_))) {
      continue;
    }
    header_ = *header;
    records_ = batch.substr(kBatchHeaderSize);
    if (header->compression() != Compression::kNone) {
      Result<std::string> plain =
          Decompress(header->compression(), records_, kMaxDecompressedBatchBytes);
      if (!plain.ok()) {
        status_ = Status(plain.status().code(),
                         fmt::format("record batch at offset {}: {}", header->base_offset.value(),
                                     plain.status().message()));
        return false;
      }
      decompressed_ = std::move(plain).value();
      records_ = decompressed_;
    }
    remaining_in_batch_ = header_.record_count;
    return true;
  }
  return false;
}

bool RecordReader::Next(Record* record) {
  while (status_.ok()) {
    if (remaining_in_batch_ == 0) {
      if (!records_.empty()) {
        status_ = Status::Corruption(fmt::format("record batch at offset {}: {} trailing bytes",
                                                 header_.base_offset.value(), records_.size()));
        return false;
      }
      if (!NextBatch()) return false;
    }
    if (!DecodeRecord(&records_, header_, record, &header_scratch_)) {
      status_ = Status::Corruption(
          fmt::format("record batch at offset {}: malformed record", header_.base_offset.value()));
      return false;
    }
    --remaining_in_batch_;
    if (record->offset >= from_) return true;
  }
  return false;
}

void SetProducerFields(EncodedBatch* batch, int64_t producer_id, int16_t producer_epoch, int32_t base_sequence,
                       bool transactional) {
  char* h = batch->bytes.data();
  const uint16_t attributes = LoadBigEndian16(h + kBatchAttributesOffset);
  StoreBigEndian16(h + kBatchAttributesOffset,
                   static_cast<uint16_t>(transactional ? (attributes | 0x10) : (attributes & ~0x10)));
  StoreBigEndian64(h + kProducerIdPos, static_cast<uint64_t>(producer_id));
  StoreBigEndian16(h + kProducerEpochPos, static_cast<uint16_t>(producer_epoch));
  StoreBigEndian32(h + kBaseSequencePos, static_cast<uint32_t>(base_sequence));
  const uint32_t crc =
      Crc32cExtend(0, h + kBatchAttributesOffset, batch->bytes.size() - kBatchAttributesOffset);
  StoreBigEndian32(h + kBatchCrcOffset, crc);
}

EncodedBatch BuildControlBatch(int64_t producer_id, int16_t producer_epoch, ControlType type,
                               TimestampMs timestamp) {
  char key[4];
  StoreBigEndian16(key, 0);
  StoreBigEndian16(key + 2, static_cast<uint16_t>(type));
  char value[6];
  StoreBigEndian16(value, 0);
  StoreBigEndian32(value + 2, 0);  // coordinator epoch: one coordinator that never moves
  RecordBatchBuilder builder;
  builder.Add(timestamp, std::string_view(key, 4), std::string_view(value, 6));
  EncodedBatch batch = builder.Finish();
  char* h = batch.bytes.data();
  StoreBigEndian16(h + kBatchAttributesOffset, 0x20);  // control (the transactional bit is set below)
  SetProducerFields(&batch, producer_id, producer_epoch, -1, /*transactional=*/true);
  return batch;
}

std::optional<ControlType> DecodeControlBatch(std::string_view batch) {
  Result<BatchHeader> header = DecodeBatchHeader(batch);
  if (!header.ok() || !header->is_control() || header->record_count < 1 ||
      header->compression() != Compression::kNone || header->total_size() != batch.size()) {
    return std::nullopt;
  }
  std::string_view records = batch.substr(kBatchHeaderSize);
  Record record;
  std::vector<RecordHeader> scratch;
  if (!DecodeRecord(&records, *header, &record, &scratch) || !record.key || record.key->size() < 4) {
    return std::nullopt;
  }
  const auto t = static_cast<int16_t>(LoadBigEndian16(record.key->data() + 2));
  if (t != 0 && t != 1) return std::nullopt;
  return static_cast<ControlType>(t);
}

}  // namespace sluice::log
