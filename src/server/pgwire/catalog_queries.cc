#include "server/pgwire/catalog_queries.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <functional>

#include <fmt/format.h>

#include "common/logging.h"
#include "server/pgwire/pg_types.h"
#include "server/pgwire/query_text.h"

namespace sluice::server::pgwire {
namespace {

// How this works: a system query is answered by shape, not by a SQL engine over pg_catalog.
// The FROM clause names the catalog table (pg_class, pg_attribute, pg_database,
// information_schema.tables, ...); one row is made per catalog object that passes the filters
// clients use (relkind IN, relname ~ pattern, oid = N, table_name = 'x'); and each select-list
// item is computed from the object by what it reads (c.relname -> the name, format_type ->
// the column type, relhasindex -> false ...). Items it does not know come out NULL, and
// catalog tables it does not model (pg_index, pg_policy, pg_inherits ...) come out empty, so a
// client sees "nothing there" rather than an error.

using engine::ResultColumn;
using engine::StatementResult;
using sql::DataType;
using sql::Value;

constexpr uint32_t kFirstObjectOid = 16384;  // PostgreSQL's FirstNormalObjectId
constexpr uint32_t kPublicNamespaceOid = 2200;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool Has(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// ---- the catalog, read through the engine ----------------------------------------------------

struct ColumnInfo {
  std::string name;
  std::string sluice_type;  // "BIGINT", "DECIMAL(10,2)"
  bool nullable = true;
};

struct ObjectInfo {
  std::string name;
  std::string kind;  // "source", "table", "materialized view"
  char relkind = 'r';
  std::string definition;
  uint32_t oid = 0;
  std::vector<ColumnInfo> columns;
};

uint32_t ObjectOid(std::string_view name) {
  uint32_t h = 2166136261u;  // FNV-1a: stable across restarts and builds
  for (char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  return kFirstObjectOid + h % 2'000'000'000u;
}

Result<std::vector<ObjectInfo>> ListObjects(engine::Engine* engine, bool with_columns) {
  std::vector<ObjectInfo> objects;
  struct Kind {
    const char* show;
    const char* kind;
    char relkind;
  };
  for (const Kind& k : {Kind{"SHOW SOURCES", "source", 'r'}, Kind{"SHOW TABLES", "table", 'r'},
                        Kind{"SHOW MATERIALIZED VIEWS", "materialized view", 'm'}}) {
    SLUICE_ASSIGN_OR_RETURN(std::vector<StatementResult> r, engine->ExecuteSql(k.show));
    if (r.empty()) continue;
    for (const auto& row : r[0].rows) {
      ObjectInfo o;
      o.name = row[0].is_null() ? "" : row[0].string();
      o.kind = k.kind;
      o.relkind = k.relkind;
      o.definition = row.size() > 2 && !row[2].is_null() ? row[2].string() : "";
      o.oid = ObjectOid(o.name);
      objects.push_back(std::move(o));
    }
  }
  std::sort(objects.begin(), objects.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.name < b.name; });
  if (with_columns) {
    for (ObjectInfo& o : objects) {
      auto d = engine->ExecuteSql("DESCRIBE " + o.name);
      if (!d.ok() || d->empty()) continue;  // dropped meanwhile
      for (const auto& row : (*d)[0].rows) {
        ColumnInfo c;
        c.name = row[0].string();
        c.sluice_type = row[1].string();
        c.nullable = row.size() > 2 && !row[2].is_null() && row[2].boolean();
        o.columns.push_back(std::move(c));
      }
    }
  }
  return objects;
}

std::string PgTypeNameOf(std::string_view sluice_type) {
  const std::string t = Lower(sluice_type);
  if (t == "boolean") return "boolean";
  if (t == "int") return "integer";
  if (t == "bigint") return "bigint";
  if (t == "double") return "double precision";
  if (t.starts_with("decimal")) return "numeric" + t.substr(7);
  if (t == "varchar") return "character varying";
  if (t == "timestamp") return "timestamp without time zone";
  if (t == "timestamptz") return "timestamp with time zone";
  return t;  // interval, date
}

// information_schema.columns.data_type: the SQL name without modifiers ("numeric",
// "character varying"); udt_name: pg_type.typname ("int8", "varchar").
std::string DataTypeNameOf(std::string_view sluice_type) {
  const std::string name = PgTypeNameOf(sluice_type);
  return name.starts_with("numeric") ? "numeric" : name;
}

std::string UdtNameOf(std::string_view sluice_type) {
  const std::string t = Lower(sluice_type);
  if (t == "boolean") return "bool";
  if (t == "int") return "int4";
  if (t == "bigint") return "int8";
  if (t == "double") return "float8";
  if (t.starts_with("decimal")) return "numeric";
  return t;  // varchar, timestamp, timestamptz, interval, date
}

uint32_t PgTypeOidOf(std::string_view sluice_type) {
  const std::string t = Lower(sluice_type);
  if (t == "boolean") return oid::kBool;
  if (t == "int") return oid::kInt4;
  if (t == "bigint") return oid::kInt8;
  if (t == "double") return oid::kFloat8;
  if (t.starts_with("decimal")) return oid::kNumeric;
  if (t == "varchar") return oid::kVarchar;
  if (t == "timestamp") return oid::kTimestamp;
  if (t == "timestamptz") return oid::kTimestamptz;
  if (t == "interval") return oid::kInterval;
  if (t == "date") return oid::kDate;
  return oid::kText;
}

// ---- the query's shape -----------------------------------------------------------------------

struct SelectItem {
  std::string expr;  // lower-cased expression text, identifier quotes removed
  std::string raw;   // the expression as written (literals keep their case), identifier quotes removed
  std::string name;  // the output column name
};

// Top-level keyword positions and select items, found outside quotes and parentheses.
struct QueryShape {
  std::vector<SelectItem> items;
  std::string from;   // lower-cased text after FROM up to WHERE/ORDER/GROUP/LIMIT (may be empty)
  std::string where;  // lower-cased text after WHERE (with quotes kept)
  std::string raw_where;
};

bool IsWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

// Offsets of top-level (depth 0, outside quotes) occurrences of `keyword` as a whole word.
std::vector<size_t> TopLevelKeyword(std::string_view text, std::string_view keyword) {
  std::vector<size_t> at;
  int depth = 0;
  for (size_t i = 0; i < text.size();) {
    const size_t skip = SkipQuoted(text, i);
    if (skip != i) {
      i = skip;
      continue;
    }
    const char c = text[i];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth == 0 && (i == 0 || !IsWordChar(text[i - 1])) && i + keyword.size() <= text.size() &&
        Lower(text.substr(i, keyword.size())) == keyword &&
        (i + keyword.size() == text.size() || !IsWordChar(text[i + keyword.size()]))) {
      at.push_back(i);
    }
    ++i;
  }
  return at;
}

std::vector<std::string_view> SplitTopLevel(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    const size_t skip = SkipQuoted(text, i);
    if (skip != i) {
      i = skip;
      continue;
    }
    if (text[i] == '(') ++depth;
    if (text[i] == ')') --depth;
    if (depth == 0 && text[i] == sep) {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
    ++i;
  }
  parts.push_back(text.substr(start));
  return parts;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t' || s.back() == '\r' || s.back() == ';')) {
    s.remove_suffix(1);
  }
  return s;
}

// The text without the double quotes of quoted identifiers ("pg_catalog"."pg_class" ->
// pg_catalog.pg_class): catalog queries are matched by the names they read. String literals
// are kept as they are.
std::string StripIdentifierQuotes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text[i] == '\'') {
      const size_t end = SkipQuoted(text, i);
      out.append(text.substr(i, end - i));
      i = end;
      continue;
    }
    if (text[i] != '"') out.push_back(text[i]);
    ++i;
  }
  return out;
}

SelectItem MakeItem(std::string_view text) {
  text = Trim(text);
  SelectItem item;
  const std::vector<size_t> as = TopLevelKeyword(text, "as");
  std::string_view expr = text;
  if (!as.empty()) {
    expr = Trim(text.substr(0, as.back()));
    std::string_view alias = Trim(text.substr(as.back() + 2));
    if (alias.size() >= 2 && alias.front() == '"' && alias.back() == '"') {
      item.name = std::string(alias.substr(1, alias.size() - 2));
    } else {
      item.name = Lower(alias);
    }
  }
  item.raw = StripIdentifierQuotes(expr);
  item.expr = Lower(item.raw);
  if (item.name.empty()) {
    // PostgreSQL names an unaliased column after its last identifier: c.relname -> relname,
    // pg_catalog.format_type(...) -> format_type, CASE ... -> case.
    std::string_view e = item.raw;
    if (const size_t cast = e.find("::"); cast != std::string_view::npos) e = e.substr(0, cast);
    if (const size_t paren = e.find('('); paren != std::string_view::npos) e = e.substr(0, paren);
    e = Trim(e);
    const size_t dot = e.rfind('.');
    if (dot != std::string_view::npos) e = e.substr(dot + 1);
    const size_t space = e.find(' ');
    if (space != std::string_view::npos) e = e.substr(0, space);
    const bool identifier = !e.empty() && std::all_of(e.begin(), e.end(), IsWordChar) && !(e[0] >= '0' && e[0] <= '9');
    item.name = identifier ? Lower(e) : "?column?";
  }
  return item;
}

std::optional<QueryShape> ShapeOf(std::string_view sql) {
  const std::vector<size_t> select = TopLevelKeyword(sql, "select");
  if (select.empty()) return std::nullopt;
  const size_t items_begin = select[0] + 6;
  const std::vector<size_t> from = TopLevelKeyword(sql, "from");
  size_t items_end = sql.size();
  QueryShape shape;
  auto first_after = [&](size_t pos, std::initializer_list<std::string_view> words) {
    size_t end = sql.size();
    for (std::string_view w : words) {
      for (size_t at : TopLevelKeyword(sql, w)) {
        if (at > pos) {
          end = std::min(end, at);
          break;
        }
      }
    }
    return end;
  };
  if (!from.empty()) {
    items_end = from[0];
    const size_t from_end = first_after(from[0], {"where", "order", "group", "having", "limit", "union"});
    shape.from = Lower(StripIdentifierQuotes(sql.substr(from[0] + 4, from_end - from[0] - 4)));
  } else {
    items_end = first_after(items_begin, {"where", "order", "limit"});
  }
  const std::vector<size_t> where = TopLevelKeyword(sql, "where");
  if (!where.empty()) {
    const size_t where_end = first_after(where[0], {"order", "group", "having", "limit"});
    shape.raw_where = StripIdentifierQuotes(sql.substr(where[0] + 5, where_end - where[0] - 5));
    shape.where = Lower(shape.raw_where);
  }
  std::string_view items = sql.substr(items_begin, items_end - items_begin);
  if (Lower(Trim(items)).starts_with("distinct ")) items = Trim(items).substr(9);
  for (std::string_view part : SplitTopLevel(items, ',')) {
    if (!Trim(part).empty()) shape.items.push_back(MakeItem(part));
  }
  if (shape.items.empty()) return std::nullopt;
  return shape;
}

// The first catalog table the FROM clause reads: "pg_class", "tables" (information_schema)...
std::string MainTable(const QueryShape& shape) {
  std::string_view from = shape.from;
  size_t i = 0;
  while (i < from.size() && !IsWordChar(from[i])) ++i;
  size_t j = i;
  while (j < from.size() && (IsWordChar(from[j]) || from[j] == '.')) ++j;
  std::string name(from.substr(i, j - i));
  if (name.starts_with("pg_catalog.")) name = name.substr(11);
  return name;
}

// The quoted values after `key` in the WHERE text: "c.oid = '16384'" -> 16384.
std::optional<std::string> QuotedAfter(std::string_view where, std::string_view key) {
  const size_t at = where.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  const size_t q = where.find('\'', at + key.size());
  if (q == std::string_view::npos || q > at + key.size() + 40) return std::nullopt;
  const size_t end = where.find('\'', q + 1);
  if (end == std::string_view::npos) return std::nullopt;
  return std::string(where.substr(q + 1, end - q - 1));
}

// Matches the regular expressions psql makes from its wildcard patterns: "^(name)$", with
// ".*" for '*', "." for '?' and "\\x" for a quoted character. Other regular expression syntax
// is not supported (no match), which keeps matching linear on any input.
bool MatchesPsqlPattern(std::string_view pattern, std::string_view name) {
  struct Token {
    char c;
    bool any;   // '.'
    bool star;  // repeated zero or more times
  };
  std::vector<Token> tokens;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if ((c == '^' && i == 0) || (c == '$' && i + 1 == pattern.size()) || c == '(' || c == ')') continue;
    if (c == '*') {
      if (tokens.empty() || tokens.back().star) return false;
      tokens.back().star = true;
      continue;
    }
    if (c == '\\' && i + 1 < pattern.size()) {
      tokens.push_back({pattern[++i], false, false});
      continue;
    }
    if (c == '|' || c == '[' || c == '+' || c == '?' || c == '{' || c == '^' || c == '$') return false;
    tokens.push_back({c, c == '.', false});
  }
  // Greedy matching with one backtrack point per star (as for globs): O(n * m) at worst.
  size_t t = 0, n = 0, star_t = std::string_view::npos, star_n = 0;
  while (n < name.size()) {
    if (t < tokens.size() && tokens[t].star) {
      star_t = t++;
      star_n = n;
      continue;
    }
    if (t < tokens.size() && (tokens[t].any || tokens[t].c == name[n])) {
      ++t;
      ++n;
      continue;
    }
    if (star_t == std::string_view::npos) return false;
    // Let the last star eat one more character, if it may.
    const Token& st = tokens[star_t];
    if (!st.any && st.c != name[star_n]) return false;
    t = star_t + 1;
    n = ++star_n;
  }
  while (t < tokens.size() && tokens[t].star) ++t;
  return t == tokens.size();
}

// relkind IN ('r','p','v','m',...) -> the kinds asked for; empty = all.
std::string RelkindsAsked(const QueryShape& shape) {
  const size_t at = shape.where.find("relkind in");
  std::string kinds;
  if (at == std::string::npos) {
    if (auto k = QuotedAfter(shape.where, "relkind =")) return *k;
    return kinds;
  }
  const size_t open = shape.where.find('(', at);
  const size_t close = shape.where.find(')', open);
  if (open == std::string::npos || close == std::string::npos) return kinds;
  for (size_t i = open; i < close; ++i) {
    if (shape.where[i] == '\'' && i + 2 <= close && shape.where[i + 2] == '\'') kinds.push_back(shape.raw_where[i + 1]);
  }
  return kinds.empty() ? std::string("-") : kinds;  // "-": asked for none of ours
}

// The string literals of a constraint's right-hand side: 'x' or ('a', 'b', ...). nullopt when
// it is anything else (a sub-select, a column, a function call).
std::optional<std::vector<std::string>> LiteralList(std::string_view text) {
  size_t i = text.find_first_not_of(" \t\r\n");
  if (i == std::string_view::npos) return std::nullopt;
  std::vector<std::string> out;
  auto literal = [&](size_t* at) -> bool {
    if (*at >= text.size() || text[*at] != '\'') return false;
    const size_t end = SkipQuoted(text, *at);
    if (end > text.size() || end < *at + 2 || text[end - 1] != '\'') return false;
    std::string v;
    for (size_t k = *at + 1; k + 1 < end; ++k) {
      v.push_back(text[k]);
      if (text[k] == '\'' && k + 2 < end) ++k;  // '' is one quote
    }
    out.push_back(std::move(v));
    *at = end;
    return true;
  };
  if (text[i] == '(') {
    ++i;
    for (;;) {
      i = text.find_first_not_of(" \t\r\n", i);
      if (i == std::string_view::npos || !literal(&i)) return std::nullopt;
      i = text.find_first_not_of(" \t\r\n", i);
      if (i == std::string_view::npos) return std::nullopt;
      if (text[i] == ')') return out;
      if (text[i] != ',') return std::nullopt;
      ++i;
    }
  }
  if (!literal(&i)) return std::nullopt;
  return out;
}

// A regular expression as catalog filters write them: alternatives of literal text, each
// optionally anchored with ^ and $ ('^pg_', '^information_schema|catalog_history|pg_') or
// psql's '^(name)$' patterns. Anything else is treated as not matching.
bool MatchesSimpleRegex(std::string_view pattern, std::string_view value) {
  if (pattern.starts_with("^(") && pattern.ends_with(")$")) return MatchesPsqlPattern(pattern, value);
  for (std::string_view alt : SplitTopLevel(pattern, '|')) {
    const bool head = alt.starts_with("^");
    if (head) alt.remove_prefix(1);
    const bool tail = alt.ends_with("$");
    if (tail) alt.remove_suffix(1);
    if (alt.find_first_of(".*+?[](){}\\") != std::string_view::npos) continue;
    if (head && tail ? value == alt
                     : head ? value.starts_with(alt)
                            : tail ? value.ends_with(alt) : value.find(alt) != std::string_view::npos) {
      return true;
    }
  }
  return false;
}

// Whether `value` passes every constraint the WHERE clause puts on `column` with literals:
// column [)] = | <> | != | ~ | !~ | IN | NOT IN 'literal' or (literals). Constraints the
// matcher cannot read (sub-selects, other columns, expressions) do not filter. `column` is
// matched as a whole name, with or without a table alias ("c.relname", "relname").
bool Satisfies(const QueryShape& shape, std::string_view column, std::string_view value) {
  const std::string& where = shape.where;
  for (size_t at = where.find(column); at != std::string::npos; at = where.find(column, at + 1)) {
    if (at > 0 && IsWordChar(where[at - 1])) continue;
    size_t i = at + column.size();
    if (i < where.size() && IsWordChar(where[i])) continue;
    // quote_ident(column) = ..., lower(column) = ...: the function is taken as the identity.
    while (i < where.size() && (where[i] == ')' || where[i] == ' ' || where[i] == '\n' || where[i] == '\t')) ++i;
    std::string_view rest = std::string_view(where).substr(i);
    std::string_view raw_rest = std::string_view(shape.raw_where).substr(i);
    enum class Op { kEq, kNe, kMatch, kNoMatch, kIn, kNotIn } op;
    size_t len = 0;
    if (rest.starts_with("operator(pg_catalog.~)")) {
      op = Op::kMatch, len = 22;
    } else if (rest.starts_with("!~")) {
      op = Op::kNoMatch, len = 2;
    } else if (rest.starts_with("~")) {
      op = Op::kMatch, len = 1;
    } else if (rest.starts_with("<>") || rest.starts_with("!=")) {
      op = Op::kNe, len = 2;
    } else if (rest.starts_with("=")) {
      op = Op::kEq, len = 1;
    } else if (rest.starts_with("not in") && !IsWordChar(rest.size() > 6 ? rest[6] : ' ')) {
      op = Op::kNotIn, len = 6;
    } else if (rest.starts_with("in") && !IsWordChar(rest.size() > 2 ? rest[2] : ' ')) {
      op = Op::kIn, len = 2;
    } else {
      continue;
    }
    const std::optional<std::vector<std::string>> literals = LiteralList(raw_rest.substr(len));
    if (!literals || literals->empty()) continue;
    const bool listed = std::find(literals->begin(), literals->end(), value) != literals->end();
    bool ok = true;
    switch (op) {
      case Op::kEq: ok = literals->size() == 1 && listed; break;
      case Op::kNe: ok = !listed; break;
      case Op::kIn: ok = listed; break;
      case Op::kNotIn: ok = !listed; break;
      case Op::kMatch: ok = MatchesSimpleRegex((*literals)[0], value); break;
      case Op::kNoMatch: ok = !MatchesSimpleRegex((*literals)[0], value); break;
    }
    if (!ok) return false;
  }
  return true;
}

// Every relation sluice has is in the schema "public": a query that asks only for other schemas
// (pg_catalog, information_schema, 'x') gets none of them.
bool WantsPublicSchema(const QueryShape& shape) {
  for (std::string_view column : {"nspname", "table_schema", "schema_name", "schemaname"}) {
    if (!Satisfies(shape, column, "public")) return false;
  }
  return true;
}

// ---- one result column per select item ---------------------------------------------------------

StatementResult MakeResult(const QueryShape& shape, const std::vector<std::vector<Value>>& rows) {
  StatementResult r;
  for (size_t i = 0; i < shape.items.size(); ++i) {
    DataType type = DataType::Varchar();
    for (const auto& row : rows) {
      if (!row[i].is_null()) {
        type = row[i].type();
        break;
      }
    }
    r.columns.push_back({shape.items[i].name, type});
  }
  r.rows = rows;
  // NULLs typed as their column.
  for (auto& row : r.rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      if (row[i].is_null()) row[i] = Value::Null(r.columns[i].type);
    }
  }
  r.command = fmt::format("SELECT {}", r.rows.size());
  return r;
}

Value RelationValue(const std::string& e, const ObjectInfo& o, const CatalogContext& ctx) {
  if (e.starts_with("(select")) return Value::Null(DataType::Varchar());
  if (Has(e, "case") && Has(e, "relkind")) {
    if (Has(e, "'table'") || Has(e, "'view'")) return Value::Varchar(o.kind);  // \d's "Type"
    if (Has(e, "permanent")) return Value::Varchar("permanent");               // \d+ "Persistence"
  }
  if (Has(e, "pg_get_userbyid")) return Value::Varchar(std::string(ctx.user));
  if (Has(e, "nspname")) return Value::Varchar("public");
  if (Has(e, "relname")) return Value::Varchar(o.name);
  if (Has(e, "relnamespace")) return Value::Bigint(kPublicNamespaceOid);
  if (Has(e, "relkind")) return Value::Varchar(std::string(1, o.relkind));
  if (Has(e, "relchecks") || Has(e, "reltablespace")) return Value::Int(0);
  if (Has(e, "relnatts")) return Value::Int(static_cast<int32_t>(o.columns.size()));
  if (Has(e, "relhas") || Has(e, "rowsecurity") || Has(e, "relispartition") || Has(e, "relhasoids") ||
      e == "false") {
    return Value::Boolean(false);
  }
  if (Has(e, "reloptions") || Has(e, "reloftype")) return Value::Varchar("");
  if (Has(e, "relpersistence")) return Value::Varchar("p");
  if (Has(e, "relreplident")) return Value::Varchar("d");
  if (Has(e, "amname")) return Value::Varchar("heap");
  if (Has(e, "pg_size_pretty")) return Value::Varchar("0 bytes");
  if (Has(e, "description")) return Value::Null(DataType::Varchar());
  if (Has(e, "oid")) return Value::Bigint(o.oid);
  return Value::Null(DataType::Varchar());
}

Value AttributeValue(const std::string& e, const ColumnInfo& c, int32_t attnum) {
  // Sub-selects read defaults and collations; descriptions are comments: sluice has none.
  if (e.starts_with("(select") || Has(e, "description")) return Value::Null(DataType::Varchar());
  if (Has(e, "format_type")) return Value::Varchar(PgTypeNameOf(c.sluice_type));
  if (Has(e, "attname")) return Value::Varchar(c.name);
  if (Has(e, "attnotnull")) return Value::Boolean(!c.nullable);
  if (Has(e, "attnum")) return Value::Int(attnum);
  if (Has(e, "atttypid")) return Value::Bigint(PgTypeOidOf(c.sluice_type));
  if (Has(e, "attidentity") || Has(e, "attgenerated")) return Value::Varchar("");
  if (Has(e, "attstorage")) return Value::Varchar(PgTypeOidOf(c.sluice_type) == oid::kVarchar ? "x" : "p");
  if (Has(e, "attisdropped") || Has(e, "atthasdef")) return Value::Boolean(false);
  return Value::Null(DataType::Varchar());  // defaults, collations, descriptions, statistics
}

Value InformationSchemaValue(const std::string& e, const ObjectInfo& o, const ColumnInfo* c, int32_t position,
                             const CatalogContext& ctx) {
  if (Has(e, "table_catalog")) return Value::Varchar(std::string(ctx.database));
  if (Has(e, "table_schema")) return Value::Varchar("public");
  if (Has(e, "table_name")) return Value::Varchar(o.name);
  if (Has(e, "table_type")) return Value::Varchar(o.relkind == 'm' ? "VIEW" : "BASE TABLE");
  if (c != nullptr) {
    if (Has(e, "column_name")) return Value::Varchar(c->name);
    if (Has(e, "ordinal_position")) return Value::Int(position);
    if (Has(e, "is_nullable")) return Value::Varchar(c->nullable ? "YES" : "NO");
    if (Has(e, "udt_name")) return Value::Varchar(UdtNameOf(c->sluice_type));
    if (Has(e, "data_type")) return Value::Varchar(DataTypeNameOf(c->sluice_type));
    if (Has(e, "numeric_precision") || Has(e, "numeric_scale")) {
      const std::string t = Lower(c->sluice_type);
      unsigned p = 0, sc = 0;
      if (std::sscanf(t.c_str(), "decimal(%u,%u)", &p, &sc) != 2) return Value::Null(DataType::Int());
      return Value::Int(static_cast<int32_t>(Has(e, "numeric_precision") ? p : sc));
    }
    if (Has(e, "udt_schema")) return Value::Varchar("pg_catalog");
    if (Has(e, "is_identity") || Has(e, "is_generated")) return Value::Varchar(Has(e, "is_identity") ? "NO" : "NEVER");
    if (Has(e, "is_updatable")) return Value::Varchar("NO");
  }
  if (Has(e, "is_insertable_into")) return Value::Varchar("NO");
  return Value::Null(DataType::Varchar());
}

// ---- SELECT without FROM: version(), current_database() ... --------------------------------

std::optional<Value> FunctionValue(const SelectItem& item, const CatalogContext& ctx) {
  std::string e = item.expr;
  if (e.starts_with("pg_catalog.")) e = e.substr(11);
  if (e == "version()") {
    return Value::Varchar(fmt::format("PostgreSQL {} on x86_64-pc-linux-gnu, compiled by sluice", ctx.server_version));
  }
  if (e == "current_database()") return Value::Varchar(std::string(ctx.database));
  if (e == "current_schema()" || e == "current_schema") return Value::Varchar("public");
  if (e == "current_user" || e == "session_user" || e == "user" || e == "current_role") {
    return Value::Varchar(std::string(ctx.user));
  }
  if (e.starts_with("current_setting(")) {
    const size_t q = item.expr.find('\'');
    const size_t end = q == std::string::npos ? q : item.expr.find('\'', q + 1);
    if (end == std::string::npos) return std::nullopt;
    const std::string name = item.expr.substr(q + 1, end - q - 1);
    if (ctx.settings != nullptr) {
      auto it = ctx.settings->find(name);
      if (it != ctx.settings->end()) return Value::Varchar(it->second);
    }
    if (name == "server_version") return Value::Varchar(std::string(ctx.server_version));
    if (name == "server_version_num") return Value::Varchar("150000");
    if (name == "timezone") return Value::Varchar("UTC");
    if (name == "datestyle") return Value::Varchar("ISO, MDY");
    if (name == "client_encoding" || name == "server_encoding") return Value::Varchar("UTF8");
    if (name == "standard_conforming_strings") return Value::Varchar("on");
    if (name == "search_path") return Value::Varchar("\"$user\", public");
    return std::nullopt;
  }
  if (e.starts_with("pg_get_viewdef(")) return std::nullopt;  // handled with the catalog
  return std::nullopt;
}

// ---- expressions around column reads -----------------------------------------------------------

// PostgreSQL's quote_ident: quotes a name unless it is a lower-case identifier that is not a
// reserved word.
std::string QuoteIdent(std::string_view name) {
  static const char* const kReserved[] = {"all", "and", "any", "as", "asc", "case", "cast", "check", "column",
                                          "create", "default", "desc", "distinct", "do", "else", "end", "false",
                                          "for", "from", "grant", "group", "having", "in", "limit", "not", "null",
                                          "offset", "on", "only", "or", "order", "select", "table", "then", "to",
                                          "true", "union", "unique", "user", "using", "when", "where", "with"};
  bool plain = !name.empty() && !(name[0] >= '0' && name[0] <= '9');
  for (char c : name) plain = plain && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  if (plain && std::none_of(std::begin(kReserved), std::end(kReserved), [&](const char* r) { return name == r; })) {
    return std::string(name);
  }
  std::string out = "\"";
  for (char c : name) {
    out.push_back(c);
    if (c == '"') out.push_back('"');
  }
  return out + "\"";
}

// Reads a column (or any expression the evaluator does not model) of the current row; nullopt
// when the expression cannot be answered at all (a SELECT without FROM then goes to the engine).
using ColumnReader = std::function<std::optional<Value>(const std::string& lower_expr)>;

struct EvalContext {
  const ColumnReader& read;
  const CatalogContext& ctx;
  bool used_system_function = false;  // version(), current_setting() ... were read
  int depth = 0;                      // of nested Evaluate calls
};

// Hostile input bounds: expressions nest at most this deep, and longer ones are not taken
// apart (each level scans its text once, so the work stays linear in the query's size).
constexpr int kMaxEvalDepth = 32;
constexpr size_t kMaxEvalBytes = 16 * 1024;

// Offset of the last top-level occurrence of `op` (outside quotes and parentheses), or npos.
size_t LastTopLevel(std::string_view text, std::string_view op) {
  size_t found = std::string_view::npos;
  int depth = 0;
  for (size_t i = 0; i < text.size();) {
    const size_t skip = SkipQuoted(text, i);
    if (skip != i) {
      i = skip;
      continue;
    }
    if (text[i] == '(' || text[i] == '[') ++depth;
    if (text[i] == ')' || text[i] == ']') --depth;
    if (depth == 0 && text.substr(i, op.size()) == op) found = i;
    ++i;
  }
  return found;
}

std::optional<int64_t> AsInteger(const Value& v) {
  if (v.is_null()) return std::nullopt;
  switch (v.type().id) {
    case sql::TypeId::kInt: return v.int32();
    case sql::TypeId::kBigint: return v.int64();
    case sql::TypeId::kVarchar: {
      int64_t n = 0;
      const std::string& s = v.string();
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
      if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
      return n;
    }
    default: return std::nullopt;
  }
}

Value IntegerValue(int64_t n) {
  if (n >= INT32_MIN && n <= INT32_MAX) return Value::Int(static_cast<int32_t>(n));
  return Value::Bigint(n);
}

std::string TextOf(const Value& v) {
  if (v.is_null()) return "";
  if (v.type().id == sql::TypeId::kBoolean) return v.boolean() ? "true" : "false";
  return v.ToString();
}

std::optional<Value> Evaluate(std::string_view raw, EvalContext* ec);

// CASE x WHEN 'a' THEN r1 ... [ELSE r] END compares x; CASE WHEN cond THEN r1 ... is read as
// its first branch (the conditions tools write there, like Grafana's "schema is on the search
// path", hold for sluice's one schema).
std::optional<Value> EvaluateCase(std::string_view raw, EvalContext* ec) {
  std::string_view body = Trim(raw.substr(4, raw.size() - 7));  // between CASE and END
  const std::vector<size_t> whens = TopLevelKeyword(body, "when");
  const std::vector<size_t> thens = TopLevelKeyword(body, "then");
  const std::vector<size_t> elses = TopLevelKeyword(body, "else");
  if (whens.empty() || thens.size() != whens.size()) return std::nullopt;
  auto branch_end = [&](size_t k) {
    return k + 1 < whens.size() ? whens[k + 1] : !elses.empty() ? elses.back() : body.size();
  };
  if (whens[0] == 0) {
    return Evaluate(body.substr(thens[0] + 4, branch_end(0) - thens[0] - 4), ec);
  }
  std::optional<Value> subject = Evaluate(body.substr(0, whens[0]), ec);
  if (!subject) return std::nullopt;
  for (size_t k = 0; k < whens.size(); ++k) {
    std::optional<Value> candidate = Evaluate(body.substr(whens[k] + 4, thens[k] - whens[k] - 4), ec);
    if (!candidate) return std::nullopt;
    if (!subject->is_null() && !candidate->is_null() && TextOf(*subject) == TextOf(*candidate)) {
      return Evaluate(body.substr(thens[k] + 4, branch_end(k) - thens[k] - 4), ec);
    }
  }
  if (!elses.empty()) return Evaluate(body.substr(elses.back() + 4), ec);
  return Value::Null(DataType::Varchar());
}

std::optional<Value> EvaluateBounded(std::string_view raw, EvalContext* ec);

std::optional<Value> Evaluate(std::string_view raw, EvalContext* ec) {
  if (ec->depth >= kMaxEvalDepth || raw.size() > kMaxEvalBytes) return std::nullopt;
  ++ec->depth;
  std::optional<Value> v = EvaluateBounded(raw, ec);
  --ec->depth;
  return v;
}

std::optional<Value> EvaluateBounded(std::string_view raw, EvalContext* ec) {
  raw = Trim(raw);
  if (raw.size() > 7 && raw[0] == '(' && Lower(Trim(raw.substr(1, 7))).starts_with("select")) return ec->read(Lower(raw));
  // Parentheses around the whole expression.
  for (int peel = 0; peel < kMaxEvalDepth && raw.size() >= 2 && raw.front() == '(' && raw.back() == ')'; ++peel) {
    const std::string_view inner = raw.substr(1, raw.size() - 2);
    int depth = 0;
    bool balanced = true;
    for (size_t i = 0; i < inner.size() && balanced;) {
      const size_t skip = SkipQuoted(inner, i);
      if (skip != i) {
        i = skip;
        continue;
      }
      if (inner[i] == '(') ++depth;
      if (inner[i] == ')' && --depth < 0) balanced = false;
      ++i;
    }
    if (!balanced || depth != 0) break;
    raw = Trim(inner);
  }
  if (raw.empty()) return std::nullopt;
  const std::string lower = Lower(raw);
  // A sub-select (psql's defaults and collations): the reader decides (NULL: sluice has none).
  if (lower.starts_with("(select") || lower.starts_with("array(")) return ec->read(lower);
  if (lower.starts_with("case") && lower.size() > 8 && !IsWordChar(lower[4]) && lower.ends_with("end") &&
      !IsWordChar(lower[lower.size() - 4])) {
    // psql's \d "Type" and \d+ "Persistence" columns: sluice's own words (source, table ...).
    if (Has(raw, "'table'") || Has(raw, "'permanent'")) return ec->read(lower);
    return EvaluateCase(raw, ec);
  }
  // Comparisons (x = 'YES'), then concatenation, arithmetic with integer constants, casts.
  for (std::string_view op : {"<>", "!=", "="}) {
    const size_t at = LastTopLevel(raw, op);
    if (at == std::string_view::npos || at == 0) continue;
    if (op == "=" && (raw[at - 1] == '<' || raw[at - 1] == '>' || raw[at - 1] == '!' || raw[at - 1] == ':')) continue;
    const std::optional<Value> l = Evaluate(raw.substr(0, at), ec);
    const std::optional<Value> r = Evaluate(raw.substr(at + op.size()), ec);
    if (!l || !r) return std::nullopt;
    if (l->is_null() || r->is_null()) return Value::Null(DataType::Boolean());
    const bool equal = TextOf(*l) == TextOf(*r);
    return Value::Boolean(op == "=" ? equal : !equal);
  }
  if (const size_t at = LastTopLevel(raw, "||"); at != std::string_view::npos) {
    const std::optional<Value> l = Evaluate(raw.substr(0, at), ec);
    const std::optional<Value> r = Evaluate(raw.substr(at + 2), ec);
    if (!l || !r) return std::nullopt;
    if (l->is_null() || r->is_null()) return Value::Null(DataType::Varchar());
    return Value::Varchar(TextOf(*l) + TextOf(*r));
  }
  for (char op : {'+', '-', '/'}) {
    const size_t at = LastTopLevel(raw, std::string_view(&op, 1));
    if (at == std::string_view::npos || at == 0) continue;
    const std::string_view rhs = Trim(raw.substr(at + 1));
    int64_t n = 0;
    auto [ptr, err] = std::from_chars(rhs.data(), rhs.data() + rhs.size(), n);
    if (err != std::errc() || ptr != rhs.data() + rhs.size()) continue;
    const std::optional<Value> l = Evaluate(raw.substr(0, at), ec);
    if (!l) return std::nullopt;
    const std::optional<int64_t> x = AsInteger(*l);
    if (!x) return l->is_null() ? std::optional<Value>(Value::Null(DataType::Int())) : std::nullopt;
    if (op == '/' && n == 0) return std::nullopt;  // the engine reports division by zero
    if (std::abs(*x) > (int64_t{1} << 53) || std::abs(n) > (int64_t{1} << 53)) return std::nullopt;
    return IntegerValue(op == '+' ? *x + n : op == '-' ? *x - n : *x / n);
  }
  if (const size_t at = LastTopLevel(raw, "::"); at != std::string_view::npos && at > 0) {
    const std::optional<Value> v = Evaluate(raw.substr(0, at), ec);
    if (!v) return std::nullopt;
    const std::string type = Lower(Trim(raw.substr(at + 2)));
    if (type == "int" || type == "integer" || type == "int4" || type == "bigint" || type == "int8") {
      if (v->is_null()) return Value::Null(type == "bigint" || type == "int8" ? DataType::Bigint() : DataType::Int());
      const std::optional<int64_t> n = AsInteger(*v);
      if (!n) return std::nullopt;
      return type == "bigint" || type == "int8" ? Value::Bigint(*n) : IntegerValue(*n);
    }
    if (type == "text" || type == "varchar" || type == "name" || type.starts_with("character varying")) {
      return v->is_null() ? Value::Null(DataType::Varchar()) : Value::Varchar(TextOf(*v));
    }
    return v;  // ::regclass, ::oid ...: the value as it is
  }
  // Literals.
  if (raw.front() == '\'' && SkipQuoted(raw, 0) == raw.size()) {
    if (auto list = LiteralList(raw); list && list->size() == 1) return Value::Varchar((*list)[0]);
    return std::nullopt;
  }
  if (lower == "null") return Value::Null(DataType::Varchar());
  if (lower == "true" || lower == "false") return Value::Boolean(lower == "true");
  {
    int64_t n = 0;
    auto [ptr, err] = std::from_chars(raw.data(), raw.data() + raw.size(), n);
    if (err == std::errc() && ptr == raw.data() + raw.size()) return IntegerValue(n);
  }
  // quote_ident(x), trim(x), lower(x), upper(x): over what x reads.
  for (std::string_view fn : {"quote_ident(", "pg_catalog.quote_ident(", "trim(", "lower(", "upper("}) {
    if (!lower.starts_with(fn) || !lower.ends_with(")")) continue;
    const std::optional<Value> v = Evaluate(raw.substr(fn.size(), raw.size() - fn.size() - 1), ec);
    if (!v || v->is_null()) return v;
    std::string text = TextOf(*v);
    if (fn.ends_with("quote_ident(")) return Value::Varchar(QuoteIdent(text));
    if (fn == "lower(") return Value::Varchar(Lower(text));
    if (fn == "upper(") {
      for (char& c : text) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
      return Value::Varchar(text);
    }
    return Value::Varchar(std::string(Trim(text)));
  }
  SelectItem item;
  item.expr = lower;
  item.raw = std::string(raw);
  if (std::optional<Value> v = FunctionValue(item, ec->ctx)) {
    ec->used_system_function = true;
    return v;
  }
  return ec->read(lower);
}

// A FROM clause reads the system catalog when it names information_schema or a pg_ relation
// (PostgreSQL reserves the prefix for system objects).
bool ReadsSystemCatalog(std::string_view from) {
  if (Has(from, "information_schema.")) return true;
  for (size_t at = from.find("pg_"); at != std::string_view::npos; at = from.find("pg_", at + 3)) {
    if (at == 0 || !IsWordChar(from[at - 1])) return true;
  }
  return false;
}

// True if the FROM clause joins (inner) a catalog table that is not modelled (pg_index,
// pg_inherits, pg_enum ...): such a query is about things sluice does not have, so it has no
// rows. LEFT JOINs of them only add NULL columns (descriptions, statistics).
bool JoinsUnmodelledTable(const QueryShape& shape) {
  static const char* const kModelled[] = {"pg_class", "pg_namespace", "pg_am",  "pg_attribute",
                                          "pg_database", "pg_type"};
  std::string_view from = shape.from;
  for (size_t at = from.find("pg_"); at != std::string_view::npos; at = from.find("pg_", at + 3)) {
    if (at > 0 && (IsWordChar(from[at - 1]))) continue;
    size_t end = at;
    while (end < from.size() && IsWordChar(from[end])) ++end;
    const std::string_view name = from.substr(at, end - at);
    if (name == "pg_catalog") continue;
    if (std::any_of(std::begin(kModelled), std::end(kModelled), [&](const char* m) { return name == m; })) continue;
    std::string_view before = from.substr(0, at);
    if (before.ends_with("pg_catalog.")) before.remove_suffix(11);
    before = Trim(before);
    if (before.ends_with("left join") || before.ends_with("left outer join")) continue;
    return true;
  }
  return false;
}

// ---- pg_type ---------------------------------------------------------------------------------

struct PgType {
  uint32_t oid;
  const char* name;
  int16_t len;
  char category;
  uint32_t array;     // its array type (0 for arrays)
  uint32_t element;   // arrays: the element type
  const char* input;  // typinput
};

// The types sluice's wire protocol speaks (results and parameters) and their array types.
constexpr PgType kPgTypes[] = {
    {16, "bool", 1, 'B', 1000, 0, "boolin"},
    {19, "name", 64, 'S', 1003, 0, "namein"},
    {20, "int8", 8, 'N', 1016, 0, "int8in"},
    {21, "int2", 2, 'N', 1005, 0, "int2in"},
    {23, "int4", 4, 'N', 1007, 0, "int4in"},
    {25, "text", -1, 'S', 1009, 0, "textin"},
    {26, "oid", 4, 'N', 1028, 0, "oidin"},
    {700, "float4", 4, 'N', 1021, 0, "float4in"},
    {701, "float8", 8, 'N', 1022, 0, "float8in"},
    {705, "unknown", -2, 'X', 0, 0, "unknownin"},
    {1043, "varchar", -1, 'S', 1015, 0, "varcharin"},
    {1082, "date", 4, 'D', 1182, 0, "date_in"},
    {1114, "timestamp", 8, 'D', 1115, 0, "timestamp_in"},
    {1184, "timestamptz", 8, 'D', 1185, 0, "timestamptz_in"},
    {1186, "interval", 16, 'T', 1187, 0, "interval_in"},
    {1700, "numeric", -1, 'N', 1231, 0, "numeric_in"},
    {1000, "_bool", -1, 'A', 0, 16, "array_in"},
    {1003, "_name", -1, 'A', 0, 19, "array_in"},
    {1016, "_int8", -1, 'A', 0, 20, "array_in"},
    {1005, "_int2", -1, 'A', 0, 21, "array_in"},
    {1007, "_int4", -1, 'A', 0, 23, "array_in"},
    {1009, "_text", -1, 'A', 0, 25, "array_in"},
    {1028, "_oid", -1, 'A', 0, 26, "array_in"},
    {1021, "_float4", -1, 'A', 0, 700, "array_in"},
    {1022, "_float8", -1, 'A', 0, 701, "array_in"},
    {1015, "_varchar", -1, 'A', 0, 1043, "array_in"},
    {1182, "_date", -1, 'A', 0, 1082, "array_in"},
    {1115, "_timestamp", -1, 'A', 0, 1114, "array_in"},
    {1185, "_timestamptz", -1, 'A', 0, 1184, "array_in"},
    {1187, "_interval", -1, 'A', 0, 1186, "array_in"},
    {1231, "_numeric", -1, 'A', 0, 1700, "array_in"},
};
constexpr uint32_t kPgCatalogNamespaceOid = 11;

const PgType* FindPgType(uint32_t oid) {
  for (const PgType& t : kPgTypes) {
    if (t.oid == oid) return &t;
  }
  return nullptr;
}

// One pg_type column. `e` is read without its table alias.
std::optional<Value> PgTypeValue(std::string_view e, const PgType& t) {
  const size_t dot = e.rfind('.');
  if (dot != std::string_view::npos && e.find('(') == std::string_view::npos) e = e.substr(dot + 1);
  std::string in(t.input);
  auto fn = [&](std::string_view suffix) { return in.substr(0, in.size() - (in.ends_with("_in") ? 3 : 2)) + std::string(suffix); };
  if (e == "oid") return Value::Bigint(t.oid);
  if (e == "typname") return Value::Varchar(t.name);
  if (e == "typnamespace") return Value::Bigint(kPgCatalogNamespaceOid);
  if (e == "typlen") return Value::Int(t.len);
  if (e == "typbyval") return Value::Boolean(t.len > 0 && t.len <= 8);
  if (e == "typtype") return Value::Varchar(t.category == 'X' ? "p" : "b");
  if (e == "typcategory") return Value::Varchar(std::string(1, t.category));
  if (e == "typispreferred") return Value::Boolean(t.oid == 701 || t.oid == 25 || t.oid == 1184);
  if (e == "typisdefined") return Value::Boolean(true);
  if (e == "typdelim") return Value::Varchar(",");
  if (e == "typrelid" || e == "typbasetype" || e == "typndims" || e == "typcollation") {
    return Value::Bigint(e == "typcollation" && (t.category == 'S') ? 100 : 0);
  }
  if (e == "typelem") return Value::Bigint(t.element);
  if (e == "typarray") return Value::Bigint(t.array);
  if (e == "typinput") return Value::Varchar(in);
  if (e == "typoutput") return Value::Varchar(t.element != 0 ? "array_out" : fn(in.ends_with("_in") ? "_out" : "out"));
  if (e == "typreceive") return Value::Varchar(t.element != 0 ? "array_recv" : fn(in.ends_with("_in") ? "_recv" : "recv"));
  if (e == "typsend") return Value::Varchar(t.element != 0 ? "array_send" : fn(in.ends_with("_in") ? "_send" : "send"));
  if (e == "typtypmod") return Value::Int(-1);
  if (e == "typnotnull") return Value::Boolean(false);
  if (e == "typalign") return Value::Varchar(t.len == 8 || t.element != 0 ? "d" : t.len == 2 ? "s" : t.len == 1 ? "c" : "i");
  if (e == "typstorage") return Value::Varchar(t.len > 0 ? "p" : "x");
  if (e == "nspname") return Value::Varchar("pg_catalog");
  return std::nullopt;
}

Result<StatementResult> AnswerPgType(const QueryShape& shape, const CatalogContext& ctx) {
  std::vector<std::vector<Value>> rows;
  // postgres.js at connect: pg_type a LEFT JOIN pg_type b ON b.oid = a.typelem WHERE
  // a.typcategory = 'A' GROUP BY b.oid, b.typarray: each element type with its array type.
  std::string_view from = shape.from;
  const size_t first = from.find("pg_type");
  const bool self_join = first != std::string_view::npos && from.find("pg_type", first + 7) != std::string_view::npos;
  if (self_join && Has(from, "typelem")) {
    // The alias of the element side: the one whose .oid the join compares with typelem.
    std::string element_alias;
    const size_t on = from.find(".oid = ");
    if (on != std::string_view::npos) {
      size_t b = on;
      while (b > 0 && IsWordChar(from[b - 1])) --b;
      element_alias = std::string(from.substr(b, on - b)) + ".";
    }
    for (const PgType& element : kPgTypes) {
      if (element.array == 0) continue;
      std::vector<Value> row;
      for (const SelectItem& item : shape.items) {
        const PgType& t = (!element_alias.empty() && item.expr.starts_with(element_alias)) ? element : *FindPgType(element.array);
        std::optional<Value> v = PgTypeValue(item.expr, t);
        row.push_back(v ? *v : Value::Null(DataType::Varchar()));
      }
      rows.push_back(std::move(row));
    }
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a[0].ToString() < b[0].ToString(); });
    return MakeResult(shape, rows);
  }
  for (const PgType& t : kPgTypes) {
    if (!Satisfies(shape, "oid", std::to_string(t.oid)) || !Satisfies(shape, "typname", t.name) ||
        !Satisfies(shape, "typcategory", std::string(1, t.category)) ||
        !Satisfies(shape, "typelem", std::to_string(t.element)) ||
        !Satisfies(shape, "typtype", t.category == 'X' ? "p" : "b")) {
      continue;
    }
    // "t.oid = 1700" without quotes.
    if (const size_t at = shape.where.find("oid = "); at != std::string::npos && (at == 0 || !IsWordChar(shape.where[at - 1]))) {
      uint32_t n = 0;
      const char* p = shape.where.data() + at + 6;
      auto [end, err] = std::from_chars(p, shape.where.data() + shape.where.size(), n);
      if (err == std::errc() && end != p && n != t.oid) continue;
    }
    std::vector<Value> row;
    for (const SelectItem& item : shape.items) {
      const ColumnReader read = [&](const std::string& e) -> std::optional<Value> {
        std::optional<Value> v = PgTypeValue(e, t);
        return v ? v : std::optional<Value>(Value::Null(DataType::Varchar()));
      };
      EvalContext ec{read, ctx};
      std::optional<Value> v = Evaluate(item.raw, &ec);
      row.push_back(v ? *v : Value::Null(DataType::Varchar()));
    }
    rows.push_back(std::move(row));
  }
  return MakeResult(shape, rows);
}

// One row per select item, each evaluated over what `read` reads.
std::vector<Value> EvaluateRow(const QueryShape& shape, const CatalogContext& ctx,
                               const std::function<Value(const std::string&)>& read) {
  const ColumnReader reader = [&](const std::string& e) -> std::optional<Value> { return read(e); };
  std::vector<Value> row;
  for (const SelectItem& item : shape.items) {
    EvalContext ec{reader, ctx};
    std::optional<Value> v = Evaluate(item.raw, &ec);
    row.push_back(v ? std::move(*v) : Value::Null(DataType::Varchar()));
  }
  return row;
}

// What the catalog matcher cannot answer truthfully: aggregates over catalog rows.
bool AggregatesCatalogRows(const std::string& lower_sql, const QueryShape& shape) {
  if (!TopLevelKeyword(lower_sql, "having").empty()) return true;
  for (const SelectItem& item : shape.items) {
    for (const char* fn : {"count(", "sum(", "avg(", "min(", "max(", "array_agg(", "string_agg(", "json_agg("}) {
      if (item.expr.starts_with(fn) || item.expr.starts_with(std::string("pg_catalog.") + fn)) return true;
    }
  }
  return false;
}

Result<StatementResult> AnswerCatalog(const QueryShape& shape, const std::string& lower_sql, const CatalogContext& ctx) {
  const std::string table = MainTable(shape);
  std::vector<std::vector<Value>> rows;
  if (AggregatesCatalogRows(lower_sql, shape)) {
    return Status::InvalidArgument(
        "not supported yet: aggregates over catalog tables (sluice answers pg_catalog and information_schema "
        "queries by their shape; docs/pgwire.md lists what is covered)");
  }
  if (JoinsUnmodelledTable(shape)) return MakeResult(shape, rows);
  if (table == "pg_type") return AnswerPgType(shape, ctx);

  if (table == "pg_class" || table == "tables" || table == "information_schema.tables") {
    const bool info_schema = Has(table, "tables");
    SLUICE_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, ListObjects(ctx.engine, /*with_columns=*/true));
    const std::string kinds = info_schema ? std::string() : RelkindsAsked(shape);
    const auto oid = QuotedAfter(shape.where, "c.oid =");
    const bool public_schema = WantsPublicSchema(shape);
    for (const ObjectInfo& o : objects) {
      if (!public_schema) break;
      if (!kinds.empty() && kinds.find(o.relkind) == std::string::npos) continue;
      if (oid && *oid != std::to_string(o.oid)) continue;
      if (!Satisfies(shape, info_schema ? "table_name" : "relname", o.name)) continue;
      if (info_schema && !Satisfies(shape, "table_type", o.relkind == 'm' ? "VIEW" : "BASE TABLE")) continue;
      rows.push_back(EvaluateRow(shape, ctx, [&](const std::string& e) {
        return info_schema ? InformationSchemaValue(e, o, nullptr, 0, ctx) : RelationValue(e, o, ctx);
      }));
    }
    return MakeResult(shape, rows);
  }

  if (table == "pg_attribute" || table == "columns" || table == "information_schema.columns") {
    const bool info_schema = Has(table, "columns");
    SLUICE_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, ListObjects(ctx.engine, /*with_columns=*/true));
    const auto relid = QuotedAfter(shape.where, "attrelid =");
    const bool public_schema = WantsPublicSchema(shape);
    for (const ObjectInfo& o : objects) {
      if (!info_schema && relid && *relid != std::to_string(o.oid)) continue;
      if (!info_schema && !relid && !Has(shape.where, std::to_string(o.oid))) continue;
      if (info_schema && (!public_schema || !Satisfies(shape, "table_name", o.name))) continue;
      for (size_t i = 0; i < o.columns.size(); ++i) {
        if (info_schema && !Satisfies(shape, "column_name", o.columns[i].name)) continue;
        const auto position = static_cast<int32_t>(i + 1);
        rows.push_back(EvaluateRow(shape, ctx, [&](const std::string& e) {
          return info_schema ? InformationSchemaValue(e, o, &o.columns[i], position, ctx)
                             : AttributeValue(e, o.columns[i], position);
        }));
      }
    }
    return MakeResult(shape, rows);
  }

  if (table == "pg_database") {
    rows.push_back(EvaluateRow(shape, ctx, [&](const std::string& e) {
      if (Has(e, "datname")) return Value::Varchar(std::string(ctx.database));
      if (Has(e, "pg_get_userbyid")) return Value::Varchar(std::string(ctx.user));
      if (Has(e, "encoding")) return Value::Varchar("UTF8");
      if (Has(e, "datcollate") || Has(e, "datctype")) return Value::Varchar("C");
      if (Has(e, "datlocprovider")) return Value::Varchar("c");  // psql shows it as libc
      if (Has(e, "oid")) return Value::Bigint(kFirstObjectOid - 1);
      return Value::Null(DataType::Varchar());
    }));
    return MakeResult(shape, rows);
  }

  if (table == "pg_namespace" || table == "schemata" || table == "information_schema.schemata") {
    if (WantsPublicSchema(shape)) {
      rows.push_back(EvaluateRow(shape, ctx, [&](const std::string& e) {
        if (Has(e, "nspname") || Has(e, "schema_name")) return Value::Varchar("public");
        if (Has(e, "pg_get_userbyid") || Has(e, "owner")) return Value::Varchar(std::string(ctx.user));
        if (Has(e, "catalog_name")) return Value::Varchar(std::string(ctx.database));
        if (Has(e, "oid")) return Value::Bigint(kPublicNamespaceOid);
        return Value::Null(DataType::Varchar());
      }));
    }
    return MakeResult(shape, rows);
  }

  // A catalog table that is not modelled: no rows, with the columns the query asked for.
  return MakeResult(shape, rows);
}

bool IsTablePrivilegesQuery(std::string_view lower) {
  return lower.starts_with("with table_privileges as") && Has(lower, "has_table_privilege");
}

// A SELECT that reads pg_* or information_schema, or has no FROM (SELECT version()).
bool MayBeSystemSelect(std::string_view lower) {
  if (!lower.starts_with("select")) return false;
  return Has(lower, "pg_") || Has(lower, "information_schema") || TopLevelKeyword(lower, "from").empty();
}

// Metabase's privilege check (WITH table_privileges AS (... pg_tables UNION pg_views UNION
// pg_matviews ...) SELECT t.* FROM table_privileges t): every relation can be read, none
// written through SQL.
std::optional<Result<StatementResult>> AnswerTablePrivileges(std::string_view lower, const CatalogContext& ctx) {
  if (!IsTablePrivilegesQuery(lower)) return std::nullopt;
  auto objects = ListObjects(ctx.engine, /*with_columns=*/false);
  if (!objects.ok()) return Result<StatementResult>(objects.status());
  StatementResult r;
  r.columns = {{"role", DataType::Varchar()},    {"schema", DataType::Varchar()}, {"table", DataType::Varchar()},
               {"update", DataType::Boolean()},  {"select", DataType::Boolean()}, {"insert", DataType::Boolean()},
               {"delete", DataType::Boolean()}};
  for (const ObjectInfo& o : *objects) {
    r.rows.push_back({Value::Null(DataType::Varchar()), Value::Varchar("public"), Value::Varchar(o.name),
                      Value::Boolean(false), Value::Boolean(true), Value::Boolean(false), Value::Boolean(false)});
  }
  r.command = fmt::format("SELECT {}", r.rows.size());
  return Result<StatementResult>(std::move(r));
}

}  // namespace

bool MayBeSystemQuery(std::string_view sql) {
  const std::string lower = Lower(Trim(sql));
  return IsTablePrivilegesQuery(lower) || MayBeSystemSelect(lower);
}

std::optional<Result<engine::StatementResult>> AnswerSystemQuery(std::string_view sql, const CatalogContext& ctx) {
  const std::string lower = Lower(Trim(sql));
  if (auto privileges = AnswerTablePrivileges(lower, ctx)) return privileges;
  // Queries over sluice's own relations (every pull query) leave at once.
  if (!MayBeSystemSelect(lower)) return std::nullopt;
  const std::optional<QueryShape> shape = ShapeOf(sql);
  if (!shape) return std::nullopt;

  // pg_get_viewdef(oid): a materialized view's query, from its definition.
  if (shape->from.empty() && shape->items.size() == 1 && Has(shape->items[0].expr, "pg_get_viewdef(")) {
    auto objects = ListObjects(ctx.engine, /*with_columns=*/false);
    if (!objects.ok()) return Result<StatementResult>(objects.status());
    for (const ObjectInfo& o : *objects) {
      if (!Has(shape->items[0].expr, "'" + std::to_string(o.oid) + "'")) continue;
      std::string def = o.definition;
      const std::vector<size_t> as = TopLevelKeyword(def, "as");
      if (!as.empty()) def = std::string(Trim(std::string_view(def).substr(as[0] + 2)));
      return MakeResult(*shape, {{Value::Varchar(" " + def + ";")}});
    }
    return MakeResult(*shape, {{Value::Null(DataType::Varchar())}});
  }

  if (shape->from.empty()) {
    // SELECT version(), current_setting('server_version_num')::int / 100 ...: only when every
    // item can be evaluated here and at least one reads a system function; the rest is the
    // engine's.
    const ColumnReader none = [](const std::string&) -> std::optional<Value> { return std::nullopt; };
    std::vector<Value> row;
    bool system = false;
    for (const SelectItem& item : shape->items) {
      EvalContext ec{none, ctx};
      std::optional<Value> v = Evaluate(item.raw, &ec);
      if (!v) return std::nullopt;
      system = system || ec.used_system_function;
      row.push_back(std::move(*v));
    }
    if (!system) return std::nullopt;
    return MakeResult(*shape, {row});
  }
  if (!ReadsSystemCatalog(shape->from)) return std::nullopt;
  SLUICE_LOG_DEBUG("pgwire: answering a catalog query from the catalog: {}", MainTable(*shape));
  return AnswerCatalog(*shape, lower, ctx);
}

}  // namespace sluice::server::pgwire
