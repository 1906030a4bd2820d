#include "server/kafka/wire.h"

#include <gtest/gtest.h>

namespace sluice::server::kafka {
namespace {

TEST(WireTest, ClassicEncodingsRoundTrip) {
  std::string buf;
  WireWriter w(&buf, /*flexible=*/false);
  w.Int8(-3);
  w.Int16(-2);
  w.Int32(123456789);
  w.Int64(-9876543210);
  w.String("topic");
  w.NullableString(std::nullopt);
  w.NullableBytes(std::string_view("\x00\x01", 2));
  w.ArrayLength(-1);
  w.EmptyTaggedFields();  // no-op when not flexible
  EXPECT_EQ(buf.size(), 1u + 2 + 4 + 8 + (2 + 5) + 2 + (4 + 2) + 4);

  WireReader r(buf, false);
  EXPECT_EQ(r.Int8(), -3);
  EXPECT_EQ(r.Int16(), -2);
  EXPECT_EQ(r.Int32(), 123456789);
  EXPECT_EQ(r.Int64(), -9876543210);
  EXPECT_EQ(r.String(), "topic");
  EXPECT_FALSE(r.NullableString().has_value());
  EXPECT_EQ(*r.NullableBytes(), std::string_view("\x00\x01", 2));
  EXPECT_EQ(r.ArrayLength(), -1);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(WireTest, CompactEncodingsAndTaggedFields) {
  std::string buf;
  WireWriter w(&buf, /*flexible=*/true);
  w.String("ab");
  w.NullableString(std::nullopt);
  w.ArrayLength(3);
  w.UnsignedVarint(300);
  w.EmptyTaggedFields();
  // compact string = length + 1 as an unsigned varint
  EXPECT_EQ(buf.substr(0, 3), std::string("\x03" "ab", 3));
  EXPECT_EQ(buf[3], '\0');  // null
  EXPECT_EQ(buf[4], '\x04');
  // A tagged-field section with two fields the reader must skip.
  buf += std::string("\x02\x00\x01\x7f\x05\x02zz", 8);
  buf += std::string("\x01", 1);
  WireReader r(buf, true);
  EXPECT_EQ(r.String(), "ab");
  EXPECT_FALSE(r.NullableString().has_value());
  EXPECT_EQ(r.ArrayLength(0), 3);
  EXPECT_EQ(r.UnsignedVarint(), 300u);
  r.TaggedFields();  // the empty one written above
  r.TaggedFields();  // the two fields
  EXPECT_EQ(r.Int8(), 1);
  EXPECT_TRUE(r.ok()) << r.error();
}

TEST(WireTest, HostileLengthsFailWithoutReadingPastTheEnd) {
  // A string claiming 1000 bytes in a 4-byte buffer.
  std::string buf("\x03\xe8" "ab", 4);
  WireReader r(buf, false);
  EXPECT_EQ(r.String(), "");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  // Later reads return zero values and keep the first error.
  EXPECT_EQ(r.Int64(), 0);
  EXPECT_NE(r.error().find("ends"), std::string::npos);

  // An array count of two billion never allocates: it fails against the remaining bytes.
  std::string arr("\x7f\xff\xff\xff\x00\x00", 6);
  WireReader a(arr, false);
  EXPECT_EQ(a.ArrayLength(4), -1);
  EXPECT_FALSE(a.ok());

  // A negative length other than -1 is malformed.
  std::string neg("\xff\xfe", 2);
  WireReader n(neg, false);
  (void)n.NullableString();
  EXPECT_FALSE(n.ok());

  // A varint with too many continuation bytes.
  std::string var(6, '\xff');
  WireReader v(var, true);
  (void)v.UnsignedVarint();
  EXPECT_FALSE(v.ok());
}

}  // namespace
}  // namespace sluice::server::kafka
