// Intrusive reference counting for the few objects whose sharing is real: a ProxyMutex is shared
// by every continuation of one session, an IOBufferData by every block and reader that still
// sees its bytes. Everything else has one owner and uses std::unique_ptr.
//
//   class Foo : public RefCounted { ... };
//   Ptr<Foo> a = MakeRef<Foo>(args...);  // count 1
//   Ptr<Foo> b = a;                      // count 2; the last Ptr to go frees the object
//
// Counting is atomic, so Ptrs to one object may be copied and dropped on different threads. The
// object itself is not made thread-safe by this.

#ifndef TOLLGATE_IOCORE_EVENTSYSTEM_REF_COUNTED_H_
#define TOLLGATE_IOCORE_EVENTSYSTEM_REF_COUNTED_H_

#include <atomic>
#include <cstdint>
#include <utility>

namespace tollgate {

class RefCounted {
 public:
  RefCounted() = default;
  RefCounted(const RefCounted&) = delete;
  RefCounted& operator=(const RefCounted&) = delete;

  void AddRef() const { refcount_.fetch_add(1, std::memory_order_relaxed); }

  // Release drops one reference and frees the object when it was the last.
  void Release() const {
    if (refcount_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      const_cast<RefCounted*>(this)->Free();
    }
  }

  int32_t refcount() const { return refcount_.load(std::memory_order_relaxed); }

 protected:
  virtual ~RefCounted() = default;

  // Free is called once, when the count drops to zero. Pooled objects override it to return
  // themselves to a free list instead of being deleted.
  virtual void Free() { delete this; }

 private:
  mutable std::atomic<int32_t> refcount_{0};
};

// Ptr is a smart pointer holding one reference to a RefCounted object.
template <typename T>
class Ptr {
 public:
  Ptr() = default;
  Ptr(std::nullptr_t) {}  // NOLINT: implicit, like std::shared_ptr
  explicit Ptr(T* p) : p_(p) {
    if (p_ != nullptr) p_->AddRef();
  }
  Ptr(const Ptr& o) : Ptr(o.p_) {}
  Ptr(Ptr&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  template <typename U>
  Ptr(const Ptr<U>& o) : Ptr(o.get()) {}  // NOLINT: implicit upcast
  ~Ptr() { reset(); }

  Ptr& operator=(const Ptr& o) {
    Ptr(o).swap(*this);
    return *this;
  }
  Ptr& operator=(Ptr&& o) noexcept {
    Ptr(std::move(o)).swap(*this);
    return *this;
  }
  Ptr& operator=(std::nullptr_t) {
    reset();
    return *this;
  }

  void reset() {
    if (T* p = std::exchange(p_, nullptr)) p->Release();
  }
  void swap(Ptr& o) noexcept { std::swap(p_, o.p_); }

  T* get() const { return p_; }
  T* operator->() const { return p_; }
  T& operator*() const { return *p_; }
  explicit operator bool() const { return p_ != nullptr; }

  friend bool operator==(const Ptr& a, const Ptr& b) { return a.p_ == b.p_; }
  friend bool operator==(const Ptr& a, std::nullptr_t) { return a.p_ == nullptr; }

 private:
  T* p_ = nullptr;
};

template <typename T, typename... Args>
Ptr<T> MakeRef(Args&&... args) {
  return Ptr<T>(new T(std::forward<Args>(args)...));
}

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_EVENTSYSTEM_REF_COUNTED_H_
