// EventProcessor: the thread groups and scheduling across them.
//
// ET_NET threads run sockets, TLS and plugin hooks; ET_TASK threads run blocking work (disk,
// plugin jobs scheduled on TS_THREAD_POOL_TASK). Scheduling on a group picks its threads in
// turn.
//
//   EventProcessor ep;
//   absl::Status s = ep.Start({.net_threads = 2, .task_threads = 1});
//   ep.ScheduleImm(&cont, ThreadGroup::kTask);
//   ep.Shutdown();  // stops and joins every thread; pending events are dropped

#ifndef TOLLGATE_IOCORE_EVENTSYSTEM_EVENT_PROCESSOR_H_
#define TOLLGATE_IOCORE_EVENTSYSTEM_EVENT_PROCESSOR_H_

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "iocore/eventsystem/ethread.h"

namespace tollgate {

struct EventProcessorOptions {
  int net_threads = 1;  // at least 1
  int task_threads = 1;  // at least 0
  // Run on each new thread of the group before its loop starts (e.g. attach a NetHandler).
  std::function<void(EThread&)> net_thread_init;
  std::function<void(EThread&)> task_thread_init;
};

class EventProcessor {
 public:
  EventProcessor() = default;
  // The destructor shuts down if still running.
  ~EventProcessor();
  EventProcessor(const EventProcessor&) = delete;
  EventProcessor& operator=(const EventProcessor&) = delete;

  // Start creates and starts the threads. It returns InvalidArgument for thread counts out of
  // range (net 1..256, task 0..256), FailedPrecondition if already started, or the system error
  // that stopped a thread from being created (then nothing is left running).
  absl::Status Start(const EventProcessorOptions& options);

  // Shutdown stops and joins every thread and drops their pending events. Idempotent. Not from
  // an event thread. Actions for dropped events become no-ops.
  void Shutdown();

  // thread_count returns the number of threads in |group|.
  int thread_count(ThreadGroup group) const;
  // thread returns thread |index| of |group|; |index| must be below thread_count(group).
  EThread* thread(ThreadGroup group, int index) const;
  // NextThread returns the group's threads in turn. The group must not be empty.
  EThread* NextThread(ThreadGroup group);

  // Scheduling on a group; see EThread for each call's contract.
  Action ScheduleImm(Continuation* cont, ThreadGroup group = ThreadGroup::kNet,
                     EventCode code = EventCode::kImmediate, void* cookie = nullptr);
  Action ScheduleIn(Continuation* cont, Nanoseconds delay, ThreadGroup group = ThreadGroup::kNet,
                    EventCode code = EventCode::kInterval, void* cookie = nullptr);
  Action ScheduleAt(Continuation* cont, SteadyTime when, ThreadGroup group = ThreadGroup::kNet,
                    EventCode code = EventCode::kInterval, void* cookie = nullptr);
  Action ScheduleEvery(Continuation* cont, Nanoseconds period,
                       ThreadGroup group = ThreadGroup::kNet, EventCode code = EventCode::kInterval,
                       void* cookie = nullptr);

 private:
  static int GroupIndex(ThreadGroup group) { return group == ThreadGroup::kNet ? 0 : 1; }

  std::array<std::vector<std::unique_ptr<EThread>>, 2> groups_;
  std::array<std::atomic<uint32_t>, 2> next_{};
};

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_EVENTSYSTEM_EVENT_PROCESSOR_H_
