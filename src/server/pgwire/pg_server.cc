#include "server/pgwire/pg_server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "common/logging.h"
#include "server/io_context_pool.h"
#include "server/push_encoding.h"

namespace sluice::server::pgwire {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr size_t kReadBytes = 16 * 1024;
constexpr auto kDrainTimeout = std::chrono::seconds(5);
constexpr auto kThreadExitTimeout = std::chrono::seconds(2);
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);

class Connection;

// Everything connections share; owned jointly by the server and its connections so that a
// late handler never touches freed memory.
struct ServerState {
  ServerState(PgOptions opts, SessionConfig config, engine::Engine* eng, MetricsRegistry* metrics)
      : options(std::move(opts)),
        session_config(std::move(config)),
        engine(eng),
        network(options.io_threads),
        acceptor(network.first()),
        accept_retry(network.first()),
        pool(static_cast<size_t>(std::max(1, options.query_threads))) {
    open_connections = metrics->AddGauge("sluice_pgwire_connections", "Open PostgreSQL wire connections")->WithLabels({});
    accepted = metrics->AddCounter("sluice_pgwire_connections_total", "PostgreSQL wire connections accepted")
                   ->WithLabels({});
    auto* queries = metrics->AddCounter("sluice_pgwire_queries_total",
                                        "Statements run over the PostgreSQL wire protocol, by outcome", {"status"});
    session_metrics.queries_ok = queries->WithLabels({"ok"});
    session_metrics.queries_error = queries->WithLabels({"error"});
    session_metrics.auth_failures =
        metrics->AddCounter("sluice_pgwire_auth_failures_total", "Failed PostgreSQL wire authentications")
            ->WithLabels({});
    const SubscriptionMetrics subscriptions = SubscriptionMetrics::For(metrics, "pgwire");
    session_metrics.subscriptions = subscriptions.active;
    session_metrics.subscription_events = subscriptions.events;
    session_metrics.subscription_resyncs = subscriptions.resyncs;
    bytes_received = metrics->AddCounter("sluice_pgwire_bytes_received_total", "Bytes received on PostgreSQL wire connections")
                         ->WithLabels({});
    bytes_sent =
        metrics->AddCounter("sluice_pgwire_bytes_sent_total", "Bytes sent on PostgreSQL wire connections")->WithLabels({});
    const std::string seed = RandomBytes(4);
    uint32_t start = 0;
    std::memcpy(&start, seed.data(), 4);
    next_pid.store(static_cast<int32_t>(1000 + start % 100000));
  }

  // Cancels the running statement of backend `pid` if `secret` matches (CancelRequest).
  void Cancel(int32_t pid, int32_t secret);

  const PgOptions options;
  const SessionConfig session_config;
  engine::Engine* const engine;
  IoContextPool network;   // each connection on one of its threads
  tcp::acceptor acceptor;  // on network.first()
  asio::steady_timer accept_retry;
  asio::thread_pool pool;
  SessionMetrics session_metrics;
  Gauge* open_connections;
  Counter* accepted;
  Counter* bytes_received;
  Counter* bytes_sent;

  std::atomic<bool> stopping{false};
  std::atomic<int32_t> next_pid{1000};
  std::atomic<int64_t> connection_count{0};

  std::mutex connections_mu;
  std::unordered_map<int32_t, std::weak_ptr<Connection>> connections;  // by backend pid
};

bool IsLoopback(const asio::ip::address& a) {
  if (a.is_loopback()) return true;
  return a.is_v6() && a.to_v6().is_v4_mapped() &&
         asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
}

// One client connection. Socket work runs on the connection's io thread. Session::Process runs
// there too as long as it does not block (Progress::offload), and on the query pool from the
// step that may. Process never overlaps a write or a Feed: the io thread writes only between
// Process runs. While a SUBSCRIBE streams (Progress::wait) a read stays outstanding to see the
// client leave; bytes it brings while Process runs or output is being written wait in
// pending_input_ until the next Process.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<ServerState> state, tcp::socket socket, int32_t pid, int32_t secret, bool loopback)
      : state_(std::move(state)),
        socket_(std::move(socket)),
        write_timer_(socket_.get_executor()),
        auth_timer_(socket_.get_executor()),
        session_(&state_->session_config, state_->engine, state_->session_metrics, pid, secret, loopback,
                 [weak = std::weak_ptr<ServerState>(state_)](int32_t p, int32_t s) {
                   if (auto st = weak.lock()) st->Cancel(p, s);
                 }) {
    state_->open_connections->Inc();
    state_->connection_count.fetch_add(1);
  }

  ~Connection() {
    state_->open_connections->Dec();
    state_->connection_count.fetch_sub(1);
    std::lock_guard<std::mutex> lock(state_->connections_mu);
    auto it = state_->connections.find(session_.pid());
    if (it != state_->connections.end() && it->second.expired()) state_->connections.erase(it);
  }

  void Start(bool reject) {
    {
      std::lock_guard<std::mutex> lock(state_->connections_mu);
      state_->connections[session_.pid()] = weak_from_this();
    }
    session_.set_wake([weak = weak_from_this(), executor = socket_.get_executor()] {
      asio::post(executor, [weak] {
        if (auto self = weak.lock()) self->OnWake();
      });
    });
    asio::dispatch(socket_.get_executor(), [self = shared_from_this(), reject] {
      if (reject) {
        ErrorFields e;
        e.severity = "FATAL";
        e.sqlstate = "53300";
        e.message = "sorry, too many clients already";
        MessageWriter(&self->session_.output()).ErrorResponse(e);
        return self->WriteOutput({.close = true});
      }
      self->auth_timer_.expires_after(std::chrono::milliseconds(self->state_->options.auth_timeout_ms));
      self->auth_timer_.async_wait([self](error_code ec) {
        if (!ec && !self->session_.authenticated()) {
          SLUICE_LOG_DEBUG("pgwire: closing a connection that did not authenticate in time");
          self->CloseSocket();
        }
      });
      self->Read();
    });
  }

  // Thread-safe: posts to the connection's io thread. Idle connections are told FATAL 57P01 and closed;
  // busy ones when their statement ends.
  void Shutdown() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      if (self->reading_) {
        error_code ignored;
        self->socket_.cancel(ignored);
      }
    });
  }

  void Abort() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->CloseSocket(); });
  }

  Session& session() { return session_; }

 private:
  void Read() {
    if (state_->stopping.load() && !processing_ && !writing_) return TerminateAndClose();
    if (reading_ || closed_) return;
    reading_ = true;
    socket_.async_read_some(asio::buffer(read_buffer_), [self = shared_from_this()](error_code ec, size_t n) {
      self->reading_ = false;
      const bool busy = self->processing_ || self->writing_;
      if (ec) {
        if (ec == asio::error::operation_aborted && self->state_->stopping.load() && !self->closed_) {
          if (busy) return;  // AfterProcess / the write's completion sees `stopping`
          return self->TerminateAndClose();
        }
        return self->CloseSocket();  // client gone, or closed by a timer
      }
      self->state_->bytes_received->Inc(static_cast<double>(n));
      if (busy) {
        // A streaming SUBSCRIBE's connection: keep the bytes for the next Process.
        self->pending_input_.append(self->read_buffer_.data(), n);
        return;
      }
      self->waiting_ = false;
      self->session_.Feed(std::string_view(self->read_buffer_.data(), n));
      self->RunProcess();
    });
  }

  // The session's subscription has news (or a cancel came): process it now or after this run.
  void OnWake() {
    if (closed_) return;
    if (processing_ || writing_ || !waiting_) {
      wake_pending_ = true;
      return;
    }
    waiting_ = false;
    RunProcess();
  }

  void RunProcess() {
    if (!pending_input_.empty()) {
      session_.Feed(pending_input_);
      pending_input_.clear();
    }
    wake_pending_ = false;
    // Point queries and the protocol's own messages are answered here, on the network thread:
    // a hop to the pool and back costs two thread wake-ups, more than the query itself.
    const Session::Progress progress = session_.Process(/*may_block=*/false);
    if (!progress.offload) return AfterProcess(progress);
    processing_ = true;
    asio::post(state_->pool, [self = shared_from_this()] {
      const Session::Progress progress = self->session_.Process();
      asio::post(self->socket_.get_executor(), [self, progress] { self->AfterProcess(progress); });
    });
  }

  void AfterProcess(Session::Progress progress) {
    processing_ = false;
    if (session_.authenticated()) auth_timer_.cancel();
    if (state_->stopping.load() && !progress.close) {
      session_.Terminate();
      progress = {.close = true};
    }
    WriteOutput(progress);
  }

  void WriteOutput(Session::Progress progress) {
    if (closed_) return;
    if (session_.output().empty()) return Next(progress);
    write_buffer_.clear();
    write_buffer_.swap(session_.output());
    writing_ = true;
    write_timer_.expires_after(std::chrono::milliseconds(state_->options.write_timeout_ms));
    write_timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) {
        SLUICE_LOG_DEBUG("pgwire: closing a connection that does not read its results");
        self->CloseSocket();
      }
    });
    asio::async_write(socket_, asio::buffer(write_buffer_),
                      [self = shared_from_this(), progress](error_code ec, size_t n) {
                        self->writing_ = false;
                        self->write_timer_.cancel();
                        self->state_->bytes_sent->Inc(static_cast<double>(n));
                        if (ec) return self->CloseSocket();
                        self->Next(progress);
                      });
  }

  void Next(Session::Progress progress) {
    if (progress.close) return CloseSocket();
    if (state_->stopping.load() && !closed_) return TerminateAndClose();
    if (progress.more || !pending_input_.empty()) return RunProcess();
    if (progress.wait) {
      if (wake_pending_) return RunProcess();
      waiting_ = true;
    }
    Read();
  }

  void TerminateAndClose() {
    session_.Terminate();
    WriteOutput({.close = true});
  }

  void CloseSocket() {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    auth_timer_.cancel();
    write_timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  std::shared_ptr<ServerState> state_;
  tcp::socket socket_;
  asio::steady_timer write_timer_;
  asio::steady_timer auth_timer_;
  Session session_;
  std::array<char, kReadBytes> read_buffer_{};
  std::string write_buffer_;
  bool reading_ = false;
  bool closed_ = false;
  bool processing_ = false;    // Session::Process is running on the pool
  bool writing_ = false;       // output is being written
  bool waiting_ = false;       // a SUBSCRIBE waits for news (OnWake) or input
  bool wake_pending_ = false;  // news came while processing or writing
  std::string pending_input_;  // read while processing or writing
};

void ServerState::Cancel(int32_t pid, int32_t secret) {
  std::shared_ptr<Connection> target;
  {
    std::lock_guard<std::mutex> lock(connections_mu);
    auto it = connections.find(pid);
    if (it != connections.end()) target = it->second.lock();
  }
  // A wrong key is ignored silently, as PostgreSQL does.
  if (target && target->session().secret() == secret) {
    SLUICE_LOG_INFO("pgwire: cancel request for backend {}", pid);
    target->session().Cancel();
  }
}

void Accept(std::shared_ptr<ServerState> state) {
  state->acceptor.async_accept(state->network.Next(), [state](error_code ec, tcp::socket socket) {
    if (state->stopping.load() || ec == asio::error::operation_aborted) return;
    if (ec) {
      SLUICE_LOG_WARN("pgwire: accept failed: {}", ec.message());
      state->accept_retry.expires_after(kAcceptRetryDelay);
      state->accept_retry.async_wait([state](error_code wait_ec) {
        if (!wait_ec) Accept(state);
      });
      return;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    socket.set_option(asio::socket_base::keep_alive(true), ignored);
    const auto peer = socket.remote_endpoint(ignored);
    const bool loopback = !ignored && IsLoopback(peer.address());
    state->accepted->Inc();
    const bool reject = state->connection_count.load() >= state->options.max_connections;
    const int32_t pid = state->next_pid.fetch_add(1);
    const std::string key = RandomBytes(4);
    int32_t secret = 0;
    std::memcpy(&secret, key.data(), 4);
    std::make_shared<Connection>(state, std::move(socket), pid, secret, loopback)->Start(reject);
    Accept(state);
  });
}

class PgServerImpl final : public PgServer {
 public:
  explicit PgServerImpl(std::shared_ptr<ServerState> state) : state_(std::move(state)) {}
  ~PgServerImpl() override { Stop(); }

  Status Start() override;
  uint16_t port() const override { return port_; }
  void Stop() override;

 private:
  std::shared_ptr<ServerState> state_;
  uint16_t port_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

Status PgServerImpl::Start() {
  if (started_) return Status::FailedPrecondition("PostgreSQL listener already started");
  const PgOptions& options = state_->options;
  error_code ec;
  const asio::ip::address address = asio::ip::make_address(options.bind, ec);
  if (ec) return Status::InvalidArgument("bad bind address '" + options.bind + "': " + ec.message());
  const tcp::endpoint endpoint(address, options.port);
  tcp::acceptor& acceptor = state_->acceptor;
  const auto fail = [&](std::string_view what) {
    error_code ignored;
    acceptor.close(ignored);
    return Status::Unavailable(fmt::format("PostgreSQL listener {} {}:{}: {}", what, options.bind, options.port, ec.message()));
  };
  if (acceptor.open(endpoint.protocol(), ec); ec) return fail("cannot open socket for");
  if (acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec) return fail("cannot set SO_REUSEADDR for");
  if (acceptor.bind(endpoint, ec); ec) return fail("cannot bind");
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) return fail("cannot listen on");
  port_ = acceptor.local_endpoint(ec).port();
  if (ec) return fail("cannot read the bound port of");

  started_ = true;
  Accept(state_);
  state_->network.Start("pg-io", "pgwire");
  SLUICE_LOG_INFO("pgwire: listening on {}:{} (auth {}, {} user(s))", options.bind, port_, AuthMethodName(options.auth),
                  options.users.size());
  return Status::Ok();
}

void PgServerImpl::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  ServerState& state = *state_;
  state.stopping.store(true);
  asio::post(state.acceptor.get_executor(), [s = state_] {
    error_code ignored;
    s->acceptor.close(ignored);
    s->accept_retry.cancel();
  });
  auto live = [&] {
    std::vector<std::shared_ptr<Connection>> out;
    std::lock_guard<std::mutex> lock(state.connections_mu);
    for (auto& [pid, weak] : state.connections) {
      if (auto c = weak.lock()) out.push_back(std::move(c));
    }
    return out;
  };
  // Idle connections get FATAL 57P01 now; busy ones when their statement ends.
  for (auto& c : live()) c->Shutdown();
  const auto deadline = std::chrono::steady_clock::now() + kDrainTimeout;
  while (state.connection_count.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (state.connection_count.load() > 0) {
    SLUICE_LOG_WARN("pgwire: {} connection(s) still busy after {} s; closing them", state.connection_count.load(),
                    kDrainTimeout.count());
    for (auto& c : live()) c->Abort();
  }
  state.network.Stop(kThreadExitTimeout);
  state.pool.join();
  SLUICE_LOG_INFO("pgwire: stopped");
}

}  // namespace

Result<std::unique_ptr<PgServer>> PgServer::Create(PgOptions options, engine::Engine* engine, MetricsRegistry* metrics) {
  SessionConfig config;
  config.auth = options.auth;
  config.max_message_bytes = options.max_message_bytes;
  for (const PgUser& u : options.users) {
    if (u.name.empty()) return Status::InvalidArgument("[pgwire] users: a user needs a name");
    if (config.users.contains(u.name)) {
      return Status::InvalidArgument(fmt::format("[pgwire] users: user \"{}\" is listed twice", u.name));
    }
    if (u.password.starts_with("SCRAM-SHA-256$")) {
      SLUICE_ASSIGN_OR_RETURN(ScramSecret secret, ParseScramSecret(u.password));
      config.users.emplace(u.name, std::move(secret));
    } else {
      if (u.password.empty()) {
        return Status::InvalidArgument(fmt::format("[pgwire] users: user \"{}\" needs a password", u.name));
      }
      config.users.emplace(u.name, MakeScramSecret(u.password));
    }
  }
  if ((options.auth == AuthMethod::kPassword || options.auth == AuthMethod::kScram) && config.users.empty()) {
    return Status::InvalidArgument(
        fmt::format("[pgwire] auth = \"{}\" needs at least one entry in [[pgwire.users]]", AuthMethodName(options.auth)));
  }
  auto state = std::make_shared<ServerState>(std::move(options), std::move(config), engine, metrics);
  return std::unique_ptr<PgServer>(std::make_unique<PgServerImpl>(std::move(state)));
}

}  // namespace sluice::server::pgwire
