// DemoOrigin: the built-in HTTP/1.1 origin that the proxy's embedded default configuration
// remaps to, so that a fresh install answers something useful, and the origin the tests and
// benchmarks drive the proxy against.
//
// Routes (the query string is ignored; every response carries Server: tollgate-demo-origin):
//
//   GET|HEAD /            200 text/html: a short page naming the demo origin and its routes.
//   *        /echo        A request with a body (Content-Length > 0, or chunked) gets its body
//                         back byte for byte as application/octet-stream, streamed as it arrives
//                         (same Content-Length, or chunked for a chunked request). A request
//                         without one gets its head back as text/plain: the request line and
//                         each header line as received (Via, X-Forwarded-For, Host, ... as the
//                         proxy forwarded them).
//   GET|HEAD /bytes/N     200 application/octet-stream with Content-Length N (decimal,
//                         0 <= N <= kMaxPatternBytes) and N bytes of the pattern of
//                         simple_http_server.h: byte i is PatternByte(i), i.e. the 62 characters
//                         "0-9a-zA-Z" repeated. Generated as the client reads. A bad N is 400.
//   *        /status/NNN  Status NNN (200..599) with an empty body (Content-Length: 0, none for
//                         204 and 304). Another NNN is 400.
//   anything else         404 text/plain; a known path with a method it does not take is 405.
//
// Keep-alive, pipelining, Expect: 100-continue, HEAD, HTTP/1.0 and errors are handled by
// SimpleHttpServer (see there).
//
//   DemoOrigin origin;
//   absl::StatusOr<IpEndpoint> bound = origin.Listen(net, IpEndpoint::Loopback(AF_INET, 0));
//   ... remap to http://<bound> ...
//   event_processor.Shutdown();  // then destroy |origin|

#ifndef TOLLGATE_PROXY_DEMO_ORIGIN_H_
#define TOLLGATE_PROXY_DEMO_ORIGIN_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "iocore/eventsystem/clock.h"
#include "iocore/net/ip_endpoint.h"
#include "iocore/net/net_processor.h"
#include "proxy/http/http_parser.h"
#include "proxy/simple_http_server.h"

namespace tollgate {

struct DemoOriginOptions {
  // Idle (or stalled) connections are closed after this long without I/O.
  Nanoseconds inactivity_timeout = std::chrono::seconds(120);
};

class DemoOrigin {
 public:
  // The largest N of /bytes/N: 1 TiB.
  static constexpr uint64_t kMaxPatternBytes = uint64_t{1} << 40;

  explicit DemoOrigin(DemoOriginOptions options = {});

  // ~DemoOrigin frees the sessions still open; as for SimpleHttpServer, the event threads must
  // have stopped.
  ~DemoOrigin() = default;

  DemoOrigin(const DemoOrigin&) = delete;
  DemoOrigin& operator=(const DemoOrigin&) = delete;

  // Listen serves on |addr| (the binary passes 127.0.0.1:0) on every net thread of |net| and
  // returns the bound address, or why it could not listen. Call after the event threads started.
  absl::StatusOr<IpEndpoint> Listen(NetProcessor& net, const IpEndpoint& addr);

  // active_sessions returns the connections currently open. Any thread.
  int64_t active_sessions() const { return server_.active_sessions(); }

  // Respond returns the response to |request| (whose head was |raw_head|) as the routes above
  // say. It does not block and may be called from any thread.
  static SimpleHttpResponse Respond(const HttpRequest& request, absl::string_view raw_head);

 private:
  SimpleHttpServer server_;
};

}  // namespace tollgate

#endif  // TOLLGATE_PROXY_DEMO_ORIGIN_H_
