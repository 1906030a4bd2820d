#include "cli/bench_server.h"

#include <sched.h>
#include <signal.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <fmt/format.h>

#include "cli/http_client.h"
#include "common/process_metrics.h"

namespace sluice::cli {
uint16_t PickFreePort() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

void PinToCpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof(set), &set);
}

double ProcessCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double PercentileMs(std::vector<int64_t>& v, double q) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(i), v.end());
  return static_cast<double>(v[i]) / 1e6;
}

Result<std::unique_ptr<BenchServer>> BenchServer::Start(const Options& options, const std::string& name) {
  std::string tmpl = (std::filesystem::temp_directory_path() / fmt::format("{}-XXXXXX", name)).string();
  if (::mkdtemp(tmpl.data()) == nullptr) return Status::IOError("cannot create a temporary directory");
  auto server = std::unique_ptr<BenchServer>(new BenchServer());
  server->dir_ = tmpl;
  server->port_ = PickFreePort();
  do {
    server->kafka_port_ = PickFreePort();
  } while (server->kafka_port_ == server->port_);
  server->url_ = fmt::format("http://127.0.0.1:{}", server->port_);
  const std::string port = std::to_string(server->port_);
  const std::string kafka_port = std::to_string(server->kafka_port_);
  const std::string threads = std::to_string(options.io_threads);
  pid_t child = ::fork();
  if (child < 0) return Status::IOError("fork failed");
  if (child == 0) {
    if (options.pin) PinToCpu(0);
    ::execl(options.self_path.c_str(), options.self_path.c_str(), "server", "--data-dir", tmpl.c_str(), "--http-port",
            port.c_str(), "--pg-port", "0", "--kafka-port", kafka_port.c_str(), "--fsync",
            options.fsync.c_str(), "--io-threads", threads.c_str(), "--log-level", options.log_level.c_str(),
            static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  server->pid_ = child;
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<HttpClient> client, HttpClient::Create(server->url_));
  for (int i = 0; i < 200; ++i) {
    Result<HttpResponse> res = client->Request("GET", "/health");
    if (res.ok() && res->status == 200) return server;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Status::Unavailable(fmt::format("the server did not come up on {}", server->url_));
}

double BenchServer::CpuSeconds() const {
  ProcessStat stat;
  return pid_ > 0 && ReadProcessStat(pid_, &stat) ? stat.cpu_seconds : 0;
}

void BenchServer::Stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }
}

BenchServer::~BenchServer() { Stop(); }

}  // namespace sluice::cli
