// Hook conformance through the plugin C ABI: the hook_probe plugin is loaded with dlopen into
// this host (which exports exactly the TS* symbols), registers hooks through TSHttpHookAdd, and a
// real TLS client connects. The order and count of the plugin's TSDebug lines are the assertions,
// as in ATS's tls_hooks tests.
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "iocore/eventsystem/diags.h"
#include "iocore/eventsystem/event_processor.h"
#include "iocore/tls/ssl_net_vconnection.h"
#include "plugin_api/plugin_loader.h"
#include "plugin_api/ts_runtime.h"
#include "tests/util/echo_session.h"
#include "tests/util/plugin_host.h"
#include "tests/util/test_certs.h"
#include "tests/util/tls_client.h"
#include "tests/util/wait.h"

extern "C" int TSStatFindName(const char* name, int* idp);
// TS_LIFECYCLE_PORTS_READY_HOOK of ts/apidefs.h (this test does not include the plugin header).
constexpr int TS_LIFECYCLE_PORTS_READY_HOOK_FOR_TEST = 1;

namespace tollgate {
namespace {

int TSStatFindNameForTest(const char* name, int* id) { return ::TSStatFindName(name, id); }

using test_util::kTestDeadline;
using test_util::MakeCert;
using test_util::StderrCapture;
using test_util::TestCert;
using test_util::TlsClient;
using test_util::WaitCounter;

const char* g_plugin = nullptr;  // libhook_probe.so
const char* g_symbols = nullptr;  // exported_symbols.lds
const char* g_header = nullptr;  // ts/ts.h
const char* g_ats_plugin = nullptr;  // built against ATS 9.2's headers

class EchoAcceptor : public Continuation {
 public:
  explicit EchoAcceptor(test_util::SessionLog* log) : log_(log) {}
  void HandleEvent(EventCode code, void* data) override {
    if (code != EventCode::kNetAccept) return;
    (new test_util::EchoSession(static_cast<NetVConnection*>(data), log_))->Start();
    log_->accepted.Increment();
  }

 private:
  test_util::SessionLog* log_;
};

class HookConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(SetDebugTags(true, "ssl_hook_test").ok()); }

  // Loads hook_probe with |args|, then starts a TLS port.
  void Start(std::vector<std::string> args, std::string plugin = g_plugin,
             NetConfig net_config = {}) {
    runtime_.events = &ep_;
    runtime_.tls_hooks = &hooks_;
    SetTsRuntime(&runtime_);
    PluginLoader loader;
    absl::Status loaded = loader.Load({.line = 1, .path = plugin, .args = std::move(args)},
                                      "plugin.config:1", "/", "");
    ASSERT_TRUE(loaded.ok()) << loaded;
    net_ = std::make_unique<NetProcessor>(net_config);
    ASSERT_TRUE(ep_.Start({.net_threads = 1,
                           .task_threads = 1,
                           .net_thread_init = [this](EThread& t) { net_->InitThread(t); }})
                    .ok());
    CertTable::Builder builder(CertTableOptions{.configure_ctx = [](SSL_CTX* ctx) {
      return ConfigureServerContext(ctx, TlsServerSettings{});
    }});
    absl::StatusOr<TestCert> cert = MakeCert({.common_name = "a.test", .dns_names = {"a.test"}});
    ASSERT_TRUE(cert.ok());
    CertTable::EntrySpec entry;
    entry.certs.push_back({.leaf = std::move(cert->cert), .key = std::move(cert->key)});
    entry.dest_ips.push_back(DestIp::Any());
    ASSERT_TRUE(builder.Add(std::move(entry)).ok());
    absl::StatusOr<std::shared_ptr<const TlsPortConfig>> config =
        MakeTlsPortConfig(*std::move(builder).Build(), settings_, &hooks_, &acceptor_, nullptr);
    ASSERT_TRUE(config.ok()) << config.status();
    port_ = std::make_unique<TlsPort>(*config);
    absl::StatusOr<IpEndpoint> bound = port_->Listen(*net_, IpEndpoint::Loopback(AF_INET, 0));
    ASSERT_TRUE(bound.ok()) << bound.status();
    port_number_ = bound->port();
  }

  void TearDown() override {
    if (net_ != nullptr) {
      for (auto start = std::chrono::steady_clock::now(); net_->open_connections() > 0 &&
           std::chrono::steady_clock::now() - start < kTestDeadline;) {
        std::this_thread::yield();
      }
    }
    sessions_.finished.WaitAtLeast(sessions_.accepted.value(), kTestDeadline);
    ep_.Shutdown();
    SetTsRuntime(nullptr);
    (void)SetDebugTags(false, "");
  }

  // Connects with no SNI (an IP literal, as ATS's curl does), echoes one byte, closes.
  void ConnectAndClose() {
    TlsClient client({.sni = ""});
    ASSERT_TRUE(client.Connect(port_number_).ok());
    ASSERT_TRUE(client.WriteAll("x").ok());
    ASSERT_TRUE(client.ReadExactly(1).ok());
  }

  // The probe's lines in order, without pointers (which differ per run).
  std::vector<std::string> ProbeLines() {
    std::vector<std::string> out;
    for (std::string line : capture_.Lines("(ssl_hook_test) ")) {
      if (absl::StartsWith(line, "Setup callbacks")) continue;
      // "Cert callback 0 ssl_vc=0x..." -> "Cert callback 0"
      size_t cut = line.find(" ssl_vc=");
      if (cut == std::string::npos) cut = line.find(" 0x");
      std::string suffix;
      size_t event = line.find(" - event is ");
      if (event != std::string::npos) suffix = line.substr(event);
      out.push_back(line.substr(0, cut) + suffix);
    }
    return out;
  }

  StderrCapture capture_;
  TlsServerSettings settings_;
  TsRuntime runtime_;
  TlsHookRegistry hooks_;
  test_util::SessionLog sessions_;
  EchoAcceptor acceptor_{&sessions_};
  EventProcessor ep_;
  std::unique_ptr<NetProcessor> net_;
  std::unique_ptr<TlsPort> port_;
  uint16_t port_number_ = 0;
};

TEST_F(HookConformanceTest, OneImmediateVconnStartHookRunsOnce) {
  Start({"-preaccept=1"});
  ConnectAndClose();
  ASSERT_TRUE(capture_.WaitFor("Pre accept callback", 1));
  EXPECT_EQ(ProbeLines(), std::vector<std::string>{"Pre accept callback 0 - event is good"});
}

TEST_F(HookConformanceTest, ServernameHookRunsWithoutSni) {
  Start({"-sni=1"});
  ConnectAndClose();
  ASSERT_TRUE(capture_.WaitFor("SNI callback", 1));
  EXPECT_EQ(ProbeLines(), std::vector<std::string>{"SNI callback 0"});
}

TEST_F(HookConformanceTest, DelayedCertHookReenablesFromAnotherThreadBeforeTheNextRuns) {
  Start({"-cert=2"});
  ConnectAndClose();
  ASSERT_TRUE(capture_.WaitFor("Callback reenable", 2));
  EXPECT_EQ(ProbeLines(),
            (std::vector<std::string>{"Cert callback 0", "Callback reenable", "Cert callback 1",
                                      "Callback reenable"}));
}

TEST_F(HookConformanceTest, AllKindsTogetherRunInHandshakeOrderThenClose) {
  Start({"-preaccept=1", "-client_hello_imm=1", "-sni=1", "-cert=1", "-close=2"});
  ConnectAndClose();
  ASSERT_TRUE(capture_.WaitFor("Close callback", 2));
  EXPECT_EQ(ProbeLines(),
            (std::vector<std::string>{
                "Pre accept callback 0 - event is good", "Client Hello callback 0",
                "SNI callback 0", "Cert callback 0", "Callback reenable",
                "Close callback 0 - event is good", "Close callback 1 - event is good"}));
}

TEST_F(HookConformanceTest, DelayedClientHelloAndImmediateCertHooksMix) {
  Start({"-client_hello=2", "-i=1", "-d=1"});
  ConnectAndClose();
  ASSERT_TRUE(capture_.WaitFor("Cert callback", 1));
  EXPECT_EQ(ProbeLines(),
            (std::vector<std::string>{"Pre accept delay callback 0 - event is good",
                                      "Callback reenable", "Client Hello callback 0",
                                      "Callback reenable", "Client Hello callback 1",
                                      "Callback reenable", "Cert callback 0"}));
}

TEST_F(HookConformanceTest, PluginBuiltAgainstAts92HeadersLoadsAndItsHooksRun) {
  ASSERT_TRUE(SetDebugTags(true, "ats_abi").ok());
  std::string path = g_ats_plugin;
  if (path[0] != '/') {
    char cwd[4096];
    path = std::string(getcwd(cwd, sizeof(cwd))) + "/" + path;
  }
  Start({}, path);
  {
    TlsClient client({.sni = "abi.test"});
    ASSERT_TRUE(client.Connect(port_number_).ok());
  }
  ASSERT_TRUE(capture_.WaitFor("servername event=60204 sni=abi.test", 1));
  int stat = -1;
  ASSERT_EQ(TSStatFindNameForTest("ats_abi.servername_calls", &stat), 0);
  EXPECT_EQ(GlobalStats().Get(StatId(stat)), 1);
}

TEST(PluginLoaderTest, MissingPluginStopsWithFileLineAndReason) {
  PluginLoader loader;
  absl::Status s = loader.Load({.line = 3, .path = "no_such_plugin.so"}, "plugin.config:3",
                               "/nonexistent", "/also-missing");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.message().find("plugin.config:3"), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("no_such_plugin.so"), absl::string_view::npos) << s;
}

TEST(PluginLoaderTest, PluginCallingAFunctionTollgateLacksFailsToLoadWithTheSymbolName) {
  // abi_smoke calls TSSmokeHostRecord, which this host does not export.
  PluginLoader loader;
  std::string path = g_plugin;
  path = path.substr(0, path.find("hook_probe")) + "abi_smoke/libabi_smoke.so";
  absl::Status s = loader.Load({.line = 1, .path = path}, "plugin.config:1", "/", "");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("TSSmokeHostRecord"), absl::string_view::npos) << s;
}

TEST(PluginLoaderTest, ConfigParsingHandlesCommentsQuotesAndArguments) {
  absl::StatusOr<std::vector<PluginConfigLine>> lines = ParsePluginConfig(
      "# comment\n\nhook_probe.so -preaccept=1 \"-x=a b\" # trailing\nother.so\n", "plugin.config");
  ASSERT_TRUE(lines.ok()) << lines.status();
  ASSERT_EQ(lines->size(), 2u);
  EXPECT_EQ((*lines)[0].line, 3);
  EXPECT_EQ((*lines)[0].path, "hook_probe.so");
  EXPECT_EQ((*lines)[0].args, (std::vector<std::string>{"-preaccept=1", "-x=a b"}));
  EXPECT_EQ((*lines)[1].line, 4);
  EXPECT_FALSE(ParsePluginConfig("x.so \"open\n", "plugin.config").ok());
}

TEST(PluginLoaderTest, EmptyQuotedPluginPathIsAnErrorNamingTheLine) {
  absl::StatusOr<std::vector<PluginConfigLine>> lines =
      ParsePluginConfig("ok.so\n\"\" -arg\n", "plugin.config");
  ASSERT_FALSE(lines.ok());
  EXPECT_EQ(lines.status().message(), "plugin.config:2: empty plugin path");
}

TEST(ExportedSymbolsTest, HostExportsExactlyTheTsApiList) {
  std::ifstream list(g_symbols);
  ASSERT_TRUE(list.good());
  std::set<std::string> expected;
  std::string line;
  while (std::getline(list, line)) {
    absl::string_view s = absl::StripAsciiWhitespace(line);
    if (absl::StartsWith(s, "TS") && absl::EndsWith(s, ";")) {
      expected.insert(std::string(s.substr(0, s.size() - 1)));
    }
  }
  ASSERT_GT(expected.size(), 70u);
  for (const std::string& name : expected) {
    EXPECT_NE(dlsym(RTLD_DEFAULT, name.c_str()), nullptr) << name << " is not exported";
  }
  // Nothing else named TS* is visible to plugins.
  std::string command = "nm -D --defined-only /proc/" + std::to_string(getpid()) + "/exe";
  FILE* nm = popen(command.c_str(), "r");
  ASSERT_NE(nm, nullptr);
  std::set<std::string> exported;
  char buf[512];
  while (fgets(buf, sizeof(buf), nm) != nullptr) {
    std::vector<std::string> parts = absl::StrSplit(absl::StripTrailingAsciiWhitespace(buf), ' ');
    if (!parts.empty() && absl::StartsWith(parts.back(), "TS")) exported.insert(parts.back());
  }
  pclose(nm);
  EXPECT_EQ(exported, expected);
}

TEST(ExportedSymbolsTest, ListMatchesTheFunctionsDeclaredInTsH) {
  // Every `tsapi` function of ts/ts.h (but TSPluginInit, which plugins define) is in the list,
  // and the list names nothing else but the two ALPN constants.
  std::ifstream header(g_header);
  ASSERT_TRUE(header.good());
  std::set<std::string> declared = {"TS_ALPN_PROTOCOL_HTTP_1_1", "TS_ALPN_PROTOCOL_HTTP_2_0"};
  std::string line;
  while (std::getline(header, line)) {
    if (!absl::StartsWith(line, "tsapi ")) continue;
    size_t paren = line.find('(');
    if (paren == std::string::npos) continue;
    size_t start = line.rfind(' ', paren);
    size_t star = line.rfind('*', paren);
    if (star != std::string::npos && star > start) start = star;
    declared.insert(line.substr(start + 1, paren - start - 1));
  }
  std::ifstream list(g_symbols);
  std::set<std::string> listed;
  while (std::getline(list, line)) {
    absl::string_view s = absl::StripAsciiWhitespace(line);
    if (absl::StartsWith(s, "TS") && absl::EndsWith(s, ";")) {
      listed.insert(std::string(s.substr(0, s.size() - 1)));
    }
  }
  EXPECT_EQ(declared, listed);
}

// ---- More of the matrix -----------------------------------------------------------------------

TEST_F(HookConformanceTest, ChainsOfTwoRunInRegistrationOrderForEachKind) {
  Start({"-preaccept=2", "-client_hello_imm=2", "-sni=2", "-i=2", "-close=2"});
  ConnectAndClose();
  ASSERT_TRUE(capture_.WaitFor("Close callback", 2));
  EXPECT_EQ(ProbeLines(),
            (std::vector<std::string>{
                "Pre accept callback 0 - event is good", "Pre accept callback 1 - event is good",
                "Client Hello callback 0", "Client Hello callback 1", "SNI callback 0",
                "SNI callback 1", "Cert callback 0", "Cert callback 1",
                "Close callback 0 - event is good", "Close callback 1 - event is good"}));
}

TEST_F(HookConformanceTest, DelayedVconnStartChainReenablesOneAfterTheOther) {
  Start({"-d=2"});
  ConnectAndClose();
  ASSERT_TRUE(capture_.WaitFor("Callback reenable", 2));
  EXPECT_EQ(ProbeLines(),
            (std::vector<std::string>{
                "Pre accept delay callback 0 - event is good", "Callback reenable",
                "Pre accept delay callback 1 - event is good", "Callback reenable"}));
}

TEST_F(HookConformanceTest, ImmediateAndDelayedPreAcceptHooksMix) {
  // ATS's tls_hooks12: -p=2 -d=1.
  Start({"-p=2", "-d=1"});
  ConnectAndClose();
  ASSERT_TRUE(capture_.WaitFor("Callback reenable", 1));
  EXPECT_EQ(ProbeLines(),
            (std::vector<std::string>{
                "Pre accept callback 0 - event is good", "Pre accept callback 1 - event is good",
                "Pre accept delay callback 0 - event is good", "Callback reenable"}));
}

TEST_F(HookConformanceTest, ClientGivingUpWhileParkedStillGetsTheCloseHookOnce) {
  // The client sends its ClientHello and leaves while the CERT hook is parked.
  Start({"-cert=1", "-close=1", "-delay_ms=200"});
  int fd = test_util::ConnectTcp(port_number_);
  ASSERT_GE(fd, 0);
  std::string hello = test_util::MakeClientHello("a.test");
  ASSERT_EQ(send(fd, hello.data(), hello.size(), MSG_NOSIGNAL), static_cast<ssize_t>(hello.size()));
  ASSERT_TRUE(capture_.WaitFor("Cert callback 0", 1));
  close(fd);
  ASSERT_TRUE(capture_.WaitFor("Close callback 0", 1));
  ASSERT_TRUE(capture_.WaitFor("Callback reenable", 1));
  EXPECT_EQ(capture_.Lines("Close callback").size(), 1u);
}

TEST_F(HookConformanceTest,
       HandshakeTimeoutWhileParkedGetsTheCloseHookAndTheLateReenableIsHarmless) {
  settings_.handshake_timeout = std::chrono::milliseconds(100);
  Start({"-client_hello=1", "-close=1", "-delay_ms=400"}, g_plugin,
        {.cop_interval = std::chrono::milliseconds(10)});
  {
    TlsClient client({.sni = "a.test"});
    EXPECT_FALSE(client.Connect(port_number_).ok());
  }
  ASSERT_TRUE(capture_.WaitFor("Close callback 0", 1));
  EXPECT_EQ(capture_.Lines("- event is good").size(), 1u);
  // The probe's delayed callback reenables after the connection is gone: a no-op.
  ASSERT_TRUE(capture_.WaitFor("Callback reenable", 1));
  EXPECT_EQ(capture_.Lines("Close callback").size(), 1u);
  EXPECT_EQ(capture_.Lines("Client Hello callback").size(), 1u);
}

TEST_F(HookConformanceTest, LifecycleHooksOfAPluginRunWhenTheHostReachesThatMoment) {
  ASSERT_TRUE(SetDebugTags(true, "ats_abi").ok());
  std::string path = g_ats_plugin;
  if (path[0] != '/') {
    char cwd[4096];
    path = std::string(getcwd(cwd, sizeof(cwd))) + "/" + path;
  }
  Start({}, path);
  FireLifecycleHook(TS_LIFECYCLE_PORTS_READY_HOOK_FOR_TEST);
  EXPECT_TRUE(capture_.WaitFor("(ats_abi) lifecycle event=60101", 1));
}

}  // namespace
}  // namespace tollgate
int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 5) {
    fprintf(stderr,
            "usage: %s libhook_probe.so exported_symbols.lds ts.h libats_headers_plugin.so\n",
            argv[0]);
    return 2;
  }
  tollgate::g_ats_plugin = argv[4];
  tollgate::g_plugin = argv[1];
  tollgate::g_symbols = argv[2];
  tollgate::g_header = argv[3];
  // dlopen needs a path the loader treats as absolute or relative to the config dir "/".
  static std::string absolute;
  if (tollgate::g_plugin[0] != '/') {
    char cwd[4096];
    absolute = std::string(getcwd(cwd, sizeof(cwd))) + "/" + tollgate::g_plugin;
    tollgate::g_plugin = absolute.c_str();
  }
  return RUN_ALL_TESTS();
}
