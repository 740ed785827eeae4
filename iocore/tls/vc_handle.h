// VcHandleTable: generation-checked handles for connections that other threads may name.
//
// A plugin keeps a connection's handle across threads (a delayed TSVConnReenable). The
// connection may close meanwhile and its memory be reused. A handle is a slot and a generation:
// only the connection's own thread resolves it, and a handle whose generation is stale resolves
// to nothing, so a late reenable is a harmless no-op.
//
//   uint64_t h = VcHandleTable::Get().Allocate(vc, thread);   // on |thread|
//   EThread* t = VcHandleTable::Get().ThreadOf(h);            // any thread: where to go
//   T* vc = VcHandleTable::Get().Resolve<T>(h);               // on t: null if gone
//   VcHandleTable::Get().Release(h);                          // on |thread|, at free

#ifndef TOLLGATE_IOCORE_TLS_VC_HANDLE_H_
#define TOLLGATE_IOCORE_TLS_VC_HANDLE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "iocore/eventsystem/ethread.h"
#include "iocore/eventsystem/mutex.h"

namespace tollgate {

class VcHandleTable {
 public:
  // Get returns the process-wide table.
  static VcHandleTable& Get();

  // Allocate returns a new non-zero handle for |object| living on |thread|, or 0 when the table
  // is full (kMaxSlots live handles).
  uint64_t Allocate(void* object, EThread* thread);

  // Release invalidates |handle|. On the object's thread.
  void Release(uint64_t handle);

  // ThreadOf returns the thread a live handle's object lives on, or null for a stale or zero
  // handle. Any thread; the answer may go stale at once, which Resolve then detects.
  EThread* ThreadOf(uint64_t handle) const;

  // Resolve returns the object if |handle| is live and the caller is on its thread, else null.
  void* Resolve(uint64_t handle) const;

  static constexpr uint32_t kSlotsPerChunk = 4096;
  static constexpr uint32_t kMaxChunks = 1024;  // about four million live handles

 private:
  struct Slot {
    std::atomic<uint32_t> generation{1};
    std::atomic<bool> live{false};
    std::atomic<void*> object{nullptr};
    std::atomic<EThread*> thread{nullptr};
  };

  Slot* SlotOf(uint64_t handle) const;

  std::array<std::atomic<Slot*>, kMaxChunks> chunks_{};
  Mutex mu_;
  std::vector<uint32_t> free_ ABSL_GUARDED_BY(mu_);
  uint32_t next_unused_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_TLS_VC_HANDLE_H_
