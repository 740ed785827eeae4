#include "iocore/tls/vc_handle.h"

namespace tollgate {

VcHandleTable& VcHandleTable::Get() {
  static VcHandleTable* table = new VcHandleTable;
  return *table;
}

uint64_t VcHandleTable::Allocate(void* object, EThread* thread) {
  uint32_t index;
  {
    MutexGuard lock(&mu_);
    if (!free_.empty()) {
      index = free_.back();
      free_.pop_back();
    } else {
      if (next_unused_ >= kSlotsPerChunk * kMaxChunks) return 0;
      index = next_unused_++;
      uint32_t chunk = index / kSlotsPerChunk;
      if (chunks_[chunk].load(std::memory_order_acquire) == nullptr) {
        chunks_[chunk].store(new Slot[kSlotsPerChunk], std::memory_order_release);
      }
    }
  }
  Slot& slot =
      chunks_[index / kSlotsPerChunk].load(std::memory_order_acquire)[index % kSlotsPerChunk];
  slot.object.store(object, std::memory_order_relaxed);
  slot.thread.store(thread, std::memory_order_relaxed);
  slot.live.store(true, std::memory_order_release);
  uint32_t generation = slot.generation.load(std::memory_order_relaxed);
  return (static_cast<uint64_t>(generation) << 32) | (index + 1);
}

VcHandleTable::Slot* VcHandleTable::SlotOf(uint64_t handle) const {
  uint32_t low = static_cast<uint32_t>(handle);
  if (low == 0) return nullptr;
  uint32_t index = low - 1;
  if (index >= kSlotsPerChunk * kMaxChunks) return nullptr;
  Slot* chunk = chunks_[index / kSlotsPerChunk].load(std::memory_order_acquire);
  if (chunk == nullptr) return nullptr;
  Slot* slot = &chunk[index % kSlotsPerChunk];
  if (slot->generation.load(std::memory_order_acquire) != static_cast<uint32_t>(handle >> 32)) {
    return nullptr;
  }
  return slot;
}

void VcHandleTable::Release(uint64_t handle) {
  Slot* slot = SlotOf(handle);
  if (slot == nullptr) return;
  slot->live.store(false, std::memory_order_relaxed);
  slot->object.store(nullptr, std::memory_order_relaxed);
  slot->thread.store(nullptr, std::memory_order_relaxed);
  // Bump the generation (skipping 0 so no handle is ever 0): every outstanding handle is stale.
  uint32_t next = slot->generation.load(std::memory_order_relaxed) + 1;
  slot->generation.store(next == 0 ? 1 : next, std::memory_order_release);
  MutexGuard lock(&mu_);
  free_.push_back(static_cast<uint32_t>(handle) - 1);
}

EThread* VcHandleTable::ThreadOf(uint64_t handle) const {
  Slot* slot = SlotOf(handle);
  if (slot == nullptr || !slot->live.load(std::memory_order_acquire)) return nullptr;
  return slot->thread.load(std::memory_order_relaxed);
}

void* VcHandleTable::Resolve(uint64_t handle) const {
  Slot* slot = SlotOf(handle);
  if (slot == nullptr || !slot->live.load(std::memory_order_acquire)) return nullptr;
  if (slot->thread.load(std::memory_order_relaxed) != this_ethread()) return nullptr;
  return slot->object.load(std::memory_order_relaxed);
}

}  // namespace tollgate
