#include "cli/config.h"

#include <cctype>
#include <charconv>
#include <set>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace sluice::cli {
namespace {

Result<uint64_t> ParseNumberWithUnit(std::string_view text, std::string_view what,
                                     const std::vector<std::pair<std::string_view, uint64_t>>& units) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + i, n);
  if (i == 0 || ec != std::errc()) {
    return Status::InvalidArgument(fmt::format("'{}' is not a valid {}", text, what));
  }
  std::string_view unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  for (const auto& [name, factor] : units) {
    if (unit == name) return n * factor;
  }
  std::string known;
  for (const auto& [name, factor] : units) known += fmt::format(" '{}'", name);
  return Status::InvalidArgument(
      fmt::format("'{}' is not a valid {}: unknown unit '{}' (known:{})", text, what, unit, known));
}

template <typename T>
Status Get(const toml::table& table, std::string_view section, std::string_view key, T* out) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return Status::Ok();
  if constexpr (std::is_same_v<T, bool>) {
    if (auto v = node->value<bool>()) {
      *out = *v;
      return Status::Ok();
    }
  } else if constexpr (std::is_integral_v<T>) {
    if (auto v = node->value<int64_t>()) {
      if (*v < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
          static_cast<uint64_t>(*v) > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
        return Status::InvalidArgument(fmt::format("[{}] {} = {} is out of range", section, key, *v));
      }
      *out = static_cast<T>(*v);
      return Status::Ok();
    }
  } else {
    if (auto v = node->value<std::string>()) {
      *out = *v;
      return Status::Ok();
    }
  }
  return Status::InvalidArgument(fmt::format("[{}] {} has the wrong type", section, key));
}

// Sizes and durations accept a number or a string with a unit.
Status GetBytes(const toml::table& table, std::string_view section, std::string_view key,
                uint64_t* out) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return Status::Ok();
  if (auto v = node->value<int64_t>(); v && *v >= 0) {
    *out = static_cast<uint64_t>(*v);
    return Status::Ok();
  }
  if (auto v = node->value<std::string>()) {
    SLUICE_ASSIGN_OR_RETURN(*out, ParseByteSize(*v));
    return Status::Ok();
  }
  return Status::InvalidArgument(fmt::format("[{}] {} must be a size like \"64MiB\"", section, key));
}

Status GetDuration(const toml::table& table, std::string_view section, std::string_view key,
                   int64_t* out) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return Status::Ok();
  if (auto v = node->value<int64_t>()) {
    *out = *v;
    return Status::Ok();
  }
  if (auto v = node->value<std::string>()) {
    SLUICE_ASSIGN_OR_RETURN(*out, ParseDurationMs(*v));
    return Status::Ok();
  }
  return Status::InvalidArgument(
      fmt::format("[{}] {} must be a duration like \"10s\" or milliseconds", section, key));
}

Status CheckKeys(const toml::table& table, std::string_view section,
                 const std::set<std::string_view>& allowed) {
  for (const auto& [key, node] : table) {
    if (!allowed.contains(key.str())) {
      return Status::InvalidArgument(fmt::format("unknown key '{}' in [{}]", key.str(), section));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<uint64_t> ParseByteSize(std::string_view text) {
  return ParseNumberWithUnit(text, "size",
                             {{"", 1},
                              {"B", 1},
                              {"KB", 1000},
                              {"MB", 1000 * 1000},
                              {"GB", 1000ull * 1000 * 1000},
                              {"KiB", 1024},
                              {"MiB", 1024 * 1024},
                              {"GiB", 1024ull * 1024 * 1024}});
}

Result<int64_t> ParseDurationMs(std::string_view text) {
  if (text == "-1") return int64_t{-1};
  SLUICE_ASSIGN_OR_RETURN(uint64_t ms, ParseNumberWithUnit(text, "duration",
                                                           {{"", 1},
                                                            {"ms", 1},
                                                            {"s", 1000},
                                                            {"m", 60 * 1000},
                                                            {"h", 3600 * 1000},
                                                            {"d", 24 * 3600 * 1000}}));
  return static_cast<int64_t>(ms);
}

Status LoadConfigFile(const std::string& path, ServerConfig* config) {
  toml::table root;
#if TOML_EXCEPTIONS
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& err) {
    return Status::InvalidArgument(fmt::format("{}:{}:{}: {}", path, err.source().begin.line,
                                               err.source().begin.column, err.description()));
  }
#else
  toml::parse_result parsed = toml::parse_file(path);
  if (!parsed) {
    const toml::parse_error& err = parsed.error();
    return Status::InvalidArgument(fmt::format("{}:{}:{}: {}", path, err.source().begin.line,
                                               err.source().begin.column, err.description()));
  }
  root = std::move(parsed).table();
#endif
  SLUICE_RETURN_IF_ERROR(
      CheckKeys(root, "top level", {"server", "log", "ingest", "pgwire", "subscriptions", "kafka", "checkpoint"}).WithContext(path));

  if (const toml::table* s = root["server"].as_table()) {
    SLUICE_RETURN_IF_ERROR(CheckKeys(*s, "server",
                                     {"bind", "http_port", "pg_port", "kafka_port", "data_dir",
                                      "io_threads", "log_level", "idle_timeout", "read_timeout"})
                               .WithContext(path));
    SLUICE_RETURN_IF_ERROR(Get(*s, "server", "bind", &config->http.bind));
    SLUICE_RETURN_IF_ERROR(Get(*s, "server", "http_port", &config->http.port));
    SLUICE_RETURN_IF_ERROR(Get(*s, "server", "pg_port", &config->pgwire.port));
    SLUICE_RETURN_IF_ERROR(Get(*s, "server", "kafka_port", &config->kafka.port));
    SLUICE_RETURN_IF_ERROR(Get(*s, "server", "data_dir", &config->engine.data_dir));
    SLUICE_RETURN_IF_ERROR(Get(*s, "server", "io_threads", &config->http.io_threads));
    SLUICE_RETURN_IF_ERROR(Get(*s, "server", "log_level", &config->log_level));
    SLUICE_RETURN_IF_ERROR(GetDuration(*s, "server", "idle_timeout", &config->http.idle_timeout_ms));
    SLUICE_RETURN_IF_ERROR(GetDuration(*s, "server", "read_timeout", &config->http.read_timeout_ms));
  }
  if (const toml::table* l = root["log"].as_table()) {
    SLUICE_RETURN_IF_ERROR(CheckKeys(*l, "log",
                                     {"fsync", "fsync_interval", "segment_bytes", "segment_age",
                                      "retention", "retention_bytes", "retention_check_interval",
                                      "max_unsynced_bytes"})
                               .WithContext(path));
    log::LogOptions& o = config->engine.log;
    std::string fsync;
    SLUICE_RETURN_IF_ERROR(Get(*l, "log", "fsync", &fsync));
    if (!fsync.empty()) {
      SLUICE_ASSIGN_OR_RETURN(o.fsync, log::ParseFsyncPolicy(fsync));
    }
    SLUICE_RETURN_IF_ERROR(GetDuration(*l, "log", "fsync_interval", &o.fsync_interval_ms));
    SLUICE_RETURN_IF_ERROR(GetBytes(*l, "log", "segment_bytes", &o.segment_bytes));
    SLUICE_RETURN_IF_ERROR(GetDuration(*l, "log", "segment_age", &o.segment_ms));
    SLUICE_RETURN_IF_ERROR(GetDuration(*l, "log", "retention", &o.default_retention_ms));
    uint64_t retention_bytes = 0;
    SLUICE_RETURN_IF_ERROR(GetBytes(*l, "log", "retention_bytes", &retention_bytes));
    if (retention_bytes > 0) o.default_retention_bytes = static_cast<int64_t>(retention_bytes);
    SLUICE_RETURN_IF_ERROR(
        GetDuration(*l, "log", "retention_check_interval", &o.retention_check_interval_ms));
    SLUICE_RETURN_IF_ERROR(GetBytes(*l, "log", "max_unsynced_bytes", &o.max_unsynced_bytes));
  }
  if (const toml::table* c = root["checkpoint"].as_table()) {
    SLUICE_RETURN_IF_ERROR(CheckKeys(*c, "checkpoint", {"interval"}).WithContext(path));
    SLUICE_RETURN_IF_ERROR(GetDuration(*c, "checkpoint", "interval", &config->engine.checkpoint_interval_ms));
    if (config->engine.checkpoint_interval_ms < 10) {
      return Status::InvalidArgument(fmt::format("{}: [checkpoint] interval must be at least 10ms", path));
    }
  }
  if (const toml::table* i = root["ingest"].as_table()) {
    SLUICE_RETURN_IF_ERROR(CheckKeys(*i, "ingest",
                                     {"auto_create_topics", "default_partitions",
                                      "idempotency_window", "max_body_bytes", "max_event_bytes"})
                               .WithContext(path));
    SLUICE_RETURN_IF_ERROR(Get(*i, "ingest", "auto_create_topics", &config->engine.auto_create_topics));
    SLUICE_RETURN_IF_ERROR(Get(*i, "ingest", "default_partitions", &config->engine.default_partitions));
    SLUICE_RETURN_IF_ERROR(
        GetDuration(*i, "ingest", "idempotency_window", &config->engine.idempotency_window_ms));
    uint64_t max_body = config->http.max_body_bytes;
    SLUICE_RETURN_IF_ERROR(GetBytes(*i, "ingest", "max_body_bytes", &max_body));
    config->http.max_body_bytes = max_body;
    uint64_t max_event = config->engine.max_event_bytes;
    SLUICE_RETURN_IF_ERROR(GetBytes(*i, "ingest", "max_event_bytes", &max_event));
    config->engine.max_event_bytes = max_event;
  }
  if (const toml::table* t = root["subscriptions"].as_table()) {
    SLUICE_RETURN_IF_ERROR(CheckKeys(*t, "subscriptions",
                                     {"buffer_batches", "buffer_bytes", "history_batches", "history_bytes",
                                      "heartbeat", "stall_timeout", "max_message_bytes"})
                               .WithContext(path));
    engine::SubscriptionLimits& limits = config->engine.subscriptions;
    server::PushOptions& push = config->http.push;
    uint64_t bytes = limits.buffer_bytes;
    SLUICE_RETURN_IF_ERROR(Get(*t, "subscriptions", "buffer_batches", &limits.buffer_batches));
    SLUICE_RETURN_IF_ERROR(GetBytes(*t, "subscriptions", "buffer_bytes", &bytes));
    limits.buffer_bytes = bytes;
    bytes = limits.history_bytes;
    SLUICE_RETURN_IF_ERROR(Get(*t, "subscriptions", "history_batches", &limits.history_batches));
    SLUICE_RETURN_IF_ERROR(GetBytes(*t, "subscriptions", "history_bytes", &bytes));
    limits.history_bytes = bytes;
    SLUICE_RETURN_IF_ERROR(GetDuration(*t, "subscriptions", "heartbeat", &push.heartbeat_ms));
    SLUICE_RETURN_IF_ERROR(GetDuration(*t, "subscriptions", "stall_timeout", &push.stall_timeout_ms));
    bytes = push.ws_max_message_bytes;
    SLUICE_RETURN_IF_ERROR(GetBytes(*t, "subscriptions", "max_message_bytes", &bytes));
    push.ws_max_message_bytes = bytes;
    if (limits.buffer_batches < 1 || limits.history_batches < 1) {
      return Status::InvalidArgument(fmt::format("{}: [subscriptions] buffer_batches and history_batches must be at least 1", path));
    }
    if (push.heartbeat_ms < 100 || push.stall_timeout_ms < 1000) {
      return Status::InvalidArgument(
          fmt::format("{}: [subscriptions] heartbeat must be at least 100ms and stall_timeout at least 1s", path));
    }
  }
  if (const toml::table* k = root["kafka"].as_table()) {
    SLUICE_RETURN_IF_ERROR(CheckKeys(*k, "kafka",
                                     {"enabled", "advertised_host", "io_threads", "max_connections",
                                      "max_request_bytes", "max_batch_bytes"})
                               .WithContext(path));
    server::kafka::KafkaOptions& o = config->kafka;
    SLUICE_RETURN_IF_ERROR(Get(*k, "kafka", "enabled", &o.enabled));
    SLUICE_RETURN_IF_ERROR(Get(*k, "kafka", "advertised_host", &o.advertised_host));
    SLUICE_RETURN_IF_ERROR(Get(*k, "kafka", "io_threads", &o.io_threads));
    SLUICE_RETURN_IF_ERROR(Get(*k, "kafka", "max_connections", &o.max_connections));
    uint64_t max_request = o.max_request_bytes;
    SLUICE_RETURN_IF_ERROR(GetBytes(*k, "kafka", "max_request_bytes", &max_request));
    o.max_request_bytes = max_request;
    uint64_t max_batch = o.max_batch_bytes;
    SLUICE_RETURN_IF_ERROR(GetBytes(*k, "kafka", "max_batch_bytes", &max_batch));
    o.max_batch_bytes = max_batch;
    if (o.io_threads < 1 || o.io_threads > 256) {
      return Status::InvalidArgument(fmt::format("{}: [kafka] io_threads must be between 1 and 256", path));
    }
    if (o.max_request_bytes < 1024 || o.max_batch_bytes < 1024 || o.max_batch_bytes > o.max_request_bytes) {
      return Status::InvalidArgument(
          fmt::format("{}: [kafka] need 1 KiB <= max_batch_bytes <= max_request_bytes", path));
    }
  }
  if (const toml::table* p = root["pgwire"].as_table()) {
    SLUICE_RETURN_IF_ERROR(CheckKeys(*p, "pgwire",
                                     {"enabled", "auth", "users", "io_threads", "query_threads", "max_connections",
                                      "max_message_bytes", "auth_timeout", "write_timeout"})
                               .WithContext(path));
    server::pgwire::PgOptions& o = config->pgwire;
    SLUICE_RETURN_IF_ERROR(Get(*p, "pgwire", "enabled", &o.enabled));
    std::string auth;
    SLUICE_RETURN_IF_ERROR(Get(*p, "pgwire", "auth", &auth));
    if (!auth.empty()) {
      auto method = server::pgwire::ParseAuthMethod(auth);
      if (!method.ok()) return method.status().WithContext(fmt::format("{}: [pgwire] auth", path));
      o.auth = *method;
    }
    SLUICE_RETURN_IF_ERROR(Get(*p, "pgwire", "io_threads", &o.io_threads));
    SLUICE_RETURN_IF_ERROR(Get(*p, "pgwire", "query_threads", &o.query_threads));
    if (o.io_threads < 1 || o.io_threads > 256 || o.query_threads < 1 || o.query_threads > 256) {
      return Status::InvalidArgument(fmt::format("{}: [pgwire] io_threads and query_threads must be between 1 and 256", path));
    }
    SLUICE_RETURN_IF_ERROR(Get(*p, "pgwire", "max_connections", &o.max_connections));
    uint64_t max_message = o.max_message_bytes;
    SLUICE_RETURN_IF_ERROR(GetBytes(*p, "pgwire", "max_message_bytes", &max_message));
    o.max_message_bytes = max_message;
    SLUICE_RETURN_IF_ERROR(GetDuration(*p, "pgwire", "auth_timeout", &o.auth_timeout_ms));
    SLUICE_RETURN_IF_ERROR(GetDuration(*p, "pgwire", "write_timeout", &o.write_timeout_ms));
    if (const toml::node* users = p->get("users")) {
      const toml::array* list = users->as_array();
      if (list == nullptr) {
        return Status::InvalidArgument(fmt::format("{}: [pgwire] users must be a list of {{name, password}} tables", path));
      }
      for (const toml::node& item : *list) {
        const toml::table* u = item.as_table();
        if (u == nullptr) {
          return Status::InvalidArgument(fmt::format("{}: [pgwire] users must be a list of {{name, password}} tables", path));
        }
        SLUICE_RETURN_IF_ERROR(CheckKeys(*u, "pgwire.users", {"name", "password"}).WithContext(path));
        server::pgwire::PgUser user;
        SLUICE_RETURN_IF_ERROR(Get(*u, "pgwire.users", "name", &user.name));
        SLUICE_RETURN_IF_ERROR(Get(*u, "pgwire.users", "password", &user.password));
        if (user.name.empty() || user.password.empty()) {
          return Status::InvalidArgument(fmt::format("{}: [pgwire] every user needs a name and a password", path));
        }
        o.users.push_back(std::move(user));
      }
    }
    if (o.query_threads < 1 || o.query_threads > 256) {
      return Status::InvalidArgument(fmt::format("{}: [pgwire] query_threads must be between 1 and 256", path));
    }
    if (o.max_connections < 1) {
      return Status::InvalidArgument(fmt::format("{}: [pgwire] max_connections must be at least 1", path));
    }
    if ((o.auth == server::pgwire::AuthMethod::kPassword || o.auth == server::pgwire::AuthMethod::kScram) &&
        o.users.empty()) {
      return Status::InvalidArgument(fmt::format("{}: [pgwire] auth = \"{}\" needs at least one user", path, auth));
    }
  }
  if (config->engine.default_partitions < 1 || config->engine.default_partitions > 1024) {
    return Status::InvalidArgument(
        fmt::format("{}: [ingest] default_partitions must be between 1 and 1024", path));
  }
  if (config->http.io_threads < 1 || config->http.io_threads > 256) {
    return Status::InvalidArgument(fmt::format("{}: [server] io_threads must be between 1 and 256", path));
  }
  return Status::Ok();
}

}  // namespace sluice::cli
