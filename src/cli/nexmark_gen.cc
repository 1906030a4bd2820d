// `sluice gen nexmark`: the Nexmark streams sent to a server (or written to NDJSON files).

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cli/commands.h"
#include "cli/gen_loop.h"
#include "cli/http_client.h"
#include "cli/nexmark.h"
#include "common/clock.h"

namespace sluice::cli {
namespace {

constexpr nexmark::EventKind kKinds[] = {nexmark::EventKind::kPerson, nexmark::EventKind::kAuction,
                                         nexmark::EventKind::kBid};

// Generates events [first, first + count) into one NDJSON body per kind.
void GenerateBodies(nexmark::Generator& generator, int64_t count, std::string bodies[3]) {
  nexmark::Event event;
  for (int k = 0; k < 3; ++k) bodies[k].clear();
  for (int64_t i = 0; i < count; ++i) {
    generator.Next(&event);
    std::string& body = bodies[static_cast<int>(event.kind)];
    nexmark::AppendJson(event, &body);
    body.push_back('\n');
  }
}

int WriteFiles(const GenNexmarkOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.output_dir, ec);
  if (ec) {
    fmt::print(stderr, "sluice gen nexmark: --output {}: {}\n", options.output_dir, ec.message());
    return kExitUsage;
  }
  std::ofstream files[3];
  for (int k = 0; k < 3; ++k) {
    const std::string path =
        fmt::format("{}/{}.ndjson", options.output_dir, nexmark::TopicOf(kKinds[k]));
    files[k].open(path, std::ios::binary | std::ios::trunc);
    if (!files[k]) {
      fmt::print(stderr, "sluice gen nexmark: cannot write {}\n", path);
      return kExitRuntimeError;
    }
  }
  nexmark::Generator generator(options.nexmark);
  std::string bodies[3];
  for (int64_t done = 0; done < options.events;) {
    const int64_t count = std::min<int64_t>(options.batch, options.events - done);
    GenerateBodies(generator, count, bodies);
    for (int k = 0; k < 3; ++k) files[k] << bodies[k];
    done += count;
  }
  for (auto& f : files) {
    f.close();
    if (!f) {
      fmt::print(stderr, "sluice gen nexmark: writing to {} failed\n", options.output_dir);
      return kExitRuntimeError;
    }
  }
  if (!options.quiet) {
    fmt::print("wrote {} events to {}/{{person,auction,bid}}.ndjson\n", options.events,
               options.output_dir);
  }
  return kExitOk;
}

int SendEvents(const GenNexmarkOptions& options, const std::atomic<bool>& stop) {
  auto client_or = HttpClient::Create(options.url);
  if (!client_or.ok()) {
    fmt::print(stderr, "sluice gen nexmark: {}\n", client_or.status().message());
    return kExitUsage;
  }
  std::unique_ptr<HttpClient> client = std::move(client_or).value();
  const std::string run_id =
      options.run_id.empty()
          ? fmt::format("nexmark-{}-{}", options.nexmark.seed, options.nexmark.base_time.value())
          : options.run_id;
  nexmark::Generator generator(options.nexmark);
  Clock* clock = Clock::Real();
  const int64_t t0 = clock->MonotonicNanos();
  int64_t last_report = t0;
  int64_t sent = 0, rejected = 0, retries = 0;
  std::string bodies[3];
  for (int64_t round = 0; !stop.load(); ++round) {
    const int64_t remaining = options.events < 0 ? options.batch : options.events - sent;
    if (remaining <= 0) break;
    const int64_t count = std::min<int64_t>(options.batch, remaining);
    if (!options.max_speed) {
      // Paced so that wall-clock time follows event time.
      const int64_t due =
          t0 + static_cast<int64_t>(static_cast<double>(sent) / options.nexmark.rate * 1e9);
      const int64_t now = clock->MonotonicNanos();
      if (due > now) std::this_thread::sleep_for(std::chrono::nanoseconds(due - now));
    }
    GenerateBodies(generator, count, bodies);
    // People first, then auctions, then bids: within a round, references point backwards.
    for (int k = 0; k < 3; ++k) {
      if (bodies[k].empty()) continue;
      const std::string_view topic = nexmark::TopicOf(kKinds[k]);
      const std::string target = fmt::format("/v1/topics/{}/events", topic);
      const std::string key = fmt::format("{}-{}-{}", run_id, round, topic);
      Result<int64_t> r = PostWithRetry(*client, target, bodies[k], key, stop, &retries);
      if (!r.ok()) {
        if (r.status().code() == StatusCode::kUnavailable && stop.load()) break;
        fmt::print(stderr, "sluice gen nexmark: topic {}: {}\n", topic, r.status().message());
        return kExitRuntimeError;
      }
      rejected += *r;
    }
    if (stop.load()) break;
    sent += count;
    const int64_t now = clock->MonotonicNanos();
    if (!options.quiet && now - last_report >= 1'000'000'000) {
      fmt::print(stderr,
                 "sluice gen nexmark: {} events sent ({} rejected, {} retries), {:.0f} events/s\n",
                 sent, rejected, retries, sent / ((now - t0) / 1e9));
      last_report = now;
    }
  }
  const double secs = std::max((clock->MonotonicNanos() - t0) / 1e9, 1e-9);
  if (!options.quiet) {
    fmt::print(
        "sent {} nexmark events to person/auction/bid in {:.2f} s: {:.0f} events/s ({} rejected, "
        "{} retries)\n",
        sent, secs, sent / secs, rejected, retries);
  }
  return rejected > 0 ? kExitRuntimeError : kExitOk;
}

}  // namespace

int RunGenNexmark(const GenNexmarkOptions& options) {
  Status valid = nexmark::ValidateOptions(options.nexmark);
  if (!valid.ok()) {
    fmt::print(stderr, "sluice gen nexmark: {}\n", valid.message());
    return kExitUsage;
  }
  if (options.batch < 1) {
    fmt::print(stderr, "sluice gen nexmark: --batch must be >= 1\n");
    return kExitUsage;
  }
  if (!options.output_dir.empty()) {
    if (options.events < 0) {
      fmt::print(stderr, "sluice gen nexmark: --output needs --events N\n");
      return kExitUsage;
    }
    return WriteFiles(options);
  }
  // Ctrl-C ends the run cleanly (the summary still prints).
  return RunUntilSignalled([&](const std::atomic<bool>& stop) { return SendEvents(options, stop); });
}

}  // namespace sluice::cli
