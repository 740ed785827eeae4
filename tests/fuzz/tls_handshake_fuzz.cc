// libFuzzer target: the server side of the TLS handshake, as Tollgate runs it.
//
// Each input is what a client sends on a new connection to a TLS port served by
// SSLNetVConnection (the real driver, certificate table, sni.yaml policies and close path): the
// bytes are written on a loopback connection, the client's write side is shut, and the target
// reads until the server closes. A crash, a sanitizer report or a connection the server never
// closes (bounded wait) is a finding. The server runs on its own event thread in this process,
// so ASan and UBSan see its memory.
//
//   bazel build --config=clang --config=asan --copt=-fsanitize=fuzzer-no-link \
//       //tests/fuzz:tls_handshake_fuzz
//   bazel-bin/tests/fuzz/tls_handshake_fuzz -max_total_time=60 -max_len=4096 \
//       tests/fuzz/tls_handshake_corpus
//
// The seed corpus holds real ClientHellos (with and without SNI); tests/fuzz/README.md says how
// to regenerate it.

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "iocore/eventsystem/event_processor.h"
#include "iocore/net/net_processor.h"
#include "iocore/tls/cert_gen.h"
#include "iocore/tls/cert_table.h"
#include "iocore/tls/sni_config.h"
#include "iocore/tls/ssl_net_vconnection.h"

namespace tollgate {
namespace {

// Closes every established connection at once: the handshake is what is fuzzed.
class CloseAcceptor final : public Continuation {
 public:
  void HandleEvent(EventCode code, void* data) override {
    if (code == EventCode::kNetAccept) static_cast<NetVConnection*>(data)->DoIoClose();
  }
};

struct Server {
  EventProcessor events;
  std::unique_ptr<NetProcessor> net;
  CloseAcceptor acceptor;
  std::unique_ptr<TlsPort> port;
  IpEndpoint addr;
};

Server* StartServer() {
  auto* server = new Server;  // lives for the process
  server->net = std::make_unique<NetProcessor>();
  NetProcessor* net = server->net.get();
  if (!server->events
           .Start({.net_threads = 1,
                   .task_threads = 1,
                   .net_thread_init = [net](EThread& t) { net->InitThread(t); }})
           .ok()) {
    std::abort();
  }
  TlsServerSettings settings;
  settings.handshake_timeout = std::chrono::seconds(2);
  CertTable::Builder builder(CertTableOptions{
      .configure_ctx = [settings](SSL_CTX* ctx) { return ConfigureServerContext(ctx, settings); }});
  absl::StatusOr<GeneratedCert> cert =
      MakeCert({.common_name = "a.test", .dns_names = {"a.test", "*.wild.test"}});
  if (!cert.ok()) std::abort();
  CertTable::EntrySpec entry;
  entry.certs.push_back({.leaf = std::move(cert->cert), .key = std::move(cert->key)});
  entry.dest_ips.push_back(DestIp::Any());
  if (!builder.Add(std::move(entry)).ok()) std::abort();
  absl::StatusOr<std::shared_ptr<const CertTable>> certs = std::move(builder).Build();
  if (!certs.ok()) std::abort();
  // Policies that make the driver take its other paths: a tunnel, an ip_allow refusal, a
  // version limit.
  absl::StatusOr<std::shared_ptr<const SniConfig>> sni = SniConfig::Parse(
      "sni:\n"
      "  - fqdn: tunnel.test\n"
      "    tunnel_route: 127.0.0.1:9\n"
      "  - fqdn: deny.test\n"
      "    ip_allow: 10.0.0.0/8\n"
      "  - fqdn: old.test\n"
      "    valid_tls_versions_in: [TLSv1_2]\n",
      "sni.yaml", nullptr);
  if (!sni.ok()) std::abort();
  TlsPortSpec spec;
  spec.certs = *certs;
  spec.settings = settings;
  spec.acceptor = &server->acceptor;
  spec.protocols = {{"http/1.1", &server->acceptor}};
  spec.sni = *sni;
  absl::StatusOr<std::shared_ptr<const TlsPortConfig>> config = MakeTlsPortConfig(std::move(spec));
  if (!config.ok()) std::abort();
  server->port = std::make_unique<TlsPort>(*config);
  absl::StatusOr<IpEndpoint> bound =
      server->port->Listen(*server->net, IpEndpoint::Loopback(AF_INET, 0));
  if (!bound.ok()) std::abort();
  server->addr = *bound;
  return server;
}

}  // namespace
}  // namespace tollgate

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static tollgate::Server* server = tollgate::StartServer();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  if (connect(fd, server->addr.sockaddr(), server->addr.socklen()) != 0) {
    close(fd);
    return 0;
  }
  size_t sent = 0;
  while (sent < size) {
    ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close early, on garbage
    sent += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  // The server must close: after an alert, on the client's EOF, or at its handshake timeout.
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) {
      std::fprintf(stderr, "tls_handshake_fuzz: the server kept the connection open\n");
      std::abort();
    }
    if (recv(fd, buf, sizeof(buf), 0) <= 0) break;
  }
  close(fd);
  return 0;
}
