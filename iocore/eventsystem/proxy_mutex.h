// ProxyMutex: the lock every Continuation is called under.
//
// A ProxyMutex is shared (refcounted) by every continuation that must not run concurrently with
// the others: a session, its VIOs and its timers. It is recursive for the thread holding it, so a
// handler can call into another continuation of the same session. Event threads only ever
// *try*-lock a continuation's mutex and retry later on failure (see EThread), so no net thread
// ever blocks on a plugin or another thread.
//
//   Ptr<ProxyMutex> m = NewProxyMutex();
//   {
//     MutexTryLock lock(m.get());
//     if (!lock.locked()) return Retry();
//     ...
//   }
//   { MutexLock lock(m.get()); ... }  // blocking: control plane and tests only

#ifndef TOLLGATE_IOCORE_EVENTSYSTEM_PROXY_MUTEX_H_
#define TOLLGATE_IOCORE_EVENTSYSTEM_PROXY_MUTEX_H_

#include <atomic>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "iocore/eventsystem/ref_counted.h"

namespace tollgate {

class ABSL_LOCKABLE ProxyMutex : public RefCounted {
 public:
  ProxyMutex() = default;

  // Lock blocks until the calling thread holds the mutex. Recursive: a holder may lock again and
  // must unlock as many times.
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION();

  // TryLock takes the mutex if it is free or already held by the calling thread, and returns
  // whether it did. It never blocks.
  bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true);

  // Unlock releases one level of holding. Only the holding thread may call it.
  void Unlock() ABSL_UNLOCK_FUNCTION();

  // HeldByCurrentThread returns whether the calling thread holds the mutex.
  bool HeldByCurrentThread() const;

 private:
  std::mutex mu_;
  // Identity of the holding thread (address of a thread_local), or null. Other threads read it
  // only to learn that they are not the holder, which a relaxed load answers correctly.
  std::atomic<const void*> holder_{nullptr};
  int depth_ = 0;  // written only by the holder
};

// NewProxyMutex returns a fresh, unlocked mutex.
inline Ptr<ProxyMutex> NewProxyMutex() { return MakeRef<ProxyMutex>(); }

// MutexLock holds |mutex| (if not null) for its scope, blocking to get it.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(ProxyMutex* mutex) ABSL_EXCLUSIVE_LOCK_FUNCTION(mutex) : mutex_(mutex) {
    if (mutex_ != nullptr) mutex_->Lock();
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() {
    if (mutex_ != nullptr) mutex_->Unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  ProxyMutex* const mutex_;
};

// MutexTryLock tries once to take |mutex| and, if it did, holds it for its scope. A null mutex
// counts as taken. The mutex is kept alive by a reference for the guard's lifetime, so a handler
// that destroys the continuation owning it does not pull it away from under the guard.
class MutexTryLock {
 public:
  explicit MutexTryLock(ProxyMutex* mutex) : mutex_(mutex) {
    locked_ = mutex_ == nullptr || mutex_->TryLock();
    if (!locked_) mutex_ = nullptr;
  }
  ~MutexTryLock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (mutex_ != nullptr) mutex_->Unlock();
  }
  MutexTryLock(const MutexTryLock&) = delete;
  MutexTryLock& operator=(const MutexTryLock&) = delete;

  bool locked() const { return locked_; }

 private:
  Ptr<ProxyMutex> mutex_;
  bool locked_ = false;
};

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_EVENTSYSTEM_PROXY_MUTEX_H_
