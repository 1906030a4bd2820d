#include <cstdio>

#include <fmt/format.h>
#include <simdjson.h>

#include "cli/commands.h"
#include "cli/http_client.h"

namespace sluice::cli {
namespace {

// Prints the server's error body ({"error": {"code", "message"}}) as one line on stderr.
int ReportError(const std::string& what, const HttpResponse& res) {
  fmt::print(stderr, "sluice topics {}: {}\n", what, ServerErrorMessage(res));
  return kExitRuntimeError;
}

int64_t GetInt(simdjson::dom::element e, std::string_view key) {
  int64_t v = 0;
  if (e[key].get(v)) return 0;
  return v;
}

std::string GetString(simdjson::dom::element e, std::string_view key) {
  std::string_view v;
  if (e[key].get(v)) return "";
  return std::string(v);
}

void PrintTopicRow(simdjson::dom::element topic) {
  int64_t events = 0, bytes = 0, partitions = 0;
  simdjson::dom::array parts;
  if (!topic["partitions"].get(parts)) {
    for (simdjson::dom::element p : parts) {
      ++partitions;
      events += GetInt(p, "end_offset") - GetInt(p, "start_offset");
      bytes += GetInt(p, "bytes");
    }
  }
  int64_t retention = GetInt(topic, "retention_ms");
  fmt::print("{:<32} {:>10} {:>12} {:>14} {:<16} {}\n", GetString(topic, "name"), partitions, events,
             bytes, GetString(topic, "key"),
             retention < 0 ? std::string("forever") : fmt::format("{} ms", retention));
}

}  // namespace

int RunTopics(const TopicsOptions& o) {
  auto client_or = HttpClient::Create(o.url);
  if (!client_or.ok()) {
    fmt::print(stderr, "sluice topics: {}\n", client_or.status().message());
    return kExitUsage;
  }
  HttpClient& client = **client_or;
  if (o.action != "list" && o.name.empty()) {
    fmt::print(stderr, "sluice topics {}: a topic name is required\n", o.action);
    return kExitUsage;
  }
  const std::string path = "/v1/topics/" + UrlEncode(o.name);
  Result<HttpResponse> res = Status::Internal("no request");
  if (o.action == "list") {
    res = client.Request("GET", "/v1/topics");
  } else if (o.action == "describe") {
    res = client.Request("GET", path);
  } else if (o.action == "delete") {
    res = client.Request("DELETE", path);
  } else if (o.action == "create") {
    std::string body = fmt::format("{{\"name\":\"{}\"", o.name);
    if (o.partitions > 0) body += fmt::format(",\"partitions\":{}", o.partitions);
    if (!o.key.empty()) body += fmt::format(",\"key\":\"{}\"", o.key);
    if (!o.retention.empty()) {
      auto ms = ParseDurationMs(o.retention);
      if (!ms.ok()) {
        fmt::print(stderr, "sluice topics create: --retention: {}\n", ms.status().message());
        return kExitUsage;
      }
      body += fmt::format(",\"retention_ms\":{}", *ms);
    }
    body += "}";
    res = client.Request("POST", "/v1/topics", body, "application/json");
  } else {
    fmt::print(stderr, "sluice topics: unknown action '{}' (list, create, describe, delete)\n", o.action);
    return kExitUsage;
  }
  if (!res.ok()) {
    fmt::print(stderr, "sluice topics {}: {}\n", o.action, res.status().message());
    return kExitRuntimeError;
  }
  if (res->status / 100 != 2) return ReportError(o.action, *res);

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (o.action == "delete") {
    fmt::print("deleted topic '{}'\n", o.name);
    return kExitOk;
  }
  if (parser.parse(res->body).get(doc)) {
    fmt::print("{}\n", res->body);
    return kExitOk;
  }
  fmt::print("{:<32} {:>10} {:>12} {:>14} {:<16} {}\n", "TOPIC", "PARTITIONS", "EVENTS", "BYTES", "KEY",
             "RETENTION");
  simdjson::dom::array topics;
  if (o.action == "list" && !doc["topics"].get(topics)) {
    for (simdjson::dom::element t : topics) PrintTopicRow(t);
  } else if (o.action == "list" && !doc.get(topics)) {
    for (simdjson::dom::element t : topics) PrintTopicRow(t);
  } else {
    PrintTopicRow(doc);
  }
  return kExitOk;
}

}  // namespace sluice::cli
