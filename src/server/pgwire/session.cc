#include "server/pgwire/session.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/logging.h"
#include "server/pgwire/catalog_queries.h"
#include "server/pgwire/errors.h"
#include "server/pgwire/pg_types.h"

namespace sluice::server::pgwire {
namespace {

constexpr std::string_view kScramMechanism = "SCRAM-SHA-256";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

ErrorFields Error(std::string_view sqlstate, std::string message) {
  ErrorFields e;
  e.sqlstate = std::string(sqlstate);
  e.message = std::move(message);
  return e;
}

engine::StatementResult Command(std::string tag) {
  engine::StatementResult r;
  r.command = std::move(tag);
  return r;
}

bool IsTransactionEnd(std::string_view keyword) {
  return keyword == "commit" || keyword == "end" || keyword == "rollback" || keyword == "abort";
}

// Settings a client may SET and SHOW; the values sluice actually runs with cannot change.
struct Setting {
  std::string_view name;  // as PostgreSQL spells it
  std::string_view value;
  bool reported;          // sent as ParameterStatus
  bool fixed;             // SET to another value is an error
};

constexpr Setting kSettings[] = {
    {"application_name", "", true, false},
    {"client_encoding", "UTF8", true, true},
    {"DateStyle", "ISO, MDY", true, true},
    {"default_transaction_read_only", "off", true, false},
    {"extra_float_digits", "1", false, false},
    {"in_hot_standby", "off", true, true},
    {"integer_datetimes", "on", true, true},
    {"IntervalStyle", "postgres", true, true},
    {"is_superuser", "on", true, true},
    {"lc_collate", "C", false, true},
    {"lc_ctype", "C", false, true},
    {"max_identifier_length", "63", false, true},
    {"search_path", "\"$user\", public", false, false},
    {"server_encoding", "UTF8", true, true},
    {"server_version", "", true, true},  // from the config
    {"server_version_num", "150000", false, true},
    {"standard_conforming_strings", "on", true, true},
    {"statement_timeout", "0", false, false},
    {"TimeZone", "UTC", true, true},
    {"transaction_isolation", "read committed", false, false},
    {"transaction_read_only", "off", false, false},
    {"default_transaction_isolation", "read committed", false, false},
};

const Setting* FindSetting(std::string_view name) {
  const std::string lower = Lower(name);
  for (const Setting& s : kSettings) {
    if (Lower(s.name) == lower) return &s;
  }
  return nullptr;
}

// Values a fixed setting may be SET to without changing what sluice does.
bool AcceptsFixedValue(const Setting& s, std::string_view value) {
  const std::string v = Lower(value);
  const std::string name = Lower(s.name);
  if (name == "client_encoding") return v == "utf8" || v == "utf-8" || v == "unicode";
  if (name == "timezone") return v == "utc" || v == "etc/utc" || v == "gmt" || v == "z" || v == "zulu" || v == "+00" || v == "0";
  if (name == "datestyle") {
    // "ISO", "ISO, MDY", "iso,ymd": ISO output is what matters; the order only affects input.
    return v.find("iso") != std::string::npos && v.find("sql") == std::string::npos &&
           v.find("postgres") == std::string::npos && v.find("german") == std::string::npos;
  }
  return v == Lower(s.value);
}

// Strips one pair of quotes from a SET value ('x', "x") and surrounding space.
std::string SettingValue(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\n')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n' || text.back() == ';')) {
    text.remove_suffix(1);
  }
  if (text.size() >= 2 && (text.front() == '\'' || text.front() == '"') && text.back() == text.front()) {
    text = text.substr(1, text.size() - 2);
  }
  return std::string(text);
}

// SUBSCRIBE [TO] name | SUBSCRIBE [TO] (SELECT ...) [WITH (SNAPSHOT [=] true | false)]
// (Materialize's syntax; its other options are not supported). nullopt: not a SUBSCRIBE.
struct SubscribeStatement {
  engine::SubscribeRequest request;
  bool snapshot = true;
};

void SkipSpace(std::string_view text, size_t* i) {
  while (*i < text.size()) {
    const size_t next = text[*i] == '-' || text[*i] == '/' ? SkipQuoted(text, *i) : *i;
    if (next != *i) {
      *i = next;
    } else if (text[*i] == ' ' || text[*i] == '\t' || text[*i] == '\n' || text[*i] == '\r') {
      ++*i;
    } else {
      break;
    }
  }
}

bool IsWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         static_cast<unsigned char>(c) >= 0x80;
}

std::string ReadWord(std::string_view text, size_t* i) {
  const size_t begin = *i;
  while (*i < text.size() && IsWordChar(text[*i])) ++*i;
  return Lower(text.substr(begin, *i - begin));
}

Status SyntaxErrorAt(std::string_view text, size_t i) {
  std::string_view near = text.substr(i, 16);
  near = near.substr(0, near.find_first_of(" \t\n"));
  if (near.empty()) return Status::InvalidArgument("syntax error at end of input");
  return Status::InvalidArgument(fmt::format("syntax error at or near \"{}\"", near));
}

std::optional<Result<SubscribeStatement>> ParseSubscribe(std::string_view text) {
  size_t i = 0;
  SkipSpace(text, &i);
  if (ReadWord(text, &i) != "subscribe") return std::nullopt;
  SubscribeStatement out;
  SkipSpace(text, &i);
  const size_t before_to = i;
  if (ReadWord(text, &i) != "to") i = before_to;
  SkipSpace(text, &i);
  if (i < text.size() && text[i] == '(') {
    // The query runs to the matching parenthesis.
    int depth = 0;
    const size_t begin = i + 1;
    size_t end = std::string_view::npos;
    for (size_t j = i; j < text.size();) {
      const size_t skipped = SkipQuoted(text, j);
      if (skipped != j) {
        j = skipped;
        continue;
      }
      if (text[j] == '(') ++depth;
      if (text[j] == ')' && --depth == 0) {
        end = j;
        break;
      }
      ++j;
    }
    if (end == std::string_view::npos) return Result<SubscribeStatement>(SyntaxErrorAt(text, text.size()));
    out.request.sql = std::string(text.substr(begin, end - begin));
    i = end + 1;
  } else if (i < text.size() && text[i] == '"') {
    const size_t close = text.find('"', i + 1);
    if (close == std::string_view::npos) return Result<SubscribeStatement>(SyntaxErrorAt(text, i));
    out.request.view = std::string(text.substr(i + 1, close - i - 1));
    i = close + 1;
  } else {
    out.request.view = ReadWord(text, &i);
    if (out.request.view.empty()) return Result<SubscribeStatement>(SyntaxErrorAt(text, i));
  }
  SkipSpace(text, &i);
  if (i < text.size()) {
    const size_t at = i;
    if (ReadWord(text, &i) != "with") return Result<SubscribeStatement>(SyntaxErrorAt(text, at));
    SkipSpace(text, &i);
    if (i >= text.size() || text[i] != '(') return Result<SubscribeStatement>(SyntaxErrorAt(text, i));
    ++i;
    SkipSpace(text, &i);
    const size_t option_at = i;
    if (ReadWord(text, &i) != "snapshot") {
      return Result<SubscribeStatement>(Status::InvalidArgument(fmt::format(
          "not supported yet: SUBSCRIBE option \"{}\" (supported: SNAPSHOT)", ReadWord(text, &(i = option_at)))));
    }
    SkipSpace(text, &i);
    if (i < text.size() && text[i] == '=') ++i;
    SkipSpace(text, &i);
    const size_t value_at = i;
    const std::string value = ReadWord(text, &i);
    if (value == "false" || value == "off") {
      out.snapshot = false;
    } else if (value != "true" && value != "on" && !value.empty()) {
      return Result<SubscribeStatement>(SyntaxErrorAt(text, value_at));
    }
    SkipSpace(text, &i);
    if (i >= text.size() || text[i] != ')') return Result<SubscribeStatement>(SyntaxErrorAt(text, i));
    ++i;
    SkipSpace(text, &i);
    if (i < text.size()) return Result<SubscribeStatement>(SyntaxErrorAt(text, i));
  }
  return Result<SubscribeStatement>(std::move(out));
}

}  // namespace

std::string_view AuthMethodName(AuthMethod method) {
  switch (method) {
    case AuthMethod::kTrustLoopback: return "trust-loopback";
    case AuthMethod::kTrust: return "trust";
    case AuthMethod::kPassword: return "password";
    case AuthMethod::kScram: return "scram-sha-256";
  }
  return "?";
}

Result<AuthMethod> ParseAuthMethod(std::string_view name) {
  if (name == "trust-loopback") return AuthMethod::kTrustLoopback;
  if (name == "trust") return AuthMethod::kTrust;
  if (name == "password") return AuthMethod::kPassword;
  if (name == "scram-sha-256") return AuthMethod::kScram;
  return Status::InvalidArgument(
      fmt::format("unknown auth method '{}' (known: trust-loopback, trust, password, scram-sha-256)", name));
}

Session::Session(const SessionConfig* config, engine::Engine* engine, SessionMetrics metrics, int32_t pid,
                 int32_t secret, bool peer_is_loopback, CancelHandler on_cancel)
    : config_(config),
      engine_(engine),
      metrics_(metrics),
      pid_(pid),
      secret_(secret),
      peer_is_loopback_(peer_is_loopback),
      on_cancel_(std::move(on_cancel)) {}

void Session::Feed(std::string_view bytes) {
  // Drop what was consumed before growing the buffer again.
  if (input_pos_ > 0 && input_pos_ * 2 >= input_.size()) {
    input_.erase(0, input_pos_);
    input_pos_ = 0;
  }
  input_.append(bytes);
}

Session::Progress Session::Process(bool may_block) {
  may_block_ = may_block;
  for (;;) {
    if (close_ || phase_ == Phase::kClosed) return {.close = true};
    if (output_.size() >= kOutputHighWater) return {.more = true};
    if (subscribe_) {
      if (!may_block_) return {.offload = true};
      PumpSubscription();
      if (subscribe_ && subscribe_->idle) {
        subscribe_->idle = false;
        return {.wait = true};
      }
      continue;
    }
    if (stream_) {
      PumpRows();
      continue;
    }
    if (simple_) {
      RunNextSimpleStatement();
      if (offload_) {
        offload_ = false;
        return {.offload = true};
      }
      continue;
    }
    const std::string_view input = std::string_view(input_).substr(input_pos_);
    size_t consumed = 0;
    if (phase_ == Phase::kStartup) {
      auto frame = DecodeStartupFrame(input, &consumed);
      if (!frame.ok()) {
        Fatal(sqlstate::kProtocolViolation, frame.status().message());
        continue;
      }
      if (!frame->has_value()) return {};
      input_pos_ += consumed;
      HandleStartup(**frame);
      continue;
    }
    auto frame = DecodeFrame(input, config_->max_message_bytes, &consumed);
    if (!frame.ok()) {
      Fatal(frame.status().code() == StatusCode::kTooLarge ? sqlstate::kProgramLimitExceeded
                                                          : sqlstate::kProtocolViolation,
            frame.status().message());
      continue;
    }
    if (!frame->has_value()) return {};
    const size_t frame_start = input_pos_;
    input_pos_ += consumed;
    if (phase_ == Phase::kReady) {
      HandleMessage(**frame);
      if (offload_) {
        offload_ = false;
        input_pos_ = frame_start;  // handled again where blocking is allowed
        return {.offload = true};
      }
    } else {
      HandleAuthMessage(**frame);
    }
  }
}

void Session::Terminate() {
  if (phase_ == Phase::kClosed) return;
  Fatal(sqlstate::kAdminShutdown, "terminating connection due to administrator command");
}

void Session::Fatal(std::string_view sqlstate, std::string message) {
  ErrorFields e = Error(sqlstate, std::move(message));
  e.severity = "FATAL";
  MessageWriter(&output_).ErrorResponse(e);
  phase_ = Phase::kClosed;
  close_ = true;
  stream_.reset();
  simple_.reset();
  if (subscribe_ && metrics_.subscriptions != nullptr) metrics_.subscriptions->Dec();
  subscribe_.reset();
}

void Session::SendError(const ErrorFields& e) { MessageWriter(&output_).ErrorResponse(e); }

void Session::SendNotice(std::string_view sqlstate, std::string message) {
  ErrorFields e = Error(sqlstate, std::move(message));
  e.severity = "WARNING";
  MessageWriter(&output_).NoticeResponse(e);
}

void Session::CountQuery(bool ok) {
  Counter* c = ok ? metrics_.queries_ok : metrics_.queries_error;
  if (c != nullptr) c->Inc();
}

ErrorFields Session::CanceledError() { return Error(sqlstate::kQueryCanceled, "canceling statement due to user request"); }

// ---- startup and authentication ------------------------------------------------------------

void Session::HandleStartup(std::string_view body) {
  auto packet = ParseStartupPacket(body);
  if (!packet.ok()) return Fatal(sqlstate::kProtocolViolation, packet.status().message());
  switch (packet->kind) {
    case StartupKind::kSslRequest:
    case StartupKind::kGssEncRequest:
      // No TLS or GSSAPI encryption here: 'N' tells the client to go on in plain text.
      output_.push_back('N');
      return;
    case StartupKind::kCancel:
      if (on_cancel_) on_cancel_(packet->cancel_pid, packet->cancel_secret);
      close_ = true;  // a cancel connection gets no answer
      return;
    case StartupKind::kStartup:
      break;
  }
  const int32_t major = packet->protocol >> 16;
  const int32_t minor = packet->protocol & 0xFFFF;
  if (major != 3) {
    return Fatal(sqlstate::kFeatureNotSupported,
                 fmt::format("unsupported frontend protocol {}.{}: server supports 3.0 to 3.0", major, minor));
  }
  std::vector<std::string> unknown_options;
  for (auto& [name, value] : packet->params) {
    if (name == "user") {
      user_ = value;
    } else if (name == "database") {
      database_ = value;
    } else if (name.starts_with("_pq_.")) {
      unknown_options.push_back(name);
    } else if (name == "application_name") {
      settings_["application_name"] = value;
    }
    // Other parameters (client_encoding, options, DateStyle...) are accepted: the
    // ParameterStatus messages below tell the client what the server really uses.
  }
  if (minor > 0 || !unknown_options.empty()) MessageWriter(&output_).NegotiateProtocolVersion(0, unknown_options);
  if (user_.empty()) return Fatal(sqlstate::kInvalidAuthorization, "no PostgreSQL user name specified in startup packet");
  if (database_.empty()) database_ = user_;

  MessageWriter w(&output_);
  switch (config_->auth) {
    case AuthMethod::kTrustLoopback:
      if (!peer_is_loopback_) {
        if (metrics_.auth_failures != nullptr) metrics_.auth_failures->Inc();
        return Fatal(sqlstate::kInvalidAuthorization,
                     "connections from non-loopback addresses need authentication: set [pgwire] auth and users");
      }
      return CompleteAuthentication();
    case AuthMethod::kTrust:
      return CompleteAuthentication();
    case AuthMethod::kPassword:
      w.AuthenticationCleartextPassword();
      phase_ = Phase::kPassword;
      return;
    case AuthMethod::kScram: {
      auto it = config_->users.find(user_);
      user_known_ = it != config_->users.end();
      ScramSecret secret;
      if (user_known_) {
        secret = it->second;
      } else {
        // An unknown user goes through the same exchange with a salt that is stable per name and
        // fails at the end, so the server does not reveal which users exist.
        secret = MockScramSecret(config_->mock_salt_key, user_);
      }
      scram_ = std::make_unique<ScramServer>(std::move(secret), Base64Encode(RandomBytes(kScramNonceBytes)));
      w.AuthenticationSasl(kScramMechanism);
      phase_ = Phase::kSaslInitial;
      return;
    }
  }
}

void Session::AuthFailed() {
  if (metrics_.auth_failures != nullptr) metrics_.auth_failures->Inc();
  Fatal(sqlstate::kInvalidPassword, fmt::format("password authentication failed for user \"{}\"", user_));
}

void Session::HandleAuthMessage(const Frame& frame) {
  if (frame.type != 'p') {
    return Fatal(sqlstate::kProtocolViolation,
                 fmt::format("expected password response, got message type {}", static_cast<int>(frame.type)));
  }
  switch (phase_) {
    case Phase::kPassword: {
      auto password = ParsePasswordMessage(frame.body);
      if (!password.ok()) return Fatal(sqlstate::kProtocolViolation, password.status().message());
      auto it = config_->users.find(user_);
      if (it == config_->users.end() || !CheckPassword(it->second, *password)) return AuthFailed();
      return CompleteAuthentication();
    }
    case Phase::kSaslInitial: {
      auto initial = ParseSaslInitialResponse(frame.body);
      if (!initial.ok()) return Fatal(sqlstate::kProtocolViolation, initial.status().message());
      if (initial->mechanism != kScramMechanism) {
        return Fatal(sqlstate::kProtocolViolation, "client selected an invalid SASL authentication mechanism");
      }
      if (!initial->data.has_value()) return Fatal(sqlstate::kProtocolViolation, "SASLInitialResponse without data");
      auto server_first = scram_->ClientFirst(*initial->data);
      if (!server_first.ok()) return Fatal(sqlstate::kProtocolViolation, server_first.status().message());
      MessageWriter(&output_).AuthenticationSaslContinue(*server_first);
      phase_ = Phase::kSaslFinal;
      return;
    }
    case Phase::kSaslFinal: {
      auto server_final = scram_->ClientFinal(frame.body);
      if (!server_final.ok()) {
        if (server_final.status().code() == StatusCode::kFailedPrecondition) return AuthFailed();
        return Fatal(sqlstate::kProtocolViolation, server_final.status().message());
      }
      if (!user_known_) return AuthFailed();
      MessageWriter(&output_).AuthenticationSaslFinal(*server_final);
      scram_.reset();
      return CompleteAuthentication();
    }
    default:
      return Fatal(sqlstate::kProtocolViolation, "unexpected authentication message");
  }
}

void Session::CompleteAuthentication() {
  MessageWriter w(&output_);
  w.AuthenticationOk();
  for (const Setting& s : kSettings) {
    if (!s.reported) continue;
    std::string value(s.value);
    if (s.name == "server_version") value = config_->server_version;
    if (s.name == "application_name") value = settings_["application_name"];
    w.ParameterStatus(s.name, value);
  }
  w.ParameterStatus("session_authorization", user_);
  w.BackendKeyData(pid_, secret_);
  w.ReadyForQuery(txn_);
  phase_ = Phase::kReady;
}

// ---- messages after startup ------------------------------------------------------------------

void Session::HandleMessage(const Frame& frame) {
  if (skip_until_sync_ && frame.type != 'S' && frame.type != 'X') return;
  switch (frame.type) {
    case 'Q': return HandleQuery(frame.body);
    case 'P': return HandleParse(frame.body);
    case 'B': return HandleBind(frame.body);
    case 'D': return HandleDescribe(frame.body);
    case 'E': return HandleExecute(frame.body);
    case 'C': return HandleClose(frame.body);
    case 'S': return HandleSync();
    case 'H': return;  // Flush: everything produced so far is written anyway
    case 'X':
      phase_ = Phase::kClosed;
      close_ = true;
      return;
    case 'd':
    case 'c':
    case 'f':
      return;  // CopyData/CopyDone/CopyFail outside COPY are ignored, as PostgreSQL does
    case 'F': {
      SendError(Error(sqlstate::kFeatureNotSupported, "not supported yet: the function call protocol"));
      MessageWriter(&output_).ReadyForQuery(txn_);
      return;
    }
    case 'p':
      return Fatal(sqlstate::kProtocolViolation, "unexpected password message after authentication");
    default:
      return Fatal(sqlstate::kProtocolViolation,
                   fmt::format("invalid frontend message type {}", static_cast<int>(static_cast<unsigned char>(frame.type))));
  }
}

void Session::HandleQuery(std::string_view body) {
  auto query = ParseQueryMessage(body);
  if (!query.ok()) return Fatal(sqlstate::kProtocolViolation, query.status().message());
  cancel_.store(false, std::memory_order_relaxed);
  // A simple query ends any unnamed portal (as its implicit transaction would).
  portals_.erase("");
  SimpleQuery q;
  q.text = std::string(*query);
  q.spans = SplitStatements(q.text);
  if (q.spans.empty()) {
    MessageWriter w(&output_);
    w.EmptyQueryResponse();
    w.ReadyForQuery(txn_);
    return;
  }
  simple_ = std::move(q);
}

void Session::RunNextSimpleStatement() {
  SimpleQuery& q = *simple_;
  if (q.next >= q.spans.size()) {
    simple_.reset();
    MessageWriter(&output_).ReadyForQuery(txn_);
    return;
  }
  const StatementSpan span = q.spans[q.next++];
  const std::string_view statement = std::string_view(q.text).substr(span.offset, span.length);
  auto fail = [&](const ErrorFields& e) {
    SendError(e);
    CountQuery(false);
    if (txn_ == TransactionStatus::kInBlock) txn_ = TransactionStatus::kFailed;
    simple_.reset();
    MessageWriter(&output_).ReadyForQuery(txn_);
  };
  if (txn_ == TransactionStatus::kFailed && !IsTransactionEnd(FirstKeyword(statement))) {
    return fail(Error(sqlstate::kInFailedTransaction,
                      "current transaction is aborted, commands ignored until end of transaction block"));
  }
  if (auto subscribe = ParseSubscribe(statement)) {
    if (!subscribe->ok()) return fail(ErrorFromStatus(subscribe->status(), q.text));
    if (!may_block_) {
      --q.next;
      (void)Offload();
      return;
    }
    auto fields = StartSubscription((*subscribe)->request, (*subscribe)->snapshot, {}, /*extended=*/false);
    if (!fields.ok()) return fail(ErrorFromStatus(fields.status(), q.text));
    MessageWriter(&output_).RowDescription(*fields);
    return;
  }
  auto result = RunStatement(statement, PlaceAtOriginalPosition(q.text, span));
  if (offload_) {
    --q.next;
    return;
  }
  if (cancel_.exchange(false, std::memory_order_relaxed)) return fail(CanceledError());
  if (!result.ok()) return fail(ErrorFromStatus(result.status(), q.text));
  CountQuery(true);
  if (result->columns.empty()) {
    MessageWriter(&output_).CommandComplete(result->command);
    return;
  }
  std::vector<FieldDescription> fields;
  fields.reserve(result->columns.size());
  for (const engine::ResultColumn& c : result->columns) fields.push_back(DescribeField(c.name, c.type, 0));
  MessageWriter(&output_).RowDescription(fields);
  RowStream s;
  s.result = std::make_shared<engine::StatementResult>(std::move(result).value());
  s.end = s.result->rows.size();
  stream_ = std::move(s);
}

void Session::PumpRows() {
  RowStream& s = *stream_;
  MessageWriter w(&output_);
  size_t n = 0;
  while (s.next < s.end && output_.size() < kOutputHighWater) {
    AppendDataRow(s.result->rows[s.next], s.formats, &w);
    ++s.next;
    ++s.sent;
    if (++n % 1024 == 0 && cancel_.load(std::memory_order_relaxed)) break;
  }
  if (cancel_.exchange(false, std::memory_order_relaxed)) {
    const bool extended = s.portal != nullptr;
    stream_.reset();
    if (extended) return ExtendedError(CanceledError());
    SendError(CanceledError());
    if (txn_ == TransactionStatus::kInBlock) txn_ = TransactionStatus::kFailed;
    simple_.reset();
    MessageWriter(&output_).ReadyForQuery(txn_);
    return;
  }
  if (s.next < s.end) return;  // output is full: the caller writes and calls Process again
  if (s.portal != nullptr) {
    s.portal->next_row = s.next;
    if (s.next < s.result->rows.size()) {
      w.PortalSuspended();
      stream_.reset();
      return;
    }
  }
  // The tag counts rows sent by this Execute (all of them for a simple query).
  std::string tag = s.result->command;
  if (tag.starts_with("SELECT")) tag = fmt::format("SELECT {}", s.sent);
  w.CommandComplete(tag);
  stream_.reset();
}

void Session::ExtendedError(const ErrorFields& e) {
  SendError(e);
  CountQuery(false);
  if (txn_ == TransactionStatus::kInBlock) txn_ = TransactionStatus::kFailed;
  skip_until_sync_ = true;
}

void Session::HandleParse(std::string_view body) {
  auto m = ParseParseMessage(body);
  if (!m.ok()) return Fatal(sqlstate::kProtocolViolation, m.status().message());
  if (!m->statement.empty() && statements_.contains(m->statement)) {
    return ExtendedError(Error(sqlstate::kDuplicatePreparedStatement,
                               fmt::format("prepared statement \"{}\" already exists", m->statement)));
  }
  const std::vector<StatementSpan> spans = SplitStatements(m->query);
  if (spans.size() > 1) {
    return ExtendedError(Error(sqlstate::kSyntaxError, "cannot insert multiple commands into a prepared statement"));
  }
  auto max_param = MaxParameterIndex(m->query);
  if (!max_param.ok()) return ExtendedError(ErrorFromStatus(max_param.status(), ""));
  PreparedStatement p;
  p.empty = spans.empty();
  // The statement keeps its own text only (a trailing ';' and white space dropped).
  p.query = p.empty ? std::string() : m->query.substr(0, spans[0].offset + spans[0].length);
  p.param_types = std::move(m->param_types);
  if (p.param_types.size() < *max_param) p.param_types.resize(*max_param, oid::kUnspecified);
  statements_[m->statement] = std::move(p);
  MessageWriter(&output_).ParseComplete();
}

void Session::HandleBind(std::string_view body) {
  auto m = ParseBindMessage(body);
  if (!m.ok()) return Fatal(sqlstate::kProtocolViolation, m.status().message());
  auto it = statements_.find(m->statement);
  if (it == statements_.end()) {
    return ExtendedError(Error(sqlstate::kInvalidStatementName,
                               fmt::format("prepared statement \"{}\" does not exist", m->statement)));
  }
  const PreparedStatement& stmt = it->second;
  if (!m->portal.empty() && portals_.contains(m->portal)) {
    return ExtendedError(Error(sqlstate::kDuplicateCursor, fmt::format("cursor \"{}\" already exists", m->portal)));
  }
  if (m->params.size() != stmt.param_types.size()) {
    return ExtendedError(Error(sqlstate::kProtocolViolation,
                               fmt::format("bind message supplies {} parameters, but prepared statement \"{}\" requires {}",
                                           m->params.size(), m->statement, stmt.param_types.size())));
  }
  std::vector<std::string> literals;
  literals.reserve(m->params.size());
  for (size_t i = 0; i < m->params.size(); ++i) {
    const int16_t format = m->param_formats.empty() ? 0 : m->param_formats.size() == 1 ? m->param_formats[0] : m->param_formats[i];
    auto literal = ParameterLiteral(stmt.param_types[i], format, m->params[i], i);
    if (!literal.ok()) return ExtendedError(ErrorFromStatus(literal.status(), ""));
    literals.push_back(std::move(literal).value());
  }
  Portal portal;
  portal.empty = stmt.empty;
  portal.sql = literals.empty() ? stmt.query : SubstituteParameters(stmt.query, literals);
  portal.result_format_codes = std::move(m->result_formats);
  portals_[m->portal] = std::move(portal);
  MessageWriter(&output_).BindComplete();
}

void Session::HandleDescribe(std::string_view body) {
  auto m = ParseDescribeMessage(body);
  if (!m.ok()) return Fatal(sqlstate::kProtocolViolation, m.status().message());
  MessageWriter w(&output_);
  if (m->target == 'S') {
    auto it = statements_.find(m->name);
    if (it == statements_.end()) {
      return ExtendedError(
          Error(sqlstate::kInvalidStatementName, fmt::format("prepared statement \"{}\" does not exist", m->name)));
    }
    const PreparedStatement& stmt = it->second;
    std::vector<uint32_t> types = stmt.param_types;
    // Unspecified parameters are described as text: the client sends them as strings and the
    // engine resolves them by context, like PostgreSQL's unknown-type literals.
    for (uint32_t& t : types) {
      if (t == oid::kUnspecified) t = oid::kText;
    }
    std::vector<engine::ResultColumn> columns;
    if (!stmt.empty) {
      std::vector<std::string> nulls;
      for (uint32_t t : stmt.param_types) nulls.push_back(ParameterLiteral(t, 0, std::nullopt, 0).value());
      const std::string sql = nulls.empty() ? stmt.query : SubstituteParameters(stmt.query, nulls);
      auto described = DescribeStatement(sql);
      if (offload_) return;
      if (!described.ok()) return ExtendedError(ErrorFromStatus(described.status(), stmt.query));
      columns = std::move(described).value();
    }
    w.ParameterDescription(types);
    if (columns.empty()) return w.NoData();
    std::vector<FieldDescription> fields;
    for (const engine::ResultColumn& c : columns) fields.push_back(DescribeField(c.name, c.type, 0));
    return w.RowDescription(fields);
  }
  auto it = portals_.find(m->name);
  if (it == portals_.end()) {
    return ExtendedError(Error(sqlstate::kInvalidCursorName, fmt::format("portal \"{}\" does not exist", m->name)));
  }
  Portal& portal = it->second;
  if (portal.empty) return w.NoData();
  if (auto subscribe = ParseSubscribe(portal.sql)) {
    if (!subscribe->ok()) return ExtendedError(ErrorFromStatus(subscribe->status(), portal.sql));
    if (!may_block_) return (void)Offload();
    auto columns = SubscribeColumns((*subscribe)->request);
    if (!columns.ok()) return ExtendedError(ErrorFromStatus(columns.status(), portal.sql));
    auto formats = ResolveFormats(portal.result_format_codes, columns->size());
    if (!formats.ok()) return ExtendedError(Error(sqlstate::kProtocolViolation, formats.status().message()));
    std::vector<FieldDescription> fields;
    for (size_t i = 0; i < columns->size(); ++i) fields.push_back(DescribeField((*columns)[i].name, (*columns)[i].type, (*formats)[i]));
    return w.RowDescription(fields);
  }
  if (!portal.executed) {
    if (!ReturnsRows(portal.sql)) return w.NoData();
    // A query that returns rows runs now: its rows are what Execute sends.
    if (txn_ == TransactionStatus::kFailed) {
      return ExtendedError(Error(sqlstate::kInFailedTransaction,
                                 "current transaction is aborted, commands ignored until end of transaction block"));
    }
    cancel_.store(false, std::memory_order_relaxed);
    auto result = RunStatement(portal.sql, portal.sql);
    if (offload_) return;
    if (cancel_.exchange(false, std::memory_order_relaxed)) return ExtendedError(CanceledError());
    if (!result.ok()) return ExtendedError(ErrorFromStatus(result.status(), portal.sql));
    portal.executed = true;
    portal.result = std::make_shared<engine::StatementResult>(std::move(result).value());
    auto formats = ResolveFormats(portal.result_format_codes, portal.result->columns.size());
    if (!formats.ok()) return ExtendedError(Error(sqlstate::kProtocolViolation, formats.status().message()));
    portal.formats = std::move(formats).value();
  }
  if (portal.result->columns.empty()) return w.NoData();
  std::vector<FieldDescription> fields;
  for (size_t i = 0; i < portal.result->columns.size(); ++i) {
    const engine::ResultColumn& c = portal.result->columns[i];
    fields.push_back(DescribeField(c.name, c.type, portal.formats[i]));
  }
  w.RowDescription(fields);
}

void Session::HandleExecute(std::string_view body) {
  auto m = ParseExecuteMessage(body);
  if (!m.ok()) return Fatal(sqlstate::kProtocolViolation, m.status().message());
  auto it = portals_.find(m->portal);
  if (it == portals_.end()) {
    return ExtendedError(Error(sqlstate::kInvalidCursorName, fmt::format("portal \"{}\" does not exist", m->portal)));
  }
  Portal& portal = it->second;
  MessageWriter w(&output_);
  if (portal.empty) return w.EmptyQueryResponse();
  if (auto subscribe = ParseSubscribe(portal.sql)) {
    if (!subscribe->ok()) return ExtendedError(ErrorFromStatus(subscribe->status(), portal.sql));
    if (portal.subscribed) {
      return ExtendedError(Error(sqlstate::kFeatureNotSupported, "not supported yet: executing a SUBSCRIBE portal twice"));
    }
    if (!may_block_) return (void)Offload();
    if (txn_ == TransactionStatus::kFailed) {
      return ExtendedError(Error(sqlstate::kInFailedTransaction,
                                 "current transaction is aborted, commands ignored until end of transaction block"));
    }
    portal.subscribed = true;
    auto fields = StartSubscription((*subscribe)->request, (*subscribe)->snapshot, portal.result_format_codes,
                                    /*extended=*/true);
    if (!fields.ok()) return ExtendedError(ErrorFromStatus(fields.status(), portal.sql));
    return;  // rows follow (the client described the portal for their columns)
  }
  if (!portal.executed) {
    if (txn_ == TransactionStatus::kFailed && !IsTransactionEnd(FirstKeyword(portal.sql))) {
      return ExtendedError(Error(sqlstate::kInFailedTransaction,
                                 "current transaction is aborted, commands ignored until end of transaction block"));
    }
    cancel_.store(false, std::memory_order_relaxed);
    auto result = RunStatement(portal.sql, portal.sql);
    if (offload_) return;
    if (cancel_.exchange(false, std::memory_order_relaxed)) return ExtendedError(CanceledError());
    if (!result.ok()) return ExtendedError(ErrorFromStatus(result.status(), portal.sql));
    portal.executed = true;
    portal.result = std::make_shared<engine::StatementResult>(std::move(result).value());
    auto formats = ResolveFormats(portal.result_format_codes, portal.result->columns.size());
    if (!formats.ok()) return ExtendedError(Error(sqlstate::kProtocolViolation, formats.status().message()));
    portal.formats = std::move(formats).value();
    CountQuery(true);
  }
  if (portal.result->columns.empty()) {
    w.CommandComplete(portal.result->command);
    return;
  }
  RowStream s;
  s.result = portal.result;
  s.formats = portal.formats;
  s.next = portal.next_row;
  const size_t rows = portal.result->rows.size();
  s.end = m->max_rows > 0 ? std::min(rows, s.next + static_cast<size_t>(m->max_rows)) : rows;
  s.portal = &portal;
  stream_ = std::move(s);
}

void Session::HandleClose(std::string_view body) {
  auto m = ParseCloseMessage(body);
  if (!m.ok()) return Fatal(sqlstate::kProtocolViolation, m.status().message());
  if (m->target == 'S') {
    statements_.erase(m->name);
  } else {
    portals_.erase(m->name);
  }
  MessageWriter(&output_).CloseComplete();
}

void Session::HandleSync() {
  skip_until_sync_ = false;
  // Sync ends the implicit transaction, and with it the portals (none is holdable here).
  if (txn_ == TransactionStatus::kIdle) portals_.clear();
  MessageWriter(&output_).ReadyForQuery(txn_);
}

// ---- statements ------------------------------------------------------------------------------

bool Session::ReturnsRows(std::string_view statement) const {
  const std::vector<std::string> words = Words(statement, 2);
  if (words.empty()) return false;
  const std::string& k = words[0];
  return k == "select" || k == "show" || k == "describe" || k == "explain" || k == "values" || k == "with" ||
         k == "table";
}

std::vector<engine::ResultColumn> Session::SettingColumns(std::string_view name) const {
  return {{std::string(name), sql::DataType::Varchar()}};
}

std::optional<Result<engine::StatementResult>> Session::RunSessionCommand(std::string_view statement,
                                                                          bool describe_only) {
  const std::vector<std::string> words = Words(statement, 4);
  if (words.empty()) return std::nullopt;
  const std::string& k = words[0];

  // Transactions: sluice has none (each statement takes effect at once); the block is
  // tracked so that clients see the states they expect.
  if (k == "begin" || k == "start") {
    if (k == "start" && (words.size() < 2 || words[1] != "transaction")) return std::nullopt;
    if (describe_only) return Command("BEGIN");
    if (txn_ != TransactionStatus::kIdle) {
      SendNotice(sqlstate::kActiveTransaction, "there is already a transaction in progress");
    } else {
      txn_ = TransactionStatus::kInBlock;
    }
    return Command("BEGIN");
  }
  if (IsTransactionEnd(k)) {
    if (describe_only) return Command("COMMIT");
    const bool failed = txn_ == TransactionStatus::kFailed;
    if (txn_ == TransactionStatus::kIdle) {
      SendNotice(sqlstate::kNoActiveTransaction, "there is no transaction in progress");
    }
    txn_ = TransactionStatus::kIdle;
    return Command(k == "rollback" || k == "abort" || failed ? "ROLLBACK" : "COMMIT");
  }
  if (k == "set") {
    // SET [SESSION | LOCAL] name { TO | = } value
    std::string_view rest = statement.substr(statement.find_first_not_of(" \t\r\n") + 3);
    std::vector<std::string> w = Words(rest, 3);
    if (!w.empty() && (w[0] == "session" || w[0] == "local")) {
      rest = rest.substr(Lower(rest).find(w[0]) + w[0].size());
      w = Words(rest, 3);
    }
    if (w.empty()) return Result<engine::StatementResult>(Status::InvalidArgument("syntax error at or near \"SET\""));
    std::string name = w[0];
    std::string value;
    // SET SESSION CHARACTERISTICS AS TRANSACTION ...: sluice has one isolation level (none).
    if (name == "characteristics") return Command("SET");
    if (name == "time" && w.size() >= 2 && w[1] == "zone") {
      name = "timezone";
      const size_t at = Lower(rest).find("zone");
      value = SettingValue(rest.substr(at + 4));
    } else if (name == "names") {
      name = "client_encoding";
      const size_t at = Lower(rest).find("names");
      value = SettingValue(rest.substr(at + 5));
    } else {
      const size_t at = Lower(rest).find(name) + name.size();
      std::string_view v = rest.substr(at);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t' || v.front() == '\n')) v.remove_prefix(1);
      if (v.starts_with("=")) {
        v.remove_prefix(1);
      } else if (Lower(v.substr(0, 2)) == "to") {
        v.remove_prefix(2);
      } else if (name == "transaction" || name == "session") {
        return Command("SET");  // SET TRANSACTION ISOLATION LEVEL ...: one level only
      } else {
        return Result<engine::StatementResult>(
            Status::InvalidArgument(fmt::format("syntax error at or near \"{}\"", name)));
      }
      value = SettingValue(v);
    }
    if (describe_only) return Command("SET");
    const Setting* s = FindSetting(name);
    if (s != nullptr && s->fixed && Lower(value) != "default" && !AcceptsFixedValue(*s, value)) {
      return Result<engine::StatementResult>(Status::InvalidArgument(
          fmt::format("not supported yet: {} other than '{}' (sluice runs with {} = '{}')", s->name,
                      s->name == "server_version" ? config_->server_version : std::string(s->value), s->name,
                      s->name == "server_version" ? config_->server_version : std::string(s->value))));
    }
    if (s == nullptr || !s->fixed) settings_[Lower(name)] = Lower(value) == "default" ? std::string(s ? s->value : "") : value;
    if (s != nullptr && s->reported && !s->fixed) MessageWriter(&output_).ParameterStatus(s->name, settings_[Lower(name)]);
    return Command("SET");
  }
  if (k == "reset") {
    if (!describe_only && words.size() >= 2) {
      if (words[1] == "all") {
        settings_.clear();
      } else {
        settings_.erase(words[1]);
      }
    }
    return Command("RESET");
  }
  if (k == "discard") {
    if (!describe_only) {
      settings_.clear();
      statements_.clear();
    }
    return Command(words.size() >= 2 ? "DISCARD " + Lower(words[1] == "all" ? "ALL" : words[1]) : "DISCARD");
  }
  if (k == "deallocate") {
    if (describe_only) return Command("DEALLOCATE");
    std::string name = words.size() >= 2 ? words[1] : "";
    if (name == "prepare" && words.size() >= 3) name = words[2];
    if (name == "all") {
      statements_.clear();
      return Command("DEALLOCATE ALL");
    }
    if (statements_.erase(name) == 0) {
      return Result<engine::StatementResult>(
          Status::NotFound(fmt::format("prepared statement \"{}\" does not exist", name)));
    }
    return Command("DEALLOCATE");
  }
  if (k == "show" && words.size() >= 2) {
    // SHOW of a setting; SHOW SOURCES / TABLES / ... belong to the engine.
    std::string name = words[1];
    if (name == "transaction" && words.size() >= 4 && words[2] == "isolation") name = "transaction_isolation";
    if (name == "time" && words.size() >= 3 && words[2] == "zone") name = "timezone";
    const Setting* s = FindSetting(name);
    if (name == "all") {
      engine::StatementResult r;
      r.columns = {{"name", sql::DataType::Varchar()}, {"setting", sql::DataType::Varchar()},
                   {"description", sql::DataType::Varchar()}};
      r.command = "SHOW";
      if (describe_only) return r;
      for (const Setting& setting : kSettings) {
        auto it = settings_.find(Lower(setting.name));
        std::string value = it != settings_.end() ? it->second : std::string(setting.value);
        if (setting.name == "server_version") value = config_->server_version;
        r.rows.push_back({sql::Value::Varchar(std::string(setting.name)), sql::Value::Varchar(value), sql::Value::Varchar("")});
      }
      return r;
    }
    if (s == nullptr) {
      if (settings_.contains(name)) {
        engine::StatementResult r;
        r.columns = SettingColumns(name);
        r.command = "SHOW";
        if (!describe_only) r.rows.push_back({sql::Value::Varchar(settings_[name])});
        return r;
      }
      return std::nullopt;
    }
    engine::StatementResult r;
    r.columns = SettingColumns(Lower(s->name));
    r.command = "SHOW";
    if (describe_only) return r;
    auto it = settings_.find(Lower(s->name));
    std::string value = it != settings_.end() ? it->second : std::string(s->value);
    if (s->name == "server_version") value = config_->server_version;
    r.rows.push_back({sql::Value::Varchar(value)});
    return r;
  }
  if (!may_block_ && MayBeSystemQuery(statement)) return Result<engine::StatementResult>(Offload());
  CatalogContext ctx{engine_, user_, database_, config_->server_version, &settings_};
  return AnswerSystemQuery(statement, ctx);
}

Result<engine::StatementResult> Session::RunStatement(std::string_view statement, std::string_view engine_text) {
  if (auto own = RunSessionCommand(statement, /*describe_only=*/false)) return std::move(*own);
  if (!may_block_) {
    SLUICE_ASSIGN_OR_RETURN(std::optional<engine::StatementResult> point, engine_->TryPointQuery(engine_text));
    if (point) return std::move(*point);
    return Offload();
  }
  SLUICE_ASSIGN_OR_RETURN(std::vector<engine::StatementResult> results, engine_->ExecuteSql(engine_text));
  if (results.size() != 1) return Status::Internal(fmt::format("one statement gave {} results", results.size()));
  return std::move(results.front());
}

Status Session::Offload() {
  offload_ = true;
  return Status::Unavailable("runs on a thread that may block");
}

Result<std::vector<engine::ResultColumn>> Session::DescribeStatement(std::string_view statement) {
  if (!may_block_) {
    // Session commands answer here; the engine binds under its lock.
    if (ParseSubscribe(statement)) return Offload();
    if (auto own = RunSessionCommand(statement, /*describe_only=*/true)) {
      if (!own->ok()) return own->status();
      return std::move((*own)->columns);
    }
    return Offload();
  }
  if (auto subscribe = ParseSubscribe(statement)) {
    if (!subscribe->ok()) return subscribe->status();
    return SubscribeColumns((*subscribe)->request);
  }
  if (auto own = RunSessionCommand(statement, /*describe_only=*/true)) {
    if (!own->ok()) return own->status();
    return std::move((*own)->columns);
  }
  return engine_->DescribeSql(statement);
}

// ---- SUBSCRIBE -------------------------------------------------------------------------------

Result<std::vector<engine::ResultColumn>> Session::SubscribeColumns(const engine::SubscribeRequest& request) {
  std::string query = request.sql;
  if (query.empty()) {
    std::string quoted = "\"";
    for (char c : request.view) {
      quoted += c;
      if (c == '"') quoted += '"';
    }
    query = "SELECT * FROM " + quoted + "\"";
  }
  SLUICE_ASSIGN_OR_RETURN(std::vector<engine::ResultColumn> view_columns, engine_->DescribeSql(query));
  std::vector<engine::ResultColumn> columns = {{"mz_timestamp", sql::DataType::Bigint()},
                                               {"mz_diff", sql::DataType::Bigint()}};
  columns.insert(columns.end(), view_columns.begin(), view_columns.end());
  return columns;
}

Result<std::vector<FieldDescription>> Session::StartSubscription(const engine::SubscribeRequest& request, bool snapshot,
                                                                 const std::vector<int16_t>& format_codes,
                                                                 bool extended) {
  cancel_.store(false, std::memory_order_relaxed);
  std::function<void()> wake = wake_ ? wake_ : [] {};
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<engine::Subscription> sub, engine_->Subscribe(request, std::move(wake)));
  std::vector<engine::ResultColumn> columns = {{"mz_timestamp", sql::DataType::Bigint()},
                                               {"mz_diff", sql::DataType::Bigint()}};
  for (const sql::ColumnSchema& c : sub->columns()) columns.push_back({c.name, c.type});
  SLUICE_ASSIGN_OR_RETURN(std::vector<int16_t> formats, ResolveFormats(format_codes, columns.size()));
  std::vector<FieldDescription> fields;
  for (size_t i = 0; i < columns.size(); ++i) fields.push_back(DescribeField(columns[i].name, columns[i].type, formats[i]));
  SubscribeStream s;
  s.sub = std::move(sub);
  s.formats = std::move(formats);
  s.extended = extended;
  s.snapshot = snapshot;
  subscribe_ = std::move(s);
  CountQuery(true);
  if (metrics_.subscriptions != nullptr) metrics_.subscriptions->Inc();
  return fields;
}

void Session::PumpSubscription() {
  SubscribeStream& s = *subscribe_;
  if (cancel_.exchange(false, std::memory_order_relaxed)) return EndSubscription(CanceledError());
  std::vector<engine::SubscriptionEvent> events = s.sub->Poll();
  if (events.empty()) {
    s.idle = true;
    return;
  }
  MessageWriter w(&output_);
  std::vector<sql::Value> row;
  for (const engine::SubscriptionEvent& e : events) {
    switch (e.kind) {
      case engine::SubscriptionEvent::Kind::kSnapshot: {
        if (e.resync) {
          // A PostgreSQL client cannot be told to start over: end the statement instead.
          if (metrics_.subscription_resyncs != nullptr) metrics_.subscription_resyncs->Inc();
          return EndSubscription(Error("53000",
                                       "SUBSCRIBE fell behind: the client did not read the changes fast enough and "
                                       "they were dropped; subscribe again"));
        }
        const bool send = !s.first || s.snapshot;
        s.first = false;
        if (!send) break;
        for (const auto& values : e.snapshot->rows) {
          row.clear();
          row.push_back(sql::Value::Bigint(e.snapshot->ts_ms));
          row.push_back(sql::Value::Bigint(1));
          row.insert(row.end(), values.begin(), values.end());
          AppendDataRow(row, s.formats, &w);
        }
        if (metrics_.subscription_events != nullptr) metrics_.subscription_events->Inc();
        break;
      }
      case engine::SubscriptionEvent::Kind::kBatch:
        for (const engine::WeightedRow& change : engine::Consolidate(*e.batch)) {
          row.clear();
          row.push_back(sql::Value::Bigint(e.batch->ts_ms));
          row.push_back(sql::Value::Bigint(change.weight));
          row.insert(row.end(), change.values.begin(), change.values.end());
          AppendDataRow(row, s.formats, &w);
        }
        if (metrics_.subscription_events != nullptr) metrics_.subscription_events->Inc();
        break;
      case engine::SubscriptionEvent::Kind::kEnd:
        return EndSubscription(ErrorFromStatus(e.end, ""));
    }
  }
}

void Session::EndSubscription(const ErrorFields& e) {
  const bool extended = subscribe_->extended;
  subscribe_.reset();
  if (metrics_.subscriptions != nullptr) metrics_.subscriptions->Dec();
  if (extended) return ExtendedError(e);
  SendError(e);
  CountQuery(false);
  if (txn_ == TransactionStatus::kInBlock) txn_ = TransactionStatus::kFailed;
  simple_.reset();
  MessageWriter(&output_).ReadyForQuery(txn_);
}

}  // namespace sluice::server::pgwire
