// `sluice bench latency`: end-to-end latency from an event's source time to the delivery of the
// view change it causes to a live subscriber (SPEC §2 subscriptions, issue 6 item 4).
//
// A server process is started; a source, and a view projecting every event, are created; sender
// threads post events on a fixed schedule (a request per millisecond), each stamped with the
// wall-clock time it was scheduled (`sent_us`); another thread holds an SSE subscription to the
// view and, for every inserted row, records its arrival time minus `sent_us`. The figure includes
// the HTTP request, the durable append (fsync per --fsync), the view's round and the push.
// With --subscribers N, N subscriptions (on one client thread) each must receive every row;
// the percentiles are over every row delivered to every subscriber.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
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

// Delays in 10-µs buckets up to 10 s (the last bucket holds everything slower), so that 1 000
// subscribers times 10K rows/s need no per-row memory.
class DelayHistogram {
 public:
  static constexpr int64_t kBucketMicros = 10;
  static constexpr size_t kBuckets = 1'000'000;

  DelayHistogram() : counts_(kBuckets, 0) {}
  void Add(int64_t micros) {
    const int64_t b = std::clamp<int64_t>(micros / kBucketMicros, 0, kBuckets - 1);
    ++counts_[b];
    ++total_;
    max_ = std::max(max_, micros);
  }
  int64_t count() const { return total_; }
  // The q-quantile in milliseconds (the upper edge of its bucket; the exact maximum for q = 1).
  double QuantileMs(double q) const {
    if (total_ == 0) return 0;
    if (q >= 1.0) return max_ / 1000.0;
    const int64_t rank = static_cast<int64_t>(std::ceil(q * static_cast<double>(total_)));
    int64_t seen = 0;
    for (size_t b = 0; b < kBuckets; ++b) {
      seen += counts_[b];
      if (seen >= rank) return std::min<int64_t>((b + 1) * kBucketMicros, max_) / 1000.0;
    }
    return max_ / 1000.0;
  }

 private:
  std::vector<int64_t> counts_;
  int64_t total_ = 0;
  int64_t max_ = 0;
};

// N SSE subscriptions to one view on one thread (async Asio). Each reads its stream of view
// changes, counts the rows it holds (snapshot rows, then inserted rows) and adds, for every
// inserted row [seq, sent_us], the delay from sent_us to the arrival of the bytes that carried
// it to the shared histogram. A resync snapshot replaces what a subscriber held.
class SubscriberSet {
 public:
  SubscriberSet(uint16_t port, std::string target, int count) : port_(port), target_(std::move(target)) {
    for (int i = 0; i < count; ++i) subs_.push_back(std::make_unique<Sub>(this));
  }

  // Connects every subscriber and runs until Close(); returns the first error, or "".
  std::string Run() {
    for (auto& s : subs_) s->Start();
    io_.run();
    return error_;
  }
  void Close() {
    asio::post(io_, [this] {
      closed_ = true;
      for (auto& s : subs_) {
        beast::error_code ec;
        s->socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
        s->socket.close(ec);
      }
    });
  }
  int connected() const { return connected_.load(); }
  // The fewest rows any subscriber holds (every subscriber must end with all of them).
  int64_t min_rows() const {
    int64_t lowest = INT64_MAX;
    for (const auto& s : subs_) lowest = std::min(lowest, s->rows.load(std::memory_order_relaxed));
    return subs_.empty() ? 0 : lowest;
  }
  int64_t resyncs() const { return resyncs_.load(); }
  const DelayHistogram& delays() const { return delays_; }  // after Run returned

 private:
  struct Sub {
    explicit Sub(SubscriberSet* set) : set(set), socket(set->io_) {}
    SubscriberSet* set;
    asio::ip::tcp::socket socket;
    http::request<http::empty_body> req;
    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    std::vector<char> chunk = std::vector<char>(1 << 16);
    std::string pending;
    std::atomic<int64_t> rows{0};  // written on the io thread, read by min_rows()

    void Start() {
      socket.async_connect({asio::ip::make_address("127.0.0.1"), set->port_}, [this](beast::error_code ec) {
        if (ec) return set->Fail("connect: " + ec.message());
        req = {http::verb::get, set->target_, 11};
        req.set(http::field::host, "127.0.0.1");
        req.set(http::field::accept, "text/event-stream");
        http::async_write(socket, req, [this](beast::error_code ec, size_t) {
          if (ec) return set->Fail("subscribe request: " + ec.message());
          parser.body_limit(boost::none);
          buffer.reserve(1 << 16);  // beast reads at most the free capacity (else 512 bytes a call)
          http::async_read_header(socket, buffer, parser, [this](beast::error_code ec, size_t) {
            if (ec) return set->Fail("subscribe response: " + ec.message());
            if (parser.get().result() != http::status::ok)
              return set->Fail(fmt::format("subscribe answered {}", parser.get().result_int()));
            ++set->connected_;
            Read();
          });
        });
      });
    }
    void Read() {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      http::async_read_some(socket, buffer, parser, [this](beast::error_code ec, size_t) {
        if (ec == http::error::need_buffer) ec = {};
        if (ec) {
          if (!set->closed_) set->Fail("stream: " + ec.message());
          return;
        }
        const std::string_view got(chunk.data(), chunk.size() - parser.get().body().size);
        if (pending.empty()) {
          // Usually whole events: parsed where beast put them, only a partial one is kept.
          pending.assign(got.substr(set->Parse(*this, got, WallMicros())));
        } else {
          pending.append(got);
          pending.erase(0, set->Parse(*this, pending, WallMicros()));
        }
        if (!parser.is_done()) Read();
      });
    }
  };

  void Fail(std::string what) {
    if (closed_) return;
    if (error_.empty()) error_ = std::move(what);
  }

  static bool AllDigits(const char* begin, const char* end) {
    for (const char* c = begin; c < end; ++c) {
      if (*c < '0' || *c > '9') return false;
    }
    return true;
  }
  static uint64_t Load8(const char* p) {
    static_assert(std::endian::native == std::endian::little, "Parse8 reads the first digit as the lowest byte");
    uint64_t v = 0;
    std::memcpy(&v, p, 8);
    return v;
  }
  // Whether the 8 bytes at p are ASCII digits: each byte is 0x30..0x39.
  static bool Digits8(const char* p) {
    const uint64_t v = Load8(p);
    return (v & 0xF0F0F0F0F0F0F0F0ULL) == 0x3030303030303030ULL &&
           ((v + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) == 0x3030303030303030ULL;
  }
  // The value of 8 ASCII digits (little-endian load: the first digit is the lowest byte).
  static uint64_t Parse8(const char* p) {
    uint64_t v = Load8(p) - 0x3030303030303030ULL;
    v = (v * 10 + (v >> 8)) & 0x00FF00FF00FF00FFULL;          // pairs: 2-digit values
    v = (v * 100 + (v >> 16)) & 0x0000FFFF0000FFFFULL;        // quads: 4-digit values
    return (v * 10000 + (v >> 32)) & 0x00000000FFFFFFFFULL;  // 8-digit value
  }

  // The fast path for the common message, a change of the bench view whose one data line is
  // {"type":"change",...,"inserts":[[seq,sent_us],...],"deletes":[]}: scans the inserted rows
  // without a JSON parser (1 000 subscribers at 10K rows/s are 10M rows/s for this one thread).
  // Returns false, having counted nothing, for anything else (snapshots, a changed format);
  // Parse then reads the message with simdjson.
  bool ScanChange(std::string_view event, int64_t now_us, int64_t* added) {
    const size_t data = event.find("data: {\"type\":\"change\"");
    if (data == std::string_view::npos) return false;
    std::string_view json = event.substr(data + 6);
    json = json.substr(0, json.find('\n'));
    if (!json.ends_with("\"deletes\":[]}")) return false;
    const size_t inserts = json.find("\"inserts\":[");
    if (inserts == std::string_view::npos) return false;
    const char* p = json.data() + inserts + 11;
    const char* const end = json.data() + json.size();
    int64_t rows = 0;
    scratch_delays_.clear();
    if (p < end && *p == ']') {
      *added = 0;
      return true;
    }
    // A non-negative integer's digits from *at; advances past them. False when there are none.
    auto digits = [end](const char** at, int64_t* value) {
      const char* c = *at;
      int64_t v = 0;
      while (c < end && *c >= '0' && *c <= '9' && c - *at < 18) v = v * 10 + (*c++ - '0');
      if (c == *at) return false;
      *at = c;
      *value = v;
      return true;
    };
    while (p < end && *p == '[') {
      int64_t sent = 0;
      // seq: only checked to be digits (rows are counted, not identified).
      const char* q = p + 1;
      const char* const comma = static_cast<const char*>(std::memchr(q, ',', static_cast<size_t>(end - q)));
      if (comma == nullptr || comma == q || comma - q > 18 || !AllDigits(q, comma)) return false;
      const char* r = comma + 1;
      // sent_us: 16 digits until 2286, parsed 8 at a time.
      if (end - r > 16 && r[16] == ']' && Digits8(r) && Digits8(r + 8)) {
        sent = static_cast<int64_t>(Parse8(r) * 100'000'000 + Parse8(r + 8));
        r += 16;
      } else if (!digits(&r, &sent) || r >= end || *r != ']') {
        return false;
      }
      scratch_delays_.push_back(now_us - sent);
      ++rows;
      p = r + 1;
      if (p < end && *p == ',') ++p;
    }
    if (p >= end || *p != ']') return false;
    for (int64_t d : scratch_delays_) delays_.Add(d);
    *added = rows;
    return true;
  }

  // Every complete event ("...\n\n") in `bytes`: its data lines are one JSON message. Returns
  // how many bytes the complete events took.
  size_t Parse(Sub& sub, std::string_view bytes, int64_t now_us) {
    size_t start = 0;
    std::string& data = data_;
    while (true) {
      const size_t end = bytes.find("\n\n", start);
      if (end == std::string::npos) break;
      std::string_view event(bytes.data() + start, end - start);
      start = end + 2;
      if (int64_t added = 0; ScanChange(event, now_us, &added)) {
        sub.rows.fetch_add(added, std::memory_order_relaxed);
        continue;
      }
      data.clear();
      while (!event.empty()) {
        const size_t nl = event.find('\n');
        std::string_view line = event.substr(0, nl);
        event = nl == std::string_view::npos ? std::string_view() : event.substr(nl + 1);
        if (line.starts_with("data:")) data.append(line.substr(line.starts_with("data: ") ? 6 : 5));
      }
      if (data.empty()) continue;
      const size_t length = data.size();
      data.resize(length + simdjson::SIMDJSON_PADDING);  // reused: no allocation per message
      simdjson::ondemand::document doc;
      if (parser_.iterate(simdjson::padded_string_view(data.data(), length, data.size())).get(doc)) continue;
      std::string_view type;
      if (doc["type"].get_string().get(type)) continue;
      if (type == "snapshot") {
        bool resync = false;
        if (!doc["resync"].get_bool().get(resync) && resync) ++resyncs_;
        simdjson::ondemand::array rows;
        if (doc["rows"].get_array().get(rows)) continue;
        int64_t held = 0;
        for (auto row : rows) {
          (void)row;
          ++held;
        }
        sub.rows.store(held, std::memory_order_relaxed);
        continue;
      }
      if (type != "change") continue;
      simdjson::ondemand::array inserts;
      if (doc["inserts"].get_array().get(inserts)) continue;
      int64_t added = 0;
      for (auto row : inserts) {
        simdjson::ondemand::array values;
        if (row.get_array().get(values)) continue;
        int64_t index = 0, sent = -1;
        for (auto v : values) {
          if (index++ == 1 && v.get_int64().get(sent) != simdjson::SUCCESS) sent = -1;
        }
        if (sent < 0) continue;
        delays_.Add(now_us - sent);
        ++added;
      }
      sub.rows.fetch_add(added, std::memory_order_relaxed);
    }
    return start;
  }

  asio::io_context io_;
  const uint16_t port_;
  const std::string target_;
  std::vector<std::unique_ptr<Sub>> subs_;
  simdjson::ondemand::parser parser_;
  std::string data_;  // one message's JSON, padded for simdjson
  std::vector<int64_t> scratch_delays_;  // ScanChange's rows until the message is whole
  DelayHistogram delays_;
  std::string error_;
  bool closed_ = false;  // on the io thread
  std::atomic<int> connected_{0};
  std::atomic<int64_t> resyncs_{0};
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
  server_options.io_threads = o.server_threads;
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

  SubscriberSet subscribers((*server)->port(), "/v1/subscribe?view=lat_rows", o.subscribers);
  std::string subscribe_error;
  std::thread reader([&] { subscribe_error = subscribers.Run(); });
  for (int i = 0; i < 3000 && subscribers.connected() < o.subscribers; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (subscribers.connected() < o.subscribers) {
    subscribers.Close();
    reader.join();
    fmt::print(stderr, "sluice bench latency: only {} of {} subscribers connected{}{}\n", subscribers.connected(),
               o.subscribers, subscribe_error.empty() ? "" : ": ", subscribe_error);
    return kExitRuntimeError;
  }

  // One request per millisecond (at least one event each) on a fixed schedule. Open loop: the
  // requests are spread over several connections so that one slow request (an fsync) does not
  // delay the ones after it, and each event's source time is the moment it was scheduled, so a
  // late send counts in the latency instead of being hidden (no coordinated omission).
  const int64_t per_ms = std::max<int64_t>(1, static_cast<int64_t>(o.rate / 1000.0));
  const int64_t period_us = std::max<int64_t>(1000, static_cast<int64_t>(per_ms * 1e6 / o.rate));
  const int64_t requests = o.seconds * 1'000'000 / period_us;
  const std::string pad(static_cast<size_t>(std::max(0, o.event_bytes - 40)), 'x');
  constexpr int kSenders = 8;
  std::atomic<int64_t> sent_count{0}, failed_count{0};
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t t0_wall_us = WallMicros();
  std::vector<std::thread> senders;
  for (int t = 0; t < kSenders; ++t) {
    senders.emplace_back([&, t] {
      auto client = HttpClient::Create((*server)->url());
      std::string body;
      for (int64_t r = t; r < requests; r += kSenders) {
        std::this_thread::sleep_until(t0 + std::chrono::microseconds(r * period_us));
        body.clear();
        const int64_t stamp = t0_wall_us + r * period_us;
        for (int64_t i = 0; i < per_ms; ++i) {
          fmt::format_to(std::back_inserter(body), R"({{"seq":{},"sent_us":{},"pad":"{}"}})", r * per_ms + i, stamp,
                         pad);
          body += '\n';
        }
        Result<HttpResponse> res =
            (*client)->Request("POST", "/v1/topics/lat/events", body, "application/x-ndjson");
        if (!res.ok() || res->status != 200) {
          ++failed_count;
          continue;
        }
        sent_count += per_ms;
      }
    });
  }
  for (std::thread& t : senders) t.join();
  const int64_t sent = sent_count.load(), failed = failed_count.load();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Every subscriber must end up holding every row; wait up to 10 s after the last request.
  for (int i = 0; i < 1000 && subscribers.min_rows() < sent; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const int64_t min_rows = subscribers.min_rows();
  subscribers.Close();
  reader.join();
  const double server_cpu = (*server)->CpuSeconds();
  (*server)->Stop();

  const DelayHistogram& delays = subscribers.delays();
  fmt::print("bench latency: {} events at {:.0f} events/s offered ({:.0f} achieved) for {:.1f} s, {} per request, "
             "fsync={}, {} subscriber(s)\n",
             sent, o.rate, static_cast<double>(sent) / secs, secs, per_ms, o.fsync, o.subscribers);
  fmt::print("  source time -> SSE delivery of the view change: p50 {:.2f} ms, p99 {:.2f} ms, p99.9 {:.2f} ms, "
             "max {:.2f} ms ({} rows received in all)\n",
             delays.QuantileMs(0.5), delays.QuantileMs(0.99), delays.QuantileMs(0.999), delays.QuantileMs(1.0),
             delays.count());
  rusage self{};
  getrusage(RUSAGE_SELF, &self);
  const double client_cpu = static_cast<double>(self.ru_utime.tv_sec + self.ru_stime.tv_sec) +
                            static_cast<double>(self.ru_utime.tv_usec + self.ru_stime.tv_usec) / 1e6;
  fmt::print("  server CPU: {:.2f} s; client CPU (senders and subscribers): {:.2f} s; resync snapshots: {}\n",
             server_cpu, client_cpu, subscribers.resyncs());
  if (!subscribe_error.empty()) fmt::print(stderr, "  subscription: {}\n", subscribe_error);
  if (failed > 0) fmt::print(stderr, "  failed requests: {}\n", failed);
  const bool lost = min_rows < sent;
  if (lost) fmt::print(stderr, "  a subscriber holds {} of the {} rows sent\n", min_rows, sent);
  return failed > 0 || lost || !subscribe_error.empty() ? kExitRuntimeError : kExitOk;
}

}  // namespace sluice::cli
