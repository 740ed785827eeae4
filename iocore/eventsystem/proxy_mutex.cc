#include "iocore/eventsystem/proxy_mutex.h"

namespace tollgate {
namespace {

// A distinct address per live thread identifies the holder without a syscall.
const void* ThisThreadToken() {
  static thread_local char token;
  return &token;
}

}  // namespace

void ProxyMutex::Lock() {
  const void* self = ThisThreadToken();
  if (holder_.load(std::memory_order_relaxed) == self) {
    ++depth_;
    return;
  }
  mu_.lock();
  holder_.store(self, std::memory_order_relaxed);
  depth_ = 1;
}

bool ProxyMutex::TryLock() {
  const void* self = ThisThreadToken();
  if (holder_.load(std::memory_order_relaxed) == self) {
    ++depth_;
    return true;
  }
  if (!mu_.try_lock()) return false;
  holder_.store(self, std::memory_order_relaxed);
  depth_ = 1;
  return true;
}

void ProxyMutex::Unlock() {
  if (--depth_ > 0) return;
  holder_.store(nullptr, std::memory_order_relaxed);
  mu_.unlock();
}

bool ProxyMutex::HeldByCurrentThread() const {
  return holder_.load(std::memory_order_relaxed) == ThisThreadToken();
}

}  // namespace tollgate
