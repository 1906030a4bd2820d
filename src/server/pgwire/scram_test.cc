#include "server/pgwire/scram.h"

#include <gtest/gtest.h>

#include <vector>

namespace sluice::server::pgwire {
namespace {

TEST(Scram, Base64RoundTripAndRejects) {
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\0\xff\x10", 3)}) {
    auto back = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(Base64Encode("n,,"), "biws");
  EXPECT_FALSE(Base64Decode("abc").ok());
  EXPECT_FALSE(Base64Decode("ab=c").ok());
  EXPECT_FALSE(Base64Decode("a$cd").ok());
}

// RFC 7677's test vector: user "user", password "pencil".
TEST(Scram, Rfc7677Exchange) {
  auto salt = Base64Decode("W22ZaJ0SNY7soEsUEjb6gQ==");
  ASSERT_TRUE(salt.ok());
  ScramServer server(MakeScramSecret("pencil", *salt, 4096), "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
  auto first = server.ClientFirst("n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
  auto final_message = server.ClientFinal(
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  ASSERT_TRUE(final_message.ok()) << final_message.status().ToString();
  EXPECT_EQ(*final_message, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

TEST(Scram, ClientAndServerAgreeAndWrongPasswordFails) {
  const ScramSecret secret = MakeScramSecret("s3cret");
  {
    ScramServer server(secret, "servernonce");
    ScramClient client("s3cret", "clientnonce");
    auto first = server.ClientFirst(client.ClientFirst());
    ASSERT_TRUE(first.ok());
    auto client_final = client.ClientFinal(*first);
    ASSERT_TRUE(client_final.ok());
    auto server_final = server.ClientFinal(*client_final);
    ASSERT_TRUE(server_final.ok()) << server_final.status().ToString();
    EXPECT_TRUE(client.VerifyServerFinal(*server_final));
  }
  {
    ScramServer server(secret, "servernonce");
    ScramClient client("wrong", "clientnonce");
    auto first = server.ClientFirst(client.ClientFirst());
    ASSERT_TRUE(first.ok());
    auto client_final = client.ClientFinal(*first);
    ASSERT_TRUE(client_final.ok());
    auto server_final = server.ClientFinal(*client_final);
    ASSERT_FALSE(server_final.ok());
    EXPECT_EQ(server_final.status().code(), StatusCode::kFailedPrecondition);
  }
  // An unknown user's mock secret fails the same way.
  {
    ScramServer server(MockScramSecret("key", "nobody"), "servernonce");
    ScramClient client("anything", "clientnonce");
    auto first = server.ClientFirst(client.ClientFirst());
    ASSERT_TRUE(first.ok());
    auto server_final = server.ClientFinal(*client.ClientFinal(*first));
    ASSERT_FALSE(server_final.ok());
    EXPECT_EQ(server_final.status().code(), StatusCode::kFailedPrecondition);
    // Stable salt per name, different between names.
    EXPECT_EQ(MockScramSecret("key", "nobody").salt, MockScramSecret("key", "nobody").salt);
    EXPECT_NE(MockScramSecret("key", "nobody").salt, MockScramSecret("key", "other").salt);
  }
}

TEST(Scram, MalformedMessagesAreRejected) {
  const ScramSecret secret = MakeScramSecret("pw");
  for (const std::string& bad : std::vector<std::string>{"", "n", "n,", "x,,n=,r=abc", "p=tls-server-end-point,,n=,r=abc", "n,a=admin,n=,r=abc",
                          "n,,r=abc", "n,,n=,r=", "n,,n=,r=a,b", "n,,m=ext,n=,r=abc"}) {
    ScramServer server(secret, "sn");
    EXPECT_FALSE(server.ClientFirst(bad).ok()) << bad;
  }
  ScramServer server(secret, "sn");
  ASSERT_TRUE(server.ClientFirst("n,,n=,r=cn").ok());
  // Wrong nonce, wrong binding, missing proof, short proof.
  EXPECT_EQ(server.ClientFinal("c=biws,r=cnXX,p=" + Base64Encode(std::string(32, 'a'))).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(server.ClientFinal("c=eSws,r=cnsn,p=" + Base64Encode(std::string(32, 'a'))).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(server.ClientFinal("c=biws,r=cnsn").ok());
  EXPECT_EQ(server.ClientFinal("c=biws,r=cnsn,p=" + Base64Encode("short")).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(Scram, SecretTextRoundTripAndCleartextCheck) {
  const ScramSecret secret = MakeScramSecret("hunter2");
  const std::string text = FormatScramSecret(secret);
  EXPECT_TRUE(text.starts_with("SCRAM-SHA-256$4096:"));
  auto parsed = ParseScramSecret(text);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(CheckPassword(*parsed, "hunter2"));
  EXPECT_FALSE(CheckPassword(*parsed, "hunter3"));
  EXPECT_FALSE(ParseScramSecret("md5abc").ok());
  EXPECT_FALSE(ParseScramSecret("SCRAM-SHA-256$x:abc$def:ghi").ok());
}

}  // namespace
}  // namespace sluice::server::pgwire
