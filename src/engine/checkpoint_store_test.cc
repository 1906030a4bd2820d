#include "engine/checkpoint_store.h"

#include <random>

#include <gtest/gtest.h>

#include "log/testing/fault_injection_file_system.h"
#include "log/testing/temp_dir.h"

namespace sluice::engine {
namespace {

std::string Payload(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>('a' + rng() % 4);  // compressible, not constant
  return s;
}

TEST(CheckpointStoreTest, EncodeDecodeRoundTrip) {
  const std::string payload = Payload(100000, 1);
  std::string file = CheckpointStore::Encode(7, 42, payload);
  EXPECT_LT(file.size(), payload.size());  // compressed
  auto c = CheckpointStore::Decode(file);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->seq, 7u);
  EXPECT_EQ(c->fingerprint, 42u);
  EXPECT_EQ(c->payload, payload);
  auto empty = CheckpointStore::Decode(CheckpointStore::Encode(1, 0, ""));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->payload, "");
}

TEST(CheckpointStoreTest, EveryTruncationAndBitFlipIsDetected) {
  const std::string file = CheckpointStore::Encode(3, 9, Payload(500, 2));
  for (size_t n = 0; n < file.size(); ++n) {
    EXPECT_FALSE(CheckpointStore::Decode(file.substr(0, n)).ok()) << "truncated to " << n;
  }
  for (size_t i = 0; i < file.size(); ++i) {
    std::string bad = file;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    auto c = CheckpointStore::Decode(bad);
    EXPECT_FALSE(c.ok()) << "flip at " << i;
    if (!c.ok()) EXPECT_EQ(c.status().code(), StatusCode::kCorruption);
  }
  EXPECT_FALSE(CheckpointStore::Decode(std::string(64, '\0')).ok());
}

TEST(CheckpointStoreTest, NewestWinsAndOnlyKeepAreKept) {
  log::testing::TempDir dir;
  CheckpointStore store(FileSystem::Default(), dir.path() + "/v1", 3);
  auto none = store.LoadNewest();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  for (uint64_t seq = 1; seq <= 5; ++seq) ASSERT_TRUE(store.Write(seq, 1, "state " + std::to_string(seq)).ok());
  auto names = FileSystem::Default()->ListDir(dir.path() + "/v1");
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), 3u);
  auto newest = store.LoadNewest();
  ASSERT_TRUE(newest.ok() && newest->has_value());
  EXPECT_EQ((*newest)->seq, 5u);
  EXPECT_EQ((*newest)->payload, "state 5");
}

TEST(CheckpointStoreTest, ACorruptNewestFallsBackToThePrevious) {
  log::testing::TempDir dir;
  const std::string path = dir.path() + "/v1";
  CheckpointStore store(FileSystem::Default(), path, 3);
  ASSERT_TRUE(store.Write(1, 1, "one").ok());
  ASSERT_TRUE(store.Write(2, 1, "two").ok());
  // Tear the newest file in half, as a crash of a file system without atomic rename could.
  const std::string newest = path + "/00000000000000000002.ckpt";
  auto bytes = FileSystem::Default()->ReadFile(newest);
  ASSERT_TRUE(bytes.ok());
  ASSERT_TRUE(FileSystem::Default()->WriteFileAtomic(newest, bytes->substr(0, bytes->size() / 2)).ok());
  // A stray temp file and an unrelated name are ignored.
  ASSERT_TRUE(FileSystem::Default()->WriteFileAtomic(path + "/00000000000000000003.ckpt.tmp", "junk").ok());
  ASSERT_TRUE(FileSystem::Default()->WriteFileAtomic(path + "/README", "hello").ok());
  std::vector<std::string> skipped;
  auto c = store.LoadNewest(&skipped);
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->seq, 1u);
  EXPECT_EQ((*c)->payload, "one");
  EXPECT_EQ(skipped, std::vector<std::string>{"00000000000000000002.ckpt"});
}

TEST(CheckpointStoreTest, DiskFullLeavesThePreviousCheckpointIntact) {
  log::testing::TempDir dir;
  log::testing::FaultInjectionFileSystem fs;
  CheckpointStore store(&fs, dir.path() + "/v1", 3);
  ASSERT_TRUE(store.Write(1, 1, Payload(10000, 3)).ok());
  fs.SetWriteBudget(100);
  Status s = store.Write(2, 1, Payload(10000, 4));
  EXPECT_FALSE(s.ok());
  fs.SetWriteBudget(-1);
  auto c = store.LoadNewest();
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->seq, 1u);
  EXPECT_EQ((*c)->payload, Payload(10000, 3));
  ASSERT_TRUE(store.Write(3, 1, "after").ok());  // space is back: writing resumes
  c = store.LoadNewest();
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->payload, "after");
}

}  // namespace
}  // namespace sluice::engine
