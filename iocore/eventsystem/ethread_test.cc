#include "iocore/eventsystem/ethread.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "iocore/eventsystem/thread_live_set.h"
#include "tests/util/wait.h"

namespace tollgate {
namespace {

using std::chrono::milliseconds;
using test_util::kTestDeadline;
using test_util::WaitCounter;

// A continuation that runs a function (with its mutex held) and counts its runs.
class FnCont : public Continuation {
 public:
  explicit FnCont(std::function<void(Event*)> fn = nullptr, Ptr<ProxyMutex> m = NewProxyMutex())
      : Continuation(std::move(m)), fn_(std::move(fn)) {}
  void HandleEvent(EventCode, void* data) override {
    if (fn_) fn_(static_cast<Event*>(data));
    runs.Increment();
  }
  WaitCounter runs;

 private:
  std::function<void(Event*)> fn_;
};

class EThreadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<EThread>> t = EThread::Create(ThreadGroup::kNet, 0);
    ASSERT_TRUE(t.ok()) << t.status();
    thread_ = std::move(*t);
    thread_->Start();
  }
  void TearDown() override {
    thread_->RequestStop();
    thread_->Join();
  }
  // RunOnThread runs |fn| on the event thread and waits for it.
  void RunOnThread(std::function<void()> fn) {
    FnCont c([&](Event*) { fn(); });
    thread_->ScheduleImm(&c);
    ASSERT_TRUE(c.runs.WaitAtLeast(1, kTestDeadline));
  }
  std::unique_ptr<EThread> thread_;
};

TEST_F(EThreadTest, ImmediateEventsFromAnotherThreadRunInFifoOrder) {
  constexpr int kEvents = 5000;
  std::vector<intptr_t> order;  // guarded by c's mutex
  FnCont c([&](Event* e) { order.push_back(reinterpret_cast<intptr_t>(e->cookie())); });
  for (intptr_t i = 0; i < kEvents; ++i) {
    thread_->ScheduleImm(&c, EventCode::kImmediate, reinterpret_cast<void*>(i));
  }
  ASSERT_TRUE(c.runs.WaitAtLeast(kEvents, kTestDeadline));
  MutexLock lock(c.mutex().get());
  ASSERT_EQ(order.size(), static_cast<size_t>(kEvents));
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
}

TEST_F(EThreadTest, ImmediateEventsScheduledOnOwnThreadRunInFifoOrderOnLaterPass) {
  constexpr int kEvents = 1000;
  std::vector<intptr_t> order;
  FnCont c([&](Event* e) { order.push_back(reinterpret_cast<intptr_t>(e->cookie())); });
  bool all_ran_after_scheduler_returned = false;
  RunOnThread([&] {
    for (intptr_t i = 0; i < kEvents; ++i) {
      thread_->ScheduleImm(&c, EventCode::kImmediate, reinterpret_cast<void*>(i));
    }
    // Same-thread scheduling never runs the handler inline.
    all_ran_after_scheduler_returned = order.empty();
  });
  ASSERT_TRUE(c.runs.WaitAtLeast(kEvents, kTestDeadline));
  EXPECT_TRUE(all_ran_after_scheduler_returned);
  MutexLock lock(c.mutex().get());
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  EXPECT_EQ(order.size(), static_cast<size_t>(kEvents));
}

TEST_F(EThreadTest, HandlerRunsOnTheEventThreadWithItsMutexHeld) {
  bool on_thread = false;
  bool mutex_held = false;
  FnCont* self = nullptr;
  FnCont c([&](Event* e) {
    on_thread = this_ethread() == thread_.get() && e->ethread() == thread_.get();
    mutex_held = self->mutex()->HeldByCurrentThread();
  });
  self = &c;
  thread_->ScheduleImm(&c);
  ASSERT_TRUE(c.runs.WaitAtLeast(1, kTestDeadline));
  EXPECT_TRUE(on_thread);
  EXPECT_TRUE(mutex_held);
  EXPECT_EQ(this_ethread(), nullptr);
}

TEST_F(EThreadTest, ScheduleInNeverRunsEarly) {
  constexpr int kEvents = 40;
  struct Sample {
    int64_t due_ns;
    int64_t ran_ns;
  };
  std::vector<Sample> samples(kEvents);
  FnCont c([&](Event* e) {
    samples[reinterpret_cast<intptr_t>(e->cookie())].ran_ns = MonotonicNowNs();
  });
  for (intptr_t i = 0; i < kEvents; ++i) {
    Nanoseconds delay = std::chrono::microseconds(500 * (i % 10) + 37 * i);
    samples[i].due_ns = MonotonicNowNs() + delay.count();
    thread_->ScheduleIn(&c, delay, EventCode::kInterval, reinterpret_cast<void*>(i));
  }
  ASSERT_TRUE(c.runs.WaitAtLeast(kEvents, kTestDeadline));
  MutexLock lock(c.mutex().get());
  for (int i = 0; i < kEvents; ++i) {
    EXPECT_GE(samples[i].ran_ns, samples[i].due_ns) << "event " << i << " ran early";
  }
}

TEST_F(EThreadTest, ScheduleAtRunsAtOrAfterTheGivenTime) {
  SteadyTime when = std::chrono::steady_clock::now() + milliseconds(3);
  int64_t ran_ns = 0;
  FnCont c([&](Event*) { ran_ns = MonotonicNowNs(); });
  thread_->ScheduleAt(&c, when);
  ASSERT_TRUE(c.runs.WaitAtLeast(1, kTestDeadline));
  MutexLock lock(c.mutex().get());
  EXPECT_GE(ran_ns, ToNs(when));
}

TEST_F(EThreadTest, TimersFireInDeadlineOrderAndCancelledOnesNever) {
  // Exercises the timer heap: many timers with random deadlines, a third cancelled from the
  // event thread before they are due.
  constexpr int kTimers = 3000;
  std::mt19937 rng(20261127);
  std::vector<int64_t> due(kTimers);
  std::vector<Action> actions(kTimers);
  std::vector<bool> cancelled(kTimers, false);
  std::vector<int> fired;  // timer ids in firing order
  std::atomic<int> cancelled_ran{0};
  FnCont c([&](Event* e) {
    int id = static_cast<int>(reinterpret_cast<intptr_t>(e->cookie()));
    if (cancelled[id]) cancelled_ran.fetch_add(1);
    fired.push_back(id);
  });
  int expected_runs = 0;
  RunOnThread([&] {
    int64_t base = MonotonicNowNs();
    for (intptr_t i = 0; i < kTimers; ++i) {
      Nanoseconds delay = std::chrono::microseconds(20000 + rng() % 30000);
      due[i] = base + delay.count();
      actions[i] = thread_->ScheduleAt(&c, SteadyTime(Nanoseconds(due[i])), EventCode::kInterval,
                                       reinterpret_cast<void*>(i));
    }
    for (int i = 0; i < kTimers; i += 3) {
      cancelled[i] = true;
      actions[i].Cancel();
    }
  });
  for (int i = 0; i < kTimers; ++i) expected_runs += cancelled[i] ? 0 : 1;
  ASSERT_TRUE(c.runs.WaitAtLeast(expected_runs, kTestDeadline));
  // A sentinel due after every timer proves no cancelled one fires late.
  FnCont sentinel;
  thread_->ScheduleIn(&sentinel, milliseconds(60));
  ASSERT_TRUE(sentinel.runs.WaitAtLeast(1, kTestDeadline));
  MutexLock lock(c.mutex().get());
  EXPECT_EQ(cancelled_ran.load(), 0);
  ASSERT_EQ(fired.size(), static_cast<size_t>(expected_runs));
  for (size_t i = 1; i < fired.size(); ++i) {
    EXPECT_LE(due[fired[i - 1]], due[fired[i]]) << "timer " << fired[i] << " fired out of order";
  }
}

TEST_F(EThreadTest, ScheduleEveryRepeatsUntilCancelledFromItsHandler) {
  Action action;
  std::atomic<int> count{0};
  FnCont c([&](Event*) {
    if (count.fetch_add(1) + 1 == 5) action.Cancel();
  });
  RunOnThread([&] { action = thread_->ScheduleEvery(&c, milliseconds(1)); });
  ASSERT_TRUE(c.runs.WaitAtLeast(5, kTestDeadline));
  // Twenty more periods: a periodic event that survived its cancel would have run again.
  FnCont sentinel;
  thread_->ScheduleIn(&sentinel, milliseconds(20));
  ASSERT_TRUE(sentinel.runs.WaitAtLeast(1, kTestDeadline));
  EXPECT_EQ(count.load(), 5);
}

TEST_F(EThreadTest, ContinuationWhoseMutexIsHeldElsewhereRunsOnlyAfterReleaseThenOnce) {
  FnCont c;
  c.mutex()->Lock();  // the test thread holds it
  thread_->ScheduleImm(&c);
  // Wait (bounded) until the thread has tried and deferred at least twice: it retries on a
  // timer rather than spinning or blocking on the mutex.
  bool retried = false;
  for (auto start = std::chrono::steady_clock::now();
       !retried && std::chrono::steady_clock::now() - start < kTestDeadline;) {
    retried = thread_->stats().lock_retries >= 2;
    if (!retried) std::this_thread::yield();
  }
  int64_t runs_while_held = c.runs.value();
  c.mutex()->Unlock();
  ASSERT_TRUE(retried);
  EXPECT_EQ(runs_while_held, 0);
  ASSERT_TRUE(c.runs.WaitAtLeast(1, kTestDeadline));
  FnCont sentinel;
  thread_->ScheduleIn(&sentinel, milliseconds(10));
  ASSERT_TRUE(sentinel.runs.WaitAtLeast(1, kTestDeadline));
  EXPECT_EQ(c.runs.value(), 1);
}

TEST_F(EThreadTest, StaleActionDoesNotCancelTheRecycledEvent) {
  FnCont first;
  FnCont second;
  Action stale;
  RunOnThread([&] { stale = thread_->ScheduleImm(&first); });
  ASSERT_TRUE(first.runs.WaitAtLeast(1, kTestDeadline));
  uint64_t reused_before = GetEventAllocatorStats().reused;
  // On the same thread, the freed event is the next one handed out (LIFO free list).
  RunOnThread([&] {
    thread_->ScheduleIn(&second, milliseconds(2));
    stale.Cancel();
  });
  ASSERT_TRUE(second.runs.WaitAtLeast(1, kTestDeadline));
  EXPECT_GT(GetEventAllocatorStats().reused, reused_before);
}

TEST_F(EThreadTest, CancelOnOwnThreadBeforeImmediateEventRunsPreventsIt) {
  FnCont target;
  FnCont sentinel;
  RunOnThread([&] {
    Action a = thread_->ScheduleImm(&target);
    a.Cancel();
    thread_->ScheduleImm(&sentinel);
  });
  ASSERT_TRUE(sentinel.runs.WaitAtLeast(1, kTestDeadline));
  EXPECT_EQ(target.runs.value(), 0);
}

TEST(EThreadStressTest, CancelFromOtherThreadsHoldingTheMutexWinsAgainstFiringEvents) {
  // Periodic events fire continuously on two event threads while four other threads cancel
  // them, each holding the continuation's mutex. After a cancel returns, the handler must never
  // run again. Bounded: 400 continuations, each cancelled exactly once.
  constexpr int kConts = 400;
  constexpr int kCancellers = 4;
  std::vector<std::unique_ptr<EThread>> threads;
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<std::unique_ptr<EThread>> t = EThread::Create(ThreadGroup::kNet, i);
    ASSERT_TRUE(t.ok());
    threads.push_back(std::move(*t));
    threads.back()->Start();
  }

  struct Target : Continuation {
    Target() : Continuation(NewProxyMutex()) {}
    void HandleEvent(EventCode, void*) override {
      if (cancel_returned) violations->fetch_add(1);
      ++runs;
    }
    bool cancel_returned = false;  // guarded by mutex()
    int runs = 0;  // guarded by mutex()
    Action action;
    std::atomic<int>* violations = nullptr;
  };
  std::atomic<int> violations{0};
  std::vector<std::unique_ptr<Target>> targets;
  for (int i = 0; i < kConts; ++i) {
    targets.push_back(std::make_unique<Target>());
    targets.back()->violations = &violations;
    MutexLock lock(targets.back()->mutex().get());
    targets.back()->action =
        threads[i % 2]->ScheduleEvery(targets.back().get(), std::chrono::microseconds(50 + i % 7));
  }

  std::vector<std::thread> cancellers;
  for (int k = 0; k < kCancellers; ++k) {
    cancellers.emplace_back([&, k] {
      for (int i = k; i < kConts; i += kCancellers) {
        Target* t = targets[i].get();
        MutexLock lock(t->mutex().get());
        t->action.Cancel();
        t->cancel_returned = true;
      }
    });
  }
  for (auto& c : cancellers) c.join();

  // Let both threads pass well beyond every former period before looking.
  for (auto& t : threads) {
    FnCont sentinel;
    t->ScheduleIn(&sentinel, milliseconds(5));
    ASSERT_TRUE(sentinel.runs.WaitAtLeast(1, kTestDeadline));
  }
  EXPECT_EQ(violations.load(), 0);
  for (auto& t : threads) {
    t->RequestStop();
    t->Join();
  }
}

TEST(EThreadLifecycleTest, JoinDropsPendingEventsWithoutRunningThem) {
  absl::StatusOr<std::unique_ptr<EThread>> t = EThread::Create(ThreadGroup::kTask, 0);
  ASSERT_TRUE(t.ok());
  FnCont never;
  (*t)->Start();
  (*t)->ScheduleIn(&never, std::chrono::hours(1));
  (*t)->RequestStop();
  (*t)->Join();
  EXPECT_EQ(never.runs.value(), 0);
}

TEST(EThreadLifecycleTest, DestroyingAnUnstartedThreadFreesQueuedEvents) {
  absl::StatusOr<std::unique_ptr<EThread>> t = EThread::Create(ThreadGroup::kTask, 0);
  ASSERT_TRUE(t.ok());
  FnCont never;
  (*t)->ScheduleImm(&never);
  (*t)->ScheduleIn(&never, milliseconds(1));
  t->reset();
  EXPECT_EQ(never.runs.value(), 0);
}

}  // namespace
}  // namespace tollgate

namespace tollgate {
namespace {

// A net thread that hands events to another thread from its handlers wakes that thread once
// per pass, at the end of the pass, and never leaves it asleep.
TEST(EThreadWakeTest, NetThreadWakesTheTargetOncePerPassAndTheEventsRun) {
  absl::StatusOr<std::unique_ptr<EThread>> net = EThread::Create(ThreadGroup::kNet, 0);
  absl::StatusOr<std::unique_ptr<EThread>> task = EThread::Create(ThreadGroup::kTask, 0);
  ASSERT_TRUE(net.ok() && task.ok());
  (*net)->Start();
  (*task)->Start();
  constexpr int kEvents = 50;
  FnCont target;
  const uint64_t wakeups_before = (*task)->stats().wakeups;
  // One handler on the net thread schedules every event: one pass.
  FnCont sender([&](Event*) {
    for (int i = 0; i < kEvents; ++i) (*task)->ScheduleImm(&target);
  });
  (*net)->ScheduleImm(&sender);
  ASSERT_TRUE(target.runs.WaitAtLeast(kEvents, kTestDeadline));
  // A later pass of the net thread: the wake it wrote (and counted) is then visible here.
  FnCont marker;
  (*net)->ScheduleImm(&marker);
  ASSERT_TRUE(marker.runs.WaitAtLeast(1, kTestDeadline));
  EXPECT_EQ((*task)->stats().wakeups - wakeups_before, 1u);
  (*net)->RequestStop();
  (*task)->RequestStop();
  (*net)->Join();
  (*task)->Join();
}

// A TASK handler may block after scheduling: its wake of a net thread is not deferred.
TEST(EThreadWakeTest, TaskThreadWakesTheTargetBeforeItsHandlerReturns) {
  absl::StatusOr<std::unique_ptr<EThread>> net = EThread::Create(ThreadGroup::kNet, 0);
  absl::StatusOr<std::unique_ptr<EThread>> task = EThread::Create(ThreadGroup::kTask, 0);
  ASSERT_TRUE(net.ok() && task.ok());
  (*net)->Start();
  (*task)->Start();
  FnCont target;
  WaitCounter release;
  FnCont blocker([&](Event*) {
    (*net)->ScheduleImm(&target);
    // Blocks until the net thread ran |target|: a deferred wake would never come.
    EXPECT_TRUE(target.runs.WaitAtLeast(1, kTestDeadline));
    release.Increment();
  });
  (*task)->ScheduleImm(&blocker);
  ASSERT_TRUE(release.WaitAtLeast(1, kTestDeadline));
  EXPECT_EQ(target.runs.value(), 1);
  (*net)->RequestStop();
  (*task)->RequestStop();
  (*net)->Join();
  (*task)->Join();
}

// An object that lives on the event thread; ending it removes it from its set and records it.
struct LiveThing {
  int id = 0;
  std::vector<int>* ended = nullptr;
  void EndForThreadExit() {
    ThreadLiveSet<LiveThing>::ForCurrentThread()->Remove(this);
    ended->push_back(id);
  }
};

TEST_F(EThreadTest, ThreadLiveSetEndsTheMembersLeftWhenTheThreadStops) {
  std::vector<int> ended;  // written on the event thread only, read after Join
  std::vector<LiveThing> things(4);
  bool off_thread_null = ThreadLiveSet<LiveThing>::ForCurrentThread() == nullptr;
  size_t size_before_stop = 0;
  RunOnThread([&] {
    ThreadLiveSet<LiveThing>* live = ThreadLiveSet<LiveThing>::ForCurrentThread();
    ASSERT_NE(live, nullptr);
    EXPECT_EQ(ThreadLiveSet<LiveThing>::ForCurrentThread(), live) << "one set per thread";
    for (int i = 0; i < 4; ++i) {
      things[i] = LiveThing{i, &ended};
      live->Add(&things[i]);
    }
    live->Remove(&things[1]);  // ended by itself before the stop
    size_before_stop = live->size();
  });
  thread_->RequestStop();
  thread_->Join();
  EXPECT_TRUE(off_thread_null);
  EXPECT_EQ(size_before_stop, 3u);
  std::sort(ended.begin(), ended.end());
  EXPECT_EQ(ended, (std::vector<int>{0, 2, 3}));
}

}  // namespace
}  // namespace tollgate
