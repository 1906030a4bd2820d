#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace sluice::cli {

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string retry_after;  // the Retry-After header, if any
};

// A blocking HTTP/1.1 client with one keep-alive connection, for the CLI's commands (topics,
// gen, bench). Reconnects on the next request after a connection error. Not thread-safe: one
// per thread.
class HttpClient {
 public:
  // `url` is "http://host:port" (a trailing path is ignored).
  static Result<std::unique_ptr<HttpClient>> Create(const std::string& url, int64_t timeout_ms = 30'000);
  ~HttpClient();

  // Sends one request and reads the whole response. Connection-level failures (refused,
  // reset, timeout) are kUnavailable; the caller decides whether to retry.
  Result<HttpResponse> Request(const std::string& method, const std::string& target,
                               const std::string& body = {}, const std::string& content_type = {},
                               const std::vector<std::pair<std::string, std::string>>& headers = {});

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The message of a sluice error body ({"error": {"code", "message"}}), or "HTTP <status>: <body>"
// when the body is not one.
std::string ServerErrorMessage(const HttpResponse& response);

// Percent-encodes a string for use in a URL path segment or query value.
std::string UrlEncode(std::string_view s);

}  // namespace sluice::cli
