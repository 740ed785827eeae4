#include "iocore/eventsystem/proxy_mutex.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"

// These tests lock recursively and across threads on purpose, which clang's static analysis
// cannot model (it has no notion of a recursive capability).
#ifdef __clang__
#pragma clang diagnostic ignored "-Wthread-safety-analysis"
#endif

namespace tollgate {
namespace {

TEST(ProxyMutexTest, HolderMayLockRecursivelyAndMustUnlockAsOften) {
  Ptr<ProxyMutex> m = NewProxyMutex();
  m->Lock();
  EXPECT_TRUE(m->TryLock());
  m->Lock();
  EXPECT_TRUE(m->HeldByCurrentThread());
  m->Unlock();
  m->Unlock();
  EXPECT_TRUE(m->HeldByCurrentThread());
  m->Unlock();
  EXPECT_FALSE(m->HeldByCurrentThread());
}

TEST(ProxyMutexTest, TryLockFailsWhileAnotherThreadHoldsIt) {
  Ptr<ProxyMutex> m = NewProxyMutex();
  m->Lock();
  bool other_got_it = true;
  std::thread([&] { other_got_it = m->TryLock(); }).join();
  EXPECT_FALSE(other_got_it);
  m->Unlock();
  std::thread([&] {
    other_got_it = m->TryLock();
    if (other_got_it) m->Unlock();
  }).join();
  EXPECT_TRUE(other_got_it);
}

TEST(ProxyMutexTest, TryLockGuardTreatsNullMutexAsTakenAndReleasesOnScopeExit) {
  {
    MutexTryLock lock(nullptr);
    EXPECT_TRUE(lock.locked());
  }
  Ptr<ProxyMutex> m = NewProxyMutex();
  {
    MutexTryLock lock(m.get());
    EXPECT_TRUE(lock.locked());
    EXPECT_TRUE(m->HeldByCurrentThread());
  }
  EXPECT_FALSE(m->HeldByCurrentThread());
}

TEST(ProxyMutexTest, TryLockGuardKeepsMutexAliveWhenLastOwnerDropsIt) {
  Ptr<ProxyMutex> m = NewProxyMutex();
  ProxyMutex* raw = m.get();
  MutexTryLock lock(raw);
  ASSERT_TRUE(lock.locked());
  m = nullptr;  // a handler destroying the continuation that owned the mutex
  EXPECT_EQ(raw->refcount(), 1);
  EXPECT_TRUE(raw->HeldByCurrentThread());
}

TEST(ProxyMutexTest, MutualExclusionAcrossThreads) {
  Ptr<ProxyMutex> m = NewProxyMutex();
  int64_t counter = 0;  // guarded by m
  constexpr int kThreads = 4;
  constexpr int kIncrements = 20000;
  std::thread threads[kThreads];
  for (auto& t : threads) {
    t = std::thread([&] {
      for (int i = 0; i < kIncrements; ++i) {
        MutexLock lock(m.get());
        ++counter;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter, kThreads * kIncrements);
}

}  // namespace
}  // namespace tollgate
