#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "server/embedded_assets.h"
#include "server/http_errors.h"

namespace sluice::server {

// Serves the dashboard's files from memory with HTTP caching:
//   - "/" is "/index.html", revalidated on every load (Cache-Control: no-cache + ETag), so a new
//     binary's page is picked up at once;
//   - "/assets/..." names carry a content hash (vite), so they are cached for a year, immutable;
//   - If-None-Match matching the ETag (or "*") answers 304 with no body.
// Thread-safe (immutable after construction).
class StaticAssets {
 public:
  // `assets` must outlive this object (EmbeddedAssets() is static storage).
  explicit StaticAssets(std::span<const EmbeddedAsset> assets);

  // The response for GET `path` (percent-decoded, "/"-rooted), or nullopt when no asset has
  // that path. `if_none_match` is the request header's value ("" when absent).
  std::optional<HttpResponse> Serve(std::string_view path, std::string_view if_none_match) const;

  static constexpr std::string_view kImmutable = "public, max-age=31536000, immutable";
  static constexpr std::string_view kRevalidate = "no-cache";

 private:
  const EmbeddedAsset* Find(std::string_view path) const;

  std::span<const EmbeddedAsset> assets_;
};

// Whether an If-None-Match header value ("\"a\", W/\"b\"" or "*") matches `etag` (weak
// comparison, as RFC 9110 asks for If-None-Match).
bool EtagMatches(std::string_view if_none_match, std::string_view etag);

}  // namespace sluice::server
