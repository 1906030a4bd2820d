#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace sluice::server {

// A request target ("/v1/topics/a%20b/events?partition=0&offset=5") split into its
// percent-decoded path segments and query parameters.
struct RequestTarget {
  std::vector<std::string> segments;  // "/v1/topics/x" -> {"v1", "topics", "x"}; "/" -> {}
  std::vector<std::pair<std::string, std::string>> params;

  // The first value of parameter `name`, if present.
  std::optional<std::string_view> Param(std::string_view name) const;
};

// kInvalidArgument on a malformed percent-escape.
Result<RequestTarget> ParseRequestTarget(std::string_view target);

// Parses a decimal integer parameter in [min, max]; kInvalidArgument naming `name` otherwise.
Result<int64_t> ParseIntParam(std::string_view name, std::string_view value, int64_t min,
                              int64_t max);

}  // namespace sluice::server
