#include "common/status.h"

#include <cerrno>

#include <gtest/gtest.h>

#include "common/result.h"
#include "common/types.h"

namespace sluice {
namespace {

TEST(StatusTest, OkHasNoMessage) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, ErrorCarriesCodeAndMessage) {
  Status s = Status::NotFound("topic 'x'");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "not_found: topic 'x'");
  EXPECT_EQ(s.WithContext("describe").message(), "describe: topic 'x'");
}

TEST(StatusTest, FromErrnoMapsDiskFullToNoSpace) {
  EXPECT_EQ(Status::FromErrno(ENOSPC, "/d/f").code(), StatusCode::kNoSpace);
  EXPECT_EQ(Status::FromErrno(EIO, "/d/f").code(), StatusCode::kIOError);
  EXPECT_NE(Status::FromErrno(EIO, "/d/f").message().find("/d/f"), std::string::npos);
}

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  SLUICE_ASSIGN_OR_RETURN(int half, Half(x));
  return Half(half);
}

TEST(ResultTest, PropagatesErrorsAndValues) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "odd");
}

TEST(StrongIntTest, ArithmeticKeepsType) {
  Offset o(10);
  Offset next = o + 5;
  EXPECT_EQ(next.value(), 15);
  EXPECT_EQ(next - o, 5);
  EXPECT_LT(o, next);
  static_assert(!std::is_convertible_v<Offset, PartitionId>);
  static_assert(!std::is_convertible_v<int64_t, Offset>);
}

}  // namespace
}  // namespace sluice
