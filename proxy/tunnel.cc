#include "proxy/tunnel.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "iocore/eventsystem/diags.h"
#include "iocore/eventsystem/io_buffer.h"
#include "iocore/eventsystem/thread_live_set.h"
#include "iocore/eventsystem/vio.h"
#include "iocore/net/unix_net_vconnection.h"
#include "iocore/tls/ssl_net_vconnection.h"

namespace tollgate {
namespace {

// Bytes one splicing tunnel moves per loop pass before it yields to the rest of the thread
// (the VIO relay is bounded by the net layer's own per-pass limit).
constexpr int64_t kSpliceBytesPerPass = 1 << 20;

std::string ErrnoText(int error) { return error > 0 ? strerror(error) : "unknown error"; }

}  // namespace

const TunnelStats& TunnelStats::Get() {
  static const TunnelStats* stats = new TunnelStats{
      RegisterFixedStat("proxy.process.tunnel.blind_total", StatKind::kCounter),
      RegisterFixedStat("proxy.process.tunnel.forward_total", StatKind::kCounter),
      RegisterFixedStat("proxy.process.tunnel.active", StatKind::kGauge),
      RegisterFixedStat("proxy.process.tunnel.connect_failures", StatKind::kCounter),
      RegisterFixedStat("proxy.process.tunnel.errors", StatKind::kCounter),
      RegisterFixedStat("proxy.process.tunnel.spliced_total", StatKind::kCounter),
      RegisterFixedStat("proxy.process.tunnel.bytes_up", StatKind::kCounter),
      RegisterFixedStat("proxy.process.tunnel.bytes_down", StatKind::kCounter),
  };
  return *stats;
}

namespace tunnel_internal {

class Tunnel;

// One socket end of a splicing tunnel: a duplicate of the connection's descriptor, registered
// in the thread's epoll set (edge-triggered) with this as its target. The connection's own
// registration stays as it is; with no VIO enabled on the connection, it does nothing.
class SpliceEnd final : public EpollTarget {
 public:
  explicit SpliceEnd(Tunnel* owner) : owner_(owner) {}

  // OnEpollEvent records readiness and schedules a pump pass (never runs one here).
  void OnEpollEvent(uint32_t events) override;

  int fd = -1;
  bool registered = false;
  // Whether a read (write) may make progress: set by readiness, cleared by EAGAIN.
  bool readable = true;
  bool writable = true;

 private:
  Tunnel* const owner_;
};

// A tunnel: resolve, connect, then relay both ways (VIO relay or splice) until both directions
// ended, or tear down. Every event of a tunnel runs on its client connection's thread, under
// its own mutex.
class Tunnel final : public Continuation {
 public:
  enum class Kind : uint8_t {
    kBlind,
    kForward,
  };

  Tunnel(TunnelAcceptor* acceptor, ThreadLiveSet<Tunnel>* home, Kind kind,
         SSLNetVConnection* client, SniRoute route)
      : Continuation(NewProxyMutex()),
        acceptor_(acceptor),
        options_(acceptor->options_),
        home_(home),
        thread_(client->thread()),
        kind_(kind),
        client_(client),
        route_(std::move(route)),
        client_name_(client->remote_addr().ToString()),
        route_name_(absl::CHexEscape(route_.ToString())),
        client_end_(this),
        origin_end_(this) {
    acceptor_->active_.fetch_add(1, std::memory_order_acq_rel);
    GlobalStats().Increment(TunnelStats::Get().active);
    home_->Add(this);
  }

  // Start resolves the destination (or connects at once to a literal or cached address).
  void Start() {
    Ptr<ProxyMutex> hold = mutex();  // End() deletes this, mutex included
    MutexLock lock(hold.get());
    if (kind_ == Kind::kBlind) replay_ = client_->TakeRecordedBytes();
    if (std::optional<IpEndpoint> to = acceptor_->resolver_->Cached(route_.host, route_.port)) {
      Connect(*to);
      return;
    }
    state_ = State::kResolving;
    lookup_ = acceptor_->resolver_->Resolve(route_.host, route_.port, this, thread_, &resolved_);
  }

  // EndForThreadExit tears the tunnel down without logging or counting a failure: its thread
  // is stopping (ThreadLiveSet).
  void EndForThreadExit() {
    Ptr<ProxyMutex> hold = mutex();
    MutexLock lock(hold.get());
    End(ECONNABORTED, "", Failure::kQuiet);
  }

  void HandleEvent(EventCode code, void* data) override {
    switch (code) {
      case EventCode::kImmediate:
        if (state_ == State::kResolving) {
          OnResolved();
        } else if (state_ == State::kSplicing) {
          pump_scheduled_ = false;
          Pump();
        }
        return;
      case EventCode::kInterval:
        if (state_ == State::kSplicing) CheckInactivity();
        return;
      case EventCode::kNetOpen:
        OnOpen(static_cast<NetVConnection*>(data));
        return;
      case EventCode::kNetOpenFailed: {
        int error = -static_cast<int>(reinterpret_cast<intptr_t>(data));
        End(error, absl::StrCat("connect to ", destination_.ToString(), ": ", ErrnoText(error)),
            Failure::kConnect);
        return;
      }
      case EventCode::kVcReadReady:
        OnReadReady(static_cast<VIO*>(data));
        return;
      case EventCode::kVcReadComplete:  // reads are unbounded: only an EOS ends them
      case EventCode::kVcEos:
        OnReadEnded(static_cast<VIO*>(data));
        return;
      case EventCode::kVcWriteReady:
        OnWriteReady(static_cast<VIO*>(data));
        return;
      case EventCode::kVcWriteComplete:
        OnWriteComplete(static_cast<VIO*>(data));
        return;
      case EventCode::kError:
        OnVioFailure(static_cast<VIO*>(data));
        return;
      case EventCode::kVcInactivityTimeout:
        End(ETIMEDOUT, "inactivity timeout", Failure::kRelay);
        return;
      case EventCode::kVcActiveTimeout:
        End(ETIMEDOUT, "active timeout", Failure::kRelay);
        return;
      case EventCode::kNone:
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

  // SchedulePump arranges one pump pass on the tunnel's thread (at most one is pending).
  void SchedulePump() {
    if (pump_scheduled_ || state_ != State::kSplicing) return;
    pump_scheduled_ = true;
    pump_ = thread_->ScheduleImm(this, EventCode::kImmediate);
  }

 private:
  enum class State : uint8_t {
    kNew,
    kResolving,  // a lookup will call back with kImmediate
    kConnecting,  // NetProcessor::Connect will call back
    kRelaying,  // VIO relay
    kSplicing,  // splice(2) relay
  };

  // How End() reports the tunnel.
  enum class Failure : uint8_t {
    kNone,  // both directions ended cleanly
    kConnect,  // the destination could not be reached (connect_failures, WARNING)
    kRelay,  // torn down after connecting (errors, NOTE)
    kQuiet,  // thread exit: neither counted nor logged
  };

  // One direction of the VIO relay: |src|'s read VIO fills |buf|, |dst|'s write VIO drains it.
  struct VioDirection {
    MIOBuffer buf;
    IOBufferReader* reader = nullptr;
    NetVConnection* src = nullptr;
    NetVConnection* dst = nullptr;
    VIO* read = nullptr;
    VIO* write = nullptr;
    int64_t counted = 0;  // write->ndone() already added to the stats
    bool src_ended = false;  // EOS read: flushing what is left
    bool done = false;  // flushed and |dst|'s write side shut down
  };

  // One direction of the splice relay: |src| -> pipe -> |dst|, |prefix| (the replay) first.
  struct SpliceDirection {
    SpliceEnd* src = nullptr;
    SpliceEnd* dst = nullptr;
    const char* read_what = "";
    const char* write_what = "";
    int pipe_r = -1;
    int pipe_w = -1;
    int64_t capacity = 0;  // bytes asked of one splice into the pipe
    int64_t in_pipe = 0;
    std::string prefix;
    size_t prefix_sent = 0;
    bool src_ended = false;
    bool done = false;
  };

  // What one splice step did: progress, or the errno of a failed call and which one.
  struct SpliceStep {
    bool progress = false;
    int error = 0;
    const char* what = "";
  };

  ~Tunnel() override = default;

  static const char* StateName(State state) {
    switch (state) {
      case State::kNew:
        return "new";
      case State::kResolving:
        return "resolving";
      case State::kConnecting:
        return "connecting";
      case State::kRelaying:
        return "relaying";
      case State::kSplicing:
        return "splicing";
    }
    return "unknown";
  }

  const char* KindName() const { return kind_ == Kind::kBlind ? "blind tunnel" : "forward tunnel"; }

  // ---- Resolve and connect --------------------------------------------------------------------

  void OnResolved() {
    lookup_ = ResolveAction();
    if (!resolved_.endpoint.ok()) {
      End(EHOSTUNREACH, std::string(resolved_.endpoint.status().message()), Failure::kConnect);
      return;
    }
    Connect(*resolved_.endpoint);
  }

  void Connect(const IpEndpoint& to) {
    destination_ = to;
    state_ = State::kConnecting;
    acceptor_->net_->Connect(
        this, to, ConnectOptions{.timeout = options_.connect_timeout, .thread = thread_});
  }

  void OnOpen(NetVConnection* origin) {
    origin_ = origin;
    if (kind_ == Kind::kBlind && options_.splice && StartSplice()) return;
    StartVioRelay();
  }

  // ---- VIO relay ------------------------------------------------------------------------------

  void StartVioRelay() {
    state_ = State::kRelaying;
    InitDirection(up_, client_, origin_);
    InitDirection(down_, origin_, client_);
    if (!replay_.empty()) {
      up_.buf.Write(replay_);
      std::string().swap(replay_);
    }
    client_->SetInactivityTimeout(options_.inactivity_timeout);
    origin_->SetInactivityTimeout(options_.inactivity_timeout);
    // None of these calls back inline: the net layer runs the sides on a later pass.
    up_.read = client_->DoIoRead(this, INT64_MAX, &up_.buf);
    up_.write = origin_->DoIoWrite(this, INT64_MAX, up_.reader);
    down_.read = origin_->DoIoRead(this, INT64_MAX, &down_.buf);
    down_.write = client_->DoIoWrite(this, INT64_MAX, down_.reader);
  }

  void InitDirection(VioDirection& d, NetVConnection* src, NetVConnection* dst) {
    d.buf.set_water_mark(options_.water_mark);
    d.reader = d.buf.AllocReader();
    d.src = src;
    d.dst = dst;
  }

  VioDirection* ByRead(VIO* vio) {
    if (state_ != State::kRelaying) return nullptr;
    if (vio == up_.read) return &up_;
    if (vio == down_.read) return &down_;
    return nullptr;
  }

  VioDirection* ByWrite(VIO* vio) {
    if (state_ != State::kRelaying) return nullptr;
    if (vio == up_.write) return &up_;
    if (vio == down_.write) return &down_;
    return nullptr;
  }

  void OnReadReady(VIO* vio) {
    if (VioDirection* d = ByRead(vio)) d->write->Reenable();
  }

  void OnWriteReady(VIO* vio) {
    VioDirection* d = ByWrite(vio);
    if (d == nullptr) return;
    Account(*d);
    // The writer emptied the buffer: room to read again (a read above the water mark stopped
    // and waits for this).
    if (!d->src_ended) d->read->Reenable();
  }

  void OnReadEnded(VIO* vio) {
    VioDirection* d = ByRead(vio);
    if (d == nullptr || d->src_ended) return;
    d->src_ended = true;
    Account(*d);
    int64_t left = d->reader->ReadAvail();
    if (left == 0) {
      FinishDirection(*d);
      return;
    }
    // Bound the write to what is left, so that WRITE_COMPLETE says it is all out.
    d->write = d->dst->DoIoWrite(this, left, d->reader);
    d->counted = 0;
  }

  void OnWriteComplete(VIO* vio) {
    VioDirection* d = ByWrite(vio);
    if (d == nullptr || !d->src_ended) return;
    FinishDirection(*d);
  }

  void OnVioFailure(VIO* vio) {
    if (state_ != State::kRelaying) return;
    const char* side = vio->vc() == client_ ? "client" : "destination";
    const char* op = vio->op() == VIO::Op::kWrite ? "write to" : "read from";
    End(ECONNABORTED, absl::StrCat(op, " ", side, " failed"), Failure::kRelay);
  }

  // FinishDirection: everything read was written; pass the EOS on as a half-close.
  void FinishDirection(VioDirection& d) {
    Account(d);
    d.done = true;
    d.dst->DoIoShutdown(ShutdownHow::kWrite);
    if (up_.done && down_.done) End(0, "", Failure::kNone);
  }

  void Account(VioDirection& d) {
    if (d.write == nullptr) return;
    int64_t moved = d.write->ndone() - d.counted;
    if (moved <= 0) return;
    d.counted += moved;
    const TunnelStats& stats = TunnelStats::Get();
    if (&d == &up_) {
      bytes_up_ += moved;
      GlobalStats().Add(stats.bytes_up, moved);
    } else {
      bytes_down_ += moved;
      GlobalStats().Add(stats.bytes_down, moved);
    }
  }

  // ---- Splice relay ---------------------------------------------------------------------------

  // StartSplice sets up both pipes and both epoll registrations, or nothing (then false: the
  // caller uses the VIO relay).
  bool StartSplice() {
    auto* origin = dynamic_cast<UnixNetVConnection*>(origin_);
    if (origin == nullptr) return false;
    splice_up_ = SpliceDirection{.src = &client_end_,
                                 .dst = &origin_end_,
                                 .read_what = "read from client",
                                 .write_what = "write to destination"};
    splice_down_ = SpliceDirection{.src = &origin_end_,
                                   .dst = &client_end_,
                                   .read_what = "read from destination",
                                   .write_what = "write to client"};
    client_end_.fd = fcntl(client_->fd(), F_DUPFD_CLOEXEC, 0);
    origin_end_.fd = fcntl(origin->fd(), F_DUPFD_CLOEXEC, 0);
    bool ok = client_end_.fd >= 0 && origin_end_.fd >= 0 && MakePipe(splice_up_) &&
        MakePipe(splice_down_) && Register(client_end_) && Register(origin_end_);
    if (!ok) {
      int error = errno;
      ReleaseSplice();
      if (IsDebugTagSet("tunnel")) {
        Diag(DiagLevel::kDebug, "tunnel",
             absl::StrCat(KindName(), " ", client_name_, ": no splice (", ErrnoText(error),
                          "), relaying through buffers"));
      }
      return false;
    }
    state_ = State::kSplicing;
    GlobalStats().Increment(TunnelStats::Get().spliced_total);
    splice_up_.prefix = std::move(replay_);
    // The connections see no I/O of their own now; the tunnel keeps time itself.
    client_->CancelInactivityTimeout();
    origin_->CancelInactivityTimeout();
    last_activity_ns_ = MonotonicNowNs();
    if (Nanoseconds timeout = InactivityTimeout(); timeout.count() > 0) {
      Nanoseconds period = std::clamp<Nanoseconds>(timeout / 4, std::chrono::milliseconds(1),
                                                   std::chrono::seconds(1));
      timer_ = thread_->ScheduleEvery(this, period, EventCode::kInterval);
    }
    SchedulePump();
    return true;
  }

  Nanoseconds InactivityTimeout() const {
    return options_.inactivity_timeout.count() > 0
        ? options_.inactivity_timeout
        : acceptor_->net_->config().default_inactivity_timeout;
  }

  bool MakePipe(SpliceDirection& d) {
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return false;
    d.pipe_r = fds[0];
    d.pipe_w = fds[1];
    // Best effort: an unprivileged process may be refused a pipe above pipe-max-size, and keeps
    // the default then.
    if (options_.water_mark > 0) {
      fcntl(d.pipe_w, F_SETPIPE_SZ,
            static_cast<int>(std::min<int64_t>(options_.water_mark, 1 << 30)));
    }
    int size = fcntl(d.pipe_w, F_GETPIPE_SZ);
    d.capacity = size > 0 ? size : 65536;
    return true;
  }

  bool Register(SpliceEnd& end) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = static_cast<EpollTarget*>(&end);
    if (epoll_ctl(thread_->epoll_fd(), EPOLL_CTL_ADD, end.fd, &ev) != 0) return false;
    end.registered = true;
    return true;
  }

  // ReleaseSplice undoes StartSplice: the registrations go before the duplicates close, since
  // epoll keeps a registration while any descriptor of the socket (the connection's) is open.
  void ReleaseSplice() {
    pump_.Cancel();
    timer_.Cancel();
    pump_scheduled_ = false;
    for (SpliceEnd* end : {&client_end_, &origin_end_}) {
      if (end->registered) epoll_ctl(thread_->epoll_fd(), EPOLL_CTL_DEL, end->fd, nullptr);
      end->registered = false;
      if (end->fd >= 0) close(end->fd);
      end->fd = -1;
    }
    for (SpliceDirection* d : {&splice_up_, &splice_down_}) {
      if (d->pipe_r >= 0) close(d->pipe_r);
      if (d->pipe_w >= 0) close(d->pipe_w);
      d->pipe_r = d->pipe_w = -1;
    }
  }

  // Pump moves what it can in both directions, until nothing moves or this pass's budget is
  // spent (then it comes back on the next pass).
  void Pump() {
    int64_t budget = kSpliceBytesPerPass;
    bool progress = true;
    while (progress && budget > 0) {
      progress = false;
      for (SpliceDirection* d : {&splice_up_, &splice_down_}) {
        SpliceStep step = Step(*d, &budget);
        if (step.error != 0) {
          End(step.error, absl::StrCat(step.what, ": ", ErrnoText(step.error)), Failure::kRelay);
          return;
        }
        progress |= step.progress;
      }
    }
    if (splice_up_.done && splice_down_.done) {
      End(0, "", Failure::kNone);
      return;
    }
    if (budget <= 0) SchedulePump();
  }

  SpliceStep Step(SpliceDirection& d, int64_t* budget) {
    SpliceStep step;
    if (d.done) return step;
    // The replay goes out before any spliced byte.
    while (d.prefix_sent < d.prefix.size() && d.dst->writable) {
      ssize_t n = send(d.dst->fd, d.prefix.data() + d.prefix_sent, d.prefix.size() - d.prefix_sent,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        d.prefix_sent += n;
        Moved(d, n);
        step.progress = true;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        d.dst->writable = false;
      } else {
        return {step.progress, n < 0 ? errno : EPIPE, d.write_what};
      }
    }
    if (d.prefix_sent < d.prefix.size()) return step;
    if (!d.prefix.empty()) {
      std::string().swap(d.prefix);
      d.prefix_sent = 0;
    }
    if (!d.src_ended && d.src->readable && d.in_pipe<d.capacity&& * budget> 0) {
      ssize_t n = splice(d.src->fd, nullptr, d.pipe_w, nullptr,
                         static_cast<size_t>(std::min(d.capacity - d.in_pipe, *budget)),
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d.in_pipe += n;
        *budget -= n;
        last_activity_ns_ = MonotonicNowNs();
        step.progress = true;
      } else if (n == 0) {
        d.src_ended = true;
        step.progress = true;
      } else if (errno == EINTR) {
        step.progress = true;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        // With an empty pipe this can only be the socket. With bytes in the pipe it may be the
        // pipe (it counts buffers, not bytes): keep trying after the next drain.
        if (d.in_pipe == 0) d.src->readable = false;
      } else {
        return {step.progress, errno, d.read_what};
      }
    }
    if (d.in_pipe > 0 && d.dst->writable) {
      ssize_t n = splice(d.pipe_r, nullptr, d.dst->fd, nullptr, static_cast<size_t>(d.in_pipe),
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d.in_pipe -= n;
        Moved(d, n);
        step.progress = true;
      } else if (n < 0 && errno == EINTR) {
        step.progress = true;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        d.dst->writable = false;
      } else {
        return {step.progress, n < 0 ? errno : EPIPE, d.write_what};
      }
    }
    if (d.src_ended && d.in_pipe == 0) {
      // Everything read was written: pass the EOS on as a half-close.
      shutdown(d.dst->fd, SHUT_WR);
      d.done = true;
      step.progress = true;
    }
    return step;
  }

  void Moved(SpliceDirection& d, int64_t n) {
    last_activity_ns_ = MonotonicNowNs();
    const TunnelStats& stats = TunnelStats::Get();
    if (&d == &splice_up_) {
      bytes_up_ += n;
      GlobalStats().Add(stats.bytes_up, n);
    } else {
      bytes_down_ += n;
      GlobalStats().Add(stats.bytes_down, n);
    }
  }

  void CheckInactivity() {
    if (MonotonicNowNs() - last_activity_ns_ >= InactivityTimeout().count()) {
      End(ETIMEDOUT, "inactivity timeout", Failure::kRelay);
    }
  }

  // ---- The end --------------------------------------------------------------------------------

  // End closes both connections (abortively when |error| is not 0), reports |failure| as
  // |how| says, and deletes the tunnel.
  void End(int error, const std::string& failure, Failure how) {
    lookup_.Cancel();
    ReleaseSplice();
    if (state_ == State::kRelaying) {
      Account(up_);
      Account(down_);
    }
    const TunnelStats& stats = TunnelStats::Get();
    switch (how) {
      case Failure::kNone:
        if (IsDebugTagSet("tunnel")) {
          Diag(DiagLevel::kDebug, "tunnel",
               absl::StrCat(KindName(), " ", client_name_, " -> ", route_name_,
                            " closed: ", bytes_up_, " bytes up, ", bytes_down_, " bytes down"));
        }
        break;
      case Failure::kConnect:
        GlobalStats().Increment(stats.connect_failures);
        Diag(
            DiagLevel::kWarning, "tunnel",
            absl::StrCat(KindName(), " ", client_name_, " -> ", route_name_, " failed: ", failure));
        break;
      case Failure::kRelay:
        GlobalStats().Increment(stats.errors);
        Diag(DiagLevel::kNote, "tunnel",
             absl::StrCat(KindName(), " ", client_name_, " -> ", route_name_, " failed (",
                          StateName(state_), ", ", bytes_up_, " bytes up, ", bytes_down_,
                          " bytes down): ", failure));
        break;
      case Failure::kQuiet:
        break;
    }
    if (origin_ != nullptr) origin_->DoIoClose(error);
    client_->DoIoClose(error);
    GlobalStats().Decrement(stats.active);
    home_->Remove(this);
    acceptor_->active_.fetch_sub(1, std::memory_order_acq_rel);
    delete this;
  }

  TunnelAcceptor* const acceptor_;
  const TunnelOptions& options_;
  ThreadLiveSet<Tunnel>* const home_;  // the open tunnels of this one's thread
  EThread* const thread_;
  const Kind kind_;
  SSLNetVConnection* const client_;
  const SniRoute route_;
  const std::string client_name_;
  // For logs, escaped: without a tunnel_route the host is the client's SNI.
  const std::string route_name_;
  State state_ = State::kNew;

  ResolveResult resolved_;
  ResolveAction lookup_;
  IpEndpoint destination_;
  NetVConnection* origin_ = nullptr;
  std::string replay_;  // blind: the recorded ClientHello, until the relay starts
  int64_t bytes_up_ = 0;
  int64_t bytes_down_ = 0;

  VioDirection up_;  // client -> destination
  VioDirection down_;  // destination -> client

  SpliceEnd client_end_;
  SpliceEnd origin_end_;
  SpliceDirection splice_up_;
  SpliceDirection splice_down_;
  bool pump_scheduled_ = false;
  Action pump_;
  Action timer_;
  int64_t last_activity_ns_ = 0;
};

void SpliceEnd::OnEpollEvent(uint32_t events) {
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readable = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) writable = true;
  owner_->SchedulePump();
}

}  // namespace tunnel_internal

using tunnel_internal::Tunnel;

TunnelAcceptor::TunnelAcceptor(NetProcessor* net, HostResolver* resolver, TunnelOptions options)
    : net_(net), resolver_(resolver), options_(options) {
  TunnelStats::Get();
}

TunnelAcceptor::~TunnelAcceptor() = default;

void TunnelAcceptor::HandleEvent(EventCode code, void* data) {
  if (code != EventCode::kNetAccept) return;
  auto* vc = static_cast<NetVConnection*>(data);
  const TunnelStats& stats = TunnelStats::Get();
  auto* tls = dynamic_cast<SSLNetVConnection*>(vc);
  if (tls == nullptr || !vc->thread()->IsCurrent()) {
    // A wiring mistake (this acceptor on a plain port, or called off the connection's thread),
    // not something a client can cause.
    GlobalStats().Increment(stats.connect_failures);
    Diag(DiagLevel::kError, "tunnel",
         absl::StrCat("tunnel acceptor: connection from ", vc->remote_addr().ToString(),
                      tls == nullptr ? " is not a TLS connection" : " is not on this thread",
                      "; closed"));
    vc->DoIoClose();
    return;
  }
  Tunnel::Kind kind = tls->is_tunnel() ? Tunnel::Kind::kBlind : Tunnel::Kind::kForward;
  GlobalStats().Increment(kind == Tunnel::Kind::kBlind ? stats.blind_total : stats.forward_total);
  std::optional<SniRoute> route =
      kind == Tunnel::Kind::kBlind ? tls->TunnelDestination() : tls->forward_destination();
  if (!route.has_value() || route->host.empty() || route->port == 0) {
    GlobalStats().Increment(stats.connect_failures);
    Diag(DiagLevel::kWarning, "tunnel",
         absl::StrCat(kind == Tunnel::Kind::kBlind ? "blind tunnel " : "forward tunnel ",
                      tls->remote_addr().ToString(), " failed: no destination (SNI '",
                      absl::CHexEscape(tls->sni()), "')"));
    tls->DoIoClose(-1);
    return;
  }
  (new Tunnel(this, ThreadLiveSet<Tunnel>::ForCurrentThread(), kind, tls, std::move(*route)))
      ->Start();
}

}  // namespace tollgate
