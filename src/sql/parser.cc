#include "sql/parser.h"

#include <charconv>
#include <cmath>
#include <set>

#include <fmt/format.h>

namespace sluice::sql {
namespace {

// Words that cannot be a bare alias (they end or continue the surrounding clause).
const std::set<std::string, std::less<>>& ReservedWords() {
  static const auto* words = new std::set<std::string, std::less<>>{
      "all",    "and",   "as",     "asc",       "between", "by",     "case",   "cast",  "create",
      "cross",  "desc",  "distinct", "drop",    "else",    "emit",   "end",    "except", "exists",
      "false",  "from",  "full",   "group",     "having",  "ilike",  "in",     "inner", "intersect",
      "interval", "is",  "join",   "left",      "like",    "limit",  "not",    "null",  "nulls",
      "offset", "on",    "or",     "order",     "outer",   "over",   "right",  "select", "then",
      "true",   "union", "using",  "when",      "where",   "window", "with",
  };
  return *words;
}

class Parser {
 public:
  Parser(std::string_view sql, std::vector<Token> tokens) : sql_(sql), tokens_(std::move(tokens)) {}

  Result<std::vector<StatementPtr>> ParseStatements() {
    std::vector<StatementPtr> out;
    while (true) {
      while (Accept(TokenKind::kSemicolon)) {
      }
      if (Peek().kind == TokenKind::kEnd) break;
      size_t start = Peek().pos.offset;
      SLUICE_ASSIGN_OR_RETURN(StatementPtr stmt, ParseStatement());
      size_t end = Peek().pos.offset;
      stmt->text = std::string(Trim(sql_.substr(start, end - start)));
      out.push_back(std::move(stmt));
      if (Peek().kind != TokenKind::kEnd && !Is(TokenKind::kSemicolon)) {
        return Expected("';' or end of input");
      }
    }
    return out;
  }

 private:
  // ---- token helpers -------------------------------------------------------------------

  static std::string_view Trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
  }

  const Token& Peek(size_t ahead = 0) const {
    size_t i = std::min(pos_ + ahead, tokens_.size() - 1);
    return tokens_[i];
  }
  const Token& Advance() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  bool Is(TokenKind kind) const { return Peek().kind == kind; }
  bool IsWord(std::string_view word, size_t ahead = 0) const {
    const Token& t = Peek(ahead);
    return t.kind == TokenKind::kIdentifier && !t.quoted && t.value == word;
  }
  bool Accept(TokenKind kind) {
    if (!Is(kind)) return false;
    Advance();
    return true;
  }
  bool AcceptWord(std::string_view word) {
    if (!IsWord(word)) return false;
    Advance();
    return true;
  }

  Status ErrorAt(const Token& t, std::string_view message) const {
    return Status::InvalidArgument(
        fmt::format("syntax error at line {}, column {}: {}", t.pos.line, t.pos.column, message));
  }
  Status Expected(std::string_view what) const {
    const Token& t = Peek();
    std::string found = t.kind == TokenKind::kEnd ? std::string("end of input") : fmt::format("'{}'", t.text);
    return ErrorAt(t, fmt::format("expected {}, found {}", what, found));
  }
  Status NotSupported(const Token& t, std::string_view what) const {
    return Status::InvalidArgument(
        fmt::format("not supported yet: {} (line {}, column {})", what, t.pos.line, t.pos.column));
  }
  Status Expect(TokenKind kind) {
    if (Accept(kind)) return Status::Ok();
    return Expected(TokenKindName(kind));
  }
  Status ExpectWord(std::string_view word) {
    if (AcceptWord(word)) return Status::Ok();
    return Expected(fmt::format("{}", [&] {
      std::string upper(word);
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      return upper;
    }()));
  }

  Result<std::string> ParseIdentifier(std::string_view what = "a name") {
    const Token& t = Peek();
    if (t.kind != TokenKind::kIdentifier) return Expected(what);
    if (!t.quoted && ReservedWords().contains(t.value)) return Expected(what);
    Advance();
    return t.value;
  }

  // A possibly qualified name (schema.name): sluice has one schema; a qualifier of "public" is
  // accepted and dropped so that tools that qualify names work.
  Result<std::string> ParseObjectName() {
    SLUICE_ASSIGN_OR_RETURN(std::string name, ParseIdentifier());
    if (Accept(TokenKind::kDot)) {
      if (name != "public") return ErrorAt(Peek(), fmt::format("unknown schema '{}'", name));
      SLUICE_ASSIGN_OR_RETURN(name, ParseIdentifier());
    }
    return name;
  }

  // ---- statements ----------------------------------------------------------------------

  Result<StatementPtr> ParseStatement() {
    const Token& t = Peek();
    if (IsWord("select") || IsWord("with") || Is(TokenKind::kLParen)) {
      auto stmt = std::make_unique<SelectStatement>(t.pos);
      SLUICE_ASSIGN_OR_RETURN(stmt->query, ParseQuery());
      return StatementPtr(std::move(stmt));
    }
    if (AcceptWord("create")) return ParseCreate(t);
    if (AcceptWord("drop")) return ParseDrop(t);
    if (AcceptWord("show")) return ParseShow(t);
    if (AcceptWord("describe") || AcceptWord("desc")) {
      auto stmt = std::make_unique<DescribeStatement>(t.pos);
      SLUICE_ASSIGN_OR_RETURN(stmt->name, ParseObjectName());
      return StatementPtr(std::move(stmt));
    }
    if (AcceptWord("explain")) {
      auto stmt = std::make_unique<ExplainStatement>(t.pos);
      if (IsWord("explain")) return ErrorAt(Peek(), "EXPLAIN cannot be nested");
      SLUICE_ASSIGN_OR_RETURN(stmt->statement, ParseStatement());
      return StatementPtr(std::move(stmt));
    }
    for (std::string_view word : {"insert", "update", "delete", "alter", "truncate", "copy", "grant"}) {
      if (IsWord(word)) return NotSupported(t, fmt::format("{} statements", t.text));
    }
    return Expected("a statement (SELECT, CREATE, DROP, SHOW, DESCRIBE or EXPLAIN)");
  }

  Result<bool> ParseIfNotExists() {
    if (!AcceptWord("if")) return false;
    SLUICE_RETURN_IF_ERROR(ExpectWord("not"));
    SLUICE_RETURN_IF_ERROR(ExpectWord("exists"));
    return true;
  }

  Result<StatementPtr> ParseCreate(const Token& start) {
    if (AcceptWord("source")) return ParseCreateRelation(start, StatementKind::kCreateSource);
    if (AcceptWord("table")) return ParseCreateRelation(start, StatementKind::kCreateTable);
    if (AcceptWord("materialized")) {
      SLUICE_RETURN_IF_ERROR(ExpectWord("view"));
      return ParseCreateView(start);
    }
    if (AcceptWord("sink")) return ParseCreateSink(start);
    if (IsWord("view")) return NotSupported(Peek(), "plain views; use CREATE MATERIALIZED VIEW");
    if (IsWord("or")) return NotSupported(Peek(), "CREATE OR REPLACE");
    return Expected("SOURCE, TABLE, MATERIALIZED VIEW or SINK");
  }

  Result<StatementPtr> ParseCreateRelation(const Token& start, StatementKind kind) {
    auto stmt = std::make_unique<CreateRelationStatement>(kind, start.pos);
    SLUICE_ASSIGN_OR_RETURN(stmt->if_not_exists, ParseIfNotExists());
    SLUICE_ASSIGN_OR_RETURN(stmt->name, ParseObjectName());
    SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kLParen));
    do {
      if (IsWord("watermark")) {
        const Token& wt = Advance();
        if (stmt->watermark) return ErrorAt(wt, "only one WATERMARK per source");
        SLUICE_RETURN_IF_ERROR(ExpectWord("for"));
        WatermarkDef wm;
        wm.pos = wt.pos;
        SLUICE_ASSIGN_OR_RETURN(wm.column, ParseIdentifier("a column name"));
        SLUICE_RETURN_IF_ERROR(ExpectWord("as"));
        SLUICE_ASSIGN_OR_RETURN(wm.expr, ParseExpr());
        stmt->watermark = std::move(wm);
      } else if (IsWord("primary")) {
        const Token& pt = Advance();
        SLUICE_RETURN_IF_ERROR(ExpectWord("key"));
        if (!stmt->primary_key.empty()) return ErrorAt(pt, "more than one PRIMARY KEY");
        SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kLParen));
        do {
          SLUICE_ASSIGN_OR_RETURN(std::string col, ParseIdentifier("a column name"));
          stmt->primary_key.push_back(std::move(col));
        } while (Accept(TokenKind::kComma));
        SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
      } else {
        ColumnDef col;
        col.pos = Peek().pos;
        SLUICE_ASSIGN_OR_RETURN(col.name, ParseIdentifier("a column name"));
        SLUICE_ASSIGN_OR_RETURN(col.type, ParseType());
        while (true) {
          if (IsWord("primary")) {
            const Token& pt = Advance();
            SLUICE_RETURN_IF_ERROR(ExpectWord("key"));
            if (!stmt->primary_key.empty()) return ErrorAt(pt, "more than one PRIMARY KEY");
            col.primary_key = true;
            stmt->primary_key.push_back(col.name);
          } else if (IsWord("not")) {
            Advance();
            SLUICE_RETURN_IF_ERROR(ExpectWord("null"));
            col.not_null = true;
          } else if (AcceptWord("null")) {
          } else {
            break;
          }
        }
        stmt->columns.push_back(std::move(col));
      }
    } while (Accept(TokenKind::kComma));
    SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
    if (AcceptWord("with")) {
      SLUICE_ASSIGN_OR_RETURN(stmt->options, ParseWithOptions());
    }
    return StatementPtr(std::move(stmt));
  }

  Result<StatementPtr> ParseCreateView(const Token& start) {
    auto stmt = std::make_unique<CreateViewStatement>(start.pos);
    SLUICE_ASSIGN_OR_RETURN(stmt->if_not_exists, ParseIfNotExists());
    SLUICE_ASSIGN_OR_RETURN(stmt->name, ParseObjectName());
    if (AcceptWord("with")) {
      SLUICE_ASSIGN_OR_RETURN(stmt->options, ParseWithOptions());
    }
    SLUICE_RETURN_IF_ERROR(ExpectWord("as"));
    SLUICE_ASSIGN_OR_RETURN(stmt->query, ParseQuery());
    return StatementPtr(std::move(stmt));
  }

  Result<StatementPtr> ParseCreateSink(const Token& start) {
    auto stmt = std::make_unique<CreateSinkStatement>(start.pos);
    SLUICE_ASSIGN_OR_RETURN(stmt->if_not_exists, ParseIfNotExists());
    SLUICE_ASSIGN_OR_RETURN(stmt->name, ParseObjectName());
    if (AcceptWord("into")) {
      SLUICE_ASSIGN_OR_RETURN(stmt->into, ParseObjectName());
    }
    // The options may come before the query (as RisingWave writes them) or after it.
    const bool options_first = AcceptWord("with");
    if (options_first) {
      SLUICE_ASSIGN_OR_RETURN(stmt->options, ParseWithOptions());
    }
    if (AcceptWord("from")) {
      SLUICE_ASSIGN_OR_RETURN(stmt->from, ParseObjectName());
    } else {
      SLUICE_RETURN_IF_ERROR(ExpectWord("as"));
      SLUICE_ASSIGN_OR_RETURN(stmt->query, ParseQuery());
    }
    if (AcceptWord("with")) {
      if (options_first) return Status::InvalidArgument("CREATE SINK: WITH (...) given twice");
      SLUICE_ASSIGN_OR_RETURN(stmt->options, ParseWithOptions());
    }
    return StatementPtr(std::move(stmt));
  }

  Result<WithOptions> ParseWithOptions() {
    WithOptions options;
    SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kLParen));
    do {
      const Token& key_token = Peek();
      SLUICE_ASSIGN_OR_RETURN(std::string key, ParseIdentifier("an option name"));
      while (Accept(TokenKind::kDot)) {
        const Token& part = Peek();
        if (part.kind != TokenKind::kIdentifier) return Expected("an option name");
        Advance();
        key += "." + part.value;
      }
      SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kEq));
      const Token& v = Peek();
      std::string value;
      if (v.kind == TokenKind::kString || v.kind == TokenKind::kInteger || v.kind == TokenKind::kDecimal ||
          v.kind == TokenKind::kIdentifier) {
        value = v.value;
        Advance();
      } else {
        return Expected("an option value");
      }
      if (!options.emplace(key, std::move(value)).second) {
        return ErrorAt(key_token, fmt::format("option '{}' given twice", key));
      }
    } while (Accept(TokenKind::kComma));
    SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
    return options;
  }

  Result<StatementPtr> ParseDrop(const Token& start) {
    auto stmt = std::make_unique<DropStatement>(start.pos);
    if (AcceptWord("source")) {
      stmt->object = ObjectKind::kSource;
    } else if (AcceptWord("table")) {
      stmt->object = ObjectKind::kTable;
    } else if (AcceptWord("materialized")) {
      SLUICE_RETURN_IF_ERROR(ExpectWord("view"));
      stmt->object = ObjectKind::kView;
    } else if (AcceptWord("view")) {
      stmt->object = ObjectKind::kView;
    } else if (AcceptWord("sink")) {
      stmt->object = ObjectKind::kSink;
    } else {
      return Expected("SOURCE, TABLE, MATERIALIZED VIEW or SINK");
    }
    if (AcceptWord("if")) {
      SLUICE_RETURN_IF_ERROR(ExpectWord("exists"));
      stmt->if_exists = true;
    }
    SLUICE_ASSIGN_OR_RETURN(stmt->name, ParseObjectName());
    if (AcceptWord("cascade")) {
      stmt->cascade = true;
    } else {
      AcceptWord("restrict");
    }
    return StatementPtr(std::move(stmt));
  }

  Result<StatementPtr> ParseShow(const Token& start) {
    auto stmt = std::make_unique<ShowStatement>(start.pos);
    if (AcceptWord("sources")) {
      stmt->what = ShowKind::kSources;
    } else if (AcceptWord("tables")) {
      stmt->what = ShowKind::kTables;
    } else if (AcceptWord("materialized")) {
      SLUICE_RETURN_IF_ERROR(ExpectWord("views"));
      stmt->what = ShowKind::kViews;
    } else if (AcceptWord("views")) {
      stmt->what = ShowKind::kViews;
    } else if (AcceptWord("sinks")) {
      stmt->what = ShowKind::kSinks;
    } else if (AcceptWord("topics")) {
      stmt->what = ShowKind::kTopics;
    } else {
      return Expected("SOURCES, TABLES, MATERIALIZED VIEWS, SINKS or TOPICS");
    }
    return StatementPtr(std::move(stmt));
  }

  // ---- types ---------------------------------------------------------------------------

  Result<DataType> ParseType() {
    const Token& t = Peek();
    if (t.kind != TokenKind::kIdentifier) return Expected("a type name");
    std::string name = t.value;
    Advance();
    DataType type;
    if (name == "boolean" || name == "bool") {
      type.id = TypeId::kBoolean;
    } else if (name == "int" || name == "integer" || name == "int4" || name == "smallint" || name == "int2") {
      type.id = TypeId::kInt;
    } else if (name == "bigint" || name == "int8") {
      type.id = TypeId::kBigint;
    } else if (name == "double" || name == "float8" || name == "float" || name == "real" || name == "float4") {
      type.id = TypeId::kDouble;
      if (name == "double") AcceptWord("precision");
    } else if (name == "decimal" || name == "numeric") {
      type.id = TypeId::kDecimal;
      type.precision = 38;
      type.scale = 9;
      if (Accept(TokenKind::kLParen)) {
        const Token& p = Peek();
        if (p.kind != TokenKind::kInteger) return Expected("a precision");
        Advance();
        int precision = std::atoi(p.value.c_str());
        int scale = 0;
        if (Accept(TokenKind::kComma)) {
          const Token& s = Peek();
          if (s.kind != TokenKind::kInteger) return Expected("a scale");
          Advance();
          scale = std::atoi(s.value.c_str());
        }
        SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
        if (precision < 1 || precision > 38) return ErrorAt(p, "DECIMAL precision must be between 1 and 38");
        if (scale < 0 || scale > precision) return ErrorAt(p, "DECIMAL scale must be between 0 and the precision");
        type.precision = static_cast<uint8_t>(precision);
        type.scale = static_cast<uint8_t>(scale);
      }
    } else if (name == "varchar" || name == "text" || name == "string" || name == "char" || name == "character") {
      type.id = TypeId::kVarchar;
      if (name == "character") AcceptWord("varying");
      if (Accept(TokenKind::kLParen)) {
        if (!Is(TokenKind::kInteger)) return Expected("a length");
        Advance();
        SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
      }
    } else if (name == "timestamp") {
      type.id = TypeId::kTimestamp;
      if (Accept(TokenKind::kLParen)) {
        if (!Is(TokenKind::kInteger)) return Expected("a precision");
        Advance();
        SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
      }
      if (AcceptWord("with")) {
        SLUICE_RETURN_IF_ERROR(ExpectWord("time"));
        SLUICE_RETURN_IF_ERROR(ExpectWord("zone"));
        type.id = TypeId::kTimestamptz;
      } else if (AcceptWord("without")) {
        SLUICE_RETURN_IF_ERROR(ExpectWord("time"));
        SLUICE_RETURN_IF_ERROR(ExpectWord("zone"));
      }
    } else if (name == "timestamptz") {
      type.id = TypeId::kTimestamptz;
    } else if (name == "interval") {
      type.id = TypeId::kInterval;
    } else if (name == "date") {
      type.id = TypeId::kDate;
    } else {
      return ErrorAt(t, fmt::format("unknown type '{}' (known: BOOLEAN, INT, BIGINT, DOUBLE, DECIMAL(p,s), "
                                    "VARCHAR, TIMESTAMP, TIMESTAMPTZ, INTERVAL, DATE)",
                                    t.text));
    }
    if (Is(TokenKind::kLBracket)) return NotSupported(Peek(), "array types");
    return type;
  }

  // ---- queries -------------------------------------------------------------------------

  Result<std::unique_ptr<SelectStmt>> ParseQuery() {
    if (++depth_ > kMaxDepth) return ErrorAt(Peek(), "query nested too deeply");
    auto result = ParseQueryInner();
    --depth_;
    return result;
  }

  Result<std::unique_ptr<SelectStmt>> ParseQueryInner() {
    std::vector<CommonTableExpr> with;
    if (AcceptWord("with")) {
      if (IsWord("recursive")) return NotSupported(Peek(), "WITH RECURSIVE");
      do {
        CommonTableExpr cte;
        cte.pos = Peek().pos;
        SLUICE_ASSIGN_OR_RETURN(cte.name, ParseIdentifier());
        SLUICE_RETURN_IF_ERROR(ExpectWord("as"));
        SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kLParen));
        SLUICE_ASSIGN_OR_RETURN(cte.query, ParseQuery());
        SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
        with.push_back(std::move(cte));
      } while (Accept(TokenKind::kComma));
    }
    std::unique_ptr<SelectStmt> query;
    if (Accept(TokenKind::kLParen)) {
      SLUICE_ASSIGN_OR_RETURN(query, ParseQuery());
      SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
    } else {
      SLUICE_ASSIGN_OR_RETURN(query, ParseSelect());
    }
    if (IsWord("union") || IsWord("intersect") || IsWord("except")) {
      return NotSupported(Peek(), fmt::format("{} of queries", Peek().text));
    }
    for (auto& cte : with) query->with.push_back(std::move(cte));
    return query;
  }

  Result<std::unique_ptr<SelectStmt>> ParseSelect() {
    auto q = std::make_unique<SelectStmt>();
    q->pos = Peek().pos;
    SLUICE_RETURN_IF_ERROR(ExpectWord("select"));
    if (AcceptWord("distinct")) {
      q->distinct = true;
      if (AcceptWord("on")) {
        SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kLParen));
        do {
          SLUICE_ASSIGN_OR_RETURN(ExprPtr e, ParseExpr());
          q->distinct_on.push_back(std::move(e));
        } while (Accept(TokenKind::kComma));
        SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
      }
    } else {
      AcceptWord("all");
    }
    do {
      SelectItem item;
      SLUICE_ASSIGN_OR_RETURN(item.expr, ParseSelectItemExpr());
      if (AcceptWord("as")) {
        SLUICE_ASSIGN_OR_RETURN(item.alias, ParseIdentifier("an alias"));
      } else if (Is(TokenKind::kIdentifier) && (Peek().quoted || !ReservedWords().contains(Peek().value))) {
        item.alias = Advance().value;
      }
      q->items.push_back(std::move(item));
    } while (Accept(TokenKind::kComma));

    if (AcceptWord("from")) {

      SLUICE_ASSIGN_OR_RETURN(q->from, ParseFrom());

    }
    if (AcceptWord("where")) {
      SLUICE_ASSIGN_OR_RETURN(q->where, ParseExpr());
    }
    if (AcceptWord("group")) {
      SLUICE_RETURN_IF_ERROR(ExpectWord("by"));
      do {
        SLUICE_ASSIGN_OR_RETURN(ExprPtr e, ParseExpr());
        q->group_by.push_back(std::move(e));
      } while (Accept(TokenKind::kComma));
    }
    if (AcceptWord("having")) {
      SLUICE_ASSIGN_OR_RETURN(q->having, ParseExpr());
    }
    if (IsWord("window")) return NotSupported(Peek(), "named WINDOW clauses");
    if (AcceptWord("order")) {
      SLUICE_RETURN_IF_ERROR(ExpectWord("by"));
      SLUICE_ASSIGN_OR_RETURN(q->order_by, ParseOrderList());
    }
    if (AcceptWord("limit")) {
      if (AcceptWord("all")) {
      } else {
        SLUICE_ASSIGN_OR_RETURN(q->limit, ParseCount("LIMIT"));
      }
    }
    if (AcceptWord("offset")) {
      SLUICE_ASSIGN_OR_RETURN(q->offset, ParseCount("OFFSET"));
      AcceptWord("rows") || AcceptWord("row");
    }
    if (AcceptWord("emit")) {
      SLUICE_RETURN_IF_ERROR(ExpectWord("on"));
      SLUICE_RETURN_IF_ERROR(ExpectWord("window"));
      SLUICE_RETURN_IF_ERROR(ExpectWord("close"));
      q->emit_on_window_close = true;
    }
    return q;
  }

  Result<int64_t> ParseCount(std::string_view clause) {
    const Token& t = Peek();
    if (t.kind != TokenKind::kInteger) return Expected(fmt::format("a non-negative integer after {}", clause));
    Advance();
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(t.value.data(), t.value.data() + t.value.size(), v);
    if (ec != std::errc()) return ErrorAt(t, fmt::format("{} value out of range", clause));
    return v;
  }

  Result<std::vector<OrderItem>> ParseOrderList() {
    std::vector<OrderItem> items;
    do {
      OrderItem item;
      SLUICE_ASSIGN_OR_RETURN(item.expr, ParseExpr());
      if (AcceptWord("desc")) {
        item.descending = true;
      } else {
        AcceptWord("asc");
      }
      if (AcceptWord("nulls")) {
        if (AcceptWord("first")) {
          item.nulls_first = true;
        } else {
          SLUICE_RETURN_IF_ERROR(ExpectWord("last"));
          item.nulls_first = false;
        }
      }
      items.push_back(std::move(item));
    } while (Accept(TokenKind::kComma));
    return items;
  }

  Result<ExprPtr> ParseSelectItemExpr() {
    if (Is(TokenKind::kStar)) {
      auto star = std::make_unique<StarExpr>(Advance().pos);
      return ExprPtr(std::move(star));
    }
    // t.*
    if (Is(TokenKind::kIdentifier) && Peek(1).kind == TokenKind::kDot && Peek(2).kind == TokenKind::kStar) {
      auto star = std::make_unique<StarExpr>(Peek().pos);
      star->table = Advance().value;
      Advance();
      Advance();
      return ExprPtr(std::move(star));
    }
    return ParseExpr();
  }

  Result<std::unique_ptr<TableRef>> ParseFrom() {
    SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<TableRef> left, ParseTablePrimary());
    while (true) {
      const Token& t = Peek();
      JoinType type;
      if (Accept(TokenKind::kComma)) {
        type = JoinType::kCross;
      } else if (AcceptWord("cross")) {
        SLUICE_RETURN_IF_ERROR(ExpectWord("join"));
        type = JoinType::kCross;
      } else if (AcceptWord("join")) {
        type = JoinType::kInner;
      } else if (AcceptWord("inner")) {
        SLUICE_RETURN_IF_ERROR(ExpectWord("join"));
        type = JoinType::kInner;
      } else if (IsWord("left") || IsWord("right") || IsWord("full")) {
        std::string word = Advance().value;
        AcceptWord("outer");
        SLUICE_RETURN_IF_ERROR(ExpectWord("join"));
        type = word == "left" ? JoinType::kLeft : word == "right" ? JoinType::kRight : JoinType::kFull;
      } else if (IsWord("natural")) {
        return NotSupported(t, "NATURAL JOIN");
      } else {
        break;
      }
      auto join = std::make_unique<TableRef>();
      join->kind = TableRefKind::kJoin;
      join->pos = t.pos;
      join->join = type;
      join->left = std::move(left);
      SLUICE_ASSIGN_OR_RETURN(join->right, ParseTablePrimary());
      if (type != JoinType::kCross) {
        if (IsWord("using")) return NotSupported(Peek(), "JOIN ... USING; write ON a.x = b.x");
        SLUICE_RETURN_IF_ERROR(ExpectWord("on"));
        SLUICE_ASSIGN_OR_RETURN(join->on, ParseExpr());
      }
      left = std::move(join);
    }
    return left;
  }

  Result<std::unique_ptr<TableRef>> ParseTablePrimary() {
    auto ref = std::make_unique<TableRef>();
    ref->pos = Peek().pos;
    if (Accept(TokenKind::kLParen)) {
      if (IsWord("select") || IsWord("with") || Is(TokenKind::kLParen)) {
        ref->kind = TableRefKind::kSubquery;
        SLUICE_ASSIGN_OR_RETURN(ref->subquery, ParseQuery());
        SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
      } else {
        SLUICE_ASSIGN_OR_RETURN(ref, ParseFrom());
        SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
      }
    } else {
      SLUICE_ASSIGN_OR_RETURN(ref->name, ParseObjectName());
      if (Accept(TokenKind::kLParen)) {
        ref->kind = TableRefKind::kFunction;
        if (!Is(TokenKind::kRParen)) {
          do {
            SLUICE_ASSIGN_OR_RETURN(ExprPtr arg, ParseExpr());
            ref->args.push_back(std::move(arg));
          } while (Accept(TokenKind::kComma));
        }
        SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
      }
    }
    if (AcceptWord("as")) {
      SLUICE_ASSIGN_OR_RETURN(ref->alias, ParseIdentifier("an alias"));
    } else if (Is(TokenKind::kIdentifier) && (Peek().quoted || !ReservedWords().contains(Peek().value)) &&
               !IsWord("natural")) {
      ref->alias = Advance().value;
    }
    if (Is(TokenKind::kLParen) && !ref->alias.empty()) return NotSupported(Peek(), "column aliases on a table");
    if (ref->kind == TableRefKind::kSubquery && ref->alias.empty()) {
      return ErrorAt(Peek(), "a subquery in FROM needs an alias: (SELECT ...) AS name");
    }
    return ref;
  }

  // ---- expressions -----------------------------------------------------------------------

  Result<ExprPtr> ParseExpr() {
    if (++depth_ > kMaxDepth) return ErrorAt(Peek(), "expression nested too deeply");
    auto result = ParseOr();
    --depth_;
    return result;
  }

  static ExprPtr MakeBinary(BinaryOp op, SourcePos pos, ExprPtr l, ExprPtr r) {
    auto e = std::make_unique<BinaryExpr>(pos);
    e->op = op;
    e->left = std::move(l);
    e->right = std::move(r);
    return e;
  }

  Result<ExprPtr> ParseOr() {
    SLUICE_ASSIGN_OR_RETURN(ExprPtr left, ParseAnd());
    while (IsWord("or")) {
      SourcePos pos = Advance().pos;
      SLUICE_ASSIGN_OR_RETURN(ExprPtr right, ParseAnd());
      left = MakeBinary(BinaryOp::kOr, pos, std::move(left), std::move(right));
    }
    return left;
  }

  Result<ExprPtr> ParseAnd() {
    SLUICE_ASSIGN_OR_RETURN(ExprPtr left, ParseNot());
    while (IsWord("and")) {
      SourcePos pos = Advance().pos;
      SLUICE_ASSIGN_OR_RETURN(ExprPtr right, ParseNot());
      left = MakeBinary(BinaryOp::kAnd, pos, std::move(left), std::move(right));
    }
    return left;
  }

  Result<ExprPtr> ParseNot() {
    if (IsWord("not")) {
      SourcePos pos = Advance().pos;
      if (++depth_ > kMaxDepth) return ErrorAt(Peek(), "expression nested too deeply");
      auto operand = ParseNot();
      --depth_;
      if (!operand.ok()) return operand.status();
      auto e = std::make_unique<UnaryExpr>(pos);
      e->op = UnaryOp::kNot;
      e->operand = std::move(operand).value();
      return ExprPtr(std::move(e));
    }
    return ParseComparison();
  }

  Result<ExprPtr> ParseComparison() {
    SLUICE_ASSIGN_OR_RETURN(ExprPtr left, ParseConcat());
    while (true) {
      const Token& t = Peek();
      std::optional<BinaryOp> op;
      switch (t.kind) {
        case TokenKind::kEq: op = BinaryOp::kEq; break;
        case TokenKind::kNotEq: op = BinaryOp::kNotEq; break;
        case TokenKind::kLt: op = BinaryOp::kLt; break;
        case TokenKind::kLtEq: op = BinaryOp::kLtEq; break;
        case TokenKind::kGt: op = BinaryOp::kGt; break;
        case TokenKind::kGtEq: op = BinaryOp::kGtEq; break;
        default: break;
      }
      if (op) {
        Advance();
        SLUICE_ASSIGN_OR_RETURN(ExprPtr right, ParseConcat());
        left = MakeBinary(*op, t.pos, std::move(left), std::move(right));
        continue;
      }
      if (IsWord("is")) {
        Advance();
        bool negated = AcceptWord("not");
        if (AcceptWord("null")) {
          auto e = std::make_unique<IsNullExpr>(t.pos);
          e->operand = std::move(left);
          e->negated = negated;
          left = std::move(e);
          continue;
        }
        if (IsWord("true") || IsWord("false")) {
          // x IS [NOT] TRUE  ==  (x = TRUE) with NULL -> FALSE; kept as a function for the binder.
          auto f = std::make_unique<FunctionExpr>(t.pos);
          f->name = std::string(negated ? "is_not_" : "is_") + Advance().value;
          f->args.push_back(std::move(left));
          left = std::move(f);
          continue;
        }
        if (IsWord("distinct")) return NotSupported(Peek(), "IS DISTINCT FROM");
        return Expected("NULL, TRUE or FALSE after IS");
      }
      bool negated = false;
      if (IsWord("not") && (IsWord("in", 1) || IsWord("between", 1) || IsWord("like", 1) || IsWord("ilike", 1))) {
        Advance();
        negated = true;
      }
      if (AcceptWord("in")) {
        SLUICE_ASSIGN_OR_RETURN(left, ParseInRest(t.pos, std::move(left), negated));
        continue;
      }
      if (AcceptWord("between")) {
        auto e = std::make_unique<BetweenExpr>(t.pos);
        e->operand = std::move(left);
        e->negated = negated;
        AcceptWord("symmetric") ? void() : void(AcceptWord("asymmetric"));
        SLUICE_ASSIGN_OR_RETURN(e->low, ParseConcat());
        SLUICE_RETURN_IF_ERROR(ExpectWord("and"));
        SLUICE_ASSIGN_OR_RETURN(e->high, ParseConcat());
        left = std::move(e);
        continue;
      }
      if (IsWord("like") || IsWord("ilike")) {
        auto e = std::make_unique<LikeExpr>(t.pos);
        e->case_insensitive = Advance().value == "ilike";
        e->operand = std::move(left);
        e->negated = negated;
        SLUICE_ASSIGN_OR_RETURN(e->pattern, ParseConcat());
        if (IsWord("escape")) return NotSupported(Peek(), "LIKE ... ESCAPE");
        left = std::move(e);
        continue;
      }
      if (negated) return Expected("IN, BETWEEN or LIKE after NOT");
      return left;
    }
  }

  Result<ExprPtr> ParseInRest(SourcePos pos, ExprPtr operand, bool negated) {
    auto e = std::make_unique<InExpr>(pos);
    e->operand = std::move(operand);
    e->negated = negated;
    SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kLParen));
    if (IsWord("select") || IsWord("with")) {
      SLUICE_ASSIGN_OR_RETURN(e->subquery, ParseQuery());
    } else {
      do {
        SLUICE_ASSIGN_OR_RETURN(ExprPtr item, ParseExpr());
        e->list.push_back(std::move(item));
      } while (Accept(TokenKind::kComma));
    }
    SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
    return ExprPtr(std::move(e));
  }

  Result<ExprPtr> ParseConcat() {
    SLUICE_ASSIGN_OR_RETURN(ExprPtr left, ParseAdditive());
    while (Is(TokenKind::kConcat)) {
      SourcePos pos = Advance().pos;
      SLUICE_ASSIGN_OR_RETURN(ExprPtr right, ParseAdditive());
      left = MakeBinary(BinaryOp::kConcat, pos, std::move(left), std::move(right));
    }
    return left;
  }

  Result<ExprPtr> ParseAdditive() {
    SLUICE_ASSIGN_OR_RETURN(ExprPtr left, ParseMultiplicative());
    while (Is(TokenKind::kPlus) || Is(TokenKind::kMinus)) {
      const Token& t = Advance();
      SLUICE_ASSIGN_OR_RETURN(ExprPtr right, ParseMultiplicative());
      left = MakeBinary(t.kind == TokenKind::kPlus ? BinaryOp::kAdd : BinaryOp::kSubtract, t.pos, std::move(left),
                        std::move(right));
    }
    return left;
  }

  Result<ExprPtr> ParseMultiplicative() {
    SLUICE_ASSIGN_OR_RETURN(ExprPtr left, ParseUnary());
    while (Is(TokenKind::kStar) || Is(TokenKind::kSlash) || Is(TokenKind::kPercent)) {
      const Token& t = Advance();
      BinaryOp op = t.kind == TokenKind::kStar ? BinaryOp::kMultiply
                    : t.kind == TokenKind::kSlash ? BinaryOp::kDivide
                                                  : BinaryOp::kModulo;
      SLUICE_ASSIGN_OR_RETURN(ExprPtr right, ParseUnary());
      left = MakeBinary(op, t.pos, std::move(left), std::move(right));
    }
    return left;
  }

  Result<ExprPtr> ParseUnary() {
    if (Is(TokenKind::kMinus) || Is(TokenKind::kPlus)) {
      const Token& t = Advance();
      if (++depth_ > kMaxDepth) return ErrorAt(t, "expression nested too deeply");
      auto operand = ParseUnary();
      --depth_;
      if (!operand.ok()) return operand.status();
      if (t.kind == TokenKind::kPlus) return std::move(operand).value();
      // Fold -<integer literal> so that -9223372036854775808 is representable.
      ExprPtr inner = std::move(operand).value();
      if (inner->kind == ExprKind::kLiteral) {
        auto* lit = static_cast<LiteralExpr*>(inner.get());
        if (lit->literal == LiteralKind::kInteger || lit->literal == LiteralKind::kDecimal) {
          if (lit->literal == LiteralKind::kInteger) lit->integer = -lit->integer;
          lit->text = "-" + lit->text;
          lit->pos = t.pos;
          return inner;
        }
      }
      auto e = std::make_unique<UnaryExpr>(t.pos);
      e->op = UnaryOp::kNegate;
      e->operand = std::move(inner);
      return ExprPtr(std::move(e));
    }
    return ParsePostfix();
  }

  Result<ExprPtr> ParsePostfix() {
    SLUICE_ASSIGN_OR_RETURN(ExprPtr e, ParsePrimary());
    while (Is(TokenKind::kCast)) {
      SourcePos pos = Advance().pos;
      auto cast = std::make_unique<CastExpr>(pos);
      cast->operand = std::move(e);
      SLUICE_ASSIGN_OR_RETURN(cast->type, ParseType());
      e = std::move(cast);
    }
    if (Is(TokenKind::kLBracket)) return NotSupported(Peek(), "array subscripts");
    return e;
  }

  Result<ExprPtr> ParseIntegerLiteral(const Token& t) {
    auto lit = std::make_unique<LiteralExpr>(t.pos);
    // Integers that do not fit in 64 bits become decimals (the binder decides their type).
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(t.value.data(), t.value.data() + t.value.size(), v);
    if (ec == std::errc()) {
      lit->literal = LiteralKind::kInteger;
      lit->integer = v;
    } else {
      lit->literal = LiteralKind::kDecimal;
    }
    lit->text = t.value;
    return ExprPtr(std::move(lit));
  }

  Result<ExprPtr> ParsePrimary() {
    const Token& t = Peek();
    switch (t.kind) {
      case TokenKind::kInteger:
        Advance();
        return ParseIntegerLiteral(t);
      case TokenKind::kDecimal: {
        Advance();
        auto lit = std::make_unique<LiteralExpr>(t.pos);
        lit->literal = LiteralKind::kDecimal;
        lit->text = t.value;
        return ExprPtr(std::move(lit));
      }
      case TokenKind::kString: {
        Advance();
        auto lit = std::make_unique<LiteralExpr>(t.pos);
        lit->literal = LiteralKind::kString;
        lit->text = t.value;
        return ExprPtr(std::move(lit));
      }
      case TokenKind::kParam: {
        Advance();
        auto p = std::make_unique<ParamExpr>(t.pos);
        p->index = std::atoi(t.value.c_str());
        if (p->index < 1 || p->index > 65535) return ErrorAt(t, "parameter number out of range");
        return ExprPtr(std::move(p));
      }
      case TokenKind::kLParen: {
        Advance();
        if (IsWord("select") || IsWord("with")) {
          auto sub = std::make_unique<SubqueryExpr>(t.pos);
          SLUICE_ASSIGN_OR_RETURN(sub->query, ParseQuery());
          SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
          return ExprPtr(std::move(sub));
        }
        SLUICE_ASSIGN_OR_RETURN(ExprPtr inner, ParseExpr());
        if (Is(TokenKind::kComma)) return NotSupported(Peek(), "row values");
        SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
        return inner;
      }
      case TokenKind::kIdentifier:
        return ParseIdentifierExpr();
      case TokenKind::kStar:
        return ErrorAt(t, "'*' is only allowed in a select list or count(*)");
      default:
        return Expected("an expression");
    }
  }

  Result<Interval> ParseIntervalText(const Token& at, std::string_view text, std::string unit) {
    // Either INTERVAL '4' SECOND or INTERVAL '4 seconds' / '1 hour 30 minutes'.
    Interval iv;
    std::vector<std::pair<std::string, std::string>> parts;  // (number, unit)
    size_t i = 0;
    auto skip_space = [&] {
      while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    };
    skip_space();
    while (i < text.size()) {
      size_t start = i;
      if (text[i] == '-' || text[i] == '+') ++i;
      while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
      std::string number(text.substr(start, i - start));
      skip_space();
      size_t ustart = i;
      while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
      std::string u(text.substr(ustart, i - ustart));
      for (char& c : u) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (number.empty() || number == "-" || number == "+") {
        return ErrorAt(at, fmt::format("invalid interval '{}'", text));
      }
      if (u.empty()) u = unit;
      if (u.empty()) return ErrorAt(at, fmt::format("interval '{}' has no unit", text));
      parts.emplace_back(number, u);
      skip_space();
    }
    if (parts.empty()) return ErrorAt(at, fmt::format("invalid interval '{}'", text));
    for (auto& part : parts) {
      const std::string& number = part.first;
      std::string& u = part.second;
      if (u.size() > 1 && u.back() == 's') u.pop_back();
      double n = std::strtod(number.c_str(), nullptr);
      // Every component is range-checked before it is converted: hostile text must not overflow.
      auto add_micros = [&](double micros) -> Status {
        double total = static_cast<double>(iv.micros) + micros;
        if (!(std::fabs(total) < 9.2e18)) return ErrorAt(at, fmt::format("interval '{}' out of range", text));
        iv.micros = static_cast<int64_t>(total);
        return Status::Ok();
      };
      auto add_int32 = [&](int32_t* field, double v) -> Status {
        double total = static_cast<double>(*field) + v;
        if (!(std::fabs(total) < 2.1e9)) return ErrorAt(at, fmt::format("interval '{}' out of range", text));
        *field = static_cast<int32_t>(total);
        return Status::Ok();
      };
      auto whole = [&](double v) -> Result<int64_t> {
        if (!(std::fabs(v) < 9.2e18)) return ErrorAt(at, fmt::format("interval '{}' out of range", text));
        if (v != static_cast<double>(static_cast<int64_t>(v))) {
          return ErrorAt(at, fmt::format("interval '{}': fractional {} not supported", text, u));
        }
        return static_cast<int64_t>(v);
      };
      if (u == "microsecond" || u == "us") {
        SLUICE_RETURN_IF_ERROR(add_micros(n));
      } else if (u == "millisecond" || u == "ms") {
        SLUICE_RETURN_IF_ERROR(add_micros(n * 1e3));
      } else if (u == "second" || u == "sec" || u == "s") {
        SLUICE_RETURN_IF_ERROR(add_micros(n * 1e6));
      } else if (u == "minute" || u == "min" || u == "m") {
        SLUICE_RETURN_IF_ERROR(add_micros(n * 60e6));
      } else if (u == "hour" || u == "h") {
        SLUICE_RETURN_IF_ERROR(add_micros(n * 3600e6));
      } else if (u == "day" || u == "d") {
        SLUICE_ASSIGN_OR_RETURN(int64_t d, whole(n));
        SLUICE_RETURN_IF_ERROR(add_int32(&iv.days, static_cast<double>(d)));
      } else if (u == "week") {
        SLUICE_ASSIGN_OR_RETURN(int64_t w, whole(n));
        SLUICE_RETURN_IF_ERROR(add_int32(&iv.days, static_cast<double>(w) * 7));
      } else if (u == "month" || u == "mon") {
        SLUICE_ASSIGN_OR_RETURN(int64_t m, whole(n));
        SLUICE_RETURN_IF_ERROR(add_int32(&iv.months, static_cast<double>(m)));
      } else if (u == "year" || u == "y") {
        SLUICE_ASSIGN_OR_RETURN(int64_t y, whole(n));
        SLUICE_RETURN_IF_ERROR(add_int32(&iv.months, static_cast<double>(y) * 12));
      } else {
        return ErrorAt(at, fmt::format("unknown interval unit '{}'", u));
      }
    }
    return iv;
  }

  Result<ExprPtr> ParseIdentifierExpr() {
    const Token& t = Peek();
    if (!t.quoted) {
      const std::string& w = t.value;
      if (w == "null" || w == "true" || w == "false") {
        Advance();
        auto lit = std::make_unique<LiteralExpr>(t.pos);
        lit->literal = w == "null" ? LiteralKind::kNull : LiteralKind::kBoolean;
        lit->boolean = w == "true";
        return ExprPtr(std::move(lit));
      }
      if (w == "case") return ParseCase();
      if (w == "cast") {
        Advance();
        SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kLParen));
        auto cast = std::make_unique<CastExpr>(t.pos);
        SLUICE_ASSIGN_OR_RETURN(cast->operand, ParseExpr());
        SLUICE_RETURN_IF_ERROR(ExpectWord("as"));
        SLUICE_ASSIGN_OR_RETURN(cast->type, ParseType());
        SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
        return ExprPtr(std::move(cast));
      }
      if (w == "interval") {
        Advance();
        const Token& s = Peek();
        std::string text;
        if (s.kind == TokenKind::kString || s.kind == TokenKind::kInteger || s.kind == TokenKind::kDecimal) {
          text = s.value;
          Advance();
        } else {
          return Expected("an interval string such as '10' SECOND or '10 seconds'");
        }
        std::string unit;
        static const std::set<std::string, std::less<>> kUnits = {
            "microsecond", "microseconds", "millisecond", "milliseconds", "second", "seconds", "minute",
            "minutes",     "hour",         "hours",       "day",          "days",   "week",   "weeks",
            "month",       "months",       "year",        "years"};
        if (Is(TokenKind::kIdentifier) && !Peek().quoted && kUnits.contains(Peek().value)) {
          unit = Advance().value;
          if (IsWord("to")) return NotSupported(Peek(), "interval ranges (DAY TO SECOND)");
          if (Is(TokenKind::kLParen)) return NotSupported(Peek(), "interval precision");
        }
        auto lit = std::make_unique<LiteralExpr>(t.pos);
        lit->literal = LiteralKind::kInterval;
        lit->text = text;
        SLUICE_ASSIGN_OR_RETURN(lit->interval, ParseIntervalText(s, text, unit));
        return ExprPtr(std::move(lit));
      }
      if ((w == "timestamp" || w == "timestamptz" || w == "date") && Peek(1).kind == TokenKind::kString) {
        Advance();
        auto lit = std::make_unique<LiteralExpr>(t.pos);
        lit->literal = LiteralKind::kTyped;
        lit->type.id = w == "date" ? TypeId::kDate : w == "timestamp" ? TypeId::kTimestamp : TypeId::kTimestamptz;
        lit->text = Advance().value;
        return ExprPtr(std::move(lit));
      }
      if (w == "exists" && Peek(1).kind == TokenKind::kLParen) {
        Advance();
        Advance();
        auto sub = std::make_unique<SubqueryExpr>(t.pos);
        sub->exists = true;
        SLUICE_ASSIGN_OR_RETURN(sub->query, ParseQuery());
        SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
        return ExprPtr(std::move(sub));
      }
      if (w == "extract" && Peek(1).kind == TokenKind::kLParen) {
        Advance();
        Advance();
        auto f = std::make_unique<FunctionExpr>(t.pos);
        f->name = "extract";
        const Token& field = Peek();
        if (field.kind != TokenKind::kIdentifier && field.kind != TokenKind::kString) {
          return Expected("a field name such as YEAR, HOUR or EPOCH");
        }
        Advance();
        auto lit = std::make_unique<LiteralExpr>(field.pos);
        lit->literal = LiteralKind::kString;
        lit->text = field.value;
        f->args.push_back(std::move(lit));
        SLUICE_RETURN_IF_ERROR(ExpectWord("from"));
        SLUICE_ASSIGN_OR_RETURN(ExprPtr source, ParseExpr());
        f->args.push_back(std::move(source));
        SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
        return ExprPtr(std::move(f));
      }
      if (ReservedWords().contains(w) && Peek(1).kind != TokenKind::kLParen) {
        return Expected("an expression");
      }
    }
    Advance();
    if (Is(TokenKind::kLParen)) return ParseFunctionCall(t);
    auto col = std::make_unique<ColumnRefExpr>(t.pos);
    col->column = t.value;
    if (Accept(TokenKind::kDot)) {
      const Token& c = Peek();
      if (c.kind != TokenKind::kIdentifier) return Expected("a column name after '.'");
      Advance();
      col->table = col->column;
      col->column = c.value;
      if (Is(TokenKind::kDot)) return NotSupported(Peek(), "names with more than two parts");
    }
    return ExprPtr(std::move(col));
  }

  Result<ExprPtr> ParseFunctionCall(const Token& name) {
    SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kLParen));
    auto f = std::make_unique<FunctionExpr>(name.pos);
    f->name = name.value;
    if (Is(TokenKind::kStar)) {
      Advance();
      f->star = true;
    } else if (!Is(TokenKind::kRParen)) {
      if (AcceptWord("distinct")) {
        f->distinct = true;
      } else {
        AcceptWord("all");
      }
      do {
        SLUICE_ASSIGN_OR_RETURN(ExprPtr arg, ParseExpr());
        f->args.push_back(std::move(arg));
      } while (Accept(TokenKind::kComma));
      if (IsWord("order")) return NotSupported(Peek(), "ORDER BY inside an aggregate");
    }
    SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
    if (IsWord("filter")) return NotSupported(Peek(), "aggregate FILTER clauses");
    if (AcceptWord("over")) {
      if (!Is(TokenKind::kLParen)) return NotSupported(Peek(), "named windows in OVER");
      Advance();
      f->over = std::make_unique<OverClause>();
      if (AcceptWord("partition")) {
        SLUICE_RETURN_IF_ERROR(ExpectWord("by"));
        do {
          SLUICE_ASSIGN_OR_RETURN(ExprPtr e, ParseExpr());
          f->over->partition_by.push_back(std::move(e));
        } while (Accept(TokenKind::kComma));
      }
      if (AcceptWord("order")) {
        SLUICE_RETURN_IF_ERROR(ExpectWord("by"));
        SLUICE_ASSIGN_OR_RETURN(f->over->order_by, ParseOrderList());
      }
      if (IsWord("rows") || IsWord("range") || IsWord("groups")) {
        return NotSupported(Peek(), "window frames (ROWS/RANGE ...)");
      }
      SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
    }
    return ExprPtr(std::move(f));
  }

  Result<ExprPtr> ParseCase() {
    const Token& t = Advance();
    auto e = std::make_unique<CaseExpr>(t.pos);
    if (!IsWord("when")) {
      SLUICE_ASSIGN_OR_RETURN(e->operand, ParseExpr());
    }
    if (!IsWord("when")) return Expected("WHEN");
    while (AcceptWord("when")) {
      SLUICE_ASSIGN_OR_RETURN(ExprPtr cond, ParseExpr());
      SLUICE_RETURN_IF_ERROR(ExpectWord("then"));
      SLUICE_ASSIGN_OR_RETURN(ExprPtr value, ParseExpr());
      e->whens.emplace_back(std::move(cond), std::move(value));
    }
    if (AcceptWord("else")) {
      SLUICE_ASSIGN_OR_RETURN(e->otherwise, ParseExpr());
    }
    SLUICE_RETURN_IF_ERROR(ExpectWord("end"));
    return ExprPtr(std::move(e));
  }

  std::string_view sql_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

Result<std::vector<StatementPtr>> Parse(std::string_view sql) {
  if (sql.size() > kMaxQueryBytes) {
    return Status::TooLarge(fmt::format("query text is {} bytes; the limit is {}", sql.size(), kMaxQueryBytes));
  }
  SLUICE_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(sql));
  return Parser(sql, std::move(tokens)).ParseStatements();
}

Result<StatementPtr> ParseOne(std::string_view sql) {
  SLUICE_ASSIGN_OR_RETURN(std::vector<StatementPtr> statements, Parse(sql));
  if (statements.empty()) return Status::InvalidArgument("no statement given");
  if (statements.size() > 1) {
    return Status::InvalidArgument(
        fmt::format("expected one statement, found {}", statements.size()));
  }
  return std::move(statements[0]);
}

}  // namespace sluice::sql
