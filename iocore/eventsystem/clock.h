// Monotonic time for the event system: nanoseconds on the steady clock.

#ifndef TOLLGATE_IOCORE_EVENTSYSTEM_CLOCK_H_
#define TOLLGATE_IOCORE_EVENTSYSTEM_CLOCK_H_

#include <chrono>
#include <cstdint>

namespace tollgate {

using Nanoseconds = std::chrono::nanoseconds;
using SteadyTime = std::chrono::steady_clock::time_point;

// MonotonicNowNs returns the steady clock in nanoseconds since an arbitrary fixed epoch.
inline int64_t MonotonicNowNs() {
  return std::chrono::duration_cast<Nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline int64_t ToNs(SteadyTime t) {
  return std::chrono::duration_cast<Nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_EVENTSYSTEM_CLOCK_H_
