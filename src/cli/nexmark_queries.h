#pragma once

#include <string_view>
#include <vector>

#include "common/result.h"

namespace sluice::cli::nexmark {

// The files of bench/nexmark/ as compiled into the binary: "sources" (the CREATE SOURCE
// statements of the three streams) and one SELECT per query, named by file ("q0", "q5", ...).
struct QueryFile {
  std::string_view name;
  std::string_view sql;
};

// Every query (not "sources"), in query-number order.
std::vector<QueryFile> Queries();
// The CREATE SOURCE statements.
std::string_view SourcesSql();
// The query named `name`; kNotFound listing the known names otherwise.
Result<std::string_view> FindQuery(std::string_view name);

}  // namespace sluice::cli::nexmark
