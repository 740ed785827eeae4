#include "tools/tls_bench/tls_load.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tools/tls_bench/bench_certs.h"

namespace tollgate::tls_bench {
namespace {

using std::chrono::milliseconds;

enum class ServerKind {
  kEcdsa,  // ECDSA P-256 certificate only
  kRsa,  // RSA-2048 certificate only
  kGarbage,  // answers every connection with bytes that are not TLS, then closes
};

// A plain libssl echo server on 127.0.0.1:0, one thread serving one connection at a time with
// blocking sockets (every socket call bounded by a 2 s timeout). The load's other connections
// wait in the accept queue. Stopped (and joined) by the destructor through a pipe.
class EchoServer {
 public:
  explicit EchoServer(ServerKind kind) : kind_(kind) {
    if (kind != ServerKind::kGarbage) {
      absl::StatusOr<BenchCert> cert = MakeSelfSigned(
          kind == ServerKind::kEcdsa ? BenchKeyType::kEcdsaP256 : BenchKeyType::kRsa2048,
          kind == ServerKind::kEcdsa ? "a.test" : "rsa.test");
      EXPECT_TRUE(cert.ok()) << cert.status();
      ctx_.reset(SSL_CTX_new(TLS_method()));
      EXPECT_TRUE(SSL_CTX_use_certificate(ctx_.get(), cert->cert.get()));
      EXPECT_TRUE(SSL_CTX_use_PrivateKey(ctx_.get(), cert->key.get()));
      EXPECT_TRUE(SSL_CTX_set_max_proto_version(ctx_.get(), TLS1_3_VERSION));
    }
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(listen_fd_, 128), 0);
    EXPECT_EQ(getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
    EXPECT_EQ(pipe2(stop_, O_CLOEXEC), 0);
    thread_ = std::thread([this] { Serve(); });
  }

  ~EchoServer() {
    char c = 's';
    EXPECT_EQ(write(stop_[1], &c, 1), 1);
    thread_.join();
    close(listen_fd_);
    close(stop_[0]);
    close(stop_[1]);
  }

  uint16_t port() const { return port_; }
  int64_t handshakes_ok() const { return handshakes_ok_.load(); }
  int64_t handshakes_failed() const { return handshakes_failed_.load(); }

 private:
  void Serve() {
    // Bounded: at most this many connections, and the test's own deadline stops it sooner.
    for (int i = 0; i < 100000; ++i) {
      pollfd fds[2] = {{.fd = listen_fd_, .events = POLLIN}, {.fd = stop_[0], .events = POLLIN}};
      if (poll(fds, 2, 10000) <= 0 || (fds[1].revents & POLLIN) != 0) return;
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      timeval timeout{.tv_sec = 2, .tv_usec = 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
      if (kind_ == ServerKind::kGarbage) {
        ServeGarbage(fd);
      } else {
        ServeTls(fd);
      }
      close(fd);
    }
  }

  // ServeGarbage reads the ClientHello, answers with HTTP, and waits for the client to give up
  // (so that the close is a FIN after the answer, not a reset racing it).
  void ServeGarbage(int fd) {
    char buf[4096];
    if (read(fd, buf, sizeof(buf)) <= 0) return;
    static const char kGarbage[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    (void)!send(fd, kGarbage, sizeof(kGarbage) - 1, MSG_NOSIGNAL);
    shutdown(fd, SHUT_WR);
    for (int i = 0; i < 1000 && read(fd, buf, sizeof(buf)) > 0; ++i) {
    }
  }

  void ServeTls(int fd) {
    bssl::UniquePtr<SSL> ssl(SSL_new(ctx_.get()));
    SSL_set_fd(ssl.get(), fd);
    if (SSL_accept(ssl.get()) != 1) {
      ++handshakes_failed_;
      return;
    }
    ++handshakes_ok_;
    char buf[16384];
    for (int i = 0; i < 100000; ++i) {
      int n = SSL_read(ssl.get(), buf, sizeof(buf));
      if (n <= 0) break;
      if (SSL_write(ssl.get(), buf, n) != n) return;
    }
    if (SSL_get_error(ssl.get(), 0) == SSL_ERROR_ZERO_RETURN) SSL_shutdown(ssl.get());
  }

  const ServerKind kind_;
  bssl::UniquePtr<SSL_CTX> ctx_;
  int listen_fd_ = -1;
  int stop_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::atomic<int64_t> handshakes_ok_{0};
  std::atomic<int64_t> handshakes_failed_{0};
  std::thread thread_;
};

LoadOptions FullOptions(uint16_t port, LoadEngine engine) {
  return LoadOptions{.port = port,
                     .mode = LoadMode::kFull,
                     .engine = engine,
                     .conns = 4,
                     .duration = milliseconds(400),
                     .warm_up = milliseconds(0),
                     .max_connections = 400,
                     .request_bytes = 100,
                     .connection_deadline = milliseconds(5000)};
}

class TlsLoadTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { signal(SIGPIPE, SIG_IGN); }

  // ExpectEveryConnectionEchoed: connections completed, none failed, and each had its request
  // echoed in full.
  void ExpectEveryConnectionEchoed(const LoadResult& result, const LoadOptions& options) {
    RecordProperty("load", result.Line());
    EXPECT_GT(result.completed, 0) << result.Line();
    EXPECT_EQ(result.errors, 0) << result.Line();
    EXPECT_EQ(result.bytes, result.completed * options.request_bytes) << result.Line();
  }
};

TEST_F(TlsLoadTest, RawEngineCompletesFullEcdsaHandshakesWithoutErrors) {
  EchoServer server(ServerKind::kEcdsa);
  LoadOptions options = FullOptions(server.port(), LoadEngine::kRaw);
  absl::StatusOr<LoadResult> result = RunLoad(options);
  ASSERT_TRUE(result.ok()) << result.status();
  ExpectEveryConnectionEchoed(*result, options);
  EXPECT_EQ(result->resumed, 0);
  EXPECT_EQ(result->engine, LoadEngine::kRaw);
  EXPECT_NE(result->Line().find("mode=full engine=raw "), std::string::npos) << result->Line();
}

TEST_F(TlsLoadTest, RawEngineWithRsaCompletesAgainstAnRsaOnlyServer) {
  EchoServer server(ServerKind::kRsa);
  LoadOptions options = FullOptions(server.port(), LoadEngine::kRaw);
  options.rsa = true;
  options.sni = "rsa.test";
  absl::StatusOr<LoadResult> result = RunLoad(options);
  ASSERT_TRUE(result.ok()) << result.status();
  ExpectEveryConnectionEchoed(*result, options);
}

TEST_F(TlsLoadTest, RawEngineWithRsaAgainstAnEcdsaOnlyServerCountsErrors) {
  EchoServer server(ServerKind::kEcdsa);
  LoadOptions options = FullOptions(server.port(), LoadEngine::kRaw);
  options.rsa = true;
  options.max_connections = 20;
  absl::StatusOr<LoadResult> result = RunLoad(options);
  ASSERT_TRUE(result.ok()) << result.status();
  RecordProperty("load", result->Line());
  EXPECT_EQ(result->completed, 0) << result->Line();
  EXPECT_GT(result->errors, 0) << result->Line();
  EXPECT_NE(result->first_error.find("handshake_failure"), std::string::npos) << result->Line();
  EXPECT_EQ(server.handshakes_ok(), 0);
}

TEST_F(TlsLoadTest, RawEngineAgainstAGarbageServerCountsErrors) {
  EchoServer server(ServerKind::kGarbage);
  LoadOptions options = FullOptions(server.port(), LoadEngine::kRaw);
  options.max_connections = 20;
  absl::StatusOr<LoadResult> result = RunLoad(options);
  ASSERT_TRUE(result.ok()) << result.status();
  RecordProperty("load", result->Line());
  EXPECT_EQ(result->completed, 0) << result->Line();
  EXPECT_GT(result->errors, 0) << result->Line();
  EXPECT_NE(result->first_error.find("not a TLS record"), std::string::npos) << result->Line();
}

TEST_F(TlsLoadTest, RawEngineRunsFullModeOnly) {
  for (LoadMode mode : {LoadMode::kResume, LoadMode::kBulk, LoadMode::kIdle}) {
    LoadOptions options = FullOptions(1, LoadEngine::kRaw);
    options.mode = mode;
    absl::StatusOr<LoadResult> result = RunLoad(options);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << LoadModeName(mode);
  }
}

TEST_F(TlsLoadTest, SslEngineStillCompletesFullHandshakes) {
  EchoServer server(ServerKind::kEcdsa);
  LoadOptions options = FullOptions(server.port(), LoadEngine::kSsl);
  absl::StatusOr<LoadResult> result = RunLoad(options);
  ASSERT_TRUE(result.ok()) << result.status();
  ExpectEveryConnectionEchoed(*result, options);
  EXPECT_NE(result->Line().find("engine=ssl"), std::string::npos) << result->Line();
}

TEST_F(TlsLoadTest, EngineNamesRoundTrip) {
  LoadEngine engine = LoadEngine::kSsl;
  EXPECT_TRUE(ParseLoadEngine("raw", &engine));
  EXPECT_EQ(engine, LoadEngine::kRaw);
  EXPECT_TRUE(ParseLoadEngine("ssl", &engine));
  EXPECT_EQ(engine, LoadEngine::kSsl);
  EXPECT_FALSE(ParseLoadEngine("openssl", &engine));
  EXPECT_EQ(LoadOptions{}.engine, LoadEngine::kSsl);
}

}  // namespace
}  // namespace tollgate::tls_bench
