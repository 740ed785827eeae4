#include "proxy/http/http_session.h"

#include <openssl/ssl.h>

#include <cstring>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "iocore/eventsystem/diags.h"
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

absl::string_view StatusReason(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

const char* TlsVersionName(SSL* ssl) { return ssl != nullptr ? SSL_get_version(ssl) : "-"; }

}  // namespace

HttpSession::HttpSession(HttpProxy* proxy, NetVConnection* client, HttpScheme scheme)
    : Continuation(NewProxyMutex()),
      proxy_(proxy),
      client_(client),
      scheme_(scheme),
      out_(kHeadSizeClass),
      origin_out_(kHeadSizeClass) {}

HttpSession::~HttpSession() = default;

void HttpSession::Start() {
  MutexLock lock(mutex().get());
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
  origin_in_.set_water_mark(kOriginReadWaterMark);
  origin_in_reader_ = origin_in_.AllocReader();
  origin_out_reader_ = origin_out_.AllocReader();
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
      if (!resolved_.endpoint.ok()) {
        OriginFailed(502,
                     absl::StrCat("cannot resolve origin ", match_->origin_host, ": ",
                                  resolved_.endpoint.status().message()));
        return;
      }
      origin_addr_ = *resolved_.endpoint;
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
      if (vio != nullptr && origin_ != nullptr && (vio == origin_read_ || vio == origin_write_)) {
        OnOriginEvent(code, vio);
      } else {
        OnClientEvent(code, vio);
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

void HttpSession::OnClientEvent(EventCode code, VIO* vio) {
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
      if (state_ == State::kOrigin && response_started_) PumpResponseBody();
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
        if (proxy_->logging()) log_.status = 0;
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
    default:
      (void)vio;
      return;
  }
}

void HttpSession::WaitForRequest() {
  state_ = State::kReadRequest;
  request_parser_.Reset();
  if (in_reader_->ReadAvail() > 0) {
    ParseRequest();
    return;
  }
  if (client_eos_ || proxy_->draining()) {
    CloseAfterFlush();
    return;
  }
  // Idle until a byte arrives: the first connection to go when the connection limit is
  // reached, and closed at once by a drain.
  client_->SetKeepAliveIdle(true);
  client_->SetInactivityTimeout(requests_ > 0 ? proxy_->settings().keep_alive_in
                                              : proxy_->settings().transaction_in);
  client_read_->Reenable();
}

void HttpSession::ParseRequest() {
  if (in_reader_->ReadAvail() == 0) return;
  client_->SetKeepAliveIdle(false);
  client_->SetInactivityTimeout(proxy_->settings().transaction_in);
  if (log_.bytes_in == 0) start_ns_ = NowNs();
  ParseResult result;
  while (in_reader_->ReadAvail() > 0) {
    size_t consumed = 0;
    in_reader_->ForEachBlock([&](absl::string_view block) {
      result = request_parser_.Parse(block, &consumed);
      return false;
    });
    in_reader_->Consume(static_cast<int64_t>(consumed));
    log_.bytes_in += static_cast<int64_t>(consumed);
    if (result.status != ParseStatus::kNeedMore) break;
  }
  client_read_->Reenable();
  if (result.status == ParseStatus::kNeedMore) return;
  if (result.status == ParseStatus::kError) {
    GlobalStats().Increment(HttpStats::Get().errors_400);
    log_.method = "-";
    log_.url = "-";
    const int status = HttpErrorStatusCode(result.error);
    SendError(status, StatusReason(status),
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
  absl::string_view host = request_.authority;
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
  SendError(403, StatusReason(403), detail, /*close=*/true);
  return false;
}

bool HttpSession::RequestBodyFullyRead() const {
  return state_ == State::kReadRequest || request_body_.done();
}

// ---- Transaction
// ---------------------------------------------------------------------------------

void HttpSession::StartTransaction() {
  const HttpStats& stats = HttpStats::Get();
  GlobalStats().Increment(stats.requests_total);
  if (requests_ > 0) GlobalStats().Increment(stats.keep_alive_reuses);
  ++requests_;
  request_ = std::move(request_parser_.mutable_request());
  client_http10_ = request_.version == HttpVersion::k1_0;
  client_keep_alive_ = request_.keep_alive && !proxy_->draining() && !client_eos_;
  sent_100_continue_ = false;
  response_started_ = false;
  client_close_after_ = false;
  retried_ = false;
  origin_reused_ = false;
  origin_eos_ = false;
  origin_bytes_seen_ = false;

  log_.start_unix_ms = absl::ToUnixMillis(absl::Now());
  log_.client = client_addr_;
  log_.method = request_.method;
  log_.url = absl::StrCat(HttpSchemeName(scheme_), "://",
                          request_.authority.empty() ? "-" : request_.authority, request_.path);
  log_.origin = "-";

  switch (request_.framing) {
    case BodyFraming::kContentLength:
      request_body_.Start(BodyForwarder::Mode::kLength, request_.content_length);
      break;
    case BodyFraming::kChunked:
      request_body_.Start(BodyForwarder::Mode::kChunkedRaw);
      break;
    case BodyFraming::kNone:
    case BodyFraming::kUntilClose:
      request_body_.Start(BodyForwarder::Mode::kNone);
      break;
  }

  if (request_.target_form == RequestTargetForm::kAuthority) {
    SendError(501, StatusReason(501), "CONNECT is not supported", /*close=*/true);
    return;
  }
  if (!HostMatchesSniPolicy()) return;
  remap_ = proxy_->remap();
  match_ = remap_ != nullptr
      ? remap_->Match(HttpSchemeName(scheme_), request_.authority, request_.path)
      : std::nullopt;
  if (!match_.has_value()) {
    GlobalStats().Increment(stats.errors_404);
    SendError(404, StatusReason(404), absl::StrCat("no remap rule for ", log_.url),
              /*close=*/false);
    return;
  }

  // The forwarded head.
  HttpHeaders& headers = request_.headers;
  RemoveHopByHop(&headers);
  if (request_.expects_100_continue) {
    headers.Remove("expect");
    if (!request_body_.done()) {
      out_.Write("HTTP/1.1 100 Continue\r\n\r\n");
      client_write_->Reenable();
      sent_100_continue_ = true;
    }
  }
  headers.Set("Host", match_->rule->to.Authority());
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
  origin_head_ = absl::StrCat(request_.method, " ", match_->path, " HTTP/1.1\r\n");
  headers.AppendTo(&origin_head_);
  origin_head_.append("\r\n");

  origin_key_ =
      absl::StrCat(match_->origin_scheme, "://", match_->origin_host, ":", match_->origin_port);
  // Waiting on the origin is not the client's silence.
  if (request_body_.done()) client_->CancelInactivityTimeout();
  ContinueToOrigin();
}

void HttpSession::ContinueToOrigin() {
  OriginPool* pool = OriginPool::ForCurrentThread(proxy_->settings().pool);
  if (!retried_ && pool != nullptr) {
    if (NetVConnection* vc = pool->Take(origin_key_)) {
      origin_ = vc;
      origin_reused_ = true;
      origin_addr_ = vc->remote_addr();
      BeginOriginIo();
      return;
    }
  }
  std::optional<IpEndpoint> addr = proxy_->resolver() != nullptr
      ? proxy_->resolver()->Cached(match_->origin_host, match_->origin_port)
      : HostResolver::Literal(match_->origin_host, match_->origin_port);
  if (addr.has_value()) {
    origin_addr_ = *addr;
    ConnectToOrigin();
    return;
  }
  if (proxy_->resolver() == nullptr) {
    OriginFailed(502, absl::StrCat("cannot resolve origin ", match_->origin_host));
    return;
  }
  state_ = State::kResolving;
  awaiting_callback_ = true;
  resolve_action_ = proxy_->resolver()->Resolve(match_->origin_host, match_->origin_port, this,
                                                client_->thread(), &resolved_);
}

void HttpSession::ConnectToOrigin() {
  state_ = State::kConnecting;
  awaiting_callback_ = true;
  GlobalStats().Increment(HttpStats::Get().origin_connections_opened);
  ConnectOptions options{.timeout = proxy_->settings().connect_timeout,
                         .thread = client_->thread()};
  if (match_->origin_scheme == "https") {
    std::shared_ptr<TlsClientContext> tls = proxy_->origin_tls();
    if (tls == nullptr) {
      awaiting_callback_ = false;
      OriginFailed(502, "no TLS context for https origins");
      return;
    }
    TlsConnect(*proxy_->net(), this, origin_addr_, match_->origin_host, std::move(tls), options);
  } else {
    proxy_->net()->Connect(this, origin_addr_, options);
  }
}

void HttpSession::OnOriginOpen(NetVConnection* vc) {
  if (closing_) {
    vc->DoIoClose();
    delete this;
    return;
  }
  origin_ = vc;
  BeginOriginIo();
}

void HttpSession::OnOriginOpenFailed(int err) {
  if (closing_) {
    delete this;
    return;
  }
  GlobalStats().Increment(HttpStats::Get().origin_connect_failures);
  if (err == ETIMEDOUT) {
    OriginFailed(504, absl::StrCat("connecting to origin ", origin_addr_.ToString(), " timed out"));
  } else {
    OriginFailed(502,
                 absl::StrCat("cannot connect to origin ", origin_addr_.ToString(), ": ",
                              err > 0 ? strerror(err) : "TLS handshake failed"));
  }
}

void HttpSession::BeginOriginIo() {
  state_ = State::kOrigin;
  log_.origin = origin_addr_.ToString();
  log_.origin_reused = origin_reused_;
  response_parser_.emplace(request_.method);
  origin_out_.Write(origin_head_);
  origin_read_ = origin_->DoIoRead(this, INT64_MAX, &origin_in_);
  origin_write_ = origin_->DoIoWrite(this, INT64_MAX, origin_out_reader_);
  origin_->SetInactivityTimeout(proxy_->settings().transaction_out);
  PumpRequestBody();
}

void HttpSession::PumpRequestBody() {
  if (origin_ == nullptr || request_body_.done()) return;
  bool moved = false;
  while (!request_body_.done()) {
    const int64_t room = kMaxPendingBytes - origin_out_reader_->ReadAvail();
    if (room <= 0 || in_reader_->ReadAvail() == 0) break;
    const uint64_t before = request_body_.forwarded();
    BodyForwarder::Step step = request_body_.Move(*in_reader_, &origin_out_, room);
    if (step.error != HttpError::kNone) {
      GlobalStats().Increment(HttpStats::Get().errors_400);
      if (!response_started_) {
        CloseOrigin();
        SendError(400, StatusReason(400),
                  absl::StrCat("bad request body: ", HttpErrorReason(step.error)), true);
      } else {
        Teardown();
      }
      return;
    }
    const uint64_t taken = request_body_.forwarded() - before;
    if (taken == 0) break;
    log_.bytes_in += static_cast<int64_t>(taken);
    moved = true;
  }
  if (moved) {
    origin_write_->Reenable();
    client_read_->Reenable();
  }
  if (request_body_.done() && !response_started_) client_->CancelInactivityTimeout();
}

// ---- Origin side
// ---------------------------------------------------------------------------------

void HttpSession::OnOriginEvent(EventCode code, VIO* vio) {
  switch (code) {
    case EventCode::kVcReadReady:
    case EventCode::kVcReadComplete:
      origin_bytes_seen_ = true;
      if (!response_started_) {
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
      origin_eos_ = true;
      if (!response_started_) {
        ParseResponse();  // what arrived before the close; fails the request if no head
      } else {
        PumpResponseBody();
      }
      return;
    case EventCode::kError:
      if (!response_started_) {
        OriginFailed(502,
                     absl::StrCat("origin ", origin_addr_.ToString(),
                                  " reset the connection before a response"));
      } else {
        GlobalStats().Increment(HttpStats::Get().aborted);
        Teardown();
      }
      return;
    case EventCode::kVcInactivityTimeout:
    case EventCode::kVcActiveTimeout:
      if (!response_started_) {
        OriginFailed(504,
                     absl::StrCat("origin ", origin_addr_.ToString(), " sent no response in time"));
      } else {
        GlobalStats().Increment(HttpStats::Get().aborted);
        Diag(DiagLevel::kWarning, "http",
             absl::StrCat("origin ", origin_addr_.ToString(), " stalled mid-response for ",
                          log_.url, "; closing"));
        Teardown();
      }
      return;
    default:
      (void)vio;
      return;
  }
}

void HttpSession::ParseResponse() {
  while (origin_in_reader_->ReadAvail() > 0) {
    ParseResult result;
    size_t consumed = 0;
    origin_in_reader_->ForEachBlock([&](absl::string_view block) {
      result = response_parser_->Parse(block, &consumed);
      return false;
    });
    origin_in_reader_->Consume(static_cast<int64_t>(consumed));
    if (result.status == ParseStatus::kNeedMore) continue;
    if (result.status == ParseStatus::kError) {
      OriginFailed(502,
                   absl::StrCat("bad response from origin ", origin_addr_.ToString(), ": ",
                                HttpErrorReason(result.error)));
      return;
    }
    const HttpResponse& head = response_parser_->response();
    if (head.is_interim()) {
      // 100 Continue was answered by the proxy already; other 1xx go to HTTP/1.1 clients.
      if (!(head.status_code == 100 && sent_100_continue_) && !client_http10_) {
        HttpResponse interim = head;
        RemoveHopByHop(&interim.headers);
        out_.Write(SerializeResponseHead(interim));
        client_write_->Reenable();
      }
      response_parser_->Reset(request_.method);
      continue;
    }
    if (head.status_code == 101) {
      OriginFailed(502, "origin switched protocols, which the proxy does not support");
      return;
    }
    response_ = response_parser_->mutable_response();
    StartResponse();
    return;
  }
  if (origin_eos_) {
    OriginFailed(502,
                 absl::StrCat("origin ", origin_addr_.ToString(),
                              " closed the connection before a response"));
    return;
  }
  origin_read_->Reenable();
}

void HttpSession::StartResponse() {
  response_started_ = true;
  client_->SetInactivityTimeout(proxy_->settings().transaction_in);
  client_close_after_ = !client_keep_alive_ || proxy_->draining() || client_eos_;
  BodyForwarder::Mode mode = BodyForwarder::Mode::kNone;
  switch (response_.framing) {
    case BodyFraming::kNone:
      break;
    case BodyFraming::kContentLength:
      mode = BodyForwarder::Mode::kLength;
      break;
    case BodyFraming::kChunked:
      if (client_http10_) {
        mode = BodyForwarder::Mode::kChunkedDecode;
        client_close_after_ = true;
        response_.headers.Remove("transfer-encoding");
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
  if (!request_body_.done()) client_close_after_ = true;
  response_body_.Start(mode, response_.content_length);

  HttpHeaders& headers = response_.headers;
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
  response_.version = HttpVersion::k1_1;
  std::string head = SerializeResponseHead(response_);
  log_.status = response_.status_code;
  log_.bytes_out += static_cast<int64_t>(head.size());
  CountStatus(response_.status_code);
  out_.Write(head);
  client_write_->Reenable();
  PumpResponseBody();
}

void HttpSession::PumpResponseBody() {
  if (origin_ == nullptr) return;
  bool moved = false;
  while (!response_body_.done()) {
    const int64_t room = kMaxPendingBytes - out_reader_->ReadAvail();
    if (room <= 0 || origin_in_reader_->ReadAvail() == 0) break;
    const uint64_t before = response_body_.forwarded();
    BodyForwarder::Step step = response_body_.Move(*origin_in_reader_, &out_, room);
    if (step.error != HttpError::kNone) {
      Diag(DiagLevel::kWarning, "http",
           absl::StrCat("bad chunked body from origin ", origin_addr_.ToString(), ": ",
                        HttpErrorReason(step.error)));
      GlobalStats().Increment(HttpStats::Get().aborted);
      Teardown();
      return;
    }
    log_.bytes_out += step.appended;
    if (response_body_.forwarded() == before) break;
    moved = true;
  }
  if (moved) client_write_->Reenable();
  if (!response_body_.done() && origin_eos_ && origin_in_reader_->ReadAvail() == 0) {
    if (!response_body_.FinishAtEof()) {
      Diag(DiagLevel::kWarning, "http",
           absl::StrCat("origin ", origin_addr_.ToString(), " closed mid-response for ", log_.url));
      GlobalStats().Increment(HttpStats::Get().aborted);
      CloseOrigin();
      CloseAfterFlush();
      return;
    }
  }
  if (response_body_.done()) {
    OriginResponseDone();
    return;
  }
  origin_read_->Reenable();
}

void HttpSession::OriginResponseDone() {
  const bool reusable = response_.keep_alive && !origin_eos_ &&
      response_body_.mode() != BodyForwarder::Mode::kUntilClose && request_body_.done() &&
      origin_out_reader_->ReadAvail() == 0 && origin_in_reader_->ReadAvail() == 0;
  OriginPool* pool = reusable ? OriginPool::ForCurrentThread(proxy_->settings().pool) : nullptr;
  if (pool != nullptr) {
    NetVConnection* vc = origin_;
    origin_ = nullptr;
    origin_read_ = origin_write_ = nullptr;
    pool->Release(origin_key_, vc);
  } else {
    CloseOrigin();
  }
  FinishTransaction();
}

void HttpSession::OriginFailed(int status, const std::string& why) {
  // A reused connection the origin had closed meanwhile: once more on a new one, if nothing
  // of the request is lost by it.
  if (origin_reused_ && !retried_ && !origin_bytes_seen_ &&
      request_body_.mode() == BodyForwarder::Mode::kNone && status == 502) {
    CloseOrigin();
    retried_ = true;
    origin_reused_ = false;
    origin_eos_ = false;
    origin_out_reader_->Consume(origin_out_reader_->ReadAvail());
    origin_in_reader_->Consume(origin_in_reader_->ReadAvail());
    ContinueToOrigin();
    return;
  }
  CloseOrigin();
  const HttpStats& stats = HttpStats::Get();
  GlobalStats().Increment(status == 504 ? stats.errors_504 : stats.errors_502);
  SendError(status, StatusReason(status), why, /*close=*/false);
}

void HttpSession::FinishTransaction() {
  log_.duration_us = (NowNs() - start_ns_) / 1000;
  log_.tls_version = tls_version_;
  log_.cipher = cipher_;
  log_.sni = sni_;
  log_.resumed = resumed_;
  proxy_->Log(log_);
  GlobalStats().Add(HttpStats::Get().client_bytes_in, log_.bytes_in);
  GlobalStats().Add(HttpStats::Get().client_bytes_out, log_.bytes_out);
  log_ = AccessLogEntry();
  match_.reset();
  remap_.reset();
  request_ = HttpRequest();
  response_ = HttpResponse();
  if (client_close_after_ || !request_body_.done() || client_eos_ || proxy_->draining()) {
    CloseAfterFlush();
    return;
  }
  WaitForRequest();
}

void HttpSession::SendError(int status, absl::string_view reason, const std::string& detail,
                            bool close) {
  Diag(status >= 500 ? DiagLevel::kWarning : DiagLevel::kNote, "http",
       absl::StrCat(status, " for ", client_addr_, " ", log_.method.empty() ? "-" : log_.method,
                    " ", log_.url.empty() ? "-" : log_.url, ": ", detail));
  // The request's body cannot be skipped once part of it may have gone to an origin, nor
  // before it was read: close after the answer.
  close = close || !request_body_.done() || !client_keep_alive_ || proxy_->draining();
  client_close_after_ = close;
  const std::string body = absl::StrCat(status, " ", reason, ": ", detail, "\n");
  std::string head =
      absl::StrCat("HTTP/1.1 ", status, " ", reason,
                   "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ", body.size(),
                   "\r\nVia: 1.1 ", proxy_->settings().via_name, "\r\n",
                   close ? "Connection: close\r\n" : "", "\r\n");
  log_.status = status;
  log_.bytes_out += static_cast<int64_t>(head.size());
  out_.Write(head);
  if (request_.method != "HEAD") {
    out_.Write(body);
    log_.bytes_out += static_cast<int64_t>(body.size());
  }
  CountStatus(status);
  client_write_->Reenable();
  response_started_ = true;
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
  if (origin_ == nullptr) return;
  origin_->DoIoClose();
  origin_ = nullptr;
  origin_read_ = origin_write_ = nullptr;
  origin_in_reader_->Consume(origin_in_reader_->ReadAvail());
  origin_out_reader_->Consume(origin_out_reader_->ReadAvail());
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
    resolve_action_.Cancel();  // no callback after this: the session can go now
    awaiting_callback_ = false;
  }
  CloseOrigin();
  client_->DoIoClose();
  client_ = nullptr;
  proxy_->SessionClosed();
  if (!awaiting_callback_) delete this;
}

}  // namespace tollgate
