#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sluice::server {

// A response as the HTTP layer sends it; produced by the router, written by the connection.
struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (Allow, Retry-After)
};

// How a Status is reported over HTTP. The one place that maps engine error codes to HTTP:
//   kInvalidArgument 400, kOutOfRange 400, kNotFound 404, kAlreadyExists 409,
//   kFailedPrecondition 409, kTooLarge 413, kResourceExhausted 429 (Retry-After: 1),
//   kNoSpace 503 (Retry-After: 5), kUnavailable 503 (Retry-After: 1), anything else 500.
struct HttpErrorMapping {
  unsigned status = 500;
  int retry_after_seconds = 0;  // 0 = no Retry-After header
};
HttpErrorMapping MapStatus(StatusCode code);

// {"error": {"code": code, "message": message}} with the given HTTP status.
HttpResponse ErrorResponse(unsigned status, std::string_view code, std::string_view message);
// The same for a non-ok Status: status and Retry-After from MapStatus, code from the Status's
// code name (snake_case: "invalid_argument", "not_found", ...).
HttpResponse ErrorResponse(const Status& status);

}  // namespace sluice::server
