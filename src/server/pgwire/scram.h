#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace sluice::server::pgwire {

// SCRAM-SHA-256 (RFC 5802 / RFC 7677) as PostgreSQL uses it, on OpenSSL's HMAC, SHA-256 and
// PBKDF2. Channel binding is not offered (the listener has no TLS), so clients send the
// gs2 header "n,," or "y,,". Passwords are used as their UTF-8 bytes (no SASLprep: ASCII
// passwords are unaffected; libpq normalizes others, which may then not match).

using ScramKey = std::array<uint8_t, 32>;

// What the server keeps per user: PostgreSQL's pg_authid form, never the password.
struct ScramSecret {
  std::string salt;  // raw bytes
  int32_t iterations = 4096;
  ScramKey stored_key{};
  ScramKey server_key{};
};

inline constexpr int32_t kScramIterations = 4096;
inline constexpr size_t kScramSaltBytes = 16;
inline constexpr size_t kScramNonceBytes = 18;

// Derives the secret of `password` with a fresh random salt (or the given one).
ScramSecret MakeScramSecret(std::string_view password, int32_t iterations = kScramIterations);
ScramSecret MakeScramSecret(std::string_view password, std::string_view salt, int32_t iterations);

// A secret for a user that does not exist: its salt is stable per name (derived from `key`),
// its keys random, so every proof fails.
ScramSecret MockScramSecret(std::string_view key, std::string_view user);

// Parses "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>" (base64 parts), the form
// PostgreSQL stores and `pg_authid.rolpassword` shows. kInvalidArgument if malformed.
Result<ScramSecret> ParseScramSecret(std::string_view text);
std::string FormatScramSecret(const ScramSecret& secret);

// True if `password` derives `secret` (used for cleartext password authentication).
bool CheckPassword(const ScramSecret& secret, std::string_view password);

std::string Base64Encode(std::string_view bytes);
Result<std::string> Base64Decode(std::string_view text);
// Cryptographically random bytes (OpenSSL RAND_bytes).
std::string RandomBytes(size_t n);

// One server side of a SCRAM exchange. Use: ClientFirst -> send the returned server-first
// message (AuthenticationSASLContinue); ClientFinal -> on success send the returned
// server-final message (AuthenticationSASLFinal) and then AuthenticationOk.
class ScramServer {
 public:
  // `secret` is the user's, or a mock secret for an unknown user (so that the exchange looks
  // the same and fails at the end). `server_nonce` is printable, without ','.
  ScramServer(ScramSecret secret, std::string server_nonce);

  // kInvalidArgument for a malformed message or unsupported option.
  Result<std::string> ClientFirst(std::string_view message);
  // kInvalidArgument for a malformed message; kFailedPrecondition when the proof is wrong
  // (wrong password or unknown user).
  Result<std::string> ClientFinal(std::string_view message);

 private:
  ScramSecret secret_;
  std::string server_nonce_;
  std::string gs2_header_;
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_;  // client nonce + server nonce
  bool got_first_ = false;
};

// The client side, for tests and tools.
class ScramClient {
 public:
  ScramClient(std::string password, std::string client_nonce);
  std::string ClientFirst();
  // kInvalidArgument if the server-first message is malformed or does not extend our nonce.
  Result<std::string> ClientFinal(std::string_view server_first);
  // True if the server proved it knows the secret.
  bool VerifyServerFinal(std::string_view server_final) const;

 private:
  std::string password_;
  std::string client_nonce_;
  std::string client_first_bare_;
  std::string expected_server_signature_;
};

}  // namespace sluice::server::pgwire
