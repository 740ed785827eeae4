// Mutex: a plain (non-recursive) lock that clang's thread-safety analysis understands.
//
// libstdc++'s std::mutex carries no capability annotations, so ABSL_GUARDED_BY on it does not
// compile under -Wthread-safety. Abseil's own Mutex would, but Debian's Abseil is not built for
// ThreadSanitizer, which then cannot see its synchronisation. This wrapper gives both.
//
//   Mutex mu_;
//   int count_ ABSL_GUARDED_BY(mu_);
//   { MutexGuard lock(&mu_); ++count_; }
//
// For continuations use ProxyMutex, which is recursive and refcounted.

#ifndef TOLLGATE_IOCORE_EVENTSYSTEM_MUTEX_H_
#define TOLLGATE_IOCORE_EVENTSYSTEM_MUTEX_H_

#include <mutex>

#include "absl/base/thread_annotations.h"

namespace tollgate {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) { return mu_.try_lock(); }

 private:
  std::mutex mu_;
};

// MutexGuard holds a Mutex for its scope.
class ABSL_SCOPED_LOCKABLE MutexGuard {
 public:
  explicit MutexGuard(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexGuard() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexGuard(const MutexGuard&) = delete;
  MutexGuard& operator=(const MutexGuard&) = delete;

 private:
  Mutex* const mu_;
};

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_EVENTSYSTEM_MUTEX_H_
