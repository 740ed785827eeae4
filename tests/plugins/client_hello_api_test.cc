// The ClientHello API of <ts/ts.h> (TSVConnClientHelloGet and its accessors) at each hook
// point, called through the exported C ABI by continuations this test registers itself.
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/util/plugin_host.h"
#include "tests/util/tls_client.h"
#include "ts/ts.h"

namespace tollgate {
namespace {

using test_util::PluginTlsHost;
using test_util::TlsClient;

// What each hook saw, one line per call, e.g. "client_hello: ok".
std::mutex g_mu;
std::vector<std::string> g_seen;

std::string Check(TSVConn vc) {
  TSClientHello ch = TSVConnClientHelloGet(vc);
  if (ch == nullptr) return "null";
  std::string problem;
  if (TSClientHelloVersionGet(ch) != 0x0303) problem += " version";
  const unsigned char* suites = nullptr;
  size_t suites_len = 0;
  if (TSClientHelloCipherSuitesGet(ch, &suites, &suites_len) != TS_SUCCESS || suites_len == 0 ||
      suites_len % 2 != 0) {
    problem += " suites";
  }
  size_t count = TSClientHelloExtensionTypesGet(ch, nullptr, 0);
  std::vector<uint16_t> types(count);
  if (count == 0 || TSClientHelloExtensionTypesGet(ch, types.data(), count) != count) {
    problem += " types";
  }
  uint16_t first = 0;
  if (TSClientHelloExtensionTypesGet(ch, &first, 1) != count || first != types[0]) {
    problem += " types-truncated";
  }
  const unsigned char* sni = nullptr;
  size_t sni_len = 0;
  if (TSClientHelloExtensionGet(ch, 0, &sni, &sni_len) != TS_SUCCESS ||
      std::string(reinterpret_cast<const char*>(sni), sni_len).find("api.test") ==
          std::string::npos) {
    problem += " sni";
  }
  if (TSClientHelloExtensionGet(ch, 0xfeff, &sni, &sni_len) != TS_ERROR) problem += " missing";
  if (TSClientHelloExtensionGet(ch, 0, nullptr, &sni_len) != TS_ERROR) problem += " null-out";
  TSClientHelloDestroy(ch);
  return problem.empty() ? "ok" : "bad:" + problem;
}

int OnHook(TSCont, TSEvent event, void* edata) {
  auto vc = static_cast<TSVConn>(edata);
  const char* name = event == TS_EVENT_VCONN_START ? "start"
      : event == TS_EVENT_SSL_CLIENT_HELLO         ? "client_hello"
      : event == TS_EVENT_SSL_SERVERNAME           ? "servername"
      : event == TS_EVENT_SSL_CERT                 ? "cert"
                                                   : "other";
  std::string result = Check(vc);
  {
    std::lock_guard<std::mutex> lock(g_mu);
    g_seen.push_back(std::string(name) + ": " + result);
  }
  TSVConnReenable(vc);
  return 0;
}

TEST(ClientHelloApiTest, NullAtVconnStartThenAvailableThroughTheCertHook) {
  PluginTlsHost host;
  TSCont cont = TSContCreate(OnHook, nullptr);
  for (TSHttpHookID id :
       {TS_VCONN_START_HOOK, TS_SSL_CLIENT_HELLO_HOOK, TS_SSL_SERVERNAME_HOOK, TS_SSL_CERT_HOOK}) {
    TSHttpHookAdd(id, cont);
  }
  ASSERT_TRUE(host.Start().ok());
  {
    TlsClient client({.sni = "api.test"});
    absl::Status s = client.Connect(host.port());
    ASSERT_TRUE(s.ok()) << s;
  }
  std::lock_guard<std::mutex> lock(g_mu);
  EXPECT_EQ(
      g_seen,
      (std::vector<std::string>{"start: null", "client_hello: ok", "servername: ok", "cert: ok"}));
}

TEST(ClientHelloApiTest, NullArgumentsAreRejected) {
  EXPECT_EQ(TSVConnClientHelloGet(nullptr), nullptr);
  TSClientHelloDestroy(nullptr);
  EXPECT_EQ(TSClientHelloVersionGet(nullptr), 0);
  EXPECT_EQ(TSClientHelloExtensionTypesGet(nullptr, nullptr, 0), 0u);
  const unsigned char* out = nullptr;
  size_t len = 0;
  EXPECT_EQ(TSClientHelloCipherSuitesGet(nullptr, &out, &len), TS_ERROR);
  EXPECT_EQ(TSClientHelloExtensionGet(nullptr, 0, &out, &len), TS_ERROR);
}

}  // namespace
}  // namespace tollgate
