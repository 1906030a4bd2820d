#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/gen_loop.h"
#include "cli/http_client.h"
#include "common/clock.h"

namespace sluice::cli {
namespace {

using std::chrono::milliseconds;

struct Progress {
  int64_t sent = 0;       // events acknowledged
  int64_t rejected = 0;   // of those, rejected into the DLQ
  int64_t retries = 0;
};

}  // namespace

Result<int64_t> PostWithRetry(HttpClient& client, const std::string& target, const std::string& body,
                              const std::string& idempotency_key, const std::atomic<bool>& stop, int64_t* retries) {
  int backoff_ms = 50;
  while (true) {
    auto res = client.Request("POST", target, body, "application/x-ndjson", {{"Idempotency-Key", idempotency_key}});
    if (res.ok() && res->status == 200) {
      size_t pos = res->body.find("\"rejected\":");
      return pos == std::string::npos ? 0 : std::atoll(res->body.c_str() + pos + 11);
    }
    bool retryable = !res.ok() || res->status == 429 || res->status == 503 || res->status == 409;
    if (!retryable) return Status::FailedPrecondition(fmt::format("server answered {}: {}", res->status, res->body));
    if (stop.load()) return Status::Unavailable("stopped while retrying");
    ++*retries;
    int wait_ms = backoff_ms;
    if (res.ok() && !res->retry_after.empty()) wait_ms = std::max(wait_ms, std::atoi(res->retry_after.c_str()) * 1000);
    std::this_thread::sleep_for(milliseconds(std::min(wait_ms, 2000)));
    backoff_ms = std::min(backoff_ms * 2, 2000);
  }
}

int RunGenLoop(const GenRunOptions& options, const std::atomic<bool>& stop) {
  Status valid = ValidateGenOptions(options.gen);
  if (!valid.ok()) {
    fmt::print(stderr, "sluice gen: {}\n", valid.message());
    return kExitUsage;
  }
  if (options.batch < 1) {
    fmt::print(stderr, "sluice gen: --batch must be >= 1\n");
    return kExitUsage;
  }
  auto client_or = HttpClient::Create(options.url);
  if (!client_or.ok()) {
    fmt::print(stderr, "sluice gen: {}\n", client_or.status().message());
    return kExitUsage;
  }
  std::unique_ptr<HttpClient> client = std::move(client_or).value();
  EventGenerator generator(options.gen);
  const std::string topic = options.topic.empty() ? std::string(generator.topic()) : options.topic;
  const std::string target = fmt::format("/v1/topics/{}/events?key={}", UrlEncode(topic),
                                         UrlEncode(generator.key_field()));
  const std::string run_id = options.run_id.empty()
                                 ? fmt::format("gen-{}-{}", options.gen.seed, options.gen.start_time.value())
                                 : options.run_id;

  Clock* clock = Clock::Real();
  const int64_t t0 = clock->MonotonicNanos();
  int64_t last_report = t0;
  Progress progress;
  std::string body;
  for (int64_t batch_no = 0; !stop.load(); ++batch_no) {
    int64_t remaining = options.events < 0 ? options.batch : options.events - progress.sent;
    if (remaining <= 0) break;
    const int64_t count = std::min<int64_t>(options.batch, remaining);

    // Pace by the schedule of the first event of this batch.
    if (options.gen.rate > 0) {
      int64_t due = t0 + static_cast<int64_t>(static_cast<double>(progress.sent) / options.gen.rate * 1e9);
      int64_t now = clock->MonotonicNanos();
      if (due > now) std::this_thread::sleep_for(std::chrono::nanoseconds(due - now));
    }
    body.clear();
    TimestampMs source_ts = clock->Now();
    for (int64_t i = 0; i < count; ++i) generator.Next(&body, source_ts);

    const std::string key = fmt::format("{}-{}", run_id, batch_no);
    Result<int64_t> rejected = PostWithRetry(*client, target, body, key, stop, &progress.retries);
    if (!rejected.ok()) {
      if (rejected.status().code() == StatusCode::kUnavailable && stop.load()) break;
      fmt::print(stderr, "sluice gen: {}\n", rejected.status().message());
      return kExitRuntimeError;
    }
    progress.sent += count;
    progress.rejected += *rejected;

    int64_t now = clock->MonotonicNanos();
    if (!options.quiet && now - last_report >= 1'000'000'000) {
      double secs = (now - t0) / 1e9;
      fmt::print(stderr, "sluice gen: {} events sent ({} rejected, {} retries), {:.0f} events/s\n",
                 progress.sent, progress.rejected, progress.retries, progress.sent / secs);
      last_report = now;
    }
  }
  double secs = std::max((clock->MonotonicNanos() - t0) / 1e9, 1e-9);
  if (!options.quiet) {
    fmt::print("sent {} events to '{}' in {:.2f} s: {:.0f} events/s ({} rejected, {} retries)\n",
               progress.sent, topic, secs, progress.sent / secs, progress.rejected, progress.retries);
  }
  return kExitOk;
}

int RunGen(const GenRunOptions& options) {
  // Ctrl-C ends the run cleanly (the summary still prints).
  return RunUntilSignalled([&](const std::atomic<bool>& stop) { return RunGenLoop(options, stop); });
}

}  // namespace sluice::cli
