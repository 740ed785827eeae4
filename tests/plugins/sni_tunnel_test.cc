// sni_tunnel through the real loader and C ABI: a listed SNI becomes a blind tunnel whose far
// end receives the ClientHello byte-exact; any other name completes TLS with Tollgate.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "iocore/eventsystem/diags.h"
#include "tests/util/plugin_host.h"
#include "tests/util/tls_client.h"
#include "tests/util/wait.h"

namespace tollgate {
namespace {

using test_util::kTestDeadline;
using test_util::PluginTlsHost;
using test_util::StderrCapture;
using test_util::TlsClient;

const char* g_plugin = nullptr;  // libsni_tunnel.so

constexpr int kIoTimeoutMs = 10000;

// FarEnd: a raw loopback listener served from the test thread, standing in for the origin of
// a blind tunnel.
class FarEnd {
 public:
  FarEnd() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sin);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&sin), len) != 0 || listen(fd_, 8) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&sin), &len) != 0) {
      ADD_FAILURE() << "far end: " << strerror(errno);
      return;
    }
    port_ = ntohs(sin.sin_port);
  }
  ~FarEnd() {
    if (fd_ >= 0) close(fd_);
  }

  uint16_t port() const { return port_; }

  // Serve accepts one connection (bounded wait), reads |n| bytes, answers |reply| and returns
  // what it read ("" on timeout or error).
  std::string Serve(size_t n, const std::string& reply) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, kIoTimeoutMs) != 1) return "";
    int conn = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) return "";
    timeval tv{kIoTimeoutMs / 1000, 0};
    setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::string got;
    char buf[4096];
    while (got.size() < n) {
      ssize_t r = read(conn, buf, std::min(sizeof(buf), n - got.size()));
      if (r <= 0) break;
      got.append(buf, r);
    }
    if (got.size() == n) {
      ssize_t w = write(conn, reply.data(), reply.size());
      (void)w;  // the client's read reports a short reply
    }
    close(conn);
    return got;
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// ReadN reads |n| bytes from |fd| (which has a receive timeout) or until EOF or error.
std::string ReadN(int fd, size_t n) {
  std::string out;
  char buf[256];
  while (out.size() < n) {
    ssize_t r = read(fd, buf, std::min(sizeof(buf), n - out.size()));
    if (r <= 0) break;
    out.append(buf, r);
  }
  return out;
}

// SendHelloThroughTunnel sends |hello| on a raw connection, serves the tunnel's far end and
// returns what the client got back; |far_got| receives what the far end read.
std::string SendHelloThroughTunnel(PluginTlsHost& host, FarEnd& far, const std::string& hello,
                                   std::string* far_got) {
  int fd = test_util::ConnectTcp(host.port());
  if (fd < 0) return "connect failed";
  if (write(fd, hello.data(), hello.size()) != static_cast<ssize_t>(hello.size())) {
    close(fd);
    return "write failed";
  }
  *far_got = far.Serve(hello.size(), "tunnel-ok");
  std::string reply = ReadN(fd, 9);
  close(fd);
  return reply;
}

TEST(SniTunnelPluginTest, ListedNamesTunnelByteExactAndOthersCompleteTls) {
  StderrCapture log;
  ASSERT_TRUE(SetDebugTags(true, "sni_tunnel").ok());
  FarEnd far;
  ASSERT_NE(far.port(), 0);
  PluginTlsHost host;
  ASSERT_TRUE(host.LoadPlugin(g_plugin, {"TUNNEL.test", "*.wild.test"}).ok());
  ASSERT_TRUE(host.Start().ok());
  host.set_tunnel_far_end(IpEndpoint::Loopback(AF_INET, far.port()));

  // An exact entry, matched case-insensitively.
  std::string hello = test_util::MakeClientHello("tunnel.test");
  std::string far_got;
  EXPECT_EQ(SendHelloThroughTunnel(host, far, hello, &far_got), "tunnel-ok");
  EXPECT_EQ(far_got, hello);
  // The wildcard entry matches one label.
  std::string wild_hello = test_util::MakeClientHello("x.wild.test");
  std::string wild_got;
  EXPECT_EQ(SendHelloThroughTunnel(host, far, wild_hello, &wild_got), "tunnel-ok");
  EXPECT_EQ(wild_got, wild_hello);

  EXPECT_EQ(host.tunnel_destinations(),
            (std::vector<std::string>{absl::StrCat("tunnel.test:", host.port()),
                                      absl::StrCat("x.wild.test:", host.port())}));

  // Unlisted names, and two labels under the wildcard, complete TLS with Tollgate.
  for (const char* name : {"a.test", "a.b.wild.test"}) {
    TlsClient client({.sni = name});
    absl::Status s = client.Connect(host.port());
    EXPECT_TRUE(s.ok()) << name << ": " << s;
    EXPECT_TRUE(client.WriteAll("ping").ok());
    absl::StatusOr<std::string> echo = client.ReadExactly(4);
    ASSERT_TRUE(echo.ok()) << echo.status();
    EXPECT_EQ(*echo, "ping");
  }
  EXPECT_EQ(host.tunnel_destinations().size(), 2u);
  EXPECT_TRUE(log.WaitFor("(sni_tunnel) tunnelling SNI 'tunnel.test'", 1));
  EXPECT_TRUE(log.WaitFor("(sni_tunnel) SNI 'a.test' not listed", 1));
}

}  // namespace
}  // namespace tollgate

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    fprintf(stderr, "usage: %s libsni_tunnel.so\n", argv[0]);
    return 2;
  }
  tollgate::g_plugin = argv[1];
  return RUN_ALL_TESTS();
}
