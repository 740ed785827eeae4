// PluginTlsHost: a test host for plugins. It loads plugins through the real loader and C ABI,
// serves TLS on a loopback port (an echo behind it), relays blind tunnels to a far end the test
// chooses, and captures this process's stderr so tests can assert on TSDebug lines.
//
// The test binary must export the TS* API: link it with
//   linkopts = ["-Wl,--dynamic-list=$(location //plugin_api:exported_symbols.lds)"]
//
//   StderrCapture log;                          // first: before anything prints
//   PluginTlsHost host;
//   ASSERT_TRUE(host.LoadPlugin(path, {"-preaccept=1"}).ok());
//   ASSERT_TRUE(host.Start().ok());
//   TlsClient client({.sni = "a.test"}); client.Connect(host.port());
//   EXPECT_TRUE(log.WaitFor("(my_tag) ...", 1));

#ifndef TOLLGATE_TESTS_UTIL_PLUGIN_HOST_H_
#define TOLLGATE_TESTS_UTIL_PLUGIN_HOST_H_

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "iocore/eventsystem/event_processor.h"
#include "iocore/net/net_processor.h"
#include "iocore/tls/ssl_net_vconnection.h"
#include "iocore/tls/tls_hooks.h"
#include "plugin_api/ts_runtime.h"
#include "tests/util/echo_session.h"
#include "tests/util/wait.h"

namespace tollgate::test_util {

// StderrCapture redirects fd 2 to a pipe for its lifetime and collects the lines.
class StderrCapture {
 public:
  StderrCapture();
  ~StderrCapture();
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;

  // Lines returns the captured lines containing |text|, each cut to what follows |text|.
  std::vector<std::string> Lines(const std::string& text);
  // WaitFor waits (bounded by kTestDeadline) until |n| lines contain |text|.
  bool WaitFor(const std::string& text, size_t n);

 private:
  int saved_ = -1;
  int read_fd_ = -1;
  std::thread reader_;
  std::mutex mu_;
  std::vector<std::string> lines_;
  WaitCounter count_;
};

class PluginTlsHost {
 public:
  PluginTlsHost();
  // The destructor waits (bounded) for open connections to close, then stops the threads.
  ~PluginTlsHost();
  PluginTlsHost(const PluginTlsHost&) = delete;
  PluginTlsHost& operator=(const PluginTlsHost&) = delete;

  // LoadPlugin loads |path| (absolute, or relative to the working directory) with |args|, as a
  // plugin.config line would. Before Start.
  absl::Status LoadPlugin(const std::string& path, std::vector<std::string> args);

  // Start serves TLS on 127.0.0.1 with self-signed certificates for a.test (the default) and
  // any |extra_names| (one ECDSA certificate each).
  absl::Status Start(TlsServerSettings settings = {}, std::vector<std::string> extra_names = {});

  uint16_t port() const { return port_number_; }
  // tunnel_far_end is where blind tunnels are relayed (set before clients connect).
  void set_tunnel_far_end(const IpEndpoint& far) { far_ = far; }
  // tunnel_destinations returns SSLNetVConnection::TunnelDestination() of each tunnel so far.
  std::vector<std::string> tunnel_destinations();

  EventProcessor& events() { return ep_; }
  NetProcessor& net() { return *net_; }
  TlsHookRegistry& hooks() { return hooks_; }
  SessionLog& sessions() { return sessions_; }

 private:
  class Acceptor;
  class TunnelAcceptor;

  TsRuntime runtime_;
  TlsHookRegistry hooks_;
  SessionLog sessions_;
  std::unique_ptr<Acceptor> acceptor_;
  std::unique_ptr<TunnelAcceptor> tunnel_acceptor_;
  EventProcessor ep_;
  std::unique_ptr<NetProcessor> net_;
  std::unique_ptr<TlsPort> port_;
  std::shared_ptr<const CertTable> certs_;
  uint16_t port_number_ = 0;
  IpEndpoint far_;
  std::mutex mu_;
  std::vector<std::string> tunnel_destinations_;
};

}  // namespace tollgate::test_util

#endif  // TOLLGATE_TESTS_UTIL_PLUGIN_HOST_H_
