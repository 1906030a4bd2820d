#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace sluice {
namespace {

TEST(Crc32cTest, KnownVectors) {
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending(32, '\0');
  for (int i = 0; i < 32; ++i) ascending[i] = static_cast<char>(i);
  EXPECT_EQ(Crc32c(ascending), 0x46DD794Eu);
}

TEST(Crc32cTest, ExtendEqualsWhole) {
  const std::string data = "The quick brown fox jumps over the lazy dog, twice over.";
  for (size_t split = 0; split <= data.size(); ++split) {
    uint32_t crc = Crc32cExtend(0, data.data(), split);
    crc = Crc32cExtend(crc, data.data() + split, data.size() - split);
    EXPECT_EQ(crc, Crc32c(data)) << "split at " << split;
  }
}

TEST(Crc32cTest, HardwareAndPortableAgree) {
  std::mt19937_64 rng(42);
  std::string data(4096 + 13, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (size_t len : {0, 1, 7, 8, 9, 63, 64, 100, 1000, 4096 + 13}) {
    for (size_t start : {0, 1, 3, 7}) {
      if (start + len > data.size()) continue;
      const char* p = data.data() + start;
      uint32_t portable = crc32c_internal::ExtendPortable(0, p, len);
      EXPECT_EQ(Crc32cExtend(0, p, len), portable) << len << "@" << start;
      if (crc32c_internal::HardwareAvailable()) {
        EXPECT_EQ(crc32c_internal::ExtendHardware(0, p, len), portable) << len << "@" << start;
        EXPECT_EQ(crc32c_internal::ExtendHardware(0x12345678, p, len),
                  crc32c_internal::ExtendPortable(0x12345678, p, len));
      }
    }
  }
}

}  // namespace
}  // namespace sluice
