#include "log/record_batch.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/crc32c.h"
#include "common/varint.h"
#include "log/compression.h"

namespace sluice::log {
namespace {

TEST(RecordBatchTest, RoundTripKeysValuesHeadersTimestamps) {
  RecordBatchBuilder builder;
  const std::vector<RecordHeader> headers = {{"idem", std::string_view("k-1")},
                                             {"nullv", std::nullopt}};
  builder.Add(TimestampMs(1000), std::nullopt, std::string_view("v0"));
  builder.Add(TimestampMs(990), std::string_view(""), std::string_view(""), headers);
  builder.Add(TimestampMs(1500), std::string_view("key"), std::nullopt);
  ASSERT_EQ(builder.record_count(), 3);
  EncodedBatch batch = builder.Finish();
  EXPECT_EQ(batch.record_count, 3);
  EXPECT_EQ(batch.max_timestamp, TimestampMs(1500));
  EXPECT_EQ(builder.record_count(), 0);  // Finish leaves the builder empty

  SetBaseOffset(&batch.bytes, Offset(40));
  Result<BatchHeader> h = DecodeBatchHeader(batch.bytes);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->base_offset, Offset(40));
  EXPECT_EQ(h->last_offset(), Offset(42));
  EXPECT_EQ(h->total_size(), batch.bytes.size());
  EXPECT_EQ(h->base_timestamp, TimestampMs(1000));
  EXPECT_EQ(h->max_timestamp, TimestampMs(1500));
  EXPECT_EQ(h->compression(), Compression::kNone);
  EXPECT_TRUE(VerifyBatchCrc(batch.bytes));

  RecordReader reader(batch.bytes);
  Record r;
  ASSERT_TRUE(reader.Next(&r));
  EXPECT_EQ(r.offset, Offset(40));
  EXPECT_EQ(r.timestamp, TimestampMs(1000));
  EXPECT_FALSE(r.key.has_value());
  EXPECT_EQ(r.value, "v0");
  EXPECT_TRUE(r.headers.empty());
  ASSERT_TRUE(reader.Next(&r));
  EXPECT_EQ(r.offset, Offset(41));
  EXPECT_EQ(r.timestamp, TimestampMs(990));
  ASSERT_TRUE(r.key.has_value());
  EXPECT_EQ(*r.key, "");
  EXPECT_EQ(r.value, "");
  ASSERT_EQ(r.headers.size(), 2u);
  EXPECT_EQ(r.headers[0].key, "idem");
  EXPECT_EQ(r.headers[0].value, "k-1");
  EXPECT_EQ(r.headers[1].key, "nullv");
  EXPECT_FALSE(r.headers[1].value.has_value());
  ASSERT_TRUE(reader.Next(&r));
  EXPECT_EQ(r.offset, Offset(42));
  EXPECT_EQ(*r.key, "key");
  EXPECT_FALSE(r.value.has_value());
  EXPECT_FALSE(reader.Next(&r));
  EXPECT_TRUE(reader.status().ok());
}

TEST(RecordBatchTest, ReaderSkipsBelowFromAcrossBatches) {
  RecordBatchBuilder builder;
  std::string bytes;
  for (int b = 0; b < 3; ++b) {
    for (int i = 0; i < 4; ++i)
      builder.Add(TimestampMs(i), std::nullopt, std::to_string(b * 4 + i));
    EncodedBatch batch = builder.Finish();
    SetBaseOffset(&batch.bytes, Offset(b * 4));
    bytes += batch.bytes;
  }
  RecordReader reader(bytes, Offset(6));
  Record r;
  std::vector<int64_t> offsets;
  while (reader.Next(&r)) {
    EXPECT_EQ(*r.value, std::to_string(r.offset.value()));
    offsets.push_back(r.offset.value());
  }
  EXPECT_TRUE(reader.status().ok());
  EXPECT_EQ(offsets, (std::vector<int64_t>{6, 7, 8, 9, 10, 11}));
}

TEST(RecordBatchTest, CrcDetectsEveryFlippedBit) {
  RecordBatchBuilder builder;
  builder.Add(TimestampMs(5), std::string_view("k"), std::string_view("hello"));
  const EncodedBatch batch = builder.Finish();
  for (size_t byte = kBatchAttributesOffset; byte < batch.bytes.size(); ++byte) {
    std::string copy = batch.bytes;
    copy[byte] ^= 0x10;
    EXPECT_FALSE(VerifyBatchCrc(copy)) << "byte " << byte;
  }
  std::string copy = batch.bytes;
  copy[batch.bytes.size() - 1] ^= 1;
  RecordReader reader(copy);
  Record r;
  EXPECT_FALSE(reader.Next(&r));
  EXPECT_EQ(reader.status().code(), StatusCode::kCorruption);
}

TEST(RecordBatchTest, HeaderDecodeRejectsGarbageAndTruncation) {
  RecordBatchBuilder builder;
  builder.Add(TimestampMs(5), std::nullopt, std::string_view("value"));
  const EncodedBatch batch = builder.Finish();

  EXPECT_EQ(DecodeBatchHeader(std::string_view(batch.bytes).substr(0, 30)).status().code(),
            StatusCode::kCorruption);
  EXPECT_EQ(DecodeBatchHeader(std::string_view(batch.bytes).substr(0, batch.bytes.size() - 1))
                .status()
                .code(),
            StatusCode::kOutOfRange);
  std::string bad_magic = batch.bytes;
  bad_magic[16] = 1;
  EXPECT_EQ(DecodeBatchHeader(bad_magic).status().code(), StatusCode::kCorruption);
  std::string bad_length = batch.bytes;
  bad_length[8] = '\x7f';
  EXPECT_EQ(DecodeBatchHeader(bad_length).status().code(), StatusCode::kCorruption);
  EXPECT_FALSE(DecodeBatchHeader(std::string(100, '\xff')).ok());
  EXPECT_FALSE(DecodeBatchHeader(std::string(100, '\0')).ok());
}

// A batch whose record area is compressed with `codec`, as a Kafka producer writes it.
std::string CompressBatch(const EncodedBatch& plain, Compression codec) {
  std::string records = plain.bytes.substr(kBatchHeaderSize);
  Result<std::string> packed = Compress(codec, records);
  EXPECT_TRUE(packed.ok());
  std::string out = plain.bytes.substr(0, kBatchHeaderSize) + *packed;
  StoreBigEndian32(out.data() + kBatchLengthOffset, static_cast<uint32_t>(out.size() - 12));
  out[kBatchAttributesOffset + 1] = static_cast<char>(codec);
  StoreBigEndian32(out.data() + kBatchCrcOffset,
                   Crc32c(std::string_view(out).substr(kBatchAttributesOffset)));
  return out;
}

TEST(RecordBatchTest, ReadsCompressedBatchesOfEveryCodec) {
  RecordBatchBuilder builder;
  for (int i = 0; i < 50; ++i) {
    const std::string value = "{\"n\":" + std::to_string(i) + ",\"pad\":\"aaaaaaaaaaaaaaaa\"}";
    builder.Add(TimestampMs(1000 + i), std::string_view("k"), value);
  }
  const EncodedBatch plain = builder.Finish();
  for (Compression codec :
       {Compression::kGzip, Compression::kSnappy, Compression::kLz4, Compression::kZstd}) {
    const std::string batch = CompressBatch(plain, codec);
    ASSERT_TRUE(VerifyBatchCrc(batch));
    RecordReader reader(batch, Offset(10));
    Record r;
    int n = 10;
    while (reader.Next(&r)) {
      EXPECT_EQ(r.offset, Offset(n));
      EXPECT_EQ(r.timestamp, TimestampMs(1000 + n));
      EXPECT_EQ(*r.value, "{\"n\":" + std::to_string(n) + ",\"pad\":\"aaaaaaaaaaaaaaaa\"}");
      ++n;
    }
    EXPECT_TRUE(reader.status().ok()) << static_cast<int>(codec) << reader.status().ToString();
    EXPECT_EQ(n, 50) << static_cast<int>(codec);
  }
}

TEST(RecordBatchTest, CorruptCompressedRecordsAreReportedNotCrashed) {
  RecordBatchBuilder builder;
  builder.Add(TimestampMs(5), std::nullopt, std::string_view("value"));
  EncodedBatch batch = builder.Finish();
  for (Compression codec :
       {Compression::kGzip, Compression::kSnappy, Compression::kLz4, Compression::kZstd}) {
    std::string bytes = batch.bytes;  // uncompressed records labelled as compressed
    bytes[kBatchAttributesOffset + 1] = static_cast<char>(codec);
    StoreBigEndian32(bytes.data() + kBatchCrcOffset,
                     Crc32c(std::string_view(bytes).substr(kBatchAttributesOffset)));
    RecordReader reader(bytes);
    Record r;
    EXPECT_FALSE(reader.Next(&r));
    EXPECT_EQ(reader.status().code(), StatusCode::kCorruption) << static_cast<int>(codec);
  }
}

TEST(CompressionTest, DecompressionBombIsBounded) {
  const std::string zeros(1 << 20, '\0');
  for (Compression codec :
       {Compression::kGzip, Compression::kSnappy, Compression::kLz4, Compression::kZstd}) {
    Result<std::string> packed = Compress(codec, zeros);
    ASSERT_TRUE(packed.ok());
    EXPECT_EQ(Decompress(codec, *packed, 4096).status().code(), StatusCode::kCorruption);
    Result<std::string> back = Decompress(codec, *packed, 2 << 20);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, zeros);
  }
}

TEST(RecordBatchTest, BuilderReusesItsBufferAcrossBatches) {
  RecordBatchBuilder builder;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 100; ++i) builder.Add(TimestampMs(i), std::nullopt, std::string(100, 'x'));
    EXPECT_GT(builder.size_bytes(), 100u * 100u);
    EncodedBatch batch = builder.Finish();
    EXPECT_TRUE(VerifyBatchCrc(batch.bytes));
    EXPECT_EQ(builder.size_bytes(), kBatchHeaderSize);
  }
}

}  // namespace
}  // namespace sluice::log
