#include "server/pgwire/protocol.h"

#include <gtest/gtest.h>

#include "server/pgwire/pg_types.h"
#include "server/pgwire/test_messages.h"

namespace sluice::server::pgwire {
namespace {

using testing::Bind;
using testing::GetInt16;
using testing::GetInt32;
using testing::Parse;
using testing::PutInt32;
using testing::Query;
using testing::Startup;
using testing::Typed;
using testing::Untyped;

TEST(PgProtocol, DecodesAFrameOnlyWhenComplete) {
  const std::string q = Query("SELECT 1");
  size_t consumed = 0;
  for (size_t n = 0; n < q.size(); ++n) {
    auto frame = DecodeFrame(std::string_view(q).substr(0, n), 1024, &consumed);
    ASSERT_TRUE(frame.ok());
    EXPECT_FALSE(frame->has_value()) << "prefix of " << n << " bytes";
  }
  const std::string with_more = q + "trailing";
  auto frame = DecodeFrame(with_more, 1024, &consumed);
  ASSERT_TRUE(frame.ok());
  ASSERT_TRUE(frame->has_value());
  EXPECT_EQ((*frame)->type, 'Q');
  EXPECT_EQ(consumed, q.size());
  auto text = ParseQueryMessage((*frame)->body);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "SELECT 1");
}

TEST(PgProtocol, RejectsBadAndOversizedLengths) {
  std::string bad = "Q";
  PutInt32(&bad, 3);  // below the length word itself
  size_t consumed = 0;
  auto r = DecodeFrame(bad, 1024, &consumed);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);

  std::string negative = "Q";
  PutInt32(&negative, -5);
  EXPECT_FALSE(DecodeFrame(negative, 1024, &consumed).ok());

  // An oversized message is refused from its header alone, before its body arrives.
  std::string big = "Q";
  PutInt32(&big, 4 + 2048);
  r = DecodeFrame(big, 1024, &consumed);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kTooLarge);
}

TEST(PgProtocol, StartupPackets) {
  size_t consumed = 0;
  const std::string s = Startup({{"user", "alice"}, {"database", "db"}});
  auto frame = DecodeStartupFrame(s, &consumed);
  ASSERT_TRUE(frame.ok());
  ASSERT_TRUE(frame->has_value());
  auto p = ParseStartupPacket(**frame);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->kind, StartupKind::kStartup);
  EXPECT_EQ(p->protocol, kProtocolVersion3);
  ASSERT_EQ(p->params.size(), 2u);
  EXPECT_EQ(p->params[0].second, "alice");

  auto ssl = ParseStartupPacket(std::string_view(Untyped(kSslRequestCode)).substr(4));
  ASSERT_TRUE(ssl.ok());
  EXPECT_EQ(ssl->kind, StartupKind::kSslRequest);
  auto gss = ParseStartupPacket(std::string_view(Untyped(kGssEncRequestCode)).substr(4));
  ASSERT_TRUE(gss.ok());
  EXPECT_EQ(gss->kind, StartupKind::kGssEncRequest);
  auto cancel = ParseStartupPacket(std::string_view(Untyped(kCancelRequestCode, {42, 7})).substr(4));
  ASSERT_TRUE(cancel.ok());
  EXPECT_EQ(cancel->kind, StartupKind::kCancel);
  EXPECT_EQ(cancel->cancel_pid, 42);
  EXPECT_EQ(cancel->cancel_secret, 7);
  // A cancel request without its key is malformed.
  EXPECT_FALSE(ParseStartupPacket(std::string_view(Untyped(kCancelRequestCode, {42})).substr(4)).ok());
}

TEST(PgProtocol, StartupRejectsMalformedAndHugePackets) {
  size_t consumed = 0;
  std::string tiny;
  PutInt32(&tiny, 4);
  EXPECT_FALSE(DecodeStartupFrame(tiny, &consumed).ok());
  std::string huge;
  PutInt32(&huge, static_cast<int32_t>(kMaxStartupPacketBytes + 1));
  EXPECT_FALSE(DecodeStartupFrame(huge, &consumed).ok());
  // A parameter name without its terminating NUL.
  std::string body;
  PutInt32(&body, kProtocolVersion3);
  body += "user";
  auto p = ParseStartupPacket(body);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("NUL"), std::string::npos);
  // A value missing after a name.
  body.push_back('\0');
  EXPECT_FALSE(ParseStartupPacket(body).ok());
}

TEST(PgProtocol, ParseAndBindMessages) {
  const std::string parse = Parse("s1", "SELECT $1, $2", {23, 0});
  auto p = ParseParseMessage(std::string_view(parse).substr(5));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->statement, "s1");
  EXPECT_EQ(p->query, "SELECT $1, $2");
  EXPECT_EQ(p->param_types, (std::vector<uint32_t>{23, 0}));

  const std::string bind = Bind("p1", "s1", {std::string("42"), std::nullopt}, {0, 1}, {1});
  auto b = ParseBindMessage(std::string_view(bind).substr(5));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->portal, "p1");
  ASSERT_EQ(b->params.size(), 2u);
  EXPECT_EQ(*b->params[0], "42");
  EXPECT_FALSE(b->params[1].has_value());
  EXPECT_EQ(b->result_formats, (std::vector<int16_t>{1}));
}

TEST(PgProtocol, TruncatedMessagesAreErrorsAtEveryCut) {
  const std::string bind = Bind("portal", "stmt", {std::string("value"), std::nullopt}, {0}, {0, 1});
  const std::string_view body = std::string_view(bind).substr(5);
  for (size_t n = 0; n < body.size(); ++n) {
    EXPECT_FALSE(ParseBindMessage(body.substr(0, n)).ok()) << "cut at " << n;
  }
  const std::string parse = Parse("s", "SELECT 1", {23});
  const std::string_view pbody = std::string_view(parse).substr(5);
  for (size_t n = 0; n < pbody.size(); ++n) {
    EXPECT_FALSE(ParseParseMessage(pbody.substr(0, n)).ok()) << "cut at " << n;
  }
}

TEST(PgProtocol, BindRejectsLiesAboutCountsAndFormats) {
  // 1000 parameters announced, none present.
  std::string body;
  body += std::string("\0\0", 2);  // portal "", statement ""
  testing::PutInt16(&body, 0);
  testing::PutInt16(&body, 1000);
  auto b = ParseBindMessage(body);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("exceed"), std::string::npos);
  // A parameter whose length runs past the message.
  body = std::string("\0\0", 2);
  testing::PutInt16(&body, 0);
  testing::PutInt16(&body, 1);
  PutInt32(&body, 100);
  body += "abc";
  EXPECT_FALSE(ParseBindMessage(body).ok());
  // Format code 2 does not exist.
  body = std::string("\0\0", 2);
  testing::PutInt16(&body, 1);
  testing::PutInt16(&body, 2);
  EXPECT_FALSE(ParseBindMessage(body).ok());
  // Negative lengths other than -1.
  body = std::string("\0\0", 2);
  testing::PutInt16(&body, 0);
  testing::PutInt16(&body, 1);
  PutInt32(&body, -7);
  testing::PutInt16(&body, 0);
  EXPECT_FALSE(ParseBindMessage(body).ok());
  // Trailing garbage.
  const std::string ok = Bind("", "", {});
  EXPECT_FALSE(ParseBindMessage(std::string(std::string_view(ok).substr(5)) + "x").ok());
}

TEST(PgProtocol, DescribeCloseExecute) {
  auto d = ParseDescribeMessage(std::string_view(testing::Describe('P', "p")).substr(5));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->target, 'P');
  EXPECT_FALSE(ParseDescribeMessage(std::string_view(testing::Describe('X', "p")).substr(5)).ok());
  auto e = ParseExecuteMessage(std::string_view(testing::Execute("p", 10)).substr(5));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->max_rows, 10);
  auto c = ParseCloseMessage(std::string_view(testing::Close('S', "s")).substr(5));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->name, "s");
}

TEST(PgProtocol, WriterFramesAndSanitizes) {
  std::string out;
  MessageWriter w(&out);
  w.CommandComplete(std::string("SELECT\0 1\xff", 10));
  ASSERT_EQ(out[0], 'C');
  EXPECT_EQ(GetInt32(out, 1), static_cast<int32_t>(out.size() - 1));
  // NUL dropped, the invalid byte replaced by U+FFFD.
  EXPECT_EQ(out.substr(5), std::string("SELECT 1\xEF\xBF\xBD\0", 12));

  out.clear();
  ErrorFields e;
  e.sqlstate = "42601";
  e.message = "syntax error";
  e.position = 7;
  w.ErrorResponse(e);
  auto messages = testing::Split(out);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(testing::ErrorField(messages[0].body, 'C'), "42601");
  EXPECT_EQ(testing::ErrorField(messages[0].body, 'P'), "7");
  EXPECT_EQ(testing::ErrorField(messages[0].body, 'S'), "ERROR");
}

TEST(PgProtocol, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));          // truncated
}

TEST(PgTypes, TextAndBinaryDataRows) {
  std::vector<sql::Value> row = {sql::Value::Boolean(true), sql::Value::Int(-5), sql::Value::Bigint(1LL << 40),
                                 sql::Value::Double(1.5), sql::Value::Decimal(-12345, 10, 2),
                                 sql::Value::Varchar("héllo"), sql::Value::Timestamp(0),
                                 sql::Value::Date(10957), sql::Value::Null(sql::DataType::Int())};
  std::string out;
  MessageWriter w(&out);
  AppendDataRow(row, {}, &w);
  auto messages = testing::Split(out);
  ASSERT_EQ(messages.size(), 1u);
  auto text = testing::RowValues(messages[0].body);
  ASSERT_EQ(text.size(), row.size());
  EXPECT_EQ(*text[0], "t");
  EXPECT_EQ(*text[1], "-5");
  EXPECT_EQ(*text[2], "1099511627776");
  EXPECT_EQ(*text[3], "1.5");
  EXPECT_EQ(*text[4], "-123.45");
  EXPECT_EQ(*text[5], "héllo");
  EXPECT_EQ(*text[6], "1970-01-01 00:00:00");
  EXPECT_EQ(*text[7], "2000-01-01");
  EXPECT_FALSE(text[8].has_value());

  out.clear();
  AppendDataRow(row, std::vector<int16_t>(row.size(), 1), &w);
  messages = testing::Split(out);
  auto bin = testing::RowValues(messages[0].body);
  EXPECT_EQ(*bin[0], std::string(1, '\1'));
  EXPECT_EQ(GetInt32(*bin[1], 0), -5);
  EXPECT_EQ(GetInt32(*bin[2], 0), 256);  // high word of 2^40
  EXPECT_EQ(*bin[3], std::string("\x3f\xf8\0\0\0\0\0\0", 8));
  // numeric -123.45: ndigits 2, weight 0, sign negative, dscale 2, digits 123, 4500.
  ASSERT_EQ(bin[4]->size(), 12u);
  EXPECT_EQ(GetInt16(*bin[4], 0), 2);
  EXPECT_EQ(GetInt16(*bin[4], 2), 0);
  EXPECT_EQ(static_cast<uint16_t>(GetInt16(*bin[4], 4)), 0x4000);
  EXPECT_EQ(GetInt16(*bin[4], 6), 2);
  EXPECT_EQ(GetInt16(*bin[4], 8), 123);
  EXPECT_EQ(GetInt16(*bin[4], 10), 4500);
  // 1970-01-01 is 946684800 s before PostgreSQL's epoch.
  const int64_t micros = (int64_t{GetInt32(*bin[6], 0)} << 32) | static_cast<uint32_t>(GetInt32(*bin[6], 4));
  EXPECT_EQ(micros, -946684800LL * 1000000);
  EXPECT_EQ(GetInt32(*bin[7], 0), 0);
}

TEST(PgTypes, OidsAndModifiers) {
  EXPECT_EQ(TypeOid(sql::DataType::Boolean()), 16u);
  EXPECT_EQ(TypeOid(sql::DataType::Int()), 23u);
  EXPECT_EQ(TypeOid(sql::DataType::Bigint()), 20u);
  EXPECT_EQ(TypeOid(sql::DataType::Double()), 701u);
  EXPECT_EQ(TypeOid(sql::DataType::Decimal(10, 2)), 1700u);
  EXPECT_EQ(TypeOid(sql::DataType::Varchar()), 1043u);
  EXPECT_EQ(TypeOid(sql::DataType::Timestamp()), 1114u);
  EXPECT_EQ(TypeOid(sql::DataType::Timestamptz()), 1184u);
  EXPECT_EQ(TypeOid(sql::DataType::Interval()), 1186u);
  EXPECT_EQ(TypeOid(sql::DataType::Date()), 1082u);
  EXPECT_EQ(TypeModifier(sql::DataType::Decimal(10, 2)), (10 << 16 | 2) + 4);
  EXPECT_EQ(PgTypeName(sql::DataType::Varchar()), "character varying");
}

TEST(PgTypes, ParametersBecomeSafeLiterals) {
  auto lit = [](uint32_t oid, int16_t format, std::optional<std::string> v) {
    auto r = ParameterLiteral(oid, format, v ? std::optional<std::string_view>(*v) : std::nullopt, 0);
    return r.ok() ? *r : "ERROR: " + r.status().message();
  };
  EXPECT_EQ(lit(0, 0, "it's'; DROP SOURCE x; --"), "'it''s''; DROP SOURCE x; --'");
  EXPECT_EQ(lit(oid::kInt8, 0, "42"), "42");
  EXPECT_EQ(lit(oid::kInt8, 0, "-42"), "(-42)");
  EXPECT_NE(lit(oid::kInt4, 0, "1; DROP").find("invalid input syntax"), std::string::npos);
  EXPECT_EQ(lit(oid::kBool, 0, "t"), "TRUE");
  EXPECT_EQ(lit(oid::kNumeric, 0, "-1.50"), "(-1.50)");
  EXPECT_NE(lit(oid::kNumeric, 0, "1)+(2").find("invalid input syntax"), std::string::npos);
  EXPECT_EQ(lit(oid::kTimestamp, 0, "2026-01-02 03:04:05"), "TIMESTAMP '2026-01-02 03:04:05'");
  EXPECT_EQ(lit(oid::kInt4, 0, std::nullopt), "CAST(NULL AS INT)");
  std::string b;
  PutInt32(&b, -7);
  EXPECT_EQ(lit(oid::kInt4, 1, b), "(-7)");
  EXPECT_NE(lit(oid::kInt4, 1, "abc").find("incorrect binary data format"), std::string::npos);
  std::string ts(8, '\0');  // 2000-01-01 00:00:00
  EXPECT_EQ(lit(oid::kTimestamp, 1, ts), "TIMESTAMP '2000-01-01 00:00:00'");
  std::string date(4, '\0');
  EXPECT_EQ(lit(oid::kDate, 1, date), "DATE '2000-01-01'");
  std::string d = "\x3f\xf8";
  d.append(6, '\0');
  EXPECT_EQ(lit(oid::kFloat8, 1, d), "CAST('1.5' AS DOUBLE)");
  // numeric -123.45 in binary.
  std::string num;
  testing::PutInt16(&num, 2);
  testing::PutInt16(&num, 0);
  testing::PutInt16(&num, 0x4000);
  testing::PutInt16(&num, 2);
  testing::PutInt16(&num, 123);
  testing::PutInt16(&num, 4500);
  EXPECT_EQ(lit(oid::kNumeric, 1, num), "(-123.45)");
  EXPECT_NE(lit(0, 0, std::string("a\0b", 3)).find("0x00"), std::string::npos);
  EXPECT_NE(lit(0, 0, "\xff").find("invalid byte sequence"), std::string::npos);
  EXPECT_NE(lit(600, 1, "xx").find("not supported"), std::string::npos);
}

}  // namespace
}  // namespace sluice::server::pgwire
