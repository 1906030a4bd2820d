#include "engine/event_splitter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::engine {
namespace {

class EventSplitterTest : public ::testing::Test {
 protected:
  Status Split(std::string body, BodyFormat format = BodyFormat::kAuto,
               std::string_view key_field = {}, size_t max_event_bytes = 1 << 20) {
    body_ = std::make_unique<PaddedBody>(std::move(body));
    SplitOptions options{
        .format = format, .max_event_bytes = max_event_bytes, .key_field = key_field};
    return splitter_.Split(*body_, options, &events_);
  }
  std::vector<std::string> Texts() const {
    std::vector<std::string> out;
    for (const SplitEvent& e : events_) out.emplace_back(e.text);
    return out;
  }
  int Accepted() const {
    int n = 0;
    for (const SplitEvent& e : events_) n += e.accepted() ? 1 : 0;
    return n;
  }

  EventSplitter splitter_;
  std::unique_ptr<PaddedBody> body_;
  std::vector<SplitEvent> events_;
};

TEST_F(EventSplitterTest, NdjsonWithBlankLinesAndCrlf) {
  ASSERT_TRUE(Split("{\"a\":1}\r\n\r\n  \n{\"b\": 2}\n\n{\"c\":3}", BodyFormat::kNdjson).ok());
  ASSERT_EQ(events_.size(), 3u);
  EXPECT_EQ(Texts(), (std::vector<std::string>{"{\"a\":1}", "{\"b\": 2}", "{\"c\":3}"}));
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(events_[i].accepted());
    EXPECT_EQ(events_[i].index, i);
  }
}

TEST_F(EventSplitterTest, AutoDetectsNdjson) {
  ASSERT_TRUE(Split("{\"a\":1}\n{\"b\":2}\n").ok());
  EXPECT_EQ(Texts(), (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"}));
}

TEST_F(EventSplitterTest, ArrayElementsAreMinified) {
  ASSERT_TRUE(Split("  [ {\"a\": [1, 2], \"s\": \"x, ]\\\" }\"},\n {\"b\" : {}} ]  ").ok());
  EXPECT_EQ(Texts(),
            (std::vector<std::string>{"{\"a\":[1,2],\"s\":\"x, ]\\\" }\"}", "{\"b\":{}}"}));
  EXPECT_EQ(Accepted(), 2);
}

TEST_F(EventSplitterTest, EmptyArrayHasNoEvents) {
  ASSERT_TRUE(Split("[]").ok());
  EXPECT_TRUE(events_.empty());
}

TEST_F(EventSplitterTest, ArrayWithNonObjectsRejectsThemIndividually) {
  ASSERT_TRUE(Split("[{\"a\":1}, 42, \"s\", [1], null, true, {\"b\":2}]", BodyFormat::kJson).ok());
  ASSERT_EQ(events_.size(), 7u);
  EXPECT_TRUE(events_[0].accepted());
  EXPECT_EQ(events_[1].error, "not a JSON object (got a number)");
  EXPECT_EQ(events_[1].text, "42");
  EXPECT_EQ(events_[2].error, "not a JSON object (got a string)");
  EXPECT_EQ(events_[3].error, "not a JSON object (got an array)");
  EXPECT_EQ(events_[4].error, "not a JSON object (got null)");
  EXPECT_EQ(events_[5].error, "not a JSON object (got a boolean)");
  EXPECT_TRUE(events_[6].accepted());
  EXPECT_EQ(events_[6].index, 6);
}

TEST_F(EventSplitterTest, SingleObject) {
  ASSERT_TRUE(Split("{\"a\":1}").ok());
  EXPECT_EQ(Texts(), (std::vector<std::string>{"{\"a\":1}"}));
}

TEST_F(EventSplitterTest, PrettyPrintedSingleObjectIsOneMinifiedEvent) {
  ASSERT_TRUE(Split("{\n  \"a\": 1,\n  \"b\": {\n    \"c\": \"d e\"\n  }\n}\n").ok());
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_TRUE(events_[0].accepted());
  EXPECT_EQ(events_[0].text, "{\"a\":1,\"b\":{\"c\":\"d e\"}}");
}

TEST_F(EventSplitterTest, InvalidLineAmongValidOnes) {
  ASSERT_TRUE(Split("{\"a\":1}\n{\"a\":\n{\"a\":3}\n").ok());
  ASSERT_EQ(events_.size(), 3u);
  EXPECT_TRUE(events_[0].accepted());
  EXPECT_FALSE(events_[1].accepted());
  EXPECT_EQ(events_[1].index, 1);
  EXPECT_EQ(events_[1].text, "{\"a\":");
  EXPECT_NE(events_[1].error.find("invalid JSON"), std::string_view::npos);
  EXPECT_TRUE(events_[2].accepted());
}

TEST_F(EventSplitterTest, NonObjectLines) {
  ASSERT_TRUE(Split("1\n\"s\"\n[1,2]\nnull\n{}\n", BodyFormat::kNdjson).ok());
  ASSERT_EQ(events_.size(), 5u);
  EXPECT_EQ(events_[0].error, "not a JSON object (got a number)");
  EXPECT_EQ(events_[1].error, "not a JSON object (got a string)");
  EXPECT_EQ(events_[2].error, "not a JSON object (got an array)");
  EXPECT_EQ(events_[3].error, "not a JSON object (got null)");
  EXPECT_TRUE(events_[4].accepted());
}

TEST_F(EventSplitterTest, SingleNonObjectIsRejectedNotSplitError) {
  ASSERT_TRUE(Split("42").ok());
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].error, "not a JSON object (got a number)");
}

TEST_F(EventSplitterTest, InvalidUtf8) {
  ASSERT_TRUE(Split("{\"a\":\"\xff\xfe\"}\n{\"ok\":true}\n").ok());
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[0].error, "invalid UTF-8");
  EXPECT_EQ(events_[0].text, "{\"a\":\"\xff\xfe\"}");
  EXPECT_TRUE(events_[1].accepted());
}

TEST_F(EventSplitterTest, DeepNestingIsRejectedWithClearMessage) {
  std::string deep = "{\"a\":" + std::string(10000, '[') + std::string(10000, ']') + "}";
  ASSERT_TRUE(Split(deep + "\n{\"b\":1}\n").ok());
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[0].error, "nesting deeper than 1024 levels");
  EXPECT_TRUE(events_[1].accepted());
}

TEST_F(EventSplitterTest, DeepNestingInsideArrayBodyCannotBeSplit) {
  std::string deep = "[" + std::string(10000, '[') + std::string(10000, ']') + "]";
  Status s = Split(deep);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("nesting deeper than 1024 levels"), std::string::npos);
}

TEST_F(EventSplitterTest, OversizedEventRejectedIndividually) {
  std::string big = "{\"a\":\"" + std::string(100, 'x') + "\"}";
  ASSERT_TRUE(Split(big + "\n{\"b\":1}\n", BodyFormat::kNdjson, {}, 64).ok());
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[0].error, "event larger than 64 bytes");
  EXPECT_TRUE(events_[1].accepted());

  ASSERT_TRUE(Split("[" + big + ",{\"b\":1}]", BodyFormat::kJson, {}, 64).ok());
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[0].error, "event larger than 64 bytes");
  EXPECT_TRUE(events_[1].accepted());
}

TEST_F(EventSplitterTest, EmptyAndWhitespaceBodies) {
  EXPECT_EQ(Split("").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Split("").message(), "empty body");
  EXPECT_EQ(Split(" \r\n\t\n ").message(), "empty body");
  EXPECT_EQ(Split("\n\n", BodyFormat::kNdjson).message(), "empty body");
}

TEST_F(EventSplitterTest, TruncatedArrayCannotBeSplit) {
  Status s = Split("[{\"a\":1},{\"b\":");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("not a valid JSON array"), std::string::npos);
}

TEST_F(EventSplitterTest, ExtractsKeys) {
  ASSERT_TRUE(Split("{\"id\":\"u1\"}\n{\"id\":42}\n{\"id\":-7}\n{\"id\":true}\n{\"id\":null}\n"
                    "{\"other\":1}\n{\"id\":1.5}\n{\"id\":\"caf\\u00e9\"}\n",
                    BodyFormat::kNdjson, "id")
                  .ok());
  ASSERT_EQ(events_.size(), 8u);
  EXPECT_EQ(splitter_.key(events_[0]), "u1");
  EXPECT_EQ(splitter_.key(events_[1]), "42");
  EXPECT_EQ(splitter_.key(events_[2]), "-7");
  EXPECT_EQ(splitter_.key(events_[3]), "true");
  EXPECT_FALSE(events_[4].has_key());
  EXPECT_FALSE(events_[5].has_key());
  EXPECT_EQ(splitter_.key(events_[6]), "1.5");
  EXPECT_EQ(splitter_.key(events_[7]), "caf\xc3\xa9");
}

TEST_F(EventSplitterTest, SplitterIsReusable) {
  ASSERT_TRUE(Split("[{\"a\":1}]").ok());
  ASSERT_TRUE(Split("{\"b\":2}\n{\"c\":3}").ok());
  EXPECT_EQ(Texts(), (std::vector<std::string>{"{\"b\":2}", "{\"c\":3}"}));
}

TEST_F(EventSplitterTest, MultiLineNdjsonWithLastLineUnterminated) {
  ASSERT_TRUE(Split("{\"a\":1}\n{\"b\":2}", BodyFormat::kNdjson).ok());
  EXPECT_EQ(Texts(), (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"}));
}

}  // namespace
}  // namespace sluice::engine
