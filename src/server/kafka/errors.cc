#include "server/kafka/errors.h"

namespace sluice::server::kafka {

ErrorCode ErrorCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk: return ErrorCode::kNone;
    case StatusCode::kNotFound: return ErrorCode::kUnknownTopicOrPartition;
    case StatusCode::kAlreadyExists: return ErrorCode::kTopicAlreadyExists;
    case StatusCode::kInvalidArgument: return ErrorCode::kInvalidRequest;
    case StatusCode::kOutOfRange: return ErrorCode::kOffsetOutOfRange;
    case StatusCode::kCorruption: return ErrorCode::kCorruptMessage;
    case StatusCode::kTooLarge: return ErrorCode::kMessageTooLarge;
    case StatusCode::kResourceExhausted: return ErrorCode::kRequestTimedOut;  // retriable: back off
    case StatusCode::kNoSpace:
    case StatusCode::kIOError:
    case StatusCode::kUnavailable: return ErrorCode::kKafkaStorageError;  // retriable
    case StatusCode::kFailedPrecondition:
    case StatusCode::kInternal: return ErrorCode::kUnknownServerError;
  }
  return ErrorCode::kUnknownServerError;
}

}  // namespace sluice::server::kafka
