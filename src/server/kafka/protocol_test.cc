#include "server/kafka/protocol.h"

#include <gtest/gtest.h>

#include "server/kafka/handler.h"
#include "server/kafka/wire.h"

namespace sluice::server::kafka {
namespace {

std::string Header(int16_t key, int16_t version, int32_t correlation, bool flexible) {
  std::string out;
  WireWriter w(&out, false);
  w.Int16(key);
  w.Int16(version);
  w.Int32(correlation);
  w.NullableString("client-1");
  if (flexible) w.UnsignedVarint(0);
  return out;
}

// Spliced bytes (a Fetch's records) count in the frame size and land where they were spliced.
TEST(ProtocolTest, SplicedBytesCountInTheFrameAndFlattenInPlace) {
  RequestHeader h;
  h.api_key = static_cast<int16_t>(ApiKey::kFetch);
  h.api_version = 12;
  h.correlation_id = 77;
  h.flexible = true;
  OutFrame frame;
  const size_t pos = BeginResponse(h, &frame.bytes);
  WireWriter w(&frame.bytes, /*flexible=*/true);
  w.Int32(1);
  w.BytesLength(3);
  frame.spliced.push_back({frame.bytes.size(), "abc"});
  w.Int16(2);
  w.BytesLength(2);
  frame.spliced.push_back({frame.bytes.size(), "de"});
  FinishResponse(pos, &frame.bytes, 5);
  EXPECT_EQ(frame.size(), frame.bytes.size() + 5);
  const std::string flat = frame.Flatten();
  ASSERT_EQ(flat.size(), frame.size());

  WireReader r(flat, /*flexible=*/false);
  EXPECT_EQ(r.Int32(), static_cast<int32_t>(flat.size() - 4));  // the size field
  EXPECT_EQ(r.Int32(), 77);
  const std::string rest = flat.substr(9);  // after size, correlation id, tagged fields
  WireReader body(rest, /*flexible=*/true);
  EXPECT_EQ(body.Int32(), 1);
  EXPECT_EQ(body.NullableBytes().value_or("?"), "abc");
  EXPECT_EQ(body.Int16(), 2);
  EXPECT_EQ(body.NullableBytes().value_or("?"), "de");
  EXPECT_TRUE(body.ok());
  EXPECT_EQ(body.remaining(), 0u);
}

TEST(ProtocolTest, DecodesHeaderV1AndV2) {
  size_t size = 0;
  std::string v1 = Header(3, 5, 42, false) + "BODY";
  Result<RequestHeader> h = DecodeRequestHeader(v1, &size);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->correlation_id, 42);
  EXPECT_EQ(*h->client_id, "client-1");
  EXPECT_TRUE(h->supported);
  EXPECT_FALSE(h->flexible);
  EXPECT_EQ(v1.substr(size), "BODY");

  std::string v2 = Header(3, 9, 43, true) + "BODY";
  h = DecodeRequestHeader(v2, &size);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->flexible);
  EXPECT_EQ(v2.substr(size), "BODY");
}

TEST(ProtocolTest, UnknownKeysAndVersionsAreFlaggedNotRejected) {
  size_t size = 0;
  std::string unknown = Header(999, 0, 7, false);
  Result<RequestHeader> h = DecodeRequestHeader(unknown, &size);
  ASSERT_TRUE(h.ok());
  EXPECT_FALSE(h->supported);
  EXPECT_EQ(h->correlation_id, 7);
  std::string resp = UnsupportedVersionResponse(*h);
  ASSERT_EQ(resp.size(), 10u);
  WireReader r(resp, false);
  EXPECT_EQ(r.Int32(), 6);
  EXPECT_EQ(r.Int32(), 7);
  EXPECT_EQ(r.Int16(), static_cast<int16_t>(ErrorCode::kUnsupportedVersion));

  std::string future_api_versions = Header(18, 99, 8, true);
  h = DecodeRequestHeader(future_api_versions, &size);
  ASSERT_TRUE(h.ok());
  EXPECT_FALSE(h->supported);
  EXPECT_FALSE(DecodeRequestHeader(std::string("\x00\x03\x00", 3), &size).ok());
}

TEST(ProtocolTest, ApiVersionsFallbackListsEverySupportedApi) {
  std::string body = ApiVersionsFallbackBody();
  WireReader r(body, false);
  EXPECT_EQ(r.Int16(), static_cast<int16_t>(ErrorCode::kUnsupportedVersion));
  const int32_t n = r.ArrayLength(6);
  ASSERT_EQ(static_cast<size_t>(n), SupportedApis().size());
  bool saw_api_versions = false;
  for (int32_t i = 0; i < n; ++i) {
    const int16_t key = r.Int16();
    const int16_t min = r.Int16();
    const int16_t max = r.Int16();
    EXPECT_LE(min, max);
    if (key == 18) saw_api_versions = min == 0 && max == 3;
  }
  EXPECT_TRUE(saw_api_versions);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
}

}  // namespace
}  // namespace sluice::server::kafka
