#include "cli/config.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace sluice::cli {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    path_ = (std::filesystem::temp_directory_path() / ("sluice-config-test-" + std::to_string(::getpid()) + ".toml"))
                .string();
    std::ofstream(path_) << text;
    return path_;
  }
  void TearDown() override { std::filesystem::remove(path_); }
  std::string path_;
};

TEST_F(ConfigTest, ReadsEverySection) {
  ServerConfig c;
  Status s = LoadConfigFile(Write(R"(
[server]
http_port = 18080
data_dir = "/var/lib/sluice"
io_threads = 4
[log]
fsync = "interval"
fsync_interval = "250ms"
segment_bytes = "64MiB"
retention = "2d"
[ingest]
auto_create_topics = false
default_partitions = 8
idempotency_window = "30m"
max_body_bytes = "1MiB"
)"),
                            &c);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.http.port, 18080);
  EXPECT_EQ(c.engine.data_dir, "/var/lib/sluice");
  EXPECT_EQ(c.http.io_threads, 4);
  EXPECT_EQ(c.engine.log.fsync, log::FsyncPolicy::kInterval);
  EXPECT_EQ(c.engine.log.fsync_interval_ms, 250);
  EXPECT_EQ(c.engine.log.segment_bytes, 64u << 20);
  EXPECT_EQ(c.engine.log.default_retention_ms, 2 * 24 * 3600 * 1000LL);
  EXPECT_FALSE(c.engine.auto_create_topics);
  EXPECT_EQ(c.engine.default_partitions, 8);
  EXPECT_EQ(c.engine.idempotency_window_ms, 30 * 60 * 1000);
  EXPECT_EQ(c.http.max_body_bytes, 1u << 20);
}

TEST_F(ConfigTest, ReadsThePgwireSection) {
  ServerConfig c;
  Status s = LoadConfigFile(Write(R"(
[server]
pg_port = 15433
[pgwire]
auth = "scram-sha-256"
users = [{name = "alice", password = "pw"}, {name = "bob", password = "SCRAM-SHA-256$4096:c2FsdA==$a:b"}]
io_threads = 3
query_threads = 2
max_message_bytes = "1MiB"
auth_timeout = "5s"
)"),
                            &c);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.pgwire.port, 15433);
  EXPECT_EQ(c.pgwire.auth, server::pgwire::AuthMethod::kScram);
  ASSERT_EQ(c.pgwire.users.size(), 2u);
  EXPECT_EQ(c.pgwire.users[1].name, "bob");
  EXPECT_EQ(c.pgwire.io_threads, 3);
  EXPECT_EQ(c.pgwire.query_threads, 2);
  EXPECT_EQ(c.pgwire.max_message_bytes, 1u << 20);
  EXPECT_EQ(c.pgwire.auth_timeout_ms, 5000);

  ServerConfig d;
  s = LoadConfigFile(Write("[pgwire]\nauth = \"password\"\n"), &d);
  EXPECT_NE(s.message().find("needs at least one user"), std::string::npos) << s.ToString();
  ServerConfig zero;
  s = LoadConfigFile(Write("[pgwire]\nio_threads = 0\n"), &zero);
  EXPECT_NE(s.message().find("io_threads and query_threads must be between 1 and 256"), std::string::npos) << s.ToString();
  s = LoadConfigFile(Write("[pgwire]\nauth = \"md5\"\n"), &d);
  EXPECT_NE(s.message().find("unknown auth method 'md5'"), std::string::npos) << s.ToString();
  s = LoadConfigFile(Write("[pgwire]\nusers = [{name = \"x\", pasword = \"y\"}]\n"), &d);
  EXPECT_NE(s.message().find("pasword"), std::string::npos) << s.ToString();
}

TEST_F(ConfigTest, UnknownKeyIsAnErrorNamingIt) {
  ServerConfig c;
  Status s = LoadConfigFile(Write("[server]\nhttp_prot = 1\n"), &c);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("http_prot"), std::string::npos);
}

TEST_F(ConfigTest, SyntaxErrorNamesLine) {
  ServerConfig c;
  Status s = LoadConfigFile(Write("[server]\nhttp_port = = 1\n"), &c);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find(":2:"), std::string::npos) << s.message();
}

TEST_F(ConfigTest, WrongTypesAndRangesAreErrors) {
  ServerConfig c;
  EXPECT_FALSE(LoadConfigFile(Write("[server]\nhttp_port = \"x\"\n"), &c).ok());
  EXPECT_FALSE(LoadConfigFile(Write("[server]\nhttp_port = 70000\n"), &c).ok());
  EXPECT_FALSE(LoadConfigFile(Write("[log]\nfsync = \"sometimes\"\n"), &c).ok());
  EXPECT_FALSE(LoadConfigFile(Write("[ingest]\ndefault_partitions = 0\n"), &c).ok());
}

TEST(ConfigParseTest, SizesAndDurations) {
  EXPECT_EQ(*ParseByteSize("4096"), 4096u);
  EXPECT_EQ(*ParseByteSize("2KiB"), 2048u);
  EXPECT_EQ(*ParseByteSize("1GB"), 1'000'000'000u);
  EXPECT_FALSE(ParseByteSize("12 parsecs").ok());
  EXPECT_FALSE(ParseByteSize("").ok());
  EXPECT_EQ(*ParseDurationMs("1h"), 3'600'000);
  EXPECT_EQ(*ParseDurationMs("-1"), -1);
  EXPECT_FALSE(ParseDurationMs("soon").ok());
}

}  // namespace
}  // namespace sluice::cli
