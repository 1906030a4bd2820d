#pragma once

#include <span>
#include <string_view>

namespace sluice::server {

// One file of the built dashboard, compiled into the binary.
struct EmbeddedAsset {
  std::string_view path;          // URL path: "/index.html", "/assets/index-3f9a1c.js"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view etag;          // strong ETag, quoted: "\"26ff63490df81d7a\"" (SHA-256 prefix)
  std::string_view bytes;
};

// The dashboard's files. Defined in a source generated at build time from web/ by
// cmake/embed_assets.cmake (see cmake/web.cmake); the storage is static.
std::span<const EmbeddedAsset> EmbeddedAssets();

}  // namespace sluice::server
