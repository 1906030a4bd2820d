#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/metrics.h"
#include "engine/engine.h"
#include "server/pgwire/protocol.h"
#include "server/pgwire/query_text.h"
#include "server/pgwire/scram.h"

namespace sluice::server::pgwire {

enum class AuthMethod : uint8_t {
  kTrustLoopback,  // the default: trust clients on loopback, refuse others
  kTrust,          // trust everyone (any user name)
  kPassword,       // cleartext password (AuthenticationCleartextPassword)
  kScram,          // SCRAM-SHA-256
};

std::string_view AuthMethodName(AuthMethod method);
Result<AuthMethod> ParseAuthMethod(std::string_view name);

// What every session of one listener shares. Immutable once the listener starts.
struct SessionConfig {
  AuthMethod auth = AuthMethod::kTrustLoopback;
  std::map<std::string, ScramSecret, std::less<>> users;
  std::string mock_salt_key = RandomBytes(32);  // derives salts for unknown users (SCRAM)
  size_t max_message_bytes = 16u << 20;
  std::string server_version = "15.0 (sluice)";
};

// Counters a session bumps; any may be null (tests).
struct SessionMetrics {
  Counter* queries_ok = nullptr;
  Counter* queries_error = nullptr;
  Counter* auth_failures = nullptr;
  Gauge* subscriptions = nullptr;           // SUBSCRIBE statements streaming now
  Counter* subscription_events = nullptr;   // snapshots and change batches sent
  Counter* subscription_resyncs = nullptr;  // subscribers ended for falling behind
};

// One PostgreSQL connection's protocol state machine, independent of sockets and threads:
// bytes go in with Feed, Process consumes every complete message (calling the engine
// synchronously) and leaves the reply bytes in output(). The caller writes them and then
// either calls Process again (Progress::more: output was cut at the high-water mark while rows
// were pending) or reads more input. Not thread-safe, except Cancel().
class Session {
 public:
  // Called when this connection turns out to be a CancelRequest for another backend.
  using CancelHandler = std::function<void(int32_t pid, int32_t secret)>;

  Session(const SessionConfig* config, engine::Engine* engine, SessionMetrics metrics, int32_t pid, int32_t secret,
          bool peer_is_loopback, CancelHandler on_cancel);

  void Feed(std::string_view bytes);

  struct Progress {
    bool close = false;  // write output(), then close the connection
    bool more = false;   // write output(), then call Process again without reading
    // A SUBSCRIBE is streaming: write output(), then call Process again when the wake function
    // runs (new changes, a cancel) or input arrives; keep reading to see the client leave.
    bool wait = false;
    // Only with `may_block` false: the next step may block (a statement that is not a point
    // query, a catalog query, a subscription). Nothing of it has been done; write nothing yet
    // and call Process again, with `may_block` true, on a thread that may block.
    bool offload = false;
  };
  // `may_block` false: for a network thread. Point queries on views, session commands (SET,
  // SHOW of a setting, transactions) and the protocol's own messages run; anything that could
  // wait ends the call with Progress::offload.
  Progress Process(bool may_block = true);

  std::string& output() { return output_; }

  // Asks the running statement (if any) to stop: its result is dropped and the client gets
  // SQLSTATE 57014. The engine itself finishes the statement. Thread-safe.
  void Cancel() {
    cancel_.store(true, std::memory_order_relaxed);
    if (wake_) wake_();
  }

  // How a streaming SUBSCRIBE asks to be processed again (Progress::wait). Runs on any thread and
  // must not block. REQUIRES: set before the first Process.
  void set_wake(std::function<void()> wake) { wake_ = std::move(wake); }

  // Appends FATAL 57P01 ("terminating connection due to administrator command").
  void Terminate();

  bool authenticated() const { return phase_ == Phase::kReady; }
  int32_t pid() const { return pid_; }
  int32_t secret() const { return secret_; }
  const std::string& user() const { return user_; }

  // Output beyond this is written before more rows are encoded.
  static constexpr size_t kOutputHighWater = 256 * 1024;

 private:
  enum class Phase : uint8_t { kStartup, kPassword, kSaslInitial, kSaslFinal, kReady, kClosed };

  struct PreparedStatement {
    std::string query;
    std::vector<uint32_t> param_types;  // one per parameter; 0 = unspecified
    bool empty = false;                 // no statement in the text
  };

  struct Portal {
    std::string sql;  // with parameters substituted
    std::vector<int16_t> result_format_codes;
    bool empty = false;
    bool executed = false;
    std::shared_ptr<engine::StatementResult> result;  // once run
    std::vector<int16_t> formats;                     // resolved per result column
    size_t next_row = 0;
    bool subscribed = false;  // a SUBSCRIBE that has streamed (a portal runs it once)
  };

  // Rows being sent: of a simple query's statement or of a portal's Execute.
  struct RowStream {
    std::shared_ptr<engine::StatementResult> result;
    std::vector<int16_t> formats;  // empty = all text
    size_t next = 0;
    size_t end = 0;
    Portal* portal = nullptr;  // set for Execute
    size_t sent = 0;
  };

  // A SUBSCRIBE streaming its rows: mz_timestamp, mz_diff, then the view's columns.
  struct SubscribeStream {
    std::unique_ptr<engine::Subscription> sub;
    std::vector<int16_t> formats;  // empty = all text
    bool extended = false;         // started by Execute (errors skip to Sync)
    bool snapshot = true;          // WITH (SNAPSHOT = false): the first snapshot's rows are not sent
    bool first = true;             // the first snapshot is still to come
    bool idle = false;             // the last poll found nothing
  };

  struct SimpleQuery {
    std::string text;
    std::vector<StatementSpan> spans;
    size_t next = 0;
  };

  // ---- startup and authentication
  void HandleStartup(std::string_view body);
  void HandleAuthMessage(const Frame& frame);
  void CompleteAuthentication();
  void Fatal(std::string_view sqlstate, std::string message);
  void AuthFailed();

  // ---- messages after startup
  void HandleMessage(const Frame& frame);
  void HandleQuery(std::string_view body);
  void HandleParse(std::string_view body);
  void HandleBind(std::string_view body);
  void HandleDescribe(std::string_view body);
  void HandleExecute(std::string_view body);
  void HandleClose(std::string_view body);
  void HandleSync();

  void RunNextSimpleStatement();
  void PumpRows();
  // SUBSCRIBE: starts the subscription (RowDescription is the caller's), streams, ends.
  Result<std::vector<FieldDescription>> StartSubscription(const engine::SubscribeRequest& request, bool snapshot,
                                                          const std::vector<int16_t>& format_codes, bool extended);
  void PumpSubscription();
  void EndSubscription(const ErrorFields& e);
  // The columns a SUBSCRIBE returns, without subscribing.
  Result<std::vector<engine::ResultColumn>> SubscribeColumns(const engine::SubscribeRequest& request);
  // An error in the extended protocol: report it and skip messages until Sync.
  void ExtendedError(const ErrorFields& e);
  void SendError(const ErrorFields& e);
  void SendNotice(std::string_view sqlstate, std::string message);

  // Runs one statement: the edge's own commands (transactions, SET, SHOW of settings, catalog
  // queries) or the engine. `engine_text` is placed at the statement's position in
  // `client_text` so that engine positions refer to the latter.
  Result<engine::StatementResult> RunStatement(std::string_view statement, std::string_view engine_text);
  // The columns a statement returns, without running engine statements.
  Result<std::vector<engine::ResultColumn>> DescribeStatement(std::string_view statement);
  std::optional<Result<engine::StatementResult>> RunSessionCommand(std::string_view statement, bool describe_only);
  bool ReturnsRows(std::string_view statement) const;
  void CountQuery(bool ok);
  // With `may_block_` false: marks the current step for a thread that may block.
  Status Offload();
  ErrorFields CanceledError();

  std::vector<engine::ResultColumn> SettingColumns(std::string_view name) const;

  const SessionConfig* config_;
  engine::Engine* engine_;
  SessionMetrics metrics_;
  const int32_t pid_;
  const int32_t secret_;
  const bool peer_is_loopback_;
  CancelHandler on_cancel_;

  Phase phase_ = Phase::kStartup;
  std::string input_;
  size_t input_pos_ = 0;
  std::string output_;
  bool close_ = false;
  bool may_block_ = true;  // of the running Process call
  bool offload_ = false;   // a handler stopped before a step that may block (Progress::offload)

  std::string user_;
  std::string database_;
  std::map<std::string, std::string, std::less<>> settings_;  // SET values, by lower-case name
  std::unique_ptr<ScramServer> scram_;
  bool user_known_ = false;

  TransactionStatus txn_ = TransactionStatus::kIdle;
  bool skip_until_sync_ = false;
  std::map<std::string, PreparedStatement, std::less<>> statements_;
  std::map<std::string, Portal, std::less<>> portals_;
  std::optional<SimpleQuery> simple_;
  std::optional<RowStream> stream_;
  std::optional<SubscribeStream> subscribe_;
  std::function<void()> wake_;
  std::atomic<bool> cancel_{false};
};

}  // namespace sluice::server::pgwire
