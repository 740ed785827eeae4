// ThreadLiveSet<T>: the objects of type T alive on the calling EThread, ended when it stops.
//
// Sessions and tunnels live on one net thread and free themselves when they are done. When the
// thread stops first (a shutdown, or a drain cut short), the ones still open must end too,
// before the net layer closes their connections without callbacks. Each EThread gets one set
// per T on first use; when its loop ends (EThread::AtExit) the set calls
// T::EndForThreadExit() on every member still in it, then frees itself.
//
//   ThreadLiveSet<Session>* live = ThreadLiveSet<Session>::ForCurrentThread();
//   live->Add(this);     // when the session starts
//   live->Remove(this);  // when it ends, also from inside EndForThreadExit
//
// The first use on a thread must come after its NetHandler is attached (any object made on a
// running net thread does), so that the set ends its members before the handler closes their
// connections: AtExit runs in reverse order of registration. Own thread only.

#ifndef TOLLGATE_IOCORE_EVENTSYSTEM_THREAD_LIVE_SET_H_
#define TOLLGATE_IOCORE_EVENTSYSTEM_THREAD_LIVE_SET_H_

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "iocore/eventsystem/ethread.h"

namespace tollgate {

template <typename T>
class ThreadLiveSet {
 public:
  // ForCurrentThread returns the calling EThread's set, made on first use; null off an EThread.
  static ThreadLiveSet* ForCurrentThread() {
    thread_local ThreadLiveSet* set = nullptr;
    if (set != nullptr) return set;
    EThread* thread = this_ethread();
    if (thread == nullptr) return nullptr;
    set = new ThreadLiveSet;
    thread->AtExit([] {
      ThreadLiveSet* self = std::exchange(set, nullptr);
      // Taken out first, so that a member removing itself while it ends finds an empty set.
      absl::flat_hash_set<T*> ending = std::move(self->live_);
      self->live_.clear();
      for (T* object : ending) object->EndForThreadExit();
      delete self;
    });
    return set;
  }

  void Add(T* object) { live_.insert(object); }
  void Remove(T* object) { live_.erase(object); }
  size_t size() const { return live_.size(); }

 private:
  ThreadLiveSet() = default;

  absl::flat_hash_set<T*> live_;
};

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_EVENTSYSTEM_THREAD_LIVE_SET_H_
