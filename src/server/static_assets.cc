#include "server/static_assets.h"

#include <string>

namespace sluice::server {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view WithoutWeakPrefix(std::string_view tag) {
  if (tag.size() >= 2 && tag[0] == 'W' && tag[1] == '/') tag.remove_prefix(2);
  return tag;
}

}  // namespace

bool EtagMatches(std::string_view if_none_match, std::string_view etag) {
  if (Trim(if_none_match) == "*") return true;
  const std::string_view want = WithoutWeakPrefix(etag);
  while (!if_none_match.empty()) {
    const size_t comma = if_none_match.find(',');
    const std::string_view item = Trim(if_none_match.substr(0, comma));
    if (!item.empty() && WithoutWeakPrefix(item) == want) return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

StaticAssets::StaticAssets(std::span<const EmbeddedAsset> assets) : assets_(assets) {}

const EmbeddedAsset* StaticAssets::Find(std::string_view path) const {
  if (path == "/") path = "/index.html";
  for (const EmbeddedAsset& asset : assets_) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

std::optional<HttpResponse> StaticAssets::Serve(std::string_view path,
                                                std::string_view if_none_match) const {
  const EmbeddedAsset* asset = Find(path);
  if (asset == nullptr) return std::nullopt;
  HttpResponse response;
  response.content_type = std::string(asset->content_type);
  const bool hashed = asset->path.starts_with("/assets/");
  response.headers.emplace_back("ETag", std::string(asset->etag));
  response.headers.emplace_back("Cache-Control", std::string(hashed ? kImmutable : kRevalidate));
  if (!if_none_match.empty() && EtagMatches(if_none_match, asset->etag)) {
    response.status = 304;
    return response;
  }
  response.status = 200;
  response.body = std::string(asset->bytes);
  return response;
}

}  // namespace sluice::server
