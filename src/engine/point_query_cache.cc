#include "engine/point_query_cache.h"

#include <charconv>

#include "exec/cast.h"
#include "sql/lexer.h"

namespace sluice::engine {

namespace {

bool IsLiteral(sql::TokenKind k) {
  return k == sql::TokenKind::kInteger || k == sql::TokenKind::kString || k == sql::TokenKind::kDecimal;
}

}  // namespace

std::optional<PointQueryShape> PointQueryShape::Of(std::string_view text) {
  // A key is about as long as its text: long texts (and anything but a SELECT) are not kept.
  if (text.size() > kMaxTextBytes) return std::nullopt;
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || text.size() - first < 6) return std::nullopt;
  for (size_t i = 0; i < 6; ++i) {
    if ((text[first + i] | 0x20) != "select"[i]) return std::nullopt;
  }
  Result<std::vector<sql::Token>> tokens = sql::Tokenize(text);
  if (!tokens.ok()) return std::nullopt;
  const std::vector<sql::Token>& t = *tokens;
  std::optional<size_t> literal;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i].kind == sql::TokenKind::kParam) return std::nullopt;
    if (!IsLiteral(t[i].kind)) continue;
    if (literal || t[i].kind == sql::TokenKind::kDecimal) return std::nullopt;
    literal = i;
  }
  if (!literal || *literal == 0 || t[*literal - 1].kind != sql::TokenKind::kEq) return std::nullopt;
  const sql::TokenKind next = *literal + 1 < t.size() ? t[*literal + 1].kind : sql::TokenKind::kEnd;
  if (next != sql::TokenKind::kEnd && next != sql::TokenKind::kSemicolon &&
      !(next == sql::TokenKind::kIdentifier && !t[*literal + 1].quoted)) {
    return std::nullopt;  // `k = 42::int`, `k = 42 + x`: not the literal alone
  }
  PointQueryShape shape;
  shape.integer = t[*literal].kind == sql::TokenKind::kInteger;
  shape.literal = t[*literal].value;
  // Each token as its kind, a quoted mark, and its text prefixed by its length: a quoted
  // identifier may hold any byte, so no separator could tell tokens apart.
  for (size_t i = 0; i < t.size(); ++i) {
    const sql::Token& token = t[i];
    shape.key.push_back(static_cast<char>('A' + static_cast<int>(token.kind)));
    if (i == *literal) continue;  // the marker (the kind) alone
    const bool identifier = token.kind == sql::TokenKind::kIdentifier;
    const std::string_view value = identifier ? std::string_view(token.value) : token.text;
    if (identifier && token.quoted) shape.key.push_back('"');
    shape.key.append(std::to_string(value.size()));
    shape.key.push_back(':');
    shape.key.append(value);
  }
  return shape;
}

std::optional<sql::Value> PointQueryShape::LiteralAs(const sql::DataType& type) const {
  sql::Value v;
  if (integer) {
    int64_t n = 0;
    const auto [ptr, ec] = std::from_chars(literal.data(), literal.data() + literal.size(), n);
    if (ec != std::errc() || ptr != literal.data() + literal.size()) return std::nullopt;
    v = sql::Value::Bigint(n);
  } else {
    v = sql::Value::Varchar(literal);
  }
  if (v.type() == type) return v;
  Result<sql::Value> cast = exec::CastValue(v, type);
  if (!cast.ok() || cast->type() != type || cast->is_null()) return std::nullopt;
  return std::move(cast).value();
}

std::shared_ptr<const PointQueryPlan> PointQueryCache::Find(const std::string& key, uint64_t catalog_generation) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = plans_.find(key);
  if (it == plans_.end() || it->second->catalog_generation != catalog_generation) return nullptr;
  return it->second;
}

void PointQueryCache::Insert(const std::string& key, PointQueryPlan plan) {
  auto shared = std::make_shared<const PointQueryPlan>(std::move(plan));
  std::lock_guard<std::mutex> lock(mu_);
  if (plans_.size() >= capacity_ && !plans_.contains(key)) plans_.clear();
  plans_[key] = std::move(shared);
}

size_t PointQueryCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return plans_.size();
}

}  // namespace sluice::engine
