#include "common/json_writer.h"

#include <gtest/gtest.h>
#include <simdjson.h>

namespace sluice {
namespace {

std::string Escaped(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

bool IsValidJson(const std::string& s) {
  simdjson::dom::parser parser;
  simdjson::dom::element element;
  return parser.parse(simdjson::padded_string(s)).get(element) == simdjson::SUCCESS;
}

TEST(JsonStringTest, EscapesSpecialCharacters) {
  EXPECT_EQ(Escaped("plain"), "\"plain\"");
  EXPECT_EQ(Escaped("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Escaped("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
  EXPECT_EQ(Escaped(std::string_view("\x00\x01\x1f", 3)), "\"\\u0000\\u0001\\u001f\"");
}

TEST(JsonStringTest, KeepsValidUtf8) {
  EXPECT_EQ(Escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

TEST(JsonStringTest, ReplacesInvalidUtf8Bytes) {
  EXPECT_EQ(Escaped("a\xff"
                    "b"),
            "\"a\\ufffdb\"");
  EXPECT_EQ(Escaped("\xc3"), "\"\\ufffd\"");                                   // truncated sequence
  EXPECT_EQ(Escaped("\xc0\xaf"), "\"\\ufffd\\ufffd\"");                        // overlong
  EXPECT_EQ(Escaped("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");             // surrogate
  EXPECT_EQ(Escaped("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  // > U+10FFFF
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  EXPECT_TRUE(IsValidJson(Escaped(all)));
}

TEST(JsonWriterTest, WritesNestedStructures) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject()
      .Key("a")
      .Int(-5)
      .Key("b")
      .BeginArray()
      .Bool(true)
      .Null()
      .String("x")
      .Raw("{\"r\":1}")
      .EndArray()
      .Key("c")
      .BeginObject()
      .EndObject()
      .Key("d")
      .BeginArray()
      .EndArray()
      .EndObject();
  EXPECT_EQ(out, "{\"a\":-5,\"b\":[true,null,\"x\",{\"r\":1}],\"c\":{},\"d\":[]}");
  EXPECT_TRUE(IsValidJson(out));
}

}  // namespace
}  // namespace sluice
