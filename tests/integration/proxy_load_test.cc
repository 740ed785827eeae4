// 2,000 TLS clients connected at once, each then sending one request and checking its own
// response. One test thread drives every client over non-blocking sockets and epoll, with
// BoringSSL in non-blocking mode.
//
// Phases: (1) connect and handshake every client, at most kConnectWindow in progress at a time
// so the listen backlog never overflows; (2) wait (bounded, through /stats) until the proxy
// holds all of them as open client sessions; (3) every client sends `GET /bytes/N` with its own
// N and reads the response: status 200, Content-Length N, N pattern bytes.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/http_client.h"
#include "tests/integration/test_origins.h"
#include "tests/integration/tollgate_process.h"

namespace tollgate::integration {
namespace {

constexpr int kClients = 2000;
constexpr int kConnectWindow = 200;
// File descriptors: the test's clients, plus the proxy's client and origin sides, with room.
constexpr uint64_t kFdsNeeded = 3 * kClients + 1000;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr auto kPhaseDeadline = std::chrono::seconds(240);
#else
constexpr auto kPhaseDeadline = std::chrono::seconds(90);
#endif

enum class Phase {
  kConnecting,  // TCP connect in progress
  kHandshaking,  // TLS handshake in progress
  kConnected,  // handshake done, waiting for every other client
  kExchanging,  // request going out, response coming in
  kDone,
  kFailed,
};

struct Client {
  int index = 0;
  int fd = -1;
  bssl::UniquePtr<SSL> ssl;
  Phase phase = Phase::kConnecting;
  std::string request;
  size_t sent = 0;
  std::string received;
  uint64_t body_size = 0;
  std::string error;
};

std::string SslError(SSL* ssl, int ret) {
  const int err = SSL_get_error(ssl, ret);
  char buf[256] = "";
  ERR_error_string_n(ERR_peek_error(), buf, sizeof(buf));
  ERR_clear_error();
  return absl::StrCat("SSL error ", err, " (", buf, "), errno ", strerror(errno));
}

class LoadDriver {
 public:
  LoadDriver(uint16_t port, int clients) : port_(port), clients_(clients) {
    ctx_.reset(SSL_CTX_new(TLS_method()));
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < clients; ++i) clients_[i].index = i;
  }
  ~LoadDriver() {
    for (Client& c : clients_) {
      if (c.fd >= 0) close(c.fd);
    }
    if (epfd_ >= 0) close(epfd_);
  }

  // ConnectAll connects and handshakes every client; it returns how many are connected.
  int ConnectAll(std::chrono::steady_clock::time_point deadline) {
    size_t next = 0;
    int in_progress = 0;
    int connected = 0;
    int finished = 0;
    while (finished < static_cast<int>(clients_.size()) &&
           std::chrono::steady_clock::now() < deadline) {
      while (in_progress < kConnectWindow && next < clients_.size()) {
        if (StartConnect(clients_[next++])) {
          ++in_progress;
        } else {
          ++finished;
        }
      }
      epoll_event events[256];
      const int n = epoll_wait(epfd_, events, 256, 100);
      for (int i = 0; i < n; ++i) {
        Client& c = clients_[events[i].data.u32];
        const Phase before = c.phase;
        Advance(c);
        if (before != c.phase && (c.phase == Phase::kConnected || c.phase == Phase::kFailed)) {
          --in_progress;
          ++finished;
          if (c.phase == Phase::kConnected) ++connected;
        }
      }
    }
    return connected;
  }

  // ExchangeAll sends every connected client's request and reads its response; it returns how
  // many got the response they asked for.
  int ExchangeAll(std::chrono::steady_clock::time_point deadline) {
    int active = 0;
    for (Client& c : clients_) {
      if (c.phase != Phase::kConnected) continue;
      c.body_size = 1000 + static_cast<uint64_t>(c.index) * 7;
      c.request = absl::StrCat("GET /bytes/", c.body_size, " HTTP/1.1\r\nHost: 127.0.0.1:", port_,
                               "\r\nConnection: close\r\n\r\n");
      c.phase = Phase::kExchanging;
      Watch(c, EPOLLOUT | EPOLLIN);
      ++active;
    }
    int ok = 0;
    while (active > 0 && std::chrono::steady_clock::now() < deadline) {
      epoll_event events[256];
      const int n = epoll_wait(epfd_, events, 256, 100);
      for (int i = 0; i < n; ++i) {
        Client& c = clients_[events[i].data.u32];
        if (c.phase != Phase::kExchanging) continue;
        Advance(c);
        if (c.phase == Phase::kDone) ++ok;
        if (c.phase == Phase::kDone || c.phase == Phase::kFailed) --active;
      }
    }
    return ok;
  }

  // FirstErrors returns up to |n| client errors, for a failure message.
  std::string FirstErrors(size_t n) const {
    std::map<std::string, int> counts;
    for (const Client& c : clients_) {
      if (c.phase == Phase::kDone || c.phase == Phase::kConnected) continue;
      counts[c.error.empty() ? absl::StrCat("unfinished in phase ", static_cast<int>(c.phase))
                             : c.error]++;
    }
    std::string out;
    for (const auto& [error, count] : counts) {
      if (n-- == 0) break;
      absl::StrAppend(&out, count, " x ", error, "\n");
    }
    return out;
  }

 private:
  bool StartConnect(Client& c) {
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) return Fail(c, absl::StrCat("socket: ", strerror(errno)));
    const int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port_);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c.fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) != 0 &&
        errno != EINPROGRESS) {
      return Fail(c, absl::StrCat("connect: ", strerror(errno)));
    }
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.u32 = static_cast<uint32_t>(c.index);
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev) != 0) {
      return Fail(c, absl::StrCat("epoll_ctl: ", strerror(errno)));
    }
    c.phase = Phase::kConnecting;
    return true;
  }

  bool Fail(Client& c, std::string error) {
    c.phase = Phase::kFailed;
    c.error = std::move(error);
    if (c.fd >= 0) {
      epoll_ctl(epfd_, EPOLL_CTL_DEL, c.fd, nullptr);
      close(c.fd);
      c.fd = -1;
    }
    return false;
  }

  void Watch(Client& c, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u32 = static_cast<uint32_t>(c.index);
    epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  // Advance moves |c| as far as its socket allows.
  void Advance(Client& c) {
    if (c.phase == Phase::kConnecting) {
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        Fail(c, absl::StrCat("connect: ", strerror(err)));
        return;
      }
      c.ssl.reset(SSL_new(ctx_.get()));
      SSL_set_fd(c.ssl.get(), c.fd);
      SSL_set_tlsext_host_name(c.ssl.get(), "a.test");
      SSL_set_connect_state(c.ssl.get());
      c.phase = Phase::kHandshaking;
    }
    if (c.phase == Phase::kHandshaking) {
      const int ret = SSL_do_handshake(c.ssl.get());
      if (ret == 1) {
        c.phase = Phase::kConnected;
        Watch(c, 0);  // quiet until every client is connected
        return;
      }
      const int err = SSL_get_error(c.ssl.get(), ret);
      if (err == SSL_ERROR_WANT_READ) {
        Watch(c, EPOLLIN);
      } else if (err == SSL_ERROR_WANT_WRITE) {
        Watch(c, EPOLLOUT);
      } else {
        Fail(c, absl::StrCat("handshake: ", SslError(c.ssl.get(), ret)));
      }
      return;
    }
    if (c.phase != Phase::kExchanging) return;
    while (c.sent < c.request.size()) {
      const int ret = SSL_write(c.ssl.get(), c.request.data() + c.sent,
                                static_cast<int>(c.request.size() - c.sent));
      if (ret > 0) {
        c.sent += static_cast<size_t>(ret);
        continue;
      }
      const int err = SSL_get_error(c.ssl.get(), ret);
      if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) return;
      Fail(c, absl::StrCat("write: ", SslError(c.ssl.get(), ret)));
      return;
    }
    Watch(c, EPOLLIN);
    char buf[16 * 1024];
    for (;;) {
      const int ret = SSL_read(c.ssl.get(), buf, sizeof(buf));
      if (ret > 0) {
        c.received.append(buf, static_cast<size_t>(ret));
        if (CheckResponse(c)) return;
        continue;
      }
      const int err = SSL_get_error(c.ssl.get(), ret);
      if (err == SSL_ERROR_WANT_READ) return;
      Fail(
          c,
          absl::StrCat("closed after ", c.received.size(), " bytes: ", SslError(c.ssl.get(), ret)));
      return;
    }
  }

  // CheckResponse returns true once |c| has its whole response (then checked: kDone or
  // kFailed), false while more is to come.
  bool CheckResponse(Client& c) {
    const size_t end = c.received.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    const size_t body_at = end + 4;
    if (c.received.size() < body_at + c.body_size) return false;
    const std::string head = c.received.substr(0, body_at);
    if (head.rfind("HTTP/1.1 200 ", 0) != 0) {
      Fail(c, absl::StrCat("status line: ", head.substr(0, head.find('\r'))));
      return true;
    }
    if (head.find(absl::StrCat("\r\nContent-Length: ", c.body_size, "\r\n")) == std::string::npos) {
      Fail(c, "wrong Content-Length");
      return true;
    }
    for (uint64_t i = 0; i < c.body_size; ++i) {
      if (c.received[body_at + i] != PatternByte(i)) {
        Fail(c, absl::StrCat("body differs at byte ", i));
        return true;
      }
    }
    if (c.received.size() != body_at + c.body_size) {
      Fail(c, "bytes after the body");
      return true;
    }
    c.phase = Phase::kDone;
    epoll_ctl(epfd_, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    c.fd = -1;
    c.ssl.reset();
    return true;
  }

  const uint16_t port_;
  std::vector<Client> clients_;
  bssl::UniquePtr<SSL_CTX> ctx_;
  int epfd_ = -1;
};

TEST(ProxyLoadTest, TwoThousandConcurrentTlsClientsEachGetTheirOwnResponse) {
  const uint64_t limit = RaiseFileLimit(kFdsNeeded);
  if (limit < kFdsNeeded) {
    GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << limit << " is below the " << kFdsNeeded
                 << " descriptors this test needs";
  }
  absl::StatusOr<std::unique_ptr<PatternOrigin>> origin = PatternOrigin::Start(1);
  ASSERT_TRUE(origin.ok()) << origin.status();
  TestProxy proxy;  // started after RaiseFileLimit: it inherits the limit
  proxy.MapPrefix("/", (*origin)->port());
  ASSERT_TRUE(proxy.Start().ok());

  LoadDriver driver(proxy.tls_port(), kClients);
  const auto start = std::chrono::steady_clock::now();
  const int connected = driver.ConnectAll(start + kPhaseDeadline);
  ASSERT_EQ(connected, kClients) << driver.FirstErrors(5);
  const auto connected_at = std::chrono::steady_clock::now();

  // All of them at once on the proxy's side too.
  std::optional<int64_t> sessions = WaitForStat(
      proxy.admin_port(), "proxy.process.http.client_sessions_active",
      [](int64_t v) { return v >= kClients; }, kEffectDeadline);
  EXPECT_EQ(sessions, kClients);

  const int ok = driver.ExchangeAll(std::chrono::steady_clock::now() + kPhaseDeadline);
  EXPECT_EQ(ok, kClients) << driver.FirstErrors(5);
  const auto done_at = std::chrono::steady_clock::now();
  std::printf(
      "%d TLS clients: connected in %lld ms, exchanged in %lld ms\n", kClients,
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(connected_at - start).count()),
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(done_at - connected_at).count()));

  // Every session ends once its client is answered.
  std::optional<int64_t> left = WaitForStat(
      proxy.admin_port(), "proxy.process.http.client_sessions_active",
      [](int64_t v) { return v == 0; }, kEffectDeadline);
  EXPECT_EQ(left, 0);
  std::optional<int64_t> requests = WaitForStat(
      proxy.admin_port(), "proxy.process.http.requests_total",
      [](int64_t v) { return v >= kClients; }, kEffectDeadline);
  EXPECT_EQ(requests, kClients);
}

}  // namespace
}  // namespace tollgate::integration
