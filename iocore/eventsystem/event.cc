#include "iocore/eventsystem/event.h"

#include <mutex>
#include <vector>

#include "iocore/eventsystem/ethread.h"

namespace tollgate {
namespace {

// Events are never returned to the system allocator: an Action may still read a recycled
// event's state word to learn it is stale. The process pool keeps them reachable, so
// LeakSanitizer sees no leak. Per-thread caches make the hot path lock-free.
constexpr size_t kCacheHigh = 1024;  // a thread keeps at most this many free events
constexpr size_t kTransferBatch = 256;  // moved to/from the process pool at once

struct EventPool {
  std::mutex mu;
  std::vector<Event*> free;
  std::atomic<uint64_t> reused{0};
  std::atomic<uint64_t> fresh{0};
};

EventPool& Pool() {
  static EventPool* pool = new EventPool;
  return *pool;
}

struct ThreadEventCache {
  std::vector<Event*> free;
  ~ThreadEventCache() {
    if (free.empty()) return;
    EventPool& pool = Pool();
    std::lock_guard<std::mutex> lock(pool.mu);
    pool.free.insert(pool.free.end(), free.begin(), free.end());
  }
};

ThreadEventCache& Cache() {
  static thread_local ThreadEventCache cache;
  return cache;
}

}  // namespace

Event* AllocEvent() {
  ThreadEventCache& cache = Cache();
  EventPool& pool = Pool();
  if (cache.free.empty()) {
    std::lock_guard<std::mutex> lock(pool.mu);
    size_t n = std::min(kTransferBatch, pool.free.size());
    cache.free.insert(cache.free.end(), pool.free.end() - n, pool.free.end());
    pool.free.resize(pool.free.size() - n);
  }
  Event* e;
  if (!cache.free.empty()) {
    e = cache.free.back();
    cache.free.pop_back();
    pool.reused.fetch_add(1, std::memory_order_relaxed);
  } else {
    e = new Event;
    pool.fresh.fetch_add(1, std::memory_order_relaxed);
  }
  return e;
}

void FreeEvent(Event* e) {
  uint64_t generation = e->generation();
  e->state_.store((generation + 1) << 1, std::memory_order_release);
  e->cont_ = nullptr;
  e->cookie_ = nullptr;
  e->thread_ = nullptr;
  e->next_ = nullptr;
  e->timeout_at_ns_ = 0;
  e->period_ns_ = 0;
  e->heap_index_ = Event::kNotInHeap;
  ThreadEventCache& cache = Cache();
  cache.free.push_back(e);
  if (cache.free.size() > kCacheHigh) {
    EventPool& pool = Pool();
    std::lock_guard<std::mutex> lock(pool.mu);
    pool.free.insert(pool.free.end(), cache.free.end() - kTransferBatch, cache.free.end());
    cache.free.resize(cache.free.size() - kTransferBatch);
  }
}

EventAllocatorStats GetEventAllocatorStats() {
  EventPool& pool = Pool();
  return {pool.reused.load(std::memory_order_relaxed), pool.fresh.load(std::memory_order_relaxed)};
}

void Action::Cancel() {
  if (event_ == nullptr) return;
  // Compare pointers rather than call into |thread_|: after shutdown it may be gone, and a stale
  // Action must stay a harmless no-op.
  if (thread_ != nullptr && this_ethread() == thread_) {
    thread_->CancelOwnEvent(event_, generation_);
    return;
  }
  uint64_t expected = generation_ << 1;
  event_->state_.compare_exchange_strong(expected, expected | Event::kCancelledBit,
                                         std::memory_order_acq_rel, std::memory_order_relaxed);
}

}  // namespace tollgate
