#pragma once

#include <sys/types.h>

#include "common/metrics.h"

namespace sluice {

// A process's usage from /proc/<pid>/stat.
struct ProcessStat {
  double cpu_seconds = 0;  // user + system
  double threads = 0;
  double virtual_bytes = 0;
  double resident_bytes = 0;
};
// Reads /proc/<pid>/stat (pid 0 = this process); false if it cannot be read.
bool ReadProcessStat(pid_t pid, ProcessStat* out);

// Registers the process's own gauges, refreshed at every scrape from /proc/self:
// sluice_process_resident_memory_bytes, sluice_process_virtual_memory_bytes,
// sluice_process_cpu_seconds, sluice_process_open_fds, sluice_process_threads,
// sluice_process_start_time_seconds, and sluice_build_info{version}.
void RegisterProcessMetrics(MetricsRegistry* registry, const char* version);

}  // namespace sluice
