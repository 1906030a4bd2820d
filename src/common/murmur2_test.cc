#include "common/murmur2.h"

#include <gtest/gtest.h>

#include <climits>
#include <string>

namespace sluice {
namespace {

// Values computed by Kafka's Java client (Utils.murmur2), which the default partitioner uses.
TEST(Murmur2Test, MatchesKafkaJavaClient) {
  EXPECT_EQ(Murmur2("21"), -973932308);
  EXPECT_EQ(Murmur2("foobar"), -790332482);
  EXPECT_EQ(Murmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(Murmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(Murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(Murmur2("abc"), 479470107);
}

TEST(Murmur2Test, BytesAboveAsciiAreNotSignExtended) {
  // Java's signed bytes are masked with 0xff; 0x80..0xff must hash like unsigned values, so a
  // key differing only in the high bit hashes differently (and deterministically).
  std::string a("\x80\x81\x82", 3);
  std::string b("\x00\x01\x02", 3);
  EXPECT_NE(Murmur2(a), Murmur2(b));
  EXPECT_EQ(Murmur2(a), Murmur2(std::string(a)));
}

TEST(Murmur2Test, ToPositive) {
  EXPECT_EQ(ToPositive(0), 0);
  EXPECT_EQ(ToPositive(5), 5);
  EXPECT_EQ(ToPositive(-1), INT_MAX);
  EXPECT_EQ(ToPositive(INT_MIN), 0);
  EXPECT_EQ(ToPositive(-973932308), -973932308 & 0x7fffffff);
}

}  // namespace
}  // namespace sluice
