#include "iocore/net/net_processor.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "iocore/eventsystem/diags.h"
#include "iocore/net/unix_net_vconnection.h"

namespace tollgate {
namespace {

// Accepts per listener per pass before yielding to the rest of the loop.
constexpr int kMaxAcceptsPerPass = 64;

void SetNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

IpEndpoint LocalEndpoint(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return IpEndpoint();
  return IpEndpoint::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

// Whether |ep| is bound to every address of its family (0.0.0.0 or ::), so that a connection
// accepted on it may have any local address.
bool IsWildcard(const IpEndpoint& ep) {
  switch (ep.family()) {
    case AF_INET:
      return reinterpret_cast<const sockaddr_in*>(ep.sockaddr())->sin_addr.s_addr ==
          htonl(INADDR_ANY);
    case AF_INET6:
      return IN6_IS_ADDR_UNSPECIFIED(
          &reinterpret_cast<const sockaddr_in6*>(ep.sockaddr())->sin6_addr);
    default:
      return true;  // unknown: ask the kernel per connection
  }
}

}  // namespace

// One listening socket on one net thread. Readiness schedules an accept pass on the thread's
// local queue (epoll dispatch itself never runs callbacks).
class NetProcessor::Listener final : public Continuation, public EpollTarget {
 public:
  Listener(int fd, Continuation* acceptor, NetHandler* nh, const AcceptOptions& options)
      : fd_(fd),
        acceptor_(acceptor),
        nh_(nh),
        make_vc_(options.make_vc),
        local_(LocalEndpoint(fd)),
        local_is_wildcard_(IsWildcard(local_)) {}
  ~Listener() override {
    if (fd_ >= 0) close(fd_);
  }

  void OnEpollEvent(uint32_t) override { ScheduleAcceptPass(); }

  // kContinue (NetProcessor::StopAccepting) closes the socket; other events run an accept pass.
  void HandleEvent(EventCode code, void*) override {
    if (code == EventCode::kContinue) {
      Stop();
      return;
    }
    scheduled_ = false;
    if (fd_ < 0) return;
    if (!registered_.load(std::memory_order_relaxed)) {
      registered_.store(true, std::memory_order_release);
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLET;
      ev.data.ptr = static_cast<EpollTarget*>(this);
      if (epoll_ctl(nh_->thread()->epoll_fd(), EPOLL_CTL_ADD, fd_, &ev) != 0) {
        Diag(DiagLevel::kError, "net",
             absl::StrCat("listener: epoll_ctl failed: ", strerror(errno)));
      }
      Listener* self = this;
      nh_->thread()->AtExit([self] { self->Stop(); });
    }
    if (code == EventCode::kInterval) backing_off_ = false;  // back-off over
    if (!backing_off_) AcceptPass();
  }

 private:
  void Stop() {
    if (fd_ < 0) return;
    if (registered_) epoll_ctl(nh_->thread()->epoll_fd(), EPOLL_CTL_DEL, fd_, nullptr);
    close(fd_);
    fd_ = -1;
  }

  void ScheduleAcceptPass() {
    if (fd_ < 0 || scheduled_ || backing_off_) return;
    scheduled_ = true;
    nh_->thread()->ScheduleImm(this);
  }

  void AcceptPass() {
    const NetStats& stats = NetStats::Get();
    for (int i = 0; i < kMaxAcceptsPerPass; ++i) {
      sockaddr_storage ss{};
      socklen_t len = sizeof(ss);
      int fd = accept4(fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK) {
          exhausted_episode_ = false;
          return;
        }
        if (err == EMFILE || err == ENFILE) {
          if (!exhausted_episode_) {
            exhausted_episode_ = true;
            GlobalStats().Increment(stats.accept_fd_exhausted);
            Diag(DiagLevel::kWarning, "net",
                 absl::StrCat("accept on ", LocalEndpoint(fd_).ToString(), ": ", strerror(err),
                              "; pausing accepts"));
          }
          backing_off_ = true;
          nh_->thread()->ScheduleIn(this, nh_->shared()->config.accept_backoff);
          return;
        }
        if (err != EINTR && err != ECONNABORTED) GlobalStats().Increment(stats.accept_errors);
        continue;
      }
      if (exhausted_episode_) {
        exhausted_episode_ = false;
        Diag(DiagLevel::kNote, "net",
             absl::StrCat("accept on ", LocalEndpoint(fd_).ToString(), " resumed"));
      }
      NetShared* shared = nh_->shared();
      if (shared->open_connections.load(std::memory_order_relaxed) >=
              shared->config.connections_throttle &&
          !nh_->MakeRoom()) {
        GlobalStats().Increment(stats.throttled_refusals);
        close(fd);
        continue;
      }
      // TCP_NODELAY is inherited from the listening socket (set in Accept), so no setsockopt
      // here. The local address is the listener's unless it is bound to a wildcard address: the
      // accept loop makes no syscall beyond accept4 and the NetHandler's epoll_ctl.
      IpEndpoint remote = IpEndpoint::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
      IpEndpoint local = local_is_wildcard_ ? LocalEndpoint(fd) : local_;
      UnixNetVConnection* vc = make_vc_ ? make_vc_(fd, nh_, local, remote)
                                        : UnixNetVConnection::Adopt(fd, nh_, local, remote);
      if (vc == nullptr) {
        GlobalStats().Increment(stats.accept_errors);
        continue;
      }
      GlobalStats().Increment(stats.accepts_total);
      MutexTryLock lock(acceptor_->mutex().get());
      if (!lock.locked()) {
        GlobalStats().Increment(stats.throttled_refusals);
        vc->DoIoClose(ECONNREFUSED);
        continue;
      }
      acceptor_->HandleEvent(EventCode::kNetAccept, static_cast<NetVConnection*>(vc));
    }
    // Bound reached with connections possibly pending: continue on the next pass.
    ScheduleAcceptPass();
  }

  int fd_;  // -1 once stopped
  Continuation* const acceptor_;
  NetHandler* const nh_;
  const std::function<UnixNetVConnection*(int, NetHandler*, const IpEndpoint&, const IpEndpoint&)>
      make_vc_;
  const IpEndpoint local_;  // the listening address, with the port the kernel picked
  const bool local_is_wildcard_;
  // Set on the listener's thread at its first event. The thread closes the socket when it
  // exits; ~NetProcessor frees every listener.
  std::atomic<bool> registered_{false};
  bool scheduled_ = false;
  bool backing_off_ = false;
  bool exhausted_episode_ = false;
};

// One outgoing connection attempt; runs with the caller's mutex and deletes itself when done.
class NetProcessor::ConnectOp final : public Continuation {
 public:
  ConnectOp(Continuation* cont, const IpEndpoint& to, ConnectOptions options)
      : Continuation(cont->mutex()), cont_(cont), to_(to), options_(options) {}

  void HandleEvent(EventCode code, void* data) override {
    switch (code) {
      case EventCode::kImmediate:
        Start();
        return;
      case EventCode::kNetOpen:
        timeout_.Cancel();
        Finish(0);
        return;
      case EventCode::kNetOpenFailed:
        timeout_.Cancel();
        Finish(static_cast<int>(reinterpret_cast<intptr_t>(data)));
        return;
      case EventCode::kInterval:  // connect timeout
        if (vc_ != nullptr) vc_->connecting_ = false;
        Finish(ETIMEDOUT);
        return;
      default:
        return;
    }
  }

 private:
  void Start() {
    NetHandler* nh = NetHandler::ForCurrentThread();
    int fd = socket(to_.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || nh == nullptr) {
      int err = fd < 0 ? errno : EINVAL;
      if (fd >= 0) close(fd);
      Finish(err);
      return;
    }
    SetNoDelay(fd);
    int rc = connect(fd, to_.sockaddr(), to_.socklen());
    if (rc != 0 && errno != EINPROGRESS) {
      int err = errno;
      close(fd);
      Finish(err);
      return;
    }
    vc_ = options_.make_vc ? options_.make_vc(fd, nh, LocalEndpoint(fd), to_)
                           : UnixNetVConnection::Adopt(fd, nh, LocalEndpoint(fd), to_);
    if (vc_ == nullptr) {
      Finish(ENOMEM);
      return;
    }
    if (rc == 0) {
      Finish(0);
      return;
    }
    vc_->connecting_ = true;
    vc_->connect_cont_ = this;
    timeout_ = nh->thread()->ScheduleIn(this, options_.timeout);
  }

  // Delivers the outcome to the caller (whose mutex is held) and deletes this operation.
  void Finish(int err) {
    if (err == 0) {
      cont_->HandleEvent(EventCode::kNetOpen, static_cast<NetVConnection*>(vc_));
    } else {
      GlobalStats().Increment(NetStats::Get().connect_failures);
      if (vc_ != nullptr) vc_->DoIoClose();
      cont_->HandleEvent(EventCode::kNetOpenFailed,
                         reinterpret_cast<void*>(static_cast<intptr_t>(-err)));
    }
    delete this;
  }

  Continuation* const cont_;
  const IpEndpoint to_;
  const ConnectOptions options_;
  UnixNetVConnection* vc_ = nullptr;
  Action timeout_;
};

NetProcessor::NetProcessor(NetConfig config) : idle_sweep_(std::make_unique<IdleSweep>()) {
  shared_.config = config;
}

NetProcessor::~NetProcessor() {
  MutexGuard lock(&mu_);
  for (Listener* listener : all_listeners_) delete listener;
}

void NetProcessor::InitThread(EThread& thread) {
  auto nh = std::make_unique<NetHandler>(&thread, &shared_);
  MutexGuard lock(&mu_);
  handlers_.push_back(std::move(nh));
  threads_.push_back(&thread);
}

absl::StatusOr<IpEndpoint> NetProcessor::Accept(Continuation* acceptor, const IpEndpoint& addr,
                                                AcceptOptions options) {
  std::vector<NetHandler*> handlers;
  {
    MutexGuard lock(&mu_);
    for (auto& h : handlers_) handlers.push_back(h.get());
  }
  if (handlers.empty()) {
    return absl::FailedPreconditionError("accept: no net threads are running");
  }
  IpEndpoint bound = addr;
  std::vector<int> fds;
  // SO_REUSEPORT would let this process share a port another process listens on (the kernel
  // would split connections between them): a plain bind first proves the port is free.
  if (addr.port() != 0) {
    int probe = socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0)
      return absl::ErrnoToStatus(errno, absl::StrCat("listen on ", addr.ToString(), ": socket"));
    int one = 1;
    setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (addr.family() == AF_INET6) setsockopt(probe, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    const int rc = bind(probe, addr.sockaddr(), addr.socklen());
    const int err = errno;
    close(probe);
    if (rc != 0) {
      return absl::ErrnoToStatus(err, absl::StrCat("listen on ", addr.ToString(), ": bind"));
    }
  }
  auto fail = [&](const char* call) {
    absl::Status s =
        absl::ErrnoToStatus(errno, absl::StrCat("listen on ", addr.ToString(), ": ", call));
    for (int fd : fds) close(fd);
    return s;
  };
  for (size_t i = 0; i < handlers.size(); ++i) {
    int fd = socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail("socket");
    fds.push_back(fd);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
      return fail("setsockopt(SO_REUSEPORT)");
    }
    if (addr.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    // Accepted sockets inherit TCP_NODELAY from the listener (Linux copies the TCP options into
    // the child), which saves a setsockopt per accepted connection; see Listener::AcceptPass.
    SetNoDelay(fd);
    if (bind(fd, bound.sockaddr(), bound.socklen()) != 0) return fail("bind");
    if (listen(fd, options.backlog) != 0) return fail("listen");
    // Port 0: the first bind picked the port; the others share it.
    if (i == 0) bound = LocalEndpoint(fd);
  }
  for (size_t i = 0; i < handlers.size(); ++i) {
    auto* listener = new Listener(fds[i], acceptor, handlers[i], options);
    {
      MutexGuard lock(&mu_);
      listeners_.emplace_back(handlers[i]->thread(), listener);
      all_listeners_.push_back(listener);
    }
    handlers[i]->thread()->ScheduleImm(listener);
  }
  return bound;
}

void NetProcessor::Connect(Continuation* cont, const IpEndpoint& to, ConnectOptions options) {
  EThread* thread;
  {
    MutexGuard lock(&mu_);
    thread = options.thread != nullptr
        ? options.thread
        : threads_[next_thread_.fetch_add(1, std::memory_order_relaxed) % threads_.size()];
  }
  thread->ScheduleImm(new ConnectOp(cont, to, options));
}

void NetProcessor::StopAccepting() {
  MutexGuard lock(&mu_);
  for (auto& [thread, listener] : listeners_) thread->ScheduleImm(listener, EventCode::kContinue);
  listeners_.clear();
}

// Runs NetHandler::TimeOutIdleKeepAlive on the thread it is scheduled on. Stateless: one object,
// owned by the NetProcessor, serves every thread, and nothing leaks when a shutdown drops an
// event that has not run.
class NetProcessor::IdleSweep final : public Continuation {
 public:
  void HandleEvent(EventCode, void*) override {
    if (NetHandler* nh = NetHandler::ForCurrentThread()) nh->TimeOutIdleKeepAlive();
  }
};

void NetProcessor::CloseIdleKeepAlive() {
  MutexGuard lock(&mu_);
  for (EThread* thread : threads_) thread->ScheduleImm(idle_sweep_.get());
}

}  // namespace tollgate
