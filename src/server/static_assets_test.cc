#include "server/static_assets.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::server {
namespace {

std::string Header(const HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

constexpr EmbeddedAsset kAssets[] = {
    {"/index.html", "text/html; charset=utf-8", "\"aaaa\"", "<!doctype html><p>hi</p>"},
    {"/assets/app-1234.js", "text/javascript; charset=utf-8", "\"bbbb\"", "console.log(1)"},
};

TEST(EtagMatchesTest, ListsWeakTagsAndStar) {
  EXPECT_TRUE(EtagMatches("\"aaaa\"", "\"aaaa\""));
  EXPECT_TRUE(EtagMatches("\"x\", W/\"aaaa\"", "\"aaaa\""));
  EXPECT_TRUE(EtagMatches(" * ", "\"aaaa\""));
  EXPECT_FALSE(EtagMatches("\"aaab\"", "\"aaaa\""));
  EXPECT_FALSE(EtagMatches("aaaa", "\"aaaa\""));
  EXPECT_FALSE(EtagMatches(",,", "\"aaaa\""));
}

TEST(StaticAssetsTest, IndexIsRevalidatedAndHashedAssetsAreImmutable) {
  StaticAssets assets(kAssets);
  auto index = assets.Serve("/", "");
  ASSERT_TRUE(index.has_value());
  EXPECT_EQ(index->status, 200u);
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(index->body, "<!doctype html><p>hi</p>");
  EXPECT_EQ(Header(*index, "Cache-Control"), "no-cache");
  EXPECT_EQ(Header(*index, "ETag"), "\"aaaa\"");

  auto js = assets.Serve("/assets/app-1234.js", "");
  ASSERT_TRUE(js.has_value());
  EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(Header(*js, "Cache-Control"), "public, max-age=31536000, immutable");
}

TEST(StaticAssetsTest, MatchingIfNoneMatchIs304WithoutBody) {
  StaticAssets assets(kAssets);
  auto r = assets.Serve("/assets/app-1234.js", "\"bbbb\"");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 304u);
  EXPECT_TRUE(r->body.empty());
  EXPECT_EQ(Header(*r, "ETag"), "\"bbbb\"");
  auto stale = assets.Serve("/assets/app-1234.js", "\"old\"");
  EXPECT_EQ(stale->status, 200u);
}

TEST(StaticAssetsTest, UnknownPathIsNotAnAsset) {
  StaticAssets assets(kAssets);
  EXPECT_FALSE(assets.Serve("/assets/nope.js", "").has_value());
  EXPECT_FALSE(assets.Serve("/index.htm", "").has_value());
}

TEST(StaticAssetsTest, TheEmbeddedDashboardHasAnIndexAndItsScripts) {
  StaticAssets assets(EmbeddedAssets());
  auto index = assets.Serve("/", "");
  ASSERT_TRUE(index.has_value());
  EXPECT_NE(index->body.find("<html"), std::string::npos);
  // Every script or stylesheet the page references is embedded too.
  size_t at = 0;
  int referenced = 0;
  while ((at = index->body.find("/assets/", at)) != std::string::npos) {
    const size_t end = index->body.find('"', at);
    ASSERT_NE(end, std::string::npos);
    const std::string path = index->body.substr(at, end - at);
    EXPECT_TRUE(assets.Serve(path, "").has_value()) << path;
    ++referenced;
    at = end;
  }
  (void)referenced;  // 0 with the SLUICE_BUILD_WEB=OFF placeholder page
}

}  // namespace
}  // namespace sluice::server
