#include "sql/lexer.h"

#include <cctype>

#include <fmt/format.h>

namespace sluice::sql {

std::string_view TokenKindName(TokenKind kind) {
  switch (kind) {
    case TokenKind::kEnd: return "end of input";
    case TokenKind::kIdentifier: return "identifier";
    case TokenKind::kInteger: return "integer";
    case TokenKind::kDecimal: return "number";
    case TokenKind::kString: return "string";
    case TokenKind::kLParen: return "'('";
    case TokenKind::kRParen: return "')'";
    case TokenKind::kComma: return "','";
    case TokenKind::kDot: return "'.'";
    case TokenKind::kSemicolon: return "';'";
    case TokenKind::kLBracket: return "'['";
    case TokenKind::kRBracket: return "']'";
    case TokenKind::kPlus: return "'+'";
    case TokenKind::kMinus: return "'-'";
    case TokenKind::kStar: return "'*'";
    case TokenKind::kSlash: return "'/'";
    case TokenKind::kPercent: return "'%'";
    case TokenKind::kConcat: return "'||'";
    case TokenKind::kEq: return "'='";
    case TokenKind::kNotEq: return "'<>'";
    case TokenKind::kLt: return "'<'";
    case TokenKind::kLtEq: return "'<='";
    case TokenKind::kGt: return "'>'";
    case TokenKind::kGtEq: return "'>='";
    case TokenKind::kCast: return "'::'";
    case TokenKind::kParam: return "parameter";
  }
  return "token";
}

SourcePos PositionOf(std::string_view text, size_t offset) {
  SourcePos pos;
  pos.offset = static_cast<uint32_t>(offset);
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++pos.line;
      pos.column = 1;
    } else {
      ++pos.column;
    }
  }
  return pos;
}

namespace {

bool IsIdentStart(unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80; }
bool IsIdentChar(unsigned char c) { return std::isalnum(c) || c == '_' || c == '$' || c >= 0x80; }

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  Result<std::vector<Token>> Run() {
    std::vector<Token> tokens;
    while (true) {
      SLUICE_RETURN_IF_ERROR(SkipSpaceAndComments());
      Token t;
      t.pos = Here();
      if (i_ >= text_.size()) {
        t.kind = TokenKind::kEnd;
        tokens.push_back(std::move(t));
        return tokens;
      }
      SLUICE_RETURN_IF_ERROR(Next(&t));
      tokens.push_back(std::move(t));
    }
  }

 private:
  SourcePos Here() {
    // Incremental line/column tracking: advance from the last computed point.
    while (line_scan_ < i_) {
      if (text_[line_scan_] == '\n') {
        ++line_;
        col_ = 1;
      } else {
        ++col_;
      }
      ++line_scan_;
    }
    return SourcePos{static_cast<uint32_t>(i_), line_, col_};
  }

  Status Error(size_t at, std::string_view what) {
    SourcePos p = PositionOf(text_, at);
    return Status::InvalidArgument(fmt::format("syntax error at line {}, column {}: {}", p.line, p.column, what));
  }

  Status SkipSpaceAndComments() {
    while (i_ < text_.size()) {
      unsigned char c = static_cast<unsigned char>(text_[i_]);
      if (std::isspace(c)) {
        ++i_;
      } else if (c == '-' && i_ + 1 < text_.size() && text_[i_ + 1] == '-') {
        while (i_ < text_.size() && text_[i_] != '\n') ++i_;
      } else if (c == '/' && i_ + 1 < text_.size() && text_[i_ + 1] == '*') {
        size_t start = i_;
        size_t end = text_.find("*/", i_ + 2);
        if (end == std::string_view::npos) return Error(start, "unterminated /* comment");
        i_ = end + 2;
      } else {
        break;
      }
    }
    return Status::Ok();
  }

  Status Next(Token* t) {
    const size_t start = i_;
    unsigned char c = static_cast<unsigned char>(text_[i_]);
    auto single = [&](TokenKind kind, size_t len = 1) {
      t->kind = kind;
      i_ += len;
      t->text = text_.substr(start, len);
      return Status::Ok();
    };
    auto peek = [&](size_t ahead) -> char { return i_ + ahead < text_.size() ? text_[i_ + ahead] : '\0'; };

    if (IsIdentStart(c)) {
      while (i_ < text_.size() && IsIdentChar(static_cast<unsigned char>(text_[i_]))) ++i_;
      t->kind = TokenKind::kIdentifier;
      t->text = text_.substr(start, i_ - start);
      t->value.reserve(t->text.size());
      for (char ch : t->text) t->value.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
      return Status::Ok();
    }
    if (std::isdigit(c) || (c == '.' && std::isdigit(static_cast<unsigned char>(peek(1))))) {
      bool decimal = false;
      while (i_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[i_]))) ++i_;
      if (peek(0) == '.') {
        decimal = true;
        ++i_;
        while (i_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[i_]))) ++i_;
      }
      if (peek(0) == 'e' || peek(0) == 'E') {
        size_t save = i_;
        ++i_;
        if (peek(0) == '+' || peek(0) == '-') ++i_;
        if (std::isdigit(static_cast<unsigned char>(peek(0)))) {
          decimal = true;
          while (i_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[i_]))) ++i_;
        } else {
          i_ = save;
        }
      }
      if (i_ < text_.size() && IsIdentStart(static_cast<unsigned char>(text_[i_]))) {
        return Error(start, fmt::format("invalid number '{}'", text_.substr(start, i_ - start + 1)));
      }
      t->kind = decimal ? TokenKind::kDecimal : TokenKind::kInteger;
      t->text = text_.substr(start, i_ - start);
      t->value = std::string(t->text);
      return Status::Ok();
    }
    if (c == '\'' || ((c == 'E' || c == 'e') && peek(1) == '\'')) {
      if (c != '\'') ++i_;
      ++i_;
      std::string value;
      while (true) {
        if (i_ >= text_.size()) return Error(start, "unterminated string literal");
        char ch = text_[i_++];
        if (ch == '\'') {
          if (peek(0) == '\'') {
            value.push_back('\'');
            ++i_;
            continue;
          }
          break;
        }
        value.push_back(ch);
      }
      t->kind = TokenKind::kString;
      t->text = text_.substr(start, i_ - start);
      t->value = std::move(value);
      return Status::Ok();
    }
    if (c == '"') {
      ++i_;
      std::string value;
      while (true) {
        if (i_ >= text_.size()) return Error(start, "unterminated quoted identifier");
        char ch = text_[i_++];
        if (ch == '"') {
          if (peek(0) == '"') {
            value.push_back('"');
            ++i_;
            continue;
          }
          break;
        }
        value.push_back(ch);
      }
      if (value.empty()) return Error(start, "empty quoted identifier");
      t->kind = TokenKind::kIdentifier;
      t->quoted = true;
      t->text = text_.substr(start, i_ - start);
      t->value = std::move(value);
      return Status::Ok();
    }
    if (c == '$' && std::isdigit(static_cast<unsigned char>(peek(1)))) {
      ++i_;
      while (i_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[i_]))) ++i_;
      t->kind = TokenKind::kParam;
      t->text = text_.substr(start, i_ - start);
      t->value = std::string(t->text.substr(1));
      return Status::Ok();
    }
    switch (c) {
      case '(': return single(TokenKind::kLParen);
      case ')': return single(TokenKind::kRParen);
      case ',': return single(TokenKind::kComma);
      case '.': return single(TokenKind::kDot);
      case ';': return single(TokenKind::kSemicolon);
      case '[': return single(TokenKind::kLBracket);
      case ']': return single(TokenKind::kRBracket);
      case '+': return single(TokenKind::kPlus);
      case '-': return single(TokenKind::kMinus);
      case '*': return single(TokenKind::kStar);
      case '/': return single(TokenKind::kSlash);
      case '%': return single(TokenKind::kPercent);
      case '=': return single(TokenKind::kEq);
      case '|':
        if (peek(1) == '|') return single(TokenKind::kConcat, 2);
        break;
      case ':':
        if (peek(1) == ':') return single(TokenKind::kCast, 2);
        break;
      case '!':
        if (peek(1) == '=') return single(TokenKind::kNotEq, 2);
        break;
      case '<':
        if (peek(1) == '=') return single(TokenKind::kLtEq, 2);
        if (peek(1) == '>') return single(TokenKind::kNotEq, 2);
        return single(TokenKind::kLt);
      case '>':
        if (peek(1) == '=') return single(TokenKind::kGtEq, 2);
        return single(TokenKind::kGt);
      default:
        break;
    }
    if (c < 0x20 || c == 0x7f) return Error(start, fmt::format("unexpected control character 0x{:02x}", c));
    return Error(start, fmt::format("unexpected character '{}'", static_cast<char>(c)));
  }

  std::string_view text_;
  size_t i_ = 0;
  size_t line_scan_ = 0;
  uint32_t line_ = 1;
  uint32_t col_ = 1;
};

}  // namespace

Result<std::vector<Token>> Tokenize(std::string_view text) { return Lexer(text).Run(); }

}  // namespace sluice::sql
