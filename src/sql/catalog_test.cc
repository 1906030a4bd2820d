#include "sql/catalog.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace sluice::sql {
namespace {

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice-catalog-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "catalog.log").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Catalog> OpenCatalog(std::vector<CatalogRecord>* records) {
    auto log = CatalogLog::Open(FileSystem::Default(), path_, records);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return std::make_unique<Catalog>(std::move(log).value());
  }

  static CatalogEntry Entry(ObjectKind kind, std::string name, std::vector<std::string> deps = {}) {
    CatalogEntry e;
    e.kind = kind;
    e.name = std::move(name);
    e.sql = "CREATE ... " + e.name;
    e.dependencies = std::move(deps);
    return e;
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(CatalogTest, RecordsRoundTrip) {
  CatalogRecord r{CatalogRecord::Op::kCreate, 7, 3, ObjectKind::kView, "v", "CREATE MATERIALIZED VIEW v AS SELECT 1"};
  std::string bytes = EncodeCatalogRecord(r);
  std::string_view in = bytes;
  CatalogRecord back;
  ASSERT_TRUE(DecodeCatalogRecord(&in, &back));
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(back.version, 7u);
  EXPECT_EQ(back.id, 3u);
  EXPECT_EQ(back.kind, ObjectKind::kView);
  EXPECT_EQ(back.sql, r.sql);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    std::string_view torn(bytes.data(), cut);
    EXPECT_FALSE(DecodeCatalogRecord(&torn, &back)) << cut;
  }
  std::string flipped = bytes;
  flipped[bytes.size() - 3] ^= 1;
  std::string_view bad = flipped;
  EXPECT_FALSE(DecodeCatalogRecord(&bad, &back));
}

TEST_F(CatalogTest, CreateDropAndDependencies) {
  std::vector<CatalogRecord> records;
  auto catalog = OpenCatalog(&records);
  ASSERT_TRUE(catalog->Create(Entry(ObjectKind::kSource, "bid")).ok());
  ASSERT_TRUE(catalog->Create(Entry(ObjectKind::kView, "v", {"bid"})).ok());
  auto dup = catalog->Create(Entry(ObjectKind::kTable, "bid"));
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(dup.status().message(), "source \"bid\" already exists");
  EXPECT_EQ(catalog->Create(Entry(ObjectKind::kView, "w", {"missing"})).status().code(), StatusCode::kNotFound);
  Status refused = catalog->Drop("bid", ObjectKind::kSource);
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.message(), "cannot drop source bid because materialized view v depends on it");
  EXPECT_EQ(catalog->Drop("v", ObjectKind::kSource).code(), StatusCode::kNotFound);  // wrong kind
  EXPECT_TRUE(catalog->Drop("v", ObjectKind::kView).ok());
  EXPECT_TRUE(catalog->Drop("bid", ObjectKind::kSource).ok());
  EXPECT_FALSE(catalog->Exists("bid"));
  EXPECT_EQ(catalog->version(), 4u);
}

TEST_F(CatalogTest, HistorySurvivesReopenAndTornTailIsCut) {
  {
    std::vector<CatalogRecord> records;
    auto catalog = OpenCatalog(&records);
    ASSERT_TRUE(catalog->Create(Entry(ObjectKind::kSource, "a")).ok());
    ASSERT_TRUE(catalog->Create(Entry(ObjectKind::kSource, "b")).ok());
    ASSERT_TRUE(catalog->Drop("a", ObjectKind::kSource).ok());
  }
  // A crash in the middle of a fourth record.
  std::string partial = EncodeCatalogRecord({CatalogRecord::Op::kCreate, 4, 3, ObjectKind::kSource, "c", "x"});
  std::ofstream(path_, std::ios::app) << partial.substr(0, partial.size() / 2);
  auto size_before = std::filesystem::file_size(path_);

  std::vector<CatalogRecord> records;
  auto catalog = OpenCatalog(&records);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[2].op, CatalogRecord::Op::kDrop);
  EXPECT_LT(std::filesystem::file_size(path_), size_before);
  // Replaying the history gives the same catalog, and new ids continue after the old ones.
  for (const CatalogRecord& r : records) {
    if (r.op == CatalogRecord::Op::kCreate) {
      CatalogEntry e = Entry(r.kind, r.name);
      e.id = r.id;
      ASSERT_TRUE(catalog->Create(e, /*replay=*/true).ok());
    } else {
      ASSERT_TRUE(catalog->Drop(r.name, r.kind, /*replay=*/true).ok());
    }
  }
  catalog->RestoreCounters(records);
  EXPECT_EQ(catalog->version(), 3u);
  EXPECT_TRUE(catalog->Exists("b"));
  EXPECT_FALSE(catalog->Exists("a"));
  auto id = catalog->Create(Entry(ObjectKind::kSource, "c"));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, 3u);
}

}  // namespace
}  // namespace sluice::sql
