#include "cli/sql_shell.h"

#include <gtest/gtest.h>

namespace sluice::cli {
namespace {

TEST(SqlShellTest, StatementCompleteOnlyAtASemicolonOutsideQuotes) {
  EXPECT_FALSE(StatementComplete("SELECT 1"));
  EXPECT_TRUE(StatementComplete("SELECT 1;"));
  EXPECT_TRUE(StatementComplete("SELECT 1;  -- trailing comment\n"));
  EXPECT_FALSE(StatementComplete("SELECT ';"));
  EXPECT_FALSE(StatementComplete("SELECT 1 /* ; */"));
  EXPECT_TRUE(StatementComplete("SELECT 'a;b';"));
}

TEST(SqlShellTest, ParsesAndFormatsLikePsql) {
  auto tables = ParseSqlResponse(
      R"({"results":[{"columns":[{"name":"name","type":"VARCHAR"},{"name":"n","type":"BIGINT"}],)"
      R"("rows":[["bid",12],["auctions",null]],"command":"SELECT 2"},{"columns":[],"rows":[],"command":"CREATE SOURCE"}]})");
  ASSERT_TRUE(tables.ok()) << tables.status().ToString();
  ASSERT_EQ(tables->size(), 2u);
  EXPECT_EQ(FormatTable((*tables)[0]),
            "   name   | n \n"
            "----------+----\n"
            " bid      | 12\n"
            " auctions |   \n"
            "(2 rows)\n");
  EXPECT_EQ(FormatTable((*tables)[1]), "CREATE SOURCE\n");
  EXPECT_FALSE(ParseSqlResponse("not json").ok());
}

}  // namespace
}  // namespace sluice::cli
