// TLS hook conformance in the real binary: `tollgate` runs on a configuration directory whose
// plugin.config lists plugins/hook_probe with ATS's ssl_hook_test arguments and whose
// records.yaml turns on debug output for the probe's tag, so that every hook call the probe sees
// becomes one "(ssl_hook_test) ..." line on the binary's stderr. Real clients (`openssl
// s_client` with its standard input closed, `curl -k`) connect over loopback. The assertions
// are the order and count of the probe's lines for each connection (the connection is the
// TSVConn the probe prints, a generation-checked handle, so it never repeats within a run).
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

// The absolute path of libhook_probe.so (set by main from the test's argument).
std::string g_probe;

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
    proxy_->AddRecord("diags", "{debug: {enabled: 1, tags: ssl_hook_test}}");
    proxy_->MapPrefix("/", origin_->port());
    const absl::Status written =
        WriteFile(absl::StrCat(proxy_->dir(), "/plugin.config"),
                  absl::StrCat(g_probe, " ", absl::StrJoin(args, " "), "\n"));
    ASSERT_TRUE(written.ok()) << written;
    const absl::Status started = proxy_->Start();
    ASSERT_TRUE(started.ok()) << started;
    // stderr has its own reader thread: the start-up lines on stdout may come first.
    ASSERT_TRUE(
        proxy_->process().WaitForStderrText("(ssl_hook_test) Setup callbacks", kStartDeadline))
        << proxy_->process().Stderr();
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
  ClientRun SClient() {
    const Clock::time_point start = Clock::now();
    ClientRun run;
    run.result =
        RunProgram({OpensslPath(), "s_client", "-connect",
                    absl::StrCat("127.0.0.1:", proxy_->tls_port()), "-servername", "a.test"},
                   kClientDeadline);
    run.elapsed = std::chrono::duration_cast<Duration>(Clock::now() - start);
    return run;
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

}  // namespace
}  // namespace tollgate::integration

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 2) {
    fprintf(stderr, "usage: %s libhook_probe.so\n", argv[0]);
    return 2;
  }
  // plugin.config lives in a directory under TEST_TMPDIR: give it an absolute path.
  std::string probe = argv[1];
  if (probe[0] != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof(cwd)) == nullptr) return 2;
    probe = absl::StrCat(cwd, "/", probe);
  }
  tollgate::integration::g_probe = probe;
  return RUN_ALL_TESTS();
}
