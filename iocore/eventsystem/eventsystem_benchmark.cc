// Event system benchmarks. Run: bazel run --config=opt //iocore/eventsystem:eventsystem_benchmark
//
// Work that must happen on an event thread (same-thread scheduling, own-thread cancel) is timed
// on that thread and reported as manual time; the benchmark thread only waits for it.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "benchmark/benchmark.h"
#include "iocore/eventsystem/ethread.h"

namespace tollgate {
namespace {

std::unique_ptr<EThread> StartThread() {
  absl::StatusOr<std::unique_ptr<EThread>> t = EThread::Create(ThreadGroup::kNet, 0);
  if (!t.ok()) abort();
  (*t)->Start();
  return std::move(*t);
}

// Runs |fn| once on |thread| and blocks until it returned.
class OnThread : public Continuation {
 public:
  explicit OnThread(std::function<void()> fn) : fn_(std::move(fn)) {}
  void HandleEvent(EventCode, void*) override {
    fn_();
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    cv_.notify_all();
  }
  void RunOn(EThread* thread) {
    done_ = false;
    thread->ScheduleImm(this);
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
  }

 private:
  std::function<void()> fn_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

// A continuation that reschedules itself on its own thread |remaining| times.
class SelfRescheduler : public Continuation {
 public:
  SelfRescheduler() : Continuation(NewProxyMutex()) {}
  void HandleEvent(EventCode, void*) override {
    if (--remaining > 0) {
      this_ethread()->ScheduleImm(this);
      return;
    }
    int64_t end = MonotonicNowNs();
    std::lock_guard<std::mutex> lock(mu);
    end_ns = end;
    done = true;
    cv.notify_all();
  }
  int64_t remaining = 0;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  int64_t end_ns = 0;
};

void BM_SameThreadScheduleImm(benchmark::State& state) {
  constexpr int64_t kBatch = 100000;
  auto thread = StartThread();
  SelfRescheduler cont;
  // Allocations from the system after the first batch: the free lists should serve everything.
  uint64_t fresh_after_first_batch = 0;
  bool first = true;
  for (auto _ : state) {
    int64_t start = 0;
    OnThread kick([&] {
      cont.remaining = kBatch;
      cont.done = false;
      start = MonotonicNowNs();
      this_ethread()->ScheduleImm(&cont);
    });
    kick.RunOn(thread.get());
    {
      std::unique_lock<std::mutex> lock(cont.mu);
      cont.cv.wait(lock, [&] { return cont.done; });
      state.SetIterationTime(static_cast<double>(cont.end_ns - start) / 1e9);
    }
    if (first) {
      first = false;
      fresh_after_first_batch = GetEventAllocatorStats().fresh;
    }
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["fresh_allocs_after_first_batch"] =
      static_cast<double>(GetEventAllocatorStats().fresh - fresh_after_first_batch);
}
BENCHMARK(BM_SameThreadScheduleImm)->UseManualTime()->Unit(benchmark::kMillisecond);

// Cross-thread wake-up latency: the benchmark thread schedules an immediate event on an idle
// (sleeping in epoll_wait) event thread and waits for the handler's timestamp.
class Stamp : public Continuation {
 public:
  void HandleEvent(EventCode, void*) override {
    ran_ns.store(MonotonicNowNs(), std::memory_order_release);
  }
  std::atomic<int64_t> ran_ns{0};
};

void BM_CrossThreadWakeupLatency(benchmark::State& state) {
  auto thread = StartThread();
  Stamp stamp;
  std::vector<int64_t> latencies;
  latencies.reserve(100000);
  for (auto _ : state) {
    stamp.ran_ns.store(0, std::memory_order_relaxed);
    int64_t sent = MonotonicNowNs();
    thread->ScheduleImm(&stamp);
    int64_t ran;
    // Bounded wait: a lost wake-up shows as a huge latency instead of a hang.
    int64_t give_up = sent + 1000000000;
    while ((ran = stamp.ran_ns.load(std::memory_order_acquire)) == 0 &&
           MonotonicNowNs() < give_up) {
    }
    latencies.push_back((ran == 0 ? give_up : ran) - sent);
    state.SetIterationTime(static_cast<double>(latencies.back()) / 1e9);
  }
  std::sort(latencies.begin(), latencies.end());
  if (!latencies.empty()) {
    state.counters["p50_us"] = latencies[latencies.size() / 2] / 1000.0;
    state.counters["p99_us"] = latencies[latencies.size() * 99 / 100] / 1000.0;
  }
}
BENCHMARK(BM_CrossThreadWakeupLatency)->UseManualTime()->Unit(benchmark::kMicrosecond);

// Cross-thread throughput: batches of immediate events pushed from the benchmark thread. Reports
// how many eventfd writes each batch cost.
class CountDown : public Continuation {
 public:
  void HandleEvent(EventCode, void*) override {
    if (remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu);
      cv.notify_all();
    }
  }
  std::atomic<int64_t> remaining{0};
  std::mutex mu;
  std::condition_variable cv;
};

void BM_CrossThreadScheduleImmThroughput(benchmark::State& state) {
  constexpr int64_t kBatch = 10000;
  auto thread = StartThread();
  CountDown cont;
  uint64_t wakeups_before = thread->stats().wakeups;
  for (auto _ : state) {
    cont.remaining.store(kBatch);
    for (int64_t i = 0; i < kBatch; ++i) thread->ScheduleImm(&cont);
    std::unique_lock<std::mutex> lock(cont.mu);
    cont.cv.wait(lock, [&] { return cont.remaining.load() == 0; });
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["eventfd_writes_per_batch"] =
      static_cast<double>(thread->stats().wakeups - wakeups_before) / state.iterations();
}
BENCHMARK(BM_CrossThreadScheduleImmThroughput)->Unit(benchmark::kMillisecond);

// Timer schedule + cancel on the event thread with 100,000 timers pending.
class Never : public Continuation {
 public:
  void HandleEvent(EventCode, void*) override {}
};

void BM_TimerScheduleCancelWith100kPending(benchmark::State& state) {
  constexpr int kPending = 100000;
  constexpr int64_t kBatch = 100000;
  auto thread = StartThread();
  Never never;
  std::vector<Action> pending;
  OnThread setup([&] {
    for (int i = 0; i < kPending; ++i) {
      pending.push_back(thread->ScheduleIn(&never, std::chrono::hours(1) + Nanoseconds(i * 997)));
    }
  });
  setup.RunOn(thread.get());
  for (auto _ : state) {
    double seconds = 0;
    OnThread work([&] {
      int64_t start = MonotonicNowNs();
      for (int64_t i = 0; i < kBatch; ++i) {
        Action a = thread->ScheduleIn(&never, std::chrono::minutes(30) + Nanoseconds(i * 7919));
        a.Cancel();
      }
      seconds = static_cast<double>(MonotonicNowNs() - start) / 1e9;
    });
    work.RunOn(thread.get());
    state.SetIterationTime(seconds);
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  OnThread teardown([&] {
    for (Action& a : pending) a.Cancel();
  });
  teardown.RunOn(thread.get());
}
BENCHMARK(BM_TimerScheduleCancelWith100kPending)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tollgate
