// TLS hook conformance in the real binary: `tollgate` runs on a configuration directory whose
// plugin.config lists plugins/hook_probe with ATS's ssl_hook_test arguments and whose
// records.yaml turns on debug output for the probe's tag, so that every hook call the probe sees
// becomes one "(ssl_hook_test) ..." line on the binary's stderr. Real clients (`openssl
// s_client` with its standard input closed, `curl -k`) connect over loopback. The assertions
// are the order and count of the probe's lines for each connection (the connection is the
// TSVConn the probe prints, a generation-checked handle, so it never repeats within a run).
//
// Beyond the matrix: TS_EVENT_ERROR and TSVConnTunnel from the handshake hooks (through
// tests/hooks/verdict_plugin, listed before the probe), a client that leaves and a handshake
// timeout while a hook is parked, and OUTBOUND_START on the proxy's connections to an https
// origin (`openssl s_server`). Every external process is a Subprocess, killed at the end.
//
// hook_conformance_test.cc runs the same matrix in a test host; this one adds what only the
// binary has: plugin.config and records.yaml parsing, the loader's search path, the binary's
// thread pools and exported symbols, and client stacks that are not ours.
//
// Every wait is a bounded wait on the captured stderr. A test ends by draining the proxy
// (SIGTERM) and waiting for its exit, so the final assertions see every line it will ever print.

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/http_client.h"
#include "tests/integration/test_origins.h"
#include "tests/integration/tollgate_process.h"

namespace tollgate::integration {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using Clock = std::chrono::steady_clock;
using Calls = std::vector<std::string>;

// The absolute paths of libhook_probe.so and libverdict_plugin.so (set by main from the test's
// arguments).
std::string g_probe;
std::string g_verdict;

// How long one client may take to connect, handshake and leave. Only a broken proxy (a hook
// that never reenables) comes near it; generous for sanitizer builds.
constexpr Duration kClientDeadline{std::chrono::seconds(30)};

constexpr absl::string_view kProbeTag = "(ssl_hook_test) ";

// OpensslPath returns the openssl binary, or "" when none is installed.
std::string OpensslPath() {
  for (const char* path : {"/usr/bin/openssl", "/usr/local/bin/openssl", "/bin/openssl"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return "";
}

// ProbeLog: the probe's calls grouped by connection.
struct ProbeLog {
  // Connections (the TSVConn as printed) in the order of their first line.
  std::vector<std::string> connections;
  // Each connection's calls in the order logged, the connection itself left out: "Cert callback
  // 0 ssl_vc=0x..." -> "Cert callback 0"; "Close callback 1 0x... - event is good" -> "Close
  // callback 1 - event is good".
  std::map<std::string, Calls> calls;
  // Lines that name no connection (none expected but "Setup callbacks", which is skipped).
  Calls orphans;

  // ForConnection returns connection |i|'s calls (empty when there is no such connection).
  Calls ForConnection(size_t i) const {
    if (i >= connections.size()) return {};
    return calls.at(connections[i]);
  }
};

// ParseProbeLog reads the probe's complete lines in |err| (a partly read last line waits).
ProbeLog ParseProbeLog(absl::string_view err) {
  ProbeLog log;
  const size_t end = err.rfind('\n');
  if (end == absl::string_view::npos) return log;
  for (absl::string_view line : absl::StrSplit(err.substr(0, end), '\n')) {
    const size_t at = line.find(kProbeTag);
    if (at == absl::string_view::npos) continue;
    const absl::string_view message = line.substr(at + kProbeTag.size());
    if (absl::StartsWith(message, "Setup callbacks")) continue;
    std::string connection;
    std::vector<absl::string_view> words;
    for (absl::string_view word : absl::StrSplit(message, ' ')) {
      if (absl::ConsumePrefix(&word, "ssl_vc=") || absl::StartsWith(word, "0x") ||
          word == "(nil)") {
        connection = std::string(word);
      } else {
        words.push_back(word);
      }
    }
    const std::string call = absl::StrJoin(words, " ");
    if (connection.empty()) {
      log.orphans.push_back(call);
      continue;
    }
    auto [it, inserted] = log.calls.try_emplace(connection);
    if (inserted) log.connections.push_back(connection);
    it->second.push_back(call);
  }
  return log;
}

std::string DescribeLog(const ProbeLog& log) {
  std::string out;
  for (size_t i = 0; i < log.connections.size(); ++i) {
    absl::StrAppend(&out, "connection ", i, " (", log.connections[i], "): [",
                    absl::StrJoin(log.calls.at(log.connections[i]), " | "), "]\n");
  }
  if (!log.orphans.empty()) {
    absl::StrAppend(&out, "without a connection: [", absl::StrJoin(log.orphans, " | "), "]\n");
  }
  return out;
}

// CountOf returns how many times |text| occurs in |haystack| (overlaps included).
size_t CountOf(absl::string_view haystack, absl::string_view text) {
  size_t count = 0;
  for (size_t at = haystack.find(text); at != absl::string_view::npos;
       at = haystack.find(text, at + 1)) {
    ++count;
  }
  return count;
}

// The first |n| bytes of DemoOrigin's /bytes/N body.
std::string Pattern(size_t n) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = PatternByte(i);
  return out;
}

class BinaryHookConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (OpensslPath().empty()) GTEST_SKIP() << "openssl is not installed";
    if (CurlPath().empty()) GTEST_SKIP() << "curl is not installed";
    absl::StatusOr<std::unique_ptr<PatternOrigin>> origin = PatternOrigin::Start();
    ASSERT_TRUE(origin.ok()) << origin.status();
    origin_ = *std::move(origin);
    proxy_ = std::make_unique<TestProxy>();
  }

  void TearDown() override {
    // The proxy first, so that no origin connection outlives its origin.
    proxy_.reset();
    origin_.reset();
  }

  // StartProxy lists hook_probe with |args| in plugin.config, turns on the probe's debug lines
  // and starts the binary; it returns once the probe has registered its hooks.
  void StartProxy(const std::vector<std::string>& args) {
    StartProxyWith(absl::StrCat(g_probe, " ", absl::StrJoin(args, " "), "\n"));
  }

  // StartProxyWith writes |plugin_config| (which lists hook_probe) and starts the binary with
  // the debug lines of the probe and of verdict_plugin on; it returns once the probe has
  // registered its hooks.
  void StartProxyWith(const std::string& plugin_config) {
    proxy_->AddRecord("diags", "{debug: {enabled: 1, tags: 'ssl_hook_test|verdict'}}");
    proxy_->MapPrefix("/", origin_->port());
    const absl::Status written =
        WriteFile(absl::StrCat(proxy_->dir(), "/plugin.config"), plugin_config);
    ASSERT_TRUE(written.ok()) << written;
    const absl::Status started = proxy_->Start();
    ASSERT_TRUE(started.ok()) << started;
    // stderr has its own reader thread: the start-up lines on stdout may come first.
    ASSERT_TRUE(
        proxy_->process().WaitForStderrText("(ssl_hook_test) Setup callbacks", kStartDeadline));
    // A misspelt argument would silently test another scenario.
    ASSERT_THAT(proxy_->process().Stderr(), Not(HasSubstr("unknown argument")));
  }

  // What a client printed and returned, and how long it ran.
  struct ClientRun {
    RunResult result;
    Duration elapsed{0};
  };

  // SClient runs `openssl s_client -connect 127.0.0.1:PORT -servername a.test` with standard
  // input closed (Subprocess gives it /dev/null): it completes the handshake, prints the
  // session, reads EOF on its input and closes the connection.
  ClientRun SClient(const std::string& servername = "a.test") {
    const Clock::time_point start = Clock::now();
    ClientRun run;
    run.result = RunProgram(SClientArgv(servername), kClientDeadline);
    run.elapsed = std::chrono::duration_cast<Duration>(Clock::now() - start);
    return run;
  }

  std::vector<std::string> SClientArgv(const std::string& servername) {
    return {OpensslPath(), "s_client", "-connect", absl::StrCat("127.0.0.1:", proxy_->tls_port()),
            "-servername", servername};
  }

  // ExpectHandshakeCompleted checks that s_client got the proxy's certificate and agreed on a
  // cipher.
  static void ExpectHandshakeCompleted(const RunResult& r) {
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_THAT(r.out, HasSubstr("CN = tollgate-test-1")) << r.err;
    EXPECT_THAT(r.out, HasSubstr("Cipher is ")) << r.err;
    EXPECT_THAT(r.out, Not(HasSubstr("Cipher is (NONE)"))) << r.err;
  }

  // Curl fetches https://a.test:PORT/bytes/16 (a.test resolved to 127.0.0.1, so the client
  // sends SNI a.test) and returns the body followed by "\nstatus=CODE".
  RunResult Curl() {
    const std::string authority = absl::StrCat("a.test:", proxy_->tls_port());
    return RunCurl({"-k", "--resolve", absl::StrCat(authority, ":127.0.0.1"), "-w",
                    "\nstatus=%{http_code}", absl::StrCat("https://", authority, "/bytes/16")},
                   kClientDeadline);
  }

  // WaitForCalls waits (bounded) until the probe has logged at least |per_connection| calls
  // for each of at least |connections| connections. It returns whether they came.
  bool WaitForCalls(size_t connections, size_t per_connection) {
    return proxy_->process().WaitForStderr(
        [&](const std::string& err) {
          const ProbeLog log = ParseProbeLog(err);
          if (log.connections.size() < connections) return false;
          for (const auto& [connection, calls] : log.calls) {
            if (calls.size() < per_connection) return false;
          }
          return true;
        },
        kEffectDeadline);
  }

  // StopProxy drains the proxy (SIGTERM), waits for its exit status (0, with no sanitizer
  // report) and returns the probe's complete log.
  ProbeLog StopProxy() {
    Subprocess& process = proxy_->process();
    EXPECT_TRUE(process.Signal(SIGTERM)) << "the proxy died early:\n" << process.Stderr();
    const std::optional<int> code = process.WaitForExit(kExitDeadline);
    EXPECT_EQ(code, std::optional<int>(0)) << process.Stderr();
    EXPECT_THAT(process.Stderr(), Not(HasSubstr("Sanitizer")));
    EXPECT_THAT(process.Stderr(), Not(HasSubstr("runtime error:")));
    return ParseProbeLog(process.Stderr());
  }

  // RunOneConnection starts the proxy with |args|, connects once with s_client, waits for
  // |expected|'s calls, stops the proxy and checks that the one connection got exactly
  // |expected|. It returns the client run.
  ClientRun RunOneConnection(const std::vector<std::string>& args, const Calls& expected) {
    StartProxy(args);
    if (HasFatalFailure()) return {};
    ClientRun run = SClient();
    ExpectHandshakeCompleted(run.result);
    EXPECT_TRUE(WaitForCalls(1, expected.size())) << DescribeLog(Log());
    const ProbeLog log = StopProxy();
    EXPECT_EQ(log.connections.size(), 1u) << DescribeLog(log);
    EXPECT_EQ(log.ForConnection(0), expected) << DescribeLog(log);
    EXPECT_TRUE(log.orphans.empty()) << DescribeLog(log);
    return run;
  }

  ProbeLog Log() { return ParseProbeLog(proxy_->process().Stderr()); }

  // CountInStderr returns how many times |text| occurs in the proxy's stderr so far.
  size_t CountInStderr(absl::string_view text) { return CountOf(proxy_->process().Stderr(), text); }

  // ExpectPlainHttpServed checks that the proxy still answers a request on its plain listener.
  void ExpectPlainHttpServed() {
    const RunResult curl =
        RunCurl({"-w", "\nstatus=%{http_code}",
                 absl::StrCat("http://127.0.0.1:", proxy_->http_port(), "/bytes/16")},
                kClientDeadline);
    EXPECT_EQ(curl.exit_code, 0) << curl.err;
    EXPECT_EQ(curl.out, absl::StrCat(Pattern(16), "\nstatus=200")) << curl.err;
  }

  std::unique_ptr<PatternOrigin> origin_;
  std::unique_ptr<TestProxy> proxy_;
};

// ---- One immediate hook ----------------------------------------------------------------------

TEST_F(BinaryHookConformanceTest, OneImmediateVconnStartHookRunsOnceForTheConnection) {
  RunOneConnection({"-preaccept=1"}, {"Pre accept callback 0 - event is good"});
}

// ---- Chains of two: registration order, each once --------------------------------------------

TEST_F(BinaryHookConformanceTest, TwoVconnStartHooksRunOnceEachInRegistrationOrder) {
  RunOneConnection(
      {"-preaccept=2"},
      {"Pre accept callback 0 - event is good", "Pre accept callback 1 - event is good"});
}

TEST_F(BinaryHookConformanceTest, TwoClientHelloHooksRunOnceEachInRegistrationOrder) {
  RunOneConnection({"-client_hello_imm=2"}, {"Client Hello callback 0", "Client Hello callback 1"});
}

TEST_F(BinaryHookConformanceTest, TwoServernameHooksRunOnceEachInRegistrationOrder) {
  RunOneConnection({"-sni=2"}, {"SNI callback 0", "SNI callback 1"});
}

TEST_F(BinaryHookConformanceTest, TwoCertHooksRunOnceEachInRegistrationOrder) {
  RunOneConnection({"-i=2"}, {"Cert callback 0", "Cert callback 1"});
}

// ---- Delayed hooks: reenabled later from another thread --------------------------------------
// The handshake waits for the reenable: s_client cannot finish before the probe's delay has
// passed (a lower bound only, so a slow machine never fails it).

constexpr int kDelayMs = 200;

TEST_F(BinaryHookConformanceTest, DelayedCertHookParksTheHandshakeUntilItReenables) {
  ClientRun run = RunOneConnection({"-cert=1", absl::StrCat("-delay_ms=", kDelayMs)},
                                   {"Cert callback 0", "Callback reenable"});
  EXPECT_GE(run.elapsed.count(), kDelayMs);
}

TEST_F(BinaryHookConformanceTest, DelayedVconnStartHookParksTheHandshakeUntilItReenables) {
  ClientRun run =
      RunOneConnection({"-d=1", absl::StrCat("-delay_ms=", kDelayMs)},
                       {"Pre accept delay callback 0 - event is good", "Callback reenable"});
  EXPECT_GE(run.elapsed.count(), kDelayMs);
}

TEST_F(BinaryHookConformanceTest, DelayedClientHelloHookParksTheHandshakeUntilItReenables) {
  ClientRun run = RunOneConnection({"-client_hello=1", absl::StrCat("-delay_ms=", kDelayMs)},
                                   {"Client Hello callback 0", "Callback reenable"});
  EXPECT_GE(run.elapsed.count(), kDelayMs);
}

// ---- All kinds together ------------------------------------------------------------------------

TEST_F(BinaryHookConformanceTest, AllKindsRunInHandshakeOrderStartClientHelloServernameCert) {
  RunOneConnection({"-preaccept=1", "-client_hello_imm=1", "-sni=1", "-i=1"},
                   {"Pre accept callback 0 - event is good", "Client Hello callback 0",
                    "SNI callback 0", "Cert callback 0"});
}

// ---- Close hooks -------------------------------------------------------------------------------

TEST_F(BinaryHookConformanceTest, CloseHooksRunOncePerConnectionAfterItsOtherHooks) {
  constexpr size_t kConnections = 3;
  const Calls expected = {"Pre accept callback 0 - event is good",
                          "Close callback 0 - event is good", "Close callback 1 - event is good"};
  StartProxy({"-preaccept=1", "-close=2"});
  for (size_t i = 0; i < kConnections; ++i) {
    SCOPED_TRACE(absl::StrCat("connection ", i));
    ExpectHandshakeCompleted(SClient().result);
    // One connection at a time: each is closed (its close hooks logged) before the next opens.
    EXPECT_TRUE(WaitForCalls(i + 1, expected.size())) << DescribeLog(Log());
  }
  const ProbeLog log = StopProxy();
  ASSERT_EQ(log.connections.size(), kConnections) << DescribeLog(log);
  for (size_t i = 0; i < kConnections; ++i) {
    EXPECT_EQ(log.ForConnection(i), expected) << "connection " << i << "\n" << DescribeLog(log);
  }
  EXPECT_TRUE(log.orphans.empty()) << DescribeLog(log);
}

// ---- A request through the proxy -----------------------------------------------------------

class BinaryHookRequestTest : public BinaryHookConformanceTest {
 protected:
  // FetchAndCheck starts the proxy with |args|, fetches /bytes/16 with curl and checks the 200,
  // the body and that the one connection got exactly |expected|.
  void FetchAndCheck(const std::vector<std::string>& args, const Calls& expected) {
    StartProxy(args);
    if (HasFatalFailure()) return;
    const RunResult curl = Curl();
    EXPECT_EQ(curl.exit_code, 0) << curl.err;
    EXPECT_EQ(curl.out, absl::StrCat(Pattern(16), "\nstatus=200")) << curl.err;
    EXPECT_TRUE(WaitForCalls(1, expected.size())) << DescribeLog(Log());
    const ProbeLog log = StopProxy();
    EXPECT_EQ(log.connections.size(), 1u) << DescribeLog(log);
    EXPECT_EQ(log.ForConnection(0), expected) << DescribeLog(log);
    EXPECT_TRUE(log.orphans.empty()) << DescribeLog(log);
  }
};

TEST_F(BinaryHookRequestTest, HandshakeThroughDelayedHooksCompletesAndTheRequestGets200) {
  FetchAndCheck({"-d=1", "-client_hello=1", "-sni=1", "-cert=1", "-close=1"},
                {"Pre accept delay callback 0 - event is good", "Callback reenable",
                 "Client Hello callback 0", "Callback reenable", "SNI callback 0",
                 "Cert callback 0", "Callback reenable", "Close callback 0 - event is good"});
}

TEST_F(BinaryHookRequestTest, EveryHookDelayedThroughTheTaskPoolStillServesTheRequest) {
  // The README's benchmark line: every hook point parked and reenabled from a TASK thread.
  FetchAndCheck(
      {"-d=1", "-client_hello=1", "-sni_delay=1", "-cert=1", "-delay_ms=0", "-pool=task",
       "-close=1"},
      {"Pre accept delay callback 0 - event is good", "Callback reenable",
       "Client Hello callback 0", "Callback reenable", "SNI callback 0", "Callback reenable",
       "Cert callback 0", "Callback reenable", "Close callback 0 - event is good"});
}

// ---- TS_EVENT_ERROR and TSVConnTunnel from each handshake hook -------------------------------
// plugin.config lists verdict_plugin, which gives the verdict from one hook and logs each call
// of its own VCONN_CLOSE hook as "(verdict) close event 108", then hook_probe with one close
// hook of its own: the whole VCONN_CLOSE chain runs after an abort or a tunnel, both hooks once
// per connection (a regression test: an abort used to end the close chain after its first hook).

class BinaryVerdictTest : public BinaryHookConformanceTest,
                          public ::testing::WithParamInterface<std::string> {
 protected:
  void StartVerdictProxy(const std::string& verdict_arg) {
    StartProxyWith(absl::StrCat(g_verdict, " ", verdict_arg, "\n", g_probe, " -close=1\n"));
  }

  // WaitForCount waits (bounded) until |text| occurs at least |n| times on the proxy's stderr.
  bool WaitForCount(absl::string_view text, size_t n) {
    return proxy_->process().WaitForStderr(
        [&](const std::string& err) { return CountOf(err, text) >= n; }, kEffectDeadline);
  }

  static constexpr absl::string_view kVerdictClose = "(verdict) close event 108";
  static constexpr absl::string_view kProbeClose = "Close callback 0";
};

TEST_P(BinaryVerdictTest, ErrorFromTheHookFailsTheHandshakeRunsCloseOnceAndTheProxyServesOn) {
  StartVerdictProxy("-error_at=" + GetParam());
  if (HasFatalFailure()) return;
  constexpr size_t kConnections = 2;
  for (size_t i = 0; i < kConnections; ++i) {
    SCOPED_TRACE(absl::StrCat("connection ", i));
    const RunResult r = SClient().result;
    EXPECT_NE(r.exit_code, 0) << r.out << r.err;
    EXPECT_THAT(r.out, Not(HasSubstr("CN = tollgate-test-1"))) << r.err;
    // Each connection is closed (its close hook logged) before the next opens.
    EXPECT_TRUE(WaitForCount(kVerdictClose, i + 1)) << proxy_->process().Stderr();
  }
  ExpectPlainHttpServed();
  StopProxy();
  EXPECT_EQ(CountInStderr("(verdict) error at event "), kConnections);
  EXPECT_EQ(CountInStderr(kVerdictClose), kConnections);
  EXPECT_EQ(CountInStderr(kProbeClose), kConnections);
}

INSTANTIATE_TEST_SUITE_P(EachHook, BinaryVerdictTest,
                         ::testing::Values("start", "client_hello", "servername", "cert"));

// A plugin's tunnel goes to the SNI name and the port the client connected to (sni.yaml's
// tunnel_route would tunnel the name before CLIENT_HELLO, without asking the plugin). The name
// is the address literal 127.0.0.2, where the test runs `openssl s_server` on the proxy's TLS
// port number: the proxy listens on 127.0.0.1 only. From VCONN_START the tunnel waits for the
// ClientHello, whose SNI names the destination.
class BinaryTunnelTest : public BinaryVerdictTest {};

TEST_P(BinaryTunnelTest, TunnelFromTheHookConnectsTheClientToTheServerItNames) {
  constexpr absl::string_view kFarAddress = "127.0.0.2";
  absl::StatusOr<GeneratedCert> far_cert =
      MakeCert({.common_name = "far-server", .ip_addresses = {std::string(kFarAddress)}});
  ASSERT_TRUE(far_cert.ok()) << far_cert.status();
  const std::string far_pem = absl::StrCat(proxy_->dir(), "/far.pem");
  const std::string far_key = absl::StrCat(proxy_->dir(), "/far.key");
  ASSERT_TRUE(WriteFile(far_pem, far_cert->CertPem()).ok());
  ASSERT_TRUE(WriteFile(far_key, far_cert->KeyPem()).ok());
  StartVerdictProxy("-tunnel_at=" + GetParam());
  if (HasFatalFailure()) return;
  // -naccept 1: the far server leaves after one connection; its Subprocess kills it otherwise.
  absl::StatusOr<std::unique_ptr<Subprocess>> far = Subprocess::Spawn(
      {OpensslPath(), "s_server", "-accept", absl::StrCat(kFarAddress, ":", proxy_->tls_port()),
       "-cert", far_pem, "-key", far_key, "-www", "-naccept", "1"});
  ASSERT_TRUE(far.ok()) << far.status();
  ASSERT_TRUE((*far)->WaitForStdoutText("ACCEPT", kStartDeadline))
      << (*far)->Stdout() << (*far)->Stderr();

  const RunResult r = SClient(std::string(kFarAddress)).result;
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("CN = far-server")) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("CN = tollgate-test-1"))) << r.err;
  EXPECT_TRUE(WaitForCount(kVerdictClose, 1)) << proxy_->process().Stderr();
  StopProxy();
  EXPECT_EQ(CountInStderr("(verdict) tunnel at event "), 1u);
  EXPECT_EQ(CountInStderr(": accepted"), 1u);
  EXPECT_EQ(CountInStderr(kVerdictClose), 1u);
  EXPECT_EQ(CountInStderr(kProbeClose), 1u);
}

INSTANTIATE_TEST_SUITE_P(EachHook, BinaryTunnelTest,
                         ::testing::Values("start", "client_hello", "servername", "cert"));

// ---- Close while parked ------------------------------------------------------------------------
// The probe's CERT hook reenables kParkMs after it is called: long enough that the connection
// is gone by then, so the reenable comes late, for a closed connection.

constexpr int kParkMs = 4000;

TEST_F(BinaryHookConformanceTest, ClientGivingUpWhileParkedGetsCloseOnceAndTheProxyServesOn) {
  StartProxy({"-cert=1", absl::StrCat("-delay_ms=", kParkMs), "-close=1"});
  if (HasFatalFailure()) return;
  absl::StatusOr<std::unique_ptr<Subprocess>> client = Subprocess::Spawn(SClientArgv("a.test"));
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE(WaitForCalls(1, 1)) << DescribeLog(Log());  // parked in the CERT hook
  (*client)->KillAndWait();  // the kernel closes its socket
  EXPECT_TRUE(WaitForCalls(1, 3)) << DescribeLog(Log());  // the reenable and the close
  // The proxy serves on: the next handshake parks as long and completes.
  ExpectHandshakeCompleted(SClient().result);
  EXPECT_TRUE(WaitForCalls(2, 3)) << DescribeLog(Log());
  const ProbeLog log = StopProxy();
  ASSERT_EQ(log.connections.size(), 2u) << DescribeLog(log);
  // The binary does not watch a parked handshake's socket, so the close may come after the
  // reenable (today) or before it (a late reenable): either way, once.
  EXPECT_THAT(
      log.ForConnection(0),
      ::testing::AnyOf(
          Calls{"Cert callback 0", "Callback reenable", "Close callback 0 - event is good"},
          Calls{"Cert callback 0", "Close callback 0 - event is good", "Callback reenable"}))
      << DescribeLog(log);
  EXPECT_EQ(log.ForConnection(1),
            (Calls{"Cert callback 0", "Callback reenable", "Close callback 0 - event is good"}))
      << DescribeLog(log);
  EXPECT_TRUE(log.orphans.empty()) << DescribeLog(log);
}

TEST_F(BinaryHookConformanceTest,
       HandshakeTimeoutWhileParkedRunsCloseOnceAndTheLateReenableIsHarmless) {
  proxy_->AddRecord("ssl.handshake_timeout_in", "1");
  StartProxy({"-cert=1", absl::StrCat("-delay_ms=", kParkMs), "-close=1"});
  if (HasFatalFailure()) return;
  const RunResult r = SClient().result;  // the proxy gives up on it after 1 s
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("CN = tollgate-test-1"))) << r.err;
  EXPECT_TRUE(WaitForCalls(1, 3)) << DescribeLog(Log());  // the close, then the late reenable
  ExpectPlainHttpServed();
  const ProbeLog log = StopProxy();
  ASSERT_EQ(log.connections.size(), 1u) << DescribeLog(log);
  EXPECT_EQ(log.ForConnection(0),
            (Calls{"Cert callback 0", "Close callback 0 - event is good", "Callback reenable"}))
      << DescribeLog(log);
  EXPECT_TRUE(log.orphans.empty()) << DescribeLog(log);
}

// ---- OUTBOUND_START: the proxy's TLS connections to an https origin ----------------------------
// remap sends https://a.test:PORT/tls/ to `openssl s_server -www` (the proxy's own certificate,
// not verified: ssl.client.verify.server.policy DISABLED), which answers one request per
// connection with a status page. The probe's hooks are outbound only, so its one connection is
// the origin connection.

class BinaryOutboundTest : public BinaryHookConformanceTest {
 protected:
  // StartTlsOrigin runs s_server on a free loopback port (new ports if one is taken meanwhile)
  // and returns once it accepts.
  void StartTlsOrigin() {
    for (int attempt = 0; attempt < 3 && tls_origin_ == nullptr; ++attempt) {
      const std::vector<uint16_t> ports = PickFreePorts(1);
      ASSERT_EQ(ports.size(), 1u);
      absl::StatusOr<std::unique_ptr<Subprocess>> server = Subprocess::Spawn(
          {OpensslPath(), "s_server", "-accept", absl::StrCat("127.0.0.1:", ports[0]), "-cert",
           proxy_->cert_path(), "-key", proxy_->key_path(), "-www"});
      ASSERT_TRUE(server.ok()) << server.status();
      if ((*server)->WaitForStdoutText("ACCEPT", kStartDeadline)) {
        tls_origin_ = *std::move(server);
        tls_origin_port_ = ports[0];
      }
    }
    ASSERT_NE(tls_origin_, nullptr) << "openssl s_server did not start";
  }

  // FetchThroughTlsOrigin starts the origin and the proxy with |args|, fetches /tls/ with curl
  // and checks that s_server's status page came back. It returns how long curl took.
  Duration FetchThroughTlsOrigin(const std::vector<std::string>& args) {
    StartTlsOrigin();
    if (HasFatalFailure()) return Duration{0};
    proxy_->AddRecord("ssl.client.verify.server.policy", "DISABLED");
    StartProxy(args);
    if (HasFatalFailure()) return Duration{0};
    // The https rule goes in by reload: Start writes remap.config from MapPrefix's http rules.
    const absl::Status written =
        proxy_->WriteRemap(absl::StrCat("map https://a.test:", proxy_->tls_port(),
                                        "/tls/ https://127.0.0.1:", tls_origin_port_, "/\n"));
    EXPECT_TRUE(written.ok()) << written;
    EXPECT_TRUE(proxy_->process().Signal(SIGHUP));
    if (!proxy_->process().WaitForStderrText("reloaded ", kEffectDeadline)) {
      ADD_FAILURE() << "no reload\n" << proxy_->process().Stderr();
      return Duration{0};
    }
    const Clock::time_point start = Clock::now();
    const std::string authority = absl::StrCat("a.test:", proxy_->tls_port());
    const RunResult curl =
        RunCurl({"-k", "--resolve", absl::StrCat(authority, ":127.0.0.1"), "-w",
                 "\nstatus=%{http_code}", absl::StrCat("https://", authority, "/tls/")},
                kClientDeadline);
    EXPECT_EQ(curl.exit_code, 0) << curl.err;
    EXPECT_THAT(curl.out, HasSubstr("s_server")) << curl.err;
    EXPECT_THAT(curl.out, ::testing::EndsWith("\nstatus=200")) << curl.err;
    return std::chrono::duration_cast<Duration>(Clock::now() - start);
  }

  void TearDown() override {
    BinaryHookConformanceTest::TearDown();
    tls_origin_.reset();  // kills s_server
  }

  std::unique_ptr<Subprocess> tls_origin_;
  uint16_t tls_origin_port_ = 0;
};

TEST_F(BinaryOutboundTest, TwoImmediateOutboundStartHooksRunOnceEachForTheOriginConnection) {
  FetchThroughTlsOrigin({"-out_start=2", "-out_close=1"});
  if (HasFatalFailure()) return;
  const Calls expected = {"Outbound start callback 0 - event is good",
                          "Outbound start callback 1 - event is good",
                          "Outbound close callback 0 - event is good"};
  EXPECT_TRUE(WaitForCalls(1, expected.size())) << DescribeLog(Log());
  const ProbeLog log = StopProxy();
  EXPECT_EQ(log.connections.size(), 1u) << DescribeLog(log);
  EXPECT_EQ(log.ForConnection(0), expected) << DescribeLog(log);
  EXPECT_TRUE(log.orphans.empty()) << DescribeLog(log);
}

TEST_F(BinaryOutboundTest, DelayedOutboundStartHookParksTheOriginHandshakeUntilItReenables) {
  const Duration elapsed = FetchThroughTlsOrigin(
      {"-out_start_delay=1", absl::StrCat("-delay_ms=", kDelayMs), "-out_close=1"});
  if (HasFatalFailure()) return;
  // A lower bound only: the request cannot be answered before the probe's delay has passed.
  EXPECT_GE(elapsed.count(), kDelayMs);
  const Calls expected = {"Outbound delay start callback 0 - event is good", "Callback reenable",
                          "Outbound close callback 0 - event is good"};
  EXPECT_TRUE(WaitForCalls(1, expected.size())) << DescribeLog(Log());
  const ProbeLog log = StopProxy();
  EXPECT_EQ(log.connections.size(), 1u) << DescribeLog(log);
  EXPECT_EQ(log.ForConnection(0), expected) << DescribeLog(log);
  EXPECT_TRUE(log.orphans.empty()) << DescribeLog(log);
}

TEST_F(BinaryOutboundTest, ImmediateAndDelayedOutboundStartHooksRunOncePerOriginConnection) {
  // s_server -www closes each connection after its answer: two requests, two origin
  // connections, one after the other.
  FetchThroughTlsOrigin(
      {"-out_start=1", "-out_start_delay=1", absl::StrCat("-delay_ms=", kDelayMs), "-out_close=1"});
  if (HasFatalFailure()) return;
  const Calls expected = {"Outbound start callback 0 - event is good",
                          "Outbound delay start callback 0 - event is good", "Callback reenable",
                          "Outbound close callback 0 - event is good"};
  EXPECT_TRUE(WaitForCalls(1, expected.size())) << DescribeLog(Log());
  const std::string authority = absl::StrCat("a.test:", proxy_->tls_port());
  const RunResult curl =
      RunCurl({"-k", "--resolve", absl::StrCat(authority, ":127.0.0.1"), "-w",
               "\nstatus=%{http_code}", absl::StrCat("https://", authority, "/tls/")},
              kClientDeadline);
  EXPECT_THAT(curl.out, ::testing::EndsWith("\nstatus=200")) << curl.err;
  EXPECT_TRUE(WaitForCalls(2, expected.size())) << DescribeLog(Log());
  const ProbeLog log = StopProxy();
  ASSERT_EQ(log.connections.size(), 2u) << DescribeLog(log);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(log.ForConnection(i), expected) << "connection " << i << "\n" << DescribeLog(log);
  }
  EXPECT_TRUE(log.orphans.empty()) << DescribeLog(log);
}

}  // namespace
}  // namespace tollgate::integration

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 3) {
    fprintf(stderr, "usage: %s libhook_probe.so libverdict_plugin.so\n", argv[0]);
    return 2;
  }
  // plugin.config lives in a directory under TEST_TMPDIR: give the plugins absolute paths.
  char cwd[4096];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) return 2;
  auto absolute = [&](std::string path) {
    return path[0] == '/' ? path : absl::StrCat(cwd, "/", path);
  };
  tollgate::integration::g_probe = absolute(argv[1]);
  tollgate::integration::g_verdict = absolute(argv[2]);
  return RUN_ALL_TESTS();
}
