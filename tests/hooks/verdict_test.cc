// TS_EVENT_ERROR and TSVConnTunnel from each handshake hook, through the C ABI: an error aborts
// the handshake and still runs the close hook once; a tunnel hands the connection over with the
// ClientHello replayed byte-exact to the far end.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "iocore/eventsystem/diags.h"
#include "tests/util/plugin_host.h"
#include "tests/util/tls_client.h"

namespace tollgate {
namespace {

using test_util::PluginTlsHost;
using test_util::StderrCapture;
using test_util::TlsClient;

const char* g_plugin = nullptr;

class VerdictTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { ASSERT_TRUE(SetDebugTags(true, "verdict").ok()); }
  void TearDown() override { (void)SetDebugTags(false, ""); }
  StderrCapture capture_;  // before the host: the host's lines go to it
};

TEST_P(VerdictTest, ErrorFromTheHookAbortsTheHandshakeAndRunsTheCloseHookOnce) {
  PluginTlsHost host;
  ASSERT_TRUE(host.LoadPlugin(g_plugin, {"-error_at=" + GetParam()}).ok());
  ASSERT_TRUE(host.Start().ok());
  {
    TlsClient client({.sni = "a.test"});
    EXPECT_FALSE(client.Connect(host.port()).ok());
  }
  ASSERT_TRUE(capture_.WaitFor("(verdict) close event 108", 1));
  EXPECT_EQ(capture_.Lines("(verdict) error at event").size(), 1u);
  EXPECT_EQ(capture_.Lines("(verdict) close event").size(), 1u);
}

TEST_P(VerdictTest, TunnelFromTheHookReplaysTheClientHelloToTheFarEnd) {
  // The far end: a plain listener that reads the replayed ClientHello and answers.
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  IpEndpoint any = IpEndpoint::Loopback(AF_INET, 0);
  ASSERT_EQ(bind(listener, any.sockaddr(), any.socklen()), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(listener, reinterpret_cast<sockaddr*>(&ss), &len);
  std::string hello = test_util::MakeClientHello("tunnel.test");
  std::string received;
  std::thread far([&] {
    pollfd p{listener, POLLIN, 0};
    if (poll(&p, 1, 20000) <= 0) return;
    int fd = accept(listener, nullptr, nullptr);
    timeval tv{20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[4096];
    while (received.size() < hello.size()) {
      ssize_t r = recv(fd, buf, sizeof(buf), 0);
      if (r <= 0) break;
      received.append(buf, r);
    }
    send(fd, "tunnel-ok", 9, MSG_NOSIGNAL);
    close(fd);
  });

  PluginTlsHost host;
  host.set_tunnel_far_end(IpEndpoint::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len));
  ASSERT_TRUE(host.LoadPlugin(g_plugin, {"-tunnel_at=" + GetParam()}).ok());
  ASSERT_TRUE(host.Start().ok());
  int fd = test_util::ConnectTcp(host.port());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(send(fd, hello.data(), hello.size(), MSG_NOSIGNAL), static_cast<ssize_t>(hello.size()));
  std::string reply;
  char buf[64];
  ssize_t r;
  while ((r = recv(fd, buf, sizeof(buf), 0)) > 0) reply.append(buf, r);
  close(fd);
  far.join();
  close(listener);
  EXPECT_EQ(reply, "tunnel-ok");
  EXPECT_TRUE(received == hello) << "far end got " << received.size() << " of " << hello.size();
  EXPECT_TRUE(capture_.WaitFor(": accepted", 1));  // the plugin saw TSVConnTunnel succeed
}

INSTANTIATE_TEST_SUITE_P(EachHook, VerdictTest,
                         ::testing::Values("start", "client_hello", "servername", "cert"));

}  // namespace
}  // namespace tollgate

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 2) {
    fprintf(stderr, "usage: %s libverdict_plugin.so\n", argv[0]);
    return 2;
  }
  tollgate::g_plugin = argv[1];
  return RUN_ALL_TESTS();
}
