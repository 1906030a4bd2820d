#include "sql/value_codec.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace sluice::sql {
namespace {

std::vector<Value> AllKinds() {
  __int128 big = static_cast<__int128>(INT64_MAX) * 1000000 + 7;
  return {Value::Boolean(true),        Value::Boolean(false),       Value::Int(INT32_MIN),
          Value::Int(0),               Value::Bigint(INT64_MAX),    Value::Bigint(INT64_MIN),
          Value::Double(-0.5),         Value::Double(std::numeric_limits<double>::infinity()),
          Value::Decimal(big, 38, 6),  Value::Decimal(-big, 38, 6), Value::Varchar(""),
          Value::Varchar(std::string("a\0b\xff", 4)),                Value::Timestamp(-1),
          Value::Timestamptz(1767225600000000), Value::Date(-719162),
          Value::IntervalValue({-3, 40, -123456789}),               Value::Null(DataType::Decimal(10, 2)),
          Value::Null(DataType::Varchar())};
}

TEST(ValueCodecTest, RoundTripsEveryTypeAndNull) {
  std::string bytes;
  StateWriter w(&bytes);
  const std::vector<Value> values = AllKinds();
  w.Row(values);
  w.I64(INT64_MIN);
  w.U64(UINT64_MAX);
  w.Bytes("tail");
  StateReader r(bytes);
  auto row = r.Row();
  ASSERT_TRUE(row.ok()) << row.status().ToString();
  ASSERT_EQ(row->size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ((*row)[i], values[i]) << i;
    EXPECT_EQ((*row)[i].type(), values[i].type()) << i;
  }
  EXPECT_EQ(*r.I64(), INT64_MIN);
  EXPECT_EQ(*r.U64(), UINT64_MAX);
  EXPECT_EQ(*r.Bytes(), "tail");
  EXPECT_TRUE(r.done());
  // NaN does not compare equal to itself; it must still come back as NaN.
  std::string nan_bytes;
  StateWriter(&nan_bytes).Val(Value::Double(std::nan("")));
  auto nan = StateReader(nan_bytes).Val();
  ASSERT_TRUE(nan.ok());
  EXPECT_TRUE(std::isnan(nan->float64()));
}

TEST(ValueCodecTest, EveryTruncationIsAnErrorNotACrash) {
  std::string bytes;
  StateWriter(&bytes).Row(AllKinds());
  for (size_t n = 0; n < bytes.size(); ++n) {
    StateReader r(std::string_view(bytes).substr(0, n));
    auto row = r.Row();
    EXPECT_FALSE(row.ok()) << "truncated to " << n;
  }
  // Hostile input: a huge count, an unknown type id.
  std::string huge;
  StateWriter(&huge).U64(1ull << 60);
  EXPECT_FALSE(StateReader(huge).Row().ok());
  const char bad_type[] = {char(200), 0, 0, 1, 5};
  EXPECT_FALSE(StateReader(std::string_view(bad_type, sizeof(bad_type))).Val().ok());
}

}  // namespace
}  // namespace sluice::sql
