#include "sql/lexer.h"

#include <gtest/gtest.h>

namespace sluice::sql {
namespace {

std::vector<TokenKind> Kinds(std::string_view sql) {
  auto tokens = Tokenize(sql);
  EXPECT_TRUE(tokens.ok()) << tokens.status().ToString();
  std::vector<TokenKind> kinds;
  for (const Token& t : *tokens) kinds.push_back(t.kind);
  return kinds;
}

TEST(LexerTest, OperatorsAndLiterals) {
  using K = TokenKind;
  EXPECT_EQ(Kinds("a <= 1.5 || 'x' :: int <> $2 != >= ;"),
            (std::vector<K>{K::kIdentifier, K::kLtEq, K::kDecimal, K::kConcat, K::kString, K::kCast, K::kIdentifier,
                            K::kNotEq, K::kParam, K::kNotEq, K::kGtEq, K::kSemicolon, K::kEnd}));
  EXPECT_EQ(Kinds("1e9 .5 42"), (std::vector<K>{K::kDecimal, K::kDecimal, K::kInteger, K::kEnd}));
}

TEST(LexerTest, IdentifiersFoldUnlessQuoted) {
  auto tokens = Tokenize("SeLeCt \"MixedCase\" \"a\"\"b\"");
  ASSERT_TRUE(tokens.ok());
  EXPECT_EQ((*tokens)[0].value, "select");
  EXPECT_FALSE((*tokens)[0].quoted);
  EXPECT_EQ((*tokens)[1].value, "MixedCase");
  EXPECT_TRUE((*tokens)[1].quoted);
  EXPECT_EQ((*tokens)[2].value, "a\"b");
}

TEST(LexerTest, StringsUnescapeQuotes) {
  auto tokens = Tokenize("'it''s'");
  ASSERT_TRUE(tokens.ok());
  EXPECT_EQ((*tokens)[0].value, "it's");
}

TEST(LexerTest, CommentsAreSkipped) {
  EXPECT_EQ(Kinds("a -- comment\n/* block\n comment */ b").size(), 3u);
}

TEST(LexerTest, PositionsAreLineAndColumn) {
  auto tokens = Tokenize("select\n  foo,\n\tbar");
  ASSERT_TRUE(tokens.ok());
  EXPECT_EQ((*tokens)[1].pos.line, 2u);
  EXPECT_EQ((*tokens)[1].pos.column, 3u);
  EXPECT_EQ((*tokens)[3].pos.line, 3u);
  EXPECT_EQ((*tokens)[3].pos.column, 2u);
}

TEST(LexerTest, ErrorsNamePosition) {
  for (const char* bad : {"'unterminated", "\"open", "/* never closed", "a # b", "12abc", "\"\""}) {
    auto tokens = Tokenize(bad);
    ASSERT_FALSE(tokens.ok()) << bad;
    EXPECT_NE(tokens.status().message().find("line 1, column"), std::string::npos) << tokens.status().message();
  }
}

}  // namespace
}  // namespace sluice::sql
