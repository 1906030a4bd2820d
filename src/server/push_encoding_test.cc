#include "server/push_encoding.h"

#include <gtest/gtest.h>

namespace sluice::server {
namespace {

TEST(PushEncodingTest, EventIdsRoundTrip) {
  EXPECT_EQ(FormatEventId("00ab12", 42), "00ab12-42");
  auto id = ParseEventId("00ab12-42");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->first, "00ab12");
  EXPECT_EQ(id->second, 42u);
  for (std::string_view bad : {"", "42", "-42", "abc-", "abc-4x", "abc-99999999999999999999999"}) {
    EXPECT_FALSE(ParseEventId(bad).has_value()) << bad;
  }
}

TEST(PushEncodingTest, SseEventFraming) {
  EXPECT_EQ(SseEvent("s-1", "snapshot", R"({"a":1})"),
            "id: s-1\nevent: snapshot\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(SseEvent("", "", "{}"), "data: {}\n\n");
}

TEST(PushEncodingTest, SubscribeRequestFromQuery) {
  auto target = ParseRequestTarget("/v1/subscribe?view=page_views&last_event_id=ab-3");
  ASSERT_TRUE(target.ok());
  auto r = SubscribeRequestFromTarget(*target, "");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->view, "page_views");
  ASSERT_TRUE(r->resume_after.has_value());
  EXPECT_EQ(r->resume_after->second, 3u);
  // The header wins over the parameter.
  r = SubscribeRequestFromTarget(*target, "cd-9");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->resume_after->first, "cd");

  for (std::string_view bad : {"/v1/subscribe", "/v1/subscribe?view=a&sql=SELECT%201",
                               "/v1/subscribe?view=", "/v1/subscribe?view=a&last_event_id=nope"}) {
    auto t = ParseRequestTarget(bad);
    ASSERT_TRUE(t.ok());
    auto bad_request = SubscribeRequestFromTarget(*t, "");
    EXPECT_EQ(bad_request.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(PushEncodingTest, SubscribeRequestFromJson) {
  auto r = SubscribeRequestFromJson(R"({"subscribe": "v", "last_event_id": "x-1"})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->view, "v");
  r = SubscribeRequestFromJson(R"({"sql": "SELECT a FROM v WHERE a > 1"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->sql, "SELECT a FROM v WHERE a > 1");
  for (std::string_view bad :
       {"", "nope", "[1]", R"({"subscribe": 1})", R"({"subscribe": "v", "sql": "x"})",
        R"({"other": "v"})", R"({})", R"({"subscribe": ""})"}) {
    EXPECT_EQ(SubscribeRequestFromJson(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(PushEncodingTest, EndAndErrorMessages) {
  EXPECT_EQ(
      EncodeEnd(Status::NotFound("materialized view \"v\" was dropped")),
      R"({"type":"end","error":{"code":"not_found","message":"materialized view \"v\" was dropped"}})");
  EXPECT_EQ(EncodeError(Status::InvalidArgument("bad")),
            R"({"type":"error","error":{"code":"invalid_argument","message":"bad"}})");
}

}  // namespace
}  // namespace sluice::server
