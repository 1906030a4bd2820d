#include "common/varint.h"

#include <gtest/gtest.h>

#include <climits>
#include <string>
#include <vector>

namespace sluice {
namespace {

TEST(VarintTest, ZigZag) {
  EXPECT_EQ(ZigZagEncode32(0), 0u);
  EXPECT_EQ(ZigZagEncode32(-1), 1u);
  EXPECT_EQ(ZigZagEncode32(1), 2u);
  EXPECT_EQ(ZigZagEncode32(-2), 3u);
  EXPECT_EQ(ZigZagEncode32(INT32_MAX), 0xFFFFFFFEu);
  EXPECT_EQ(ZigZagEncode32(INT32_MIN), 0xFFFFFFFFu);
  EXPECT_EQ(ZigZagDecode32(0xFFFFFFFFu), INT32_MIN);
  EXPECT_EQ(ZigZagDecode64(ZigZagEncode64(INT64_MIN)), INT64_MIN);
  EXPECT_EQ(ZigZagDecode64(ZigZagEncode64(INT64_MAX)), INT64_MAX);
}

TEST(VarintTest, KnownEncodings) {
  std::string s;
  PutVarint(&s, 0);
  EXPECT_EQ(s, std::string("\x00", 1));
  s.clear();
  PutVarint(&s, -1);
  EXPECT_EQ(s, "\x01");
  s.clear();
  PutVarint(&s, 64);  // zigzag 128 -> two groups
  EXPECT_EQ(s, "\x80\x01");
  s.clear();
  PutVarint(&s, INT32_MIN);
  EXPECT_EQ(s, "\xff\xff\xff\xff\x0f");
  EXPECT_EQ(VarintSize(INT32_MIN), 5u);
  EXPECT_EQ(VarlongSize(INT64_MIN), 10u);
  EXPECT_EQ(VarintSize(-64), 1u);
  EXPECT_EQ(VarintSize(64), 2u);
}

TEST(VarintTest, RoundTrip) {
  const std::vector<int64_t> values = {
      0,         1,         -1,        63,        -64,
      64,        -65,       8191,      1 << 20,   -(1 << 27),
      INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, 1'700'000'000'000};
  std::string buf;
  for (int64_t v : values) {
    PutVarlong(&buf, v);
    if (v >= INT32_MIN && v <= INT32_MAX) PutVarint(&buf, static_cast<int32_t>(v));
  }
  std::string_view in = buf;
  for (int64_t v : values) {
    int64_t got64;
    ASSERT_TRUE(GetVarlong(&in, &got64));
    EXPECT_EQ(got64, v);
    if (v >= INT32_MIN && v <= INT32_MAX) {
      int32_t got32;
      ASSERT_TRUE(GetVarint(&in, &got32));
      EXPECT_EQ(got32, v);
    }
  }
  EXPECT_TRUE(in.empty());
}

TEST(VarintTest, TruncatedInputFailsWithoutConsuming) {
  std::string buf;
  PutVarint(&buf, 1'000'000);
  for (size_t len = 0; len < buf.size(); ++len) {
    std::string_view in(buf.data(), len);
    int32_t v;
    EXPECT_FALSE(GetVarint(&in, &v));
    EXPECT_EQ(in.size(), len);
  }
}

TEST(VarintTest, OverlongInputFails) {
  int32_t v32;
  int64_t v64;
  std::string_view six_groups("\xff\xff\xff\xff\xff\x01", 6);
  EXPECT_FALSE(GetVarint(&six_groups, &v32));
  std::string_view too_wide("\xff\xff\xff\xff\x1f", 5);  // 33 bits
  EXPECT_FALSE(GetVarint(&too_wide, &v32));
  std::string_view eleven("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);
  EXPECT_FALSE(GetVarlong(&eleven, &v64));
  std::string_view sixty_five("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x03", 10);
  EXPECT_FALSE(GetVarlong(&sixty_five, &v64));
}

TEST(VarintTest, BigEndian) {
  std::string s;
  PutBigEndian16(&s, 0x0102);
  PutBigEndian32(&s, 0x03040506u);
  PutBigEndian64(&s, 0x0708090a0b0c0d0eull);
  EXPECT_EQ(s, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e");
  EXPECT_EQ(LoadBigEndian16(s.data()), 0x0102);
  EXPECT_EQ(LoadBigEndian32(s.data() + 2), 0x03040506u);
  EXPECT_EQ(LoadBigEndian64(s.data() + 6), 0x0708090a0b0c0d0eull);
  char buf[8];
  StoreBigEndian64(buf, static_cast<uint64_t>(-2));
  EXPECT_EQ(static_cast<int64_t>(LoadBigEndian64(buf)), -2);
}

}  // namespace
}  // namespace sluice
