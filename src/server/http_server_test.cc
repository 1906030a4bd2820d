#include "server/http_server.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <thread>

#include "server/embedded_assets.h"

namespace sluice::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct Reply {
  unsigned status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
  bool closed = false;  // the server closed the connection without a (complete) response
};

// A blocking HTTP/1.1 client for the tests, over one connection (keep-alive).
class Client {
 public:
  explicit Client(uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    timeval timeout{10, 0};  // a broken server fails the test instead of hanging it
    setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }

  Reply Send(http::verb method, std::string target, std::string body = {},
             std::map<std::string, std::string> headers = {}) {
    http::request<http::string_body> request(method, target, 11);
    request.set(http::field::host, "localhost");
    for (const auto& [name, value] : headers) request.set(name, value);
    request.body() = std::move(body);
    request.prepare_payload();
    beast::error_code ec;
    http::write(socket_, request, ec);
    return ReadReply();
  }

  // Writes raw bytes (for malformed, partial and chunked requests).
  void Write(std::string_view bytes) {
    beast::error_code ec;
    asio::write(socket_, asio::buffer(bytes.data(), bytes.size()), ec);
  }

  Reply ReadReply() {
    Reply reply;
    http::response<http::string_body> response;
    beast::error_code ec;
    http::read(socket_, buffer_, response, ec);
    if (ec) {
      reply.closed = true;
      return reply;
    }
    reply.status = response.result_int();
    reply.body = response.body();
    for (const auto& field : response) {
      reply.headers[std::string(field.name_string())] = std::string(field.value());
    }
    return reply;
  }

  // True if the server has closed the connection (a read sees EOF or a reset).
  bool IsClosedByServer() {
    char byte;
    beast::error_code ec;
    socket_.read_some(asio::buffer(&byte, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

  void Close() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

// Parses a JSON response body; fails the test if it is not valid JSON.
class Json {
 public:
  explicit Json(const std::string& text) : padded_(text) {
    const auto error = parser_.parse(padded_).get(root_);
    EXPECT_EQ(error, simdjson::SUCCESS) << "not JSON: " << text;
  }
  simdjson::dom::element operator[](std::string_view key) const {
    return root_[key].value_unsafe();
  }
  simdjson::dom::element root() const { return root_; }

 private:
  simdjson::padded_string padded_;
  simdjson::dom::parser parser_;
  simdjson::dom::element root_;
};

int64_t Int(simdjson::dom::element e) { return e.get_int64().value(); }
std::string Str(simdjson::dom::element e) { return std::string(e.get_string().value()); }

void ExpectError(const Reply& reply, unsigned status, std::string_view code) {
  EXPECT_EQ(reply.status, status) << reply.body;
  Json json(reply.body);
  simdjson::dom::element error;
  ASSERT_EQ(json.root()["error"].get(error), simdjson::SUCCESS) << reply.body;
  EXPECT_EQ(Str(error["code"]), code) << reply.body;
  EXPECT_FALSE(Str(error["message"]).empty());
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "sluice-http-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    engine_options_.data_dir = dir_;
    engine_options_.log.fsync = log::FsyncPolicy::kNever;
    engine_options_.default_partitions = 1;
    http_options_.port = 0;
    http_options_.io_threads = 2;
    http_options_.max_body_bytes = 1 << 20;
    http_options_.read_timeout_ms = 500;
    http_options_.idle_timeout_ms = 5000;
  }

  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
    if (engine_) {
      EXPECT_TRUE(engine_->Close().ok());
    }
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Start() {
    auto engine = engine::Engine::Open(engine_options_, &metrics_);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(engine).value();
    server_ = HttpServer::Create(http_options_, engine_.get(), &metrics_);
    ASSERT_TRUE(server_->Start().ok());
  }

  Reply Post(std::string target, std::string body,
             std::map<std::string, std::string> headers = {}) {
    Client client(server_->port());
    return client.Send(http::verb::post, std::move(target), std::move(body), std::move(headers));
  }
  Reply Get(std::string target) {
    Client client(server_->port());
    return client.Send(http::verb::get, std::move(target));
  }

  int64_t EndOffset(std::string_view topic) {
    auto t = engine_->log().GetTopic(topic);
    if (!t.ok()) return -1;
    return (*t)->partition(PartitionId(0)).Info().end_offset.value();
  }

  std::string dir_;
  engine::EngineOptions engine_options_;
  HttpOptions http_options_;
  MetricsRegistry metrics_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, HealthReadyMetricsAndIndex) {
  Start();
  Reply health = Get("/health");
  EXPECT_EQ(health.status, 200u);
  EXPECT_EQ(Str(Json(health.body)["status"]), "ok");
  EXPECT_EQ(Get("/ready").status, 200u);
  Reply index = Get("/");
  EXPECT_EQ(index.status, 200u);
  EXPECT_NE(index.body.find("<html"), std::string::npos);
  EXPECT_NE(index.headers["Content-Type"].find("text/html"), std::string::npos);

  Reply metrics = Get("/metrics");
  EXPECT_EQ(metrics.status, 200u);
  EXPECT_EQ(metrics.headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics.body.find(
                "sluice_http_requests_total{route=\"/health\",method=\"GET\",status=\"200\"} 1"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("sluice_http_open_connections"), std::string::npos);
}

TEST_F(HttpServerTest, DashboardFilesWithCachingAnd404) {
  Start();
  Reply index = Get("/");
  ASSERT_EQ(index.status, 200u);
  EXPECT_EQ(index.headers["Cache-Control"], "no-cache");
  const std::string etag = index.headers["ETag"];
  ASSERT_FALSE(etag.empty());
  Client client(server_->port());
  Reply again = client.Send(http::verb::get, "/", "", {{"If-None-Match", etag}});
  EXPECT_EQ(again.status, 304u);
  EXPECT_TRUE(again.body.empty());

  for (const EmbeddedAsset& asset : EmbeddedAssets()) {
    if (!asset.path.starts_with("/assets/")) continue;
    Reply file = Get(std::string(asset.path));
    EXPECT_EQ(file.status, 200u) << asset.path;
    EXPECT_EQ(file.headers["Content-Type"], asset.content_type);
    EXPECT_EQ(file.headers["Cache-Control"], "public, max-age=31536000, immutable");
    EXPECT_EQ(file.body.size(), asset.bytes.size());
  }
  Reply missing = Get("/assets/no-such-file.js");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(Str(Json(missing.body)["error"]["code"]), "not_found");
  EXPECT_EQ(Get("/health").status, 200u);
}

TEST_F(HttpServerTest, IngestThenReadBack) {
  Start();
  Reply r = Post("/v1/topics/clicks/events", "{\"user\":\"a\",\"n\":1}\n{\"user\":\"b\",\"n\":2}\n",
                 {{"Content-Type", "application/x-ndjson"}});
  ASSERT_EQ(r.status, 200u) << r.body;
  Json json(r.body);
  EXPECT_EQ(Int(json["accepted"]), 2);
  EXPECT_EQ(Int(json["rejected"]), 0);
  EXPECT_EQ(Int(json["first_offset"]), 0);
  EXPECT_EQ(json["appends"].get_array().size(), 1u);
  EXPECT_EQ(json["errors"].get_array().size(), 0u);

  Reply read = Get("/v1/topics/clicks/events?partition=0&offset=0&limit=10");
  ASSERT_EQ(read.status, 200u) << read.body;
  Json events(read.body);
  auto list = events["events"].get_array().value();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(Str(list.at(1)["value"]["user"]), "b");
  EXPECT_EQ(Int(list.at(1)["offset"]), 1);
  EXPECT_TRUE(list.at(0)["key"].is_null());
  EXPECT_EQ(Int(events["next_offset"]), 2);

  // offset == end: an empty page.
  Json empty(Get("/v1/topics/clicks/events?partition=0&offset=2").body);
  EXPECT_EQ(empty["events"].get_array().size(), 0u);
  EXPECT_EQ(Int(empty["next_offset"]), 2);

  // limit and from_time.
  Json one(Get("/v1/topics/clicks/events?offset=0&limit=1").body);
  EXPECT_EQ(one["events"].get_array().size(), 1u);
  EXPECT_EQ(Int(one["next_offset"]), 1);
  Json from_time(Get("/v1/topics/clicks/events?from_time=1970-01-01T00:00:00Z").body);
  EXPECT_EQ(from_time["events"].get_array().size(), 2u);
}

TEST_F(HttpServerTest, JsonArrayAndSingleObjectBodies) {
  Start();
  Reply array = Post("/v1/topics/t/events", "[{\"a\": 1}, {\"b\": 2}]",
                     {{"Content-Type", "application/json"}});
  ASSERT_EQ(array.status, 200u);
  EXPECT_EQ(Int(Json(array.body)["accepted"]), 2);
  Reply single =
      Post("/v1/topics/t/events", "{\n  \"c\": 3\n}\n", {{"Content-Type", "application/json"}});
  ASSERT_EQ(single.status, 200u);
  EXPECT_EQ(Int(Json(single.body)["accepted"]), 1);
  EXPECT_EQ(Int(Json(single.body)["first_offset"]), 2);
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  Start();
  Client client(server_->port());
  for (int i = 0; i < 5; ++i) {
    Reply r =
        client.Send(http::verb::post, "/v1/topics/ka/events", "{\"i\":" + std::to_string(i) + "}");
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(Int(Json(r.body)["first_offset"]), i);
    EXPECT_EQ(client.Send(http::verb::get, "/health").status, 200u);
  }
}

TEST_F(HttpServerTest, InvalidEventsAreRejectedIndividuallyIntoTheDlq) {
  Start();
  const std::string deep = std::string(10000, '[') + std::string(10000, ']');
  const std::string body =
      "{\"ok\":1}\n{\"bad\":\n42\n{\"s\":\"\xff\"}\n{\"d\":" + deep + "}\n{\"ok\":2}\n";
  Reply r = Post("/v1/topics/orders/events", body, {{"Content-Type", "application/x-ndjson"}});
  ASSERT_EQ(r.status, 200u) << r.body;
  Json json(r.body);
  EXPECT_EQ(Int(json["accepted"]), 2);
  EXPECT_EQ(Int(json["rejected"]), 4);
  auto errors = json["errors"].get_array().value();
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_EQ(Int(errors.at(0)["index"]), 1);
  EXPECT_EQ(Str(errors.at(1)["error"]), "not a JSON object (got a number)");
  EXPECT_EQ(Str(errors.at(2)["error"]), "invalid UTF-8");
  EXPECT_EQ(Str(errors.at(3)["error"]), "nesting deeper than 1024 levels");

  Reply dlq = Get("/v1/topics/orders.dlq/events?partition=0&offset=0");
  ASSERT_EQ(dlq.status, 200u) << dlq.body;
  Json dlq_json(dlq.body);  // valid JSON even though one value holds invalid UTF-8
  auto events = dlq_json["events"].get_array().value();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(Str(events.at(0)["value"]), "{\"bad\":");
  EXPECT_EQ(Str(events.at(1)["value"]), "42");
  EXPECT_EQ(Str(events.at(2)["value"]), "{\"s\":\"\xef\xbf\xbd\"}");
  EXPECT_EQ(Str(events.at(0)["headers"]["sluice.source-topic"]), "orders");
  EXPECT_FALSE(Str(events.at(0)["headers"]["sluice.error"]).empty());
}

TEST_F(HttpServerTest, BodiesThatCannotBeSplitAre400) {
  Start();
  ExpectError(Post("/v1/topics/t/events", ""), 400, "invalid_argument");
  ExpectError(Post("/v1/topics/t/events", "  \n"), 400, "invalid_argument");
  ExpectError(Post("/v1/topics/t/events", "[{\"a\":1},"), 400, "invalid_argument");
  Reply deep = Post("/v1/topics/t/events", "[" + std::string(10000, '[') + std::string(10001, ']'));
  ExpectError(deep, 400, "invalid_argument");
  EXPECT_NE(deep.body.find("nesting deeper than 1024 levels"), std::string::npos);
  EXPECT_LE(EndOffset("t"), 0);
}

TEST_F(HttpServerTest, BodyOverTheLimitIs413) {
  Start();
  std::string big = "{\"x\":\"" + std::string(2 << 20, 'a') + "\"}";
  Reply r = Post("/v1/topics/t/events", big);
  ExpectError(r, 413, "payload_too_large");
  EXPECT_LE(EndOffset("t"), 0);
  EXPECT_EQ(Get("/health").status, 200u);
}

TEST_F(HttpServerTest, ChunkedBodies) {
  Start();
  {
    Client client(server_->port());
    client.Write(
        "POST /v1/topics/chunky/events HTTP/1.1\r\nHost: x\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
        "8\r\n{\"a\":1}\n\r\n8\r\n{\"a\":2}\n\r\n0\r\n\r\n");
    Reply r = client.ReadReply();
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(Int(Json(r.body)["accepted"]), 2);
  }
  {
    // Truncated: the client closes before the last chunk. Nothing is ingested.
    Client client(server_->port());
    client.Write(
        "POST /v1/topics/chunky/events HTTP/1.1\r\nHost: x\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
        "8\r\n{\"a\":3}\n\r\n20\r\n{\"a\":4");
    client.Close();
  }
  {
    // Malformed chunk size: 400 and close.
    Client client(server_->port());
    client.Write(
        "POST /v1/topics/chunky/events HTTP/1.1\r\nHost: x\r\n"
        "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n");
    Reply r = client.ReadReply();
    ExpectError(r, 400, "bad_request");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(EndOffset("chunky"), 2);
}

TEST_F(HttpServerTest, ExpectContinueIsAnswered) {
  Start();
  Client client(server_->port());
  client.Write(
      "POST /v1/topics/cont/events HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n"
      "Expect: 100-continue\r\n\r\n");
  Reply interim = client.ReadReply();
  EXPECT_EQ(interim.status, 100u);
  client.Write("{\"a\":1}\n");
  Reply r = client.ReadReply();
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(Int(Json(r.body)["accepted"]), 1);
}

TEST_F(HttpServerTest, UnknownTopicIs404WhenAutoCreateIsOff) {
  engine_options_.auto_create_topics = false;
  Start();
  ExpectError(Post("/v1/topics/nope/events", "{\"a\":1}"), 404, "not_found");
  ExpectError(Get("/v1/topics/nope/events?offset=0"), 404, "not_found");
  ExpectError(Get("/v1/topics/nope"), 404, "not_found");
  EXPECT_FALSE(engine_->log().GetTopic("nope").ok());
}

TEST_F(HttpServerTest, BadReadParametersAre400) {
  engine_options_.default_partitions = 2;
  Start();
  ASSERT_EQ(Post("/v1/topics/r/events", "{\"a\":1}\n{\"a\":2}\n").status, 200u);
  ExpectError(Get("/v1/topics/r/events?partition=abc"), 400, "invalid_argument");
  ExpectError(Get("/v1/topics/r/events?partition=-1"), 400, "invalid_argument");
  ExpectError(Get("/v1/topics/r/events?partition=2"), 400, "invalid_argument");
  ExpectError(Get("/v1/topics/r/events?offset=x"), 400, "invalid_argument");
  ExpectError(Get("/v1/topics/r/events?offset=-3"), 400, "invalid_argument");
  ExpectError(Get("/v1/topics/r/events?limit=0"), 400, "invalid_argument");
  ExpectError(Get("/v1/topics/r/events?limit=10001"), 400, "invalid_argument");
  ExpectError(Get("/v1/topics/r/events?offset=2"), 400, "offset_out_of_range");
  ExpectError(Get("/v1/topics/r/events?from_time=yesterday"), 400, "invalid_argument");
  ExpectError(Get("/v1/topics/r/events?offset=0&from_time=0"), 400, "invalid_argument");
}

TEST_F(HttpServerTest, UnknownRouteAndWrongMethod) {
  Start();
  ExpectError(Get("/nope"), 404, "not_found");
  ExpectError(Get("/v1/topics/a/b/c"), 404, "not_found");
  Client client(server_->port());
  Reply r = client.Send(http::verb::put, "/v1/topics/a/events", "{}");
  ExpectError(r, 405, "method_not_allowed");
  EXPECT_EQ(r.headers["Allow"], "GET, POST");
  Reply health = client.Send(http::verb::delete_, "/health");
  ExpectError(health, 405, "method_not_allowed");
  EXPECT_EQ(health.headers["Allow"], "GET");
  EXPECT_NE(Get("/metrics").body.find("route=\"unmatched\""), std::string::npos);
}

TEST_F(HttpServerTest, TopicAdministration) {
  Start();
  Reply created = Post(
      "/v1/topics", "{\"name\":\"admin\",\"partitions\":3,\"retention_ms\":60000,\"key\":\"id\"}");
  ASSERT_EQ(created.status, 201u) << created.body;
  Json topic(created.body);
  EXPECT_EQ(Str(topic["name"]), "admin");
  EXPECT_EQ(topic["partitions"].get_array().size(), 3u);
  EXPECT_EQ(Int(topic["retention_ms"]), 60000);
  EXPECT_EQ(Str(topic["key"]), "id");

  ExpectError(Post("/v1/topics", "{\"name\":\"admin\"}"), 409, "already_exists");
  ExpectError(Post("/v1/topics", "{\"name\":\"bad/name\"}"), 400, "invalid_argument");
  ExpectError(Post("/v1/topics", "{\"partitions\":2}"), 400, "invalid_argument");
  ExpectError(Post("/v1/topics", "{\"name\":\"x\",\"partitions\":0}"), 400, "invalid_argument");
  ExpectError(Post("/v1/topics", "{\"name\":\"x\",\"bogus\":1}"), 400, "invalid_argument");
  ExpectError(Post("/v1/topics", "not json"), 400, "invalid_argument");

  Reply list = Get("/v1/topics");
  ASSERT_EQ(list.status, 200u);
  EXPECT_EQ(Json(list.body)["topics"].get_array().size(), 1u);

  Reply described = Get("/v1/topics/admin");
  ASSERT_EQ(described.status, 200u);
  Json d(described.body);
  EXPECT_EQ(Int(d["partitions"].get_array().at(2)["end_offset"]), 0);

  Client client(server_->port());
  EXPECT_EQ(client.Send(http::verb::delete_, "/v1/topics/admin").status, 200u);
  ExpectError(client.Send(http::verb::delete_, "/v1/topics/admin"), 404, "not_found");
}

TEST_F(HttpServerTest, IdempotencyKeyReplaysTheAnswer) {
  Start();
  const std::string body = "{\"a\":1}\n{\"a\":2}\n";
  Reply first = Post("/v1/topics/idem/events", body, {{"Idempotency-Key", "k-1"}});
  ASSERT_EQ(first.status, 200u);
  EXPECT_FALSE(Json(first.body).root()["duplicate"].error() == simdjson::SUCCESS);
  Reply again = Post("/v1/topics/idem/events", body, {{"Idempotency-Key", "k-1"}});
  ASSERT_EQ(again.status, 200u);
  Json json(again.body);
  EXPECT_TRUE(json["duplicate"].get_bool().value());
  EXPECT_EQ(Int(json["accepted"]), 2);
  EXPECT_EQ(Int(json["first_offset"]), 0);
  EXPECT_EQ(EndOffset("idem"), 2);
  ExpectError(Post("/v1/topics/idem/events", "{}", {{"Idempotency-Key", "k-1"}}), 409,
              "failed_precondition");
}

TEST_F(HttpServerTest, ClientThatDisconnectsMidRequestDoesNotIngest) {
  Start();
  {
    Client client(server_->port());
    client.Write(
        "POST /v1/topics/half/events HTTP/1.1\r\nHost: x\r\nContent-Length: "
        "1000\r\n\r\n{\"a\":1}\n");
    client.Close();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(Get("/health").status, 200u);
  EXPECT_LE(EndOffset("half"), 0);
}

TEST_F(HttpServerTest, SlowClientIsClosedWhileOthersAreServed) {
  Start();
  Client slow(server_->port());
  slow.Write("POST /v1/topics/slow/events HTTP/1.1\r\nHost: x\r\nContent-Le");
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Get("/health").status, 200u);
  EXPECT_TRUE(slow.IsClosedByServer());
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, std::chrono::milliseconds(300));
  EXPECT_LT(waited, std::chrono::seconds(5));
  EXPECT_LE(EndOffset("slow"), 0);
}

TEST_F(HttpServerTest, StopIsGracefulAndIdempotent) {
  Start();
  Client idle(server_->port());
  EXPECT_EQ(idle.Send(http::verb::get, "/health").status, 200u);
  server_->Stop();
  EXPECT_TRUE(idle.IsClosedByServer());
  server_->Stop();
}

}  // namespace
}  // namespace sluice::server
