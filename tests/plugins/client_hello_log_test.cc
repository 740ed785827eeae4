// client_hello_log through the real loader and C ABI, which also exercises the ClientHello API
// (TSVConnClientHelloGet and its accessors) from a TS_SSL_CLIENT_HELLO_HOOK.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "iocore/eventsystem/diags.h"
#include "tests/util/plugin_host.h"
#include "tests/util/tls_client.h"

namespace tollgate {
namespace {

using test_util::PluginTlsHost;
using test_util::StderrCapture;
using test_util::TlsClient;

const char* g_plugin = nullptr;  // libclient_hello_log.so

// Field returns the value of "name=value" among the space-separated words of |line|.
std::string Field(const std::string& line, const std::string& name) {
  for (absl::string_view word : absl::StrSplit(line, ' ')) {
    if (absl::StartsWith(word, name + "=")) return std::string(word.substr(name.size() + 1));
  }
  return "";
}

TEST(ClientHelloLogPluginTest, LogsSniAlpnAndFingerprintAndTheHandshakeCompletes) {
  StderrCapture log;
  ASSERT_TRUE(SetDebugTags(true, "client_hello_log").ok());
  PluginTlsHost host;
  ASSERT_TRUE(host.LoadPlugin(g_plugin, {}).ok());
  ASSERT_TRUE(host.Start().ok());

  TlsClient client({.sni = "log.test", .alpn = {"h2", "http/1.1"}});
  absl::Status s = client.Connect(host.port());
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(log.WaitFor("(client_hello_log) ", 1));
  std::vector<std::string> lines = log.Lines("(client_hello_log) ");
  ASSERT_EQ(lines.size(), 1u);
  const std::string& line = lines[0];
  EXPECT_NE(line.find("sni=log.test "), std::string::npos) << line;
  EXPECT_NE(line.find("alpn=h2,http/1.1 "), std::string::npos) << line;

  std::string ja3 = Field(line, "ja3");
  EXPECT_TRUE(absl::StartsWith(ja3, "771,")) << line;
  std::vector<std::string> parts = absl::StrSplit(ja3, ',');
  ASSERT_EQ(parts.size(), 5u) << ja3;
  // Extensions in the client's order: server_name (0) and ALPN (16) among them, no GREASE.
  std::vector<std::string> extensions = absl::StrSplit(parts[2], '-');
  EXPECT_NE(std::find(extensions.begin(), extensions.end(), "0"), extensions.end()) << ja3;
  EXPECT_NE(std::find(extensions.begin(), extensions.end(), "16"), extensions.end()) << ja3;
  for (const std::string& part : parts) {
    for (absl::string_view value : absl::StrSplit(part, '-', absl::SkipEmpty())) {
      int v = std::stoi(std::string(value));
      EXPECT_FALSE((v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff)) << "GREASE in " << ja3;
    }
  }
  // Groups: the client's defaults include X25519 (29).
  std::vector<std::string> groups = absl::StrSplit(parts[3], '-');
  EXPECT_NE(std::find(groups.begin(), groups.end(), "29"), groups.end()) << ja3;

  std::string md5 = Field(line, "ja3_md5");
  ASSERT_EQ(md5.size(), 32u) << line;
  for (char c : md5) EXPECT_TRUE(absl::ascii_isxdigit(c) && !absl::ascii_isupper(c)) << md5;

  // The plugin only looks: the connection goes on, with the ALPN agreed as usual.
  ASSERT_TRUE(client.WriteAll("ping").ok());
  absl::StatusOr<std::string> echo = client.ReadExactly(4);
  ASSERT_TRUE(echo.ok()) << echo.status();
  EXPECT_EQ(*echo, "ping");
}

}  // namespace
}  // namespace tollgate

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    fprintf(stderr, "usage: %s libclient_hello_log.so\n", argv[0]);
    return 2;
  }
  tollgate::g_plugin = argv[1];
  return RUN_ALL_TESTS();
}
