#include <cstdio>

#include <fmt/format.h>
#include <simdjson.h>

#include "cli/commands.h"
#include "cli/http_client.h"

namespace sluice::cli {
namespace {

// One row of the report ([v1, v2, ...]) as "v1 | v2 | ...".
std::string RowText(simdjson::dom::element row) {
  std::string line;
  simdjson::dom::array values;
  if (row.get(values)) return line;
  for (simdjson::dom::element v : values) {
    if (!line.empty()) line += " | ";
    std::string_view s;
    if (v.is_null()) {
      line += "NULL";
    } else if (!v.get(s)) {
      line += std::string(s);
    } else {
      line += simdjson::minify(v);
    }
  }
  return line;
}

}  // namespace

int RunVerify(const VerifyOptions& o) {
  auto client_or = HttpClient::Create(o.url, 600'000);
  if (!client_or.ok()) {
    fmt::print(stderr, "sluice verify: {}\n", client_or.status().message());
    return kExitUsage;
  }
  Result<HttpResponse> res = (*client_or)->Request("GET", "/v1/views/" + UrlEncode(o.view) + "/verify");
  if (!res.ok()) {
    fmt::print(stderr, "sluice verify: {}\n", res.status().message());
    return kExitRuntimeError;
  }
  if (res->status != 200) {
    fmt::print(stderr, "sluice verify {}: {}\n", o.view, ServerErrorMessage(*res));
    return kExitRuntimeError;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element report;
  if (parser.parse(simdjson::padded_string(res->body)).get(report)) {
    fmt::print(stderr, "sluice verify: the server's answer is not JSON\n");
    return kExitRuntimeError;
  }
  bool ok = false;
  int64_t view_rows = 0, batch_rows = 0;
  if (report["ok"].get(ok) || report["view_rows"].get(view_rows) || report["batch_rows"].get(batch_rows)) {
    fmt::print(stderr, "sluice verify: the server's answer lacks ok/view_rows/batch_rows\n");
    return kExitRuntimeError;
  }
  if (ok) {
    fmt::print("view {}: OK — {} rows, equal to the batch recomputation from the retained log\n", o.view, view_rows);
    return kExitOk;
  }
  fmt::print("view {}: MISMATCH — the view has {} rows, the batch recomputation {}\n", o.view, view_rows, batch_rows);
  simdjson::dom::array columns;
  if (!report["columns"].get(columns)) {
    std::string header;
    for (simdjson::dom::element c : columns) {
      std::string_view name;
      if (!c.get(name)) header += (header.empty() ? "" : " | ") + std::string(name);
    }
    fmt::print("  columns: {}\n", header);
  }
  for (const char* side : {"only_in_view", "only_in_batch"}) {
    simdjson::dom::array rows;
    if (report[side].get(rows)) continue;
    size_t shown = 0;
    for (simdjson::dom::element row : rows) {
      if (shown++ == static_cast<size_t>(o.max_rows)) {
        fmt::print("  ... ({} more)\n", rows.size() - static_cast<size_t>(o.max_rows));
        break;
      }
      fmt::print("  {} {}\n", std::string_view(side) == "only_in_view" ? "view only: " : "batch only:", RowText(row));
    }
  }
  return kExitRuntimeError;
}

}  // namespace sluice::cli
