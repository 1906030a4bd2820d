// `sluice bench latency`: end-to-end latency from an event's source time to the delivery of the
// view change it causes to a live subscriber (SPEC §2 subscriptions, issue 6 item 4).
//
// A server process is started; a source, and a view projecting every event, are created; one
// thread posts events at the requested rate (a request per millisecond), each stamped with the
// wall-clock time it is sent (`sent_us`); another thread holds an SSE subscription to the view
// and, for every inserted row, records its arrival time minus `sent_us`. The figure includes
// the HTTP request, the durable append (fsync per --fsync), the view's round and the push.
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include "cli/bench_server.h"
#include "cli/commands.h"
#include "cli/http_client.h"

namespace sluice::cli {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

int64_t WallMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Reads an SSE stream of view changes and records, per inserted row [seq, sent_us], the delay
// from sent_us to the arrival of the bytes that carried it.
class Subscriber {
 public:
  Subscriber(uint16_t port, std::string target) : port_(port), target_(std::move(target)) {}

  // Runs until the stream ends or Close() is called; returns an error description or "".
  std::string Run() {
    try {
      socket_.connect({asio::ip::make_address("127.0.0.1"), port_});
      http::request<http::empty_body> req{http::verb::get, target_, 11};
      req.set(http::field::host, "127.0.0.1");
      req.set(http::field::accept, "text/event-stream");
      http::write(socket_, req);
      beast::flat_buffer buffer;
      http::response_parser<http::buffer_body> parser;
      parser.body_limit(boost::none);
      http::read_header(socket_, buffer, parser);
      if (parser.get().result() != http::status::ok) return fmt::format("subscribe answered {}", parser.get().result_int());
      connected_ = true;
      std::vector<char> chunk(1 << 16);
      while (!parser.is_done()) {
        parser.get().body().data = chunk.data();
        parser.get().body().size = chunk.size();
        beast::error_code ec;
        http::read_some(socket_, buffer, parser, ec);
        if (ec == http::error::need_buffer) ec = {};
        if (ec) break;
        const int64_t now = WallMicros();
        pending_.append(chunk.data(), chunk.size() - parser.get().body().size);
        Parse(now);
      }
    } catch (const std::exception& e) {
      if (!closed_) return e.what();
    }
    return "";
  }
  void Close() {
    closed_ = true;
    beast::error_code ec;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  }
  bool connected() const { return connected_; }
  int64_t rows() const { return rows_.load(); }
  std::vector<int64_t> TakeDelaysNanos() {
    std::lock_guard lock(mu_);
    return std::move(delays_);
  }

 private:
  // Every complete event ("...\n\n") in pending_: its data lines are one JSON change message.
  void Parse(int64_t now_us) {
    size_t start = 0;
    std::vector<int64_t> delays;
    int64_t rows = 0;
    while (true) {
      const size_t end = pending_.find("\n\n", start);
      if (end == std::string::npos) break;
      std::string_view event(pending_.data() + start, end - start);
      start = end + 2;
      std::string data;
      while (!event.empty()) {
        const size_t nl = event.find('\n');
        std::string_view line = event.substr(0, nl);
        event = nl == std::string_view::npos ? std::string_view() : event.substr(nl + 1);
        if (line.starts_with("data:")) data.append(line.substr(line.starts_with("data: ") ? 6 : 5));
      }
      if (data.empty()) continue;
      simdjson::padded_string json(data);
      simdjson::ondemand::document doc;
      if (parser_.iterate(json).get(doc)) continue;
      std::string_view type;
      if (doc["type"].get_string().get(type) || type != "change") continue;
      simdjson::ondemand::array inserts;
      if (doc["inserts"].get_array().get(inserts)) continue;
      for (auto row : inserts) {
        simdjson::ondemand::array values;
        if (row.get_array().get(values)) continue;
        int64_t index = 0, sent = -1;
        for (auto v : values) {
          if (index++ == 1 && v.get_int64().get(sent) != simdjson::SUCCESS) sent = -1;
        }
        if (sent < 0) continue;
        delays.push_back((now_us - sent) * 1000);
        ++rows;
      }
    }
    pending_.erase(0, start);
    if (rows > 0) {
      std::lock_guard lock(mu_);
      delays_.insert(delays_.end(), delays.begin(), delays.end());
      rows_ += rows;
    }
  }

  asio::io_context io_;
  asio::ip::tcp::socket socket_{io_};
  const uint16_t port_;
  const std::string target_;
  std::string pending_;
  simdjson::ondemand::parser parser_;
  std::atomic<bool> connected_{false};
  std::atomic<bool> closed_{false};
  std::atomic<int64_t> rows_{0};
  std::mutex mu_;
  std::vector<int64_t> delays_;
};

}  // namespace

int RunBenchLatency(const BenchLatencyOptions& o) {
  if (o.rate <= 0 || o.seconds <= 0) {
    fmt::print(stderr, "sluice bench latency: --rate and --seconds must be positive\n");
    return kExitUsage;
  }
  BenchServer::Options server_options;
  server_options.self_path = o.self_path;
  server_options.fsync = o.fsync;
  server_options.io_threads = 1;
  Result<std::unique_ptr<BenchServer>> server = BenchServer::Start(server_options, "sluice-bench-latency");
  if (!server.ok()) {
    fmt::print(stderr, "sluice bench latency: {}\n", server.status().message());
    return kExitRuntimeError;
  }
  auto admin = HttpClient::Create((*server)->url());
  const std::string ddl =
      "CREATE SOURCE lat (seq BIGINT, sent_us BIGINT, pad TEXT) WITH (topic = 'lat');"
      "CREATE MATERIALIZED VIEW lat_rows AS SELECT seq, sent_us FROM lat";
  (void)(*admin)->Request("POST", "/v1/topics", R"({"name":"lat","partitions":1})", "application/json");
  Result<HttpResponse> created =
      (*admin)->Request("POST", "/v1/sql", fmt::format(R"({{"sql":"{}"}})", ddl), "application/json");
  if (!created.ok() || created->status != 200) {
    fmt::print(stderr, "sluice bench latency: creating the view failed: {}\n",
               created.ok() ? ServerErrorMessage(*created) : created.status().message());
    return kExitRuntimeError;
  }

  Subscriber subscriber((*server)->port(), "/v1/subscribe?view=lat_rows");
  std::string subscribe_error;
  std::thread reader([&] { subscribe_error = subscriber.Run(); });
  for (int i = 0; i < 200 && !subscriber.connected(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));

  // One request per millisecond (at least one event each), paced against the steady clock.
  const int64_t per_ms = std::max<int64_t>(1, static_cast<int64_t>(o.rate / 1000.0));
  const int64_t period_us = std::max<int64_t>(1000, static_cast<int64_t>(per_ms * 1e6 / o.rate));
  const int64_t requests = o.seconds * 1'000'000 / period_us;
  const std::string pad(static_cast<size_t>(std::max(0, o.event_bytes - 40)), 'x');
  auto client = HttpClient::Create((*server)->url());
  int64_t sent = 0, failed = 0;
  std::string body;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t r = 0; r < requests; ++r) {
    std::this_thread::sleep_until(t0 + std::chrono::microseconds(r * period_us));
    body.clear();
    const int64_t stamp = WallMicros();
    for (int64_t i = 0; i < per_ms; ++i) {
      fmt::format_to(std::back_inserter(body), R"({{"seq":{},"sent_us":{},"pad":"{}"}})", sent + i, stamp, pad);
      body += '\n';
    }
    Result<HttpResponse> res = (*client)->Request("POST", "/v1/topics/lat/events", body, "application/x-ndjson");
    if (!res.ok() || res->status != 200) {
      ++failed;
      continue;
    }
    sent += per_ms;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (int i = 0; i < 1000 && subscriber.rows() < sent; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  subscriber.Close();
  reader.join();
  const double server_cpu = (*server)->CpuSeconds();
  (*server)->Stop();

  std::vector<int64_t> delays = subscriber.TakeDelaysNanos();
  fmt::print("bench latency: {} events at {:.0f} events/s offered ({:.0f} achieved) for {:.1f} s, {} per request, "
             "fsync={}\n",
             sent, o.rate, static_cast<double>(sent) / secs, secs, per_ms, o.fsync);
  fmt::print("  source time -> SSE delivery of the view change: p50 {:.2f} ms, p99 {:.2f} ms, p99.9 {:.2f} ms, "
             "max {:.2f} ms ({} rows received)\n",
             PercentileMs(delays, 0.5), PercentileMs(delays, 0.99), PercentileMs(delays, 0.999),
             PercentileMs(delays, 1.0), delays.size());
  fmt::print("  server CPU: {:.2f} s\n", server_cpu);
  if (!subscribe_error.empty()) fmt::print(stderr, "  subscription: {}\n", subscribe_error);
  if (failed > 0) fmt::print(stderr, "  failed requests: {}\n", failed);
  const bool lost = static_cast<int64_t>(delays.size()) < sent;
  if (lost) fmt::print(stderr, "  {} events sent but not delivered\n", sent - static_cast<int64_t>(delays.size()));
  return failed > 0 || lost ? kExitRuntimeError : kExitOk;
}

}  // namespace sluice::cli
