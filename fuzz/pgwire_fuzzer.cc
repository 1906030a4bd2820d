// libFuzzer target: arbitrary bytes from a client -> the pgwire session state machine
// (startup packet, then typed messages: Query, Parse, Bind, Describe, Execute, ...), over an
// engine that answers every statement with a small table. Any input must end in output bytes
// or a clean close: no crash, no sanitizer report, no hang, no unbounded buffering.
// Build and run with scripts/fuzz.sh.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/pgwire/protocol.h"
#include "server/pgwire/session.h"

namespace {

using namespace sluice;

class TableEngine final : public engine::Engine {
 public:
  void Ingest(engine::IngestRequest, engine::IngestCallback) override { std::abort(); }
  Status DeleteTopic(std::string_view) override { return Status::Ok(); }
  Result<std::vector<engine::StatementResult>> ExecuteSql(std::string_view sql) override {
    if (sql.size() % 3 == 0) return Status::InvalidArgument("syntax error at line 1, column 2: fuzz");
    engine::StatementResult r;
    r.columns = {{"n", sql::DataType::Bigint()}, {"s", sql::DataType::Varchar()},
                 {"d", sql::DataType::Decimal(10, 2)}, {"t", sql::DataType::Timestamp()}};
    for (size_t i = 0; i < sql.size() % 7; ++i) {
      r.rows.push_back({sql::Value::Bigint(static_cast<int64_t>(i)), sql::Value::Varchar(std::string(sql.substr(0, i))),
                        sql::Value::Decimal(static_cast<__int128>(i) * 12345, 10, 2),
                        sql::Value::Timestamp(static_cast<int64_t>(i) * 1000000)});
    }
    r.command = "SELECT " + std::to_string(r.rows.size());
    return std::vector<engine::StatementResult>{r};
  }
  Result<std::vector<engine::ResultColumn>> DescribeSql(std::string_view sql) override {
    return std::vector<engine::ResultColumn>{{"n", sql::DataType::Bigint()}};
  }
  Result<engine::SqlExecutor::VerifyReport> VerifyView(std::string_view) override {
    return Status::FailedPrecondition("not used by the fuzzer");
  }
  log::Log& log() override { std::abort(); }
  const engine::EngineOptions& options() const override { return options_; }
  bool ready() const override { return true; }
  Status Close() override { return Status::Ok(); }

 private:
  engine::EngineOptions options_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static TableEngine engine;
  static server::pgwire::SessionConfig* config = [] {
    auto* c = new server::pgwire::SessionConfig();
    c->max_message_bytes = 1 << 16;
    return c;
  }();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // The first byte picks how the input is cut into reads, so split messages are covered too.
  const size_t chunk = size > 0 ? 1 + data[0] % 64 : 1;
  server::pgwire::Session session(config, &engine, {}, 1, 2, /*peer_is_loopback=*/true, [](int32_t, int32_t) {});
  // Inputs that do not start with a startup packet are mostly rejected at once; give the rest
  // a valid one first half of the time.
  if (size > 0 && data[0] & 0x80) {
    static const std::string kStartup = [] {
      std::string body("\0\3\0\0user\0fuzz\0\0", 15);
      std::string m(4, '\0');
      m[3] = static_cast<char>(body.size() + 4);
      return m + body;
    }();
    session.Feed(kStartup);
    (void)session.Process();
    session.output().clear();
  }
  for (size_t at = 0; at < input.size(); at += chunk) {
    session.Feed(input.substr(at, chunk));
    for (int rounds = 0; rounds < 1000; ++rounds) {
      const auto p = session.Process();
      session.output().clear();
      if (p.close) return 0;
      if (!p.more) break;
    }
  }
  // Also the message parsers on their own, on the raw bytes.
  (void)server::pgwire::ParseBindMessage(input);
  (void)server::pgwire::ParseParseMessage(input);
  (void)server::pgwire::ParseStartupPacket(input);
  (void)server::pgwire::ParseSaslInitialResponse(input);
  return 0;
}
