// TunnelAcceptor over real loopback sockets: a TlsPort whose sni.yaml routes names to far ends
// served by the test. Blind tunnels run with splice(2) and with the VIO relay (the test
// parameter); forward routes always use the VIO relay.
#include "proxy/tunnel.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "iocore/eventsystem/event_processor.h"
#include "iocore/eventsystem/stats.h"
#include "iocore/net/net_processor.h"
#include "iocore/tls/sni_config.h"
#include "iocore/tls/ssl_net_vconnection.h"
#include "proxy/resolver.h"
#include "tests/util/echo_session.h"
#include "tests/util/test_certs.h"
#include "tests/util/tls_client.h"
#include "tests/util/wait.h"

namespace tollgate {
namespace {

using test_util::EchoSession;
using test_util::kTestDeadline;
using test_util::MakeCert;
using test_util::SessionLog;
using test_util::TestCert;
using test_util::TlsClient;
using test_util::WaitCounter;

constexpr int kIoTimeoutMs = 20000;

// A write to a reset peer must fail with EPIPE rather than kill the test (as in the binary).
const bool kSigpipeIgnored = [] {
  signal(SIGPIPE, SIG_IGN);
  return true;
}();

int64_t Stat(StatId id) { return GlobalStats().Get(id); }

// ---- Socket helpers (blocking sockets with timeouts) -----------------------------------------

bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(n);
  }
  return true;
}

std::string ReadExactly(int fd, size_t n) {
  std::string out;
  char buf[65536];
  while (out.size() < n) {
    ssize_t r = recv(fd, buf, std::min(sizeof(buf), n - out.size()), 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    out.append(buf, r);
  }
  return out;
}

// What a read until the end saw: the bytes, and how it ended.
struct ReadEnd {
  std::string data;
  bool eof = false;  // orderly end (read returned 0)
  bool reset = false;  // ECONNRESET
  bool timed_out = false;  // the socket's receive timeout passed: nothing ended
};

ReadEnd ReadToEnd(int fd) {
  ReadEnd end;
  char buf[65536];
  for (;;) {
    ssize_t r = recv(fd, buf, sizeof(buf), 0);
    if (r > 0) {
      end.data.append(buf, r);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    end.eof = r == 0;
    end.reset = r < 0 && errno == ECONNRESET;
    end.timed_out = r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    return end;
  }
}

std::string Pattern(size_t n, int seed) {
  std::string out(n, '\0');
  uint32_t x = 2463534242u + seed;
  for (char& c : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return out;
}

// ClosedPort returns a loopback port nothing listens on (bound once, then released).
uint16_t ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  IpEndpoint any = IpEndpoint::Loopback(AF_INET, 0);
  bind(fd, any.sockaddr(), any.socklen());
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  close(fd);
  return IpEndpoint::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len).port();
}

// FarEnd: a plain loopback listener standing in for a tunnel's destination. Serve accepts one
// connection on a thread of its own (bounded waits) and runs |fn| on it.
class FarEnd {
 public:
  FarEnd() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    IpEndpoint any = IpEndpoint::Loopback(AF_INET, 0);
    if (bind(listen_fd_, any.sockaddr(), any.socklen()) != 0 || listen(listen_fd_, 8) != 0) {
      ADD_FAILURE() << "far end: " << strerror(errno);
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    port_ = IpEndpoint::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len).port();
  }
  ~FarEnd() {
    Join();
    close(listen_fd_);
  }

  void Serve(std::function<void(int fd)> fn) {
    thread_ = std::thread([this, fn = std::move(fn)] {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, kIoTimeoutMs) != 1) return;
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      timeval tv{kIoTimeoutMs / 1000, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
      fn(fd);
      close(fd);
      served_.Increment();
    });
  }
  // Join waits for the connection to be served (Serve's waits are bounded).
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  bool served() const { return served_.value() > 0; }
  uint16_t port() const { return port_; }

 private:
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  WaitCounter served_;
};

// Established TLS connections that are not routed: echoed.
class EchoAcceptor : public Continuation {
 public:
  explicit EchoAcceptor(SessionLog* log) : log_(log) {}
  void HandleEvent(EventCode code, void* data) override {
    if (code != EventCode::kNetAccept) return;
    log_->accepted.Increment();
    (new EchoSession(static_cast<NetVConnection*>(data), log_))->Start();
  }

 private:
  SessionLog* log_;
};

// A VCONN_START hook that turns every connection into a blind tunnel before the ClientHello is
// read, so that no SNI, and no destination, is known.
class TunnelAtStart : public TlsHookCallback {
 public:
  void Invoke(TlsHookId, SSLNetVConnection* vc) override {
    vc->RequestTunnel();
    SSLNetVConnection::Reenable(vc->handle(), SSLNetVConnection::HookVerdict::kContinue);
  }
};

// ---- Fixture ------------------------------------------------------------------------------

class TunnelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ca_ = new TestCert(*MakeCert({.common_name = "Tollgate Test CA", .is_ca = true}));
  }
  static void TearDownTestSuite() {
    delete ca_;
    ca_ = nullptr;
  }

  void SetUp() override {
    net_ = std::make_unique<NetProcessor>();
    // Two net threads: a tunnel's two connections must still meet on one.
    ASSERT_TRUE(ep_.Start({.net_threads = 2,
                           .task_threads = 1,
                           .net_thread_init = [this](EThread& t) { net_->InitThread(t); }})
                    .ok());
    resolver_ = std::make_unique<HostResolver>(&ep_);
  }

  void TearDown() override {
    // Clients are closed by now: every tunnel and session ends by itself, bounded.
    if (tunnels_ != nullptr) {
      EXPECT_TRUE(WaitUntil([&] { return tunnels_->active() == 0; })) << tunnels_->active();
    }
    WaitUntil([&] { return net_->open_connections() == 0; });
    sessions_.finished.WaitAtLeast(sessions_.accepted.value(), kTestDeadline);
    ep_.Shutdown();
  }

  // WaitUntil polls |done| until it holds or kTestDeadline passes.
  static bool WaitUntil(const std::function<bool()>& done) {
    for (auto start = std::chrono::steady_clock::now();
         std::chrono::steady_clock::now() - start < kTestDeadline;) {
      if (done()) return true;
      std::this_thread::yield();
    }
    return done();
  }

  // Table holds one default certificate for |name| (and the other |dns_names|).
  static std::shared_ptr<const CertTable> Table(const std::string& name,
                                                std::vector<std::string> dns_names = {}) {
    CertTable::Builder builder(CertTableOptions{
        .configure_ctx = [](SSL_CTX* ctx) { return ConfigureServerContext(ctx, {}); }});
    dns_names.push_back(name);
    TestCert leaf = *MakeCert({.common_name = name, .dns_names = std::move(dns_names)}, ca_);
    CertTable::EntrySpec entry;
    entry.certs.push_back({.leaf = std::move(leaf.cert), .key = std::move(leaf.key)});
    entry.dest_ips.push_back(DestIp::Any());
    EXPECT_TRUE(builder.Add(std::move(entry)).ok());
    absl::StatusOr<std::shared_ptr<const CertTable>> table = std::move(builder).Build();
    EXPECT_TRUE(table.ok()) << table.status();
    return *table;
  }

  // StartProxy serves TLS as "proxy.test" (also valid for "fwd.test") with |sni_yaml|'s routes and
  // the tunnel acceptor.
  void StartProxy(const std::string& sni_yaml, TunnelOptions options = {},
                  const TlsHookRegistry* hooks = nullptr) {
    absl::StatusOr<std::shared_ptr<const SniConfig>> sni =
        SniConfig::Parse(sni_yaml, "sni.yaml", nullptr);
    ASSERT_TRUE(sni.ok()) << sni.status();
    tunnels_ = std::make_unique<TunnelAcceptor>(net_.get(), resolver_.get(), options);
    absl::StatusOr<std::shared_ptr<const TlsPortConfig>> config =
        MakeTlsPortConfig(TlsPortSpec{.certs = Table("proxy.test", {"fwd.test"}),
                                      .hooks = hooks,
                                      .acceptor = &echo_,
                                      .tunnel_acceptor = tunnels_.get(),
                                      .sni = *sni,
                                      .forward_acceptor = tunnels_.get()});
    ASSERT_TRUE(config.ok()) << config.status();
    port_ = std::make_unique<TlsPort>(*config);
    absl::StatusOr<IpEndpoint> bound = port_->Listen(*net_, IpEndpoint::Loopback(AF_INET, 0));
    ASSERT_TRUE(bound.ok()) << bound.status();
    port_number_ = bound->port();
  }

  // StartFarTls serves TLS as "far.test" (an echo) on another port and returns it.
  uint16_t StartFarTls() {
    absl::StatusOr<std::shared_ptr<const TlsPortConfig>> config =
        MakeTlsPortConfig(TlsPortSpec{.certs = Table("far.test"), .acceptor = &echo_});
    EXPECT_TRUE(config.ok()) << config.status();
    far_port_ = std::make_unique<TlsPort>(*config);
    absl::StatusOr<IpEndpoint> bound = far_port_->Listen(*net_, IpEndpoint::Loopback(AF_INET, 0));
    EXPECT_TRUE(bound.ok()) << bound.status();
    return bound->port();
  }

  int Connect() {
    int fd = test_util::ConnectTcp(port_number_, std::chrono::milliseconds(kIoTimeoutMs));
    EXPECT_GE(fd, 0);
    return fd;
  }

  // Waits until the tunnels of this test are over, so that their counts are final.
  void WaitForTunnels() {
    ASSERT_TRUE(WaitUntil([&] { return tunnels_->active() == 0; })) << tunnels_->active();
  }

  static TestCert* ca_;
  // Hooks outlive the connections that use them (declared before the event threads).
  TlsHookRegistry hooks_;
  TunnelAtStart tunnel_at_start_;
  SessionLog sessions_;
  EchoAcceptor echo_{&sessions_};
  EventProcessor ep_;
  std::unique_ptr<NetProcessor> net_;
  std::unique_ptr<HostResolver> resolver_;
  std::unique_ptr<TunnelAcceptor> tunnels_;
  std::unique_ptr<TlsPort> port_;
  std::unique_ptr<TlsPort> far_port_;
  uint16_t port_number_ = 0;
};

TestCert* TunnelTest::ca_ = nullptr;

// Blind tunnels, once with splice(2) and once with the VIO relay.
class BlindTunnelTest : public TunnelTest, public ::testing::WithParamInterface<bool> {
 protected:
  TunnelOptions Options() { return {.splice = GetParam()}; }
  std::string Route(const std::string& fqdn, uint16_t port) {
    return absl::StrCat("sni:\n  - fqdn: ", fqdn, "\n    tunnel_route: 127.0.0.1:", port, "\n");
  }
};

INSTANTIATE_TEST_SUITE_P(Relays, BlindTunnelTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param) {
                           return param.param ? "Splice" : "Buffers";
                         });

// ---- Blind tunnels ------------------------------------------------------------------------

TEST_P(BlindTunnelTest, FarEndReceivesTheClientHelloByteExactAndTheAnswerComesBack) {
  const TunnelStats& stats = TunnelStats::Get();
  int64_t blind = Stat(stats.blind_total);
  int64_t spliced = Stat(stats.spliced_total);
  int64_t up = Stat(stats.bytes_up);
  int64_t down = Stat(stats.bytes_down);
  std::string hello = test_util::MakeClientHello("raw.test");
  std::string far_got;
  FarEnd far;
  far.Serve([&](int fd) {
    far_got = ReadExactly(fd, hello.size());
    WriteAll(fd, "tunnel-ok");
  });
  StartProxy(Route("raw.test", far.port()), Options());

  int fd = Connect();
  ASSERT_TRUE(WriteAll(fd, hello));
  // The far end answers and closes: the answer, then the end, reach the client.
  ReadEnd end = ReadToEnd(fd);
  EXPECT_EQ(end.data, "tunnel-ok");
  EXPECT_TRUE(end.eof);
  far.Join();
  EXPECT_EQ(far_got, hello);
  close(fd);

  WaitForTunnels();
  EXPECT_EQ(Stat(stats.blind_total) - blind, 1);
  EXPECT_EQ(Stat(stats.spliced_total) - spliced, GetParam() ? 1 : 0);
  EXPECT_EQ(Stat(stats.bytes_up) - up, static_cast<int64_t>(hello.size()));
  EXPECT_EQ(Stat(stats.bytes_down) - down, 9);
}

TEST_P(BlindTunnelTest, ClientCompletesAHandshakeWithTheFarServerAndEchoesAMebibyte) {
  uint16_t far_port = StartFarTls();
  // A name, so the route goes through the resolver's task thread.
  StartProxy(absl::StrCat("sni:\n  - fqdn: far.test\n    tunnel_route: localhost:", far_port, "\n"),
             Options());
  TlsClient client({.sni = "far.test", .ca = ca_->cert.get()});
  absl::Status connected = client.Connect(port_number_);
  ASSERT_TRUE(connected.ok()) << connected;
  EXPECT_EQ(client.PeerCommonName(), "far.test");
  std::string payload = Pattern(1 << 20, 1);
  for (size_t at = 0; at < payload.size(); at += 65536) {
    std::string chunk = payload.substr(at, 65536);
    ASSERT_TRUE(client.WriteAll(chunk).ok());
    absl::StatusOr<std::string> echoed = client.ReadExactly(chunk.size());
    ASSERT_TRUE(echoed.ok()) << echoed.status();
    ASSERT_TRUE(*echoed == chunk) << "at " << at;
  }
}

TEST_P(BlindTunnelTest, ClientHalfCloseReachesTheFarEndAndTheRestStillArrives) {
  std::string hello = test_util::MakeClientHello("raw.test");
  std::string rest = Pattern(256 * 1024, 2);
  std::string far_got;
  ReadEnd far_end;
  FarEnd far;
  far.Serve([&](int fd) {
    far_got = ReadExactly(fd, hello.size());
    far_end = ReadToEnd(fd);  // the client's half-close, passed on
    WriteAll(fd, rest);
  });
  StartProxy(Route("raw.test", far.port()), Options());

  int fd = Connect();
  ASSERT_TRUE(WriteAll(fd, hello));
  ASSERT_EQ(shutdown(fd, SHUT_WR), 0);
  ReadEnd end = ReadToEnd(fd);
  EXPECT_TRUE(end.eof);
  EXPECT_EQ(end.data.size(), rest.size());
  EXPECT_TRUE(end.data == rest);
  close(fd);
  far.Join();
  EXPECT_EQ(far_got, hello);
  EXPECT_TRUE(far_end.eof);
  EXPECT_TRUE(far_end.data.empty());
}

TEST_P(BlindTunnelTest, SlowReceiverStopsTheSenderInsteadOfGrowingMemory) {
  std::string hello = test_util::MakeClientHello("raw.test");
  WaitCounter stalled;
  int64_t far_count = 0;
  bool far_pattern_ok = true;
  FarEnd far;
  far.Serve([&](int fd) {
    ReadExactly(fd, hello.size());
    stalled.WaitAtLeast(1, kTestDeadline);  // read nothing until the client is stuck
    char buf[65536];
    for (;;) {
      ssize_t r = recv(fd, buf, sizeof(buf), 0);
      if (r <= 0) break;
      for (ssize_t i = 0; i < r; ++i) {
        if (buf[i] != static_cast<char>((far_count + i) % 251)) far_pattern_ok = false;
      }
      far_count += r;
    }
  });
  StartProxy(Route("raw.test", far.port()), Options());

  int fd = Connect();
  ASSERT_TRUE(WriteAll(fd, hello));
  ASSERT_EQ(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
  // Send until nothing is taken for half a second. A relay that buffered without bound would
  // take all of kCap; the socket buffers and the relay's bound hold a few MiB.
  constexpr int64_t kCap = 256 << 20;
  int64_t sent = 0;
  std::string chunk(65536, '\0');
  while (sent < kCap) {
    for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>((sent + i) % 251);
    ssize_t n = send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n > 0) {
      sent += n;
      continue;
    }
    ASSERT_TRUE(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) << strerror(errno);
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, 500) == 0) break;
  }
  EXPECT_LT(sent, 64 << 20);
  stalled.Increment();
  // Now the far end reads: every byte sent arrives, in order.
  ASSERT_EQ(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK), 0);
  ASSERT_EQ(shutdown(fd, SHUT_WR), 0);
  far.Join();
  EXPECT_EQ(far_count, sent);
  EXPECT_TRUE(far_pattern_ok);
  close(fd);
}

TEST_P(BlindTunnelTest, RefusedDestinationClosesTheClientAndCountsAConnectFailure) {
  const TunnelStats& stats = TunnelStats::Get();
  int64_t failures = Stat(stats.connect_failures);
  StartProxy(Route("raw.test", ClosedPort()), Options());
  int fd = Connect();
  ASSERT_TRUE(WriteAll(fd, test_util::MakeClientHello("raw.test")));
  ReadEnd end = ReadToEnd(fd);
  EXPECT_TRUE(end.eof || end.reset);
  EXPECT_TRUE(end.data.empty());
  close(fd);
  WaitForTunnels();
  EXPECT_EQ(Stat(stats.connect_failures) - failures, 1);
}

TEST_P(BlindTunnelTest, UnresolvableDestinationClosesTheClient) {
  const TunnelStats& stats = TunnelStats::Get();
  int64_t failures = Stat(stats.connect_failures);
  StartProxy("sni:\n  - fqdn: raw.test\n    tunnel_route: nowhere.invalid:443\n", Options());
  int fd = Connect();
  ASSERT_TRUE(WriteAll(fd, test_util::MakeClientHello("raw.test")));
  ReadEnd end = ReadToEnd(fd);
  EXPECT_TRUE(end.eof || end.reset);
  close(fd);
  WaitForTunnels();
  EXPECT_EQ(Stat(stats.connect_failures) - failures, 1);
}

TEST_P(BlindTunnelTest, FarEndResetTearsTheClientDown) {
  const TunnelStats& stats = TunnelStats::Get();
  int64_t errors = Stat(stats.errors);
  std::string hello = test_util::MakeClientHello("raw.test");
  FarEnd far;
  far.Serve([&](int fd) {
    ReadExactly(fd, hello.size());
    linger abort{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof(abort));
  });
  StartProxy(Route("raw.test", far.port()), Options());
  int fd = Connect();
  ASSERT_TRUE(WriteAll(fd, hello));
  ReadEnd end = ReadToEnd(fd);
  EXPECT_TRUE(end.eof || end.reset);
  EXPECT_FALSE(end.timed_out);
  close(fd);
  WaitForTunnels();
  EXPECT_EQ(Stat(stats.errors) - errors, 1);
}

TEST_P(BlindTunnelTest, IdleTunnelIsTornDownAfterTheInactivityTimeout) {
  const TunnelStats& stats = TunnelStats::Get();
  int64_t errors = Stat(stats.errors);
  std::string hello = test_util::MakeClientHello("raw.test");
  ReadEnd far_end;
  FarEnd far;
  far.Serve([&](int fd) {
    ReadExactly(fd, hello.size());
    far_end = ReadToEnd(fd);
  });
  TunnelOptions options = Options();
  options.inactivity_timeout = std::chrono::milliseconds(300);
  StartProxy(Route("raw.test", far.port()), options);
  int fd = Connect();
  ASSERT_TRUE(WriteAll(fd, hello));
  ReadEnd end = ReadToEnd(fd);  // neither side sends: the tunnel gives up
  EXPECT_TRUE(end.eof || end.reset);
  EXPECT_FALSE(end.timed_out);
  far.Join();
  EXPECT_TRUE(far_end.eof || far_end.reset);
  EXPECT_FALSE(far_end.timed_out);
  close(fd);
  WaitForTunnels();
  EXPECT_EQ(Stat(stats.errors) - errors, 1);
}

TEST_F(TunnelTest, TunnelWithoutADestinationIsClosedAndCounted) {
  const TunnelStats& stats = TunnelStats::Get();
  int64_t failures = Stat(stats.connect_failures);
  hooks_.Add(TlsHookId::kVconnStart, &tunnel_at_start_);
  StartProxy("sni: []\n", {}, &hooks_);
  int fd = Connect();
  // A tunnel from VCONN_START waits for the ClientHello; without SNI it names no destination.
  WriteAll(fd, test_util::MakeClientHello(""));
  ReadEnd end = ReadToEnd(fd);
  EXPECT_TRUE(end.eof || end.reset);
  close(fd);
  WaitForTunnels();
  EXPECT_EQ(Stat(stats.connect_failures) - failures, 1);
}

// ---- Forward routes -----------------------------------------------------------------------

std::string ForwardRoute(const std::string& to) {
  return absl::StrCat("sni:\n  - fqdn: fwd.test\n    forward_route: ", to, "\n");
}

TEST_F(TunnelTest, ForwardRouteRelaysPlaintextAMebibyteEachWayByteExact) {
  const TunnelStats& stats = TunnelStats::Get();
  int64_t forwards = Stat(stats.forward_total);
  std::string up = Pattern(1 << 20, 3);
  std::string down = Pattern(1 << 20, 4);
  std::string origin_got;
  ReadEnd origin_end;
  FarEnd origin;
  origin.Serve([&](int fd) {
    origin_got = ReadExactly(fd, up.size());
    WriteAll(fd, down);
    origin_end = ReadToEnd(fd);
  });
  StartProxy(ForwardRoute(absl::StrCat("127.0.0.1:", origin.port())));
  {
    TlsClient client({.sni = "fwd.test", .ca = ca_->cert.get()});
    absl::Status connected = client.Connect(port_number_);
    ASSERT_TRUE(connected.ok()) << connected;
    EXPECT_EQ(client.PeerCommonName(), "proxy.test");  // terminated here
    ASSERT_TRUE(client.WriteAll(up).ok());
    absl::StatusOr<std::string> got = client.ReadExactly(down.size());
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(*got == down);
  }
  origin.Join();
  EXPECT_EQ(origin_got.size(), up.size());
  EXPECT_TRUE(origin_got == up);  // plaintext, byte-exact
  EXPECT_TRUE(origin_end.eof || origin_end.reset);
  EXPECT_TRUE(origin_end.data.empty());
  WaitForTunnels();
  EXPECT_EQ(Stat(stats.forward_total) - forwards, 1);
}

TEST_F(TunnelTest, TunnelStillOpenWhenTheNetThreadsStopIsEndedQuietlyByThem) {
  const TunnelStats& stats = TunnelStats::Get();
  ReadEnd origin_end;
  FarEnd origin;
  origin.Serve([&](int fd) {
    WriteAll(fd, ReadExactly(fd, 4));
    origin_end = ReadToEnd(fd);  // until the tunnel closes its side
  });
  StartProxy(ForwardRoute(absl::StrCat("127.0.0.1:", origin.port())));
  TlsClient client({.sni = "fwd.test", .ca = ca_->cert.get()});
  absl::Status connected = client.Connect(port_number_);
  ASSERT_TRUE(connected.ok()) << connected;
  ASSERT_TRUE(client.WriteAll("ping").ok());
  ASSERT_TRUE(client.ReadExactly(4).ok());
  ASSERT_EQ(tunnels_->active(), 1);
  const int64_t errors = Stat(stats.errors);
  // The client stays connected: only the threads' exit can end the tunnel (LeakSanitizer
  // checks that it is freed).
  ep_.Shutdown();
  EXPECT_EQ(tunnels_->active(), 0);
  EXPECT_EQ(Stat(stats.errors), errors) << "an exit is not a relay failure";
  origin.Join();
  EXPECT_TRUE(origin_end.eof || origin_end.reset) << "the origin connection was not closed";
}

TEST_F(TunnelTest, ForwardClientHalfCloseReachesTheOriginAndTheResponseStillArrives) {
  std::string response = Pattern(100 * 1024, 5);
  std::string origin_got;
  ReadEnd origin_end;
  FarEnd origin;
  origin.Serve([&](int fd) {
    origin_got = ReadExactly(fd, 7);
    origin_end = ReadToEnd(fd);
    WriteAll(fd, response);
  });
  StartProxy(ForwardRoute(absl::StrCat("127.0.0.1:", origin.port())));
  TlsClient client({.sni = "fwd.test"});
  ASSERT_TRUE(client.Connect(port_number_).ok());
  ASSERT_TRUE(client.WriteAll("request").ok());
  ASSERT_EQ(shutdown(client.fd(), SHUT_WR), 0);
  std::string got = client.ReadUntilClose();
  EXPECT_EQ(got.size(), response.size());
  EXPECT_TRUE(got == response);
  origin.Join();
  EXPECT_EQ(origin_got, "request");
  EXPECT_TRUE(origin_end.eof);
}

TEST_F(TunnelTest, ForwardToARefusedDestinationClosesTheTlsClientAndCountsIt) {
  const TunnelStats& stats = TunnelStats::Get();
  int64_t failures = Stat(stats.connect_failures);
  StartProxy(ForwardRoute(absl::StrCat("127.0.0.1:", ClosedPort())));
  {
    TlsClient client({.sni = "fwd.test"});
    ASSERT_TRUE(client.Connect(port_number_).ok());
    EXPECT_EQ(client.ReadUntilClose(), "");
  }
  WaitForTunnels();
  EXPECT_EQ(Stat(stats.connect_failures) - failures, 1);
}

}  // namespace
}  // namespace tollgate
