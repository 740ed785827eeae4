// preaccept_acl through the real loader and C ABI: a client inside an allowed block completes
// TLS; one outside every block is refused at VCONN_START and counted.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "iocore/eventsystem/diags.h"
#include "tests/util/plugin_host.h"
#include "tests/util/tls_client.h"
#include "ts/ts.h"

namespace tollgate {
namespace {

using test_util::PluginTlsHost;
using test_util::StderrCapture;
using test_util::TlsClient;

const char* g_plugin = nullptr;  // libpreaccept_acl.so
constexpr char kStat[] = "plugin.preaccept_acl.rejected";

// Rejected returns the stat's value, or -1 if it does not exist (yet).
int64_t Rejected() {
  int id = -1;
  if (TSStatFindName(kStat, &id) != TS_SUCCESS) return -1;
  return TSStatIntGet(id);
}

// Each test loads the plugin again into a new host (TSPluginInit runs again and starts
// afresh); the stat is process-wide, so tests compare before and after.

TEST(PreacceptAclPluginTest, ClientInsideAnAllowedBlockCompletesTls) {
  StderrCapture log;
  PluginTlsHost host;
  ASSERT_TRUE(host.LoadPlugin(g_plugin, {"10.0.0.0/8", "127.0.0.0/8"}).ok());
  ASSERT_TRUE(host.Start().ok());
  int64_t before = Rejected();
  TlsClient client({.sni = "a.test"});
  absl::Status s = client.Connect(host.port());
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(client.WriteAll("ping").ok());
  absl::StatusOr<std::string> echo = client.ReadExactly(4);
  ASSERT_TRUE(echo.ok()) << echo.status();
  EXPECT_EQ(*echo, "ping");
  EXPECT_EQ(Rejected(), before);
}

TEST(PreacceptAclPluginTest, ClientOutsideEveryBlockIsRefusedAndCounted) {
  StderrCapture log;
  ASSERT_TRUE(SetDebugTags(true, "preaccept_acl").ok());
  PluginTlsHost host;
  ASSERT_TRUE(host.LoadPlugin(g_plugin, {"10.0.0.0/8", "::1/128"}).ok());
  ASSERT_TRUE(host.Start().ok());
  int64_t before = Rejected();
  ASSERT_GE(before, 0);
  TlsClient client({.sni = "a.test"});
  EXPECT_FALSE(client.Connect(host.port()).ok());
  EXPECT_EQ(Rejected(), before + 1);
  EXPECT_TRUE(log.WaitFor("(preaccept_acl) rejecting 127.0.0.1", 1));
}

TEST(PreacceptAclPluginTest, BadArgumentsAreNamedAndIgnored) {
  StderrCapture log;
  PluginTlsHost host;
  ASSERT_TRUE(
      host.LoadPlugin(g_plugin, {"127.0.0.0/33", "not-an-address", "127.0.0.1/", "127.0.0.0/8x"})
          .ok());
  ASSERT_TRUE(host.Start().ok());
  EXPECT_TRUE(log.WaitFor("'127.0.0.0/33' is not a CIDR block", 1));
  EXPECT_TRUE(log.WaitFor("'not-an-address' is not a CIDR block", 1));
  EXPECT_TRUE(log.WaitFor("'127.0.0.1/' is not a CIDR block", 1));
  EXPECT_TRUE(log.WaitFor("'127.0.0.0/8x' is not a CIDR block", 1));
  EXPECT_TRUE(log.WaitFor("no valid CIDR block given; the plugin rejects nothing", 1));
  // Nothing parsed, so nothing is rejected.
  TlsClient client({.sni = "a.test"});
  absl::Status s = client.Connect(host.port());
  EXPECT_TRUE(s.ok()) << s;
}

}  // namespace
}  // namespace tollgate

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    fprintf(stderr, "usage: %s libpreaccept_acl.so\n", argv[0]);
    return 2;
  }
  tollgate::g_plugin = argv[1];
  return RUN_ALL_TESTS();
}
