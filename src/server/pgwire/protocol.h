#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace sluice::server::pgwire {

// The PostgreSQL frontend/backend protocol 3.0 on the byte level: splitting the input into
// messages, decoding each frontend message with bounds checks, encoding backend messages.
// Nothing here knows about sessions or SQL. Malformed input is kInvalidArgument, a message over
// the configured limit kTooLarge; the session answers both with SQLSTATE 08P01 and closes.

inline constexpr int32_t kProtocolVersion3 = 3 << 16;  // 196608
inline constexpr int32_t kCancelRequestCode = 80877102;
inline constexpr int32_t kSslRequestCode = 80877103;
inline constexpr int32_t kGssEncRequestCode = 80877104;
// PostgreSQL's own limit for the untyped startup packet (a client that has not authenticated
// may not make the server buffer more).
inline constexpr size_t kMaxStartupPacketBytes = 10000;
// Parameters of one Parse or Bind message (the count is an Int16 on the wire).
inline constexpr size_t kMaxParameters = 65535;

// Transaction status byte of ReadyForQuery.
enum class TransactionStatus : char { kIdle = 'I', kInBlock = 'T', kFailed = 'E' };

// One typed message as it arrived: the type byte and the body after the length word.
struct Frame {
  char type = 0;
  std::string_view body;
};

// Splits the next typed message off `input`. Returns nullopt when more bytes are needed;
// kInvalidArgument for a length word below 4, kTooLarge above max_body_bytes. On success
// *consumed is the frame's size on the wire (type byte + length word + body).
Result<std::optional<Frame>> DecodeFrame(std::string_view input, size_t max_body_bytes,
                                         size_t* consumed);

// The untyped first message of a connection (length word + body): a StartupMessage, an
// SSLRequest, a GSSENCRequest or a CancelRequest. Returns nullopt when more bytes are needed;
// kInvalidArgument below 8 bytes or above kMaxStartupPacketBytes.
Result<std::optional<std::string_view>> DecodeStartupFrame(std::string_view input,
                                                           size_t* consumed);

enum class StartupKind : uint8_t { kStartup, kSslRequest, kGssEncRequest, kCancel };

struct StartupPacket {
  StartupKind kind = StartupKind::kStartup;
  int32_t protocol = 0;                                      // kStartup only
  std::vector<std::pair<std::string, std::string>> params;  // kStartup: user, database, ...
  int32_t cancel_pid = 0;                                    // kCancel only
  int32_t cancel_secret = 0;
};

// `body` is what DecodeStartupFrame returned (after the length word).
Result<StartupPacket> ParseStartupPacket(std::string_view body);

// ---- frontend messages (body = Frame::body) ------------------------------------------------

struct ParseMessage {
  std::string statement;               // "" = the unnamed statement
  std::string query;
  std::vector<uint32_t> param_types;   // type OIDs; 0 = unspecified
};

struct BindMessage {
  std::string portal;
  std::string statement;
  std::vector<int16_t> param_formats;              // 0 entries, 1 (for all) or one per parameter
  std::vector<std::optional<std::string_view>> params;  // nullopt = NULL; views into the body
  std::vector<int16_t> result_formats;             // same convention as param_formats
};

struct DescribeMessage {
  char target = 'S';  // 'S' statement, 'P' portal
  std::string name;
};

struct ExecuteMessage {
  std::string portal;
  int32_t max_rows = 0;  // 0 = all
};

struct CloseMessage {
  char target = 'S';
  std::string name;
};

struct SaslInitialResponse {
  std::string mechanism;
  std::optional<std::string_view> data;  // nullopt when the client sent length -1
};

Result<std::string_view> ParseQueryMessage(std::string_view body);
Result<ParseMessage> ParseParseMessage(std::string_view body);
Result<BindMessage> ParseBindMessage(std::string_view body);
Result<DescribeMessage> ParseDescribeMessage(std::string_view body);
Result<ExecuteMessage> ParseExecuteMessage(std::string_view body);
Result<CloseMessage> ParseCloseMessage(std::string_view body);
Result<std::string_view> ParsePasswordMessage(std::string_view body);
Result<SaslInitialResponse> ParseSaslInitialResponse(std::string_view body);

// ---- backend messages ----------------------------------------------------------------------

// Fields of an ErrorResponse or NoticeResponse.
struct ErrorFields {
  std::string severity = "ERROR";  // ERROR, FATAL, WARNING, NOTICE
  std::string sqlstate = "XX000";
  std::string message;
  std::string detail;
  std::string hint;
  int32_t position = 0;  // 1-based character offset into the query; 0 = none
};

struct FieldDescription {
  std::string name;
  uint32_t table_oid = 0;
  int16_t column = 0;
  uint32_t type_oid = 0;
  int16_t type_size = -1;
  int32_t type_modifier = -1;
  int16_t format = 0;  // 0 text, 1 binary
};

// Appends backend messages to a caller's buffer. Strings written as C strings lose any NUL
// byte (the protocol cannot carry it) and have invalid UTF-8 replaced by U+FFFD.
class MessageWriter {
 public:
  explicit MessageWriter(std::string* out) : out_(out) {}

  // Low level: Begin writes the type byte and a length placeholder; End patches the length.
  // REQUIRES: Begin/End pairs do not nest.
  void Begin(char type);
  void End();
  void Int16(int16_t v);
  void Int32(int32_t v);
  void Int64(int64_t v);
  void Byte(char c) { out_->push_back(c); }
  void Bytes(std::string_view b) { out_->append(b); }
  void CString(std::string_view s);

  void AuthenticationOk();
  void AuthenticationCleartextPassword();
  void AuthenticationSasl(std::string_view mechanism);
  void AuthenticationSaslContinue(std::string_view data);
  void AuthenticationSaslFinal(std::string_view data);
  void ParameterStatus(std::string_view name, std::string_view value);
  void BackendKeyData(int32_t pid, int32_t secret);
  void ReadyForQuery(TransactionStatus status);
  void NegotiateProtocolVersion(int32_t newest_minor, const std::vector<std::string>& unknown);
  void RowDescription(const std::vector<FieldDescription>& fields);
  void ParameterDescription(const std::vector<uint32_t>& oids);
  void CommandComplete(std::string_view tag);
  void EmptyQueryResponse();
  void ErrorResponse(const ErrorFields& e) { ErrorOrNotice('E', e); }
  void NoticeResponse(const ErrorFields& e) { ErrorOrNotice('N', e); }
  void ParseComplete();
  void BindComplete();
  void CloseComplete();
  void NoData();
  void PortalSuspended();

  std::string* buffer() { return out_; }

 private:
  void ErrorOrNotice(char type, const ErrorFields& e);

  std::string* out_;
  size_t begin_ = 0;
};

// Replaces invalid UTF-8 sequences with U+FFFD and drops NUL bytes.
std::string SanitizeCString(std::string_view s);

// True if `s` is valid UTF-8 (PostgreSQL rejects other text in UTF8 databases).
bool IsValidUtf8(std::string_view s);

}  // namespace sluice::server::pgwire
