#include "server/pgwire/query_text.h"

#include <gtest/gtest.h>

namespace sluice::server::pgwire {
namespace {

std::vector<std::string> Pieces(std::string_view text) {
  std::vector<std::string> out;
  for (const StatementSpan& s : SplitStatements(text)) out.emplace_back(text.substr(s.offset, s.length));
  return out;
}

TEST(QueryText, SplitsOnSemicolonsOutsideQuotes) {
  EXPECT_EQ(Pieces("SELECT 1; SELECT 2;"), (std::vector<std::string>{"SELECT 1", "SELECT 2"}));
  EXPECT_EQ(Pieces("SELECT ';'; SELECT \"a;b\" -- c;d\n; SELECT $$x;y$$; SELECT /* ; /* ; */ */ 3"),
            (std::vector<std::string>{"SELECT ';'", "SELECT \"a;b\" -- c;d", "SELECT $$x;y$$",
                                      "SELECT /* ; /* ; */ */ 3"}));
  EXPECT_EQ(Pieces("SELECT E'\\';'; SELECT 2"), (std::vector<std::string>{"SELECT E'\\';'", "SELECT 2"}));
  EXPECT_TRUE(Pieces("  ;  -- only a comment\n ; /* x */").empty());
  EXPECT_EQ(Pieces("SELECT 'unterminated; SELECT 2"), (std::vector<std::string>{"SELECT 'unterminated; SELECT 2"}));
}

TEST(QueryText, Parameters) {
  EXPECT_EQ(*MaxParameterIndex("SELECT $1 + $12, '$3', \"$4\", a$5"), 12u);
  EXPECT_FALSE(MaxParameterIndex("SELECT $0").ok());
  EXPECT_FALSE(MaxParameterIndex("SELECT $99999999999").ok());
  EXPECT_EQ(SubstituteParameters("SELECT x-$1, '$1', $2", {"(-5)", "'a'"}), "SELECT x- (-5) , '$1',  'a' ");
}

TEST(QueryText, WordsAndPositions) {
  EXPECT_EQ(FirstKeyword("  /* c */ Select 1"), "select");
  EXPECT_EQ(Words("SET search_path = 'x'", 5), (std::vector<std::string>{"set", "search_path"}));
  EXPECT_EQ(CharacterPosition("héllo", 3), 3);  // 'l' after the two-byte é
  EXPECT_EQ(ByteOffsetOf("ab\ncd", 2, 2), 4u);
  const std::string whole = "SELECT 1;\n  SELECT x";
  const auto spans = SplitStatements(whole);
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(PlaceAtOriginalPosition(whole, spans[1]), "\n  SELECT x");
}

}  // namespace
}  // namespace sluice::server::pgwire
