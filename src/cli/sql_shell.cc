#include "cli/sql_shell.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include <editline/readline.h>
#include <fmt/format.h>
#include <simdjson.h>

#include "cli/commands.h"
#include "cli/http_client.h"
#include "sql/lexer.h"

namespace sluice::cli {
namespace {

// UTF-8 display width (code points; wide characters counted as one, as a simple terminal would).
size_t DisplayWidth(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

void Pad(std::string* out, size_t n) { out->append(n, ' '); }

std::string JsonEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

}  // namespace

bool StatementComplete(std::string_view text) {
  auto tokens = sql::Tokenize(text);
  if (!tokens.ok()) return false;  // an open string or comment: keep reading
  const auto& t = *tokens;
  return t.size() >= 2 && t[t.size() - 2].kind == sql::TokenKind::kSemicolon;
}

Result<std::vector<ResultTable>> ParseSqlResponse(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(simdjson::padded_string(body)).get(root)) {
    return Status::Internal(fmt::format("the server sent invalid JSON: {}", body.substr(0, 200)));
  }
  simdjson::dom::array results;
  if (root["results"].get(results)) return Status::Internal("the server's answer has no 'results'");
  std::vector<ResultTable> tables;
  for (simdjson::dom::element r : results) {
    ResultTable t;
    std::string_view command;
    if (!r["command"].get(command)) t.command = std::string(command);
    simdjson::dom::array columns, rows;
    if (!r["columns"].get(columns)) {
      for (simdjson::dom::element c : columns) {
        std::string_view name, type;
        if (c["name"].get(name)) name = "?";
        if (c["type"].get(type)) type = "";
        t.columns.emplace_back(name);
        bool numeric = type == "INT" || type == "BIGINT" || type == "DOUBLE" || type.starts_with("DECIMAL");
        t.right_align.push_back(numeric);
      }
    }
    if (!r["rows"].get(rows)) {
      for (simdjson::dom::element row : rows) {
        std::vector<std::string> cells;
        simdjson::dom::array values;
        if (row.get(values)) continue;
        for (simdjson::dom::element v : values) {
          std::string_view s;
          if (v.is_null()) {
            cells.emplace_back("");
          } else if (!v.get(s)) {
            cells.emplace_back(s);
          } else if (v.is_bool()) {
            cells.emplace_back(v.get_bool().value() ? "t" : "f");
          } else {
            cells.push_back(simdjson::minify(v));
          }
        }
        t.rows.push_back(std::move(cells));
      }
    }
    tables.push_back(std::move(t));
  }
  return tables;
}

std::string FormatTable(const ResultTable& t) {
  if (t.columns.empty()) return t.command + "\n";
  std::vector<size_t> width(t.columns.size());
  for (size_t c = 0; c < t.columns.size(); ++c) width[c] = DisplayWidth(t.columns[c]);
  for (const auto& row : t.rows) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], DisplayWidth(row[c]));
  }
  std::string out;
  for (size_t c = 0; c < t.columns.size(); ++c) {
    size_t w = DisplayWidth(t.columns[c]);
    size_t left = (width[c] - w) / 2;
    out += c == 0 ? " " : " | ";
    Pad(&out, left);
    out += t.columns[c];
    Pad(&out, width[c] - w - left);
  }
  out += "\n";
  for (size_t c = 0; c < t.columns.size(); ++c) {
    out += c == 0 ? "-" : "-+-";
    out.append(width[c], '-');
  }
  out += "-\n";
  for (const auto& row : t.rows) {
    for (size_t c = 0; c < t.columns.size(); ++c) {
      const std::string cell = c < row.size() ? row[c] : "";
      size_t pad = width[c] - DisplayWidth(cell);
      out += c == 0 ? " " : " | ";
      if (t.right_align[c]) {
        Pad(&out, pad);
        out += cell;
      } else {
        out += cell;
        if (c + 1 < t.columns.size()) Pad(&out, pad);
      }
    }
    out += "\n";
  }
  out += fmt::format("({} row{})\n", t.rows.size(), t.rows.size() == 1 ? "" : "s");
  return out;
}

namespace {

// Sends `sql` and prints its results; returns false if the server reported an error.
bool RunStatements(HttpClient& client, const std::string& sql, bool timing) {
  auto start = std::chrono::steady_clock::now();
  auto res = client.Request("POST", "/v1/sql", fmt::format("{{\"sql\":\"{}\"}}", JsonEscape(sql)), "application/json");
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!res.ok()) {
    fmt::print(stderr, "ERROR:  {}\n", res.status().message());
    return false;
  }
  if (res->status != 200) {
    fmt::print(stderr, "ERROR:  {}\n", ServerErrorMessage(*res));
    return false;
  }
  auto tables = ParseSqlResponse(res->body);
  if (!tables.ok()) {
    fmt::print(stderr, "ERROR:  {}\n", tables.status().message());
    return false;
  }
  for (const ResultTable& t : *tables) fmt::print("{}\n", FormatTable(t));
  if (timing) fmt::print("Time: {:.3f} ms\n", ms);
  std::fflush(stdout);
  return true;
}

std::string HistoryPath() {
  const char* home = std::getenv("HOME");
  return home ? std::string(home) + "/.sluice_history" : "";
}

}  // namespace

int RunSqlShell(const SqlShellOptions& options) {
  auto client_or = HttpClient::Create(options.url);
  if (!client_or.ok()) {
    fmt::print(stderr, "sluice sql: {}\n", client_or.status().message());
    return kExitUsage;
  }
  HttpClient& client = **client_or;
  bool timing = options.timing;
  if (!options.execute.empty()) return RunStatements(client, options.execute, timing) ? kExitOk : kExitRuntimeError;

  if (!::isatty(STDIN_FILENO)) {
    // Piped input: run statement by statement, stop at the first error (like psql -v ON_ERROR_STOP=1).
    std::string buffer, line;
    while (std::getline(std::cin, line)) {
      buffer += line + "\n";
      if (StatementComplete(buffer)) {
        if (!RunStatements(client, buffer, timing)) return kExitRuntimeError;
        buffer.clear();
      }
    }
    if (buffer.find_first_not_of(" \t\r\n") != std::string::npos && !RunStatements(client, buffer, timing)) {
      return kExitRuntimeError;
    }
    return kExitOk;
  }

  fmt::print("sluice sql shell ({}). End statements with ';'. \\q quits, \\timing toggles timing, \\? helps.\n",
             options.url);
  const std::string history = HistoryPath();
  using_history();
  if (!history.empty()) read_history(history.c_str());
  std::string buffer;
  while (true) {
    char* raw = readline(buffer.empty() ? "sluice=> " : "sluice-> ");
    if (raw == nullptr) {
      fmt::print("\n");
      break;
    }
    std::string line(raw);
    std::free(raw);
    if (buffer.empty() && line.starts_with("\\")) {
      add_history(line.c_str());
      if (line == "\\q") break;
      if (line == "\\timing") {
        timing = !timing;
        fmt::print("Timing is {}.\n", timing ? "on" : "off");
      } else if (line == "\\?" || line == "\\h") {
        fmt::print("  \\q          quit\n  \\timing     toggle timing of statements\n"
                   "  SHOW SOURCES | TABLES | MATERIALIZED VIEWS | SINKS | TOPICS;  DESCRIBE name;  EXPLAIN ...;\n");
      } else {
        fmt::print(stderr, "invalid command {} (\\? for help)\n", line);
      }
      continue;
    }
    buffer += line;
    buffer += "\n";
    if (!StatementComplete(buffer)) continue;
    std::string statement = buffer.substr(0, buffer.size() - 1);
    add_history(statement.c_str());
    RunStatements(client, statement, timing);
    buffer.clear();
  }
  if (!history.empty()) write_history(history.c_str());
  return kExitOk;
}

}  // namespace sluice::cli
