#include "server/pgwire/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <charconv>
#include <cstring>
#include <vector>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

namespace sluice::server::pgwire {
namespace {

constexpr std::string_view kBase64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

ScramKey Hmac(const ScramKey& key, std::string_view data) {
  ScramKey out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out.data(), &len);
  return out;
}

ScramKey Sha256(const ScramKey& data) {
  ScramKey out{};
  SHA256(data.data(), data.size(), out.data());
  return out;
}

ScramKey SaltedPassword(std::string_view password, std::string_view salt, int32_t iterations) {
  ScramKey out{};
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()), iterations,
                    EVP_sha256(), static_cast<int>(out.size()), out.data());
  return out;
}

std::string_view AsBytes(const ScramKey& k) { return {reinterpret_cast<const char*>(k.data()), k.size()}; }

bool ConstantTimeEqual(const ScramKey& a, const ScramKey& b) { return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0; }

// Splits "a=1,b=2" attribute lists; each attribute is one letter, '=', a value without ','.
Result<std::vector<std::pair<char, std::string_view>>> Attributes(std::string_view text) {
  std::vector<std::pair<char, std::string_view>> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view part = text.substr(pos, comma - pos);
    if (part.size() < 2 || part[1] != '=' || !((part[0] >= 'a' && part[0] <= 'z') || (part[0] >= 'A' && part[0] <= 'Z'))) {
      return Status::InvalidArgument(fmt::format("malformed SCRAM message: bad attribute '{}'", part));
    }
    out.emplace_back(part[0], part.substr(2));
    pos = comma + 1;
  }
  return out;
}

bool IsPrintableNonce(std::string_view nonce) {
  if (nonce.empty()) return false;
  for (char c : nonce) {
    if (c < 0x21 || c > 0x7E || c == ',') return false;
  }
  return true;
}

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{static_cast<uint8_t>(bytes[i])} << 16) |
                       (uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8) | static_cast<uint8_t>(bytes[i + 2]);
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += kBase64Alphabet[(v >> 6) & 63];
    out += kBase64Alphabet[v & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t{static_cast<uint8_t>(bytes[i])} << 16;
    if (rest == 2) v |= uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8;
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return Status::InvalidArgument("malformed base64: length is not a multiple of 4");
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    uint32_t v = 0;
    int pad = 0;
    for (size_t k = 0; k < 4; ++k) {
      const char c = text[i + k];
      if (c == '=') {
        // Padding only at the end, at most two.
        if (i + 4 != text.size() || k < 2) return Status::InvalidArgument("malformed base64: misplaced '='");
        ++pad;
        v <<= 6;
        continue;
      }
      if (pad > 0) return Status::InvalidArgument("malformed base64: data after '='");
      const size_t idx = kBase64Alphabet.find(c);
      if (idx == std::string_view::npos) return Status::InvalidArgument("malformed base64: bad character");
      v = (v << 6) | static_cast<uint32_t>(idx);
    }
    out += static_cast<char>((v >> 16) & 0xFF);
    if (pad < 2) out += static_cast<char>((v >> 8) & 0xFF);
    if (pad < 1) out += static_cast<char>(v & 0xFF);
  }
  return out;
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    // Without randomness nonces and salts would be predictable; stopping is the only safe answer.
    std::fprintf(stderr, "sluice: OpenSSL RAND_bytes failed\n");
    std::abort();
  }
  return out;
}

ScramSecret MakeScramSecret(std::string_view password, std::string_view salt, int32_t iterations) {
  ScramSecret s;
  s.salt = std::string(salt);
  s.iterations = iterations;
  const ScramKey salted = SaltedPassword(password, salt, iterations);
  s.stored_key = Sha256(Hmac(salted, "Client Key"));
  s.server_key = Hmac(salted, "Server Key");
  return s;
}

ScramSecret MakeScramSecret(std::string_view password, int32_t iterations) {
  return MakeScramSecret(password, RandomBytes(kScramSaltBytes), iterations);
}

ScramSecret MockScramSecret(std::string_view key, std::string_view user) {
  ScramKey k{};
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), k.data());
  ScramSecret s;
  s.salt = std::string(AsBytes(Hmac(k, user)).substr(0, kScramSaltBytes));
  s.iterations = kScramIterations;
  const std::string random = RandomBytes(64);
  std::memcpy(s.stored_key.data(), random.data(), 32);
  std::memcpy(s.server_key.data(), random.data() + 32, 32);
  return s;
}

Result<ScramSecret> ParseScramSecret(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(fmt::format("not a SCRAM-SHA-256 secret ({}): expected "
                                               "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>",
                                               why));
  };
  constexpr std::string_view kPrefix = "SCRAM-SHA-256$";
  if (!text.starts_with(kPrefix)) return bad("prefix");
  text.remove_prefix(kPrefix.size());
  const size_t colon1 = text.find(':');
  const size_t dollar = text.find('$');
  if (colon1 == std::string_view::npos || dollar == std::string_view::npos || dollar < colon1) return bad("layout");
  const size_t colon2 = text.find(':', dollar);
  if (colon2 == std::string_view::npos) return bad("layout");
  ScramSecret s;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + colon1, s.iterations);
  if (ec != std::errc() || ptr != text.data() + colon1 || s.iterations < 1) return bad("iterations");
  auto salt = Base64Decode(text.substr(colon1 + 1, dollar - colon1 - 1));
  auto stored = Base64Decode(text.substr(dollar + 1, colon2 - dollar - 1));
  auto server = Base64Decode(text.substr(colon2 + 1));
  if (!salt.ok() || salt->empty()) return bad("salt");
  if (!stored.ok() || stored->size() != 32) return bad("StoredKey");
  if (!server.ok() || server->size() != 32) return bad("ServerKey");
  s.salt = std::move(*salt);
  std::memcpy(s.stored_key.data(), stored->data(), 32);
  std::memcpy(s.server_key.data(), server->data(), 32);
  return s;
}

std::string FormatScramSecret(const ScramSecret& s) {
  return fmt::format("SCRAM-SHA-256${}:{}${}:{}", s.iterations, Base64Encode(s.salt), Base64Encode(AsBytes(s.stored_key)),
                     Base64Encode(AsBytes(s.server_key)));
}

bool CheckPassword(const ScramSecret& secret, std::string_view password) {
  const ScramKey salted = SaltedPassword(password, secret.salt, secret.iterations);
  return ConstantTimeEqual(Sha256(Hmac(salted, "Client Key")), secret.stored_key);
}

// ---- server --------------------------------------------------------------------------------

ScramServer::ScramServer(ScramSecret secret, std::string server_nonce)
    : secret_(std::move(secret)), server_nonce_(std::move(server_nonce)) {}

Result<std::string> ScramServer::ClientFirst(std::string_view message) {
  if (got_first_) return Status::InvalidArgument("unexpected SCRAM client-first message");
  got_first_ = true;
  // gs2-header: cbind-flag "," [authzid] ","
  const size_t c1 = message.find(',');
  const size_t c2 = c1 == std::string_view::npos ? c1 : message.find(',', c1 + 1);
  if (c2 == std::string_view::npos) return Status::InvalidArgument("malformed SCRAM message: no GS2 header");
  const std::string_view flag = message.substr(0, c1);
  if (flag.starts_with("p=")) {
    return Status::InvalidArgument("channel binding is not supported (the server offers SCRAM-SHA-256 only)");
  }
  if (flag != "n" && flag != "y") return Status::InvalidArgument("malformed SCRAM message: bad channel binding flag");
  if (c2 != c1 + 1) return Status::InvalidArgument("SCRAM authorization identities are not supported");
  gs2_header_ = std::string(message.substr(0, c2 + 1));
  client_first_bare_ = std::string(message.substr(c2 + 1));
  SLUICE_ASSIGN_OR_RETURN(auto attrs, Attributes(client_first_bare_));
  size_t i = 0;
  if (i < attrs.size() && attrs[i].first == 'm') return Status::InvalidArgument("SCRAM extensions are not supported");
  // PostgreSQL takes the user from the startup packet; the n= attribute is read and ignored.
  if (i >= attrs.size() || attrs[i].first != 'n') return Status::InvalidArgument("malformed SCRAM message: no user name");
  ++i;
  if (i >= attrs.size() || attrs[i].first != 'r' || !IsPrintableNonce(attrs[i].second)) {
    return Status::InvalidArgument("malformed SCRAM message: bad client nonce");
  }
  nonce_ = std::string(attrs[i].second) + server_nonce_;
  server_first_ = fmt::format("r={},s={},i={}", nonce_, Base64Encode(secret_.salt), secret_.iterations);
  return server_first_;
}

Result<std::string> ScramServer::ClientFinal(std::string_view message) {
  if (server_first_.empty()) return Status::InvalidArgument("unexpected SCRAM client-final message");
  const size_t proof_at = message.rfind(",p=");
  if (proof_at == std::string_view::npos) return Status::InvalidArgument("malformed SCRAM message: no proof");
  const std::string_view without_proof = message.substr(0, proof_at);
  SLUICE_ASSIGN_OR_RETURN(auto attrs, Attributes(without_proof));
  if (attrs.size() < 2 || attrs[0].first != 'c' || attrs[1].first != 'r') {
    return Status::InvalidArgument("malformed SCRAM message: expected c= and r=");
  }
  SLUICE_ASSIGN_OR_RETURN(std::string binding, Base64Decode(attrs[0].second));
  if (binding != gs2_header_) return Status::InvalidArgument("SCRAM channel binding does not match");
  if (attrs[1].second != nonce_) return Status::InvalidArgument("SCRAM nonce does not match");
  SLUICE_ASSIGN_OR_RETURN(std::string proof, Base64Decode(message.substr(proof_at + 3)));
  if (proof.size() != 32) return Status::InvalidArgument("malformed SCRAM message: bad proof length");

  const std::string auth_message = fmt::format("{},{},{}", client_first_bare_, server_first_, without_proof);
  const ScramKey client_signature = Hmac(secret_.stored_key, auth_message);
  ScramKey client_key{};
  for (size_t i = 0; i < client_key.size(); ++i) {
    client_key[i] = static_cast<uint8_t>(static_cast<uint8_t>(proof[i]) ^ client_signature[i]);
  }
  if (!ConstantTimeEqual(Sha256(client_key), secret_.stored_key)) {
    return Status::FailedPrecondition("SCRAM proof does not match");
  }
  return "v=" + Base64Encode(AsBytes(Hmac(secret_.server_key, auth_message)));
}

// ---- client --------------------------------------------------------------------------------

ScramClient::ScramClient(std::string password, std::string client_nonce)
    : password_(std::move(password)), client_nonce_(std::move(client_nonce)) {}

std::string ScramClient::ClientFirst() {
  client_first_bare_ = "n=,r=" + client_nonce_;
  return "n,," + client_first_bare_;
}

Result<std::string> ScramClient::ClientFinal(std::string_view server_first) {
  SLUICE_ASSIGN_OR_RETURN(auto attrs, Attributes(server_first));
  if (attrs.size() < 3 || attrs[0].first != 'r' || attrs[1].first != 's' || attrs[2].first != 'i') {
    return Status::InvalidArgument("malformed SCRAM server-first message");
  }
  const std::string_view nonce = attrs[0].second;
  if (!nonce.starts_with(client_nonce_) || nonce.size() == client_nonce_.size()) {
    return Status::InvalidArgument("SCRAM server nonce does not extend the client's");
  }
  SLUICE_ASSIGN_OR_RETURN(std::string salt, Base64Decode(attrs[1].second));
  int32_t iterations = 0;
  auto [ptr, ec] = std::from_chars(attrs[2].second.data(), attrs[2].second.data() + attrs[2].second.size(), iterations);
  if (ec != std::errc() || iterations < 1) return Status::InvalidArgument("bad SCRAM iteration count");
  const std::string without_proof = fmt::format("c={},r={}", Base64Encode("n,,"), nonce);
  const std::string auth_message = fmt::format("{},{},{}", client_first_bare_, server_first, without_proof);
  const ScramKey salted = SaltedPassword(password_, salt, iterations);
  const ScramKey client_key = Hmac(salted, "Client Key");
  const ScramKey signature = Hmac(Sha256(client_key), auth_message);
  ScramKey proof{};
  for (size_t i = 0; i < proof.size(); ++i) proof[i] = static_cast<uint8_t>(client_key[i] ^ signature[i]);
  expected_server_signature_ = "v=" + Base64Encode(AsBytes(Hmac(Hmac(salted, "Server Key"), auth_message)));
  return fmt::format("{},p={}", without_proof, Base64Encode(AsBytes(proof)));
}

bool ScramClient::VerifyServerFinal(std::string_view server_final) const {
  return !expected_server_signature_.empty() && server_final == expected_server_signature_;
}

}  // namespace sluice::server::pgwire
