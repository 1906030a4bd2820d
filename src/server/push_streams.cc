#include "server/push_streams.h"

#include <fmt/format.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/logging.h"
#include "server/http_errors.h"
#include "server/push_encoding.h"
#include "server/request_target.h"
#include "server/router.h"

namespace sluice::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using beast::error_code;

constexpr std::string_view kSubscribeRoute = "/v1/subscribe";
constexpr std::string_view kWebSocketRoute = "/v1/ws";
constexpr auto kHandshakeTimeout = std::chrono::seconds(30);
constexpr size_t kReadScratchBytes = 1024;
// The longest close reason a WebSocket close frame can carry.
constexpr size_t kMaxCloseReason = 123;

class Stream;

struct PushState {
  PushState(engine::Engine* e, MetricsRegistry* metrics, Router* r, Gauge* open, PushOptions o)
      : engine(e),
        router(r),
        open_connections(open),
        options(o),
        sse(SubscriptionMetrics::For(metrics, "sse")),
        ws(SubscriptionMetrics::For(metrics, "websocket")) {}

  engine::Engine* const engine;
  Router* const router;
  Gauge* const open_connections;
  const PushOptions options;
  const SubscriptionMetrics sse;
  const SubscriptionMetrics ws;

  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::unordered_map<Stream*, std::weak_ptr<Stream>> streams;  // GUARDED_BY(mu)

  engine::SubscribeRequest WithBufferLimits(engine::SubscribeRequest r) const {
    r.buffer_batches = options.buffer_batches;
    r.buffer_bytes = options.buffer_bytes;
    return r;
  }
};

namespace {

std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }

}  // namespace

// What both transports share: registration for Stop, the open-connection gauge, the engine
// subscription (notifications hop onto the strand and call Pump) and the encoding of events.
class Stream : public std::enable_shared_from_this<Stream> {
 public:
  Stream(std::shared_ptr<PushState> hub, const SubscriptionMetrics& metrics)
      : hub_(std::move(hub)), metrics_(metrics) {
    hub_->open_connections->Inc();
  }
  virtual ~Stream() {
    hub_->open_connections->Dec();
    if (subscribed_) metrics_.active->Dec();
    std::lock_guard<std::mutex> lock(hub_->mu);
    hub_->streams.erase(this);
  }

  // Closes the connection (server shutdown). Thread-safe.
  virtual void Abort() = 0;

 protected:
  void Register() {
    std::lock_guard<std::mutex> lock(hub_->mu);
    hub_->streams.emplace(this, weak_from_this());
  }

  // Subscribes; notifications hop onto `executor` (the strand) and call Pump. At most one hop is
  // queued at a time: notifications that arrive before it runs are served by the same Pump, so
  // a busy server sends fewer, larger writes instead of queueing one handler per view round per
  // subscriber (1 000 subscribers of a view that runs 1 000 rounds/s).
  Status Subscribe(engine::SubscribeRequest request, const asio::any_io_executor& executor) {
    std::weak_ptr<Stream> weak = weak_from_this();
    auto sub = hub_->engine->Subscribe(
        hub_->WithBufferLimits(std::move(request)), [weak, executor, queued = pump_queued_] {
          if (queued->exchange(true, std::memory_order_acq_rel)) return;
          asio::post(executor, [weak, queued] {
            queued->store(false, std::memory_order_release);
            if (auto self = weak.lock()) self->Pump();
          });
        });
    if (!sub.ok()) return sub.status();
    sub_ = std::move(sub).value();
    subscribed_ = true;
    metrics_.active->Inc();
    return Status::Ok();
  }

  void Unsubscribe() {
    sub_.reset();
    if (subscribed_) metrics_.active->Dec();
    subscribed_ = false;
  }

  // Polls the subscription and sends what is ready. REQUIRES: on the strand.
  virtual void Pump() = 0;

  struct Message {
    std::string_view event;  // SSE event name: "snapshot", "end" or "" (a change)
    std::string id;          // SSE event id (empty for the end; for a change, from batch->seq)
    std::shared_ptr<const std::string> json;
    std::shared_ptr<const engine::ChangeBatch> batch;  // a change of the view (else null)
  };

  // The messages for `events`; sets *end when the stream is over.
  std::vector<Message> Encode(const std::vector<engine::SubscriptionEvent>& events,
                              std::optional<Status>* end) {
    std::vector<Message> out;
    for (const engine::SubscriptionEvent& e : events) {
      switch (e.kind) {
        case engine::SubscriptionEvent::Kind::kSnapshot:
          if (e.resync) metrics_.resyncs->Inc();
          out.push_back(
              {"snapshot", FormatEventId(sub_->stream_id(), e.snapshot->seq),
               std::make_shared<const std::string>(EncodeSnapshot(*sub_, *e.snapshot, e.resync))});
          break;
        case engine::SubscriptionEvent::Kind::kBatch: {
          const std::string& stream_id = sub_->stream_id();
          const engine::ChangeBatch& batch = *e.batch;
          // Unfiltered subscribers of a view share one encoding of each batch (and SSE ones
          // its framing, which is where the event id is formatted).
          out.push_back({"", "", batch.Encoded([&] { return EncodeChanges(stream_id, batch); }), e.batch});
          break;
        }
        case engine::SubscriptionEvent::Kind::kEnd:
          *end = e.end;
          out.push_back({"end", "", std::make_shared<const std::string>(EncodeEnd(e.end))});
          continue;
      }
      metrics_.events->Inc();
    }
    return out;
  }

  std::shared_ptr<PushState> hub_;
  SubscriptionMetrics metrics_;
  std::unique_ptr<engine::Subscription> sub_;
  bool subscribed_ = false;
  // A Pump is posted and has not started yet. Shared with the notification callback, which runs
  // on the view's thread and must not own the stream.
  std::shared_ptr<std::atomic<bool>> pump_queued_ = std::make_shared<std::atomic<bool>>(false);
};

namespace {

// ---- Server-Sent Events ----------------------------------------------------------------------

class SseStream final : public Stream {
 public:
  SseStream(std::shared_ptr<PushState> hub, beast::tcp_stream stream, bool chunked)
      : Stream(hub, hub->sse),
        stream_(std::move(stream)),
        heartbeat_(stream_.get_executor()),
        stall_(stream_.get_executor()),
        chunked_(chunked) {}

  void Start(engine::SubscribeRequest request, std::string method) {
    Register();
    stream_.expires_never();
    error_code ignored;
    stream_.socket().non_blocking(true, ignored);  // Flush tries a send before going async
    if (hub_->stopping.load())
      return SendError(Status::Unavailable("the server is shutting down"), method);
    if (Status s = Subscribe(std::move(request), stream_.get_executor()); !s.ok())
      return SendError(s, method);
    hub_->router->CountStream(kSubscribeRoute, method, 200);
    std::string header =
        "HTTP/1.1 200 OK\r\nServer: sluice\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
        "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n";
    header += chunked_ ? "Transfer-Encoding: chunked\r\n\r\n" : "Connection: close\r\n\r\n";
    head_ = std::move(header);
    Queue("retry: 1000\n\n");  // EventSource reconnects after 1 s (with Last-Event-ID)
    WatchClient();
    ScheduleHeartbeat();
    Pump();
  }

  void Abort() override {
    asio::post(
        stream_.get_executor(),
        [self = std::static_pointer_cast<SseStream>(shared_from_this())] { self->Finish(); });
  }

 private:
  void Pump() override {
    if (closed_ || finishing_ || writing_) return;
    if (sub_) {
      std::optional<Status> end;
      for (const Message& m : Encode(sub_->Poll(), &end)) {
        if (m.batch) {
          // The SSE event of a change is the same bytes for every unfiltered subscriber.
          Queue(m.batch->Encoded(
              [&] { return SseEvent(FormatEventId(sub_->stream_id(), m.batch->seq), m.event, *m.json); },
              engine::ChangeBatch::Encoding::kFramed));
        } else {
          Queue(SseEvent(m.id, m.event, *m.json));
        }
      }
      if (end) return Finish();
    }
    Flush();
  }

  void Flush() {
    if (closed_ || writing_ || (pending_.empty() && head_.empty())) return;
    PrepareWrite(/*last=*/false);
    // Most events fit in the socket's send buffer: one non-blocking send, with no async
    // operation, timer or completion handler per event (1 000 subscribers at 50 events/s each).
    error_code ec;
    const size_t total = asio::buffer_size(out_buffers_);
    size_t sent = stream_.socket().write_some(out_buffers_, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec = {};
      sent = 0;
    }
    if (ec) return Close();
    if (sent == total) {
      out_pieces_.clear();
      return;
    }
    ConsumeBuffers(&out_buffers_, sent);
    WriteOut(std::chrono::milliseconds(hub_->options.stall_timeout_ms), [this](error_code ec) {
      if (ec) return Close();
      if (finishing_) return Finish();
      Pump();
    });
  }

  // Writes out_buffers_ asynchronously, closing the connection if the client takes none of it
  // within `limit`; then `done(ec)`.
  template <typename Done>
  void WriteOut(std::chrono::milliseconds limit, Done done) {
    writing_ = true;
    stall_.expires_after(limit);
    stall_.async_wait([self = shared_from_this(), this, limit](error_code ec) {
      if (!ec) {
        SLUICE_LOG_DEBUG("sse: closing a subscriber that read nothing for {} ms", limit.count());
        Close();
      }
    });
    asio::async_write(stream_, out_buffers_,
                      [self = shared_from_this(), this, done = std::move(done)](error_code ec, size_t) {
                        stall_.cancel();
                        writing_ = false;
                        out_pieces_.clear();
                        done(ec);
                      });
  }

  // Drops the first `n` bytes of a gather list.
  static void ConsumeBuffers(std::vector<asio::const_buffer>* buffers, size_t n) {
    size_t whole = 0;
    while (whole < buffers->size() && n >= (*buffers)[whole].size()) n -= (*buffers)[whole++].size();
    buffers->erase(buffers->begin(), buffers->begin() + static_cast<std::ptrdiff_t>(whole));
    if (!buffers->empty()) buffers->front() += n;
  }

  void Queue(std::shared_ptr<const std::string> piece) {
    pending_bytes_ += piece->size();
    pending_.push_back(std::move(piece));
  }
  void Queue(std::string text) { Queue(std::make_shared<const std::string>(std::move(text))); }

  // The next write as one gather list, without copying the events: the response header (once),
  // then what is pending as one chunk (or as is without chunked encoding), then, when `last`,
  // the end of the response. Empty when there is nothing to write.
  void PrepareWrite(bool last) {
    out_head_.clear();
    out_head_.swap(head_);
    out_tail_.clear();
    out_buffers_.clear();
    out_pieces_.clear();
    if (!pending_.empty() && chunked_) fmt::format_to(std::back_inserter(out_head_), "{:x}\r\n", pending_bytes_);
    if (!out_head_.empty()) out_buffers_.push_back(asio::buffer(out_head_));
    for (const auto& piece : pending_) out_buffers_.push_back(asio::buffer(*piece));
    if (!pending_.empty() && chunked_) out_tail_ = "\r\n";
    if (last && chunked_) out_tail_ += "0\r\n\r\n";
    if (!out_tail_.empty()) out_buffers_.push_back(asio::buffer(out_tail_));
    out_pieces_.swap(pending_);  // kept alive until the write completes
    pending_.clear();
    pending_bytes_ = 0;
  }

  // Writes what is left and the end of the response (the last chunk), then closes.
  void Finish() {
    if (closed_) return;
    finishing_ = true;
    if (writing_) return;  // the write's completion comes back here
    heartbeat_.cancel();
    Unsubscribe();
    if (ended_) return Close();
    ended_ = true;
    PrepareWrite(/*last=*/true);
    if (out_buffers_.empty()) return Close();
    WriteOut(std::chrono::seconds(5), [this](error_code) { Close(); });
  }

  // The client sends nothing after its request: a read completes only when it goes away.
  void WatchClient() {
    stream_.async_read_some(asio::buffer(scratch_),
                            [self = shared_from_this(), this](error_code ec, size_t) {
                              if (ec) return Close();
                              WatchClient();
                            });
  }

  void ScheduleHeartbeat() {
    heartbeat_.expires_after(std::chrono::milliseconds(hub_->options.heartbeat_ms));
    heartbeat_.async_wait([self = shared_from_this(), this](error_code ec) {
      if (ec || closed_) return;
      if (sub_) sub_->CheckView();  // a view that stopped on an error ends its streams
      if (!writing_ && pending_.empty()) Queue(": heartbeat\n\n");
      Pump();
      ScheduleHeartbeat();
    });
  }

  void SendError(const Status& status, std::string_view method) {
    HttpResponse r = ErrorResponse(status);
    hub_->router->CountStream(kSubscribeRoute, method, r.status);
    auto response = std::make_shared<http::response<http::string_body>>();
    response->version(11);
    response->result(r.status);
    response->set(http::field::server, "sluice");
    response->set(http::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers) response->set(name, value);
    response->keep_alive(false);
    response->body() = std::move(r.body);
    response->prepare_payload();
    writing_ = true;
    http::async_write(stream_, *response,
                      [self = shared_from_this(), this, response](error_code, size_t) {
                        writing_ = false;
                        Close();
                      });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    heartbeat_.cancel();
    stall_.cancel();
    Unsubscribe();
    error_code ignored;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  asio::steady_timer heartbeat_;
  asio::steady_timer stall_;
  const bool chunked_;
  std::string head_;  // the response header, until written
  std::vector<std::shared_ptr<const std::string>> pending_;  // events not yet written
  size_t pending_bytes_ = 0;
  // Being written: the pieces and the gather list over them and the framing.
  std::vector<std::shared_ptr<const std::string>> out_pieces_;
  std::string out_head_;
  std::string out_tail_;
  std::vector<asio::const_buffer> out_buffers_;
  std::array<char, kReadScratchBytes> scratch_{};
  bool writing_ = false;
  bool finishing_ = false;
  bool ended_ = false;
  bool closed_ = false;
};

// ---- WebSocket -------------------------------------------------------------------------------

class WsStream final : public Stream {
 public:
  WsStream(std::shared_ptr<PushState> hub, beast::tcp_stream stream)
      : Stream(hub, hub->ws),
        ws_(std::move(stream)),
        heartbeat_(ws_.get_executor()),
        stall_(ws_.get_executor()) {}

  void Start(http::request<http::string_body> request,
             std::optional<engine::SubscribeRequest> initial) {
    Register();
    request_ = std::move(request);
    initial_ = std::move(initial);
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = kHandshakeTimeout;
    timeout.idle_timeout = websocket::stream_base::none();  // our own pings and stall timer
    timeout.keep_alive_pings = false;
    ws_.set_option(timeout);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "sluice"); }));
    ws_.read_message_max(hub_->options.ws_max_message_bytes);
    ws_.control_callback(
        [this](websocket::frame_type, beast::string_view) { last_heard_ = Now(); });
    const std::string method(request_.method_string());
    ws_.async_accept(request_, [self = shared_from_this(), this, method](error_code ec) {
      if (ec) {
        SLUICE_LOG_DEBUG("ws: handshake failed: {}", ec.message());
        return Close();
      }
      hub_->router->CountStream(kWebSocketRoute, method, 101);
      accepted_ = true;
      last_heard_ = Now();
      Read();
      ScheduleHeartbeat();
      if (hub_->stopping.load())
        return CloseWith(websocket::close_code::going_away, "server shutting down");
      if (initial_) StartSubscription(std::move(*initial_));
    });
  }

  void Abort() override {
    asio::post(ws_.get_executor(), [self = std::static_pointer_cast<WsStream>(shared_from_this())] {
      if (self->accepted_) {
        self->CloseWith(websocket::close_code::going_away, "server shutting down");
      } else {
        self->Close();
      }
    });
  }

 private:
  static int64_t Now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  void StartSubscription(engine::SubscribeRequest request) {
    if (Status s = Subscribe(std::move(request), ws_.get_executor()); !s.ok()) {
      // A subscribe that failed ends the connection: the error message says why.
      Send(EncodeError(s));
      return CloseWith(websocket::close_code::policy_error, s.message());
    }
    Pump();
  }

  void Read() {
    ws_.async_read(read_buffer_, [self = shared_from_this(), this](error_code ec, size_t) {
      if (ec) {
        // Closed by the client, a protocol violation (Beast has sent 1002), a message over the
        // limit (1009) or invalid UTF-8 (1007): the connection is over either way.
        if (ec != websocket::error::closed) SLUICE_LOG_DEBUG("ws: read ended: {}", ec.message());
        return Close();
      }
      last_heard_ = Now();
      const std::string message = beast::buffers_to_string(read_buffer_.data());
      read_buffer_.consume(read_buffer_.size());
      OnMessage(message, ws_.got_text());
      if (!closed_) Read();
    });
  }

  void OnMessage(const std::string& message, bool text) {
    if (closing_) return;
    if (!text) {
      Send(EncodeError(
          Status::InvalidArgument("binary messages are not supported: send JSON text")));
      return CloseWith(websocket::close_code::unknown_data, "binary messages are not supported");
    }
    auto request = SubscribeRequestFromJson(message);
    if (!request.ok()) {
      Send(EncodeError(request.status()));
      return CloseWith(websocket::close_code::policy_error, request.status().message());
    }
    if (subscribed_) {
      Send(EncodeError(
          Status::FailedPrecondition("already subscribed: one subscription per connection")));
      return;
    }
    StartSubscription(std::move(request).value());
  }

  void Pump() override {
    if (closed_ || closing_ || writing_ || !sub_) return;
    std::optional<Status> end;
    for (Message& m : Encode(sub_->Poll(), &end)) queue_.push_back(std::move(m.json));
    if (end) {
      const bool dropped = end->code() == StatusCode::kNotFound;
      return CloseWith(dropped ? websocket::close_code::normal : websocket::close_code::going_away,
                       end->message());
    }
    WriteNext();
  }

  void Send(std::string message) {
    queue_.push_back(std::make_shared<const std::string>(std::move(message)));
    WriteNext();
  }

  void WriteNext() {
    if (closed_ || writing_) return;
    if (queue_.empty()) {
      if (closing_) return SendClose();
      return;
    }
    writing_ = true;
    out_ = std::move(queue_.front());
    queue_.pop_front();
    stall_.expires_after(std::chrono::milliseconds(hub_->options.stall_timeout_ms));
    stall_.async_wait([self = shared_from_this(), this](error_code ec) {
      if (!ec) {
        SLUICE_LOG_DEBUG("ws: closing a subscriber that read nothing for {} ms",
                         hub_->options.stall_timeout_ms);
        Close();
      }
    });
    ws_.text(true);
    ws_.async_write(asio::buffer(*out_), [self = shared_from_this(), this](error_code ec, size_t) {
      stall_.cancel();
      writing_ = false;
      if (ec) return Close();
      if (!queue_.empty() || closing_) return WriteNext();
      Pump();
    });
  }

  // Sends what is queued, then a close frame.
  void CloseWith(websocket::close_code code, std::string_view reason) {
    if (closing_ || closed_) return;
    closing_ = true;
    close_reason_ = websocket::close_reason(code, reason.substr(0, kMaxCloseReason));
    heartbeat_.cancel();
    Unsubscribe();
    WriteNext();
  }

  void SendClose() {
    if (close_sent_) return;
    close_sent_ = true;
    writing_ = true;
    stall_.expires_after(std::chrono::seconds(5));
    stall_.async_wait([self = shared_from_this(), this](error_code ec) {
      if (!ec) Close();
    });
    ws_.async_close(close_reason_, [self = shared_from_this(), this](error_code) {
      writing_ = false;
      stall_.cancel();
      // The pending read sees the client's close frame (or times out with the stall timer).
      Close();
    });
  }

  void ScheduleHeartbeat() {
    heartbeat_.expires_after(std::chrono::milliseconds(hub_->options.heartbeat_ms));
    heartbeat_.async_wait([self = shared_from_this(), this](error_code ec) {
      if (ec || closed_ || closing_) return;
      if (Now() - last_heard_ > hub_->options.stall_timeout_ms) {
        SLUICE_LOG_DEBUG("ws: closing a client that answered no ping for {} ms",
                         hub_->options.stall_timeout_ms);
        return Close();
      }
      if (sub_) sub_->CheckView();
      if (!pinging_) {
        pinging_ = true;
        ws_.async_ping({}, [self, this](error_code ec) {
          pinging_ = false;
          if (ec) Close();
        });
      }
      Pump();
      ScheduleHeartbeat();
    });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    heartbeat_.cancel();
    stall_.cancel();
    Unsubscribe();
    error_code ignored;
    auto& socket = beast::get_lowest_layer(ws_).socket();
    socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  websocket::stream<beast::tcp_stream> ws_;
  asio::steady_timer heartbeat_;
  asio::steady_timer stall_;
  http::request<http::string_body> request_;
  std::optional<engine::SubscribeRequest> initial_;
  beast::flat_buffer read_buffer_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  std::shared_ptr<const std::string> out_;  // being written
  websocket::close_reason close_reason_;
  int64_t last_heard_ = 0;
  bool accepted_ = false;
  bool writing_ = false;
  bool pinging_ = false;
  bool closing_ = false;
  bool close_sent_ = false;
  bool closed_ = false;
};

// Answers a request that never becomes a stream, then closes.
void SendPlainError(PushState& hub, beast::tcp_stream stream, std::string_view route,
                    std::string_view method, HttpResponse r) {
  hub.router->CountStream(route, method, r.status);
  struct Pending {
    beast::tcp_stream stream;
    http::response<http::string_body> response;
  };
  auto pending = std::make_shared<Pending>(Pending{std::move(stream), {}});
  auto& response = pending->response;
  response.version(11);
  response.result(r.status);
  response.set(http::field::server, "sluice");
  response.set(http::field::content_type, r.content_type);
  for (auto& [name, value] : r.headers) response.set(name, value);
  response.keep_alive(false);
  response.body() = std::move(r.body);
  response.prepare_payload();
  pending->stream.expires_after(std::chrono::seconds(10));
  http::async_write(pending->stream, response, [pending](error_code, size_t) {
    error_code ignored;
    pending->stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    pending->stream.socket().close(ignored);
  });
}

}  // namespace

PushHub::PushHub(engine::Engine* engine, MetricsRegistry* metrics, Router* router,
                 Gauge* open_connections, PushOptions options)
    : state_(std::make_shared<PushState>(engine, metrics, router, open_connections, options)) {}

PushHub::~PushHub() { Stop(); }

bool PushHub::IsStreamTarget(std::string_view target) {
  const std::string_view path = PathOf(target);
  return path == kSubscribeRoute || path == kWebSocketRoute;
}

void PushHub::Serve(beast::tcp_stream stream, http::request<http::string_body> request) {
  const std::string method(request.method_string());
  const std::string_view path = PathOf(request.target());
  const std::string_view route = path == kWebSocketRoute ? kWebSocketRoute : kSubscribeRoute;
  if (request.method() != http::verb::get) {
    HttpResponse r = ErrorResponse(
        405, "method_not_allowed",
        fmt::format("{} is not allowed on {} (allowed: GET)", method.substr(0, 16), route));
    r.headers.emplace_back("Allow", "GET");
    return SendPlainError(*state_, std::move(stream), route, method, std::move(r));
  }
  Result<RequestTarget> target = ParseRequestTarget(request.target());
  if (!target.ok())
    return SendPlainError(*state_, std::move(stream), route, method,
                          ErrorResponse(target.status()));

  if (route == kSubscribeRoute) {
    auto subscribe = SubscribeRequestFromTarget(*target, request["Last-Event-ID"]);
    if (!subscribe.ok()) {
      return SendPlainError(*state_, std::move(stream), route, method,
                            ErrorResponse(subscribe.status()));
    }
    auto sse = std::make_shared<SseStream>(state_, std::move(stream), request.version() >= 11);
    sse->Start(std::move(subscribe).value(), method);
    return;
  }

  if (!websocket::is_upgrade(request)) {
    HttpResponse r =
        ErrorResponse(426, "upgrade_required",
                      "/v1/ws is a WebSocket endpoint: send an Upgrade: websocket request");
    r.headers.emplace_back("Upgrade", "websocket");
    r.headers.emplace_back("Connection", "Upgrade");
    return SendPlainError(*state_, std::move(stream), route, method, std::move(r));
  }
  std::optional<engine::SubscribeRequest> initial;
  if (target->Param("view") || target->Param("sql")) {
    auto subscribe = SubscribeRequestFromTarget(*target, "");
    if (!subscribe.ok()) {
      return SendPlainError(*state_, std::move(stream), route, method,
                            ErrorResponse(subscribe.status()));
    }
    initial = std::move(subscribe).value();
  }
  auto ws = std::make_shared<WsStream>(state_, std::move(stream));
  ws->Start(std::move(request), std::move(initial));
}

void PushHub::Stop() {
  state_->stopping.store(true);
  std::vector<std::shared_ptr<Stream>> streams;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    for (auto& [ptr, weak] : state_->streams) {
      if (auto s = weak.lock()) streams.push_back(std::move(s));
    }
  }
  for (auto& s : streams) s->Abort();
}

}  // namespace sluice::server
