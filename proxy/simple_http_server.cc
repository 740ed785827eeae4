#include "proxy/simple_http_server.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "iocore/eventsystem/continuation.h"
#include "iocore/eventsystem/io_buffer.h"
#include "iocore/eventsystem/proxy_mutex.h"
#include "iocore/eventsystem/vconnection.h"
#include "iocore/eventsystem/vio.h"
#include "iocore/net/net_vconnection.h"

namespace tollgate {
namespace {

constexpr absl::string_view k100Continue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr absl::string_view kLastChunk = "0\r\n\r\n";

// PatternRun returns a string of whole pattern periods, about 64 KiB, so that a pattern body is
// written in a few large copies whatever its phase.
absl::string_view PatternRun() {
  static const std::string* const run = [] {
    auto* text = new std::string;
    while (text->size() < 64 * 1024) text->append(kPatternPeriod.data(), kPatternPeriod.size());
    return text;
  }();
  return *run;
}

// WritePattern appends pattern bytes [offset, offset + n) to |out|.
void WritePattern(MIOBuffer* out, uint64_t offset, int64_t n) {
  absl::string_view run = PatternRun();
  while (n > 0) {
    size_t phase = offset % kPatternPeriod.size();
    int64_t len = std::min<int64_t>(n, static_cast<int64_t>(run.size() - phase));
    out->Write(run.data() + phase, len);
    offset += len;
    n -= len;
  }
}

// FirstBlock returns the first run of bytes |reader| has not consumed (empty when none).
absl::string_view FirstBlock(const IOBufferReader& reader) {
  absl::string_view first;
  reader.ForEachBlock([&first](absl::string_view block) {
    first = block;
    return false;
  });
  return first;
}

// HttpDate returns the current time as an IMF-fixdate (RFC 9110 §5.6.7).
std::string HttpDate() {
  return absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", absl::Now(), absl::UTCTimeZone());
}

}  // namespace

SimpleHttpResponse SimpleHttpResponse::Text(int status_code, absl::string_view content_type,
                                            std::string text) {
  SimpleHttpResponse response;
  response.status_code = status_code;
  if (!content_type.empty()) response.headers.Add("Content-Type", content_type);
  response.body = Body::kText;
  response.text = std::move(text);
  return response;
}

SimpleHttpResponse SimpleHttpResponse::Pattern(uint64_t length, absl::string_view content_type) {
  SimpleHttpResponse response;
  if (!content_type.empty()) response.headers.Add("Content-Type", content_type);
  response.body = Body::kPattern;
  response.pattern_length = length;
  return response;
}

SimpleHttpResponse SimpleHttpResponse::EchoRequestBody(absl::string_view content_type) {
  SimpleHttpResponse response;
  if (!content_type.empty()) response.headers.Add("Content-Type", content_type);
  response.body = Body::kEchoRequestBody;
  return response;
}

// --- Session -------------------------------------------------------------------------------------

// Session: one connection. Every event arrives under its own mutex on the connection's thread,
// and every state is driven by Run: one DoX per state, each returning what it waits for.
class SimpleHttpServer::Session final : public Continuation {
 public:
  Session(SimpleHttpServer* server, NetVConnection* vc)
      : Continuation(NewProxyMutex()), server_(server), vc_(vc), parser_(server->options_.limits) {}

  // Start begins reading and writing. Called once, on the accepting net thread.
  void Start();

  void HandleEvent(EventCode code, void* data) override;

 private:
  enum class State : uint8_t {
    kReadingHead,  // waiting for (the rest of) a request head
    kExchanging,  // a response body is produced and/or a request body is read
    kFlushing,  // the last response is queued: send it, then close
    kLingering,  // our side is shut: discard input until EOS or kLingerTimeout
    kClosed,  // DoIoClose done: the session is deleted when the event returns
  };

  enum class Wait : uint8_t {
    kNothing,  // the state moved on: run again
    kInput,  // request bytes
    kOutput,  // queued response bytes to drain (room for more body, or the flush)
  };

  // How the response is framed on the wire.
  enum class Framing : uint8_t {
    kNone,  // 204, 304: no body and no length
    kLength,
    kChunked,
  };

  // Where the request body goes.
  enum class Sink : uint8_t {
    kDiscard,
    kEcho,
  };

  void Run();
  Wait DoReadHead();
  Wait DoExchange();
  Wait DoFlush();
  Wait DoLinger();

  void StartExchange();
  void RejectRequest(HttpError error);
  void FinishExchange();
  // MoveRequestBody consumes the request body bytes at hand, into the response when echoing
  // (as far as output room allows). It returns false when the body is malformed or the input
  // ended before it did.
  bool MoveRequestBody();
  void ProducePattern();
  void QueueHead(int status_code, const HttpHeaders& fields, Framing framing, uint64_t length,
                 bool close, HttpVersion request_version);
  void UpdateKeepAliveIdle();
  void Close(int error);

  int64_t OutputRoom() const { return kMaxQueuedOutput - out_reader_->ReadAvail(); }
  bool RequestBodyDone() const { return body_framing_ == BodyFraming::kNone; }

  SimpleHttpServer* const server_;
  NetVConnection* vc_;  // null once closed
  State state_ = State::kReadingHead;
  MIOBuffer in_buf_;
  IOBufferReader* in_reader_ = nullptr;
  MIOBuffer out_buf_;
  IOBufferReader* out_reader_ = nullptr;
  VIO* read_vio_ = nullptr;
  VIO* write_vio_ = nullptr;
  bool input_eof_ = false;
  bool keep_alive_idle_ = false;
  int64_t exchanges_ = 0;  // responses completed on this connection

  HttpRequestParser parser_;
  std::string raw_head_;  // the bytes the parser took for the current head

  // The exchange in progress. The request body is done when body_framing_ is kNone.
  BodyFraming body_framing_ = BodyFraming::kNone;
  uint64_t body_left_ = 0;  // kContentLength
  ChunkedDecoder decoder_;  // kChunked
  Sink sink_ = Sink::kDiscard;
  bool echo_chunked_ = false;
  uint64_t pattern_left_ = 0;
  uint64_t pattern_offset_ = 0;
  bool close_after_ = false;
};

void SimpleHttpServer::Session::Start() {
  MutexLock lock(mutex().get());
  in_buf_.set_water_mark(kInputWaterMark);
  in_reader_ = in_buf_.AllocReader();
  out_reader_ = out_buf_.AllocReader();
  vc_->SetInactivityTimeout(server_->options_.inactivity_timeout);
  read_vio_ = vc_->DoIoRead(this, INT64_MAX, &in_buf_);
  write_vio_ = vc_->DoIoWrite(this, INT64_MAX, out_reader_);
}

void SimpleHttpServer::Session::HandleEvent(EventCode code, void*) {
  switch (code) {
    case EventCode::kVcReadReady:
    case EventCode::kVcReadComplete:
    case EventCode::kVcWriteReady:
    case EventCode::kVcWriteComplete:
      Run();
      break;
    case EventCode::kVcEos:
      input_eof_ = true;
      Run();
      break;
    case EventCode::kError:
      Close(-1);
      break;
    case EventCode::kVcInactivityTimeout:
    case EventCode::kVcActiveTimeout:
      Close(0);
      break;
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
      break;  // not sent to a server session
  }
  if (state_ == State::kClosed) {
    // Safe inside the connection's callback: after DoIoClose the connection touches nothing of
    // ours (it frees itself at the end of its NetHandler's pass), and the lock guard it holds
    // keeps its own reference to our mutex.
    server_->Forget(this);
    delete this;
  }
}

void SimpleHttpServer::Session::Run() {
  Wait wait = Wait::kNothing;
  while (wait == Wait::kNothing) {
    switch (state_) {
      case State::kReadingHead:
        wait = DoReadHead();
        break;
      case State::kExchanging:
        wait = DoExchange();
        break;
      case State::kFlushing:
        wait = DoFlush();
        break;
      case State::kLingering:
        wait = DoLinger();
        break;
      case State::kClosed:
        return;
    }
  }
  // Whatever the wait, the write side runs while response bytes are queued, and the read side
  // while the input buffer is under its water mark: the water mark, not the state, bounds what a
  // client (pipelining, or sending a body we are slow to echo) can make us hold.
  if (out_reader_->ReadAvail() > 0) write_vio_->Reenable();
  if (!input_eof_ && !in_buf_.HighWater()) read_vio_->Reenable();
  UpdateKeepAliveIdle();
}

SimpleHttpServer::Session::Wait SimpleHttpServer::Session::DoReadHead() {
  while (in_reader_->ReadAvail() > 0) {
    absl::string_view bytes = FirstBlock(*in_reader_);
    size_t consumed = 0;
    ParseResult result = parser_.Parse(bytes, &consumed);
    consumed = std::min(consumed, bytes.size());
    // Bounded: the parser fails a head longer than its limits.
    raw_head_.append(bytes.data(), consumed);
    in_reader_->Consume(static_cast<int64_t>(consumed));
    switch (result.status) {
      case ParseStatus::kNeedMore:
        break;
      case ParseStatus::kError:
        RejectRequest(result.error);
        return Wait::kNothing;
      case ParseStatus::kDone:
        StartExchange();
        return Wait::kNothing;
    }
  }
  if (input_eof_) {
    // No complete request left to answer: send what is queued, then close.
    state_ = State::kFlushing;
    return Wait::kNothing;
  }
  return Wait::kInput;
}

void SimpleHttpServer::Session::RejectRequest(HttpError error) {
  int status = HttpErrorStatusCode(error);
  std::string body = absl::StrCat(HttpReasonPhrase(status), ": ", HttpErrorReason(error), "\n");
  HttpHeaders fields;
  fields.Add("Content-Type", "text/plain; charset=utf-8");
  QueueHead(status, fields, Framing::kLength, body.size(), /*close=*/true, HttpVersion::k1_1);
  out_buf_.Write(body);
  close_after_ = true;
  state_ = State::kFlushing;
}

void SimpleHttpServer::Session::StartExchange() {
  const HttpRequest& request = parser_.request();
  // The head as received, without the empty lines the parser tolerates before it and the empty
  // line that ends it.
  absl::string_view raw = raw_head_;
  while (absl::StartsWith(raw, "\r\n")) raw.remove_prefix(2);
  if (absl::EndsWith(raw, "\r\n\r\n")) raw.remove_suffix(2);

  SimpleHttpResponse response = server_->handler_(request, raw);
  if (response.status_code < 200 || response.status_code > 599) {
    response = SimpleHttpResponse::Text(500, "text/plain; charset=utf-8",
                                        "the handler returned an invalid status code\n");
  }

  const bool request_chunked = request.framing == BodyFraming::kChunked;
  const bool has_body = request_chunked ||
      (request.framing == BodyFraming::kContentLength && request.content_length > 0);
  const bool bodiless_status = response.status_code == 204 || response.status_code == 304;
  const bool send_body = request.method != "HEAD" && !bodiless_status;
  close_after_ = !request.keep_alive || response.close;

  if (has_body && request.expects_100_continue) out_buf_.Write(k100Continue);

  Framing framing = Framing::kLength;
  uint64_t length = 0;
  switch (response.body) {
    case SimpleHttpResponse::Body::kText:
      length = response.text.size();
      break;
    case SimpleHttpResponse::Body::kPattern:
      length = response.pattern_length;
      break;
    case SimpleHttpResponse::Body::kEchoRequestBody:
      if (request_chunked) {
        framing = Framing::kChunked;
      } else {
        length = has_body ? request.content_length : 0;
      }
      break;
  }
  if (bodiless_status) framing = Framing::kNone;
  QueueHead(response.status_code, response.headers, framing, length, close_after_, request.version);

  sink_ = Sink::kDiscard;
  echo_chunked_ = false;
  pattern_left_ = 0;
  pattern_offset_ = 0;
  if (send_body) {
    switch (response.body) {
      case SimpleHttpResponse::Body::kText:
        out_buf_.Write(response.text);
        break;
      case SimpleHttpResponse::Body::kPattern:
        pattern_left_ = response.pattern_length;
        break;
      case SimpleHttpResponse::Body::kEchoRequestBody:
        sink_ = Sink::kEcho;
        echo_chunked_ = request_chunked;
        break;
    }
  }

  body_framing_ = has_body ? request.framing : BodyFraming::kNone;
  body_left_ = request.content_length;
  decoder_.Reset();
  state_ = State::kExchanging;
}

SimpleHttpServer::Session::Wait SimpleHttpServer::Session::DoExchange() {
  if (!MoveRequestBody()) {
    // A response is already under way and cannot become an error any more: send what is
    // queued and close, so the client sees a short body (or a chunked one with no last chunk).
    close_after_ = true;
    state_ = State::kFlushing;
    return Wait::kNothing;
  }
  ProducePattern();
  if (RequestBodyDone() && pattern_left_ == 0) {
    FinishExchange();
    return Wait::kNothing;
  }
  if (!RequestBodyDone() && (sink_ == Sink::kDiscard || OutputRoom() > 0)) return Wait::kInput;
  return Wait::kOutput;
}

bool SimpleHttpServer::Session::MoveRequestBody() {
  switch (body_framing_) {
    case BodyFraming::kNone:
    case BodyFraming::kUntilClose:  // never for a request
      body_framing_ = BodyFraming::kNone;
      return true;
    case BodyFraming::kContentLength: {
      int64_t n = static_cast<int64_t>(
          std::min<uint64_t>(body_left_, static_cast<uint64_t>(in_reader_->ReadAvail())));
      if (sink_ == Sink::kEcho) n = std::min(n, OutputRoom());
      if (n > 0) {
        if (sink_ == Sink::kEcho) out_buf_.AppendFrom(*in_reader_, n);  // by reference
        in_reader_->Consume(n);
        body_left_ -= static_cast<uint64_t>(n);
      }
      if (body_left_ == 0) body_framing_ = BodyFraming::kNone;
      break;
    }
    case BodyFraming::kChunked:
      while (in_reader_->ReadAvail() > 0 && (sink_ == Sink::kDiscard || OutputRoom() > 0)) {
        ChunkedDecoder::Result r = decoder_.Decode(FirstBlock(*in_reader_));
        if (sink_ == Sink::kEcho && !r.data.empty()) {
          out_buf_.Write(absl::StrCat(absl::Hex(r.data.size()), "\r\n"));
          out_buf_.Write(r.data);
          out_buf_.Write("\r\n");
        }
        in_reader_->Consume(static_cast<int64_t>(r.consumed));
        if (r.status == ParseStatus::kError) return false;
        if (r.status == ParseStatus::kDone) {
          if (sink_ == Sink::kEcho) out_buf_.Write(kLastChunk);
          body_framing_ = BodyFraming::kNone;
          break;
        }
        if (r.consumed == 0) break;  // the decoder wants more than this block: wait for it
      }
      break;
  }
  return RequestBodyDone() || !input_eof_ || in_reader_->ReadAvail() > 0;
}

void SimpleHttpServer::Session::ProducePattern() {
  int64_t n = static_cast<int64_t>(
      std::min<uint64_t>(pattern_left_, static_cast<uint64_t>(std::max<int64_t>(OutputRoom(), 0))));
  if (n <= 0) return;
  WritePattern(&out_buf_, pattern_offset_, n);
  pattern_offset_ += static_cast<uint64_t>(n);
  pattern_left_ -= static_cast<uint64_t>(n);
}

void SimpleHttpServer::Session::FinishExchange() {
  ++exchanges_;
  if (close_after_) {
    state_ = State::kFlushing;
    return;
  }
  parser_.Reset();
  raw_head_.clear();
  state_ = State::kReadingHead;
}

SimpleHttpServer::Session::Wait SimpleHttpServer::Session::DoFlush() {
  if (out_reader_->ReadAvail() > 0) return Wait::kOutput;
  if (input_eof_) {
    Close(0);
    return Wait::kNothing;
  }
  // Closing now, with request bytes unread, would make the kernel answer them with a reset
  // that can destroy the response in flight: send a FIN and drain for a while first.
  vc_->DoIoShutdown(ShutdownHow::kWrite);
  vc_->SetActiveTimeout(kLingerTimeout);
  state_ = State::kLingering;
  return Wait::kNothing;
}

SimpleHttpServer::Session::Wait SimpleHttpServer::Session::DoLinger() {
  in_reader_->Consume(in_reader_->ReadAvail());
  if (input_eof_) {
    Close(0);
    return Wait::kNothing;
  }
  return Wait::kInput;
}

void SimpleHttpServer::Session::QueueHead(int status_code, const HttpHeaders& fields,
                                          Framing framing, uint64_t length, bool close,
                                          HttpVersion request_version) {
  HttpResponse head;
  head.version = HttpVersion::k1_1;
  head.status_code = status_code;
  head.reason = std::string(HttpReasonPhrase(status_code));
  head.headers.Add("Date", HttpDate());
  if (!server_->options_.server_name.empty()) {
    head.headers.Add("Server", server_->options_.server_name);
  }
  for (const HttpHeaderField& field : fields.fields()) {
    if (absl::EqualsIgnoreCase(field.name, "content-length") ||
        absl::EqualsIgnoreCase(field.name, "transfer-encoding") ||
        absl::EqualsIgnoreCase(field.name, "connection")) {
      continue;
    }
    head.headers.Add(field.name, field.value);
  }
  switch (framing) {
    case Framing::kNone:
      break;
    case Framing::kLength:
      head.headers.Add("Content-Length", absl::StrCat(length));
      break;
    case Framing::kChunked:
      head.headers.Add("Transfer-Encoding", "chunked");
      break;
  }
  if (close) {
    head.headers.Add("Connection", "close");
  } else if (request_version == HttpVersion::k1_0) {
    head.headers.Add("Connection", "keep-alive");
  }
  out_buf_.Write(SerializeResponseHead(head));
}

void SimpleHttpServer::Session::UpdateKeepAliveIdle() {
  // Idle between requests, with nothing of the next one read and nothing left to send: the
  // net layer may then close the connection to make room or to drain.
  bool idle = state_ == State::kReadingHead && exchanges_ > 0 && raw_head_.empty() &&
      in_reader_->ReadAvail() == 0 && out_reader_->ReadAvail() == 0;
  if (idle == keep_alive_idle_) return;
  keep_alive_idle_ = idle;
  vc_->SetKeepAliveIdle(idle);
}

void SimpleHttpServer::Session::Close(int error) {
  if (state_ == State::kClosed) return;
  vc_->DoIoClose(error);
  vc_ = nullptr;
  read_vio_ = nullptr;
  write_vio_ = nullptr;
  state_ = State::kClosed;
}

// --- Acceptor and server -------------------------------------------------------------------------

// Acceptor: has no mutex, as NetProcessor::Accept wants; it only starts sessions.
class SimpleHttpServer::Acceptor final : public Continuation {
 public:
  explicit Acceptor(SimpleHttpServer* server) : server_(server) {}

  void HandleEvent(EventCode code, void* data) override {
    if (code != EventCode::kNetAccept || data == nullptr) return;
    server_->StartSession(static_cast<NetVConnection*>(data));
  }

 private:
  SimpleHttpServer* const server_;
};

SimpleHttpServer::SimpleHttpServer(SimpleHttpServerOptions options, Handler handler)
    : options_(std::move(options)),
      handler_(std::move(handler)),
      acceptor_(std::make_unique<Acceptor>(this)) {}

SimpleHttpServer::~SimpleHttpServer() {
  absl::flat_hash_set<Session*> left;
  {
    MutexGuard lock(&mu_);
    left.swap(sessions_);
  }
  for (Session* session : left) delete session;
}

absl::StatusOr<IpEndpoint> SimpleHttpServer::Listen(NetProcessor& net, const IpEndpoint& addr) {
  return net.Accept(acceptor_.get(), addr);
}

int64_t SimpleHttpServer::active_sessions() const {
  MutexGuard lock(&mu_);
  return static_cast<int64_t>(sessions_.size());
}

void SimpleHttpServer::StartSession(NetVConnection* vc) {
  auto* session = new Session(this, vc);
  {
    MutexGuard lock(&mu_);
    sessions_.insert(session);
  }
  session->Start();
}

void SimpleHttpServer::Forget(Session* session) {
  MutexGuard lock(&mu_);
  sessions_.erase(session);
}

}  // namespace tollgate
