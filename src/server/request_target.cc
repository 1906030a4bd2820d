#include "server/request_target.h"

#include <fmt/format.h>

#include <charconv>

namespace sluice::server {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `in`; in query components '+' also means a space.
Result<std::string> Decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) {
        return Status::InvalidArgument("malformed percent-escape in the request target");
      }
      const int hi = HexValue(in[i + 1]);
      const int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) {
        return Status::InvalidArgument("malformed percent-escape in the request target");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::optional<std::string_view> RequestTarget::Param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

Result<RequestTarget> ParseRequestTarget(std::string_view target) {
  RequestTarget parsed;
  const size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  std::string_view query =
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
  const size_t hash = query.find('#');
  if (hash != std::string_view::npos) query = query.substr(0, hash);

  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const size_t slash = path.find('/');
    SLUICE_ASSIGN_OR_RETURN(std::string segment, Decode(path.substr(0, slash), false));
    parsed.segments.push_back(std::move(segment));
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
  }
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    SLUICE_ASSIGN_OR_RETURN(std::string key, Decode(pair.substr(0, eq), true));
    std::string value;
    if (eq != std::string_view::npos) {
      SLUICE_ASSIGN_OR_RETURN(value, Decode(pair.substr(eq + 1), true));
    }
    parsed.params.emplace_back(std::move(key), std::move(value));
  }
  return parsed;
}

Result<int64_t> ParseIntParam(std::string_view name, std::string_view value, int64_t min,
                              int64_t max) {
  int64_t parsed = 0;
  const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
  if (value.empty() || ec != std::errc() || ptr != value.data() + value.size()) {
    return Status::InvalidArgument(
        fmt::format("parameter '{}' must be an integer, got '{}'", name, value));
  }
  if (parsed < min || parsed > max) {
    return Status::InvalidArgument(
        fmt::format("parameter '{}' must be between {} and {}, got {}", name, min, max, parsed));
  }
  return parsed;
}

}  // namespace sluice::server
