#include "cli/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <simdjson.h>

namespace sluice::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpClient::Impl {
  std::string host;
  std::string port;
  std::chrono::milliseconds timeout;
  asio::io_context io;
  std::unique_ptr<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  Status Connect() {
    beast::error_code ec;
    tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(host, port, ec);
    if (ec) return Status::Unavailable(fmt::format("resolve {}:{}: {}", host, port, ec.message()));
    stream = std::make_unique<beast::tcp_stream>(io);
    stream->expires_after(timeout);
    stream->connect(endpoints, ec);
    if (ec) {
      stream.reset();
      return Status::Unavailable(fmt::format("connect to {}:{}: {}", host, port, ec.message()));
    }
    stream->socket().set_option(tcp::no_delay(true), ec);
    buffer.clear();
    return Status::Ok();
  }
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

Result<std::unique_ptr<HttpClient>> HttpClient::Create(const std::string& url, int64_t timeout_ms) {
  std::string_view rest = url;
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.find("://") != std::string_view::npos) {
    return Status::InvalidArgument(fmt::format("unsupported URL scheme in '{}' (use http://)", url));
  }
  rest = rest.substr(0, rest.find('/'));
  if (rest.empty()) return Status::InvalidArgument(fmt::format("no host in URL '{}'", url));
  auto impl = std::make_unique<Impl>();
  size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) {
    impl->host = std::string(rest);
    impl->port = "80";
  } else {
    impl->host = std::string(rest.substr(0, colon));
    impl->port = std::string(rest.substr(colon + 1));
  }
  impl->timeout = std::chrono::milliseconds(timeout_ms);
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

Result<HttpResponse> HttpClient::Request(const std::string& method, const std::string& target,
                                         const std::string& body, const std::string& content_type,
                                         const std::vector<std::pair<std::string, std::string>>& headers) {
  Impl& d = *impl_;
  if (!d.stream) SLUICE_RETURN_IF_ERROR(d.Connect());

  http::request<http::string_body> req(http::string_to_verb(method), target, 11);
  req.set(http::field::host, d.host);
  req.set(http::field::user_agent, "sluice-cli");
  if (!content_type.empty()) req.set(http::field::content_type, content_type);
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.prepare_payload();

  beast::error_code ec;
  d.stream->expires_after(d.timeout);
  http::write(*d.stream, req, ec);
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::numeric_limits<uint64_t>::max());
  if (!ec) http::read(*d.stream, d.buffer, parser, ec);
  if (ec) {
    d.stream.reset();
    return Status::Unavailable(fmt::format("{} {}: {}", method, target, ec.message()));
  }
  http::response<http::string_body> res = parser.release();
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  out.body = std::move(res.body());
  if (auto it = res.find(http::field::retry_after); it != res.end()) {
    out.retry_after = std::string(it->value());
  }
  if (!res.keep_alive()) d.stream.reset();
  return out;
}

std::string ServerErrorMessage(const HttpResponse& response) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view message;
  if (!parser.parse(simdjson::padded_string(response.body)).get(doc) && !doc["error"]["message"].get(message)) {
    return std::string(message);
  }
  return fmt::format("HTTP {}: {}", response.status, response.body.substr(0, 500));
}

std::string UrlEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace sluice::cli
