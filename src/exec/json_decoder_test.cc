#include "exec/json_decoder.h"

#include <gtest/gtest.h>

namespace sluice::exec {
namespace {

std::vector<ColumnSpec> Columns() {
  return {{"id", DataType::Bigint()},      {"n", DataType::Int()},
          {"price", DataType::Decimal(10, 2)}, {"ratio", DataType::Double()},
          {"name", DataType::Varchar()},   {"ok", DataType::Boolean()},
          {"ts", DataType::Timestamp()},   {"day", DataType::Date()}};
}

std::vector<DataType> Types(const std::vector<ColumnSpec>& cols) {
  std::vector<DataType> types;
  for (const auto& c : cols) types.push_back(c.type);
  return types;
}

TEST(JsonDecoderTest, DecodesAndCastsDeclaredFields) {
  JsonDecoder decoder(Columns());
  DataChunk chunk(Types(decoder.columns()), 16);
  std::string json = R"({"id": 7, "n": "12", "price": 19.999, "ratio": 2, "name": "caf\u00e9", "ok": true,
                          "ts": "2026-11-21T22:40:01.123456Z", "day": "2026-11-21", "ignored": {"x": [1, 2]}})";
  ASSERT_TRUE(decoder.DecodeInto(json, json.size(), &chunk).ok());
  ASSERT_EQ(chunk.size(), 1u);
  EXPECT_EQ(chunk.column(0).data<int64_t>()[0], 7);
  EXPECT_EQ(chunk.column(1).data<int32_t>()[0], 12);
  EXPECT_EQ(chunk.column(2).data<int64_t>()[0], 2000);  // 19.999 rounds to 20.00
  EXPECT_EQ(chunk.column(3).data<double>()[0], 2.0);
  EXPECT_EQ(chunk.column(4).data<StringRef>()[0].view(), "caf\xc3\xa9");
  EXPECT_EQ(chunk.column(5).data<uint8_t>()[0], 1);
  EXPECT_EQ(chunk.column(6).data<int64_t>()[0], 1'795'300'801'123'456LL);
  EXPECT_EQ(chunk.column(7).data<int32_t>()[0], 20'778);
}

TEST(JsonDecoderTest, MissingAndNullFieldsAreNull) {
  JsonDecoder decoder(Columns());
  DataChunk chunk(Types(decoder.columns()), 16);
  std::string json = R"({"id": 1, "name": null})";
  ASSERT_TRUE(decoder.DecodeInto(json, json.size(), &chunk).ok());
  EXPECT_FALSE(chunk.column(0).IsNull(0));
  for (size_t c = 1; c < chunk.column_count(); ++c) EXPECT_TRUE(chunk.column(c).IsNull(0)) << c;
}

TEST(JsonDecoderTest, EpochMillisAndCaseInsensitiveNames) {
  JsonDecoder decoder({{"ts", DataType::Timestamp()}, {"user_id", DataType::Bigint()}});
  DataChunk chunk(Types(decoder.columns()), 4);
  std::string json = R"({"TS": 1700000000123, "User_Id": 5})";
  ASSERT_TRUE(decoder.DecodeInto(json, json.size(), &chunk).ok());
  EXPECT_EQ(chunk.column(0).data<int64_t>()[0], 1'700'000'000'123'000LL);
  EXPECT_EQ(chunk.column(1).data<int64_t>()[0], 5);
}

TEST(JsonDecoderTest, NonScalarsBecomeJsonTextInVarchar) {
  JsonDecoder decoder({{"v", DataType::Varchar()}});
  DataChunk chunk(Types(decoder.columns()), 4);
  for (std::string json : {R"({"v": {"a": [1, 2]}})", R"({"v": 12.50})", R"({"v": false})"}) {
    ASSERT_TRUE(decoder.DecodeInto(json, json.size(), &chunk).ok()) << json;
  }
  EXPECT_EQ(chunk.column(0).data<StringRef>()[0].view(), R"({"a": [1, 2]})");  // the raw text
  EXPECT_EQ(chunk.column(0).data<StringRef>()[1].view(), "12.50");
  EXPECT_EQ(chunk.column(0).data<StringRef>()[2].view(), "false");
}

TEST(JsonDecoderTest, UncastableValuesRejectTheEventNamingTheColumn) {
  JsonDecoder decoder(Columns());
  DataChunk chunk(Types(decoder.columns()), 16);
  for (std::string json : {R"({"id": "seven"})", R"({"id": 1.5})", R"({"n": 3000000000})", R"({"price": 123456789.5})",
                           R"({"ok": "maybe"})", R"({"ts": "yesterday"})", R"({"id": [1]})", R"([1, 2])", R"({"id": )",
                           R"({"id": 18446744073709551615})"}) {
    Status s = decoder.DecodeInto(json, json.size(), &chunk);
    EXPECT_FALSE(s.ok()) << json;
    EXPECT_EQ(chunk.size(), 0u) << json;
  }
  std::string bad = R"({"id": "seven"})";
  EXPECT_NE(decoder.DecodeInto(bad, bad.size(), &chunk).message().find("column 'id' (BIGINT)"), std::string::npos);
  // A good event after bad ones lands in row 0 with no stale NULLs or values.
  std::string good = R"({"id": 3})";
  ASSERT_TRUE(decoder.DecodeInto(good, good.size(), &chunk).ok());
  EXPECT_EQ(chunk.size(), 1u);
  EXPECT_EQ(chunk.column(0).data<int64_t>()[0], 3);
  EXPECT_TRUE(chunk.column(1).IsNull(0));
}

TEST(JsonDecoderTest, SkippedColumnsStillRejectUncastableEvents) {
  JsonDecoder decoder({{"id", DataType::Bigint(), /*skip=*/true}, {"name", DataType::Varchar(), /*skip=*/true},
                       {"v", DataType::Bigint()}});
  DataChunk chunk(std::vector<DataType>{DataType::Bigint(), DataType::Varchar(), DataType::Bigint()}, 4);
  std::string bad = R"({"id": "seven", "v": 1})";
  EXPECT_FALSE(decoder.DecodeInto(bad, bad.size(), &chunk).ok());  // same events rejected as without skipping
  std::string good = R"({"id": 7, "name": {"any": "thing"}, "v": 1})";
  ASSERT_TRUE(decoder.DecodeInto(good, good.size(), &chunk).ok());
  EXPECT_TRUE(chunk.column(1).IsNull(0));  // the skipped VARCHAR is not materialised
  EXPECT_EQ(chunk.column(2).data<int64_t>()[0], 1);
}

// Field names are first matched against the name seen at the same position in earlier
// events; events whose fields move, are renamed, escaped or share a prefix must still land in
// the right columns.
TEST(JsonDecoderTest, FieldsMatchWhateverTheirOrder) {
  JsonDecoder decoder({{"a", DataType::Bigint()},
                       {"ab", DataType::Bigint()},
                       {"a_name_longer_than_16_bytes", DataType::Bigint()},
                       {"ts", DataType::Timestamp()}});
  DataChunk chunk(Types(decoder.columns()), 16);
  const std::vector<std::string> events = {
      R"({"a": 1, "ab": 2, "a_name_longer_than_16_bytes": 3, "ts": 4})",
      R"({"ab": 20, "a": 10, "ts": 40, "a_name_longer_than_16_bytes": 30})",
      R"({"a": 100, "ab": 200, "a_name_longer_than_16_bytes": 300, "ts": 400})",
      R"({"a\u0062": 2000, "\u0061": 1000, "x": 0, "a_name_longer_than_16_bytes_not": 9, "ts": 4000})",
      R"({"a\u0062": 20000, "\u0061": 10000, "x": 0, "a_name_longer_than_16_bytes": 30000})",
      R"({"abc": 7, "a": 5})",
  };
  for (const std::string& json : events) ASSERT_TRUE(decoder.DecodeInto(json, json.size(), &chunk).ok()) << json;
  ASSERT_EQ(chunk.size(), events.size());
  const int64_t expected[6][4] = {{1, 2, 3, 4000},         {10, 20, 30, 40000},       {100, 200, 300, 400000},
                                  {1000, 2000, -1, 4000000}, {10000, 20000, 30000, -1}, {5, -1, -1, -1}};
  for (size_t r = 0; r < events.size(); ++r) {
    for (size_t c = 0; c < 4; ++c) {
      if (expected[r][c] < 0) {
        EXPECT_TRUE(chunk.column(c).IsNull(r)) << r << "," << c;
      } else {
        ASSERT_FALSE(chunk.column(c).IsNull(r)) << r << "," << c;
        EXPECT_EQ(chunk.column(c).data<int64_t>()[r], expected[r][c]) << r << "," << c;
      }
    }
  }
}

TEST(JsonDecoderTest, IntegersThatAreNotPlainStillCast) {
  JsonDecoder decoder({{"id", DataType::Bigint()}, {"ts", DataType::Timestamp()}});
  DataChunk chunk(Types(decoder.columns()), 16);
  std::string ok = R"({"id": 3.0, "ts": "1700000000123"})";
  ASSERT_TRUE(decoder.DecodeInto(ok, ok.size(), &chunk).ok());
  EXPECT_EQ(chunk.column(0).data<int64_t>()[0], 3);
  EXPECT_EQ(chunk.column(1).data<int64_t>()[0], 1'700'000'000'123'000LL);
  std::string nulls = R"({"id": null, "ts": null})";
  ASSERT_TRUE(decoder.DecodeInto(nulls, nulls.size(), &chunk).ok());
  EXPECT_TRUE(chunk.column(0).IsNull(1));
  EXPECT_TRUE(chunk.column(1).IsNull(1));
  for (std::string bad : {R"({"id": 1.5})", R"({"id": 18446744073709551615})", R"({"id": true})", R"({"id": "x"})"}) {
    Status s = decoder.DecodeInto(bad, bad.size(), &chunk);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.message().find("'id'"), std::string::npos) << s.message();
  }
  EXPECT_EQ(chunk.size(), 2u);
}

TEST(ParseDecimalTest, ScalesRoundsAndChecksPrecision) {
  EXPECT_EQ(*ParseDecimal("12.345", 10, 2), 1235);
  EXPECT_EQ(*ParseDecimal("-12.345", 10, 2), -1235);
  EXPECT_EQ(*ParseDecimal("1e3", 10, 2), 100000);
  EXPECT_EQ(*ParseDecimal("0.004", 10, 2), 0);
  EXPECT_EQ(*ParseDecimal("99999999.99", 10, 2), 9999999999);
  EXPECT_FALSE(ParseDecimal("999999999.99", 10, 2).ok());
  EXPECT_FALSE(ParseDecimal("abc", 10, 2).ok());
  EXPECT_FALSE(ParseDecimal("1.2.3", 10, 2).ok());
  EXPECT_EQ(static_cast<int64_t>(*ParseDecimal("123456789012345678901234567.5", 38, 1) % 1000), 675);
}

TEST(StringArenaTest, ResetReusesTheFirstBlock) {
  StringArena arena;
  for (int i = 0; i < 1000; ++i) arena.Add("some text that takes space");
  size_t peak = arena.bytes_allocated();
  arena.Reset();
  EXPECT_LE(arena.bytes_allocated(), peak);
  EXPECT_EQ(arena.Add("x").view(), "x");
  std::string big(200'000, 'b');
  EXPECT_EQ(arena.Add(big).view(), big);
}

}  // namespace
}  // namespace sluice::exec
