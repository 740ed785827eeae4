// Continuation: something that handles events, under its mutex.
//
// Every callback in Tollgate is a Continuation: a session state machine, a VIO's owner, a timer,
// a plugin's TSCont. HandleEvent is always called with mutex() held (when it is not null), on an
// event thread or by code that already holds that mutex.
//
//   class Timer : public Continuation {
//    public:
//     Timer() : Continuation(NewProxyMutex()) {}
//     void HandleEvent(EventCode code, void* data) override { ... }
//   };
//
// Lifetime: a continuation must outlive every event scheduled for it, or cancel them first
// (Action::Cancel) while holding its mutex.

#ifndef TOLLGATE_IOCORE_EVENTSYSTEM_CONTINUATION_H_
#define TOLLGATE_IOCORE_EVENTSYSTEM_CONTINUATION_H_

#include <utility>

#include "iocore/eventsystem/event_code.h"
#include "iocore/eventsystem/proxy_mutex.h"

namespace tollgate {

class Continuation {
 public:
  explicit Continuation(Ptr<ProxyMutex> mutex = nullptr) : mutex_(std::move(mutex)) {}
  virtual ~Continuation() = default;
  Continuation(const Continuation&) = delete;
  Continuation& operator=(const Continuation&) = delete;

  // HandleEvent is called with mutex() held. For scheduled events |data| is the Event*; for
  // VIO events it is the VIO*; other producers document what they pass.
  virtual void HandleEvent(EventCode code, void* data) = 0;

  const Ptr<ProxyMutex>& mutex() const { return mutex_; }
  void set_mutex(Ptr<ProxyMutex> mutex) { mutex_ = std::move(mutex); }

 private:
  Ptr<ProxyMutex> mutex_;
};

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_EVENTSYSTEM_CONTINUATION_H_
