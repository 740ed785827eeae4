// SSLNetVConnection over real loopback sockets with BoringSSL clients: handshakes and data,
// certificate selection, every hook point (immediate, chained, parked and resumed from another
// thread, error, tunnel), close hooks, timeouts, garbage input, large and split ClientHellos,
// and resumption. Then the same driver over in-memory BIO pairs (BioPairTest): no socket in the
// data path, and one-byte buffers that block at every byte boundary.
#include "iocore/tls/ssl_net_vconnection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "iocore/eventsystem/event_processor.h"
#include "iocore/tls/vc_handle.h"
#include "tests/util/echo_session.h"
#include "tests/util/test_certs.h"
#include "tests/util/tls_client.h"
#include "tests/util/tunnel_relay.h"
#include "tests/util/wait.h"

namespace tollgate {
namespace {

using std::chrono::milliseconds;
using test_util::CertOptions;
using test_util::EchoSession;
using test_util::KeyType;
using test_util::kTestDeadline;
using test_util::MakeCert;
using test_util::SessionLog;
using test_util::TestCert;
using test_util::TlsClient;
using test_util::TunnelRelay;
using test_util::WaitCounter;

int64_t Stat(StatId id) { return GlobalStats().Get(id); }

// ---- Hooks under test ---------------------------------------------------------------------

// Calls in order, as "name:HOOK" strings, readable from the test thread.
class HookLog {
 public:
  void Add(std::string entry) {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(std::move(entry));
    count_.Increment();
  }
  std::vector<std::string> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  int Count(const std::string& entry) const {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(std::count(calls_.begin(), calls_.end(), entry));
  }
  WaitCounter& count() { return count_; }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> calls_;
  WaitCounter count_;
};

// Handles of parked connections, for the test thread to reenable.
class ParkedQueue {
 public:
  void Push(uint64_t handle) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      handles_.push_back(handle);
    }
    pushed_.Increment();
  }
  // Pop waits (bounded) for the next handle; 0 on timeout.
  uint64_t Pop() {
    if (!pushed_.WaitAtLeast(++popped_, kTestDeadline)) return 0;
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t h = handles_.front();
    handles_.pop_front();
    return h;
  }

 private:
  std::mutex mu_;
  std::deque<uint64_t> handles_;
  WaitCounter pushed_;
  int64_t popped_ = 0;
};

class TestHook : public TlsHookCallback {
 public:
  enum class Mode {
    kImmediate,  // reenable inline
    kParked,  // hand the handle to the test thread, which reenables later
    kError,  // reenable with TS_EVENT_ERROR
    kTunnel,  // request a blind tunnel, reenable inline
    kTunnelOnSni,  // tunnel only when the SNI is "tunnel.test"
  };
  TestHook(std::string name, Mode mode, HookLog* log, ParkedQueue* parked = nullptr)
      : name_(std::move(name)), mode_(mode), log_(log), parked_(parked) {}

  void Invoke(TlsHookId id, SSLNetVConnection* vc) override {
    log_->Add(absl::StrCat(name_, ":", TlsHookIdName(id)));
    switch (mode_) {
      case Mode::kImmediate:
        SSLNetVConnection::Reenable(vc->handle(), SSLNetVConnection::HookVerdict::kContinue);
        return;
      case Mode::kParked:
        parked_->Push(vc->handle());
        return;
      case Mode::kError:
        SSLNetVConnection::Reenable(vc->handle(), SSLNetVConnection::HookVerdict::kError);
        return;
      case Mode::kTunnel:
        vc->RequestTunnel();
        SSLNetVConnection::Reenable(vc->handle(), SSLNetVConnection::HookVerdict::kContinue);
        return;
      case Mode::kTunnelOnSni:
        if (vc->sni() == "tunnel.test") vc->RequestTunnel();
        SSLNetVConnection::Reenable(vc->handle(), SSLNetVConnection::HookVerdict::kContinue);
        return;
    }
  }

 private:
  std::string name_;
  Mode mode_;
  HookLog* log_;
  ParkedQueue* parked_;
};

// ---- Established connections and tunnels --------------------------------------------------

class EchoAcceptor : public Continuation {
 public:
  explicit EchoAcceptor(SessionLog* log) : log_(log) {}
  void HandleEvent(EventCode code, void* data) override {
    if (code != EventCode::kNetAccept) return;
    (new EchoSession(static_cast<NetVConnection*>(data), log_))->Start();
    log_->accepted.Increment();
  }

 private:
  SessionLog* log_;
};

// Records where each connection would be forwarded (sni.yaml forward_route), then echoes.
class ForwardAcceptor : public Continuation {
 public:
  explicit ForwardAcceptor(SessionLog* log) : log_(log) {}
  void HandleEvent(EventCode code, void* data) override {
    if (code != EventCode::kNetAccept) return;
    auto* vc = static_cast<SSLNetVConnection*>(static_cast<NetVConnection*>(data));
    {
      std::lock_guard<std::mutex> lock(mu);
      destinations.push_back(
          vc->forward_destination().has_value() ? vc->forward_destination()->ToString() : "none");
    }
    (new EchoSession(vc, log_))->Start();
    log_->accepted.Increment();
  }
  std::mutex mu;
  std::vector<std::string> destinations;

 private:
  SessionLog* log_;
};

// A far end for tunnels: accepts one connection, reads until |expect| bytes came, answers
// "tunnel-ok" and closes. Runs on its own thread with bounded waits.
class FarEnd {
 public:
  FarEnd() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    IpEndpoint any = IpEndpoint::Loopback(AF_INET, 0);
    bind(listen_fd_, any.sockaddr(), any.socklen());
    listen(listen_fd_, 8);
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    addr_ = IpEndpoint::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  }
  ~FarEnd() {
    if (thread_.joinable()) thread_.join();
    close(listen_fd_);
  }
  void Expect(size_t n) {
    thread_ = std::thread([this, n] {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 20000) <= 0) return;
      int fd = accept(listen_fd_, nullptr, nullptr);
      timeval tv{20, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      char buf[65536];
      while (received_.size() < n) {
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r <= 0) break;
        received_.append(buf, r);
      }
      send(fd, "tunnel-ok", 9, MSG_NOSIGNAL);
      close(fd);
      done_.Increment();
    });
  }
  std::string Received() {
    done_.WaitAtLeast(1, kTestDeadline);
    return received_;
  }
  const IpEndpoint& addr() const { return addr_; }

 private:
  int listen_fd_;
  IpEndpoint addr_;
  std::thread thread_;
  std::string received_;
  WaitCounter done_;
};

class TunnelAcceptor : public Continuation {
 public:
  TunnelAcceptor(NetProcessor* net, const IpEndpoint* far) : net_(net), far_(far) {}
  void HandleEvent(EventCode code, void* data) override {
    if (code != EventCode::kNetAccept) return;
    auto* vc = static_cast<SSLNetVConnection*>(static_cast<NetVConnection*>(data));
    {
      std::lock_guard<std::mutex> lock(mu);
      std::optional<SniRoute> route = vc->TunnelDestination();
      destinations.push_back(route.has_value() ? route->ToString() : "none");
    }
    tunnels.Increment();
    new TunnelRelay(vc, net_, *far_);
  }
  WaitCounter tunnels;
  std::mutex mu;
  std::vector<std::string> destinations;

 private:
  NetProcessor* net_;
  const IpEndpoint* far_;
};

class CountingAcceptor : public Continuation {
 public:
  explicit CountingAcceptor(SessionLog* log) : log_(log) {}
  void HandleEvent(EventCode code, void* data) override {
    if (code != EventCode::kNetAccept) return;
    accepted.Increment();
    (new EchoSession(static_cast<NetVConnection*>(data), log_))->Start();
    log_->accepted.Increment();
  }
  WaitCounter accepted;

 private:
  SessionLog* log_;
};

// ---- Fixture --------------------------------------------------------------------------------

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ca_ = new TestCert(*MakeCert({.common_name = "Tollgate Test CA", .is_ca = true}));
  }

  static TestCert Leaf(const std::string& cn, std::vector<std::string> names,
                       KeyType type = KeyType::kEcdsaP256) {
    return *MakeCert({.key_type = type, .common_name = cn, .dns_names = std::move(names)}, ca_);
  }

  static CertTable::CertSpec Spec(TestCert cert) {
    CertTable::CertSpec spec;
    spec.leaf = std::move(cert.cert);
    spec.key = std::move(cert.key);
    return spec;
  }

  // Builds a.test, *.wild.test, dual.test (ECDSA + RSA) and, optionally, a default entry.
  std::shared_ptr<const CertTable> MakeTable(bool with_default) {
    CertTable::Builder builder(CertTableOptions{
        .configure_ctx = [this](SSL_CTX* ctx) { return ConfigureServerContext(ctx, settings_); }});
    auto add = [&](std::vector<TestCert> certs, std::vector<DestIp> dest_ips) {
      CertTable::EntrySpec entry;
      for (TestCert& c : certs) entry.certs.push_back(Spec(std::move(c)));
      entry.dest_ips = std::move(dest_ips);
      absl::Status s = builder.Add(std::move(entry));
      EXPECT_TRUE(s.ok()) << s;
    };
    std::vector<TestCert> a;
    a.push_back(Leaf("a.test", {"a.test"}));
    add(std::move(a), {});
    std::vector<TestCert> wild;
    wild.push_back(Leaf("wild.test", {"*.wild.test"}));
    add(std::move(wild), {});
    std::vector<TestCert> dual;
    dual.push_back(Leaf("dual.test", {"dual.test"}, KeyType::kEcdsaP256));
    dual.push_back(Leaf("dual.test", {"dual.test"}, KeyType::kRsa2048));
    add(std::move(dual), {});
    if (with_default) {
      std::vector<TestCert> def;
      def.push_back(Leaf("default.test", {"default.test"}));
      add(std::move(def), {DestIp::Any()});
    }
    absl::StatusOr<std::shared_ptr<const CertTable>> table = std::move(builder).Build();
    EXPECT_TRUE(table.ok()) << table.status();
    return *table;
  }

  // MakeConfig builds a port configuration from the current settings_, table_ and protocols_.
  absl::StatusOr<std::shared_ptr<const TlsPortConfig>> MakeConfig() {
    return MakeTlsPortConfig(TlsPortSpec{.certs = table_,
                                         .settings = settings_,
                                         .hooks = &hooks_,
                                         .acceptor = &acceptor_,
                                         .protocols = protocols_,
                                         .tunnel_acceptor = tunnel_acceptor_.get(),
                                         .sni = sni_,
                                         .forward_acceptor = &forward_acceptor_});
  }

  void StartServer(bool with_default = true, NetConfig net_config = {}) {
    net_ = std::make_unique<NetProcessor>(net_config);
    ASSERT_TRUE(ep_.Start({.net_threads = 1,
                           .task_threads = 0,
                           .net_thread_init = [this](EThread& t) { net_->InitThread(t); }})
                    .ok());
    tunnel_acceptor_ = std::make_unique<TunnelAcceptor>(net_.get(), &far_.addr());
    table_ = MakeTable(with_default);
    absl::StatusOr<std::shared_ptr<const TlsPortConfig>> config = MakeConfig();
    ASSERT_TRUE(config.ok()) << config.status();
    port_ = std::make_unique<TlsPort>(*config);
    absl::StatusOr<IpEndpoint> bound = port_->Listen(*net_, IpEndpoint::Loopback(AF_INET, 0));
    ASSERT_TRUE(bound.ok()) << bound.status();
    port_number_ = bound->port();
  }

  static void TearDownTestSuite() {
    delete ca_;
    ca_ = nullptr;
  }

  void TearDown() override {
    // Clients are gone by now; let the server see every close (sessions free themselves).
    if (net_ != nullptr) {
      for (auto start = std::chrono::steady_clock::now(); net_->open_connections() > 0 &&
           std::chrono::steady_clock::now() - start < kTestDeadline;) {
        PassTime(milliseconds(1));
      }
    }
    sessions_.finished.WaitAtLeast(sessions_.accepted.value(), kTestDeadline);
    ep_.Shutdown();
  }

  // Waits (bounded) for the net thread to pass a point |delay| from now.
  void PassTime(Nanoseconds delay) {
    struct Mark : Continuation {
      void HandleEvent(EventCode, void*) override { runs.Increment(); }
      WaitCounter runs;
    } mark;
    ep_.thread(ThreadGroup::kNet, 0)->ScheduleIn(&mark, delay);
    ASSERT_TRUE(mark.runs.WaitAtLeast(1, kTestDeadline));
  }

  // AddHook registers a hook owned by the fixture, so it outlives the connections that use it
  // (they may still run close hooks until TearDown stops the threads).
  TestHook* AddHook(TlsHookId id, const std::string& name, TestHook::Mode mode) {
    hook_storage_.push_back(std::make_unique<TestHook>(name, mode, &log_, &parked_));
    hooks_.Add(id, hook_storage_.back().get());
    return hook_storage_.back().get();
  }

  TlsClient Client(const std::string& sni) {
    return TlsClient({.sni = sni, .ca = ca_->cert.get()});
  }

  static TestCert* ca_;
  TlsServerSettings settings_;
  TlsHookRegistry hooks_;
  std::vector<std::unique_ptr<TestHook>> hook_storage_;
  HookLog log_;
  ParkedQueue parked_;
  SessionLog sessions_;
  EchoAcceptor acceptor_{&sessions_};
  ForwardAcceptor forward_acceptor_{&sessions_};
  // Acceptors for ALPN tests: fixture-owned, since a handshake may complete on the server after
  // the client (and the test body) is done.
  CountingAcceptor h2_acceptor_{&sessions_};
  CountingAcceptor h1_acceptor_{&sessions_};
  FarEnd far_;
  EventProcessor ep_;
  std::unique_ptr<NetProcessor> net_;
  std::unique_ptr<TunnelAcceptor> tunnel_acceptor_;
  std::unique_ptr<TlsPort> port_;
  std::shared_ptr<const CertTable> table_;
  std::vector<std::pair<std::string, Continuation*>> protocols_;
  std::shared_ptr<const SniConfig> sni_;
  uint16_t port_number_ = 0;
};

TestCert* TlsTest::ca_ = nullptr;

// ---- Handshake and data ---------------------------------------------------------------------

TEST_F(TlsTest, EstablishesTls13AndEchoesSixtyFourMegabytesEachWay) {
  StartServer();
  TlsClient client = Client("a.test");
  ASSERT_TRUE(client.Connect(port_number_).ok());
  EXPECT_EQ(client.version(), TLS1_3_VERSION);
  EXPECT_EQ(client.cipher().rfind("TLS_", 0), 0u) << client.cipher();
  std::mt19937_64 rng(5);
  std::string chunk(65536, '\0');
  for (int i = 0; i < 1024; ++i) {  // 64 MiB each way in 64 KiB round trips
    for (auto& c : chunk) c = static_cast<char>(rng());
    ASSERT_TRUE(client.WriteAll(chunk).ok());
    absl::StatusOr<std::string> echoed = client.ReadExactly(chunk.size());
    ASSERT_TRUE(echoed.ok()) << "chunk " << i << ": " << echoed.status();
    ASSERT_TRUE(*echoed == chunk) << "chunk " << i << " differs";
  }
}

TEST_F(TlsTest, ClientClosingCleanlyGivesEosToTheSession) {
  StartServer();
  TlsClient client = Client("a.test");
  ASSERT_TRUE(client.Connect(port_number_).ok());
  ASSERT_TRUE(client.WriteAll("bye").ok());
  ASSERT_EQ(*client.ReadExactly(3), "bye");
  SSL_shutdown(client.ssl());
  ASSERT_TRUE(sessions_.eos.WaitAtLeast(1, kTestDeadline));
  EXPECT_TRUE(sessions_.finished.WaitAtLeast(1, kTestDeadline));
}

// ---- Certificate selection ------------------------------------------------------------------

TEST_F(TlsTest, SelectsCertificateByExactNameWildcardAndDefault) {
  StartServer();
  struct Case {
    std::string sni;
    std::string cn;
  };
  for (const Case& c :
       {Case{"a.test", "a.test"}, Case{"A.TEST", "a.test"}, Case{"x.wild.test", "wild.test"},
        Case{"nobody.test", "default.test"}, Case{"", "default.test"}}) {
    TlsClient client({.sni = c.sni});
    ASSERT_TRUE(client.Connect(port_number_).ok()) << c.sni;
    EXPECT_EQ(client.PeerCommonName(), c.cn) << "SNI '" << c.sni << "'";
  }
}

TEST_F(TlsTest, UnknownNameWithoutDefaultFailsTheHandshakeAndIsCounted) {
  StartServer(/*with_default=*/false);
  int64_t before = Stat(TlsStats::Get().no_certificate);
  TlsClient client({.sni = "nobody.test"});
  EXPECT_FALSE(client.Connect(port_number_).ok());
  TlsClient known = Client("a.test");
  EXPECT_TRUE(known.Connect(port_number_).ok());
  EXPECT_EQ(Stat(TlsStats::Get().no_certificate) - before, 1);
}

TEST_F(TlsTest, DualCertificateIsChosenByTheClientsSignatureAlgorithms) {
  StartServer();
  auto key_type = [](TlsClient& client) {
    bssl::UniquePtr<X509> cert(SSL_get_peer_certificate(client.ssl()));
    bssl::UniquePtr<EVP_PKEY> key(X509_get_pubkey(cert.get()));
    return EVP_PKEY_id(key.get());
  };
  TlsClient ecdsa = Client("dual.test");
  ASSERT_TRUE(ecdsa.Connect(port_number_).ok());
  EXPECT_EQ(key_type(ecdsa), EVP_PKEY_EC);
  TlsClient rsa({.sni = "dual.test", .ca = ca_->cert.get(), .rsa_only = true});
  ASSERT_TRUE(rsa.Connect(port_number_).ok());
  EXPECT_EQ(key_type(rsa), EVP_PKEY_RSA);
}

// ---- Hooks ----------------------------------------------------------------------------------

TEST_F(TlsTest, ImmediateHookChainsRunOnceEachInOrderThenCloseHooks) {
  for (TlsHookId id : {TlsHookId::kVconnStart, TlsHookId::kClientHello, TlsHookId::kServername,
                       TlsHookId::kCert, TlsHookId::kVconnClose}) {
    for (int i = 0; i < 2; ++i) AddHook(id, absl::StrCat("h", i), TestHook::Mode::kImmediate);
  }
  StartServer();
  {
    TlsClient client = Client("a.test");
    ASSERT_TRUE(client.Connect(port_number_).ok());
    ASSERT_TRUE(client.WriteAll("x").ok());
    ASSERT_TRUE(client.ReadExactly(1).ok());
  }  // client closes
  ASSERT_TRUE(log_.count().WaitAtLeast(10, kTestDeadline));
  EXPECT_EQ(
      log_.calls(),
      (std::vector<std::string>{"h0:VCONN_START", "h1:VCONN_START", "h0:SSL_CLIENT_HELLO",
                                "h1:SSL_CLIENT_HELLO", "h0:SSL_SERVERNAME", "h1:SSL_SERVERNAME",
                                "h0:SSL_CERT", "h1:SSL_CERT", "h0:VCONN_CLOSE", "h1:VCONN_CLOSE"}));
}

TEST_F(TlsTest, ServernameHooksRunWithoutSni) {
  AddHook(TlsHookId::kServername, "h", TestHook::Mode::kImmediate);
  StartServer();
  TlsClient client({.sni = ""});
  ASSERT_TRUE(client.Connect(port_number_).ok());
  EXPECT_EQ(log_.Count("h:SSL_SERVERNAME"), 1);
}

class ParkedHookTest : public TlsTest, public ::testing::WithParamInterface<TlsHookId> {};

TEST_P(ParkedHookTest, ParkedHookHoldsTheHandshakeUntilReenabledFromAnotherThread) {
  TlsHookId id = GetParam();
  AddHook(id, "p", TestHook::Mode::kParked);
  AddHook(id, "after", TestHook::Mode::kImmediate);
  StartServer();
  std::atomic<bool> done{false};
  absl::Status result;
  std::thread client_thread([&] {
    TlsClient client = Client("a.test");
    result = client.Connect(port_number_);
    done = true;
  });
  uint64_t handle = parked_.Pop();
  ASSERT_NE(handle, 0u);
  PassTime(milliseconds(100));
  EXPECT_FALSE(done.load()) << "the handshake went on while a hook was parked";
  EXPECT_EQ(log_.Count(absl::StrCat("after:", TlsHookIdName(id))), 0)
      << "the next hook ran before the parked one reenabled";
  SSLNetVConnection::Reenable(handle, SSLNetVConnection::HookVerdict::kContinue);
  client_thread.join();
  EXPECT_TRUE(result.ok()) << result;
  EXPECT_EQ(log_.Count(absl::StrCat("p:", TlsHookIdName(id))), 1);
  EXPECT_EQ(log_.Count(absl::StrCat("after:", TlsHookIdName(id))), 1);
  // A second reenable for the same call is ignored.
  SSLNetVConnection::Reenable(handle, SSLNetVConnection::HookVerdict::kContinue);
}

// HookPointName names a parameterized test after its hook point ("SSLCERT").
std::string HookPointName(const ::testing::TestParamInfo<TlsHookId>& param) {
  std::string name = TlsHookIdName(param.param);
  name.erase(std::remove(name.begin(), name.end(), '_'), name.end());
  return name;
}

INSTANTIATE_TEST_SUITE_P(EachPoint, ParkedHookTest,
                         ::testing::Values(TlsHookId::kVconnStart, TlsHookId::kClientHello,
                                           TlsHookId::kServername, TlsHookId::kCert),
                         HookPointName);

TEST_F(TlsTest, ErrorVerdictAbortsTheHandshakeAndStillRunsCloseHooks) {
  AddHook(TlsHookId::kClientHello, "e", TestHook::Mode::kError);
  AddHook(TlsHookId::kVconnClose, "c", TestHook::Mode::kImmediate);
  StartServer();
  int64_t before = Stat(TlsStats::Get().hook_aborts);
  TlsClient client = Client("a.test");
  EXPECT_FALSE(client.Connect(port_number_).ok());
  ASSERT_TRUE(log_.count().WaitAtLeast(2, kTestDeadline));
  EXPECT_EQ(log_.Count("c:VCONN_CLOSE"), 1);
  EXPECT_EQ(Stat(TlsStats::Get().hook_aborts) - before, 1);
}

TEST_F(TlsTest, ParkedHandshakeTimesOutGetsCloseHooksOnceAndLateReenableIsHarmless) {
  settings_.handshake_timeout = milliseconds(300);
  AddHook(TlsHookId::kCert, "p", TestHook::Mode::kParked);
  AddHook(TlsHookId::kVconnClose, "c", TestHook::Mode::kImmediate);
  StartServer(true, {.cop_interval = milliseconds(10)});
  int64_t before = Stat(TlsStats::Get().handshakes_timed_out);
  std::thread client_thread([&] {
    TlsClient client = Client("a.test");
    EXPECT_FALSE(client.Connect(port_number_).ok());
  });
  uint64_t handle = parked_.Pop();
  ASSERT_NE(handle, 0u);
  ASSERT_TRUE(log_.count().WaitAtLeast(2, kTestDeadline));  // p:SSL_CERT, then c:VCONN_CLOSE
  client_thread.join();
  EXPECT_EQ(log_.Count("c:VCONN_CLOSE"), 1);
  EXPECT_EQ(Stat(TlsStats::Get().handshakes_timed_out) - before, 1);
  // The connection is gone: a late reenable is a no-op, and no second close hook runs.
  SSLNetVConnection::Reenable(handle, SSLNetVConnection::HookVerdict::kContinue);
  PassTime(milliseconds(50));
  EXPECT_EQ(log_.Count("c:VCONN_CLOSE"), 1);
}

// ---- Tunnels ---------------------------------------------------------------------------------

// Sends |bytes| one byte per TCP segment (TCP_NODELAY, one send each).
void SendOneBytePerSegment(int fd, const std::string& bytes) {
  for (char c : bytes) ASSERT_EQ(send(fd, &c, 1, MSG_NOSIGNAL), 1);
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t r;
  while ((r = recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, r);
  return out;
}

TEST_F(TlsTest, TunnelFromVconnStartRelaysTheClientBytesUntouched) {
  AddHook(TlsHookId::kVconnStart, "t", TestHook::Mode::kTunnel);
  StartServer();
  std::string hello = test_util::MakeClientHello("tunnel.test");
  far_.Expect(hello.size());
  int fd = test_util::ConnectTcp(port_number_);
  ASSERT_GE(fd, 0);
  SendOneBytePerSegment(fd, hello);
  EXPECT_EQ(far_.Received(), hello);
  EXPECT_EQ(ReadAll(fd), "tunnel-ok");
  close(fd);
  EXPECT_EQ(tunnel_acceptor_->tunnels.value(), 1);
}

TEST_F(TlsTest, TunnelFromServernameReplaysASplitClientHelloByteExact) {
  AddHook(TlsHookId::kServername, "t", TestHook::Mode::kTunnelOnSni);
  StartServer();
  std::string hello = test_util::MakeClientHello("tunnel.test");
  far_.Expect(hello.size());
  int fd = test_util::ConnectTcp(port_number_);
  ASSERT_GE(fd, 0);
  SendOneBytePerSegment(fd, hello);
  EXPECT_EQ(far_.Received(), hello);
  EXPECT_EQ(ReadAll(fd), "tunnel-ok");
  close(fd);
  // Other names are terminated as usual.
  TlsClient client = Client("a.test");
  EXPECT_TRUE(client.Connect(port_number_).ok());
}

// Grows a ClientHello record to about |target| bytes with an extension the server ignores
// (a GREASE type), fixing the record, handshake and extensions lengths.
std::string PadClientHello(std::string hello, size_t target) {
  size_t pad = target > hello.size() + 4 ? target - hello.size() - 4 : 0;
  std::string ext;
  ext.push_back(0x1a);
  ext.push_back(0x1a);
  ext.push_back(static_cast<char>(pad >> 8));
  ext.push_back(static_cast<char>(pad & 0xff));
  ext.append(pad, '\0');
  auto get16 = [&](size_t at) {
    return (static_cast<size_t>(static_cast<uint8_t>(hello[at])) << 8) |
        static_cast<uint8_t>(hello[at + 1]);
  };
  auto put16 = [&](size_t at, size_t v) {
    hello[at] = static_cast<char>(v >> 8);
    hello[at + 1] = static_cast<char>(v & 0xff);
  };
  // Record header (5) | handshake type (1) length (3) | version (2) random (32) | session id |
  // cipher suites | compression | extensions length (2) | extensions.
  size_t pos = 5 + 4 + 2 + 32;
  pos += 1 + static_cast<uint8_t>(hello[pos]);
  pos += 2 + get16(pos);
  pos += 1 + static_cast<uint8_t>(hello[pos]);
  size_t ext_len_at = pos;
  put16(ext_len_at, get16(ext_len_at) + ext.size());
  put16(3, get16(3) + ext.size());
  put16(7, get16(7) + ext.size());  // low 16 bits of the 24-bit handshake length
  hello.append(ext);
  return hello;
}

TEST_F(TlsTest, SixteenKilobyteClientHelloInOneByteSegmentsGetsAServerHello) {
  StartServer();
  std::string hello = PadClientHello(test_util::MakeClientHello("a.test"), 16000);
  ASSERT_GT(hello.size(), 15000u);
  int fd = test_util::ConnectTcp(port_number_);
  ASSERT_GE(fd, 0);
  SendOneBytePerSegment(fd, hello);
  char reply[6];
  ASSERT_EQ(recv(fd, reply, sizeof(reply), MSG_WAITALL), 6);
  EXPECT_EQ(reply[0], 0x16) << "expected a handshake record";
  EXPECT_EQ(reply[5], 0x02) << "expected a ServerHello";
  close(fd);
}

TEST_F(TlsTest, SixteenKilobyteSplitClientHelloIsReplayedByteExactToATunnel) {
  AddHook(TlsHookId::kServername, "t", TestHook::Mode::kTunnelOnSni);
  StartServer();
  std::string hello = PadClientHello(test_util::MakeClientHello("tunnel.test"), 16000);
  far_.Expect(hello.size());
  int fd = test_util::ConnectTcp(port_number_);
  ASSERT_GE(fd, 0);
  SendOneBytePerSegment(fd, hello);
  std::string received = far_.Received();
  EXPECT_EQ(received.size(), hello.size());
  EXPECT_TRUE(received == hello) << "the far end got different bytes";
  EXPECT_EQ(ReadAll(fd), "tunnel-ok");
  close(fd);
}

// ---- Failures ---------------------------------------------------------------------------------

TEST_F(TlsTest, SilentClientIsClosedAtTheHandshakeTimeout) {
  settings_.handshake_timeout = milliseconds(200);
  StartServer(true, {.cop_interval = milliseconds(10)});
  int64_t before = Stat(TlsStats::Get().handshakes_timed_out);
  int fd = test_util::ConnectTcp(port_number_);
  ASSERT_GE(fd, 0);
  char byte;
  EXPECT_EQ(recv(fd, &byte, 1, 0), 0) << "the server should close a silent client";
  close(fd);
  EXPECT_EQ(Stat(TlsStats::Get().handshakes_timed_out) - before, 1);
}

TEST_F(TlsTest, ClientHangingUpWhileAHookHoldsTheHandshakeEndsItAtOnce) {
  // The handshake timeout is far away: only the hang-up can end the handshake within the test.
  settings_.handshake_timeout = std::chrono::seconds(600);
  AddHook(TlsHookId::kCert, "p", TestHook::Mode::kParked);
  AddHook(TlsHookId::kVconnClose, "close", TestHook::Mode::kImmediate);
  StartServer();
  const int64_t failed_before = Stat(TlsStats::Get().handshakes_failed);
  const int64_t timed_out_before = Stat(TlsStats::Get().handshakes_timed_out);
  int fd = test_util::ConnectTcp(port_number_);
  ASSERT_GE(fd, 0);
  std::string hello = test_util::MakeClientHello("a.test");
  ASSERT_EQ(send(fd, hello.data(), hello.size(), MSG_NOSIGNAL), static_cast<ssize_t>(hello.size()));
  uint64_t handle = parked_.Pop();
  ASSERT_NE(handle, 0u);
  close(fd);
  ASSERT_TRUE(log_.count().WaitAtLeast(2, kTestDeadline)) << "no close hook after the hang-up";
  EXPECT_EQ(log_.Count("close:VCONN_CLOSE"), 1);
  EXPECT_EQ(Stat(TlsStats::Get().handshakes_failed), failed_before + 1);
  EXPECT_EQ(Stat(TlsStats::Get().handshakes_timed_out), timed_out_before);
  // The plugin's reenable, arriving later, finds nothing to resume.
  SSLNetVConnection::Reenable(handle, SSLNetVConnection::HookVerdict::kContinue);
  PassTime(milliseconds(1));
  EXPECT_EQ(log_.Count("close:VCONN_CLOSE"), 1);
  EXPECT_EQ(log_.Count("p:SSL_CERT"), 1);
}

TEST_F(TlsTest, GarbageInsteadOfAClientHelloIsClosedAndCounted) {
  StartServer();
  int64_t before = Stat(TlsStats::Get().handshakes_failed);
  int fd = test_util::ConnectTcp(port_number_);
  ASSERT_GE(fd, 0);
  std::string garbage = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n";
  ASSERT_EQ(send(fd, garbage.data(), garbage.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(garbage.size()));
  std::string reply = ReadAll(fd);  // at most an alert, then the close
  close(fd);
  EXPECT_LE(reply.size(), 7u);
  EXPECT_EQ(Stat(TlsStats::Get().handshakes_failed) - before, 1);
  TlsClient client = Client("a.test");
  EXPECT_TRUE(client.Connect(port_number_).ok()) << "the server survives garbage";
}

// ---- Resumption -------------------------------------------------------------------------------

TEST_F(TlsTest, SecondConnectionResumesWithTheTicketFromTheFirst) {
  StartServer();
  bssl::UniquePtr<SSL_SESSION> session;
  {
    TlsClient first = Client("a.test");
    ASSERT_TRUE(first.Connect(port_number_).ok());
    ASSERT_TRUE(first.WriteAll("t").ok());
    ASSERT_TRUE(first.ReadExactly(1).ok());  // TLS 1.3 tickets arrive after the handshake
    EXPECT_FALSE(first.reused());
    session = first.session();
  }
  int64_t before = Stat(TlsStats::Get().resumed);
  TlsClient second({.sni = "a.test", .ca = ca_->cert.get(), .session = session.get()});
  ASSERT_TRUE(second.Connect(port_number_).ok());
  ASSERT_TRUE(second.WriteAll("r").ok());
  ASSERT_TRUE(second.ReadExactly(1).ok());
  EXPECT_TRUE(second.reused());
  EXPECT_EQ(Stat(TlsStats::Get().resumed) - before, 1);
}

// ---- Ticket keys, session IDs, ALPN, record sizes --------------------------------------------

std::string KeyBytes(char fill) { return std::string(TicketKeyRing::kKeyBytes, fill); }

std::shared_ptr<const TicketKeyRing> Ring(const std::string& bytes) {
  absl::StatusOr<std::shared_ptr<const TicketKeyRing>> ring =
      TicketKeyRing::FromBytes(bytes, "test");
  EXPECT_TRUE(ring.ok()) << ring.status();
  return *ring;
}

// Connects, reads one echo so the TLS 1.3 ticket arrives, and returns the session to resume.
bssl::UniquePtr<SSL_SESSION> FirstSession(uint16_t port, X509* ca) {
  TlsClient first({.sni = "a.test", .ca = ca});
  EXPECT_TRUE(first.Connect(port).ok());
  EXPECT_TRUE(first.WriteAll("t").ok());
  EXPECT_TRUE(first.ReadExactly(1).ok());
  return first.session();
}

bool Resumes(uint16_t port, X509* ca, SSL_SESSION* session) {
  TlsClient again({.sni = "a.test", .ca = ca, .session = session});
  EXPECT_TRUE(again.Connect(port).ok());
  EXPECT_TRUE(again.WriteAll("r").ok());
  EXPECT_TRUE(again.ReadExactly(1).ok());
  return again.reused();
}

TEST_F(TlsTest, TicketKeyFileRotationKeepsResumptionWhileTheOldKeyRemains) {
  std::string path = absl::StrCat(getenv("TEST_TMPDIR"), "/ticket.key");
  {
    FILE* f = fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::string k1 = KeyBytes('1');
    fwrite(k1.data(), 1, k1.size(), f);
    fclose(f);
  }
  absl::StatusOr<std::shared_ptr<const TicketKeyRing>> from_file = TicketKeyRing::LoadFile(path);
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  settings_.ticket_keys = *from_file;
  StartServer();
  bssl::UniquePtr<SSL_SESSION> session = FirstSession(port_number_, ca_->cert.get());

  // New first key, old key kept for decryption: old tickets still resume.
  settings_.ticket_keys = Ring(KeyBytes('2') + KeyBytes('1'));
  port_->SwapConfig(*MakeConfig());
  EXPECT_TRUE(Resumes(port_number_, ca_->cert.get(), session.get()));

  // Old key gone: the old ticket no longer resumes, the handshake is a full one.
  settings_.ticket_keys = Ring(KeyBytes('3'));
  port_->SwapConfig(*MakeConfig());
  EXPECT_FALSE(Resumes(port_number_, ca_->cert.get(), session.get()));
}

TEST_F(TlsTest, BadTicketKeyFileIsRejectedWithItsLength) {
  absl::Status s = TicketKeyRing::FromBytes("short", "ticket.key").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("5 bytes"), absl::string_view::npos) << s;
  EXPECT_FALSE(TicketKeyRing::LoadFile("/nonexistent/ticket.key").ok());
}

TEST_F(TlsTest, Tls12ClientWithoutTicketsResumesBySessionId) {
  StartServer();
  bssl::UniquePtr<SSL_SESSION> session;
  {
    TlsClient first(
        {.sni = "a.test", .ca = ca_->cert.get(), .max_version = TLS1_2_VERSION, .tickets = false});
    ASSERT_TRUE(first.Connect(port_number_).ok());
    EXPECT_EQ(first.version(), TLS1_2_VERSION);
    session = first.session();
  }
  TlsClient again({.sni = "a.test",
                   .ca = ca_->cert.get(),
                   .max_version = TLS1_2_VERSION,
                   .session = session.get(),
                   .tickets = false});
  ASSERT_TRUE(again.Connect(port_number_).ok());
  EXPECT_TRUE(again.reused());
}

TEST_F(TlsTest, AlpnHandsTheConnectionToTheAcceptorOfTheAgreedProtocol) {
  protocols_ = {{"h2", &h2_acceptor_}, {"http/1.1", &h1_acceptor_}};
  StartServer();
  {
    TlsClient client({.sni = "a.test", .alpn = {"http/1.1", "h2"}});
    ASSERT_TRUE(client.Connect(port_number_).ok());
    EXPECT_EQ(client.alpn(), "h2") << "server preference wins";
    ASSERT_TRUE(client.WriteAll("x").ok());
    ASSERT_TRUE(client.ReadExactly(1).ok());
  }
  {
    TlsClient client({.sni = "a.test", .alpn = {"http/1.1"}});
    ASSERT_TRUE(client.Connect(port_number_).ok());
    EXPECT_EQ(client.alpn(), "http/1.1");
    ASSERT_TRUE(client.WriteAll("x").ok());
    ASSERT_TRUE(client.ReadExactly(1).ok());
  }
  {
    TlsClient client({.sni = "a.test", .alpn = {"banana"}});
    ASSERT_TRUE(client.Connect(port_number_).ok());
    EXPECT_EQ(client.alpn(), "");
    ASSERT_TRUE(client.WriteAll("x").ok());
    ASSERT_TRUE(client.ReadExactly(1).ok());
  }
  EXPECT_EQ(h2_acceptor_.accepted.value(), 1);
  EXPECT_EQ(h1_acceptor_.accepted.value(), 1);
  EXPECT_EQ(sessions_.accepted.value(), 3);  // the third went to the default acceptor
}

// Echoes |total| bytes in 64 KiB round trips and returns the record lengths the client saw.
std::vector<size_t> EchoAndRecordSizes(TlsClient& client, int64_t total) {
  std::string chunk(65536, 'r');
  for (int64_t done = 0; done < total; done += chunk.size()) {
    EXPECT_TRUE(client.WriteAll(chunk).ok());
    EXPECT_TRUE(client.ReadExactly(chunk.size()).ok());
  }
  return client.record_lengths();
}

TEST_F(TlsTest, MaxRecordSizeCapsEveryRecord) {
  settings_.max_record_size = 4096;
  StartServer();
  TlsClient client = Client("a.test");
  ASSERT_TRUE(client.Connect(port_number_).ok());
  std::vector<size_t> lengths = EchoAndRecordSizes(client, 1 << 20);
  size_t largest = *std::max_element(lengths.begin(), lengths.end());
  EXPECT_LE(largest, 4096u + 17) << "a record exceeded the cap";
  EXPECT_GE(largest, 4096u) << "records should reach the cap";
}

TEST_F(TlsTest, DynamicRecordSizingStartsSmallThenUsesFullRecords) {
  settings_.max_record_size = -1;
  StartServer();
  TlsClient client = Client("a.test");
  ASSERT_TRUE(client.Connect(port_number_).ok());
  size_t handshake_records = client.record_lengths().size();
  std::vector<size_t> lengths = EchoAndRecordSizes(client, 3 << 20);
  // The first 64 KiB echoed come in small records.
  size_t bytes = 0;
  size_t i = handshake_records + 2;  // skip the session tickets
  for (; i < lengths.size() && bytes < 65536; ++i) {
    EXPECT_LE(lengths[i], 1300u + 17) << "record " << i << " early in the stream";
    bytes += lengths[i] - 17;
  }
  EXPECT_EQ(*std::max_element(lengths.begin(), lengths.end()), 16384u + 17)
      << "full records after the first megabyte";
}

// ---- sni.yaml --------------------------------------------------------------------------------

std::shared_ptr<const SniConfig> Sni(const std::string& yaml) {
  absl::StatusOr<std::shared_ptr<const SniConfig>> config =
      SniConfig::Parse(yaml, "sni.yaml", nullptr);
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

TEST_F(TlsTest, SniTunnelRouteSendsTheReplayedClientHelloToTheRouteWithCaptures) {
  sni_ = Sni("sni:\n  - fqdn: '*.match.test'\n    tunnel_route: '$1.backend.test:4443'\n");
  StartServer();
  std::string hello = test_util::MakeClientHello("foo.match.test");
  far_.Expect(hello.size());
  int fd = test_util::ConnectTcp(port_number_);
  ASSERT_GE(fd, 0);
  SendOneBytePerSegment(fd, hello);
  std::string received = far_.Received();
  EXPECT_TRUE(received == hello) << "replayed " << received.size() << " of " << hello.size();
  EXPECT_EQ(ReadAll(fd), "tunnel-ok");
  close(fd);
  std::lock_guard<std::mutex> lock(tunnel_acceptor_->mu);
  EXPECT_EQ(tunnel_acceptor_->destinations, std::vector<std::string>{"foo.backend.test:4443"});
}

TEST_F(TlsTest, SniForwardRouteTerminatesTlsAndNamesTheDestination) {
  sni_ = Sni("sni:\n  - fqdn: fwd.test\n    forward_route: plain.backend.test:8080\n");
  StartServer();
  TlsClient client({.sni = "fwd.test"});
  ASSERT_TRUE(client.Connect(port_number_).ok());
  EXPECT_EQ(client.PeerCommonName(), "default.test") << "TLS terminated by Tollgate";
  ASSERT_TRUE(client.WriteAll("hi").ok());
  ASSERT_TRUE(client.ReadExactly(2).ok());
  std::lock_guard<std::mutex> lock(forward_acceptor_.mu);
  EXPECT_EQ(forward_acceptor_.destinations, std::vector<std::string>{"plain.backend.test:8080"});
}

TEST_F(TlsTest, SniIpAllowRefusesClientsOutsideTheList) {
  sni_ =
      Sni("sni:\n  - fqdn: closed.test\n    ip_allow: 10.0.0.0/8\n"
          "  - fqdn: open.test\n    ip_allow: 127.0.0.0/8, ::1\n");
  StartServer();
  TlsClient closed({.sni = "closed.test"});
  EXPECT_FALSE(closed.Connect(port_number_).ok());
  TlsClient open({.sni = "open.test"});
  EXPECT_TRUE(open.Connect(port_number_).ok());
}

TEST_F(TlsTest, SniValidTlsVersionsRestrictTheNegotiatedVersion) {
  sni_ = Sni("sni:\n  - fqdn: new.test\n    valid_tls_versions_in: [TLSv1_3]\n");
  StartServer();
  TlsClient old_client({.sni = "new.test", .max_version = TLS1_2_VERSION});
  EXPECT_FALSE(old_client.Connect(port_number_).ok());
  TlsClient new_client({.sni = "new.test"});
  ASSERT_TRUE(new_client.Connect(port_number_).ok());
  EXPECT_EQ(new_client.version(), TLS1_3_VERSION);
  TlsClient other({.sni = "a.test", .max_version = TLS1_2_VERSION});
  EXPECT_TRUE(other.Connect(port_number_).ok()) << "other names keep TLS 1.2";
}

TEST_F(TlsTest, SniHttp2OffRemovesH2FromAlpnForThatName) {
  protocols_ = {{"h2", &h2_acceptor_}, {"http/1.1", &h1_acceptor_}};
  sni_ = Sni("sni:\n  - fqdn: noh2.test\n    http2: off\n");
  StartServer();
  TlsClient off({.sni = "noh2.test", .alpn = {"h2", "http/1.1"}});
  ASSERT_TRUE(off.Connect(port_number_).ok());
  EXPECT_EQ(off.alpn(), "http/1.1");
  TlsClient on({.sni = "a.test", .alpn = {"h2", "http/1.1"}});
  ASSERT_TRUE(on.Connect(port_number_).ok());
  EXPECT_EQ(on.alpn(), "h2");
}

TEST_F(TlsTest, SniVerifyClientStrictRequiresACertificateFromTheConfiguredCa) {
  std::string ca_path = absl::StrCat(getenv("TEST_TMPDIR"), "/client-ca.pem");
  {
    FILE* f = fopen(ca_path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::string pem = ca_->CertPem();
    fwrite(pem.data(), 1, pem.size(), f);
    fclose(f);
  }
  sni_ = Sni(absl::StrCat("sni:\n  - fqdn: mtls.test\n    verify_client: STRICT\n",
                          "    verify_client_ca_certs: ", ca_path, "\n"));
  AddHook(TlsHookId::kVerifyClient, "v", TestHook::Mode::kImmediate);
  StartServer();
  TestCert client_cert = Leaf("client.test", {"client.test"});
  absl::StatusOr<TestCert> stranger = MakeCert({.common_name = "stranger"});  // self-signed

  TlsClient without({.sni = "mtls.test"});
  {
    absl::Status s = without.Connect(port_number_);
    // TLS 1.3: the client may finish before the server rejects; the failure shows on reading.
    if (s.ok()) {
      EXPECT_FALSE(without.ReadExactly(1).ok()) << "no certificate must be refused";
    }
  }
  TlsClient wrong({.sni = "mtls.test", .cert = stranger->cert.get(), .key = stranger->key.get()});
  {
    absl::Status s = wrong.Connect(port_number_);
    if (s.ok()) {
      EXPECT_FALSE(wrong.ReadExactly(1).ok()) << "an untrusted certificate must be refused";
    }
  }
  TlsClient good(
      {.sni = "mtls.test", .cert = client_cert.cert.get(), .key = client_cert.key.get()});
  ASSERT_TRUE(good.Connect(port_number_).ok());
  ASSERT_TRUE(good.WriteAll("m").ok());
  ASSERT_TRUE(good.ReadExactly(1).ok());
  EXPECT_EQ(log_.Count("v:SSL_VERIFY_CLIENT"), 1);
  TlsClient other({.sni = "a.test"});
  EXPECT_TRUE(other.Connect(port_number_).ok()) << "other names need no certificate";
}

TEST_F(TlsTest, VerifyClientHookErrorRejectsAnOtherwiseValidCertificate) {
  settings_.verify_client = SniPolicy::VerifyClient::kStrict;
  std::string ca_path = absl::StrCat(getenv("TEST_TMPDIR"), "/client-ca2.pem");
  {
    FILE* f = fopen(ca_path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::string pem = ca_->CertPem();
    fwrite(pem.data(), 1, pem.size(), f);
    fclose(f);
  }
  settings_.client_ca_file = ca_path;
  AddHook(TlsHookId::kVerifyClient, "v", TestHook::Mode::kError);
  StartServer();
  TestCert client_cert = Leaf("client.test", {"client.test"});
  TlsClient client({.sni = "a.test", .cert = client_cert.cert.get(), .key = client_cert.key.get()});
  absl::Status s = client.Connect(port_number_);
  if (s.ok()) {
    EXPECT_FALSE(client.ReadExactly(1).ok());
  }
  EXPECT_EQ(log_.Count("v:SSL_VERIFY_CLIENT"), 1);
}

// ---- Every byte boundary ----------------------------------------------------------------------

// ---- The driver over in-memory BIO pairs --------------------------------------------------------
//
// No socket carries a TLS byte here: each server connection's TlsTransport is one end of a BIO
// pair, and a client SSL object on the other end is driven on the same net thread, in turns with
// the server. With one-byte pair buffers, every read and every write of the server blocks at
// every byte boundary.

// What the server's transport saw: every byte received, and the calls that would block. Net
// thread only while pumping; the test thread reads it between pumps.
struct TransportTap {
  std::string received;
  int64_t sent = 0;
  int64_t recv_would_block = 0;
  int64_t send_would_block = 0;
  size_t most_per_call = 0;  // the most bytes one Recv or Send moved
};

class TappedTransport final : public TlsTransport {
 public:
  TappedTransport(std::unique_ptr<TlsTransport> inner, TransportTap* tap)
      : inner_(std::move(inner)), tap_(tap) {}
  Io Recv(char* out, size_t len) override {
    Io io = inner_->Recv(out, len);
    if (io.status == Io::Status::kOk) tap_->received.append(out, io.bytes);
    tap_->most_per_call = std::max(tap_->most_per_call, io.bytes);
    if (io.status == Io::Status::kWouldBlock) ++tap_->recv_would_block;
    return io;
  }
  Io Send(const char* in, size_t len, bool more) override {
    Io io = inner_->Send(in, len, more);
    if (io.status == Io::Status::kOk) tap_->sent += static_cast<int64_t>(io.bytes);
    tap_->most_per_call = std::max(tap_->most_per_call, io.bytes);
    if (io.status == Io::Status::kWouldBlock) ++tap_->send_would_block;
    return io;
  }

 private:
  std::unique_ptr<TlsTransport> inner_;
  TransportTap* tap_;
};

// A BoringSSL client on its end of the pair. Net thread only.
struct MemoryClient {
  bssl::UniquePtr<SSL> ssl;
  BIO* bio = nullptr;  // owned by |ssl|
  bool established = false;
  bool failed = false;
  bool eof = false;
  bool close_notify = false;  // the server's side ended with a close_notify alert
  std::string error;
  std::string to_send;  // application data not yet written
  std::string received;  // application data read
  bool close_when_sent = false;  // then close_notify and shut the pair's write side
  bool closed = false;

  // Step moves the client as far as it can without blocking.
  void Step() {
    if (failed || eof || ssl == nullptr) return;
    if (!established) {
      int r = SSL_do_handshake(ssl.get());
      if (r != 1) {
        Check(r);
        return;
      }
      established = true;
    }
    while (!to_send.empty()) {
      int w = SSL_write(ssl.get(), to_send.data(),
                        static_cast<int>(std::min<size_t>(to_send.size(), 16384)));
      if (w <= 0) {
        Check(w);
        break;
      }
      to_send.erase(0, w);
    }
    if (to_send.empty() && close_when_sent && !closed) {
      closed = true;
      SSL_shutdown(ssl.get());
      BIO_shutdown_wr(bio);
    }
    for (;;) {
      char buf[16384];
      int r = SSL_read(ssl.get(), buf, sizeof(buf));
      if (r <= 0) {
        Check(r);
        return;
      }
      received.append(buf, r);
    }
  }

  void Check(int ret) {
    switch (SSL_get_error(ssl.get(), ret)) {
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE:
        return;
      case SSL_ERROR_ZERO_RETURN:
        eof = true;
        close_notify = true;
        return;
      case SSL_ERROR_SYSCALL:
        if (ret == 0) {
          eof = true;  // the server's side of the pair shut down: its connection is gone
          return;
        }
        break;
      default:
        break;
    }
    failed = true;
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
    error = buf;
    ERR_clear_error();
  }
};

class BioPairTest : public TlsTest {
 protected:
  void TearDown() override {
    if (net_ != nullptr) {
      RunOnNet([this] {
        client_ = MemoryClient();
        server_end_.reset();
      });
    }
    TlsTest::TearDown();
  }

  // StartMemoryServer starts the net thread and the port configuration, but no listener.
  void StartMemoryServer() {
    net_ = std::make_unique<NetProcessor>();
    ASSERT_TRUE(ep_.Start({.net_threads = 1,
                           .task_threads = 0,
                           .net_thread_init = [this](EThread& t) { net_->InitThread(t); }})
                    .ok());
    tunnel_acceptor_ = std::make_unique<TunnelAcceptor>(net_.get(), &far_.addr());
    table_ = MakeTable(/*with_default=*/true);
    absl::StatusOr<std::shared_ptr<const TlsPortConfig>> config = MakeConfig();
    ASSERT_TRUE(config.ok()) << config.status();
    config_ = *config;
    client_ctx_.reset(SSL_CTX_new(TLS_method()));
    SSL_CTX_set_min_proto_version(client_ctx_.get(), TLS1_2_VERSION);
  }

  // RunOnNet runs |fn| on the net thread and waits (bounded) until it has.
  void RunOnNet(std::function<void()> fn) {
    struct Job : Continuation {
      void HandleEvent(EventCode, void*) override {
        fn();
        ran.Increment();
      }
      std::function<void()> fn;
      WaitCounter ran;
    } job;
    job.fn = std::move(fn);
    ep_.thread(ThreadGroup::kNet, 0)->ScheduleImm(&job);
    ASSERT_TRUE(job.ran.WaitAtLeast(1, kTestDeadline));
  }

  // Open makes, on the net thread, a server connection whose TLS bytes go through a BIO pair
  // with |buffer| bytes each way, a client for |sni| on the other end, and starts the server's
  // handshake.
  void Open(size_t buffer, const std::string& sni) {
    RunOnNet([&] {
      SSLNetVConnection* vc = AdoptOverPair(buffer);
      ASSERT_NE(vc, nullptr);
      client_ = MemoryClient();
      client_.ssl.reset(SSL_new(client_ctx_.get()));
      client_.bio = client_end_;
      SSL_set_bio(client_.ssl.get(), client_end_, client_end_);
      SSL_set_connect_state(client_.ssl.get());
      if (!sni.empty()) SSL_set_tlsext_host_name(client_.ssl.get(), sni.c_str());
      vc->StartHandshake();
    });
  }

  // AdoptOverPair makes, on the net thread, a server connection over a new BIO pair with
  // |buffer| bytes each way (0: the pair's default) and a tapped transport; the client's end is
  // left in client_end_ for the caller to own. Null if the connection cannot be made.
  SSLNetVConnection* AdoptOverPair(size_t buffer) {
    BIO* server_end = nullptr;
    client_end_ = nullptr;
    if (!BIO_new_bio_pair(&client_end_, buffer, &server_end, buffer)) return nullptr;
    // Our own reference keeps the pair's buffers after the connection frees its end, so the
    // client still reads what the server sent before it closed.
    BIO_up_ref(server_end);
    server_end_.reset(server_end);
    auto transport = std::make_unique<TappedTransport>(
        std::make_unique<BioPairTransport>(bssl::UniquePtr<BIO>(server_end)), &tap_);
    // The connection's socket only gives it a place in epoll; no byte goes through it.
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) return nullptr;
    SSLNetVConnection* vc = SSLNetVConnection::Adopt(
        fd, NetHandler::ForCurrentThread(), IpEndpoint::Loopback(AF_INET, 8443),
        IpEndpoint::Loopback(AF_INET, 40000), config_, std::move(transport));
    if (vc != nullptr) handle_ = vc->handle();
    return vc;
  }

  // Pump lets the client and the server take turns on the net thread -- the client steps, then
  // the server's connection hears that its transport has bytes and room, as epoll would tell it,
  // and runs in the loop's next pass -- until |done| holds (checked on the net thread) or
  // |max_passes| went by. Returns |done|'s last value.
  bool Pump(std::function<bool()> done, int max_passes) {
    struct Pumper : Continuation {
      void HandleEvent(EventCode, void*) override {
        test->client_.Step();
        if (auto* vc =
                static_cast<SSLNetVConnection*>(VcHandleTable::Get().Resolve(test->handle_))) {
          vc->OnEpollEvent(EPOLLIN | EPOLLOUT);
        }
        result = done();
        if (result || ++passes >= max_passes) {
          finished.Increment();
          return;
        }
        this_ethread()->ScheduleImm(this);
      }
      BioPairTest* test = nullptr;
      std::function<bool()> done;
      int max_passes = 0;
      int passes = 0;
      bool result = false;
      WaitCounter finished;
    } pumper;
    pumper.test = this;
    pumper.done = std::move(done);
    pumper.max_passes = max_passes;
    ep_.thread(ThreadGroup::kNet, 0)->ScheduleImm(&pumper);
    EXPECT_TRUE(pumper.finished.WaitAtLeast(1, kTestDeadline));
    return pumper.result;
  }

  // PumpUntilCalled pumps until |entry| ("name:HOOK") is in the hook log.
  bool PumpUntilCalled(const std::string& entry) {
    return Pump([this, entry] { return log_.Count(entry) > 0; }, kMaxPasses);
  }

  bool Established() {
    return Pump([this] { return client_.established || client_.failed; }, kMaxPasses) &&
        client_.established;
  }

  // EchoThenClose sends |data|, reads it back, closes the client side and waits for the server
  // to close; returns what came back.
  std::string EchoThenClose(const std::string& data) {
    RunOnNet([&] {
      client_.to_send = data;
      client_.close_when_sent = true;
    });
    Pump([this] { return client_.eof || client_.failed; }, kMaxPasses);
    EXPECT_FALSE(client_.failed) << client_.error;
    return client_.received;
  }

  // RawBytesToServer opens a server connection, writes |bytes| on the client's end of its pair
  // (no client SSL object), and returns what the server sent until it closed its side.
  std::string RawBytesToServer(const std::string& bytes) {
    BIO* raw = nullptr;
    RunOnNet([&] {
      SSLNetVConnection* vc = AdoptOverPair(0);
      ASSERT_NE(vc, nullptr);
      raw = client_end_;
      ASSERT_EQ(BIO_write(raw, bytes.data(), static_cast<int>(bytes.size())),
                static_cast<int>(bytes.size()));
      vc->StartHandshake();
    });
    if (raw == nullptr) return "";
    std::string reply;
    EXPECT_TRUE(Pump(
        [&] {
          char buf[256];
          int n = BIO_read(raw, buf, sizeof(buf));
          if (n > 0) reply.append(buf, n);
          return n == 0;  // EOF: the server shut its side of the pair and closed
        },
        10000))
        << "the server did not close";
    RunOnNet([&] { BIO_free(raw); });
    return reply;
  }

  // Alternating 'a'..'z', so that a lost or repeated byte shows.
  static std::string Pattern(size_t n) {
    std::string data(n, ' ');
    for (size_t i = 0; i < n; ++i) data[i] = static_cast<char>('a' + i % 26);
    return data;
  }

  static constexpr int kMaxPasses = 2'000'000;
  std::shared_ptr<const TlsPortConfig> config_;
  bssl::UniquePtr<SSL_CTX> client_ctx_;
  TransportTap tap_;
  MemoryClient client_;
  bssl::UniquePtr<BIO> server_end_;
  BIO* client_end_ = nullptr;  // the last pair's; owned by whoever took it
  uint64_t handle_ = 0;
};

TEST_F(BioPairTest, HandshakeCertificateSelectionAndEchoRunOverMemory) {
  StartMemoryServer();
  const int64_t ok_before = Stat(TlsStats::Get().handshakes_ok);
  Open(/*buffer=*/0, "a.test");  // 0: the pair's default buffer size
  ASSERT_TRUE(Established()) << client_.error;
  bool name_matches = false;
  RunOnNet([&] {
    bssl::UniquePtr<X509> leaf(SSL_get_peer_certificate(client_.ssl.get()));
    name_matches = leaf != nullptr && X509_check_host(leaf.get(), "a.test", 6, 0, nullptr) == 1;
  });
  EXPECT_TRUE(name_matches) << "the a.test certificate was not chosen";
  std::string data = Pattern(256 * 1024);
  EXPECT_EQ(EchoThenClose(data), data);
  EXPECT_TRUE(client_.close_notify) << "the server closed without a close_notify alert";
  EXPECT_TRUE(sessions_.finished.WaitAtLeast(1, kTestDeadline));
  EXPECT_EQ(Stat(TlsStats::Get().handshakes_ok), ok_before + 1);
}

TEST_F(BioPairTest, SessionTicketsArriveRightAfterTheHandshakeWithoutAnyRequest) {
  StartMemoryServer();
  // Count the TLS 1.3 tickets the client receives (the new-session callback sees each).
  static std::atomic<int> tickets{0};
  tickets = 0;
  SSL_CTX_set_session_cache_mode(client_ctx_.get(),
                                 SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
  SSL_CTX_sess_set_new_cb(client_ctx_.get(), [](SSL*, SSL_SESSION*) {
    ++tickets;
    return 0;  // not kept
  });
  Open(/*buffer=*/0, "a.test");
  ASSERT_TRUE(Established()) << client_.error;
  // The client only reads; the server has nothing to write but its tickets.
  EXPECT_TRUE(Pump([] { return tickets.load() > 0; }, 1000)) << "no ticket without a request";
  std::string protocol;
  RunOnNet([&] { protocol = SSL_get_version(client_.ssl.get()); });
  EXPECT_EQ(protocol, "TLSv1.3");
  EXPECT_EQ(EchoThenClose("after"), "after");
}

TEST_F(BioPairTest, PostQuantumHybridIsNegotiatedWhenTheClientOffersIt) {
  StartMemoryServer();  // default settings: X25519, P-256 and CECPQ2
  ASSERT_TRUE(SSL_CTX_set1_curves_list(client_ctx_.get(), "CECPQ2"));
  Open(/*buffer=*/0, "a.test");
  ASSERT_TRUE(Established()) << client_.error;
  uint16_t group = 0;
  size_t client_hello_bytes = 0;
  RunOnNet([&] {
    group = SSL_get_curve_id(client_.ssl.get());
    client_hello_bytes = tap_.received.size();
  });
  EXPECT_EQ(group, SSL_CURVE_CECPQ2);
  // The hybrid key share (X25519 + HRSS) makes the client's flights over a kilobyte.
  EXPECT_GT(client_hello_bytes, 1100u);
  EXPECT_EQ(EchoThenClose("pq"), "pq");
}

TEST_F(BioPairTest, OneByteBuffersBlockAtEveryByteBoundaryAndStillFinish) {
  AddHook(TlsHookId::kClientHello, "ch", TestHook::Mode::kImmediate);
  AddHook(TlsHookId::kCert, "c", TestHook::Mode::kParked);
  StartMemoryServer();
  Open(/*buffer=*/1, "a.test");
  ASSERT_TRUE(PumpUntilCalled("c:SSL_CERT"));
  uint64_t handle = parked_.Pop();
  ASSERT_NE(handle, 0u);
  SSLNetVConnection::Reenable(handle, SSLNetVConnection::HookVerdict::kContinue);
  ASSERT_TRUE(Established()) << client_.error;
  std::string data = Pattern(6000);
  EXPECT_EQ(EchoThenClose(data), data);
  int64_t received = 0;
  int64_t recv_blocked = 0;
  int64_t sent = 0;
  int64_t send_blocked = 0;
  size_t most_per_call = 0;
  RunOnNet([&] {
    received = static_cast<int64_t>(tap_.received.size());
    recv_blocked = tap_.recv_would_block;
    sent = tap_.sent;
    send_blocked = tap_.send_would_block;
    most_per_call = tap_.most_per_call;
  });
  // One byte per call each way, and a "would block" after each byte -- but the last one the
  // client sent, and wherever the server's output ran out (the end of its handshake flight, of
  // its session tickets, of the echo) before the client emptied the pair.
  EXPECT_EQ(most_per_call, 1u);
  EXPECT_GT(received, static_cast<int64_t>(data.size()));
  EXPECT_GE(recv_blocked, received - 1);
  EXPECT_GT(sent, static_cast<int64_t>(data.size()));
  EXPECT_GE(send_blocked, sent - 4);
  EXPECT_EQ(log_.Count("ch:SSL_CLIENT_HELLO"), 1);
  EXPECT_EQ(log_.Count("c:SSL_CERT"), 1);
}

class BioPairParkedHookTest : public BioPairTest,
                              public ::testing::WithParamInterface<TlsHookId> {};

TEST_P(BioPairParkedHookTest, ParkedHookHoldsTheHandshakeAndResumesExactlyOnce) {
  TlsHookId id = GetParam();
  const std::string name = TlsHookIdName(id);
  AddHook(id, "p", TestHook::Mode::kParked);
  AddHook(id, "after", TestHook::Mode::kImmediate);
  AddHook(TlsHookId::kVconnClose, "close", TestHook::Mode::kImmediate);
  StartMemoryServer();
  Open(/*buffer=*/1, "a.test");
  ASSERT_TRUE(PumpUntilCalled("p:" + name));
  uint64_t handle = parked_.Pop();
  ASSERT_NE(handle, 0u);
  // Parked: the client keeps knocking (every pass tells the server its transport is ready), and
  // nothing moves; the re-entered BoringSSL callback does not call the hook again.
  EXPECT_FALSE(Pump([this] { return client_.established || client_.failed; }, 2000));
  EXPECT_EQ(log_.Count("p:" + name), 1);
  EXPECT_EQ(log_.Count("after:" + name), 0);
  SSLNetVConnection::Reenable(handle, SSLNetVConnection::HookVerdict::kContinue);
  ASSERT_TRUE(Established()) << client_.error;
  EXPECT_EQ(EchoThenClose("ping"), "ping");
  ASSERT_TRUE(log_.count().WaitAtLeast(3, kTestDeadline));
  EXPECT_EQ(log_.Count("p:" + name), 1);
  EXPECT_EQ(log_.Count("after:" + name), 1);
  EXPECT_EQ(log_.Count("close:VCONN_CLOSE"), 1);
  // A second reenable for the same call, and one after the connection is gone: no-ops.
  SSLNetVConnection::Reenable(handle, SSLNetVConnection::HookVerdict::kContinue);
  SSLNetVConnection::Reenable(handle, SSLNetVConnection::HookVerdict::kError);
  RunOnNet([] {});
  EXPECT_EQ(log_.Count("close:VCONN_CLOSE"), 1);
}

INSTANTIATE_TEST_SUITE_P(EachPoint, BioPairParkedHookTest,
                         ::testing::Values(TlsHookId::kVconnStart, TlsHookId::kClientHello,
                                           TlsHookId::kServername, TlsHookId::kCert),
                         HookPointName);

TEST_F(BioPairTest, CloseWhileParkedRunsCloseHooksOnceAndALateReenableIsHarmless) {
  AddHook(TlsHookId::kServername, "p", TestHook::Mode::kParked);
  AddHook(TlsHookId::kVconnClose, "close", TestHook::Mode::kImmediate);
  StartMemoryServer();
  Open(/*buffer=*/0, "a.test");
  ASSERT_TRUE(PumpUntilCalled("p:SSL_SERVERNAME"));
  uint64_t handle = parked_.Pop();
  ASSERT_NE(handle, 0u);
  int64_t failed_before = Stat(TlsStats::Get().handshakes_failed);
  RunOnNet([this] {
    auto* vc = static_cast<SSLNetVConnection*>(VcHandleTable::Get().Resolve(handle_));
    ASSERT_NE(vc, nullptr);
    vc->DoIoClose();
  });
  ASSERT_TRUE(log_.count().WaitAtLeast(2, kTestDeadline));
  SSLNetVConnection::Reenable(handle, SSLNetVConnection::HookVerdict::kContinue);
  EXPECT_TRUE(Pump([this] { return client_.eof || client_.failed; }, 10000));
  EXPECT_FALSE(client_.established);
  EXPECT_EQ(log_.Count("p:SSL_SERVERNAME"), 1);
  EXPECT_EQ(log_.Count("close:VCONN_CLOSE"), 1);
  EXPECT_EQ(Stat(TlsStats::Get().handshakes_failed), failed_before);
}

TEST_F(BioPairTest, TunnelFromServernameHandsOverTheClientHelloByteExact) {
  AddHook(TlsHookId::kServername, "t", TestHook::Mode::kTunnelOnSni);
  StartMemoryServer();
  // The tunnel acceptor takes the recorded bytes on the net thread.
  struct Taker : Continuation {
    void HandleEvent(EventCode code, void* data) override {
      if (code != EventCode::kNetAccept) return;
      auto* vc = static_cast<SSLNetVConnection*>(static_cast<NetVConnection*>(data));
      recorded = vc->TakeRecordedBytes();
      vc->DoIoClose();
      taken.Increment();
    }
    std::string recorded;
    WaitCounter taken;
  } taker;
  absl::StatusOr<std::shared_ptr<const TlsPortConfig>> config =
      MakeTlsPortConfig(TlsPortSpec{.certs = table_,
                                    .settings = settings_,
                                    .hooks = &hooks_,
                                    .acceptor = &acceptor_,
                                    .tunnel_acceptor = &taker});
  ASSERT_TRUE(config.ok()) << config.status();
  config_ = *config;
  Open(/*buffer=*/1, "tunnel.test");  // the ClientHello arrives one byte at a time
  EXPECT_TRUE(Pump([&] { return taker.taken.value() > 0; }, kMaxPasses));
  std::string received;
  RunOnNet([&] { received = tap_.received; });
  ASSERT_GT(received.size(), 100u);
  EXPECT_EQ(received[0], 0x16) << "not a handshake record";
  EXPECT_EQ(taker.recorded, received) << "the recorded ClientHello differs from what was sent";
  EXPECT_EQ(log_.Count("t:SSL_SERVERNAME"), 1);
}

TEST_F(BioPairTest, MalformedClientHelloGetsAFatalDecodeErrorAlertAndIsCounted) {
  StartMemoryServer();
  const int64_t failed_before = Stat(TlsStats::Get().handshakes_failed);
  // A handshake record holding a ClientHello whose body is four 0xff bytes.
  const std::string hello("\x16\x03\x01\x00\x08\x01\x00\x00\x04\xff\xff\xff\xff", 13);
  std::string reply = RawBytesToServer(hello);
  ASSERT_EQ(reply.size(), 7u) << "expected exactly one alert record before the close";
  EXPECT_EQ(reply[0], 0x15) << "not an alert record";
  EXPECT_EQ(reply[5], 2) << "not a fatal alert";
  EXPECT_EQ(reply[6], SSL_AD_DECODE_ERROR);
  EXPECT_EQ(Stat(TlsStats::Get().handshakes_failed), failed_before + 1);
}

TEST_F(BioPairTest, HttpRequestInsteadOfAClientHelloIsClosedAndCounted) {
  StartMemoryServer();
  const int64_t failed_before = Stat(TlsStats::Get().handshakes_failed);
  std::string reply = RawBytesToServer("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n");
  // Whatever the server answers (BoringSSL sends no alert to a peer that is not speaking TLS),
  // it is no handshake record, and the connection is closed and counted.
  EXPECT_TRUE(reply.empty() || reply[0] == 0x15) << "the server answered with a handshake";
  EXPECT_EQ(Stat(TlsStats::Get().handshakes_failed), failed_before + 1);
}

// ---- Client side -------------------------------------------------------------------------------

// Opens a TLS connection to the test server, echoes "ping" through it, closes, and reports.
class OriginProbe : public Continuation {
 public:
  OriginProbe() : Continuation(NewProxyMutex()) {}
  void HandleEvent(EventCode code, void* data) override {
    switch (code) {
      case EventCode::kNetOpen:
        vc_ = static_cast<SSLNetVConnection*>(static_cast<NetVConnection*>(data));
        reused = vc_->session_reused();
        out_.Write("ping");
        reader_ = in_.AllocReader();
        vc_->DoIoWrite(this, 4, out_.AllocReader());
        vc_->DoIoRead(this, 4, &in_);
        return;
      case EventCode::kNetOpenFailed:
        error = static_cast<int>(reinterpret_cast<intptr_t>(data));
        done.Increment();
        return;
      case EventCode::kVcReadComplete: {
        char buf[4];
        reader_->CopyOut(buf, 4);
        echoed = std::string(buf, 4) == "ping";
        vc_->DoIoClose();
        done.Increment();
        return;
      }
      case EventCode::kVcWriteComplete:
        return;
      default:
        vc_->DoIoClose();
        done.Increment();
        return;
    }
  }
  int error = 0;
  bool echoed = false;
  bool reused = false;
  WaitCounter done;

 private:
  SSLNetVConnection* vc_ = nullptr;
  MIOBuffer out_;
  MIOBuffer in_;
  IOBufferReader* reader_ = nullptr;
};

class TlsClientTest : public TlsTest {
 protected:
  std::shared_ptr<TlsClientContext> MakeClient(TlsClientSettings settings, bool trust_ca) {
    if (trust_ca) {
      settings.ca_file = absl::StrCat(getenv("TEST_TMPDIR"), "/origin-ca.pem");
      FILE* f = fopen(settings.ca_file.c_str(), "w");
      EXPECT_NE(f, nullptr);
      std::string pem = ca_->CertPem();
      fwrite(pem.data(), 1, pem.size(), f);
      fclose(f);
    }
    absl::StatusOr<std::shared_ptr<TlsClientContext>> client =
        TlsClientContext::Make(settings, &client_hooks_);
    EXPECT_TRUE(client.ok()) << client.status();
    return *client;
  }
  // Connect runs one probe to the test server as |sni| and waits for its outcome.
  std::unique_ptr<OriginProbe> Connect(const std::shared_ptr<TlsClientContext>& client,
                                       const std::string& sni) {
    auto probe = std::make_unique<OriginProbe>();
    TlsConnect(*net_, probe.get(), IpEndpoint::Loopback(AF_INET, port_number_), sni, client);
    EXPECT_TRUE(probe->done.WaitAtLeast(1, kTestDeadline));
    return probe;
  }
  TestHook* AddClientHook(TlsHookId id, const std::string& name, TestHook::Mode mode) {
    hook_storage_.push_back(std::make_unique<TestHook>(name, mode, &log_, &parked_));
    client_hooks_.Add(id, hook_storage_.back().get());
    return hook_storage_.back().get();
  }
  TlsHookRegistry client_hooks_;
};

TEST_F(TlsClientTest, EnforcedVerificationAcceptsATrustedNameAndRefusesOthers) {
  StartServer();
  auto client = MakeClient({}, /*trust_ca=*/true);
  std::unique_ptr<OriginProbe> good = Connect(client, "a.test");
  EXPECT_EQ(good->error, 0);
  EXPECT_TRUE(good->echoed);
  // The server answers b.test with its default certificate (default.test): wrong name.
  std::unique_ptr<OriginProbe> wrong_name = Connect(client, "b.test");
  EXPECT_EQ(wrong_name->error, -EPROTO);
  auto untrusting = MakeClient({}, /*trust_ca=*/false);
  std::unique_ptr<OriginProbe> untrusted = Connect(untrusting, "a.test");
  EXPECT_EQ(untrusted->error, -EPROTO);
}

TEST_F(TlsClientTest, PermissiveAndDisabledPoliciesConnectDespiteAnUntrustedCertificate) {
  StartServer();
  auto permissive =
      MakeClient({.verify_policy = TlsClientSettings::VerifyPolicy::kPermissive}, false);
  std::unique_ptr<OriginProbe> p = Connect(permissive, "a.test");
  EXPECT_EQ(p->error, 0);
  EXPECT_TRUE(p->echoed);
  auto disabled = MakeClient({.verify_policy = TlsClientSettings::VerifyPolicy::kDisabled}, false);
  std::unique_ptr<OriginProbe> d = Connect(disabled, "b.test");
  EXPECT_EQ(d->error, 0);
  EXPECT_TRUE(d->echoed);
}

TEST_F(TlsClientTest, SecondConnectionToTheSameOriginReusesTheSession) {
  StartServer();
  auto client = MakeClient({}, true);
  std::unique_ptr<OriginProbe> first = Connect(client, "a.test");
  ASSERT_TRUE(first->echoed);
  EXPECT_FALSE(first->reused);
  std::unique_ptr<OriginProbe> second = Connect(client, "a.test");
  ASSERT_TRUE(second->echoed);
  EXPECT_TRUE(second->reused);
}

TEST_F(TlsClientTest, OutboundHooksParkResumeAndCloseOnce) {
  StartServer();
  AddClientHook(TlsHookId::kOutboundStart, "os", TestHook::Mode::kParked);
  AddClientHook(TlsHookId::kVerifyServer, "vs", TestHook::Mode::kImmediate);
  AddClientHook(TlsHookId::kOutboundClose, "oc", TestHook::Mode::kImmediate);
  auto client = MakeClient({}, true);
  auto probe = std::make_unique<OriginProbe>();
  TlsConnect(*net_, probe.get(), IpEndpoint::Loopback(AF_INET, port_number_), "a.test", client);
  uint64_t handle = parked_.Pop();
  ASSERT_NE(handle, 0u);
  PassTime(milliseconds(50));
  EXPECT_EQ(probe->done.value(), 0) << "the origin handshake went on while OUTBOUND_START parked";
  SSLNetVConnection::Reenable(handle, SSLNetVConnection::HookVerdict::kContinue);
  ASSERT_TRUE(probe->done.WaitAtLeast(1, kTestDeadline));
  EXPECT_TRUE(probe->echoed);
  ASSERT_TRUE(log_.count().WaitAtLeast(3, kTestDeadline));
  EXPECT_EQ(log_.calls(),
            (std::vector<std::string>{"os:VCONN_OUTBOUND_START", "vs:SSL_VERIFY_SERVER",
                                      "oc:VCONN_OUTBOUND_CLOSE"}));
}

TEST_F(TlsClientTest, VerifyServerHookErrorFailsAnEnforcedConnection) {
  StartServer();
  AddClientHook(TlsHookId::kVerifyServer, "vs", TestHook::Mode::kError);
  auto client = MakeClient({}, true);
  std::unique_ptr<OriginProbe> probe = Connect(client, "a.test");
  EXPECT_EQ(probe->error, -EPROTO);
}

// ---- Parking bound and hook stats ---------------------------------------------------------------

TEST_F(TlsTest, HandshakesThatWouldParkBeyondTheBoundAreRefusedAndCounted) {
  settings_.max_parked_handshakes = 1;
  AddHook(TlsHookId::kCert, "p", TestHook::Mode::kParked);
  StartServer();
  int64_t refused_before = Stat(TlsStats::Get().park_refused);
  absl::Status first_result;
  std::thread first([&] {
    TlsClient client = Client("a.test");
    first_result = client.Connect(port_number_);
  });
  uint64_t handle = parked_.Pop();
  ASSERT_NE(handle, 0u);
  const TlsHookStats& stats = hooks_.stats(TlsHookId::kCert);
  for (auto start = std::chrono::steady_clock::now();
       Stat(stats.parked_now) < 1 && std::chrono::steady_clock::now() - start < kTestDeadline;) {
    std::this_thread::yield();  // the first handshake counts as parked once its hook returned
  }
  {
    TlsClient second = Client("a.test");  // its CERT hook cannot park: one is parked already
    EXPECT_FALSE(second.Connect(port_number_).ok());
  }
  EXPECT_EQ(Stat(TlsStats::Get().park_refused) - refused_before, 1);
  SSLNetVConnection::Reenable(handle, SSLNetVConnection::HookVerdict::kContinue);
  first.join();
  EXPECT_TRUE(first_result.ok()) << first_result;
}

TEST_F(TlsTest, HookStatsCountCallsParkedHandshakesAndParkTime) {
  AddHook(TlsHookId::kCert, "p", TestHook::Mode::kParked);
  StartServer();
  const TlsHookStats& stats = hooks_.stats(TlsHookId::kCert);
  auto park_total = [&] {
    int64_t total = 0;
    for (StatId id : stats.park_time) total += Stat(id);
    return total;
  };
  int64_t calls_before = Stat(stats.calls);
  int64_t parked_before = Stat(stats.parked_now);
  int64_t histogram_before = park_total();
  std::thread client_thread([&] {
    TlsClient client = Client("a.test");
    EXPECT_TRUE(client.Connect(port_number_).ok());
  });
  uint64_t handle = parked_.Pop();
  ASSERT_NE(handle, 0u);
  // The hook hands over its handle before returning; the handshake counts as parked once it has.
  for (auto start = std::chrono::steady_clock::now(); Stat(stats.parked_now) - parked_before < 1 &&
       std::chrono::steady_clock::now() - start < kTestDeadline;) {
    std::this_thread::yield();
  }
  EXPECT_EQ(Stat(stats.parked_now) - parked_before, 1);
  SSLNetVConnection::Reenable(handle, SSLNetVConnection::HookVerdict::kContinue);
  client_thread.join();
  EXPECT_EQ(Stat(stats.calls) - calls_before, 1);
  EXPECT_EQ(Stat(stats.parked_now) - parked_before, 0);
  EXPECT_EQ(park_total() - histogram_before, 1);
}

}  // namespace
}  // namespace tollgate
