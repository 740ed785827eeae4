// HttpProxy: what every HTTP/1.1 session of the reverse proxy shares, and the acceptors that
// start sessions on the ports.
//
//   HttpProxy proxy(&net, &resolver, settings, access_log);
//   proxy.SetRemap(config.remap);                        // again on every reload
//   net.Accept(proxy.acceptor(HttpScheme::kHttp), addr);   // plain port
//   TlsPortSpec{.acceptor = proxy.acceptor(HttpScheme::kHttps),
//               .protocols = {{"http/1.1", proxy.acceptor(HttpScheme::kHttps)}}, ...};
//   ...
//   proxy.BeginDrain();   // SIGTERM: finish what is in flight, close the rest
//   while (proxy.active_sessions() > 0) ...
//
// Configuration that a reload may change (remap rules, the origin-side TLS context) is held as
// shared_ptrs: a session takes the current ones when a transaction starts and keeps them to its
// end, so a reload never changes a request in flight.

#ifndef TOLLGATE_PROXY_HTTP_HTTP_PROXY_H_
#define TOLLGATE_PROXY_HTTP_HTTP_PROXY_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "iocore/eventsystem/clock.h"
#include "iocore/eventsystem/continuation.h"
#include "iocore/eventsystem/mutex.h"
#include "iocore/eventsystem/stats.h"
#include "iocore/net/net_processor.h"
#include "iocore/tls/ssl_net_vconnection.h"
#include "proxy/config/remap.h"
#include "proxy/http/origin_pool.h"

namespace tollgate {

class HostResolver;

enum class HttpScheme : uint8_t {
  kHttp,
  kHttps,
};

// HttpSchemeName returns "http" or "https".
const char* HttpSchemeName(HttpScheme scheme);

// Timeouts and bounds of the HTTP sessions, from the records.
struct HttpProxySettings {
  // proxy.config.http.keep_alive_no_activity_timeout_in: idle time between client requests.
  Nanoseconds keep_alive_in = std::chrono::seconds(120);
  // proxy.config.http.transaction_no_activity_timeout_in: client silence within a transaction.
  Nanoseconds transaction_in = std::chrono::seconds(30);
  // proxy.config.http.transaction_no_activity_timeout_out: origin silence within a transaction
  // (504 before the response head).
  Nanoseconds transaction_out = std::chrono::seconds(30);
  // proxy.config.http.connect_attempts_timeout: bound on opening an origin connection.
  Nanoseconds connect_timeout = std::chrono::seconds(30);
  // Idle origin connections (proxy.config.http.keep_alive_no_activity_timeout_out) and their
  // bound per origin per thread.
  OriginPoolSettings pool;
  // The name put in Via headers.
  std::string via_name = "tollgate";
};

// Process-wide HTTP counters (proxy.process.http.*).
struct HttpStats {
  StatId client_sessions_total;
  StatId client_sessions_active;  // gauge
  StatId requests_total;
  StatId responses_2xx;
  StatId responses_3xx;
  StatId responses_4xx;
  StatId responses_5xx;
  StatId errors_400;  // requests rejected by the parser (400, 414, 431, 505)
  StatId errors_404;  // no remap rule
  StatId errors_502;  // origin unreachable, reset or bad response
  StatId errors_504;  // origin timeout
  StatId aborted;  // transactions cut short after the response head
  StatId client_bytes_in;  // request bytes from clients (heads and bodies)
  StatId client_bytes_out;  // response bytes to clients
  StatId origin_connections_opened;
  StatId origin_connect_failures;
  StatId keep_alive_reuses;  // requests after the first on a client connection

  static const HttpStats& Get();
};

// One access-log line's worth of facts about a finished transaction.
struct AccessLogEntry {
  int64_t start_unix_ms = 0;
  std::string client;  // address without port
  std::string method;
  std::string url;  // scheme://host/path as the client asked for it
  int status = 0;  // 0: no response was sent (aborted)
  int64_t bytes_in = 0;  // from the client: head and body
  int64_t bytes_out = 0;  // to the client: head and body
  std::string origin;  // "ip:port", or "-"
  int64_t duration_us = 0;
  std::string tls_version;  // "-" on plain connections
  std::string cipher;
  std::string sni;
  bool resumed = false;
  bool origin_reused = false;
};

// FormatAccessLogLine returns the line for |entry| (no newline):
//   TIME CLIENT METHOD URL STATUS BYTES_IN BYTES_OUT ORIGIN DURATION_MS TLS CIPHER SNI RESUMED
// e.g. "1764230400.123 127.0.0.1 GET https://localhost:8443/ 200 78 412 127.0.0.1:39121 0.412
// TLSv1.3 TLS_AES_128_GCM_SHA256 localhost 0"; "-" for what does not apply.
std::string FormatAccessLogLine(const AccessLogEntry& entry);

class HttpProxy {
 public:
  using AccessLogSink = std::function<void(const AccessLogEntry&)>;

  // |net| and |resolver| outlive the proxy. |access_log| may be empty (no log).
  HttpProxy(NetProcessor* net, HostResolver* resolver, HttpProxySettings settings,
            AccessLogSink access_log);
  ~HttpProxy();
  HttpProxy(const HttpProxy&) = delete;
  HttpProxy& operator=(const HttpProxy&) = delete;

  // acceptor returns the continuation that starts a session for each NET_EVENT_ACCEPT:
  // plain connections for kHttp, established TLS connections for kHttps.
  Continuation* acceptor(HttpScheme scheme);

  // SetRemap installs new remap rules for transactions that start from now on. Any thread.
  void SetRemap(std::shared_ptr<const RemapConfig> remap);
  std::shared_ptr<const RemapConfig> remap() const;
  // SetOriginTls installs the TLS context for https origins. Any thread.
  void SetOriginTls(std::shared_ptr<TlsClientContext> tls);
  std::shared_ptr<TlsClientContext> origin_tls() const;

  // BeginDrain makes sessions close after the transaction in flight ("Connection: close" on
  // its response); a connection that has not sent its first request yet is answered once, then
  // closed. Any thread.
  void BeginDrain() { draining_.store(true, std::memory_order_release); }
  bool draining() const { return draining_.load(std::memory_order_acquire); }
  // active_sessions returns the client sessions open now.
  int64_t active_sessions() const { return active_sessions_.load(std::memory_order_acquire); }

  NetProcessor* net() const { return net_; }
  HostResolver* resolver() const { return resolver_; }
  const HttpProxySettings& settings() const { return settings_; }
  void Log(const AccessLogEntry& entry) const {
    if (access_log_) access_log_(entry);
  }
  bool logging() const { return static_cast<bool>(access_log_); }

  // For sessions.
  void SessionOpened();
  void SessionClosed();

 private:
  class Acceptor;

  NetProcessor* const net_;
  HostResolver* const resolver_;
  const HttpProxySettings settings_;
  const AccessLogSink access_log_;
  std::unique_ptr<Acceptor> http_acceptor_;
  std::unique_ptr<Acceptor> https_acceptor_;
  mutable Mutex mu_;
  std::shared_ptr<const RemapConfig> remap_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> remap_generation_;
  std::shared_ptr<TlsClientContext> origin_tls_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> active_sessions_{0};
};

}  // namespace tollgate

#endif  // TOLLGATE_PROXY_HTTP_HTTP_PROXY_H_
