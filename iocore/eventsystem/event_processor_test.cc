#include "iocore/eventsystem/event_processor.h"

#include <atomic>
#include <functional>
#include <mutex>
#include <set>

#include "gtest/gtest.h"
#include "tests/util/wait.h"

namespace tollgate {
namespace {

using test_util::kTestDeadline;
using test_util::WaitCounter;

// Records which thread ran it. No mutex of its own: the set is guarded by a std::mutex.
class WhereCont : public Continuation {
 public:
  void HandleEvent(EventCode, void*) override {
    {
      std::lock_guard<std::mutex> lock(mu);
      EThread* t = this_ethread();
      threads.insert(t);
      groups.insert(t != nullptr ? static_cast<int>(t->group()) : -1);
    }
    runs.Increment();
  }
  std::mutex mu;
  std::set<EThread*> threads;
  std::set<int> groups;
  WaitCounter runs;
};

TEST(EventProcessorTest, ImmediateEventsSpreadOverEveryThreadOfTheGroup) {
  EventProcessor ep;
  ASSERT_TRUE(ep.Start({.net_threads = 3, .task_threads = 1}).ok());
  WhereCont c;
  for (int i = 0; i < 30; ++i) ep.ScheduleImm(&c, ThreadGroup::kNet);
  ASSERT_TRUE(c.runs.WaitAtLeast(30, kTestDeadline));
  std::lock_guard<std::mutex> lock(c.mu);
  EXPECT_EQ(c.threads.size(), 3u);
  EXPECT_EQ(c.groups, std::set<int>{static_cast<int>(ThreadGroup::kNet)});
}

TEST(EventProcessorTest, TaskGroupEventsRunOnTaskThreads) {
  EventProcessor ep;
  ASSERT_TRUE(ep.Start({.net_threads = 1, .task_threads = 2}).ok());
  WhereCont c;
  ep.ScheduleIn(&c, std::chrono::milliseconds(1), ThreadGroup::kTask);
  ep.ScheduleImm(&c, ThreadGroup::kTask);
  ASSERT_TRUE(c.runs.WaitAtLeast(2, kTestDeadline));
  std::lock_guard<std::mutex> lock(c.mu);
  EXPECT_EQ(c.groups, std::set<int>{static_cast<int>(ThreadGroup::kTask)});
  EXPECT_EQ(ep.thread_count(ThreadGroup::kTask), 2);
}

TEST(EventProcessorTest, ThreadInitRunsOnEachNewThreadBeforeItsEvents) {
  std::atomic<int> inits{0};
  std::atomic<bool> init_saw_itself{true};
  EventProcessor ep;
  ASSERT_TRUE(ep.Start({.net_threads = 2,
                        .task_threads = 0,
                        .net_thread_init =
                            [&](EThread& t) {
                              if (this_ethread() != &t) init_saw_itself = false;
                              inits.fetch_add(1);
                            }})
                  .ok());
  WhereCont c;
  ep.ScheduleImm(&c);
  ep.ScheduleImm(&c);
  ASSERT_TRUE(c.runs.WaitAtLeast(2, kTestDeadline));
  EXPECT_EQ(inits.load(), 2);
  EXPECT_TRUE(init_saw_itself.load());
}

TEST(EventProcessorTest, StartRejectsBadThreadCountsWithAMessage) {
  EventProcessor ep;
  absl::Status s = ep.Start({.net_threads = 0});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "net threads: 0 is outside 1..256");
  s = ep.Start({.net_threads = 1, .task_threads = -1});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(ep.Start({.net_threads = 1, .task_threads = 0}).ok());
  EXPECT_EQ(ep.Start({}).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(EventProcessorTest, ShutdownJoinsThreadsAndDropsPendingEvents) {
  WhereCont c;
  Action pending;
  {
    EventProcessor ep;
    ASSERT_TRUE(ep.Start({.net_threads = 2, .task_threads = 2}).ok());
    pending = ep.ScheduleEvery(&c, std::chrono::hours(1), ThreadGroup::kTask);
    ep.ScheduleIn(&c, std::chrono::hours(1));
    ep.Shutdown();
    ep.Shutdown();  // idempotent
  }
  pending.Cancel();  // stale after shutdown: a no-op
  EXPECT_EQ(c.runs.value(), 0);
}

}  // namespace
}  // namespace tollgate
