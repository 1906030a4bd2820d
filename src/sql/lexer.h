#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace sluice::sql {

// A place in the query text, for error messages ("line 3, column 14").
struct SourcePos {
  uint32_t offset = 0;  // byte offset into the text
  uint32_t line = 1;    // 1-based
  uint32_t column = 1;  // 1-based, in bytes
};

enum class TokenKind : uint8_t {
  kEnd,
  kIdentifier,        // foo, "Foo Bar" (quoted: case kept, never a keyword)
  kInteger,           // 42
  kDecimal,           // 4.2, .5, 1e9
  kString,            // 'text' ('' is a quote)
  kLParen, kRParen, kComma, kDot, kSemicolon, kLBracket, kRBracket,
  kPlus, kMinus, kStar, kSlash, kPercent, kConcat,  // + - * / % ||
  kEq, kNotEq, kLt, kLtEq, kGt, kGtEq,              // = <> != < <= > >=
  kCast,                                            // ::
  kParam,                                           // $1
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string_view text;  // as written (a view into the query)
  std::string value;      // identifiers: folded to lower case unless quoted; strings: unescaped
  bool quoted = false;    // identifier was "quoted"
  SourcePos pos;
};

// Splits SQL text into tokens. Comments (-- to end of line, /* ... */) and white space are
// dropped. kInvalidArgument with the position on an unterminated string, quoted identifier or
// comment, or a character that starts no token.
Result<std::vector<Token>> Tokenize(std::string_view text);

std::string_view TokenKindName(TokenKind kind);

// Computes the line and column of a byte offset.
SourcePos PositionOf(std::string_view text, size_t offset);

}  // namespace sluice::sql
