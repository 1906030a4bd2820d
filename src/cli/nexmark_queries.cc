#include "cli/nexmark_queries.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <string>

namespace sluice::cli::nexmark {
namespace {

constexpr QueryFile kFiles[] = {
#include "nexmark_queries.inc"
};

int Number(std::string_view name) { return std::atoi(std::string(name.substr(1)).c_str()); }

}  // namespace

std::vector<QueryFile> Queries() {
  std::vector<QueryFile> out;
  for (const QueryFile& f : kFiles) {
    if (f.name.size() > 1 && f.name[0] == 'q') out.push_back(f);
  }
  std::sort(out.begin(), out.end(),
            [](const QueryFile& a, const QueryFile& b) { return Number(a.name) < Number(b.name); });
  return out;
}

std::string_view SourcesSql() {
  for (const QueryFile& f : kFiles) {
    if (f.name == "sources") return f.sql;
  }
  return {};
}

Result<std::string_view> FindQuery(std::string_view name) {
  std::string known;
  for (const QueryFile& f : Queries()) {
    if (f.name == name) return f.sql;
    known += known.empty() ? "" : ", ";
    known += f.name;
  }
  return Status::NotFound(fmt::format("unknown query '{}' (bench/nexmark has: {})", name, known));
}

}  // namespace sluice::cli::nexmark
