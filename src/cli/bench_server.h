#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace sluice::cli {

// A `sluice server` child process for the benchmarks that measure through HTTP or the Kafka
// protocol: a fresh temporary data directory, free ports, optionally pinned to CPU 0. Stop()
// (or the destructor) sends SIGTERM, waits and removes the directory.
class BenchServer {
 public:
  struct Options {
    std::string self_path;  // this binary
    std::string fsync = "always";
    int io_threads = 1;
    bool pin = false;  // the server on CPU 0
    std::string log_level = "warn";
  };
  // Starts the server and waits until /health answers; `name` names the temp directory.
  static Result<std::unique_ptr<BenchServer>> Start(const Options& options, const std::string& name);
  ~BenchServer();

  const std::string& url() const { return url_; }
  uint16_t port() const { return port_; }
  uint16_t kafka_port() const { return kafka_port_; }  // the Kafka listener, on 127.0.0.1
  // User + system CPU seconds the server has used so far.
  double CpuSeconds() const;
  void Stop();

 private:
  BenchServer() = default;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  uint16_t kafka_port_ = 0;
  std::string dir_;
  std::string url_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
uint16_t PickFreePort();
// Pins the calling thread to `cpu`.
void PinToCpu(int cpu);
// The q-quantile of `v` (nanoseconds), in milliseconds; reorders v.
double PercentileMs(std::vector<int64_t>& v, double q);
// CPU time used so far by this process (all its threads), in seconds.
double ProcessCpuSeconds();

}  // namespace sluice::cli
