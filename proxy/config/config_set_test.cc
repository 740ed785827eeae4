#include "proxy/config/config_set.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "iocore/tls/cert_gen.h"

namespace tollgate {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

std::string MakeDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string templ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/config_set.XXXXXX");
  EXPECT_NE(mkdtemp(templ.data()), nullptr) << strerror(errno);
  return templ;
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
  ASSERT_TRUE(out.good()) << path;
}

void WriteCert(const std::string& cert_path, const std::string& key_path) {
  absl::StatusOr<GeneratedCert> cert = MakeCert({.common_name = "a.test", .dns_names = {"a.test"}});
  ASSERT_TRUE(cert.ok()) << cert.status();
  WriteFile(cert_path, cert->CertPem());
  WriteFile(key_path, cert->KeyPem());
}

TEST(EmbeddedConfigTest, LoopbackPortsAndAGeneratedCertificate) {
  absl::StatusOr<ConfigSet> config = EmbeddedConfig();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->config_dir, IsEmpty());
  EXPECT_THAT(config->files, IsEmpty());
  ASSERT_EQ(config->ports.size(), 2u);
  EXPECT_EQ(config->ports[0].ToString(), "127.0.0.1:8080 (http)");
  EXPECT_EQ(config->ports[1].ToString(), "127.0.0.1:8443 (tls)");
  ASSERT_EQ(config->certs->size(), 1u);
  EXPECT_NE(config->certs->FindByName("localhost"), nullptr);
  EXPECT_EQ(config->sni->size(), 0u);
  EXPECT_EQ(config->remap->size(), 0u);
  EXPECT_THAT(config->plugins, IsEmpty());
  EXPECT_THAT(config->warnings, IsEmpty());
}

TEST(LoadConfigDirTest, EmptyDirectoryGivesDefaultsAndWarnsAboutTlsWithoutCertificates) {
  const std::string dir = MakeDir();
  absl::StatusOr<ConfigSet> config = LoadConfigDir(dir);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->files.size(), 5u);
  for (const ConfigFileState& file : config->files) EXPECT_FALSE(file.present) << file.name;
  EXPECT_EQ(config->files[0].path, dir + "/records.yaml");
  EXPECT_EQ(config->ports.size(), 2u);
  EXPECT_EQ(config->certs->size(), 0u);
  ASSERT_EQ(config->warnings.size(), 1u);
  EXPECT_THAT(config->warnings[0], StartsWith("1 TLS port but no certificate"));
}

TEST(LoadConfigDirTest, CertAndKeyPathsResolveAgainstTheConfigDirectory) {
  const std::string dir = MakeDir();
  ASSERT_EQ(mkdir((dir + "/certs").c_str(), 0700), 0);
  ASSERT_EQ(mkdir((dir + "/keys").c_str(), 0700), 0);
  WriteCert(dir + "/certs/a.pem", dir + "/keys/a.key");
  WriteFile(dir + "/records.yaml",
            "ts:\n"
            "  ssl.server.cert.path: certs\n"
            "  ssl.server.private_key.path: keys\n"
            "  ssl.server.multicert.filename: certs.config\n");
  WriteFile(dir + "/certs.config", "ssl_cert_name=a.pem ssl_key_name=a.key dest_ip=*\n");
  absl::StatusOr<ConfigSet> config = LoadConfigDir(dir);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->certs->size(), 1u);
  EXPECT_NE(config->certs->FindByName("a.test"), nullptr);
  EXPECT_TRUE(config->files[1].present);
  EXPECT_EQ(config->files[1].path, dir + "/certs.config");
  EXPECT_THAT(config->warnings, IsEmpty());
}

TEST(LoadConfigDirTest, PluginsAreFoundInTheConfigDirectoryThenPluginDir) {
  const std::string dir = MakeDir();
  ASSERT_EQ(mkdir((dir + "/libexec").c_str(), 0700), 0);
  WriteFile(dir + "/here.so", "");
  WriteFile(dir + "/libexec/there.so", "");
  WriteFile(dir + "/records.yaml", "ts:\n  plugin.plugin_dir: libexec\n");
  WriteFile(dir + "/plugin.config", "here.so a \"b c\"\nthere.so\n");
  absl::StatusOr<ConfigSet> config = LoadConfigDir(dir);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->plugins.size(), 2u);
  EXPECT_EQ(config->plugins[0].resolved, dir + "/here.so");
  EXPECT_THAT(config->plugins[0].line.args, ::testing::ElementsAre("a", "b c"));
  EXPECT_EQ(config->plugins[1].resolved, dir + "/libexec/there.so");

  WriteFile(dir + "/plugin.config", "# none\n/no/such/plugin.so\n");
  config = LoadConfigDir(dir);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(),
            absl::StrCat(dir, "/plugin.config:2: plugin '/no/such/plugin.so' not found"));
}

TEST(LoadConfigDirTest, MissingTicketKeyFileNamesTheRecordsLine) {
  const std::string dir = MakeDir();
  WriteFile(dir + "/records.yaml", "ts:\n  ssl.server.ticket_key.filename: keys.bin\n");
  absl::StatusOr<ConfigSet> config = LoadConfigDir(dir);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              StartsWith(absl::StrCat(dir,
                                      "/records.yaml:2: "
                                      "proxy.config.ssl.server.ticket_key.filename: ")));
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("keys.bin"));

  WriteFile(dir + "/keys.bin", std::string(48, 'k'));
  config = LoadConfigDir(dir);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->files.back().name, "ticket key file");
}

TEST(LoadConfigDirTest, GroupsAndCipherSuiteReachTheTlsSettings) {
  const std::string dir = MakeDir();
  WriteFile(dir + "/records.config",
            "CONFIG proxy.config.ssl.server.groups_list STRING P-256:X25519\n"
            "CONFIG proxy.config.ssl.server.cipher_suite STRING ECDHE-ECDSA-AES128-GCM-SHA256\n");
  absl::StatusOr<ConfigSet> config = LoadConfigDir(dir);
  ASSERT_TRUE(config.ok()) << config.status();
  const TlsServerSettings settings = ServerTlsSettings(*config);
  EXPECT_EQ(settings.groups, "P-256:X25519");
  EXPECT_EQ(settings.cipher_suites, "ECDHE-ECDSA-AES128-GCM-SHA256");
}

TEST(LoadConfigDirTest, DefaultGroupsIncludeThePostQuantumHybrid) {
  absl::StatusOr<ConfigSet> config = LoadConfigDir(MakeDir());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(ServerTlsSettings(*config).groups, "X25519:P-256:CECPQ2");
}

TEST(LoadConfigDirTest, UnknownGroupOrCipherNamesTheRecordsLine) {
  const std::string dir = MakeDir();
  WriteFile(dir + "/records.config",
            "# tls\nCONFIG proxy.config.ssl.server.groups_list STRING X25519:NoSuchGroup\n");
  absl::StatusOr<ConfigSet> config = LoadConfigDir(dir);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      std::string(config.status().message()),
      StartsWith(absl::StrCat(dir, "/records.config:2: proxy.config.ssl.server.groups_list: ")));
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("NoSuchGroup"));

  WriteFile(dir + "/records.config",
            "CONFIG proxy.config.ssl.server.cipher_suite STRING NOT-A-CIPHER\n");
  config = LoadConfigDir(dir);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(
      std::string(config.status().message()),
      StartsWith(absl::StrCat(dir, "/records.config:1: proxy.config.ssl.server.cipher_suite: ")));
}

TEST(LoadConfigDirTest, UnloadableOriginCaFileNamesTheRecordsLine) {
  const std::string dir = MakeDir();
  WriteFile(dir + "/records.yaml", "ts:\n  ssl.client.CA.cert.filename: " + dir + "/no-ca.pem\n");
  absl::StatusOr<ConfigSet> config = LoadConfigDir(dir);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              StartsWith(absl::StrCat(
                  dir, "/records.yaml:2: proxy.config.ssl.client.CA.cert.filename: cannot load")));

  // A real bundle is accepted.
  absl::StatusOr<GeneratedCert> ca = MakeCert({.common_name = "CA", .is_ca = true});
  ASSERT_TRUE(ca.ok()) << ca.status();
  WriteFile(dir + "/no-ca.pem", ca->CertPem());
  config = LoadConfigDir(dir);
  EXPECT_TRUE(config.ok()) << config.status();
}

TEST(LoadConfigDirTest, NotADirectory) {
  absl::StatusOr<ConfigSet> config = LoadConfigDir("/no/such/dir");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(config.status().message(), "/no/such/dir: not a directory");
}

}  // namespace
}  // namespace tollgate
