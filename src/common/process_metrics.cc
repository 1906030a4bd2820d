#include "common/process_metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/clock.h"

namespace sluice {
namespace {

int CountOpenFds() {
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return 0;
  int n = 0;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n - 1;  // the directory stream's own descriptor
}

}  // namespace

bool ReadProcessStat(pid_t pid, ProcessStat* out) {
  std::ifstream in(pid == 0 ? std::string("/proc/self/stat") : "/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close_paren = stat.rfind(')');
  if (close_paren == std::string::npos || close_paren + 2 > stat.size()) return false;
  // Fields after "pid (comm) ": index 0 is the state (field 3 of proc(5)).
  std::vector<std::string> f;
  std::istringstream rest(stat.substr(close_paren + 2));
  std::string field;
  while (rest >> field) f.push_back(field);
  // proc(5): utime 14, stime 15, num_threads 20, vsize 23, rss 24 (1-based, whole line).
  if (f.size() <= 21) return false;
  static const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  static const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  out->cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / ticks;
  out->threads = std::stod(f[17]);
  out->virtual_bytes = std::stod(f[20]);
  out->resident_bytes = std::stod(f[21]) * page;
  return true;
}

void RegisterProcessMetrics(MetricsRegistry* registry, const char* version) {
  Gauge* rss = registry->AddGauge("sluice_process_resident_memory_bytes", "Resident memory.")->WithLabels({});
  Gauge* vsz = registry->AddGauge("sluice_process_virtual_memory_bytes", "Virtual memory.")->WithLabels({});
  Gauge* cpu = registry->AddGauge("sluice_process_cpu_seconds", "User and system CPU time used.")
                   ->WithLabels({});
  Gauge* fds = registry->AddGauge("sluice_process_open_fds", "Open file descriptors.")->WithLabels({});
  Gauge* threads = registry->AddGauge("sluice_process_threads", "Threads in the process.")->WithLabels({});
  registry->AddGauge("sluice_process_start_time_seconds", "Start time, seconds since the Unix epoch.")
      ->WithLabels({})
      ->Set(static_cast<double>(Clock::Real()->Now().value()) / 1000.0);
  registry->AddGauge("sluice_build_info", "Build information; the value is always 1.", {"version"})
      ->WithLabels({version})
      ->Set(1);
  registry->AddCollector([=] {
    ProcessStat stat;
    if (ReadProcessStat(0, &stat)) {
      cpu->Set(stat.cpu_seconds);
      threads->Set(stat.threads);
      vsz->Set(stat.virtual_bytes);
      rss->Set(stat.resident_bytes);
    }
    fds->Set(CountOpenFds());
  });
}

}  // namespace sluice
