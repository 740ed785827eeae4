#include "iocore/net/net_handler.h"

#include <sys/epoll.h>

#include <algorithm>

#include "iocore/net/unix_net_vconnection.h"

namespace tollgate {
namespace {

thread_local NetHandler* tls_net_handler = nullptr;

}  // namespace

const NetStats& NetStats::Get() {
  static const NetStats* stats = new NetStats{
      RegisterFixedStat("proxy.process.net.connections_currently_open", StatKind::kGauge),
      RegisterFixedStat("proxy.process.net.connections_total", StatKind::kCounter),
      RegisterFixedStat("proxy.process.net.accepts_total", StatKind::kCounter),
      RegisterFixedStat("proxy.process.net.accept_errors", StatKind::kCounter),
      RegisterFixedStat("proxy.process.net.accept_fd_exhausted", StatKind::kCounter),
      RegisterFixedStat("proxy.process.net.connect_failures", StatKind::kCounter),
      RegisterFixedStat("proxy.process.net.inactivity_timeouts", StatKind::kCounter),
      RegisterFixedStat("proxy.process.net.active_timeouts", StatKind::kCounter),
      RegisterFixedStat("proxy.process.net.throttled_closes", StatKind::kCounter),
      RegisterFixedStat("proxy.process.net.throttled_refusals", StatKind::kCounter),
  };
  return *stats;
}

// Runs the InactivityCop on the handler's thread.
class NetHandler::Cop : public Continuation {
 public:
  explicit Cop(NetHandler* nh) : nh_(nh) {}
  void HandleEvent(EventCode, void*) override { nh_->RunCop(); }

 private:
  NetHandler* const nh_;
};

// Scheduled to wake the loop: Poll runs on every pass, so the handler has nothing to do.
class NetHandler::Waker : public Continuation {
 public:
  explicit Waker(NetHandler* nh) : nh_(nh) {}
  void HandleEvent(EventCode, void*) override { nh_->retry_scheduled_ = false; }

 private:
  NetHandler* const nh_;
};

NetHandler::NetHandler(EThread* thread, NetShared* shared)
    : thread_(thread), shared_(shared), cop_(new Cop(this)), waker_(new Waker(this)) {
  NetStats::Get();
  tls_net_handler = this;
  thread_->AddPoller(this);
  cop_action_ = thread_->ScheduleEvery(cop_, shared_->config.cop_interval);
  thread_->AtExit([this] { CloseAllOnExit(); });
}

NetHandler::~NetHandler() {
  delete cop_;
  delete waker_;
}

void NetHandler::CloseAllOnExit() {
  DrainOtherThreads();
  while (open_head_ != nullptr) {
    UnixNetVConnection* vc = open_head_;
    vc->closed_.store(true, std::memory_order_release);
    Release(vc);
  }
  FreeReleased();
  tls_net_handler = nullptr;
}

NetHandler* NetHandler::ForCurrentThread() { return tls_net_handler; }

bool NetHandler::Attach(UnixNetVConnection* vc) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = static_cast<EpollTarget*>(vc);
  if (epoll_ctl(thread_->epoll_fd(), EPOLL_CTL_ADD, vc->fd_, &ev) != 0) return false;
  vc->open_next_ = open_head_;
  if (open_head_ != nullptr) open_head_->open_prev_ = vc;
  open_head_ = vc;
  ++connection_count_;
  shared_->open_connections.fetch_add(1, std::memory_order_relaxed);
  const NetStats& stats = NetStats::Get();
  GlobalStats().Increment(stats.connections_open);
  GlobalStats().Increment(stats.connections_total);
  return true;
}

void NetHandler::MarkReady(UnixNetVConnection* vc, NetSide side) {
  UnixNetVConnection::Side& s = vc->side(side);
  if (s.queued || !s.enabled || !s.triggered || s.shut || vc->released_) return;
  s.queued = true;
  (side == NetSide::kRead ? read_ready_ : write_ready_).push_back(vc);
}

void NetHandler::Release(UnixNetVConnection* vc) {
  if (vc->released_) return;
  vc->released_ = true;
  epoll_ctl(thread_->epoll_fd(), EPOLL_CTL_DEL, vc->fd_, nullptr);
  SetKeepAliveIdle(vc, false);
  if (vc->open_prev_ != nullptr) vc->open_prev_->open_next_ = vc->open_next_;
  if (vc->open_next_ != nullptr) vc->open_next_->open_prev_ = vc->open_prev_;
  if (open_head_ == vc) open_head_ = vc->open_next_;
  vc->open_prev_ = vc->open_next_ = nullptr;
  --connection_count_;
  shared_->open_connections.fetch_sub(1, std::memory_order_relaxed);
  GlobalStats().Decrement(NetStats::Get().connections_open);
  released_.push_back(vc);
}

void NetHandler::RetrySoon() {
  if (retry_scheduled_) return;
  retry_scheduled_ = true;
  thread_->ScheduleIn(waker_, EThread::kLockRetryDelay);
}

void NetHandler::SetKeepAliveIdle(UnixNetVConnection* vc, bool idle) {
  if (vc->keep_alive_idle_ == idle) return;
  vc->keep_alive_idle_ = idle;
  if (idle) {
    vc->ka_prev_ = ka_tail_;
    vc->ka_next_ = nullptr;
    if (ka_tail_ != nullptr) ka_tail_->ka_next_ = vc;
    ka_tail_ = vc;
    if (ka_head_ == nullptr) ka_head_ = vc;
  } else {
    if (vc->ka_prev_ != nullptr) vc->ka_prev_->ka_next_ = vc->ka_next_;
    if (vc->ka_next_ != nullptr) vc->ka_next_->ka_prev_ = vc->ka_prev_;
    if (ka_head_ == vc) ka_head_ = vc->ka_next_;
    if (ka_tail_ == vc) ka_tail_ = vc->ka_prev_;
    vc->ka_prev_ = vc->ka_next_ = nullptr;
  }
}

bool NetHandler::MakeRoom() {
  UnixNetVConnection* oldest = ka_head_;
  if (oldest == nullptr) return false;
  SetKeepAliveIdle(oldest, false);
  GlobalStats().Increment(NetStats::Get().throttled_closes);
  oldest->TimeOutNow(EventCode::kVcInactivityTimeout);
  return true;
}

void NetHandler::TimeOutIdleKeepAlive() {
  std::vector<UnixNetVConnection*> idle;
  for (UnixNetVConnection* vc = ka_head_; vc != nullptr; vc = vc->ka_next_) idle.push_back(vc);
  for (UnixNetVConnection* vc : idle) {
    VIO* vio = vc->read_vio_.continuation() != nullptr ? &vc->read_vio_ : &vc->write_vio_;
    if (vio->continuation() == nullptr) continue;
    MutexTryLock lock(vio->mutex().get());
    if (!lock.locked()) continue;  // stays idle; the next sweep retries
    SetKeepAliveIdle(vc, false);
    vc->inactivity_timeout_ns_ = 0;
    vc->Signal(vio, EventCode::kVcInactivityTimeout);
  }
}

void NetHandler::EnqueueFromOtherThread(UnixNetVConnection* vc, uint8_t ops) {
  bool first;
  {
    MutexGuard lock(&other_mu_);
    first = other_.empty();
    if (vc->pending_ops_ == 0) other_.push_back(vc);
    vc->pending_ops_ |= ops;
  }
  if (first) thread_->ScheduleImm(waker_);
}

void NetHandler::DrainOtherThreads() {
  std::vector<std::pair<UnixNetVConnection*, uint8_t>> work;
  {
    MutexGuard lock(&other_mu_);
    if (other_.empty()) return;
    work.reserve(other_.size());
    for (UnixNetVConnection* vc : other_) {
      work.emplace_back(vc, vc->pending_ops_);
      vc->pending_ops_ = 0;
    }
    other_.clear();
  }
  for (auto& [vc, ops] : work) vc->ApplyOps(ops);
}

bool NetHandler::Poll() {
  DrainOtherThreads();
  RunReadyList(NetSide::kRead);
  RunReadyList(NetSide::kWrite);
  FreeReleased();
  return !read_ready_.empty() || !write_ready_.empty();
}

void NetHandler::RunReadyList(NetSide side) {
  std::vector<UnixNetVConnection*>& list = side == NetSide::kRead ? read_ready_ : write_ready_;
  if (list.empty()) return;
  std::vector<UnixNetVConnection*> work;
  work.swap(list);
  for (UnixNetVConnection* vc : work) {
    UnixNetVConnection::Side& s = vc->side(side);
    s.queued = false;
    if (vc->released_) continue;
    if (s.enabled && s.triggered && !s.shut) {
      if (side == NetSide::kRead) {
        vc->NetRead();
      } else {
        vc->NetWrite();
      }
    }
    // Still ready (more data, or the VIO's mutex was busy): run again next pass.
    if (!vc->released_) MarkReady(vc, side);
  }
}

void NetHandler::FreeReleased() {
  if (released_.empty()) return;
  // Forget released connections in the ready lists before freeing them.
  auto gone = [](UnixNetVConnection* vc) { return vc->released_; };
  read_ready_.erase(std::remove_if(read_ready_.begin(), read_ready_.end(), gone),
                    read_ready_.end());
  write_ready_.erase(std::remove_if(write_ready_.begin(), write_ready_.end(), gone),
                     write_ready_.end());
  std::vector<UnixNetVConnection*> to_free;
  to_free.swap(released_);
  for (UnixNetVConnection* vc : to_free) delete vc;
}

void NetHandler::RunCop() {
  int64_t now = MonotonicNowNs();
  // Collect first: callbacks may close connections, which unlinks them from the open list.
  // Closed ones are only freed at the end of a Poll, so the pointers stay valid here.
  std::vector<UnixNetVConnection*> due;
  for (UnixNetVConnection* vc = open_head_; vc != nullptr; vc = vc->open_next_) {
    bool inactive =
        vc->inactivity_timeout_ns_ > 0 && now - vc->last_activity_ns_ >= vc->inactivity_timeout_ns_;
    bool over_age = vc->active_deadline_ns_ > 0 && now >= vc->active_deadline_ns_;
    if (inactive || over_age) due.push_back(vc);
  }
  for (UnixNetVConnection* vc : due) {
    if (!vc->released_) vc->CheckTimeouts(now);
  }
}

}  // namespace tollgate
