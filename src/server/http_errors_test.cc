#include "server/http_errors.h"

#include <gtest/gtest.h>

namespace sluice::server {
namespace {

TEST(HttpErrorsTest, MapsEveryStatusCode) {
  EXPECT_EQ(MapStatus(StatusCode::kInvalidArgument).status, 400u);
  EXPECT_EQ(MapStatus(StatusCode::kOutOfRange).status, 400u);
  EXPECT_EQ(MapStatus(StatusCode::kNotFound).status, 404u);
  EXPECT_EQ(MapStatus(StatusCode::kAlreadyExists).status, 409u);
  EXPECT_EQ(MapStatus(StatusCode::kFailedPrecondition).status, 409u);
  EXPECT_EQ(MapStatus(StatusCode::kTooLarge).status, 413u);
  EXPECT_EQ(MapStatus(StatusCode::kResourceExhausted).status, 429u);
  EXPECT_EQ(MapStatus(StatusCode::kResourceExhausted).retry_after_seconds, 1);
  EXPECT_EQ(MapStatus(StatusCode::kNoSpace).status, 503u);
  EXPECT_EQ(MapStatus(StatusCode::kNoSpace).retry_after_seconds, 5);
  EXPECT_EQ(MapStatus(StatusCode::kUnavailable).status, 503u);
  EXPECT_EQ(MapStatus(StatusCode::kUnavailable).retry_after_seconds, 1);
  EXPECT_EQ(MapStatus(StatusCode::kCorruption).status, 500u);
  EXPECT_EQ(MapStatus(StatusCode::kIOError).status, 500u);
  EXPECT_EQ(MapStatus(StatusCode::kInternal).status, 500u);
}

TEST(HttpErrorsTest, ErrorBodyAndRetryAfter) {
  HttpResponse r = ErrorResponse(Status::ResourceExhausted("too much \"unsynced\" data"));
  EXPECT_EQ(r.status, 429u);
  EXPECT_EQ(r.body,
            "{\"error\":{\"code\":\"resource_exhausted\",\"message\":\"too much \\\"unsynced\\\" "
            "data\"}}");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Retry-After");
  EXPECT_EQ(r.headers[0].second, "1");
  EXPECT_TRUE(ErrorResponse(Status::NotFound("x")).headers.empty());
}

}  // namespace
}  // namespace sluice::server
