#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace sluice::cli {

struct SqlShellOptions {
  std::string url = "http://127.0.0.1:8080";
  std::string execute;  // -e: run this and exit
  bool timing = false;  // print "Time: x ms" after each statement (\timing toggles)
};

// `sluice sql`: an interactive shell (line editing and history via libedit, multi-line
// statements ended by ';', psql-like aligned tables) or one command with -e. Exit code 0, or 1
// if a statement failed (with -e or piped input).
int RunSqlShell(const SqlShellOptions& options);

// A query result as the shell prints it.
struct ResultTable {
  std::vector<std::string> columns;
  std::vector<bool> right_align;  // numbers are right-aligned, as psql does
  std::vector<std::vector<std::string>> rows;
  std::string command;
};

// Parses the body of a POST /v1/sql response.
Result<std::vector<ResultTable>> ParseSqlResponse(std::string_view body);
// Renders a table the way psql does (header, "-+-" rule, rows, "(N rows)").
std::string FormatTable(const ResultTable& table);
// True when `text` holds at least one complete statement (ends with ';' outside quotes and
// comments), so the shell can send it.
bool StatementComplete(std::string_view text);

}  // namespace sluice::cli
