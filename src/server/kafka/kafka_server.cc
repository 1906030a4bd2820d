#include "server/kafka/kafka_server.h"

#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "common/change_signal.h"
#include "common/logging.h"
#include "common/thread_name.h"
#include "server/kafka/broker.h"

namespace sluice::server::kafka {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto kDrainTimeout = std::chrono::seconds(5);
constexpr auto kThreadExitTimeout = std::chrono::seconds(2);
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);

class Connection;

// Shared by the server and its connections, so that a late handler never touches freed memory.
struct ServerState {
  ServerState(KafkaOptions opts, engine::Engine* engine, MetricsRegistry* metrics)
      : options(opts),
        broker(std::move(opts), engine, metrics),
        ioc(std::max(1, options.io_threads)),
        acceptor(asio::make_strand(ioc)),
        accept_retry(acceptor.get_executor()) {
    open_connections = metrics->AddGauge("sluice_kafka_connections", "Open Kafka protocol connections")->WithLabels({});
    accepted = metrics->AddCounter("sluice_kafka_connections_total", "Kafka protocol connections accepted")->WithLabels({});
    rejected_frames = metrics
                          ->AddCounter("sluice_kafka_bad_frames_total",
                                       "Kafka connections closed for a frame size out of bounds or a truncated frame")
                          ->WithLabels({});
    bytes_received =
        metrics->AddCounter("sluice_kafka_bytes_received_total", "Bytes received on Kafka connections")->WithLabels({});
    bytes_sent = metrics->AddCounter("sluice_kafka_bytes_sent_total", "Bytes sent on Kafka connections")->WithLabels({});
    pipelined = metrics
                    ->AddCounter("sluice_kafka_pipelined_requests_total",
                                 "Produce requests read and handled while earlier requests of the connection waited")
                    ->WithLabels({});
  }

  const KafkaOptions options;
  Broker broker;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry;
  Gauge* open_connections;
  Counter* accepted;
  Counter* rejected_frames;
  Counter* bytes_received;
  Counter* bytes_sent;
  Counter* pipelined;

  std::atomic<bool> stopping{false};
  std::atomic<int64_t> connection_count{0};
  std::atomic<uint64_t> next_id{1};
  std::mutex connections_mu;
  std::unordered_map<uint64_t, std::weak_ptr<Connection>> connections;
  // Connections whose long poll (a waiting Fetch) ends early once the log's visible end moves:
  // the waker thread (KafkaServerImpl::RunWaker) takes them all at each move.
  std::mutex pollers_mu;
  std::vector<std::weak_ptr<Connection>> pollers;  // GUARDED_BY(pollers_mu)
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<ServerState> state, tcp::socket socket, uint64_t id)
      : state_(std::move(state)), socket_(std::move(socket)), id_(id) {
    state_->open_connections->Inc();
    state_->connection_count.fetch_add(1);
    error_code ec;
    const tcp::endpoint local = socket_.local_endpoint(ec);
    if (!ec) {
      asio::ip::address a = local.address();
      if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
      local_host_ = a.to_string();
      local_port_ = local.port();
    }
    const tcp::endpoint peer = socket_.remote_endpoint(ec);
    if (!ec) peer_host_ = "/" + peer.address().to_string();
  }

  ~Connection() {
    state_->open_connections->Dec();
    state_->connection_count.fetch_sub(1);
    std::lock_guard lock(state_->connections_mu);
    state_->connections.erase(id_);
  }

  void Start(bool reject) {
    {
      std::lock_guard lock(state_->connections_mu);
      state_->connections[id_] = weak_from_this();
    }
    asio::dispatch(socket_.get_executor(), [self = shared_from_this(), reject] {
      if (reject) return self->Close();
      self->ReadSize();
    });
  }

  // Thread-safe. A long poll armed with a change epoch runs now (the log's visible end moved).
  void WakePoll() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      self->poll_registered_ = false;  // the waker took it off its list
      if (!self->poll_timer_ || !self->poll_wakes_) return;
      self->poll_woken_ = true;
      self->poll_timer_->cancel();
    });
  }

  // Thread-safe. Idle connections close now; a waiting fetch answers at once; requests in
  // flight close the connection after their responses.
  void Shutdown() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      if (self->poll_timer_) self->poll_timer_->cancel();
      if (self->reading_ && self->in_flight_.empty()) self->Close();
    });
  }

  void Abort() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->Close(); });
  }

 private:
  // A request being handled, in arrival order; it owns its frame until its response is sent.
  struct InFlight {
    std::string frame;
    std::optional<Result<OutFrame>> response;
  };

  // Requests are pipelined only behind Produce requests: while Produces wait for their fsync,
  // the next Produce is read and appended, so one round of a client's per-partition requests
  // shares the log's sync passes. Anything else is handled alone, after everything before it
  // has been answered, as a Kafka broker does. Responses always go out in request order.
  static constexpr size_t kMaxPipelined = 16;
  static constexpr size_t kMaxPipelinedBytes = 64 << 20;  // of request frames held in flight

  bool RoomToPipeline() const { return in_flight_.size() < kMaxPipelined && in_flight_bytes_ < kMaxPipelinedBytes; }

  static bool IsProduce(std::string_view frame) {
    return frame.size() >= 2 && frame[0] == 0 && frame[1] == static_cast<char>(ApiKey::kProduce);
  }

  void ReadSize() {
    if (state_->stopping.load()) {
      if (in_flight_.empty()) Close();
      return;
    }
    reading_ = true;
    asio::async_read(socket_, asio::buffer(size_buffer_), [self = shared_from_this()](error_code ec, size_t n) {
      self->reading_ = false;
      if (ec) return self->Close();  // client gone (possibly mid-size: a truncated frame)
      self->state_->bytes_received->Inc(static_cast<double>(n));
      const uint32_t size = (static_cast<uint32_t>(self->size_buffer_[0]) << 24) |
                            (static_cast<uint32_t>(self->size_buffer_[1]) << 16) |
                            (static_cast<uint32_t>(self->size_buffer_[2]) << 8) | self->size_buffer_[3];
      if (size < kMinRequestBytes || size > self->state_->options.max_request_bytes) {
        self->state_->rejected_frames->Inc();
        SLUICE_LOG_DEBUG("kafka: closing a connection that sent a {}-byte frame (limit {})", static_cast<int32_t>(size),
                         self->state_->options.max_request_bytes);
        return self->Close();
      }
      self->ReadFrame(size);
    });
  }

  void ReadFrame(uint32_t size) {
    frame_.resize(size);
    reading_ = true;
    asio::async_read(socket_, asio::buffer(frame_), [self = shared_from_this()](error_code ec, size_t n) {
      self->reading_ = false;
      self->state_->bytes_received->Inc(static_cast<double>(n));
      if (ec) {
        if (ec == asio::error::eof) self->state_->rejected_frames->Inc();  // truncated frame
        return self->Close();
      }
      self->OnFrame(std::move(self->frame_));
    });
  }

  void OnFrame(std::string frame) {
    if (closed_) return;
    const bool produce = IsProduce(frame);
    if (!produce && !in_flight_.empty()) {
      held_ = std::move(frame);  // dispatched once the Produces before it are answered
      return;
    }
    pipelining_ = produce;
    Dispatch(std::move(frame));
    if (produce && RoomToPipeline() && !reading_ && !broken_) ReadSize();
  }

  void Dispatch(std::string frame) {
    RequestContext ctx;
    ctx.local_host = local_host_;
    ctx.local_port = local_port_;
    ctx.peer_host = peer_host_;
    std::weak_ptr<Connection> weak = weak_from_this();
    ctx.run_after = [weak](int64_t delay_ms, std::function<void(bool)> fn) {
      if (auto self = weak.lock()) return self->Arm(delay_ms, std::move(fn), /*seen=*/std::nullopt);
      fn(true);
    };
    ctx.run_after_change = [weak](int64_t delay_ms, uint64_t seen, std::function<void(bool)> fn) {
      if (auto self = weak.lock()) return self->Arm(delay_ms, std::move(fn), seen);
      fn(true);
    };
    auto request = std::make_shared<InFlight>();
    request->frame = std::move(frame);
    if (!in_flight_.empty()) state_->pipelined->Inc();
    in_flight_bytes_ += request->frame.size();
    in_flight_.push_back(request);
    state_->broker.HandleFrame(request->frame, std::move(ctx),
                               [self = shared_from_this(), request](Result<OutFrame> response) {
                                 asio::dispatch(self->socket_.get_executor(),
                                                [self, request, response = std::move(response)]() mutable {
                                                  // A request that did not decode closes the connection
                                                  // once the responses before it are sent; nothing after
                                                  // it is read or handled.
                                                  if (!response.ok()) self->broken_ = true;
                                                  request->response = std::move(response);
                                                  self->Pump();
                                                });
                               });
  }

  // Sends the answered requests at the head of the queue, in order; then reads on (or
  // dispatches the request that waited for the queue to empty).
  void Pump() {
    if (closed_ || writing_) return;
    while (!in_flight_.empty() && in_flight_.front()->response.has_value()) {
      Result<OutFrame>& response = *in_flight_.front()->response;
      if (!response.ok()) return Close();
      if (response->empty()) {  // acks=0
        PopFront();
        continue;
      }
      return Write(std::move(response).value());
    }
    if (in_flight_.empty() && state_->stopping.load()) return Close();
    if (held_) {
      if (!in_flight_.empty()) return;
      std::string frame = std::move(*held_);
      held_.reset();
      return OnFrame(std::move(frame));
    }
    if (!reading_ && !broken_ && (in_flight_.empty() || (pipelining_ && RoomToPipeline()))) ReadSize();
  }

  void PopFront() {
    in_flight_bytes_ -= in_flight_.front()->frame.size();
    in_flight_.pop_front();
  }

  void Write(OutFrame frame) {
    if (closed_) return;
    write_frame_ = std::move(frame);
    write_buffers_.clear();
    size_t from = 0;
    for (const Splice& s : write_frame_.spliced) {
      write_buffers_.push_back(asio::buffer(write_frame_.bytes.data() + from, s.at - from));
      write_buffers_.push_back(asio::buffer(s.bytes));
      from = s.at;
    }
    write_buffers_.push_back(asio::buffer(write_frame_.bytes.data() + from, write_frame_.bytes.size() - from));
    writing_ = true;
    asio::async_write(socket_, write_buffers_, [self = shared_from_this()](error_code ec, size_t n) {
      self->writing_ = false;
      self->write_frame_ = OutFrame{};
      self->state_->bytes_sent->Inc(static_cast<double>(n));
      if (ec) return self->Close();
      self->PopFront();
      self->Pump();
    });
  }

  // Runs `fn` on the strand after `delay_ms`, with cancelled = true if the server stops or the
  // connection closes first. With `seen` (the log's visible-change epoch the caller read
  // before looking), it runs earlier, with cancelled = false, once that epoch moves.
  void Arm(int64_t delay_ms, std::function<void(bool)> fn, std::optional<uint64_t> seen) {
    asio::dispatch(socket_.get_executor(), [self = shared_from_this(), delay_ms, fn = std::move(fn), seen]() mutable {
      if (self->state_->stopping.load() || self->closed_) return fn(true);
      self->poll_timer_ = std::make_shared<asio::steady_timer>(self->socket_.get_executor());
      self->poll_timer_->expires_after(std::chrono::milliseconds(delay_ms));
      self->poll_wakes_ = seen.has_value();
      self->poll_woken_ = false;
      self->poll_timer_->async_wait([self, fn = std::move(fn)](error_code ec) {
        self->poll_timer_.reset();
        self->poll_wakes_ = false;
        const bool woken = std::exchange(self->poll_woken_, false);
        fn(!woken && (ec == asio::error::operation_aborted || self->state_->stopping.load()));
      });
      if (!seen) return;
      if (!self->poll_registered_) {  // once on the waker's list until it is taken off
        self->poll_registered_ = true;
        std::lock_guard lock(self->state_->pollers_mu);
        self->state_->pollers.push_back(self);
      }
      // A move between the caller's look and the registration above is not missed: either
      // the waker took the list after it (and this connection was on it), or it shows here.
      if (self->state_->broker.log().visible_changed().epoch() != *seen) {
        self->poll_woken_ = true;
        self->poll_timer_->cancel();
      }
    });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    if (poll_timer_) poll_timer_->cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  std::shared_ptr<ServerState> state_;
  tcp::socket socket_;
  const uint64_t id_;
  std::string local_host_;
  uint16_t local_port_ = 0;
  std::string peer_host_;
  std::array<uint8_t, 4> size_buffer_{};
  std::string frame_;
  std::deque<std::shared_ptr<InFlight>> in_flight_;
  size_t in_flight_bytes_ = 0;
  std::optional<std::string> held_;  // a request read while Produces were in flight
  OutFrame write_frame_;
  std::vector<asio::const_buffer> write_buffers_;
  std::shared_ptr<asio::steady_timer> poll_timer_;
  bool poll_wakes_ = false;  // the pending poll_timer_ ends early when the log's visible end moves
  bool poll_woken_ = false;  // ... and it did
  bool poll_registered_ = false;  // on the waker's list (ServerState::pollers)
  bool reading_ = false;
  bool writing_ = false;
  bool pipelining_ = false;  // the last request dispatched was a Produce
  bool broken_ = false;      // a request did not decode: read nothing more
  bool closed_ = false;
};

void Accept(std::shared_ptr<ServerState> state) {
  state->acceptor.async_accept(asio::make_strand(state->ioc), [state](error_code ec, tcp::socket socket) {
    if (state->stopping.load() || ec == asio::error::operation_aborted) return;
    if (ec) {
      SLUICE_LOG_WARN("kafka: accept failed: {}", ec.message());
      state->accept_retry.expires_after(kAcceptRetryDelay);
      state->accept_retry.async_wait([state](error_code wait_ec) {
        if (!wait_ec) Accept(state);
      });
      return;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    socket.set_option(asio::socket_base::keep_alive(true), ignored);
    state->accepted->Inc();
    const bool reject = state->connection_count.load() >= state->options.max_connections;
    std::make_shared<Connection>(state, std::move(socket), state->next_id.fetch_add(1))->Start(reject);
    Accept(state);
  });
}

class KafkaServerImpl final : public KafkaServer {
 public:
  explicit KafkaServerImpl(std::shared_ptr<ServerState> state) : state_(std::move(state)) {}
  ~KafkaServerImpl() override { Stop(); }

  Status Start() override;
  uint16_t port() const override { return port_; }
  void Stop() override;

 private:
  void RunIoThread();
  // Wakes the waiting long polls each time the log's visible end moves.
  void RunWaker();

  std::shared_ptr<ServerState> state_;
  std::thread waker_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

Status KafkaServerImpl::Start() {
  if (started_) return Status::FailedPrecondition("Kafka listener already started");
  SLUICE_RETURN_IF_ERROR(state_->broker.Start().WithContext("recovering consumer group offsets"));
  const KafkaOptions& options = state_->options;
  error_code ec;
  const asio::ip::address address = asio::ip::make_address(options.bind, ec);
  if (ec) return Status::InvalidArgument("bad bind address '" + options.bind + "': " + ec.message());
  const tcp::endpoint endpoint(address, options.port);
  tcp::acceptor& acceptor = state_->acceptor;
  const auto fail = [&](std::string_view what) {
    error_code ignored;
    acceptor.close(ignored);
    return Status::Unavailable(fmt::format("Kafka listener {} {}:{}: {}", what, options.bind, options.port, ec.message()));
  };
  if (acceptor.open(endpoint.protocol(), ec); ec) return fail("cannot open socket for");
  if (acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec) return fail("cannot set SO_REUSEADDR for");
  if (acceptor.bind(endpoint, ec); ec) return fail("cannot bind");
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) return fail("cannot listen on");
  port_ = acceptor.local_endpoint(ec).port();
  if (ec) return fail("cannot read the bound port of");

  started_ = true;
  work_.emplace(state_->ioc.get_executor());
  Accept(state_);
  const int threads = std::max(1, options.io_threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { RunIoThread(); });
  waker_ = std::thread([this] { RunWaker(); });
  SLUICE_LOG_INFO("kafka: listening on {}:{}", options.bind, port_);
  return Status::Ok();
}

void KafkaServerImpl::RunIoThread() {
  SetThreadName("kafka-io");
  for (;;) {
    try {
      state_->ioc.run();
      return;
    } catch (const std::exception& e) {
      SLUICE_LOG_ERROR("kafka: unexpected exception in an io thread: {}", e.what());
    }
  }
}

void KafkaServerImpl::RunWaker() {
  SetThreadName("kafka-waker");
  ChangeSignal& changed = state_->broker.log().visible_changed();
  uint64_t seen = changed.epoch();
  while (!state_->stopping.load()) {
    changed.WaitFor(seen, std::chrono::milliseconds(100));  // the timeout only checks stopping
    const uint64_t now = changed.epoch();
    if (now == seen) continue;
    seen = now;
    std::vector<std::weak_ptr<Connection>> pollers;
    {
      std::lock_guard lock(state_->pollers_mu);
      pollers.swap(state_->pollers);
    }
    for (const std::weak_ptr<Connection>& weak : pollers) {
      if (auto c = weak.lock()) c->WakePoll();
    }
  }
}

void KafkaServerImpl::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  ServerState& state = *state_;
  state.stopping.store(true);
  if (waker_.joinable()) waker_.join();
  asio::post(state.acceptor.get_executor(), [s = state_] {
    error_code ignored;
    s->acceptor.close(ignored);
    s->accept_retry.cancel();
  });
  auto live = [&] {
    std::vector<std::shared_ptr<Connection>> out;
    std::lock_guard lock(state.connections_mu);
    for (auto& [id, weak] : state.connections) {
      if (auto c = weak.lock()) out.push_back(std::move(c));
    }
    return out;
  };
  // Pending JoinGroup/SyncGroup requests are answered first (they may wait for minutes).
  state.broker.Stop();
  for (auto& c : live()) c->Shutdown();
  const auto deadline = std::chrono::steady_clock::now() + kDrainTimeout;
  while (state.connection_count.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (state.connection_count.load() > 0) {
    SLUICE_LOG_WARN("kafka: {} connection(s) still busy after {} s; closing them", state.connection_count.load(),
                    kDrainTimeout.count());
    for (auto& c : live()) c->Abort();
  }
  work_.reset();
  const auto exit_deadline = std::chrono::steady_clock::now() + kThreadExitTimeout;
  while (!state.ioc.stopped() && std::chrono::steady_clock::now() < exit_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  state.ioc.stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  SLUICE_LOG_INFO("kafka: stopped");
}

}  // namespace

std::unique_ptr<KafkaServer> KafkaServer::Create(KafkaOptions options, engine::Engine* engine,
                                                 MetricsRegistry* metrics) {
  return std::make_unique<KafkaServerImpl>(std::make_shared<ServerState>(std::move(options), engine, metrics));
}

}  // namespace sluice::server::kafka
