#include "server/http_server.h"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/logging.h"
#include "common/thread_name.h"
#include "server/router.h"

namespace sluice::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using beast::error_code;

namespace {

constexpr uint32_t kHeaderLimitBytes = 16 * 1024;
constexpr size_t kFirstReadBytes = 4096;
constexpr auto kDrainTimeout = std::chrono::seconds(5);
constexpr auto kThreadExitTimeout = std::chrono::seconds(2);
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);
constexpr auto kLingerTimeout = std::chrono::seconds(2);

class Session;

// Everything connections share. Owned jointly by the server, its sessions and the engine
// callbacks of requests in flight, so that a late callback never touches freed memory.
struct ServerState {
  ServerState(HttpOptions opts, engine::Engine* engine, MetricsRegistry* metrics)
      : options(std::move(opts)),
        ioc(std::max(1, options.io_threads)),
        acceptor(asio::make_strand(ioc)),
        accept_retry(acceptor.get_executor()),
        router(engine, metrics) {
    open_connections =
        metrics->AddGauge("sluice_http_open_connections", "Open HTTP connections")->WithLabels({});
    push = std::make_unique<PushHub>(engine, metrics, &router, open_connections, options.push);
    bytes_received =
        metrics
            ->AddCounter("sluice_http_bytes_received_total", "Bytes received on HTTP connections")
            ->WithLabels({});
  }

  const HttpOptions options;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry;
  Router router;
  Gauge* open_connections;
  std::unique_ptr<PushHub> push;  // the streaming routes
  Counter* bytes_received;

  std::atomic<bool> stopping{false};
  std::atomic<int64_t> requests_in_flight{0};  // read completely, response not yet written

  std::mutex sessions_mu;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
};

// One HTTP/1.1 connection. All its handlers run on its strand (the stream's executor).
// Lifecycle per request: wait for the first byte (idle timeout) -> read the header and body
// (read timeout) -> route -> write the response -> next request or close.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<ServerState> state, tcp::socket socket)
      : state_(std::move(state)), stream_(std::move(socket)), executor_(stream_.get_executor()) {
    state_->open_connections->Inc();
  }

  ~Session() {
    state_->open_connections->Dec();
    std::lock_guard<std::mutex> lock(state_->sessions_mu);
    state_->sessions.erase(this);
  }

  void Start() {
    {
      std::lock_guard<std::mutex> lock(state_->sessions_mu);
      state_->sessions.emplace(this, weak_from_this());
    }
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->WaitForRequest(); });
  }

  // Closes the connection now, whatever it is doing. Thread-safe (posts to the strand).
  void Abort() {
    asio::post(executor_, [self = shared_from_this()] { self->CloseSocket(); });
  }

 private:
  // Between requests the connection may idle for idle_timeout_ms.
  void WaitForRequest() {
    if (state_->stopping.load()) return CloseSocket();
    if (buffer_.size() > 0) return ReadHeader();  // a pipelined request is already buffered
    stream_.expires_after(std::chrono::milliseconds(state_->options.idle_timeout_ms));
    stream_.async_read_some(
        buffer_.prepare(kFirstReadBytes),
        [self = shared_from_this()](error_code ec, size_t n) { self->OnFirstBytes(ec, n); });
  }

  void OnFirstBytes(error_code ec, size_t n) {
    if (ec) return CloseSocket();  // idle timeout, client gone or server stopping
    buffer_.commit(n);
    state_->bytes_received->Inc(static_cast<double>(n));
    ReadHeader();
  }

  // Once a request has started, all of it must arrive within read_timeout_ms.
  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimitBytes);
    parser_->body_limit(state_->options.max_body_bytes);
    stream_.expires_after(std::chrono::milliseconds(state_->options.read_timeout_ms));
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](error_code ec, size_t n) { self->OnHeader(ec, n); });
  }

  void OnHeader(error_code ec, size_t n) {
    state_->bytes_received->Inc(static_cast<double>(n));
    if (ec) return OnReadError(ec);
    // Clients such as curl wait for "100 Continue" before sending a large body.
    const auto& header = parser_->get();
    if (beast::iequals(header[http::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = shared_from_this()](error_code ec, size_t) {
                          if (ec) return self->CloseSocket();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](error_code ec, size_t n) { self->OnRequest(ec, n); });
  }

  void OnReadError(error_code ec) {
    const std::string method = parser_ ? std::string(parser_->get().method_string()) : "";
    if (ec == http::error::body_limit) {
      return SendError(
          413, "payload_too_large",
          "request body larger than " + std::to_string(state_->options.max_body_bytes) + " bytes",
          method);
    }
    if (ec == http::error::header_limit) {
      return SendError(431, "headers_too_large", "request headers too large", method);
    }
    if (ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return SendError(400, "bad_request", "malformed HTTP request: " + ec.message(), method);
    }
    // Timeout (a slow client), a client that closed or reset mid-request, or shutdown:
    // nothing was routed, so nothing was ingested; just close.
    if (ec == beast::error::timeout) SLUICE_LOG_DEBUG("http: closing a connection that timed out");
    CloseSocket();
  }

  void OnRequest(error_code ec, size_t n) {
    state_->bytes_received->Inc(static_cast<double>(n));
    if (ec) return OnReadError(ec);
    stream_.expires_never();

    http::request<http::string_body> message = parser_->release();
    parser_.reset();
    if (PushHub::IsStreamTarget(message.target())) {
      // A subscription: the connection becomes a long-lived stream, owned by the hub from here
      // (no idle or read timeout applies to it; it has heartbeats and a stall timeout instead).
      handed_off_ = true;
      state_->push->Serve(std::move(stream_), std::move(message));
      return;
    }
    const bool keep_alive = message.keep_alive();
    HttpRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    request.content_type = std::string(message[http::field::content_type]);
    request.idempotency_key = std::string(message["Idempotency-Key"]);
    request.if_none_match = std::string(message[http::field::if_none_match]);
    request.body = std::move(message.body());

    state_->requests_in_flight.fetch_add(1);
    in_request_ = true;
    // The reply may come inline (on this strand) or from an engine thread; dispatch runs it
    // inline in the first case and hops onto the strand in the second.
    state_->router.Handle(std::move(request), [self = shared_from_this(),
                                               keep_alive](HttpResponse r) {
      auto executor = self->stream_.get_executor();
      asio::dispatch(executor, [self = std::move(self), keep_alive, r = std::move(r)]() mutable {
        self->Send(std::move(r), keep_alive);
      });
    });
  }

  void SendError(unsigned status, std::string_view code, std::string_view message,
                 std::string_view method) {
    state_->router.CountUnrouted(method, status);
    Send(ErrorResponse(status, code, message), /*keep_alive=*/false, /*linger=*/true);
  }

  // REQUIRES: on the strand. `linger`: the client may still be sending (an oversized or
  // malformed request), so read and discard what it sends after the response instead of
  // resetting the connection under it before it has read the response.
  void Send(HttpResponse r, bool keep_alive, bool linger = false) {
    if (state_->stopping.load()) keep_alive = false;
    response_.emplace();
    response_->version(11);
    response_->result(r.status);
    response_->set(http::field::server, "sluice");
    response_->set(http::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers) response_->set(name, value);
    response_->keep_alive(keep_alive);
    response_->body() = std::move(r.body);
    response_->prepare_payload();
    // A client that does not read its response is cut off like one that does not send.
    stream_.expires_after(std::chrono::milliseconds(state_->options.read_timeout_ms));
    http::async_write(stream_, *response_,
                      [self = shared_from_this(), keep_alive, linger](error_code ec, size_t) {
                        self->OnWritten(ec, keep_alive, linger);
                      });
  }

  void OnWritten(error_code ec, bool keep_alive, bool linger) {
    response_.reset();
    if (in_request_) {
      in_request_ = false;
      state_->requests_in_flight.fetch_sub(1);
    }
    if (!ec && linger) return LingeringClose();
    if (ec || !keep_alive) return CloseSocket();
    WaitForRequest();
  }

  void LingeringClose() {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kLingerTimeout);
    Discard();
  }

  void Discard() {
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(kFirstReadBytes),
                            [self = shared_from_this()](error_code ec, size_t) {
                              if (ec) return self->CloseSocket();
                              self->Discard();
                            });
  }

  void CloseSocket() {
    if (handed_off_) return;
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  std::shared_ptr<ServerState> state_;
  beast::tcp_stream stream_;
  const asio::any_io_executor executor_;  // the strand (stream_ may be handed off)
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
  bool in_request_ = false;
  bool handed_off_ = false;  // the stream was moved to the PushHub
};

void Accept(std::shared_ptr<ServerState> state) {
  state->acceptor.async_accept(asio::make_strand(state->ioc),
                               [state](error_code ec, tcp::socket socket) {
                                 if (state->stopping.load() || ec == asio::error::operation_aborted)
                                   return;
                                 if (ec) {
                                   // Out of file descriptors, say: back off instead of spinning.
                                   SLUICE_LOG_WARN("http: accept failed: {}", ec.message());
                                   state->accept_retry.expires_after(kAcceptRetryDelay);
                                   state->accept_retry.async_wait([state](error_code wait_ec) {
                                     if (!wait_ec) Accept(state);
                                   });
                                   return;
                                 }
                                 error_code ignored;
                                 socket.set_option(tcp::no_delay(true), ignored);
                                 std::make_shared<Session>(state, std::move(socket))->Start();
                                 Accept(state);
                               });
}

class HttpServerImpl final : public HttpServer {
 public:
  HttpServerImpl(HttpOptions options, engine::Engine* engine, MetricsRegistry* metrics)
      : state_(std::make_shared<ServerState>(std::move(options), engine, metrics)) {}

  ~HttpServerImpl() override { Stop(); }

  Status Start() override;
  uint16_t port() const override { return port_; }
  void Stop() override;

 private:
  void RunIoThread();

  std::shared_ptr<ServerState> state_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

Status HttpServerImpl::Start() {
  if (started_) return Status::FailedPrecondition("HTTP server already started");
  const HttpOptions& options = state_->options;
  error_code ec;
  const asio::ip::address address = asio::ip::make_address(options.bind, ec);
  if (ec)
    return Status::InvalidArgument("bad bind address '" + options.bind + "': " + ec.message());
  const tcp::endpoint endpoint(address, options.port);
  tcp::acceptor& acceptor = state_->acceptor;
  const auto fail = [&](std::string_view what) {
    error_code ignored;
    acceptor.close(ignored);
    return Status::Unavailable(
        fmt::format("HTTP {} {}:{}: {}", what, options.bind, options.port, ec.message()));
  };
  if (acceptor.open(endpoint.protocol(), ec); ec) return fail("cannot open socket for");
  if (acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec) {
    return fail("cannot set SO_REUSEADDR for");
  }
  if (acceptor.bind(endpoint, ec); ec) return fail("cannot bind");
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return fail("cannot listen on");
  }
  port_ = acceptor.local_endpoint(ec).port();
  if (ec) return fail("cannot read the bound port of");

  started_ = true;
  work_.emplace(state_->ioc.get_executor());
  Accept(state_);
  const int threads = std::max(1, options.io_threads);
  threads_.reserve(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { RunIoThread(); });
  SLUICE_LOG_INFO("http: listening on {}:{} with {} io thread(s)", options.bind, port_, threads);
  return Status::Ok();
}

void HttpServerImpl::RunIoThread() {
  SetThreadName("http-io");
  // Handlers report errors through error codes; an exception escaping one is a bug, logged
  // here so that the io thread keeps serving the other connections.
  for (;;) {
    try {
      state_->ioc.run();
      return;
    } catch (const std::exception& e) {
      SLUICE_LOG_ERROR("http: unexpected exception in an io thread: {}", e.what());
    }
  }
}

void HttpServerImpl::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  ServerState& state = *state_;
  state.stopping.store(true);
  asio::post(state.acceptor.get_executor(), [s = state_] {
    error_code ignored;
    s->acceptor.close(ignored);
    s->accept_retry.cancel();
  });

  // Let requests already read finish (their responses go out with Connection: close).
  const auto drain_deadline = std::chrono::steady_clock::now() + kDrainTimeout;
  while (state.requests_in_flight.load() > 0 && std::chrono::steady_clock::now() < drain_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (state.requests_in_flight.load() > 0) {
    SLUICE_LOG_WARN("http: {} request(s) still in flight after {} s; closing their connections",
                    state.requests_in_flight.load(), kDrainTimeout.count());
  }

  std::vector<std::shared_ptr<Session>> sessions;
  {
    std::lock_guard<std::mutex> lock(state.sessions_mu);
    for (auto& [ptr, weak] : state.sessions) {
      if (auto session = weak.lock()) sessions.push_back(std::move(session));
    }
  }
  for (auto& session : sessions) session->Abort();
  sessions.clear();
  state.push->Stop();

  // With the acceptor and every socket closed, run() returns once the handlers drain.
  work_.reset();
  const auto exit_deadline = std::chrono::steady_clock::now() + kThreadExitTimeout;
  while (!state.ioc.stopped() && std::chrono::steady_clock::now() < exit_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  state.ioc.stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  SLUICE_LOG_INFO("http: stopped");
}

}  // namespace

std::unique_ptr<HttpServer> HttpServer::Create(HttpOptions options, engine::Engine* engine,
                                               MetricsRegistry* metrics) {
  return std::make_unique<HttpServerImpl>(std::move(options), engine, metrics);
}

}  // namespace sluice::server
