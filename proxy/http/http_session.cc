#include "proxy/http/http_session.h"

#include <openssl/ssl.h>

#include <cstring>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "iocore/eventsystem/diags.h"
#include "iocore/net/net_handler.h"
#include "iocore/tls/ssl_net_vconnection.h"

namespace tollgate {
namespace {

constexpr int64_t kClientReadWaterMark = 64 * 1024;
constexpr int64_t kOriginReadWaterMark = 256 * 1024;
// Heads are small: a 4 KiB block class for the buffers that carry them.
constexpr int kHeadSizeClass = SizeClassFor(4 * 1024);

int64_t NowNs() { return MonotonicNowNs(); }

// RemoveHopByHop drops the fields that describe one connection, not the message (RFC 9110
// §7.6.1), including those named in Connection. Transfer-Encoding stays: bodies are forwarded
// with their framing.
void RemoveHopByHop(HttpHeaders* headers) {
  std::vector<std::string> named;
  for (const HttpHeaderField& field : headers->fields()) {
    if (!absl::EqualsIgnoreCase(field.name, "connection")) continue;
    for (absl::string_view token : absl::StrSplit(field.value, ',')) {
      token = absl::StripAsciiWhitespace(token);
      if (!token.empty()) named.emplace_back(token);
    }
  }
  for (const std::string& name : named) {
    if (!absl::EqualsIgnoreCase(name, "transfer-encoding") &&
        !absl::EqualsIgnoreCase(name, "content-length")) {
      headers->Remove(name);
    }
  }
  for (absl::string_view name : {"connection", "keep-alive", "proxy-connection", "te", "upgrade"}) {
    headers->Remove(name);
  }
}

const char* TlsVersionName(SSL* ssl) { return ssl != nullptr ? SSL_get_version(ssl) : "-"; }

}  // namespace

HttpSession::HttpSession(HttpProxy* proxy, NetVConnection* client, HttpScheme scheme)
    : Continuation(NewProxyMutex()),
      proxy_(proxy),
      client_(client),
      scheme_(scheme),
      out_(kHeadSizeClass) {}

HttpSession::~HttpSession() {
  if (live_ != nullptr) live_->Remove(this);
}

HttpSession::Transaction::Transaction() : origin_out(kHeadSizeClass) {
  origin_in.set_water_mark(kOriginReadWaterMark);
  origin_in_reader = origin_in.AllocReader();
  origin_out_reader = origin_out.AllocReader();
}

void HttpSession::Start() {
  // The session may end (and delete itself) inside Start: keep its mutex alive for the guard.
  Ptr<ProxyMutex> mutex = this->mutex();
  MutexLock lock(mutex.get());
  live_ = ThreadLiveSet<HttpSession>::ForCurrentThread();
  if (live_ != nullptr) live_->Add(this);
  proxy_->SessionOpened();
  client_addr_ = client_->remote_addr().AddressString();
  if (auto* tls = dynamic_cast<SSLNetVConnection*>(client_)) {
    tls_client_ = tls;
    SSL* ssl = tls->ssl();
    tls_version_ = TlsVersionName(ssl);
    if (ssl != nullptr) {
      if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl)) {
        cipher_ = SSL_CIPHER_get_name(cipher);
      }
    }
    if (!tls->sni().empty()) sni_ = tls->sni();
    resumed_ = tls->session_reused();
  }
  in_.set_water_mark(kClientReadWaterMark);
  in_reader_ = in_.AllocReader();
  out_reader_ = out_.AllocReader();
  client_read_ = client_->DoIoRead(this, INT64_MAX, &in_);
  client_write_ = client_->DoIoWrite(this, INT64_MAX, out_reader_);
  WaitForRequest();
}

void HttpSession::HandleEvent(EventCode code, void* data) {
  switch (code) {
    case EventCode::kImmediate:  // the resolver answered
      awaiting_callback_ = false;
      if (closing_) {
        delete this;
        return;
      }
      if (!txn_->resolved.endpoint.ok()) {
        OriginFailed(502,
                     absl::StrCat("cannot resolve origin ", txn_->match->origin_host, ": ",
                                  txn_->resolved.endpoint.status().message()));
        return;
      }
      txn_->origin_addr = *txn_->resolved.endpoint;
      ConnectToOrigin();
      return;
    case EventCode::kNetOpen:
      awaiting_callback_ = false;
      OnOriginOpen(static_cast<NetVConnection*>(data));
      return;
    case EventCode::kNetOpenFailed:
      awaiting_callback_ = false;
      OnOriginOpenFailed(-static_cast<int>(reinterpret_cast<intptr_t>(data)));
      return;
    case EventCode::kVcReadReady:
    case EventCode::kVcReadComplete:
    case EventCode::kVcWriteReady:
    case EventCode::kVcWriteComplete:
    case EventCode::kVcEos:
    case EventCode::kError:
    case EventCode::kVcInactivityTimeout:
    case EventCode::kVcActiveTimeout: {
      auto* vio = static_cast<VIO*>(data);
      if (vio != nullptr && txn_ != nullptr && txn_->origin != nullptr &&
          (vio == txn_->origin_read || vio == txn_->origin_write)) {
        OnOriginEvent(code);
      } else {
        OnClientEvent(code);
      }
      return;
    }
    case EventCode::kNone:
    case EventCode::kInterval:
    case EventCode::kContinue:
    case EventCode::kVconnStart:
    case EventCode::kVconnClose:
    case EventCode::kVconnOutboundStart:
    case EventCode::kVconnOutboundClose:
    case EventCode::kNetAccept:
    case EventCode::kNetAcceptFailed:
      return;
  }
}

// ---- Client side
// ---------------------------------------------------------------------------------

void HttpSession::OnClientEvent(EventCode code) {
  switch (code) {
    case EventCode::kVcReadReady:
    case EventCode::kVcReadComplete:
      if (state_ == State::kReadRequest) {
        ParseRequest();
      } else if (state_ == State::kOrigin) {
        PumpRequestBody();
      }
      return;
    case EventCode::kVcWriteReady:
      if (state_ == State::kOrigin && txn_->response_started) PumpResponseBody();
      return;
    case EventCode::kVcWriteComplete:
      if (state_ == State::kFlushThenClose) Teardown();
      return;
    case EventCode::kVcEos:
      client_eos_ = true;
      if (state_ == State::kReadRequest) {
        // A clean close between requests, or a half-sent head: nothing to answer either way.
        Teardown();
      } else if (state_ != State::kFlushThenClose && !RequestBodyFullyRead()) {
        GlobalStats().Increment(HttpStats::Get().aborted);
        Teardown();
      }
      // Otherwise the request is complete: answer it, then close (client_eos_).
      return;
    case EventCode::kError:
    case EventCode::kVcActiveTimeout:
      Teardown();
      return;
    case EventCode::kVcInactivityTimeout:
      if (state_ != State::kReadRequest && state_ != State::kFlushThenClose) {
        GlobalStats().Increment(HttpStats::Get().aborted);
        Diag(DiagLevel::kNote, "http",
             absl::StrCat("client ", client_addr_, " silent past its timeout; closing"));
      }
      Teardown();
      return;
    case EventCode::kNone:
    case EventCode::kImmediate:
    case EventCode::kInterval:
    case EventCode::kContinue:
    case EventCode::kVconnStart:
    case EventCode::kVconnClose:
    case EventCode::kVconnOutboundStart:
    case EventCode::kVconnOutboundClose:
    case EventCode::kNetOpen:
    case EventCode::kNetOpenFailed:
    case EventCode::kNetAccept:
    case EventCode::kNetAcceptFailed:
      return;  // not VIO events: HandleEvent routes none of them here
  }
}

void HttpSession::WaitForRequest() {
  state_ = State::kReadRequest;
  request_parser_.Reset();
  if (in_reader_->ReadAvail() > 0) {
    ParseRequest();
    return;
  }
  // While draining, a connection that was served closes; one accepted just before the listeners
  // closed gets its request answered (with "Connection: close"), within transaction_in.
  const bool draining = proxy_->draining();
  if (client_eos_ || (draining && requests_ > 0)) {
    CloseAfterFlush();
    return;
  }
  // Idle until a byte arrives: the first connection to go when the connection limit is
  // reached, and closed at once by a drain.
  if (!draining) client_->SetKeepAliveIdle(true);
  client_->SetInactivityTimeout(requests_ > 0 ? proxy_->settings().keep_alive_in
                                              : proxy_->settings().transaction_in);
  client_read_->Reenable();
}

void HttpSession::ParseRequest() {
  if (in_reader_->ReadAvail() == 0) return;
  client_->SetKeepAliveIdle(false);
  client_->SetInactivityTimeout(proxy_->settings().transaction_in);
  if (txn_ == nullptr) {
    txn_ = std::make_unique<Transaction>();
    txn_->start_ns = NowNs();
  }
  ParseResult result;
  while (in_reader_->ReadAvail() > 0) {
    size_t consumed = 0;
    in_reader_->ForEachBlock([&](absl::string_view block) {
      result = request_parser_.Parse(block, &consumed);
      return false;
    });
    in_reader_->Consume(static_cast<int64_t>(consumed));
    txn_->log.bytes_in += static_cast<int64_t>(consumed);
    if (result.status != ParseStatus::kNeedMore) break;
  }
  client_read_->Reenable();
  if (result.status == ParseStatus::kNeedMore) return;
  if (result.status == ParseStatus::kError) {
    GlobalStats().Increment(HttpStats::Get().errors_400);
    txn_->log.method = "-";
    txn_->log.url = "-";
    const int status = HttpErrorStatusCode(result.error);
    SendError(status, HttpReasonPhrase(status),
              absl::StrCat("bad request: ", HttpErrorReason(result.error)), /*close=*/true);
    return;
  }
  StartTransaction();
}

bool HttpSession::HostMatchesSniPolicy() {
  if (tls_client_ == nullptr || tls_client_->sni().empty()) return true;
  const SniPolicy* policy = tls_client_->sni_policy();
  if (policy == nullptr || !policy->host_sni_policy.has_value() ||
      *policy->host_sni_policy == SniPolicy::HostSniPolicy::kDisabled) {
    return true;
  }
  absl::string_view host = txn_->request.authority;
  if (absl::ConsumePrefix(&host, "[")) {
    host = host.substr(0, host.find(']'));
  } else {
    host = host.substr(0, host.rfind(':'));
  }
  if (absl::EqualsIgnoreCase(host, tls_client_->sni())) return true;
  const std::string detail =
      absl::StrCat("Host '", host, "' differs from the TLS server name '", tls_client_->sni(),
                   "' (sni.yaml line ", policy->line, ": host_sni_policy ",
                   HostSniPolicyName(*policy->host_sni_policy), ")");
  if (*policy->host_sni_policy == SniPolicy::HostSniPolicy::kPermissive) {
    Diag(DiagLevel::kWarning, "ssl", absl::StrCat(client_addr_, ": ", detail));
    return true;
  }
  SendError(403, HttpReasonPhrase(403), detail, /*close=*/true);
  return false;
}

bool HttpSession::RequestBodyFullyRead() const {
  return state_ == State::kReadRequest || txn_ == nullptr || txn_->request_body.done();
}

// ---- Transaction
// ---------------------------------------------------------------------------------

void HttpSession::StartTransaction() {
  const HttpStats& stats = HttpStats::Get();
  GlobalStats().Increment(stats.requests_total);
  if (requests_ > 0) GlobalStats().Increment(stats.keep_alive_reuses);
  ++requests_;
  txn_->request = std::move(request_parser_.mutable_request());
  client_http10_ = txn_->request.version == HttpVersion::k1_0;
  client_keep_alive_ = txn_->request.keep_alive && !proxy_->draining() && !client_eos_;
  txn_->sent_100_continue = false;
  txn_->response_started = false;
  client_close_after_ = false;
  txn_->retried = false;
  txn_->origin_reused = false;
  txn_->origin_eos = false;
  txn_->origin_bytes_seen = false;

  txn_->log.start_unix_ms = absl::ToUnixMillis(absl::Now());
  txn_->log.client = client_addr_;
  txn_->log.method = txn_->request.method;
  txn_->log.url = absl::StrCat(HttpSchemeName(scheme_), "://",
                               txn_->request.authority.empty() ? "-" : txn_->request.authority,
                               txn_->request.path);
  txn_->log.origin = "-";

  switch (txn_->request.framing) {
    case BodyFraming::kContentLength:
      txn_->request_body.Start(BodyForwarder::Mode::kLength, txn_->request.content_length);
      break;
    case BodyFraming::kChunked:
      txn_->request_body.Start(BodyForwarder::Mode::kChunkedRaw);
      break;
    case BodyFraming::kNone:
    case BodyFraming::kUntilClose:
      txn_->request_body.Start(BodyForwarder::Mode::kNone);
      break;
  }

  if (txn_->request.target_form == RequestTargetForm::kAuthority) {
    SendError(501, HttpReasonPhrase(501), "CONNECT is not supported", /*close=*/true);
    return;
  }
  if (!HostMatchesSniPolicy()) return;
  txn_->remap = proxy_->remap();
  txn_->match = txn_->remap != nullptr
      ? txn_->remap->Match(HttpSchemeName(scheme_), txn_->request.authority, txn_->request.path)
      : std::nullopt;
  if (!txn_->match.has_value()) {
    GlobalStats().Increment(stats.errors_404);
    SendError(404, HttpReasonPhrase(404), absl::StrCat("no remap rule for ", txn_->log.url),
              /*close=*/false);
    return;
  }

  // The forwarded head.
  HttpHeaders& headers = txn_->request.headers;
  RemoveHopByHop(&headers);
  if (txn_->request.expects_100_continue) {
    headers.Remove("expect");
    if (!txn_->request_body.done()) {
      out_.Write("HTTP/1.1 100 Continue\r\n\r\n");
      client_write_->Reenable();
      txn_->sent_100_continue = true;
    }
  }
  headers.Set("Host", txn_->match->rule->to.Authority());
  const std::string via = absl::StrCat("1.1 ", proxy_->settings().via_name);
  if (std::optional<absl::string_view> prior = headers.Get("via")) {
    headers.Set("Via", absl::StrCat(*prior, ", ", via));
  } else {
    headers.Add("Via", via);
  }
  if (std::optional<absl::string_view> prior = headers.Get("x-forwarded-for")) {
    headers.Set("X-Forwarded-For", absl::StrCat(*prior, ", ", client_addr_));
  } else {
    headers.Add("X-Forwarded-For", client_addr_);
  }
  headers.Set("X-Forwarded-Proto", HttpSchemeName(scheme_));
  txn_->origin_head = absl::StrCat(txn_->request.method, " ", txn_->match->path, " HTTP/1.1\r\n");
  headers.AppendTo(&txn_->origin_head);
  txn_->origin_head.append("\r\n");

  txn_->origin_key = absl::StrCat(txn_->match->origin_scheme, "://", txn_->match->origin_host, ":",
                                  txn_->match->origin_port);
  // Waiting on the origin is not the client's silence.
  if (txn_->request_body.done()) client_->CancelInactivityTimeout();
  ContinueToOrigin();
}

void HttpSession::ContinueToOrigin() {
  OriginPool* pool = OriginPool::ForCurrentThread(proxy_->settings().pool);
  if (!txn_->retried && pool != nullptr) {
    if (NetVConnection* vc = pool->Take(txn_->origin_key)) {
      txn_->origin = vc;
      txn_->origin_reused = true;
      txn_->origin_addr = vc->remote_addr();
      BeginOriginIo();
      return;
    }
  }
  std::optional<IpEndpoint> addr = proxy_->resolver() != nullptr
      ? proxy_->resolver()->Cached(txn_->match->origin_host, txn_->match->origin_port)
      : HostResolver::Literal(txn_->match->origin_host, txn_->match->origin_port);
  if (addr.has_value()) {
    txn_->origin_addr = *addr;
    ConnectToOrigin();
    return;
  }
  if (proxy_->resolver() == nullptr) {
    OriginFailed(502, absl::StrCat("cannot resolve origin ", txn_->match->origin_host));
    return;
  }
  state_ = State::kResolving;
  awaiting_callback_ = true;
  txn_->resolve_action = proxy_->resolver()->Resolve(
      txn_->match->origin_host, txn_->match->origin_port, this, client_->thread(), &txn_->resolved);
}

void HttpSession::ConnectToOrigin() {
  state_ = State::kConnecting;
  awaiting_callback_ = true;
  GlobalStats().Increment(HttpStats::Get().origin_connections_opened);
  ConnectOptions options{.timeout = proxy_->settings().connect_timeout,
                         .thread = client_->thread()};
  if (txn_->match->origin_scheme == "https") {
    std::shared_ptr<TlsClientContext> tls = proxy_->origin_tls();
    if (tls == nullptr) {
      awaiting_callback_ = false;
      OriginFailed(502, "no TLS context for https origins");
      return;
    }
    TlsConnect(*proxy_->net(), this, txn_->origin_addr, txn_->match->origin_host, std::move(tls),
               options);
  } else {
    proxy_->net()->Connect(this, txn_->origin_addr, options);
  }
}

void HttpSession::OnOriginOpen(NetVConnection* vc) {
  if (closing_) {
    vc->DoIoClose();
    delete this;
    return;
  }
  txn_->origin = vc;
  BeginOriginIo();
}

void HttpSession::OnOriginOpenFailed(int err) {
  if (closing_) {
    delete this;
    return;
  }
  GlobalStats().Increment(HttpStats::Get().origin_connect_failures);
  if (err == ETIMEDOUT) {
    OriginFailed(504,
                 absl::StrCat("connecting to origin ", txn_->origin_addr.ToString(), " timed out"));
  } else {
    OriginFailed(502,
                 absl::StrCat("cannot connect to origin ", txn_->origin_addr.ToString(), ": ",
                              err > 0 ? strerror(err) : "TLS handshake failed"));
  }
}

void HttpSession::BeginOriginIo() {
  state_ = State::kOrigin;
  txn_->log.origin = txn_->origin_addr.ToString();
  txn_->log.origin_reused = txn_->origin_reused;
  txn_->response_parser.emplace(txn_->request.method);
  txn_->origin_out.Write(txn_->origin_head);
  txn_->origin_read = txn_->origin->DoIoRead(this, INT64_MAX, &txn_->origin_in);
  txn_->origin_write = txn_->origin->DoIoWrite(this, INT64_MAX, txn_->origin_out_reader);
  txn_->origin->SetInactivityTimeout(proxy_->settings().transaction_out);
  PumpRequestBody();
}

void HttpSession::PumpRequestBody() {
  if (txn_->origin == nullptr || txn_->request_body.done()) return;
  bool moved = false;
  while (!txn_->request_body.done()) {
    const int64_t room = kMaxPendingBytes - txn_->origin_out_reader->ReadAvail();
    if (room <= 0 || in_reader_->ReadAvail() == 0) break;
    const uint64_t before = txn_->request_body.forwarded();
    BodyForwarder::Step step = txn_->request_body.Move(*in_reader_, &txn_->origin_out, room);
    if (step.error != HttpError::kNone) {
      GlobalStats().Increment(HttpStats::Get().errors_400);
      if (!txn_->response_started) {
        CloseOrigin();
        SendError(400, HttpReasonPhrase(400),
                  absl::StrCat("bad request body: ", HttpErrorReason(step.error)), true);
      } else {
        Teardown();
      }
      return;
    }
    const uint64_t taken = txn_->request_body.forwarded() - before;
    if (taken == 0) break;
    txn_->log.bytes_in += static_cast<int64_t>(taken);
    moved = true;
  }
  if (moved) {
    txn_->origin_write->Reenable();
    client_read_->Reenable();
  }
  if (txn_->request_body.done() && !txn_->response_started) client_->CancelInactivityTimeout();
}

// ---- Origin side
// ---------------------------------------------------------------------------------

void HttpSession::OnOriginEvent(EventCode code) {
  switch (code) {
    case EventCode::kVcReadReady:
    case EventCode::kVcReadComplete:
      txn_->origin_bytes_seen = true;
      if (!txn_->response_started) {
        ParseResponse();
      } else {
        PumpResponseBody();
      }
      return;
    case EventCode::kVcWriteReady:
    case EventCode::kVcWriteComplete:
      PumpRequestBody();
      return;
    case EventCode::kVcEos:
      txn_->origin_eos = true;
      if (!txn_->response_started) {
        ParseResponse();  // what arrived before the close; fails the request if no head
      } else {
        PumpResponseBody();
      }
      return;
    case EventCode::kError:
      if (!txn_->response_started) {
        OriginFailed(502,
                     absl::StrCat("origin ", txn_->origin_addr.ToString(),
                                  " reset the connection before a response"));
      } else {
        GlobalStats().Increment(HttpStats::Get().aborted);
        Teardown();
      }
      return;
    case EventCode::kVcInactivityTimeout:
    case EventCode::kVcActiveTimeout:
      if (!txn_->response_started) {
        OriginFailed(
            504,
            absl::StrCat("origin ", txn_->origin_addr.ToString(), " sent no response in time"));
      } else {
        GlobalStats().Increment(HttpStats::Get().aborted);
        Diag(DiagLevel::kWarning, "http",
             absl::StrCat("origin ", txn_->origin_addr.ToString(), " stalled mid-response for ",
                          txn_->log.url, "; closing"));
        Teardown();
      }
      return;
    case EventCode::kNone:
    case EventCode::kImmediate:
    case EventCode::kInterval:
    case EventCode::kContinue:
    case EventCode::kVconnStart:
    case EventCode::kVconnClose:
    case EventCode::kVconnOutboundStart:
    case EventCode::kVconnOutboundClose:
    case EventCode::kNetOpen:
    case EventCode::kNetOpenFailed:
    case EventCode::kNetAccept:
    case EventCode::kNetAcceptFailed:
      return;  // not VIO events: HandleEvent routes none of them here
  }
}

void HttpSession::ParseResponse() {
  while (txn_->origin_in_reader->ReadAvail() > 0) {
    ParseResult result;
    size_t consumed = 0;
    txn_->origin_in_reader->ForEachBlock([&](absl::string_view block) {
      result = txn_->response_parser->Parse(block, &consumed);
      return false;
    });
    txn_->origin_in_reader->Consume(static_cast<int64_t>(consumed));
    if (result.status == ParseStatus::kNeedMore) continue;
    if (result.status == ParseStatus::kError) {
      OriginFailed(502,
                   absl::StrCat("bad response from origin ", txn_->origin_addr.ToString(), ": ",
                                HttpErrorReason(result.error)));
      return;
    }
    const HttpResponse& head = txn_->response_parser->response();
    if (head.is_interim()) {
      // 100 Continue was answered by the proxy already; other 1xx go to HTTP/1.1 clients.
      if (!(head.status_code == 100 && txn_->sent_100_continue) && !client_http10_) {
        HttpResponse interim = head;
        RemoveHopByHop(&interim.headers);
        out_.Write(SerializeResponseHead(interim));
        client_write_->Reenable();
      }
      txn_->response_parser->Reset(txn_->request.method);
      continue;
    }
    if (head.status_code == 101) {
      OriginFailed(502, "origin switched protocols, which the proxy does not support");
      return;
    }
    txn_->response = txn_->response_parser->mutable_response();
    StartResponse();
    return;
  }
  if (txn_->origin_eos) {
    OriginFailed(502,
                 absl::StrCat("origin ", txn_->origin_addr.ToString(),
                              " closed the connection before a response"));
    return;
  }
  txn_->origin_read->Reenable();
}

void HttpSession::StartResponse() {
  txn_->response_started = true;
  client_->SetInactivityTimeout(proxy_->settings().transaction_in);
  client_close_after_ = !client_keep_alive_ || proxy_->draining() || client_eos_;
  BodyForwarder::Mode mode = BodyForwarder::Mode::kNone;
  switch (txn_->response.framing) {
    case BodyFraming::kNone:
      break;
    case BodyFraming::kContentLength:
      mode = BodyForwarder::Mode::kLength;
      break;
    case BodyFraming::kChunked:
      if (client_http10_) {
        mode = BodyForwarder::Mode::kChunkedDecode;
        client_close_after_ = true;
        txn_->response.headers.Remove("transfer-encoding");
      } else {
        mode = BodyForwarder::Mode::kChunkedRaw;
      }
      break;
    case BodyFraming::kUntilClose:
      mode = BodyForwarder::Mode::kUntilClose;
      client_close_after_ = true;
      break;
  }
  // A request body the client has not finished sending cannot be skipped safely.
  if (!txn_->request_body.done()) client_close_after_ = true;
  txn_->response_body.Start(mode, txn_->response.content_length);

  HttpHeaders& headers = txn_->response.headers;
  RemoveHopByHop(&headers);
  const std::string via = absl::StrCat("1.1 ", proxy_->settings().via_name);
  if (std::optional<absl::string_view> prior = headers.Get("via")) {
    headers.Set("Via", absl::StrCat(*prior, ", ", via));
  } else {
    headers.Add("Via", via);
  }
  if (client_close_after_) {
    headers.Add("Connection", "close");
  } else if (client_http10_) {
    headers.Add("Connection", "keep-alive");
  }
  txn_->response.version = HttpVersion::k1_1;
  std::string head = SerializeResponseHead(txn_->response);
  txn_->log.status = txn_->response.status_code;
  txn_->log.bytes_out += static_cast<int64_t>(head.size());
  CountStatus(txn_->response.status_code);
  out_.Write(head);
  client_write_->Reenable();
  PumpResponseBody();
}

void HttpSession::PumpResponseBody() {
  if (txn_->origin == nullptr) return;
  bool moved = false;
  while (!txn_->response_body.done()) {
    const int64_t room = kMaxPendingBytes - out_reader_->ReadAvail();
    if (room <= 0 || txn_->origin_in_reader->ReadAvail() == 0) break;
    const uint64_t before = txn_->response_body.forwarded();
    BodyForwarder::Step step = txn_->response_body.Move(*txn_->origin_in_reader, &out_, room);
    if (step.error != HttpError::kNone) {
      Diag(DiagLevel::kWarning, "http",
           absl::StrCat("bad chunked body from origin ", txn_->origin_addr.ToString(), ": ",
                        HttpErrorReason(step.error)));
      GlobalStats().Increment(HttpStats::Get().aborted);
      Teardown();
      return;
    }
    txn_->log.bytes_out += step.appended;
    if (txn_->response_body.forwarded() == before) break;
    moved = true;
  }
  if (moved) client_write_->Reenable();
  if (!txn_->response_body.done() && txn_->origin_eos && txn_->origin_in_reader->ReadAvail() == 0) {
    if (!txn_->response_body.FinishAtEof()) {
      Diag(DiagLevel::kWarning, "http",
           absl::StrCat("origin ", txn_->origin_addr.ToString(), " closed mid-response for ",
                        txn_->log.url));
      GlobalStats().Increment(HttpStats::Get().aborted);
      CloseOrigin();
      CloseAfterFlush();
      return;
    }
  }
  if (txn_->response_body.done()) {
    OriginResponseDone();
    return;
  }
  txn_->origin_read->Reenable();
}

void HttpSession::OriginResponseDone() {
  const bool reusable = txn_->response.keep_alive && !txn_->origin_eos &&
      txn_->response_body.mode() != BodyForwarder::Mode::kUntilClose && txn_->request_body.done() &&
      txn_->origin_out_reader->ReadAvail() == 0 && txn_->origin_in_reader->ReadAvail() == 0;
  OriginPool* pool = reusable ? OriginPool::ForCurrentThread(proxy_->settings().pool) : nullptr;
  if (pool != nullptr) {
    NetVConnection* vc = txn_->origin;
    txn_->origin = nullptr;
    txn_->origin_read = txn_->origin_write = nullptr;
    pool->Release(txn_->origin_key, vc);
  } else {
    CloseOrigin();
  }
  FinishTransaction();
}

void HttpSession::OriginFailed(int status, const std::string& why) {
  // A reused connection the origin had closed meanwhile: once more on a new one, if nothing
  // of the request is lost by it.
  if (txn_->origin_reused && !txn_->retried && !txn_->origin_bytes_seen &&
      txn_->request_body.mode() == BodyForwarder::Mode::kNone && status == 502) {
    CloseOrigin();
    txn_->retried = true;
    txn_->origin_reused = false;
    txn_->origin_eos = false;
    txn_->origin_out_reader->Consume(txn_->origin_out_reader->ReadAvail());
    txn_->origin_in_reader->Consume(txn_->origin_in_reader->ReadAvail());
    ContinueToOrigin();
    return;
  }
  CloseOrigin();
  const HttpStats& stats = HttpStats::Get();
  GlobalStats().Increment(status == 504 ? stats.errors_504 : stats.errors_502);
  SendError(status, HttpReasonPhrase(status), why, /*close=*/false);
}

void HttpSession::FinishTransaction() {
  txn_->log.duration_us = (NowNs() - txn_->start_ns) / 1000;
  txn_->log.tls_version = tls_version_;
  txn_->log.cipher = cipher_;
  txn_->log.sni = sni_;
  txn_->log.resumed = resumed_;
  proxy_->Log(txn_->log);
  GlobalStats().Add(HttpStats::Get().client_bytes_in, txn_->log.bytes_in);
  GlobalStats().Add(HttpStats::Get().client_bytes_out, txn_->log.bytes_out);
  const bool body_left = !txn_->request_body.done();
  CloseOrigin();
  txn_.reset();
  if (client_close_after_ || body_left || client_eos_ || proxy_->draining()) {
    CloseAfterFlush();
    return;
  }
  WaitForRequest();
}

void HttpSession::SendError(int status, absl::string_view reason, const std::string& detail,
                            bool close) {
  Diag(status >= 500 ? DiagLevel::kWarning : DiagLevel::kNote, "http",
       absl::StrCat(status, " for ", client_addr_, " ",
                    txn_->log.method.empty() ? "-" : txn_->log.method, " ",
                    txn_->log.url.empty() ? "-" : txn_->log.url, ": ", detail));
  // The request's body cannot be skipped once part of it may have gone to an origin, nor
  // before it was read: close after the answer.
  close = close || !txn_->request_body.done() || !client_keep_alive_ || proxy_->draining();
  client_close_after_ = close;
  const std::string body = absl::StrCat(status, " ", reason, ": ", detail, "\n");
  std::string head =
      absl::StrCat("HTTP/1.1 ", status, " ", reason,
                   "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ", body.size(),
                   "\r\nVia: 1.1 ", proxy_->settings().via_name, "\r\n",
                   close ? "Connection: close\r\n" : "", "\r\n");
  txn_->log.status = status;
  txn_->log.bytes_out += static_cast<int64_t>(head.size());
  out_.Write(head);
  if (txn_->request.method != "HEAD") {
    out_.Write(body);
    txn_->log.bytes_out += static_cast<int64_t>(body.size());
  }
  CountStatus(status);
  client_write_->Reenable();
  txn_->response_started = true;
  FinishTransaction();
}

void HttpSession::CountStatus(int status) {
  const HttpStats& stats = HttpStats::Get();
  if (status >= 500) {
    GlobalStats().Increment(stats.responses_5xx);
  } else if (status >= 400) {
    GlobalStats().Increment(stats.responses_4xx);
  } else if (status >= 300) {
    GlobalStats().Increment(stats.responses_3xx);
  } else if (status >= 200) {
    GlobalStats().Increment(stats.responses_2xx);
  }
}

// ---- Closing
// -------------------------------------------------------------------------------------

void HttpSession::CloseOrigin() {
  if (txn_ == nullptr || txn_->origin == nullptr) return;
  txn_->origin->DoIoClose();
  txn_->origin = nullptr;
  txn_->origin_read = txn_->origin_write = nullptr;
  txn_->origin_in_reader->Consume(txn_->origin_in_reader->ReadAvail());
  txn_->origin_out_reader->Consume(txn_->origin_out_reader->ReadAvail());
}

void HttpSession::CloseAfterFlush() {
  state_ = State::kFlushThenClose;
  CloseOrigin();
  client_->DoIoRead(nullptr, 0, nullptr);
  client_read_ = nullptr;
  const int64_t pending = out_reader_->ReadAvail();
  if (pending == 0) {
    Teardown();
    return;
  }
  client_->SetInactivityTimeout(proxy_->settings().transaction_in);
  client_write_->set_nbytes(client_write_->ndone() + pending);
  client_write_->Reenable();
}

void HttpSession::Teardown() {
  if (closing_) return;
  closing_ = true;
  if (state_ == State::kResolving && awaiting_callback_) {
    txn_->resolve_action.Cancel();  // no callback after this: the session can go now
    awaiting_callback_ = false;
  }
  CloseOrigin();
  client_->DoIoClose();
  client_ = nullptr;
  proxy_->SessionClosed();
  if (!awaiting_callback_) delete this;
}

}  // namespace tollgate
