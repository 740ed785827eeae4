// HttpSession: one client connection of the reverse proxy, from accept to close.
//
// A session answers the requests of one connection in order, one transaction at a time:
//
//   read head -> remap -> resolve origin -> origin connection (pool or new) -> send head and
//   stream the request body -> read the response head -> stream the response body -> log ->
//   next request (keep-alive, pipelined bytes already buffered included) or close.
//
// Bodies move by reference between buffers (BodyForwarder); each direction holds at most
// kMaxPendingBytes queued for the slower side, and the net layer stops reading the faster side
// above its buffer's water mark, so memory per session is bounded whatever the body size.
//
// Errors answer the client when no response head was sent yet: 400 (or 414 / 431 / 505) for a
// request the parser rejects, 403 when sni.yaml's host_sni_policy is ENFORCED and Host is
// not the TLS server name, 404 when no remap rule matches, 501 for CONNECT, 502 when the
// origin cannot be reached or resets (or sends garbage) before a response head, 504 when it
// stays silent past transaction_no_activity_timeout_out or the connect timeout. After the head,
// a failure can only cut the response short: the client connection is closed.
//
// A request on a reused origin connection that the origin closes before answering is retried
// once on a new connection when it has no body (the origin may have closed the idle
// connection just as the request went out).
//
// Threads: the session runs on its client connection's net thread, under its own mutex; its
// origin connections are opened on the same thread, and pooled per thread (OriginPool).

#ifndef TOLLGATE_PROXY_HTTP_HTTP_SESSION_H_
#define TOLLGATE_PROXY_HTTP_HTTP_SESSION_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "iocore/eventsystem/io_buffer.h"
#include "iocore/eventsystem/thread_live_set.h"
#include "iocore/net/net_vconnection.h"
#include "iocore/tls/ssl_net_vconnection.h"
#include "proxy/http/body_forwarder.h"
#include "proxy/http/http_parser.h"
#include "proxy/http/http_proxy.h"
#include "proxy/resolver.h"

namespace tollgate {

class HttpSession final : public Continuation {
 public:
  // The most bytes queued towards one side before the other side is read no further.
  static constexpr int64_t kMaxPendingBytes = 256 * 1024;

  HttpSession(HttpProxy* proxy, NetVConnection* client, HttpScheme scheme);
  ~HttpSession() override;

  // Start begins reading requests. Call once, on the connection's thread.
  void Start();

  void HandleEvent(EventCode code, void* data) override;

 private:
  enum class State : uint8_t {
    kReadRequest,  // waiting for (the rest of) a request head
    kResolving,  // origin name lookup in flight
    kConnecting,  // origin connection being opened
    kOrigin,  // request going out, response coming in
    kFlushThenClose,  // last bytes to the client, then close
  };

  void OnClientEvent(EventCode code);
  void OnOriginEvent(EventCode code);

  void WaitForRequest();
  void ParseRequest();
  void StartTransaction();
  void ContinueToOrigin();
  void ConnectToOrigin();
  void OnOriginOpen(NetVConnection* vc);
  void OnOriginOpenFailed(int err);
  void BeginOriginIo();
  void PumpRequestBody();
  void ParseResponse();
  void StartResponse();
  void PumpResponseBody();
  void OriginResponseDone();
  void OriginFailed(int status, const std::string& why);
  void FinishTransaction();

  // SendError answers |status| with a short text body and closes the connection afterwards when
  // |close| (or when the request's body was not read).
  void SendError(int status, absl::string_view reason, const std::string& detail, bool close);
  void CloseAfterFlush();
  void CloseOrigin();
  // Teardown closes everything; the session is deleted now, or when an outstanding callback
  // (resolve, connect) arrives.
  void Teardown();
  bool RequestBodyFullyRead() const;
  // HostMatchesSniPolicy applies sni.yaml's host_sni_policy of the connection's name: with
  // ENFORCED, a Host (port aside) other than the SNI is answered 403 (false is returned);
  // PERMISSIVE logs a warning.
  bool HostMatchesSniPolicy();
  void CountStatus(int status);

  friend class ThreadLiveSet<HttpSession>;
  // EndForThreadExit frees the session when its thread stops with it still open.
  void EndForThreadExit() { delete this; }

  HttpProxy* const proxy_;
  ThreadLiveSet<HttpSession>* live_ = nullptr;  // the sessions of this one's thread
  NetVConnection* client_;
  const HttpScheme scheme_;
  State state_ = State::kReadRequest;
  bool closing_ = false;  // Teardown ran; waiting for an outstanding callback
  bool awaiting_callback_ = false;  // a resolve or connect will call back

  // Client side.
  MIOBuffer in_;
  IOBufferReader* in_reader_ = nullptr;
  MIOBuffer out_;
  IOBufferReader* out_reader_ = nullptr;
  VIO* client_read_ = nullptr;
  VIO* client_write_ = nullptr;
  bool client_eos_ = false;
  int64_t requests_ = 0;

  // TLS facts for the access log, taken once.
  std::string tls_version_ = "-";
  std::string cipher_ = "-";
  std::string sni_ = "-";
  bool resumed_ = false;
  std::string client_addr_;
  SSLNetVConnection* tls_client_ = nullptr;  // client_ when it is TLS

  // The request head being read.
  HttpRequestParser request_parser_;
  bool client_keep_alive_ = false;
  bool client_http10_ = false;
  bool client_close_after_ = false;

  // Transaction: everything one request and its origin exchange need, allocated when the
  // request's first byte arrives and freed when its response is done, so that an idle
  // keep-alive connection holds none of it.
  struct Transaction {
    Transaction();

    HttpRequest request;
    bool sent_100_continue = false;
    std::shared_ptr<const RemapConfig> remap;
    std::optional<RemapMatch> match;
    std::string origin_key;
    std::string origin_head;
    BodyForwarder request_body;
    AccessLogEntry log;
    int64_t start_ns = 0;
    ResolveResult resolved;
    ResolveAction resolve_action;
    IpEndpoint origin_addr;
    bool retried = false;

    // Origin side.
    NetVConnection* origin = nullptr;
    bool origin_reused = false;
    MIOBuffer origin_in;
    IOBufferReader* origin_in_reader = nullptr;
    MIOBuffer origin_out;
    IOBufferReader* origin_out_reader = nullptr;
    VIO* origin_read = nullptr;
    VIO* origin_write = nullptr;
    bool origin_eos = false;
    bool origin_bytes_seen = false;
    std::optional<HttpResponseParser> response_parser;
    HttpResponse response;
    bool response_started = false;
    BodyForwarder response_body;
  };
  std::unique_ptr<Transaction> txn_;
};

}  // namespace tollgate

#endif  // TOLLGATE_PROXY_HTTP_HTTP_SESSION_H_
