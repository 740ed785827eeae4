// Event and Action: one scheduled callback, and the handle that cancels it.
//
// An Event is owned by the event system from the moment it is scheduled until it has run (or,
// for a periodic event, until it is cancelled); callers never free one. They hold an Action, a
// small value that can cancel the event from any thread and stays harmless after the event has
// run: events are recycled through free lists with a generation number, and an Action whose
// generation is stale cancels nothing.
//
//   Action a = thread->ScheduleIn(&timer, std::chrono::milliseconds(50));
//   ...
//   a.Cancel();  // no-op if it already ran

#ifndef TOLLGATE_IOCORE_EVENTSYSTEM_EVENT_H_
#define TOLLGATE_IOCORE_EVENTSYSTEM_EVENT_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "iocore/eventsystem/event_code.h"

namespace tollgate {

class Continuation;
class EThread;

class Event {
 public:
  // continuation returns who the event is for.
  Continuation* continuation() const { return cont_; }
  // code returns the EventCode the handler receives.
  EventCode code() const { return code_; }
  // cookie returns the opaque pointer given at scheduling.
  void* cookie() const { return cookie_; }
  // ethread returns the thread the event runs on.
  EThread* ethread() const { return thread_; }
  // period_ns returns the period of a ScheduleEvery event, 0 for one-shot events.
  int64_t period_ns() const { return period_ns_; }
  // cancelled returns whether the event's Action was cancelled.
  bool cancelled() const { return (state_.load(std::memory_order_acquire) & kCancelledBit) != 0; }

 private:
  friend class Action;
  friend class EThread;
  friend Event* AllocEvent();
  friend void FreeEvent(Event*);

  static constexpr uint64_t kCancelledBit = 1;
  static constexpr size_t kNotInHeap = static_cast<size_t>(-1);

  Event() = default;
  ~Event() = default;

  uint64_t generation() const { return state_.load(std::memory_order_relaxed) >> 1; }

  // (generation << 1) | cancelled. Cancel is a compare-and-swap on the whole word, so a stale
  // Action can never cancel a recycled event.
  std::atomic<uint64_t> state_{0};
  Continuation* cont_ = nullptr;
  EventCode code_ = EventCode::kNone;
  void* cookie_ = nullptr;
  EThread* thread_ = nullptr;
  int64_t timeout_at_ns_ = 0;  // 0: immediate
  int64_t period_ns_ = 0;
  Event* next_ = nullptr;  // intrusive FIFO link (local and external queues)
  size_t heap_index_ = kNotInHeap;  // position in the owning thread's timer heap
};

class Action {
 public:
  Action() = default;

  // Cancel stops the event from running. It is safe from any thread, and a no-op when the event
  // has already run (one-shot) or was cancelled.
  //
  // Guarantee: when called on the event's own thread, or while holding the continuation's mutex,
  // the handler does not run after Cancel returns. Called from another thread without that
  // mutex, a run that had already passed its cancellation check may still happen once; hold
  // the mutex when that matters.
  void Cancel();

  // empty returns whether this Action was never given an event.
  bool empty() const { return event_ == nullptr; }

 private:
  friend class EThread;
  Action(Event* event, uint64_t generation, EThread* thread)
      : event_(event), generation_(generation), thread_(thread) {}

  Event* event_ = nullptr;
  uint64_t generation_ = 0;
  EThread* thread_ = nullptr;
};

// AllocEvent returns a reset Event from the calling thread's free list (refilled from a process
// pool, or freshly allocated). Event system internal.
Event* AllocEvent();

// FreeEvent bumps the event's generation (invalidating every Action for it) and returns it to
// the calling thread's free list. Event system internal.
void FreeEvent(Event* event);

// EventAllocatorStats counts allocations served by free lists versus fresh from the heap.
struct EventAllocatorStats {
  uint64_t reused = 0;
  uint64_t fresh = 0;
};

// GetEventAllocatorStats returns the process-wide counters.
EventAllocatorStats GetEventAllocatorStats();

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_EVENTSYSTEM_EVENT_H_
