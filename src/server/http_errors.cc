#include "server/http_errors.h"

#include "common/json_writer.h"

namespace sluice::server {

HttpErrorMapping MapStatus(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
      return {400, 0};
    case StatusCode::kNotFound:
      return {404, 0};
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return {409, 0};
    case StatusCode::kTooLarge:
      return {413, 0};
    case StatusCode::kResourceExhausted:
      return {429, 1};
    case StatusCode::kNoSpace:
      return {503, 5};
    case StatusCode::kUnavailable:
      return {503, 1};
    case StatusCode::kOk:
    case StatusCode::kCorruption:
    case StatusCode::kIOError:
    case StatusCode::kInternal:
      break;
  }
  return {500, 0};
}

HttpResponse ErrorResponse(unsigned status, std::string_view code, std::string_view message) {
  HttpResponse response;
  response.status = status;
  JsonWriter json(&response.body);
  json.BeginObject().Key("error").BeginObject();
  json.Key("code").String(code).Key("message").String(message);
  json.EndObject().EndObject();
  return response;
}

HttpResponse ErrorResponse(const Status& status) {
  const HttpErrorMapping mapping = MapStatus(status.code());
  HttpResponse response =
      ErrorResponse(mapping.status, StatusCodeName(status.code()), status.message());
  if (mapping.retry_after_seconds > 0) {
    response.headers.emplace_back("Retry-After", std::to_string(mapping.retry_after_seconds));
  }
  return response;
}

}  // namespace sluice::server
