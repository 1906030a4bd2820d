#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "engine/engine.h"
#include "server/http_server.h"
#include "server/kafka/kafka_options.h"
#include "server/pgwire/pg_server.h"

namespace sluice::cli {

// Everything `sluice server` can be told, from the TOML file (--config) and then flags.
// The file's sections and keys are documented in docs/configuration.md.
struct ServerConfig {
  engine::EngineOptions engine;
  server::HttpOptions http;
  server::pgwire::PgOptions pgwire;  // its bind address follows http.bind ([server] bind)
  server::kafka::KafkaOptions kafka;  // its bind address follows http.bind ([server] bind)
  std::string log_level = "info";
};

// Reads `path` (TOML) over the defaults in *config. Unknown keys are an error (a typo in a
// config file must not be silently ignored). kInvalidArgument names the key and the problem.
Status LoadConfigFile(const std::string& path, ServerConfig* config);

// Parses sizes such as "64MiB", "1GB", "4096" into bytes.
Result<uint64_t> ParseByteSize(std::string_view text);
// Parses durations such as "500ms", "10s", "5m", "1h", "7d" into milliseconds; "-1" = forever.
Result<int64_t> ParseDurationMs(std::string_view text);

}  // namespace sluice::cli
