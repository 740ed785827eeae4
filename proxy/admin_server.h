// AdminServer: the admin endpoint, for the operator and the load balancer in front of the proxy.
// The binary serves it on loopback (proxy.config.admin.port); nothing here restricts the address,
// so whoever passes another one exposes the stats to it.
//
//   GET|HEAD /stats    200 application/json: Handlers::stats_json() (see stats_json.h).
//   GET|HEAD /healthz  200 "ok\n" while Handlers::healthy() is true, else 503 "draining\n", so
//                      that a load balancer stops sending before the proxy stops accepting.
//   other paths        404; another method on a known path: 405 with Allow: GET, HEAD.
//
// The query string is ignored. Keep-alive, pipelining and errors are SimpleHttpServer's.
//
//   AdminServer admin({.stats_json = [] { return BuildStatsJson(); },
//                      .healthy = [&] { return !draining.load(); }});
//   absl::StatusOr<IpEndpoint> bound = admin.Listen(net, *IpEndpoint::Parse("127.0.0.1:8081"));
//   ...
//   event_processor.Shutdown();  // then destroy |admin|

#ifndef TOLLGATE_PROXY_ADMIN_SERVER_H_
#define TOLLGATE_PROXY_ADMIN_SERVER_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "iocore/net/ip_endpoint.h"
#include "iocore/net/net_processor.h"
#include "proxy/http/http_parser.h"
#include "proxy/simple_http_server.h"

namespace tollgate {

class AdminServer {
 public:
  // Handlers run on net threads, for several connections at once: they must be thread-safe and
  // must not block.
  struct Handlers {
    // The body of /stats, a JSON object. Empty function: "{}".
    std::function<std::string()> stats_json;
    // Whether /healthz answers 200. Empty function: always healthy.
    std::function<bool()> healthy;
  };

  explicit AdminServer(Handlers handlers);

  // ~AdminServer frees the sessions still open; as for SimpleHttpServer, the event threads must
  // have stopped.
  ~AdminServer() = default;

  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Listen serves on |addr| on every net thread of |net| and returns the bound address, or why
  // it could not listen. Call after the event threads started.
  absl::StatusOr<IpEndpoint> Listen(NetProcessor& net, const IpEndpoint& addr);

  // active_sessions returns the connections currently open. Any thread.
  int64_t active_sessions() const { return server_.active_sessions(); }

 private:
  SimpleHttpResponse Respond(const HttpRequest& request) const;

  const Handlers handlers_;
  SimpleHttpServer server_;
};

}  // namespace tollgate

#endif  // TOLLGATE_PROXY_ADMIN_SERVER_H_
