// Bounded waiting for tests: block until a condition holds or a deadline passes. Never a sleep
// standing in for synchronisation: waiters wake on the notifying thread's signal.
//
//   WaitCounter ran;
//   ... handler: ran.Increment();
//   ASSERT_TRUE(ran.WaitAtLeast(100, kTestDeadline));

#ifndef TOLLGATE_TESTS_UTIL_WAIT_H_
#define TOLLGATE_TESTS_UTIL_WAIT_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace tollgate::test_util {

// Generous: only a broken implementation takes this long.
inline constexpr std::chrono::seconds kTestDeadline{20};

class WaitCounter {
 public:
  void Increment(int64_t by = 1) {
    std::lock_guard<std::mutex> lock(mu_);
    value_ += by;
    cv_.notify_all();
  }
  int64_t value() const {
    std::lock_guard<std::mutex> lock(mu_);
    return value_;
  }
  // WaitAtLeast returns true once value() >= n, false if |timeout| passes first.
  template <typename Duration>
  bool WaitAtLeast(int64_t n, Duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return value_ >= n; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t value_ = 0;
};

}  // namespace tollgate::test_util

#endif  // TOLLGATE_TESTS_UTIL_WAIT_H_
