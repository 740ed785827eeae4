#include "proxy/config/records.h"

#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/config/ports.h"

namespace tollgate {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(RecordsDefaultsTest, MatchTheDocumentedDefaults) {
  const RecordsConfig c;
  EXPECT_EQ(c.http_server_ports, "8080 8443:ssl");
  EXPECT_EQ(c.ssl_handshake_timeout_in, 30);
  EXPECT_EQ(c.ssl_max_record_size, 0);
  EXPECT_TRUE(c.ssl_tlsv1_2);
  EXPECT_TRUE(c.ssl_tlsv1_3);
  EXPECT_EQ(c.ssl_client_verify_server_policy, VerifyServerPolicy::kPermissive);
  EXPECT_EQ(c.ssl_servername_filename, "sni.yaml");
  EXPECT_EQ(c.ssl_server_multicert_filename, "ssl_multicert.config");
  EXPECT_EQ(c.net_connections_throttle, 30000);
  EXPECT_EQ(c.net_default_inactivity_timeout, 86400);
  EXPECT_TRUE(c.exec_thread_autoconfig);
  EXPECT_EQ(c.exec_thread_limit, 2);
  EXPECT_EQ(c.task_threads, 2);
  EXPECT_EQ(c.http_keep_alive_no_activity_timeout_in, 120);
  EXPECT_EQ(c.http_keep_alive_no_activity_timeout_out, 120);
  EXPECT_EQ(c.http_transaction_no_activity_timeout_in, 30);
  EXPECT_EQ(c.http_transaction_no_activity_timeout_out, 30);
  EXPECT_EQ(c.http_connect_attempts_timeout, 30);
  EXPECT_FALSE(c.diags_debug_enabled);
  EXPECT_EQ(c.diags_debug_tags, "");
  EXPECT_EQ(c.admin_port, 8081);
  EXPECT_EQ(c.stop_shutdown_timeout, 30);
  EXPECT_TRUE(ParseServerPorts(c.http_server_ports).ok());
}

// --- records.yaml --------------------------------------------------------------------------------

TEST(RecordsYamlTest, NestedMapsAndDottedKeysBothName) {
  std::vector<std::string> warnings;
  absl::StatusOr<RecordsConfig> c = LoadRecordsYaml(R"(ts:
  http:
    server_ports: 80 443:ssl:ipv6
    keep_alive_no_activity_timeout_in: 60
  ssl.server.cert.path: /etc/certs
  ssl:
    TLSv1_2: 0
    max_record_size: -1
    client:
      verify.server.policy: enforced
  diags:
    debug: {enabled: 1, tags: http|ssl}
  admin.port: 0
  task_threads: 4
)",
                                                    "records.yaml", &warnings);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(warnings, IsEmpty());
  EXPECT_EQ(c->http_server_ports, "80 443:ssl:ipv6");
  EXPECT_EQ(c->http_keep_alive_no_activity_timeout_in, 60);
  EXPECT_EQ(c->ssl_server_cert_path, "/etc/certs");
  EXPECT_FALSE(c->ssl_tlsv1_2);
  EXPECT_TRUE(c->ssl_tlsv1_3);
  EXPECT_EQ(c->ssl_max_record_size, -1);
  EXPECT_EQ(c->ssl_client_verify_server_policy, VerifyServerPolicy::kEnforced);
  EXPECT_TRUE(c->diags_debug_enabled);
  EXPECT_EQ(c->diags_debug_tags, "http|ssl");
  EXPECT_EQ(c->admin_port, 0);
  EXPECT_EQ(c->task_threads, 4);
  EXPECT_EQ(c->source, "records.yaml");
  EXPECT_EQ(c->lines.at("proxy.config.http.server_ports"), 3);
  EXPECT_EQ(c->lines.at("proxy.config.ssl.client.verify.server.policy"), 10);
  EXPECT_FALSE(c->lines.contains("proxy.config.ssl.TLSv1_3"));
}

TEST(RecordsYamlTest, EmptyFileAndEmptyTsGiveDefaults) {
  for (const char* text : {"", "ts:\n", "# nothing\n", "records:\n"}) {
    absl::StatusOr<RecordsConfig> c = LoadRecordsYaml(text, "records.yaml", nullptr);
    ASSERT_TRUE(c.ok()) << text << ": " << c.status();
    EXPECT_EQ(c->admin_port, 8081);
  }
}

TEST(RecordsYamlTest, NullStringValueIsEmpty) {
  absl::StatusOr<RecordsConfig> c =
      LoadRecordsYaml("ts:\n  ssl.servername.filename:\n", "records.yaml", nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->ssl_servername_filename, "");
}

TEST(RecordsYamlTest, UnknownRecordsAndTopLevelKeysWarnWithFileAndLine) {
  std::vector<std::string> warnings;
  absl::StatusOr<RecordsConfig> c = LoadRecordsYaml(R"(ts:
  http:
    cache:
      http: 1
    server_ports: 8080
  bogus: [1, 2]
other: 1
)",
                                                    "/etc/tg/records.yaml", &warnings);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->http_server_ports, "8080");
  EXPECT_THAT(warnings,
              ElementsAre("/etc/tg/records.yaml:4: unknown record 'proxy.config.http.cache.http' "
                          "ignored",
                          "/etc/tg/records.yaml:6: unknown record 'proxy.config.bogus' ignored",
                          "/etc/tg/records.yaml:7: unknown top-level key 'other' ignored"));
}

TEST(RecordsYamlTest, OutOfRangeNamesFileLineKeyAndRange) {
  absl::StatusOr<RecordsConfig> c =
      LoadRecordsYaml("ts:\n  ssl:\n    max_record_size: 20000\n", "records.yaml", nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "records.yaml:3: proxy.config.ssl.max_record_size: '20000' is not an integer in "
            "-1..16383");
}

TEST(RecordsYamlTest, WrongTypeIsAnError) {
  absl::StatusOr<RecordsConfig> c =
      LoadRecordsYaml("ts:\n  admin.port: eighty\n", "records.yaml", nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "records.yaml:2: proxy.config.admin.port: 'eighty' is not an integer in 0..65535");

  c = LoadRecordsYaml("ts:\n  ssl.TLSv1_3: 2\n", "records.yaml", nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "records.yaml:2: proxy.config.ssl.TLSv1_3: '2' is not 0 or 1");

  c = LoadRecordsYaml("ts:\n  exec_thread:\n    limit: [1]\n", "records.yaml", nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              HasSubstr("records.yaml:3: proxy.config.exec_thread.limit: expected an INT value, "
                        "got a list"));

  c = LoadRecordsYaml("ts:\n  net.connections_throttle:\n", "records.yaml", nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("records.yaml:2: proxy.config.net."));
}

TEST(RecordsYamlTest, BadEnumListsTheValidValues) {
  absl::StatusOr<RecordsConfig> c = LoadRecordsYaml(
      "ts:\n  ssl.client.verify.server.policy: SOMETIMES\n", "records.yaml", nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "records.yaml:2: proxy.config.ssl.client.verify.server.policy: 'SOMETIMES' is not one "
            "of DISABLED, PERMISSIVE, ENFORCED");
}

TEST(RecordsYamlTest, BadServerPortsIsAnErrorAtItsLine) {
  absl::StatusOr<RecordsConfig> c =
      LoadRecordsYaml("ts:\n\n  http.server_ports: 8080 443:blind\n", "records.yaml", nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              HasSubstr("records.yaml:3: proxy.config.http.server_ports: '443:blind': option "
                        "'blind' is not supported"));
}

// yaml-cpp 0.7's LoadAll never returned on these (found by //tests/fuzz/config:records_fuzz).
TEST(RecordsYamlTest, StrayTopLevelCommaIsAnErrorNotAHang) {
  for (absl::string_view text : {",", ",\nts:\n  admin.port: 1\n"}) {
    absl::StatusOr<RecordsConfig> c = LoadRecordsYaml(text, "records.yaml", nullptr);
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_EQ(c.status().message(), "records.yaml:1: yaml: unexpected character outside any node");
  }
  absl::StatusOr<RecordsConfig> c =
      LoadRecordsYaml("ts:\n  admin.port: 1\n---\n,\n", "records.yaml", nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "records.yaml:4: only one YAML document is allowed");
}

TEST(RecordsYamlTest, RecordGivenTwiceIsAnError) {
  absl::StatusOr<RecordsConfig> c =
      LoadRecordsYaml("ts:\n  admin:\n    port: 1\n  admin.port: 2\n", "records.yaml", nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "records.yaml:4: proxy.config.admin.port: given twice (first at line 3)");
}

TEST(RecordsYamlTest, SyntaxErrorNamesTheLine) {
  absl::StatusOr<RecordsConfig> c =
      LoadRecordsYaml("ts:\n  a: [1, 2\n  b: 3\n", "records.yaml", nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("records.yaml:"));
  EXPECT_THAT(c.status().message(), HasSubstr("yaml: "));
}

TEST(RecordsYamlTest, TopLevelMustBeAMap) {
  absl::StatusOr<RecordsConfig> c = LoadRecordsYaml("- 1\n", "records.yaml", nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("records.yaml:1: expected a map with a 'ts' key"));
  c = LoadRecordsYaml("ts: 3\n", "records.yaml", nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("records.yaml:1: ts: expected a map of records"));
}

// --- records.config ------------------------------------------------------------------------------

TEST(RecordsConfigTest, ReadsTypedLinesCommentsAndNull) {
  std::vector<std::string> warnings;
  absl::StatusOr<RecordsConfig> c = LoadRecordsConfig(
      "# Tollgate\r\n"
      "CONFIG proxy.config.http.server_ports STRING 8080 8443:ssl 9443:ssl:ipv6\r\n"
      "\n"
      "   # indented comment\n"
      "CONFIG proxy.config.ssl.handshake_timeout_in INT 10\n"
      "LOCAL proxy.config.ssl.server.ticket_key.filename STRING   ticket.key  \n"
      "CONFIG proxy.config.ssl.servername.filename STRING NULL\n"
      "CONFIG proxy.config.diags.debug.enabled INT 1\n"
      "CONFIG proxy.config.ssl.client.verify.server.policy STRING DISABLED\n",
      "records.config", &warnings);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(warnings, IsEmpty());
  EXPECT_EQ(c->http_server_ports, "8080 8443:ssl 9443:ssl:ipv6");
  EXPECT_EQ(c->ssl_handshake_timeout_in, 10);
  EXPECT_EQ(c->ssl_server_ticket_key_filename, "ticket.key");
  EXPECT_EQ(c->ssl_servername_filename, "");
  EXPECT_TRUE(c->diags_debug_enabled);
  EXPECT_EQ(c->ssl_client_verify_server_policy, VerifyServerPolicy::kDisabled);
  EXPECT_EQ(c->lines.at("proxy.config.ssl.handshake_timeout_in"), 5);
}

TEST(RecordsConfigTest, UnknownRecordWarnsAndDuplicateWarnsLaterWins) {
  std::vector<std::string> warnings;
  absl::StatusOr<RecordsConfig> c = LoadRecordsConfig(
      "CONFIG proxy.config.http.cache.http INT 1\n"
      "CONFIG proxy.config.exec_thread.autoconfig.scale FLOAT 1.5\n"
      "CONFIG proxy.config.admin.port INT 9000\n"
      "CONFIG proxy.config.admin.port INT 9001\n",
      "records.config", &warnings);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->admin_port, 9001);
  EXPECT_EQ(c->lines.at("proxy.config.admin.port"), 4);
  EXPECT_THAT(
      warnings,
      ElementsAre(
          "records.config:1: unknown record 'proxy.config.http.cache.http' ignored",
          "records.config:2: unknown record 'proxy.config.exec_thread.autoconfig.scale' ignored",
          "records.config:4: proxy.config.admin.port: given twice (first at line 3); this line's "
          "value is used"));
}

TEST(RecordsConfigTest, TypeMustMatchTheRecord) {
  absl::StatusOr<RecordsConfig> c =
      LoadRecordsConfig("CONFIG proxy.config.admin.port STRING 80\n", "records.config", nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "records.config:1: proxy.config.admin.port: the record is INT, not STRING");
  c = LoadRecordsConfig("CONFIG proxy.config.admin.port FLOAT 1.5\n", "records.config", nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("the record is INT, not FLOAT"));
  c = LoadRecordsConfig("CONFIG proxy.config.admin.port COUNTER 1\n", "records.config", nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("unknown type 'COUNTER'"));
}

TEST(RecordsConfigTest, InvalidValuesNameFileLineAndRange) {
  absl::StatusOr<RecordsConfig> c = LoadRecordsConfig(
      "\nCONFIG proxy.config.exec_thread.limit INT 0\n", "records.config", nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "records.config:2: proxy.config.exec_thread.limit: '0' is not an integer in 1..4096");
  c = LoadRecordsConfig("CONFIG proxy.config.stop.shutdown_timeout INT\n", "records.config",
                        nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              HasSubstr("records.config:1: proxy.config.stop.shutdown_timeout: '' is not an "
                        "integer"));
  c = LoadRecordsConfig("CONFIG proxy.config.http.server_ports STRING 8080:quic\n",
                        "records.config", nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("option 'quic' is not supported"));
}

TEST(RecordsConfigTest, MalformedLineIsAnError) {
  absl::StatusOr<RecordsConfig> c =
      LoadRecordsConfig("proxy.config.admin.port INT 80\n", "records.config", nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "records.config:1: expected 'CONFIG NAME TYPE VALUE', got 'proxy.config.admin.port "
            "INT 80'");
  c = LoadRecordsConfig("CONFIG proxy.config.admin.port\n", "records.config", nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("expected 'CONFIG NAME TYPE VALUE'"));
}

// --- LoadRecordsFromDir --------------------------------------------------------------------------

class RecordsDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = absl::StrCat(::testing::TempDir(), "/recordsXXXXXX");
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    unlink((dir_ + "/records.yaml").c_str());
    unlink((dir_ + "/records.config").c_str());
    rmdir(dir_.c_str());
  }
  void Write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ + "/" + name) << content;
  }

  std::string dir_;
};

TEST_F(RecordsDirTest, NoFilesGiveDefaults) {
  absl::StatusOr<RecordsConfig> c = LoadRecordsFromDir(dir_, nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->source, "");
  EXPECT_EQ(c->admin_port, 8081);
}

TEST_F(RecordsDirTest, RecordsConfigIsReadWhenThereIsNoYaml) {
  Write("records.config", "CONFIG proxy.config.admin.port INT 9100\n");
  absl::StatusOr<RecordsConfig> c = LoadRecordsFromDir(dir_, nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->admin_port, 9100);
  EXPECT_EQ(c->source, dir_ + "/records.config");
}

TEST_F(RecordsDirTest, YamlWinsAndTheLegacyFileIsWarnedAbout) {
  Write("records.config", "CONFIG proxy.config.admin.port INT 9100\n");
  Write("records.yaml", "ts:\n  admin.port: 9200\n");
  std::vector<std::string> warnings;
  absl::StatusOr<RecordsConfig> c = LoadRecordsFromDir(dir_, &warnings);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->admin_port, 9200);
  EXPECT_THAT(warnings, ElementsAre(HasSubstr("records.config: ignored, because")));
}

TEST_F(RecordsDirTest, ErrorsNameThePath) {
  Write("records.yaml", "ts:\n  admin.port: 70000\n");
  absl::StatusOr<RecordsConfig> c = LoadRecordsFromDir(dir_, nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr(dir_ + "/records.yaml:2: proxy.config.admin.port"));
}

TEST_F(RecordsDirTest, MissingDirectoryIsNotFound) {
  absl::StatusOr<RecordsConfig> c = LoadRecordsFromDir(dir_ + "/nope", nullptr);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
}

TEST(RecordsDescribeTest, FitsOnOneScreen) {
  const std::vector<std::string> lines = RecordsConfig().Describe();
  EXPECT_LE(lines.size(), 20u);
  EXPECT_EQ(lines[0], "records: built-in defaults");
  EXPECT_THAT(lines, testing::Contains("  http.server_ports: 8080 8443:ssl"));
  EXPECT_THAT(lines, testing::Contains("  admin.port: 8081"));
  for (const std::string& line : lines) EXPECT_LE(line.size(), 160u) << line;
}

}  // namespace
}  // namespace tollgate
