#include "server/pgwire/protocol.h"

#include <cstring>

#include <fmt/format.h>

namespace sluice::server::pgwire {
namespace {

uint32_t ReadBigEndian32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

// Reads a message body front to back; every read is bounds-checked and names what was
// being read when the body ends early.
class BodyReader {
 public:
  BodyReader(std::string_view body, std::string_view message) : body_(body), message_(message) {}

  Result<int16_t> Int16(std::string_view what) {
    if (body_.size() - pos_ < 2) return Truncated(what);
    const auto* u = reinterpret_cast<const unsigned char*>(body_.data() + pos_);
    pos_ += 2;
    return static_cast<int16_t>((uint16_t{u[0]} << 8) | uint16_t{u[1]});
  }

  Result<int32_t> Int32(std::string_view what) {
    if (body_.size() - pos_ < 4) return Truncated(what);
    const uint32_t v = ReadBigEndian32(body_.data() + pos_);
    pos_ += 4;
    return static_cast<int32_t>(v);
  }

  Result<char> Byte(std::string_view what) {
    if (pos_ >= body_.size()) return Truncated(what);
    return body_[pos_++];
  }

  Result<std::string_view> CString(std::string_view what) {
    const size_t end = body_.find('\0', pos_);
    if (end == std::string_view::npos) {
      return Status::InvalidArgument(
          fmt::format("invalid {} message: {} is not NUL-terminated", message_, what));
    }
    std::string_view s = body_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }

  Result<std::string_view> Bytes(size_t n, std::string_view what) {
    if (body_.size() - pos_ < n) return Truncated(what);
    std::string_view s = body_.substr(pos_, n);
    pos_ += n;
    return s;
  }

  // A count read as Int16 is unsigned on the wire (up to 65535).
  Result<size_t> Count(std::string_view what) {
    SLUICE_ASSIGN_OR_RETURN(int16_t n, Int16(what));
    return static_cast<size_t>(static_cast<uint16_t>(n));
  }

  Status ExpectEnd() const {
    if (pos_ != body_.size()) {
      return Status::InvalidArgument(fmt::format("invalid {} message: {} unexpected trailing byte(s)",
                                                 message_, body_.size() - pos_));
    }
    return Status::Ok();
  }

  size_t remaining() const { return body_.size() - pos_; }

 private:
  Status Truncated(std::string_view what) const {
    return Status::InvalidArgument(
        fmt::format("invalid {} message: truncated while reading {}", message_, what));
  }

  std::string_view body_;
  std::string_view message_;
  size_t pos_ = 0;
};

Result<std::vector<int16_t>> ReadFormats(BodyReader& r, std::string_view what) {
  SLUICE_ASSIGN_OR_RETURN(size_t n, r.Count(what));
  if (n * 2 > r.remaining()) {
    return Status::InvalidArgument(fmt::format("invalid Bind message: {} count {} exceeds the message", what, n));
  }
  std::vector<int16_t> formats(n);
  for (size_t i = 0; i < n; ++i) {
    SLUICE_ASSIGN_OR_RETURN(formats[i], r.Int16(what));
    if (formats[i] != 0 && formats[i] != 1) {
      return Status::InvalidArgument(fmt::format("invalid Bind message: unsupported format code {}", formats[i]));
    }
  }
  return formats;
}

// Length of the valid UTF-8 sequence at s[i], or 0 if none starts there.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  size_t n = 0;
  uint32_t cp = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (s.size() - i < n) return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  // Overlong forms, surrogates and code points past U+10FFFF are invalid.
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) return 0;
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string SanitizeCString(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (c == '\0') {
      ++i;
      continue;
    }
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      out.append("\xEF\xBF\xBD");
      ++i;
      continue;
    }
    out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

Result<std::optional<Frame>> DecodeFrame(std::string_view input, size_t max_body_bytes,
                                         size_t* consumed) {
  if (input.size() < 5) return std::optional<Frame>();
  const char type = input[0];
  const uint32_t length = ReadBigEndian32(input.data() + 1);
  if (length < 4 || length > 0x7FFFFFFFu) {
    return Status::InvalidArgument(fmt::format("invalid message length {} for message type '{}'", length,
                                               SanitizeCString(std::string_view(&type, 1))));
  }
  const size_t body = length - 4;
  if (body > max_body_bytes) {
    return Status::TooLarge(fmt::format("message of type '{}' is {} bytes; the limit is {}",
                                        SanitizeCString(std::string_view(&type, 1)), body, max_body_bytes));
  }
  if (input.size() - 5 < body) return std::optional<Frame>();
  *consumed = 5 + body;
  return std::optional<Frame>(Frame{type, input.substr(5, body)});
}

Result<std::optional<std::string_view>> DecodeStartupFrame(std::string_view input, size_t* consumed) {
  if (input.size() < 4) return std::optional<std::string_view>();
  const uint32_t length = ReadBigEndian32(input.data());
  if (length < 8 || length > kMaxStartupPacketBytes) {
    return Status::InvalidArgument(fmt::format("invalid length of startup packet: {}", length));
  }
  if (input.size() < length) return std::optional<std::string_view>();
  *consumed = length;
  return std::optional<std::string_view>(input.substr(4, length - 4));
}

Result<StartupPacket> ParseStartupPacket(std::string_view body) {
  BodyReader r(body, "startup");
  StartupPacket p;
  SLUICE_ASSIGN_OR_RETURN(int32_t code, r.Int32("the protocol version"));
  switch (code) {
    case kSslRequestCode:
      p.kind = StartupKind::kSslRequest;
      SLUICE_RETURN_IF_ERROR(r.ExpectEnd());
      return p;
    case kGssEncRequestCode:
      p.kind = StartupKind::kGssEncRequest;
      SLUICE_RETURN_IF_ERROR(r.ExpectEnd());
      return p;
    case kCancelRequestCode: {
      p.kind = StartupKind::kCancel;
      SLUICE_ASSIGN_OR_RETURN(p.cancel_pid, r.Int32("the process id"));
      SLUICE_ASSIGN_OR_RETURN(p.cancel_secret, r.Int32("the secret key"));
      SLUICE_RETURN_IF_ERROR(r.ExpectEnd());
      return p;
    }
    default:
      break;
  }
  p.kind = StartupKind::kStartup;
  p.protocol = code;
  if ((code >> 16) != 3) return p;  // the session rejects it with a clear error
  // Name/value pairs, ended by an empty name.
  for (;;) {
    SLUICE_ASSIGN_OR_RETURN(std::string_view name, r.CString("a parameter name"));
    if (name.empty()) break;
    SLUICE_ASSIGN_OR_RETURN(std::string_view value, r.CString("a parameter value"));
    p.params.emplace_back(std::string(name), std::string(value));
  }
  SLUICE_RETURN_IF_ERROR(r.ExpectEnd());
  return p;
}

Result<std::string_view> ParseQueryMessage(std::string_view body) {
  BodyReader r(body, "Query");
  SLUICE_ASSIGN_OR_RETURN(std::string_view query, r.CString("the query string"));
  SLUICE_RETURN_IF_ERROR(r.ExpectEnd());
  return query;
}

Result<ParseMessage> ParseParseMessage(std::string_view body) {
  BodyReader r(body, "Parse");
  ParseMessage m;
  SLUICE_ASSIGN_OR_RETURN(std::string_view name, r.CString("the statement name"));
  SLUICE_ASSIGN_OR_RETURN(std::string_view query, r.CString("the query string"));
  SLUICE_ASSIGN_OR_RETURN(size_t n, r.Count("the parameter type count"));
  if (n * 4 > r.remaining()) {
    return Status::InvalidArgument(fmt::format("invalid Parse message: {} parameter types exceed the message", n));
  }
  m.statement = std::string(name);
  m.query = std::string(query);
  m.param_types.resize(n);
  for (size_t i = 0; i < n; ++i) {
    SLUICE_ASSIGN_OR_RETURN(int32_t oid, r.Int32("a parameter type"));
    m.param_types[i] = static_cast<uint32_t>(oid);
  }
  SLUICE_RETURN_IF_ERROR(r.ExpectEnd());
  return m;
}

Result<BindMessage> ParseBindMessage(std::string_view body) {
  BodyReader r(body, "Bind");
  BindMessage m;
  SLUICE_ASSIGN_OR_RETURN(std::string_view portal, r.CString("the portal name"));
  SLUICE_ASSIGN_OR_RETURN(std::string_view statement, r.CString("the statement name"));
  m.portal = std::string(portal);
  m.statement = std::string(statement);
  SLUICE_ASSIGN_OR_RETURN(m.param_formats, ReadFormats(r, "parameter format"));
  SLUICE_ASSIGN_OR_RETURN(size_t n, r.Count("the parameter count"));
  // Every parameter takes at least its length word.
  if (n * 4 > r.remaining()) {
    return Status::InvalidArgument(fmt::format("invalid Bind message: {} parameters exceed the message", n));
  }
  if (m.param_formats.size() > 1 && m.param_formats.size() != n) {
    return Status::InvalidArgument(fmt::format(
        "bind message has {} parameter formats but {} parameters", m.param_formats.size(), n));
  }
  m.params.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    SLUICE_ASSIGN_OR_RETURN(int32_t len, r.Int32("a parameter length"));
    if (len == -1) {
      m.params.emplace_back(std::nullopt);
      continue;
    }
    if (len < 0) {
      return Status::InvalidArgument(fmt::format("invalid Bind message: parameter {} has length {}", i + 1, len));
    }
    SLUICE_ASSIGN_OR_RETURN(std::string_view value, r.Bytes(static_cast<size_t>(len), "a parameter value"));
    m.params.emplace_back(value);
  }
  SLUICE_ASSIGN_OR_RETURN(m.result_formats, ReadFormats(r, "result format"));
  SLUICE_RETURN_IF_ERROR(r.ExpectEnd());
  return m;
}

namespace {

Result<char> ReadTarget(BodyReader& r, std::string_view message) {
  SLUICE_ASSIGN_OR_RETURN(char target, r.Byte("the target kind"));
  if (target != 'S' && target != 'P') {
    return Status::InvalidArgument(fmt::format("invalid {} message subtype {}", message, static_cast<int>(target)));
  }
  return target;
}

}  // namespace

Result<DescribeMessage> ParseDescribeMessage(std::string_view body) {
  BodyReader r(body, "Describe");
  DescribeMessage m;
  SLUICE_ASSIGN_OR_RETURN(m.target, ReadTarget(r, "Describe"));
  SLUICE_ASSIGN_OR_RETURN(std::string_view name, r.CString("the name"));
  m.name = std::string(name);
  SLUICE_RETURN_IF_ERROR(r.ExpectEnd());
  return m;
}

Result<ExecuteMessage> ParseExecuteMessage(std::string_view body) {
  BodyReader r(body, "Execute");
  ExecuteMessage m;
  SLUICE_ASSIGN_OR_RETURN(std::string_view portal, r.CString("the portal name"));
  m.portal = std::string(portal);
  SLUICE_ASSIGN_OR_RETURN(m.max_rows, r.Int32("the row limit"));
  SLUICE_RETURN_IF_ERROR(r.ExpectEnd());
  return m;
}

Result<CloseMessage> ParseCloseMessage(std::string_view body) {
  BodyReader r(body, "Close");
  CloseMessage m;
  SLUICE_ASSIGN_OR_RETURN(m.target, ReadTarget(r, "Close"));
  SLUICE_ASSIGN_OR_RETURN(std::string_view name, r.CString("the name"));
  m.name = std::string(name);
  SLUICE_RETURN_IF_ERROR(r.ExpectEnd());
  return m;
}

Result<std::string_view> ParsePasswordMessage(std::string_view body) {
  BodyReader r(body, "PasswordMessage");
  SLUICE_ASSIGN_OR_RETURN(std::string_view password, r.CString("the password"));
  SLUICE_RETURN_IF_ERROR(r.ExpectEnd());
  return password;
}

Result<SaslInitialResponse> ParseSaslInitialResponse(std::string_view body) {
  BodyReader r(body, "SASLInitialResponse");
  SaslInitialResponse m;
  SLUICE_ASSIGN_OR_RETURN(std::string_view mechanism, r.CString("the mechanism"));
  m.mechanism = std::string(mechanism);
  SLUICE_ASSIGN_OR_RETURN(int32_t len, r.Int32("the response length"));
  if (len < -1) return Status::InvalidArgument(fmt::format("invalid SASLInitialResponse length {}", len));
  if (len >= 0) {
    SLUICE_ASSIGN_OR_RETURN(std::string_view data, r.Bytes(static_cast<size_t>(len), "the response"));
    m.data = data;
  }
  SLUICE_RETURN_IF_ERROR(r.ExpectEnd());
  return m;
}

// ---- MessageWriter -------------------------------------------------------------------------

void MessageWriter::Begin(char type) {
  out_->push_back(type);
  begin_ = out_->size();
  out_->append(4, '\0');
}

void MessageWriter::End() {
  const uint32_t length = static_cast<uint32_t>(out_->size() - begin_);
  char* p = out_->data() + begin_;
  p[0] = static_cast<char>(length >> 24);
  p[1] = static_cast<char>(length >> 16);
  p[2] = static_cast<char>(length >> 8);
  p[3] = static_cast<char>(length);
}

void MessageWriter::Int16(int16_t v) {
  const auto u = static_cast<uint16_t>(v);
  const char b[2] = {static_cast<char>(u >> 8), static_cast<char>(u)};
  out_->append(b, 2);
}

void MessageWriter::Int32(int32_t v) {
  const auto u = static_cast<uint32_t>(v);
  const char b[4] = {static_cast<char>(u >> 24), static_cast<char>(u >> 16), static_cast<char>(u >> 8),
                     static_cast<char>(u)};
  out_->append(b, 4);
}

void MessageWriter::Int64(int64_t v) {
  const auto u = static_cast<uint64_t>(v);
  Int32(static_cast<int32_t>(u >> 32));
  Int32(static_cast<int32_t>(u & 0xFFFFFFFFu));
}

void MessageWriter::CString(std::string_view s) {
  // Fast path: plain ASCII without NUL, the usual case for names and tags.
  bool plain = true;
  for (char c : s) {
    if (c == '\0' || static_cast<unsigned char>(c) >= 0x80) {
      plain = false;
      break;
    }
  }
  if (plain) {
    out_->append(s);
  } else {
    out_->append(SanitizeCString(s));
  }
  out_->push_back('\0');
}

void MessageWriter::AuthenticationOk() {
  Begin('R');
  Int32(0);
  End();
}

void MessageWriter::AuthenticationCleartextPassword() {
  Begin('R');
  Int32(3);
  End();
}

void MessageWriter::AuthenticationSasl(std::string_view mechanism) {
  Begin('R');
  Int32(10);
  CString(mechanism);
  Byte('\0');
  End();
}

void MessageWriter::AuthenticationSaslContinue(std::string_view data) {
  Begin('R');
  Int32(11);
  Bytes(data);
  End();
}

void MessageWriter::AuthenticationSaslFinal(std::string_view data) {
  Begin('R');
  Int32(12);
  Bytes(data);
  End();
}

void MessageWriter::ParameterStatus(std::string_view name, std::string_view value) {
  Begin('S');
  CString(name);
  CString(value);
  End();
}

void MessageWriter::BackendKeyData(int32_t pid, int32_t secret) {
  Begin('K');
  Int32(pid);
  Int32(secret);
  End();
}

void MessageWriter::ReadyForQuery(TransactionStatus status) {
  Begin('Z');
  Byte(static_cast<char>(status));
  End();
}

void MessageWriter::NegotiateProtocolVersion(int32_t newest_minor, const std::vector<std::string>& unknown) {
  Begin('v');
  Int32(kProtocolVersion3 | newest_minor);
  Int32(static_cast<int32_t>(unknown.size()));
  for (const std::string& name : unknown) CString(name);
  End();
}

void MessageWriter::RowDescription(const std::vector<FieldDescription>& fields) {
  Begin('T');
  Int16(static_cast<int16_t>(fields.size()));
  for (const FieldDescription& f : fields) {
    CString(f.name);
    Int32(static_cast<int32_t>(f.table_oid));
    Int16(f.column);
    Int32(static_cast<int32_t>(f.type_oid));
    Int16(f.type_size);
    Int32(f.type_modifier);
    Int16(f.format);
  }
  End();
}

void MessageWriter::ParameterDescription(const std::vector<uint32_t>& oids) {
  Begin('t');
  Int16(static_cast<int16_t>(oids.size()));
  for (uint32_t oid : oids) Int32(static_cast<int32_t>(oid));
  End();
}

void MessageWriter::CommandComplete(std::string_view tag) {
  Begin('C');
  CString(tag);
  End();
}

void MessageWriter::EmptyQueryResponse() {
  Begin('I');
  End();
}

void MessageWriter::ErrorOrNotice(char type, const ErrorFields& e) {
  Begin(type);
  Byte('S');
  CString(e.severity);
  Byte('V');
  CString(e.severity);
  Byte('C');
  CString(e.sqlstate);
  Byte('M');
  CString(e.message);
  if (!e.detail.empty()) {
    Byte('D');
    CString(e.detail);
  }
  if (!e.hint.empty()) {
    Byte('H');
    CString(e.hint);
  }
  if (e.position > 0) {
    Byte('P');
    CString(std::to_string(e.position));
  }
  Byte('\0');
  End();
}

void MessageWriter::ParseComplete() {
  Begin('1');
  End();
}

void MessageWriter::BindComplete() {
  Begin('2');
  End();
}

void MessageWriter::CloseComplete() {
  Begin('3');
  End();
}

void MessageWriter::NoData() {
  Begin('n');
  End();
}

void MessageWriter::PortalSuspended() {
  Begin('s');
  End();
}

}  // namespace sluice::server::pgwire
