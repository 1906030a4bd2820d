#pragma once

#include <string_view>

#include "common/status.h"
#include "server/pgwire/protocol.h"

namespace sluice::server::pgwire {

// The one Status -> SQLSTATE mapping of the PostgreSQL edge. Engine errors carry a Status code
// and PostgreSQL-like text; the code picks the SQLSTATE class and the text refines it
// ("division by zero" -> 22012, "column ... does not exist" -> 42703, ...).
std::string_view SqlState(const Status& status);

// An ErrorResponse for `status` raised by `query` (the text the engine saw, which starts at
// the same line and column as in the client's query text `client_query`). When the message
// carries "line L, column C", `position` is that place as a 1-based character offset into
// `client_query`.
ErrorFields ErrorFromStatus(const Status& status, std::string_view client_query);

// Well-known SQLSTATEs used by the edge itself.
namespace sqlstate {
inline constexpr std::string_view kProtocolViolation = "08P01";
inline constexpr std::string_view kFeatureNotSupported = "0A000";
inline constexpr std::string_view kInvalidPassword = "28P01";
inline constexpr std::string_view kInvalidAuthorization = "28000";
inline constexpr std::string_view kSyntaxError = "42601";
inline constexpr std::string_view kInvalidParameterValue = "22023";
inline constexpr std::string_view kInFailedTransaction = "25P02";
inline constexpr std::string_view kActiveTransaction = "25001";
inline constexpr std::string_view kNoActiveTransaction = "25P01";
inline constexpr std::string_view kQueryCanceled = "57014";
inline constexpr std::string_view kAdminShutdown = "57P01";
inline constexpr std::string_view kInvalidStatementName = "26000";
inline constexpr std::string_view kInvalidCursorName = "34000";
inline constexpr std::string_view kDuplicatePreparedStatement = "42P05";
inline constexpr std::string_view kDuplicateCursor = "42P03";
inline constexpr std::string_view kUndefinedObject = "42704";
inline constexpr std::string_view kProgramLimitExceeded = "54000";
}  // namespace sqlstate

}  // namespace sluice::server::pgwire
