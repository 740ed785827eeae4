#include "iocore/eventsystem/ethread.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tollgate {
namespace {

thread_local EThread* tls_this_ethread = nullptr;

constexpr int kMaxEpollEvents = 256;

}  // namespace

const char* ThreadGroupName(ThreadGroup group) {
  switch (group) {
    case ThreadGroup::kNet:
      return "ET_NET";
    case ThreadGroup::kTask:
      return "ET_TASK";
  }
  return "ET_UNKNOWN";
}

EThread* this_ethread() { return tls_this_ethread; }

absl::StatusOr<std::unique_ptr<EThread>> EThread::Create(ThreadGroup group, int index) {
  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) {
    return absl::ErrnoToStatus(errno, "epoll_create1");
  }
  int wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    int err = errno;
    close(epoll_fd);
    return absl::ErrnoToStatus(err, "eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // null marks the wake-up eventfd
  if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev) != 0) {
    int err = errno;
    close(wake_fd);
    close(epoll_fd);
    return absl::ErrnoToStatus(err, "epoll_ctl(ADD eventfd)");
  }
  return std::unique_ptr<EThread>(new EThread(group, index, epoll_fd, wake_fd));
}

EThread::EThread(ThreadGroup group, int index, int epoll_fd, int wake_fd)
    : group_(group), index_(index), epoll_fd_(epoll_fd), wake_fd_(wake_fd) {}

EThread::~EThread() {
  if (thread_.joinable()) {
    RequestStop();
    Join();
  } else {
    DiscardPending();
  }
  close(wake_fd_);
  close(epoll_fd_);
}

void EThread::Start(std::function<void(EThread&)> init) {
  std::promise<void> ready;
  std::future<void> started = ready.get_future();
  thread_ = std::thread([this, init = std::move(init), ready = std::move(ready)]() mutable {
    tls_this_ethread = this;
    if (init) init(*this);
    ready.set_value();
    Loop();
    FlushDeferredWakes();
    while (!at_exit_.empty()) {
      std::function<void()> fn = std::move(at_exit_.back());
      at_exit_.pop_back();
      fn();
    }
    FlushDeferredWakes();
    tls_this_ethread = nullptr;
  });
  started.wait();
}

void EThread::RequestStop() {
  stop_.store(true, std::memory_order_release);
  uint64_t one = 1;
  // A failed write means the counter is saturated, so the loop is awake anyway.
  (void)!write(wake_fd_, &one, sizeof(one));
}

void EThread::Join() {
  if (thread_.joinable()) thread_.join();
  DiscardPending();
}

bool EThread::IsCurrent() const { return tls_this_ethread == this; }

EThreadStats EThread::stats() const {
  return {loops_.load(std::memory_order_relaxed), events_run_.load(std::memory_order_relaxed),
          lock_retries_.load(std::memory_order_relaxed), wakeups_.load(std::memory_order_relaxed)};
}

void EThread::AddPoller(Poller* poller) { pollers_.push_back(poller); }

void EThread::AtExit(std::function<void()> fn) { at_exit_.push_back(std::move(fn)); }

Action EThread::ScheduleImm(Continuation* cont, EventCode code, void* cookie) {
  return Schedule(cont, code, cookie, /*timeout_at_ns=*/0, /*period_ns=*/0);
}

Action EThread::ScheduleIn(Continuation* cont, Nanoseconds delay, EventCode code, void* cookie) {
  int64_t at = MonotonicNowNs() + std::max<int64_t>(delay.count(), 0);
  return Schedule(cont, code, cookie, std::max<int64_t>(at, 1), 0);
}

Action EThread::ScheduleAt(Continuation* cont, SteadyTime when, EventCode code, void* cookie) {
  return Schedule(cont, code, cookie, std::max<int64_t>(ToNs(when), 1), 0);
}

Action EThread::ScheduleEvery(Continuation* cont, Nanoseconds period, EventCode code,
                              void* cookie) {
  int64_t p = std::max<int64_t>(period.count(), 1);
  return Schedule(cont, code, cookie, MonotonicNowNs() + p, p);
}

Action EThread::Schedule(Continuation* cont, EventCode code, void* cookie, int64_t timeout_at_ns,
                         int64_t period_ns) {
  Event* e = AllocEvent();
  e->cont_ = cont;
  e->code_ = code;
  e->cookie_ = cookie;
  e->thread_ = this;
  e->timeout_at_ns_ = timeout_at_ns;
  e->period_ns_ = period_ns;
  // Build the Action before publishing: once queued, the event may run and be recycled.
  Action action(e, e->generation(), this);

  if (IsCurrent()) {
    if (timeout_at_ns == 0) {
      LocalPush(e);
    } else {
      HeapPush(e);
    }
    return action;
  }

  bool need_wake;
  {
    MutexGuard lock(&external_mu_);
    if (external_tail_ == nullptr) {
      external_head_ = e;
    } else {
      external_tail_->next_ = e;
    }
    external_tail_ = e;
    need_wake = !wake_pending_;
    wake_pending_ = true;
  }
  if (need_wake) {
    // Only ET_NET threads defer: their handlers never block, so the end of the pass is near. A
    // TASK handler may block after scheduling, and its wake must not wait for that.
    EThread* self = tls_this_ethread;
    if (self == nullptr || self->group_ != ThreadGroup::kNet) {
      Wake();
    } else {
      if (self->deferred_wakes_.empty()) self->deferred_since_ns_ = MonotonicNowNs();
      self->deferred_wakes_.push_back(this);
    }
  }
  return action;
}

void EThread::Wake() {
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  wakeups_.fetch_add(1, std::memory_order_relaxed);
}

void EThread::FlushDeferredWakes() {
  // Each target is in the list at most once per wake it owes (its wake_pending_ guards it).
  for (EThread* target : deferred_wakes_) target->Wake();
  deferred_wakes_.clear();
}

void EThread::Loop() {
  while (!stop_.load(std::memory_order_acquire)) {
    loops_.fetch_add(1, std::memory_order_relaxed);
    pass_now_ns_ = MonotonicNowNs();
    DrainExternalQueue();
    RunLocalQueue();
    RunDueTimers();
    bool more = false;
    for (Poller* p : pollers_) more |= p->Poll();
    FlushDeferredWakes();
    WaitForActivity(more ? 0 : NextTimeoutNs());
  }
}

void EThread::DrainExternalQueue() {
  Event* e;
  {
    MutexGuard lock(&external_mu_);
    e = std::exchange(external_head_, nullptr);
    external_tail_ = nullptr;
    wake_pending_ = false;
  }
  while (e != nullptr) {
    Event* next = std::exchange(e->next_, nullptr);
    if (e->cancelled()) {
      FreeEvent(e);
    } else if (e->timeout_at_ns_ == 0) {
      LocalPush(e);
    } else {
      HeapPush(e);
    }
    e = next;
  }
}

void EThread::RunLocalQueue() {
  // Only what is queued now: events scheduled by these handlers wait for the next pass, so a
  // continuation that keeps rescheduling itself cannot starve timers and sockets.
  Event* e = std::exchange(local_head_, nullptr);
  local_tail_ = nullptr;
  while (e != nullptr) {
    Event* next = std::exchange(e->next_, nullptr);
    Process(e);
    MaybeFlushDeferredWakes();
    e = next;
  }
}

void EThread::RunDueTimers() {
  if (heap_.empty()) return;
  int64_t now = MonotonicNowNs();
  while (!heap_.empty() && heap_.front()->timeout_at_ns_ <= now) {
    Process(HeapPop());
    MaybeFlushDeferredWakes();
  }
}

void EThread::Process(Event* e) {
  if (e->cancelled()) {
    FreeEvent(e);
    return;
  }
  Continuation* cont = e->cont_;
  {
    MutexTryLock lock(cont->mutex().get());
    if (!lock.locked()) {
      lock_retries_.fetch_add(1, std::memory_order_relaxed);
      e->timeout_at_ns_ = MonotonicNowNs() + kLockRetryDelay.count();
      HeapPush(e);
      return;
    }
    // Checked again under the mutex: a canceller holding it is guaranteed to win.
    if (e->cancelled()) {
      FreeEvent(e);
      return;
    }
    events_run_.fetch_add(1, std::memory_order_relaxed);
    cont->HandleEvent(e->code_, e);
    // |cont| may be gone now; the guard holds its own reference to the mutex.
  }
  if (e->period_ns_ > 0 && !e->cancelled()) {
    int64_t now = MonotonicNowNs();
    e->timeout_at_ns_ += e->period_ns_;
    if (e->timeout_at_ns_ <= now) e->timeout_at_ns_ = now + e->period_ns_;
    HeapPush(e);
  } else {
    FreeEvent(e);
  }
}

int64_t EThread::NextTimeoutNs() {
  if (local_head_ != nullptr) return 0;
  if (heap_.empty()) return -1;
  return std::max<int64_t>(heap_.front()->timeout_at_ns_ - MonotonicNowNs(), 0);
}

void EThread::WaitForActivity(int64_t timeout_ns) {
  epoll_event events[kMaxEpollEvents];
  // epoll_pwait2 (Linux 5.11) sleeps with nanosecond precision; older kernels get epoll_wait,
  // rounded up to whole milliseconds so that a timer is never woken for early.
  static std::atomic<bool> have_pwait2{true};
  int n = -1;
  if (have_pwait2.load(std::memory_order_relaxed)) {
    timespec ts{static_cast<time_t>(timeout_ns / 1000000000),
                static_cast<long>(timeout_ns % 1000000000)};
    n = epoll_pwait2(epoll_fd_, events, kMaxEpollEvents, timeout_ns < 0 ? nullptr : &ts, nullptr);
    if (n < 0 && errno == ENOSYS) have_pwait2.store(false, std::memory_order_relaxed);
  }
  if (!have_pwait2.load(std::memory_order_relaxed)) {
    int ms = timeout_ns < 0 ? -1 : static_cast<int>((timeout_ns + 999999) / 1000000);
    n = epoll_wait(epoll_fd_, events, kMaxEpollEvents, ms);
  }
  for (int i = 0; i < n; ++i) {
    if (events[i].data.ptr == nullptr) {
      uint64_t value;
      while (read(wake_fd_, &value, sizeof(value)) > 0) {
      }
      continue;
    }
    static_cast<EpollTarget*>(events[i].data.ptr)->OnEpollEvent(events[i].events);
  }
}

void EThread::CancelOwnEvent(Event* e, uint64_t generation) {
  uint64_t expected = generation << 1;
  if (!e->state_.compare_exchange_strong(expected, expected | Event::kCancelledBit,
                                         std::memory_order_acq_rel, std::memory_order_relaxed)) {
    return;  // already ran, recycled, or cancelled
  }
  if (e->heap_index_ != Event::kNotInHeap) {
    HeapRemove(e);
    FreeEvent(e);
  }
  // Otherwise it is queued (local or external) or running; whoever touches it next frees it.
}

void EThread::DiscardPending() {
  DrainExternalQueue();
  while (local_head_ != nullptr) {
    Event* e = local_head_;
    local_head_ = e->next_;
    FreeEvent(e);
  }
  local_tail_ = nullptr;
  for (Event* e : heap_) FreeEvent(e);
  heap_.clear();
}

void EThread::LocalPush(Event* e) {
  e->next_ = nullptr;
  if (local_tail_ == nullptr) {
    local_head_ = e;
  } else {
    local_tail_->next_ = e;
  }
  local_tail_ = e;
}

// Binary min-heap on timeout_at_ns_, each event knowing its index for O(log n) removal.
void EThread::HeapPush(Event* e) {
  e->heap_index_ = heap_.size();
  heap_.push_back(e);
  HeapSiftUp(e->heap_index_);
}

Event* EThread::HeapPop() {
  Event* top = heap_.front();
  HeapRemove(top);
  return top;
}

void EThread::HeapRemove(Event* e) {
  size_t i = e->heap_index_;
  size_t last = heap_.size() - 1;
  if (i != last) {
    heap_[i] = heap_[last];
    heap_[i]->heap_index_ = i;
  }
  heap_.pop_back();
  e->heap_index_ = Event::kNotInHeap;
  if (i < heap_.size()) {
    HeapSiftDown(i);
    HeapSiftUp(i);
  }
}

void EThread::HeapSiftUp(size_t i) {
  Event* e = heap_[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (heap_[parent]->timeout_at_ns_ <= e->timeout_at_ns_) break;
    heap_[i] = heap_[parent];
    heap_[i]->heap_index_ = i;
    i = parent;
  }
  heap_[i] = e;
  e->heap_index_ = i;
}

void EThread::HeapSiftDown(size_t i) {
  Event* e = heap_[i];
  size_t n = heap_.size();
  while (true) {
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap_[child + 1]->timeout_at_ns_ < heap_[child]->timeout_at_ns_) ++child;
    if (e->timeout_at_ns_ <= heap_[child]->timeout_at_ns_) break;
    heap_[i] = heap_[child];
    heap_[i]->heap_index_ = i;
    i = child;
  }
  heap_[i] = e;
  e->heap_index_ = i;
}

}  // namespace tollgate
