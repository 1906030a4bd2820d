#pragma once

// Logging goes through spdlog; this header is the one place that includes it so the choice of
// sink and format is made once (cli/main.cc configures the default logger).
#include <spdlog/spdlog.h>

#define SLUICE_LOG_DEBUG(...) SPDLOG_DEBUG(__VA_ARGS__)
#define SLUICE_LOG_INFO(...) SPDLOG_INFO(__VA_ARGS__)
#define SLUICE_LOG_WARN(...) SPDLOG_WARN(__VA_ARGS__)
#define SLUICE_LOG_ERROR(...) SPDLOG_ERROR(__VA_ARGS__)
