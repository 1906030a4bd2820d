#include "server/pgwire/catalog_queries.h"

#include <algorithm>

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
  std::string expr;  // lower-cased expression text
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
  item.expr = Lower(expr);
  if (item.name.empty()) {
    // PostgreSQL names an unaliased column after its last identifier: c.relname -> relname,
    // pg_catalog.format_type(...) -> format_type, CASE ... -> case.
    std::string_view e = expr;
    if (const size_t paren = e.find('('); paren != std::string_view::npos) e = e.substr(0, paren);
    e = Trim(e);
    const size_t dot = e.rfind('.');
    if (dot != std::string_view::npos) e = e.substr(dot + 1);
    const size_t space = e.find(' ');
    if (space != std::string_view::npos) e = e.substr(0, space);
    item.name = e.empty() ? "?column?" : Lower(e);
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
    const size_t from_end = first_after(from[0], {"where", "order", "group", "limit", "union"});
    shape.from = Lower(sql.substr(from[0] + 4, from_end - from[0] - 4));
  } else {
    items_end = first_after(items_begin, {"where", "order", "limit"});
  }
  const std::vector<size_t> where = TopLevelKeyword(sql, "where");
  if (!where.empty()) {
    const size_t where_end = first_after(where[0], {"order", "group", "limit"});
    shape.raw_where = std::string(sql.substr(where[0] + 5, where_end - where[0] - 5));
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

// psql's name filter: relname OPERATOR(pg_catalog.~) '^(pattern)$'.
bool MatchesNamePattern(const QueryShape& shape, std::string_view column, const std::string& name) {
  const size_t at = shape.where.find(column);
  if (at == std::string::npos) return true;
  const std::string_view rest = std::string_view(shape.where).substr(at + column.size());
  const size_t op = rest.find_first_not_of(" \t\n");
  if (op == std::string_view::npos) return true;
  const bool regex = rest.substr(op).starts_with("operator(pg_catalog.~)") || rest.substr(op).starts_with("~");
  const bool equals = rest.substr(op).starts_with("=");
  if (!regex && !equals) return true;
  const auto pattern = QuotedAfter(std::string_view(shape.raw_where).substr(at), std::string(column));
  if (!pattern) return true;
  if (equals) return name == *pattern;
  return MatchesPsqlPattern(*pattern, name);
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

bool WantsPublicSchema(const QueryShape& shape) {
  // "n.nspname = 'pg_catalog'" or "nspname ~ '^(pg_catalog)$'" asks for system relations only.
  for (const char* system : {"'pg_catalog'", "'information_schema'", "^(pg_catalog)$", "^(information_schema)$"}) {
    const size_t at = shape.where.find(system);
    if (at == std::string::npos) continue;
    const std::string_view before = std::string_view(shape.where).substr(at >= 6 ? at - 6 : 0, std::min<size_t>(at, 6));
    if (!Has(before, "<>") && !Has(before, "!~") && !Has(before, "!=")) return false;
  }
  return true;
}

// ---- one result column per select item ---------------------------------------------------------

struct Cell {
  Value value;
};

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
    if (Has(e, "udt_name") || Has(e, "data_type")) return Value::Varchar(PgTypeNameOf(c->sluice_type));
  }
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

bool ReadsSystemCatalog(std::string_view lower) {
  return Has(lower, "pg_catalog.") || Has(lower, "information_schema.") || Has(lower, "pg_class") ||
         Has(lower, "pg_attribute") || Has(lower, "pg_namespace") || Has(lower, "pg_database") ||
         Has(lower, "pg_type") || Has(lower, "pg_settings") || Has(lower, "pg_proc") || Has(lower, "pg_index") ||
         Has(lower, "pg_roles") || Has(lower, "pg_user");
}

// True if the FROM clause joins a catalog table that is not modelled (pg_index, pg_inherits,
// pg_policy ...): such a query is about things sluice does not have, so it has no rows.
bool JoinsUnmodelledTable(const QueryShape& shape) {
  static const char* const kModelled[] = {"pg_class", "pg_namespace", "pg_am", "pg_attribute", "pg_database"};
  std::string_view from = shape.from;
  for (size_t at = from.find("pg_"); at != std::string_view::npos; at = from.find("pg_", at + 3)) {
    if (at > 0 && (IsWordChar(from[at - 1]))) continue;
    size_t end = at;
    while (end < from.size() && IsWordChar(from[end])) ++end;
    const std::string_view name = from.substr(at, end - at);
    if (name == "pg_catalog") continue;
    if (std::none_of(std::begin(kModelled), std::end(kModelled), [&](const char* m) { return name == m; })) return true;
  }
  return false;
}

Result<StatementResult> AnswerCatalog(const QueryShape& shape, const std::string& lower_sql, const CatalogContext& ctx) {
  const std::string table = MainTable(shape);
  std::vector<std::vector<Value>> rows;
  if (JoinsUnmodelledTable(shape)) return MakeResult(shape, rows);

  if (table == "pg_class" || table == "tables" || table == "information_schema.tables") {
    const bool info_schema = Has(table, "tables");
    SLUICE_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, ListObjects(ctx.engine, /*with_columns=*/true));
    const std::string kinds = info_schema ? std::string() : RelkindsAsked(shape);
    const auto oid = QuotedAfter(shape.where, "c.oid =");
    for (const ObjectInfo& o : objects) {
      if (!WantsPublicSchema(shape)) break;
      if (!kinds.empty() && kinds.find(o.relkind) == std::string::npos) continue;
      if (oid && *oid != std::to_string(o.oid)) continue;
      if (!MatchesNamePattern(shape, info_schema ? "table_name" : "c.relname", o.name)) continue;
      std::vector<Value> row;
      for (const SelectItem& item : shape.items) {
        row.push_back(info_schema ? InformationSchemaValue(item.expr, o, nullptr, 0, ctx)
                                  : RelationValue(item.expr, o, ctx));
      }
      rows.push_back(std::move(row));
    }
    return MakeResult(shape, rows);
  }

  if (table == "pg_attribute" || table == "columns" || table == "information_schema.columns") {
    const bool info_schema = Has(table, "columns");
    SLUICE_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, ListObjects(ctx.engine, /*with_columns=*/true));
    const auto relid = QuotedAfter(shape.where, "attrelid =");
    for (const ObjectInfo& o : objects) {
      if (!info_schema && relid && *relid != std::to_string(o.oid)) continue;
      if (!info_schema && !relid && !Has(shape.where, std::to_string(o.oid))) continue;
      if (info_schema && !MatchesNamePattern(shape, "table_name", o.name)) continue;
      if (info_schema && !WantsPublicSchema(shape)) continue;
      for (size_t i = 0; i < o.columns.size(); ++i) {
        std::vector<Value> row;
        for (const SelectItem& item : shape.items) {
          row.push_back(info_schema ? InformationSchemaValue(item.expr, o, &o.columns[i], static_cast<int32_t>(i + 1), ctx)
                                    : AttributeValue(item.expr, o.columns[i], static_cast<int32_t>(i + 1)));
        }
        rows.push_back(std::move(row));
      }
    }
    return MakeResult(shape, rows);
  }

  if (table == "pg_database") {
    std::vector<Value> row;
    for (const SelectItem& item : shape.items) {
      const std::string& e = item.expr;
      if (Has(e, "datname")) {
        row.push_back(Value::Varchar(std::string(ctx.database)));
      } else if (Has(e, "pg_get_userbyid")) {
        row.push_back(Value::Varchar(std::string(ctx.user)));
      } else if (Has(e, "encoding")) {
        row.push_back(Value::Varchar("UTF8"));
      } else if (Has(e, "datcollate") || Has(e, "datctype")) {
        row.push_back(Value::Varchar("C"));
      } else if (Has(e, "datlocprovider")) {
        row.push_back(Value::Varchar("libc"));
      } else if (Has(e, "oid")) {
        row.push_back(Value::Bigint(kFirstObjectOid - 1));
      } else {
        row.push_back(Value::Null(DataType::Varchar()));
      }
    }
    rows.push_back(std::move(row));
    return MakeResult(shape, rows);
  }

  if (table == "pg_namespace" || table == "schemata" || table == "information_schema.schemata") {
    std::vector<Value> row;
    for (const SelectItem& item : shape.items) {
      const std::string& e = item.expr;
      if (Has(e, "nspname") || Has(e, "schema_name")) {
        row.push_back(Value::Varchar("public"));
      } else if (Has(e, "pg_get_userbyid") || Has(e, "owner")) {
        row.push_back(Value::Varchar(std::string(ctx.user)));
      } else if (Has(e, "oid")) {
        row.push_back(Value::Bigint(kPublicNamespaceOid));
      } else {
        row.push_back(Value::Null(DataType::Varchar()));
      }
    }
    if (WantsPublicSchema(shape)) rows.push_back(std::move(row));
    return MakeResult(shape, rows);
  }

  // A catalog table that is not modelled: no rows, with the columns the query asked for.
  (void)lower_sql;
  return MakeResult(shape, rows);
}

}  // namespace

std::optional<Result<engine::StatementResult>> AnswerSystemQuery(std::string_view sql, const CatalogContext& ctx) {
  const std::string lower = Lower(Trim(sql));
  if (!lower.starts_with("select")) return std::nullopt;
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
    // SELECT version(), current_database() ...: only when every item is one of ours.
    std::vector<Value> row;
    for (const SelectItem& item : shape->items) {
      std::optional<Value> v = FunctionValue(item, ctx);
      if (!v) return std::nullopt;
      row.push_back(std::move(*v));
    }
    return MakeResult(*shape, {row});
  }
  if (!ReadsSystemCatalog(shape->from)) return std::nullopt;
  SLUICE_LOG_DEBUG("pgwire: answering a catalog query from the catalog: {}", MainTable(*shape));
  return AnswerCatalog(*shape, lower, ctx);
}

}  // namespace sluice::server::pgwire
