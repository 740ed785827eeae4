#include "iocore/eventsystem/event_processor.h"

#include "absl/strings/str_cat.h"

namespace tollgate {

EventProcessor::~EventProcessor() { Shutdown(); }

absl::Status EventProcessor::Start(const EventProcessorOptions& options) {
  if (!groups_[0].empty() || !groups_[1].empty()) {
    return absl::FailedPreconditionError("event processor already started");
  }
  if (options.net_threads < 1 || options.net_threads > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("net threads: ", options.net_threads, " is outside 1..256"));
  }
  if (options.task_threads < 0 || options.task_threads > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("task threads: ", options.task_threads, " is outside 0..256"));
  }
  const int counts[2] = {options.net_threads, options.task_threads};
  const ThreadGroup kinds[2] = {ThreadGroup::kNet, ThreadGroup::kTask};
  // Create every thread before starting any, so a failure leaves nothing running.
  for (int g = 0; g < 2; ++g) {
    for (int i = 0; i < counts[g]; ++i) {
      absl::StatusOr<std::unique_ptr<EThread>> t = EThread::Create(kinds[g], i);
      if (!t.ok()) {
        groups_[0].clear();
        groups_[1].clear();
        return t.status();
      }
      groups_[g].push_back(std::move(*t));
    }
  }
  for (auto& t : groups_[0]) t->Start(options.net_thread_init);
  for (auto& t : groups_[1]) t->Start(options.task_thread_init);
  return absl::OkStatus();
}

void EventProcessor::Shutdown() {
  for (auto& group : groups_) {
    for (auto& t : group) t->RequestStop();
  }
  // Join every thread before deleting any: a thread still running may schedule onto another
  // group's thread (a task thread reenabling a handshake on a net thread).
  for (auto& group : groups_) {
    for (auto& t : group) t->Join();
  }
  for (auto& group : groups_) group.clear();
}

int EventProcessor::thread_count(ThreadGroup group) const {
  return static_cast<int>(groups_[GroupIndex(group)].size());
}

EThread* EventProcessor::thread(ThreadGroup group, int index) const {
  return groups_[GroupIndex(group)][index].get();
}

EThread* EventProcessor::NextThread(ThreadGroup group) {
  int g = GroupIndex(group);
  uint32_t n = next_[g].fetch_add(1, std::memory_order_relaxed);
  return groups_[g][n % groups_[g].size()].get();
}

Action EventProcessor::ScheduleImm(Continuation* cont, ThreadGroup group, EventCode code,
                                   void* cookie) {
  return NextThread(group)->ScheduleImm(cont, code, cookie);
}

Action EventProcessor::ScheduleIn(Continuation* cont, Nanoseconds delay, ThreadGroup group,
                                  EventCode code, void* cookie) {
  return NextThread(group)->ScheduleIn(cont, delay, code, cookie);
}

Action EventProcessor::ScheduleAt(Continuation* cont, SteadyTime when, ThreadGroup group,
                                  EventCode code, void* cookie) {
  return NextThread(group)->ScheduleAt(cont, when, code, cookie);
}

Action EventProcessor::ScheduleEvery(Continuation* cont, Nanoseconds period, ThreadGroup group,
                                     EventCode code, void* cookie) {
  return NextThread(group)->ScheduleEvery(cont, period, code, cookie);
}

}  // namespace tollgate
