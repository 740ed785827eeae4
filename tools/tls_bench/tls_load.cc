#include "tools/tls_bench/tls_load.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/tls_bench/raw_tls13_client.h"

namespace tollgate::tls_bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxEvents = 256;
constexpr int kPollMs = 20;  // epoll_wait timeout: how often deadlines are looked at
constexpr auto kDeadlineScanEvery = std::chrono::milliseconds(100);
// After the window ends nothing is waited for: in-flight connections are closed as they are.

enum class State : uint8_t {
  kFree,
  kConnecting,
  kHandshake,
  kWrite,
  kRead,
  kDrain,  // sent close_notify and FIN; waiting for the server's close
  kIdle,  // established and echoed, held open (kIdle mode)
  kBulk,
};

struct Conn {
  int fd = -1;
  State state = State::kFree;
  bssl::UniquePtr<SSL> ssl;  // LoadEngine::kSsl
  std::unique_ptr<RawTls13Client> raw;  // LoadEngine::kRaw
  bool shut_wr = false;  // kRaw: shutdown(SHUT_WR) done (after the close_notify was sent)
  Clock::time_point started;
  int64_t written = 0;
  int64_t read = 0;
};

// Step's verdict on a connection after driving it as far as it can go.
enum class Progress : uint8_t {
  kWaiting,  // blocked on the socket; an epoll edge will call Step again
  kFinished,  // the exchange is done and the slot is free
  kFailed,  // closed and counted as an error
};

class Loader {
 public:
  explicit Loader(const LoadOptions& options) : options_(options) {}
  ~Loader() {
    for (Conn& c : conns_) CloseConn(&c);
    if (epfd_ >= 0) close(epfd_);
  }

  absl::StatusOr<LoadResult> Run();

 private:
  absl::Status SetUpContext();
  bool StartConn(size_t slot);
  Progress Step(Conn* c);
  Progress StepRaw(Conn* c);
  Progress ReceiveRaw(Conn* c, size_t len);
  Progress Fail(Conn* c, const std::string& why);
  void CloseConn(Conn* c);
  void OnCompleted(Conn* c);
  void ScanDeadlines(Clock::time_point now);
  bool InWindow(Clock::time_point now) const { return now >= window_start_ && now < window_end_; }
  static int OnNewSession(SSL* ssl, SSL_SESSION* session);

  const LoadOptions& options_;
  bssl::UniquePtr<SSL_CTX> ctx_;  // kSsl
  RawClientConfig raw_config_;  // kRaw
  bssl::UniquePtr<SSL_SESSION> latest_session_;
  int epfd_ = -1;
  std::vector<Conn> conns_;
  std::vector<char> request_;
  std::vector<char> read_buf_ = std::vector<char>(64 * 1024);
  Clock::time_point window_start_;
  Clock::time_point window_end_;
  int64_t started_ = 0;
  bool starting_ = true;  // new connections may still be started
  size_t idle_next_ = 0;  // kIdle: next slot to open
  int in_handshake_ = 0;  // kIdle: connections opening now
  LoadResult result_;
};

int Loader::OnNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* self = static_cast<Loader*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  self->latest_session_.reset(session);  // takes the reference we are handed
  return 1;
}

absl::Status Loader::SetUpContext() {
  if (options_.engine == LoadEngine::kRaw) {
    absl::StatusOr<RawClientConfig> config = NewRawClientConfig(options_.sni, options_.rsa);
    if (!config.ok()) return config.status();
    raw_config_ = std::move(*config);
    return absl::OkStatus();
  }
  absl::StatusOr<bssl::UniquePtr<SSL_CTX>> ctx = NewClientContext(options_);
  if (!ctx.ok()) return ctx.status();
  ctx_ = std::move(*ctx);
  SSL_CTX_set_app_data(ctx_.get(), this);
  if (options_.mode == LoadMode::kResume) {
    SSL_CTX_set_session_cache_mode(ctx_.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx_.get(), &Loader::OnNewSession);
  }
  return absl::OkStatus();
}

bool Loader::StartConn(size_t slot) {
  Conn& c = conns_[slot];
  c = Conn{};
  c.started = Clock::now();
  c.state = State::kConnecting;  // so that a failure below is undone like any other
  ++started_;
  c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) {
    Fail(&c, absl::StrCat("socket: ", strerror(errno)));
    return false;
  }
  int one = 1;
  setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(options_.port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(c.fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0 && errno != EINPROGRESS) {
    Fail(&c, absl::StrCat("connect: ", strerror(errno)));
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP;
  ev.data.u64 = slot;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev) != 0) {
    Fail(&c, absl::StrCat("epoll_ctl: ", strerror(errno)));
    return false;
  }
  return true;
}

void Loader::CloseConn(Conn* c) {
  c->ssl.reset();
  c->raw.reset();
  if (c->fd >= 0) close(c->fd);  // also leaves the epoll set
  c->fd = -1;
  c->state = State::kFree;
}

Progress Loader::Fail(Conn* c, const std::string& why) {
  ++result_.errors;
  if (result_.first_error.empty()) result_.first_error = why;
  if (options_.mode == LoadMode::kIdle && c->state != State::kIdle && c->state != State::kFree) {
    --in_handshake_;
  }
  CloseConn(c);
  ERR_clear_error();
  return Progress::kFailed;
}

void Loader::OnCompleted(Conn* c) {
  if (!InWindow(Clock::now())) return;
  ++result_.completed;
  result_.bytes += c->read;
  if (c->ssl != nullptr && SSL_session_reused(c->ssl.get())) ++result_.resumed;
}

// SslFailure describes a failed SSL call for the result's first_error.
// ConnectError returns the outcome of a non-blocking connect on |fd| once it is writable: 0 or
// the errno.
int ConnectError(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

std::string SslFailure(const char* call, SSL* ssl, int ret) {
  int err = SSL_get_error(ssl, ret);
  char buf[160];
  ERR_error_string_n(ERR_peek_error(), buf, sizeof(buf));
  return absl::StrFormat("%s: SSL_get_error=%d errno=%d %s", call, err, errno,
                         ERR_peek_error() != 0 ? buf : "");
}

Progress Loader::Step(Conn* c) {
  // Bounded: every pass either changes state, moves bytes, or returns.
  for (int pass = 0; pass < 1'000'000; ++pass) {
    switch (c->state) {
      case State::kFree:
        return Progress::kFinished;
      case State::kConnecting: {
        if (int err = ConnectError(c->fd); err != 0) {
          return Fail(c, absl::StrCat("connect: ", strerror(err)));
        }
        c->ssl.reset(SSL_new(ctx_.get()));
        if (c->ssl == nullptr || !SSL_set_fd(c->ssl.get(), c->fd)) return Fail(c, "SSL_new");
        SSL_set_connect_state(c->ssl.get());
        if (!options_.sni.empty()) SSL_set_tlsext_host_name(c->ssl.get(), options_.sni.c_str());
        if (options_.mode == LoadMode::kResume && latest_session_ != nullptr) {
          SSL_set_session(c->ssl.get(), latest_session_.get());
        }
        c->state = State::kHandshake;
        continue;
      }
      case State::kHandshake: {
        int r = SSL_do_handshake(c->ssl.get());
        if (r == 1) {
          c->state = options_.mode == LoadMode::kBulk ? State::kBulk : State::kWrite;
          continue;
        }
        int e = SSL_get_error(c->ssl.get(), r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return Progress::kWaiting;
        return Fail(c, SslFailure("SSL_do_handshake", c->ssl.get(), r));
      }
      case State::kWrite: {
        int r = SSL_write(c->ssl.get(), request_.data() + c->written,
                          static_cast<int>(request_.size() - c->written));
        if (r > 0) {
          c->written += r;
          if (c->written == static_cast<int64_t>(request_.size())) c->state = State::kRead;
          continue;
        }
        int e = SSL_get_error(c->ssl.get(), r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return Progress::kWaiting;
        return Fail(c, SslFailure("SSL_write", c->ssl.get(), r));
      }
      case State::kRead: {
        // Session tickets, when the server sends them, are read (and handed to OnNewSession)
        // on the way to the echoed bytes.
        int r = SSL_read(c->ssl.get(), read_buf_.data(), static_cast<int>(read_buf_.size()));
        if (r > 0) {
          c->read += r;
          if (c->read < options_.request_bytes) continue;
          OnCompleted(c);
          if (options_.mode == LoadMode::kIdle) {
            c->state = State::kIdle;
            --in_handshake_;
            ++result_.established;
            return Progress::kWaiting;
          }
          SSL_shutdown(c->ssl.get());  // queues and sends close_notify; does not wait
          shutdown(c->fd, SHUT_WR);
          c->state = State::kDrain;
          continue;
        }
        int e = SSL_get_error(c->ssl.get(), r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return Progress::kWaiting;
        return Fail(c, SslFailure("SSL_read", c->ssl.get(), r));
      }
      case State::kDrain: {
        // The server's close_notify and FIN; nothing in them is needed, so read raw.
        ssize_t r = read(c->fd, read_buf_.data(), read_buf_.size());
        if (r > 0) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Progress::kWaiting;
        CloseConn(c);  // EOF, or a reset after our FIN: the exchange is over either way
        return Progress::kFinished;
      }
      case State::kIdle: {
        return Progress::kWaiting;
      }
      case State::kBulk: {
        bool moved = false;
        if (c->written - c->read < options_.bulk_in_flight) {
          int r = SSL_write(c->ssl.get(), request_.data(), static_cast<int>(request_.size()));
          if (r > 0) {
            c->written += r;
            moved = true;
          } else {
            int e = SSL_get_error(c->ssl.get(), r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
              return Fail(c, SslFailure("SSL_write", c->ssl.get(), r));
            }
          }
        }
        int r = SSL_read(c->ssl.get(), read_buf_.data(), static_cast<int>(read_buf_.size()));
        if (r > 0) {
          c->read += r;
          if (InWindow(Clock::now())) result_.bytes += r;
          moved = true;
        } else {
          int e = SSL_get_error(c->ssl.get(), r);
          if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            return Fail(c, SslFailure("SSL_read", c->ssl.get(), r));
          }
        }
        if (!moved) return Progress::kWaiting;
        if (Clock::now() >= window_end_) return Progress::kWaiting;
        continue;
      }
    }
  }
  return Progress::kWaiting;
}

// StepRaw drives a LoadEngine::kRaw connection: kConnecting -> kHandshake (ClientHello queued,
// until the engine is connected) -> kRead (request queued, until it is echoed back) -> kDrain
// (close_notify queued; once it is sent, SHUT_WR; until the server closes). The engine never
// touches the socket: each pass sends what it queued and hands it what the socket had.
Progress Loader::StepRaw(Conn* c) {
  // Bounded: every pass moves bytes, changes state, or returns.
  for (int pass = 0; pass < 1'000'000; ++pass) {
    switch (c->state) {
      case State::kFree:
        return Progress::kFinished;
      case State::kConnecting: {
        if (int err = ConnectError(c->fd); err != 0) {
          return Fail(c, absl::StrCat("connect: ", strerror(err)));
        }
        c->raw = std::make_unique<RawTls13Client>(&raw_config_);
        if (c->raw->Start() != RawState::kWaitServerHello) return Fail(c, c->raw->error());
        c->state = State::kHandshake;
        continue;
      }
      case State::kHandshake:
      case State::kRead:
      case State::kDrain:
        break;
      case State::kWrite:
      case State::kIdle:
      case State::kBulk:
        return Fail(c, absl::StrCat("raw engine in libssl state ", static_cast<int>(c->state)));
    }
    bool write_blocked = false;
    while (c->raw->output_size() > 0) {
      ssize_t w = send(c->fd, c->raw->output(), c->raw->output_size(), MSG_NOSIGNAL);
      if (w > 0) {
        c->raw->ConsumeOutput(static_cast<size_t>(w));
      } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        write_blocked = true;
        break;
      } else if (w < 0 && errno == EINTR) {
        continue;
      } else if (c->state == State::kDrain) {
        CloseConn(c);  // the server is gone before our close_notify: the exchange is over
        return Progress::kFinished;
      } else {
        return Fail(c, absl::StrCat("send: ", strerror(errno)));
      }
    }
    if (c->state == State::kDrain && !write_blocked && !c->shut_wr) {
      shutdown(c->fd, SHUT_WR);
      c->shut_wr = true;
    }
    ssize_t r = read(c->fd, read_buf_.data(), read_buf_.size());
    if (r > 0) {
      if (c->state == State::kDrain) continue;  // the server's close_notify: nothing needed
      if (Progress p = ReceiveRaw(c, static_cast<size_t>(r)); p != Progress::kWaiting) return p;
      continue;
    }
    if (r == 0) {
      if (c->state == State::kDrain) {
        CloseConn(c);
        return Progress::kFinished;
      }
      return Fail(c,
                  absl::StrCat("server closed the connection (raw engine ",
                               RawStateName(c->raw->state()), ")"));
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Progress::kWaiting;
    if (c->state == State::kDrain) {
      CloseConn(c);  // a reset after our FIN: the exchange is over either way
      return Progress::kFinished;
    }
    return Fail(c, absl::StrCat("read: ", strerror(errno)));
  }
  return Progress::kWaiting;
}

// ReceiveRaw hands |len| bytes of read_buf_ to the connection's engine and moves the
// connection on: kWaiting when it goes on (StepRaw keeps pumping), kFailed otherwise.
Progress Loader::ReceiveRaw(Conn* c, size_t len) {
  RawTls13Client& raw = *c->raw;
  switch (raw.Receive(reinterpret_cast<const uint8_t*>(read_buf_.data()), len)) {
    case RawState::kFailed:
      return Fail(c, raw.error());
    case RawState::kPeerClosed:
      return Fail(c, "server sent close_notify before the echo was complete");
    case RawState::kStart:
    case RawState::kWaitServerHello:
    case RawState::kWaitEncryptedExtensions:
    case RawState::kWaitCertificate:
    case RawState::kWaitCertificateVerify:
    case RawState::kWaitFinished:
      return Progress::kWaiting;  // the handshake goes on
    case RawState::kConnected:
      break;
  }
  if (c->state == State::kHandshake) {
    // Queued behind the client Finished, so both leave in one send().
    if (!raw.WriteApplicationData(reinterpret_cast<const uint8_t*>(request_.data()),
                                  request_.size())) {
      return Fail(c, "raw engine refused the request");
    }
    c->written = static_cast<int64_t>(request_.size());
    c->state = State::kRead;
  }
  c->read = raw.app_bytes_received();
  if (c->read < options_.request_bytes) return Progress::kWaiting;
  OnCompleted(c);
  if (!raw.SendCloseNotify()) return Fail(c, "raw engine refused close_notify");
  c->state = State::kDrain;
  return Progress::kWaiting;
}

void Loader::ScanDeadlines(Clock::time_point now) {
  for (Conn& c : conns_) {
    if (c.state == State::kFree || c.state == State::kIdle || c.state == State::kBulk) continue;
    if (now - c.started > options_.connection_deadline) {
      Fail(&c,
           absl::StrCat("connection not finished within ", options_.connection_deadline.count(),
                        " ms"));
    }
  }
}

absl::StatusOr<LoadResult> Loader::Run() {
  if (options_.port == 0) return absl::InvalidArgumentError("no port");
  if (options_.conns < 1) return absl::InvalidArgumentError("conns must be at least 1");
  if (options_.engine == LoadEngine::kRaw && options_.mode != LoadMode::kFull) {
    return absl::InvalidArgumentError(
        absl::StrCat("the raw engine runs mode full only, not ", LoadModeName(options_.mode)));
  }
  if (absl::Status s = SetUpContext(); !s.ok()) return s;
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) return absl::InternalError(absl::StrCat("epoll_create1: ", strerror(errno)));

  const bool idle = options_.mode == LoadMode::kIdle;
  const bool bulk = options_.mode == LoadMode::kBulk;
  const int slots = bulk ? 1 : options_.conns;
  request_.assign(bulk ? options_.bulk_chunk : options_.request_bytes, 'x');
  conns_.resize(slots);
  result_.mode = options_.mode;
  result_.engine = options_.engine;
  result_.conns = slots;

  const Clock::time_point start = Clock::now();
  if (idle) {
    window_start_ = start;
    window_end_ = start + options_.idle_setup_deadline;
  } else {
    window_start_ = start + options_.warm_up;
    window_end_ = window_start_ + options_.duration;
  }
  const Clock::time_point hard_end = window_end_ + options_.connection_deadline;

  auto can_start = [&] { return starting_ && started_ < options_.max_connections; };
  if (idle) {
    while (idle_next_ < conns_.size() && in_handshake_ < options_.idle_concurrency && can_start()) {
      ++in_handshake_;
      StartConn(idle_next_++);
    }
  } else {
    for (int i = 0; i < slots && can_start(); ++i) StartConn(i);
  }

  epoll_event events[kMaxEvents];
  Clock::time_point last_scan = start;
  // Bounded in time by |hard_end| and in count by the loop limit (50 ms per idle pass at most).
  for (int64_t iter = 0; iter < 1'000'000'000; ++iter) {
    int n = epoll_wait(epfd_, events, kMaxEvents, kPollMs);
    if (n < 0 && errno != EINTR) return absl::InternalError("epoll_wait failed");
    for (int i = 0; i < n; ++i) {
      size_t slot = events[i].data.u64;
      Conn& c = conns_[slot];
      if (c.state == State::kFree) continue;
      Progress p = options_.engine == LoadEngine::kRaw ? StepRaw(&c) : Step(&c);
      if (!idle && p != Progress::kWaiting && can_start()) StartConn(slot);
    }
    Clock::time_point now = Clock::now();
    if (now - last_scan >= kDeadlineScanEvery) {
      ScanDeadlines(now);
      last_scan = now;
      if (!idle) {
        for (size_t s = 0; s < conns_.size(); ++s) {
          if (conns_[s].state == State::kFree && can_start()) StartConn(s);
        }
      }
    }
    if (idle) {
      while (idle_next_ < conns_.size() && in_handshake_ < options_.idle_concurrency &&
             can_start()) {
        ++in_handshake_;
        StartConn(idle_next_++);
      }
      bool all_settled = idle_next_ == conns_.size() && in_handshake_ == 0;
      if (all_settled || now >= window_end_) break;
    } else {
      if (now >= window_end_) starting_ = false;
      if (now >= window_end_ || now >= hard_end) break;
    }
  }
  Clock::time_point end = std::min(Clock::now(), window_end_);
  result_.secs = std::chrono::duration<double>(end - window_start_).count();
  if (idle) {
    result_.secs = std::chrono::duration<double>(Clock::now() - start).count();
    if (options_.on_idle_established) options_.on_idle_established(result_.established);
  }
  for (Conn& c : conns_) CloseConn(&c);
  return result_;
}

}  // namespace

absl::StatusOr<bssl::UniquePtr<SSL_CTX>> NewClientContext(const LoadOptions& options) {
  // The buffers method keeps certificates as bytes: no X509 parsing on the client, which would
  // be client CPU spent on nothing the server does.
  bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_with_buffers_method()));
  if (ctx == nullptr) return absl::InternalError("SSL_CTX_new failed");
  if (!SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION) ||
      !SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION) ||
      !SSL_CTX_set1_curves_list(ctx.get(), "X25519")) {
    return absl::InternalError("cannot set TLS 1.3 / X25519");
  }
  // The chain is not checked (the certificate is self-signed and the tool measures cost, not
  // trust); BoringSSL still verifies the CertificateVerify signature with the leaf's key.
  SSL_CTX_set_custom_verify(ctx.get(), SSL_VERIFY_PEER,
                            [](SSL*, uint8_t*) { return ssl_verify_ok; });
  if (options.rsa) {
    static const uint16_t kRsaOnly[] = {SSL_SIGN_RSA_PSS_RSAE_SHA256, SSL_SIGN_RSA_PSS_RSAE_SHA384,
                                        SSL_SIGN_RSA_PSS_RSAE_SHA512};
    if (!SSL_CTX_set_verify_algorithm_prefs(ctx.get(), kRsaOnly, 3)) {
      return absl::InternalError("cannot restrict signature algorithms to RSA-PSS");
    }
  }
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ctx;
}

const char* LoadModeName(LoadMode mode) {
  switch (mode) {
    case LoadMode::kFull:
      return "full";
    case LoadMode::kResume:
      return "resume";
    case LoadMode::kBulk:
      return "bulk";
    case LoadMode::kIdle:
      return "idle";
  }
  return "?";
}

bool ParseLoadMode(const std::string& name, LoadMode* mode) {
  for (LoadMode m : {LoadMode::kFull, LoadMode::kResume, LoadMode::kBulk, LoadMode::kIdle}) {
    if (name == LoadModeName(m)) {
      *mode = m;
      return true;
    }
  }
  return false;
}

const char* LoadEngineName(LoadEngine engine) {
  switch (engine) {
    case LoadEngine::kSsl:
      return "ssl";
    case LoadEngine::kRaw:
      return "raw";
  }
  return "?";
}

bool ParseLoadEngine(const std::string& name, LoadEngine* engine) {
  for (LoadEngine e : {LoadEngine::kSsl, LoadEngine::kRaw}) {
    if (name == LoadEngineName(e)) {
      *engine = e;
      return true;
    }
  }
  return false;
}

std::string LoadResult::Line() const {
  std::string line = absl::StrFormat(
      "mode=%s engine=%s conns=%d secs=%.2f handshakes=%d per_sec=%.1f resumed=%d "
      "resumed_frac=%.3f errors=%d bytes=%d mb_per_sec=%.1f",
      LoadModeName(mode), LoadEngineName(engine), conns, secs, completed, per_sec(), resumed,
      completed > 0 ? static_cast<double>(resumed) / completed : 0.0, errors, bytes, mb_per_sec());
  if (mode == LoadMode::kIdle) absl::StrAppend(&line, " established=", established);
  if (!first_error.empty()) absl::StrAppend(&line, " first_error=\"", first_error, "\"");
  return line;
}

absl::StatusOr<LoadResult> RunLoad(const LoadOptions& options) {
  Loader loader(options);
  return loader.Run();
}

}  // namespace tollgate::tls_bench
