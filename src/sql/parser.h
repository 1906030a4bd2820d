#pragma once

#include <string_view>
#include <vector>

#include "common/result.h"
#include "sql/ast.h"

namespace sluice::sql {

// Parses one or more ';'-separated statements (PostgreSQL-flavoured; streaming constructs as in
// SPEC §3). Errors are kInvalidArgument with "syntax error at line L, column C: expected X,
// found Y" or "not supported yet: X" for constructs sluice recognises but does not run.
// Input is limited to kMaxQueryBytes and expressions to kMaxDepth nesting levels, so hostile
// input cannot exhaust memory or the stack.
Result<std::vector<StatementPtr>> Parse(std::string_view sql);

// Parses exactly one statement (a trailing ';' is allowed).
Result<StatementPtr> ParseOne(std::string_view sql);

inline constexpr size_t kMaxQueryBytes = 1 << 20;
inline constexpr int kMaxDepth = 200;

// Canonical SQL text of an expression (fully parenthesised), for EXPLAIN and tests.
std::string ToSql(const Expr& expr);
std::string ToSql(const SelectStmt& query);

}  // namespace sluice::sql
