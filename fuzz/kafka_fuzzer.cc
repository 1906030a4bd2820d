// libFuzzer target: arbitrary bytes as one Kafka request frame (header + body) into the
// broker: header decoding, every API's request decoder, and the handlers behind them, over a
// real log in a temporary directory (fsync=never). Any input must end in a response frame,
// no response (acks=0), or "close the connection": no crash, no sanitizer report, no hang.
// The first two bytes of the input select the API key and the next two its version half of
// the time, so that each decoder sees mostly well-framed input.
// Build and run with scripts/fuzz.sh.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string_view>
#include <thread>

#include "engine/engine.h"
#include "log/log.h"
#include "server/kafka/broker.h"
#include "server/kafka/protocol.h"

namespace {

using namespace sluice;

// The Engine interface over a real log; SQL is outside what the Kafka broker calls.
class LogOnlyEngine final : public engine::Engine {
 public:
  explicit LogOnlyEngine(std::unique_ptr<log::Log> log) : log_(std::move(log)) {
    options_.default_partitions = 2;
  }
  void Ingest(engine::IngestRequest, engine::IngestCallback) override { std::abort(); }
  Status DeleteTopic(std::string_view name) override { return log_->DeleteTopic(name); }
  Result<std::vector<engine::StatementResult>> ExecuteSql(std::string_view) override { std::abort(); }
  Result<std::vector<engine::ResultColumn>> DescribeSql(std::string_view) override { std::abort(); }
  Result<engine::SqlExecutor::VerifyReport> VerifyView(std::string_view) override { std::abort(); }
  log::Log& log() override { return *log_; }
  const engine::EngineOptions& options() const override { return options_; }
  bool ready() const override { return true; }
  Status Close() override { return log_->Close(); }

 private:
  std::unique_ptr<log::Log> log_;
  engine::EngineOptions options_;
};

struct Fixture {
  Fixture() {
    const std::string dir = std::filesystem::temp_directory_path() / ("sluice-kafka-fuzz-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    log::LogOptions options;
    options.dir = dir;
    options.fsync = log::FsyncPolicy::kNever;
    auto opened = log::Log::Open(options);
    if (!opened.ok()) std::abort();
    engine = std::make_unique<LogOnlyEngine>(std::move(opened).value());
    log::TopicConfig topic;
    topic.name = "t";
    topic.partitions = 2;
    (void)engine->log().CreateTopic(topic);
    server::kafka::KafkaOptions kafka;
    kafka.group_initial_rebalance_delay_ms = 0;
    kafka.group_min_session_timeout_ms = 1;
    kafka.group_max_session_timeout_ms = 200;  // bounds how long a fuzzed join can wait
    broker = std::make_unique<server::kafka::Broker>(kafka, engine.get(), &metrics);
    if (!broker->Start().ok()) std::abort();
  }
  MetricsRegistry metrics;
  std::unique_ptr<LogOnlyEngine> engine;
  std::unique_ptr<server::kafka::Broker> broker;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* fixture = [] {
    auto* f = new Fixture();
    // The broker's and the log's threads stop before exit() destroys the statics they read
    // (handlers registered later run earlier); a timer thread reading a destroyed static was
    // an ASan report at exit.
    std::atexit([] {
      fixture->broker->Stop();
      (void)fixture->engine->Close();
    });
    return f;
  }();
  std::string frame(reinterpret_cast<const char*>(data), size);
  if (size >= 5 && (data[0] & 0x80)) {
    // Force a supported API key and version from the next bytes.
    const auto apis = server::kafka::SupportedApis();
    const auto& api = apis[data[1] % apis.size()];
    const int16_t version = static_cast<int16_t>(api.min_version + data[2] % (api.max_version - api.min_version + 1));
    frame[0] = static_cast<char>(static_cast<uint16_t>(api.key) >> 8);
    frame[1] = static_cast<char>(static_cast<uint16_t>(api.key) & 0xFF);
    frame[2] = static_cast<char>(static_cast<uint16_t>(version) >> 8);
    frame[3] = static_cast<char>(version & 0xFF);
  }
  server::kafka::RequestContext ctx;
  ctx.local_host = "127.0.0.1";
  ctx.local_port = 9092;
  ctx.peer_host = "/127.0.0.1";
  // Long polls end at once: the fuzzer has no event loop.
  ctx.run_after = [](int64_t, std::function<void(bool)> fn) { fn(true); };
  // Group joins answer from the coordinator's timer thread; wait for every answer.
  std::atomic<bool> answered{false};
  fixture->broker->HandleFrame(frame, ctx, [&](Result<server::kafka::OutFrame> response) {
    if (response.ok() && response->size() >= 4) {
      const std::string bytes = response->Flatten();
      const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
      const uint32_t n = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
      if (n + 4 != bytes.size()) std::abort();  // the frame size must match the frame
    }
    answered.store(true);
  });
  while (!answered.load()) std::this_thread::sleep_for(std::chrono::microseconds(100));
  return 0;
}
