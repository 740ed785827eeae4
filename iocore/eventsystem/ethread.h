// EThread: an event thread and its loop.
//
// Each pass of the loop:
//   1. drains the external queue (events other threads scheduled here; an eventfd wakes the
//      loop, at most one write per batch of pushes),
//   2. runs the local queue (immediate events scheduled from this thread, no lock), only those
//      present when the pass began,
//   3. runs due timed events,
//   4. runs the pollers (the NetHandler on ET_NET threads),
//   5. sleeps in epoll_wait until the next timed event, a wake-up or socket readiness.
//
// An event runs with its continuation's mutex held. The loop only try-locks it; when another
// thread holds it, the event is retried on a later pass (kLockRetryDelay later), never spun on.
//
//   absl::StatusOr<std::unique_ptr<EThread>> t = EThread::Create(ThreadGroup::kNet, 0);
//   (*t)->Start();
//   (*t)->ScheduleImm(&cont);
//   (*t)->RequestStop();
//   (*t)->Join();

#ifndef TOLLGATE_IOCORE_EVENTSYSTEM_ETHREAD_H_
#define TOLLGATE_IOCORE_EVENTSYSTEM_ETHREAD_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "iocore/eventsystem/clock.h"
#include "iocore/eventsystem/continuation.h"
#include "iocore/eventsystem/event.h"
#include "iocore/eventsystem/mutex.h"

namespace tollgate {

// ThreadGroup: ATS's ET_NET (sockets, TLS, hooks) and ET_TASK (blocking work).
enum class ThreadGroup : uint8_t {
  kNet,
  kTask,
};

// ThreadGroupName returns "ET_NET" or "ET_TASK".
const char* ThreadGroupName(ThreadGroup group);

// EpollTarget receives readiness for a file descriptor registered in an EThread's epoll set
// with epoll_event.data.ptr pointing at it. OnEpollEvent runs on the thread's loop, inside
// epoll dispatch: it must only record readiness (the poller acts on it in Poll) and must not
// destroy any EpollTarget, since later entries of the same epoll batch may point at it.
class EpollTarget {
 public:
  virtual void OnEpollEvent(uint32_t epoll_events) = 0;

 protected:
  ~EpollTarget() = default;
};

// Poller runs once per loop pass, after timers and before the thread sleeps.
class Poller {
 public:
  virtual ~Poller() = default;
  // Poll does the poller's work and returns true if it has more work ready now, in which case
  // the loop does not sleep.
  virtual bool Poll() = 0;
};

struct EThreadStats {
  uint64_t loops = 0;  // loop passes
  uint64_t events_run = 0;  // handlers called
  uint64_t lock_retries = 0;  // events deferred because the continuation's mutex was busy
  uint64_t wakeups = 0;  // eventfd writes by other threads
};

class EThread {
 public:
  // Delay before an event whose continuation's mutex was busy is tried again.
  static constexpr Nanoseconds kLockRetryDelay = std::chrono::milliseconds(1);
  // The longest a wake of another thread waits for the end of this thread's pass.
  static constexpr Nanoseconds kMaxWakeDeferral = std::chrono::microseconds(100);

  // Create returns a thread (not yet started) with its epoll set and eventfd, or the system
  // error that prevented making them.
  static absl::StatusOr<std::unique_ptr<EThread>> Create(ThreadGroup group, int index);

  // The destructor stops and joins the thread if it is running.
  ~EThread();
  EThread(const EThread&) = delete;
  EThread& operator=(const EThread&) = delete;

  // Start spawns the OS thread and runs the loop on it. |init|, if given, runs first on the new
  // thread (this_ethread() already set): the net layer uses it to attach its NetHandler. Start
  // returns once |init| has returned.
  void Start(std::function<void(EThread&)> init = nullptr);

  // RequestStop asks the loop to exit after its current pass. Any thread.
  void RequestStop();

  // Join waits for the loop to exit, then returns every event still queued to the free list
  // (their handlers do not run). Not from the thread itself.
  void Join();

  // Scheduling. Any thread; the event runs on this thread. Each returns an Action that can
  // cancel it. |cont| must stay alive until the event ran or was cancelled.
  //
  // Waking: scheduling onto a sleeping thread writes its eventfd. When the scheduler is an
  // ET_NET thread, that write is deferred to the end of the scheduler's pass (or until
  // kMaxWakeDeferral has passed, checked between events), so a pass that hands many events to
  // a TASK thread (plugin hooks parked on the pool) wakes it once. Other schedulers wake at
  // once: a TASK handler may block after scheduling.
  //
  // ScheduleImm runs |cont| on the next pass (ATS schedule_imm). Immediate events scheduled by
  // one thread run in the order they were scheduled.
  Action ScheduleImm(Continuation* cont, EventCode code = EventCode::kImmediate,
                     void* cookie = nullptr);
  // ScheduleIn runs |cont| no earlier than |delay| from now (ATS schedule_in).
  Action ScheduleIn(Continuation* cont, Nanoseconds delay, EventCode code = EventCode::kInterval,
                    void* cookie = nullptr);
  // ScheduleAt runs |cont| no earlier than |when| (ATS schedule_at).
  Action ScheduleAt(Continuation* cont, SteadyTime when, EventCode code = EventCode::kInterval,
                    void* cookie = nullptr);
  // ScheduleEvery runs |cont| every |period| (first run one period from now) until the Action is
  // cancelled (ATS schedule_every). |period| must be positive; a non-positive period is treated
  // as one nanosecond. Missed periods are skipped, not run back to back.
  Action ScheduleEvery(Continuation* cont, Nanoseconds period,
                       EventCode code = EventCode::kInterval, void* cookie = nullptr);

  // Own thread only.
  //
  // AddPoller registers |poller| (not owned) to run every pass. Call from this thread (or from
  // the Start init callback).
  void AddPoller(Poller* poller);
  // AtExit registers |fn| to run on this thread after its loop ends, in reverse order of
  // registration, before pending events are dropped. Own thread only.
  void AtExit(std::function<void()> fn);
  // epoll_fd returns the thread's epoll set, for registering EpollTargets.
  int epoll_fd() const { return epoll_fd_; }

  // IsCurrent returns whether the calling thread is this EThread.
  bool IsCurrent() const;

  // pass_now_ns returns MonotonicNowNs() as read when the current loop pass began (after the wait
  // for activity): one clock read per pass for bookkeeping that can be a pass late, such as
  // connection activity stamps. Own thread only.
  int64_t pass_now_ns() const { return pass_now_ns_; }

  ThreadGroup group() const { return group_; }
  int index() const { return index_; }

  // stats returns counters; any thread (values are a recent snapshot).
  EThreadStats stats() const;

 private:
  friend class Action;

  EThread(ThreadGroup group, int index, int epoll_fd, int wake_fd);

  Action Schedule(Continuation* cont, EventCode code, void* cookie, int64_t timeout_at_ns,
                  int64_t period_ns);
  void Loop();
  // Wake writes this thread's eventfd.
  void Wake();
  // FlushDeferredWakes wakes the threads this one deferred waking (own thread).
  void FlushDeferredWakes();
  void MaybeFlushDeferredWakes() {
    if (!deferred_wakes_.empty() &&
        MonotonicNowNs() - deferred_since_ns_ >= kMaxWakeDeferral.count()) {
      FlushDeferredWakes();
    }
  }
  void DrainExternalQueue();
  void RunLocalQueue();
  void RunDueTimers();
  void Process(Event* e);
  void WaitForActivity(int64_t timeout_ns);
  int64_t NextTimeoutNs();
  void DiscardPending();

  // Own-thread cancellation: marks the event and, if it sits in the timer heap, removes and
  // frees it at once so heavy schedule/cancel traffic does not grow the heap.
  void CancelOwnEvent(Event* e, uint64_t generation);

  // Local FIFO and timer heap: touched only by this thread.
  void LocalPush(Event* e);
  void HeapPush(Event* e);
  Event* HeapPop();
  void HeapRemove(Event* e);
  void HeapSiftUp(size_t i);
  void HeapSiftDown(size_t i);

  const ThreadGroup group_;
  const int index_;
  const int epoll_fd_;
  const int wake_fd_;
  std::thread thread_;
  std::atomic<bool> stop_{false};

  std::vector<Poller*> pollers_;
  std::vector<std::function<void()>> at_exit_;
  // Threads this one scheduled onto and has yet to wake, and since when (own thread only).
  std::vector<EThread*> deferred_wakes_;
  int64_t deferred_since_ns_ = 0;
  Event* local_head_ = nullptr;
  Event* local_tail_ = nullptr;
  std::vector<Event*> heap_;

  Mutex external_mu_;
  Event* external_head_ ABSL_GUARDED_BY(external_mu_) = nullptr;
  Event* external_tail_ ABSL_GUARDED_BY(external_mu_) = nullptr;
  // Set when an eventfd write is outstanding; cleared when the loop drains. Bounds wake-ups to
  // one write per batch.
  bool wake_pending_ ABSL_GUARDED_BY(external_mu_) = false;

  std::atomic<uint64_t> loops_{0};
  int64_t pass_now_ns_ = 0;
  std::atomic<uint64_t> events_run_{0};
  std::atomic<uint64_t> lock_retries_{0};
  std::atomic<uint64_t> wakeups_{0};
};

// this_ethread returns the EThread running on the calling thread, or null on other threads.
EThread* this_ethread();

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_EVENTSYSTEM_ETHREAD_H_
