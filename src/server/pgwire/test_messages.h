#pragma once

// Frontend message builders and a backend message splitter for pgwire's unit tests.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/pgwire/protocol.h"

namespace sluice::server::pgwire::testing {

inline void PutInt32(std::string* s, int32_t v) {
  const auto u = static_cast<uint32_t>(v);
  s->push_back(static_cast<char>(u >> 24));
  s->push_back(static_cast<char>(u >> 16));
  s->push_back(static_cast<char>(u >> 8));
  s->push_back(static_cast<char>(u));
}

inline void PutInt16(std::string* s, int16_t v) {
  const auto u = static_cast<uint16_t>(v);
  s->push_back(static_cast<char>(u >> 8));
  s->push_back(static_cast<char>(u));
}

inline void PutCString(std::string* s, std::string_view v) {
  s->append(v);
  s->push_back('\0');
}

inline std::string Typed(char type, std::string_view body) {
  std::string m(1, type);
  PutInt32(&m, static_cast<int32_t>(body.size() + 4));
  m.append(body);
  return m;
}

inline std::string Startup(const std::vector<std::pair<std::string, std::string>>& params,
                           int32_t protocol = kProtocolVersion3) {
  std::string body;
  PutInt32(&body, protocol);
  for (const auto& [k, v] : params) {
    PutCString(&body, k);
    PutCString(&body, v);
  }
  body.push_back('\0');
  std::string m;
  PutInt32(&m, static_cast<int32_t>(body.size() + 4));
  return m + body;
}

inline std::string Untyped(int32_t code, const std::vector<int32_t>& extra = {}) {
  std::string m;
  PutInt32(&m, static_cast<int32_t>(8 + 4 * extra.size()));
  PutInt32(&m, code);
  for (int32_t v : extra) PutInt32(&m, v);
  return m;
}

inline std::string Query(std::string_view sql) {
  std::string body;
  PutCString(&body, sql);
  return Typed('Q', body);
}

inline std::string Parse(std::string_view name, std::string_view sql, const std::vector<int32_t>& types = {}) {
  std::string body;
  PutCString(&body, name);
  PutCString(&body, sql);
  PutInt16(&body, static_cast<int16_t>(types.size()));
  for (int32_t t : types) PutInt32(&body, t);
  return Typed('P', body);
}

inline std::string Bind(std::string_view portal, std::string_view statement,
                        const std::vector<std::optional<std::string>>& params,
                        const std::vector<int16_t>& param_formats = {},
                        const std::vector<int16_t>& result_formats = {}) {
  std::string body;
  PutCString(&body, portal);
  PutCString(&body, statement);
  PutInt16(&body, static_cast<int16_t>(param_formats.size()));
  for (int16_t f : param_formats) PutInt16(&body, f);
  PutInt16(&body, static_cast<int16_t>(params.size()));
  for (const auto& p : params) {
    if (!p) {
      PutInt32(&body, -1);
    } else {
      PutInt32(&body, static_cast<int32_t>(p->size()));
      body.append(*p);
    }
  }
  PutInt16(&body, static_cast<int16_t>(result_formats.size()));
  for (int16_t f : result_formats) PutInt16(&body, f);
  return Typed('B', body);
}

inline std::string Describe(char target, std::string_view name) {
  std::string body(1, target);
  PutCString(&body, name);
  return Typed('D', body);
}

inline std::string Execute(std::string_view portal, int32_t max_rows = 0) {
  std::string body;
  PutCString(&body, portal);
  PutInt32(&body, max_rows);
  return Typed('E', body);
}

inline std::string Close(char target, std::string_view name) {
  std::string body(1, target);
  PutCString(&body, name);
  return Typed('C', body);
}

inline std::string Sync() { return Typed('S', ""); }
inline std::string Terminate() { return Typed('X', ""); }

inline std::string Password(std::string_view password) {
  std::string body;
  PutCString(&body, password);
  return Typed('p', body);
}

inline std::string SaslInitial(std::string_view mechanism, std::string_view data) {
  std::string body;
  PutCString(&body, mechanism);
  PutInt32(&body, static_cast<int32_t>(data.size()));
  body.append(data);
  return Typed('p', body);
}

inline int32_t GetInt32(std::string_view b, size_t at) {
  const auto* u = reinterpret_cast<const unsigned char*>(b.data() + at);
  return static_cast<int32_t>((uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3]);
}

inline int16_t GetInt16(std::string_view b, size_t at) {
  const auto* u = reinterpret_cast<const unsigned char*>(b.data() + at);
  return static_cast<int16_t>((uint16_t{u[0]} << 8) | u[1]);
}

struct Message {
  char type;
  std::string body;
};

// Splits backend output into messages. A leading single 'N' (answer to SSLRequest) is kept as
// a message of type 'N' with an empty body when `ssl_answer` is set.
inline std::vector<Message> Split(std::string_view out) {
  std::vector<Message> messages;
  while (!out.empty()) {
    size_t consumed = 0;
    auto frame = DecodeFrame(out, 1 << 30, &consumed);
    if (!frame.ok() || !frame->has_value()) break;
    messages.push_back({(*frame)->type, std::string((*frame)->body)});
    out.remove_prefix(consumed);
  }
  return messages;
}

inline std::string Types(const std::vector<Message>& messages) {
  std::string s;
  for (const Message& m : messages) s.push_back(m.type);
  return s;
}

// The value of one field ('C' code, 'M' message, 'P' position) of an ErrorResponse body.
inline std::string ErrorField(const std::string& body, char field) {
  size_t i = 0;
  while (i < body.size() && body[i] != '\0') {
    const char f = body[i++];
    const size_t end = body.find('\0', i);
    if (end == std::string::npos) break;
    if (f == field) return body.substr(i, end - i);
    i = end + 1;
  }
  return "";
}

// The values of a DataRow (nullopt for NULL).
inline std::vector<std::optional<std::string>> RowValues(const std::string& body) {
  std::vector<std::optional<std::string>> values;
  const int16_t n = GetInt16(body, 0);
  size_t at = 2;
  for (int16_t i = 0; i < n; ++i) {
    const int32_t len = GetInt32(body, at);
    at += 4;
    if (len < 0) {
      values.emplace_back(std::nullopt);
    } else {
      values.emplace_back(body.substr(at, static_cast<size_t>(len)));
      at += static_cast<size_t>(len);
    }
  }
  return values;
}

}  // namespace sluice::server::pgwire::testing
