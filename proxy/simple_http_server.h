// SimpleHttpServer: the small HTTP/1.1 server behind the proxy's own endpoints (the built-in demo
// origin and the admin endpoint), running on the net threads.
//
// Each accepted connection gets a session that parses requests with HttpRequestParser, asks the
// handler for the response to each request head, and writes the responses in request order
// (keep-alive and pipelining). The server, not the handler, owns the framing: it adds Date,
// Server, Content-Length or Transfer-Encoding, and Connection, answers "Expect: 100-continue",
// sends no body for HEAD, 204 and 304, reads (and drops) any request body the response does not
// use, answers a request the parser rejects with HttpErrorStatusCode and closes.
//
// Memory per connection is bounded whatever the body sizes: a body is produced or moved only
// while fewer than kMaxQueuedOutput bytes wait to be sent, and the connection stops reading
// while kInputWaterMark unconsumed bytes wait in its input buffer.
//
//   SimpleHttpServer server({.server_name = "tollgate-admin"},
//                           [](const HttpRequest& request, absl::string_view raw_head) {
//                             return SimpleHttpResponse::Text(200, "text/plain", "ok\n");
//                           });
//   absl::StatusOr<IpEndpoint> bound = server.Listen(net, IpEndpoint::Loopback(AF_INET, 0));
//   ...
//   event_processor.Shutdown();  // then destroy |server|
//
// Closing: the server closes a connection after a response when the request asked for it
// (Connection: close, HTTP/1.0 without keep-alive), the handler did, or the request was invalid.
// It then shuts its sending side and discards what the client still sends for up to
// kLingerTimeout before closing, so a client that pipelined more requests reads the last
// response instead of a reset. When the client closes its side (EOS), the requests it completed
// before are still answered, and the connection is closed once their responses are sent (a
// request cut short by the EOS gets no response, or a short one if it had begun). It closes at
// once on a connection error and on the inactivity timeout (NetProcessor::CloseIdleKeepAlive
// sends that to connections idle between requests).

#ifndef TOLLGATE_PROXY_SIMPLE_HTTP_SERVER_H_
#define TOLLGATE_PROXY_SIMPLE_HTTP_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "iocore/eventsystem/clock.h"
#include "iocore/eventsystem/mutex.h"
#include "iocore/net/ip_endpoint.h"
#include "iocore/net/net_processor.h"
#include "proxy/http/http_parser.h"

namespace tollgate {

// --- Pattern bodies ------------------------------------------------------------------------------

// kPatternPeriod is the text a pattern body repeats: byte i of a pattern body is
// kPatternPeriod[i % kPatternPeriod.size()]. Its 62-byte period is not a power of two, so a
// client that loses or repeats a block of bytes sees the pattern break.
inline constexpr absl::string_view kPatternPeriod =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

// PatternByte returns byte |offset| of a pattern body.
inline char PatternByte(uint64_t offset) { return kPatternPeriod[offset % kPatternPeriod.size()]; }

// --- Status codes --------------------------------------------------------------------------------

// --- Responses -----------------------------------------------------------------------------------

// SimpleHttpResponse is what a handler answers to one request.
struct SimpleHttpResponse {
  enum class Body : uint8_t {
    // |text|, with Content-Length.
    kText,
    // |pattern_length| bytes of PatternByte(0), PatternByte(1), ..., with Content-Length,
    // generated as the client reads them.
    kPattern,
    // The request body's bytes, streamed back as they arrive: with the request's Content-Length
    // for a Content-Length request, chunked for a chunked one (the chunk boundaries are the
    // server's own; trailers are dropped), Content-Length 0 when the request has no body.
    kEchoRequestBody,
  };

  // 200..599. Any other value is answered as 500: an interim (1xx) response is the server's own
  // business (100 Continue) and a handler cannot make one.
  int status_code = 200;
  // Fields sent after Date and Server (Content-Type, Allow, ...). Content-Length,
  // Transfer-Encoding and Connection are the server's and are dropped from here.
  HttpHeaders headers;
  Body body = Body::kText;
  std::string text;  // kText only.
  uint64_t pattern_length = 0;  // kPattern only.
  // Close the connection after this response even if the request allowed keep-alive.
  bool close = false;

  // Text returns a kText response; |content_type| empty: no Content-Type field.
  static SimpleHttpResponse Text(int status_code, absl::string_view content_type, std::string text);
  // Pattern returns a 200 kPattern response of |length| bytes.
  static SimpleHttpResponse Pattern(uint64_t length, absl::string_view content_type);
  // EchoRequestBody returns a 200 kEchoRequestBody response.
  static SimpleHttpResponse EchoRequestBody(absl::string_view content_type);
};

// --- Server --------------------------------------------------------------------------------------

struct SimpleHttpServerOptions {
  // The Server field of every response ("tollgate-demo-origin").
  std::string server_name;
  // A connection with no I/O for this long is closed (NetVConnection::SetInactivityTimeout):
  // an idle keep-alive connection, or a client that stopped sending or reading mid-request.
  // Zero: the net layer's default (NetConfig::default_inactivity_timeout).
  Nanoseconds inactivity_timeout = std::chrono::seconds(120);
  // Bounds on request heads; a request over them is answered 414 or 431 and closed.
  HttpParserLimits limits;
};

class SimpleHttpServer {
 public:
  // Handler returns the response to |request|, whose head was |raw_head| on the wire: the
  // request line and every field line as received, each with its CRLF, without the empty line
  // that ends the head. It runs on a net thread, for many connections at once, and must not
  // block. The views are valid only during the call.
  using Handler =
      std::function<SimpleHttpResponse(const HttpRequest& request, absl::string_view raw_head)>;

  // Bytes of response waiting to be sent below which a session produces more body.
  static constexpr int64_t kMaxQueuedOutput = 256 * 1024;
  // Unconsumed input above which a session stops reading (MIOBuffer water mark).
  static constexpr int64_t kInputWaterMark = 256 * 1024;
  // How long a closing connection discards what the client still sends (see the overview).
  static constexpr Nanoseconds kLingerTimeout = std::chrono::seconds(2);

  SimpleHttpServer(SimpleHttpServerOptions options, Handler handler);

  // ~SimpleHttpServer frees the sessions still open. The event threads that ran them must have
  // stopped (EventProcessor::Shutdown): listeners and connections may call into the server
  // until then. The connections themselves were closed and freed by their threads.
  ~SimpleHttpServer();

  SimpleHttpServer(const SimpleHttpServer&) = delete;
  SimpleHttpServer& operator=(const SimpleHttpServer&) = delete;

  // Listen accepts connections on |addr| (port 0: an ephemeral port) on every net thread of
  // |net| and returns the bound address, or NetProcessor::Accept's error. It may be called more
  // than once, for several addresses. Call it after the event threads started, from any thread
  // that is not a net thread running this server's sessions.
  absl::StatusOr<IpEndpoint> Listen(NetProcessor& net, const IpEndpoint& addr);

  // active_sessions returns the connections currently open. Any thread.
  int64_t active_sessions() const;

 private:
  class Acceptor;
  class Session;

  void StartSession(NetVConnection* vc);
  void Forget(Session* session);

  const SimpleHttpServerOptions options_;
  const Handler handler_;
  std::unique_ptr<Acceptor> acceptor_;
  mutable Mutex mu_;
  absl::flat_hash_set<Session*> sessions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tollgate

#endif  // TOLLGATE_PROXY_SIMPLE_HTTP_SERVER_H_
