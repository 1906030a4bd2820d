#pragma once

#include "common/metrics.h"

namespace sluice {

// Registers the process's own gauges, refreshed at every scrape from /proc/self:
// sluice_process_resident_memory_bytes, sluice_process_virtual_memory_bytes,
// sluice_process_cpu_seconds, sluice_process_open_fds, sluice_process_threads,
// sluice_process_start_time_seconds, and sluice_build_info{version}.
void RegisterProcessMetrics(MetricsRegistry* registry, const char* version);

}  // namespace sluice
