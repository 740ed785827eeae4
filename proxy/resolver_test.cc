// HostResolver: literals, the cache (found and failed answers, TTLs, size bound), lookups on a
// task thread answered on the caller's thread, RFC 6761 names, cancellation, and concurrent use.
#include "proxy/resolver.h"

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "iocore/eventsystem/event_processor.h"
#include "tests/util/wait.h"

namespace tollgate {
namespace {

using test_util::kTestDeadline;
using test_util::WaitCounter;

IpEndpoint Ep(const char* text) { return *IpEndpoint::Parse(text); }

// Str returns the address as text, or the error, for comparisons with readable failures.
std::string Str(const absl::StatusOr<IpEndpoint>& answer) {
  return answer.ok() ? answer->ToString() : answer.status().ToString();
}

// Receives a Resolve callback: records the answer and the thread it ran on.
class Receiver : public Continuation {
 public:
  Receiver() : Continuation(NewProxyMutex()) {}
  void HandleEvent(EventCode code, void* data) override {
    std::lock_guard<std::mutex> lock(mu_);
    code_ = code;
    thread_ = this_ethread();
    cookie_ = static_cast<Event*>(data)->cookie();
    answer_ = result.endpoint;
    calls.Increment();
  }

  // Wait returns the answer after the callback ran (bounded), or an error saying it did not.
  absl::StatusOr<IpEndpoint> Wait() {
    if (!calls.WaitAtLeast(1, kTestDeadline)) return absl::DeadlineExceededError("no callback");
    std::lock_guard<std::mutex> lock(mu_);
    return answer_;
  }
  EThread* thread() {
    std::lock_guard<std::mutex> lock(mu_);
    return thread_;
  }
  EventCode code() {
    std::lock_guard<std::mutex> lock(mu_);
    return code_;
  }
  void* cookie() {
    std::lock_guard<std::mutex> lock(mu_);
    return cookie_;
  }

  ResolveResult result;
  WaitCounter calls;

 private:
  std::mutex mu_;
  EventCode code_ = EventCode::kNone;
  EThread* thread_ = nullptr;
  void* cookie_ = nullptr;
  absl::StatusOr<IpEndpoint> answer_;
};

// A fake lookup: counts calls per host and answers from a table (NotFound for other names).
class FakeLookup {
 public:
  void Set(const std::string& host, absl::StatusOr<std::vector<IpEndpoint>> answer) {
    std::lock_guard<std::mutex> lock(mu_);
    answers_.emplace_back(host, std::move(answer));
  }
  int calls(const std::string& host) {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const std::string& h : asked_) n += h == host ? 1 : 0;
    return n;
  }
  HostResolver::LookupFn fn() {
    return [this](const std::string& host) -> absl::StatusOr<std::vector<IpEndpoint>> {
      std::lock_guard<std::mutex> lock(mu_);
      asked_.push_back(host);
      for (const auto& [h, answer] : answers_) {
        if (h == host) return answer;
      }
      return absl::NotFoundError("Name or service not known");
    };
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<std::string, absl::StatusOr<std::vector<IpEndpoint>>>> answers_;
  std::vector<std::string> asked_;
};

class ResolverTest : public ::testing::Test {
 protected:
  void Start(int task_threads = 1) {
    ASSERT_TRUE(ep_.Start({.net_threads = 1, .task_threads = task_threads}).ok());
  }
  void TearDown() override { ep_.Shutdown(); }

  EThread* net() { return ep_.thread(ThreadGroup::kNet, 0); }

  // Resolve asks |resolver| from a thread that is not an event thread and waits for the answer.
  absl::StatusOr<IpEndpoint> ResolveAndWait(HostResolver& resolver, const std::string& host,
                                            uint16_t port) {
    Receiver receiver;
    {
      MutexLock lock(receiver.mutex().get());
      resolver.Resolve(host, port, &receiver, net(), &receiver.result);
    }
    return receiver.Wait();
  }

  EventProcessor ep_;
};

TEST(HostResolverLiteralTest, ParsesIpv4AndIpv6WithOrWithoutBrackets) {
  EXPECT_EQ(HostResolver::Literal("10.1.2.3", 80), Ep("10.1.2.3:80"));
  EXPECT_EQ(HostResolver::Literal("::1", 443), Ep("[::1]:443"));
  EXPECT_EQ(HostResolver::Literal("[::1]", 443), Ep("[::1]:443"));
  EXPECT_EQ(HostResolver::Literal("[2001:db8::5]", 8080), Ep("[2001:db8::5]:8080"));
  EXPECT_EQ(HostResolver::Literal("::ffff:10.0.0.1", 1), Ep("[::ffff:10.0.0.1]:1"));
}

TEST(HostResolverLiteralTest, RejectsNamesAndMalformedAddresses) {
  for (const char* text : {"", "localhost", "a.test", "1.2.3", "256.1.1.1", "1.2.3.4.5",
                           "[10.1.2.3]", "[::1", "::1]", "[]", "fe80::1%eth0", "::g", "1.2.3.4:80",
                           " 1.2.3.4", "0000:0000:0000:0000:0000:0000:0000:0000:0000"}) {
    EXPECT_FALSE(HostResolver::Literal(text, 80).has_value()) << "'" << text << "'";
  }
}

TEST_F(ResolverTest, CachedAnswersLiteralsAndNothingElseBeforeALookup) {
  Start();
  HostResolver resolver(&ep_);
  EXPECT_EQ(resolver.Cached("127.0.0.1", 8080), Ep("127.0.0.1:8080"));
  EXPECT_EQ(resolver.Cached("[::1]", 8080), Ep("[::1]:8080"));
  EXPECT_FALSE(resolver.Cached("localhost", 8080).has_value());
  EXPECT_EQ(resolver.cache_size(), 0u);
}

TEST_F(ResolverTest, LocalhostResolvesToLoopbackOnTheReplyThreadAndIsCached) {
  Start();
  HostResolver resolver(&ep_);
  Receiver receiver;
  ResolveAction action;
  {
    MutexLock lock(receiver.mutex().get());
    action = resolver.Resolve("localhost", 8443, &receiver, net(), &receiver.result);
  }
  EXPECT_FALSE(action.empty());
  absl::StatusOr<IpEndpoint> answer = receiver.Wait();
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_TRUE(*answer == IpEndpoint::Loopback(AF_INET, 8443) ||
              *answer == IpEndpoint::Loopback(AF_INET6, 8443))
      << answer->ToString();
  EXPECT_EQ(receiver.thread(), net());
  EXPECT_EQ(receiver.code(), EventCode::kImmediate);
  EXPECT_EQ(receiver.cookie(), &receiver.result);
  // Cached, with whatever port is asked for, case-insensitively and with a final dot.
  std::optional<IpEndpoint> cached = resolver.Cached("LocalHost.", 81);
  ASSERT_TRUE(cached.has_value());
  IpEndpoint expected = *answer;
  expected.set_port(81);
  EXPECT_EQ(*cached, expected);
  action.Cancel();  // after the callback: harmless
}

TEST_F(ResolverTest, NamesUnderInvalidFailWithNotFoundNamingTheHostWithoutALookup) {
  Start();
  HostResolver resolver(&ep_);
  FakeLookup fake;
  resolver.SetLookupForTesting(fake.fn());
  for (const char* host : {"nowhere.invalid", "A.B.INVALID.", "invalid"}) {
    absl::StatusOr<IpEndpoint> answer = ResolveAndWait(resolver, host, 443);
    EXPECT_EQ(answer.status().code(), absl::StatusCode::kNotFound) << host;
    EXPECT_NE(answer.status().message().find(absl::StrCat("'", host, "'")), std::string::npos)
        << answer.status();
    EXPECT_EQ(fake.calls(host), 0) << host;
  }
  EXPECT_FALSE(resolver.Cached("nowhere.invalid", 443).has_value());
}

TEST_F(ResolverTest, InvalidHostNamesAreRejectedWithoutALookup) {
  Start();
  HostResolver resolver(&ep_);
  FakeLookup fake;
  resolver.SetLookupForTesting(fake.fn());
  std::string long_label(64, 'a');
  std::string long_name;
  for (int i = 0; i < 64; ++i) absl::StrAppend(&long_name, "abc.");
  for (const std::string& host :
       {std::string(""), std::string("a b.test"), std::string("a..test"), std::string(".a.test"),
        std::string("a/b.test"), std::string("x:y"), std::string("a\0b", 3), long_label + ".test",
        long_name + "test", std::string("fe80::1%eth0")}) {
    absl::StatusOr<IpEndpoint> answer = ResolveAndWait(resolver, host, 443);
    EXPECT_EQ(answer.status().code(), absl::StatusCode::kInvalidArgument) << host;
  }
  EXPECT_EQ(fake.calls(""), 0);
}

TEST_F(ResolverTest, FailedLookupNamesTheHostAndIsCachedForTheNegativeTtl) {
  Start();
  HostResolver resolver(&ep_, HostResolver::kDefaultTtl, HostResolver::kDefaultMaxEntries,
                        std::chrono::hours(1));
  FakeLookup fake;
  resolver.SetLookupForTesting(fake.fn());
  absl::StatusOr<IpEndpoint> first = ResolveAndWait(resolver, "gone.test", 80);
  EXPECT_EQ(first.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(first.status().message().find("'gone.test'"), std::string::npos) << first.status();
  EXPECT_NE(first.status().message().find("Name or service not known"), std::string::npos);
  absl::StatusOr<IpEndpoint> second = ResolveAndWait(resolver, "GONE.test", 80);
  EXPECT_EQ(second.status(), first.status());
  EXPECT_EQ(fake.calls("gone.test"), 1);
  EXPECT_FALSE(resolver.Cached("gone.test", 80).has_value());
}

TEST_F(ResolverTest, ZeroNegativeTtlLooksUpAgain) {
  Start();
  HostResolver resolver(&ep_, HostResolver::kDefaultTtl, HostResolver::kDefaultMaxEntries,
                        Nanoseconds(0));
  FakeLookup fake;
  resolver.SetLookupForTesting(fake.fn());
  EXPECT_FALSE(ResolveAndWait(resolver, "gone.test", 80).ok());
  EXPECT_FALSE(ResolveAndWait(resolver, "gone.test", 80).ok());
  EXPECT_EQ(fake.calls("gone.test"), 2);
}

TEST_F(ResolverTest, PrefersIpv4AndAppliesTheRequestedPort) {
  Start();
  HostResolver resolver(&ep_);
  FakeLookup fake;
  fake.Set("dual.test", std::vector<IpEndpoint>{Ep("[2001:db8::1]:0"), Ep("192.0.2.7:0")});
  fake.Set("v6.test", std::vector<IpEndpoint>{Ep("[2001:db8::2]:0"), Ep("[2001:db8::3]:0")});
  fake.Set("empty.test", std::vector<IpEndpoint>{});
  resolver.SetLookupForTesting(fake.fn());
  EXPECT_EQ(Str(ResolveAndWait(resolver, "dual.test", 8443)), "192.0.2.7:8443");
  EXPECT_EQ(Str(ResolveAndWait(resolver, "v6.test", 8443)), "[2001:db8::2]:8443");
  EXPECT_EQ(ResolveAndWait(resolver, "empty.test", 1).status().code(), absl::StatusCode::kNotFound);
  // From the cache now, without another lookup.
  EXPECT_EQ(Str(ResolveAndWait(resolver, "dual.test", 9)), "192.0.2.7:9");
  EXPECT_EQ(fake.calls("dual.test"), 1);
}

TEST_F(ResolverTest, ZeroTtlDoesNotCacheFoundAddresses) {
  Start();
  HostResolver resolver(&ep_, Nanoseconds(0));
  FakeLookup fake;
  fake.Set("a.test", std::vector<IpEndpoint>{Ep("192.0.2.1:0")});
  resolver.SetLookupForTesting(fake.fn());
  EXPECT_EQ(Str(ResolveAndWait(resolver, "a.test", 1)), "192.0.2.1:1");
  EXPECT_FALSE(resolver.Cached("a.test", 1).has_value());
  EXPECT_EQ(Str(ResolveAndWait(resolver, "a.test", 1)), "192.0.2.1:1");
  EXPECT_EQ(fake.calls("a.test"), 2);
  EXPECT_EQ(resolver.cache_size(), 0u);
}

TEST_F(ResolverTest, CacheHoldsAtMostMaxEntries) {
  Start();
  HostResolver resolver(&ep_, HostResolver::kDefaultTtl, /*max_entries=*/2);
  FakeLookup fake;
  for (const char* host : {"a.test", "b.test", "c.test"}) {
    fake.Set(host, std::vector<IpEndpoint>{Ep("192.0.2.1:0")});
  }
  resolver.SetLookupForTesting(fake.fn());
  for (const char* host : {"a.test", "b.test", "c.test"}) {
    ASSERT_TRUE(ResolveAndWait(resolver, host, 1).ok());
    EXPECT_LE(resolver.cache_size(), 2u);
  }
  EXPECT_TRUE(resolver.Cached("c.test", 1).has_value());
}

TEST_F(ResolverTest, WithoutTaskThreadsANameFailsInsteadOfBlockingANetThread) {
  Start(/*task_threads=*/0);
  HostResolver resolver(&ep_);
  absl::StatusOr<IpEndpoint> answer = ResolveAndWait(resolver, "localhost", 80);
  EXPECT_EQ(answer.status().code(), absl::StatusCode::kFailedPrecondition) << answer.status();
  // Literals need no task thread.
  EXPECT_EQ(Str(ResolveAndWait(resolver, "127.0.0.1", 80)), "127.0.0.1:80");
}

// Runs |fn| when scheduled.
class Call : public Continuation {
 public:
  explicit Call(std::function<void()> fn) : fn_(std::move(fn)) {}
  void HandleEvent(EventCode, void*) override { fn_(); }

 private:
  std::function<void()> fn_;
};

TEST_F(ResolverTest, CancelledResolveNeitherWritesTheResultNorCallsBack) {
  Start();
  HostResolver resolver(&ep_);
  WaitCounter entered;
  WaitCounter release;
  resolver.SetLookupForTesting([&](const std::string&) -> absl::StatusOr<std::vector<IpEndpoint>> {
    entered.Increment();
    release.WaitAtLeast(1, kTestDeadline);
    return std::vector<IpEndpoint>{Ep("192.0.2.1:0")};
  });
  Receiver receiver;
  receiver.result.endpoint = absl::CancelledError("untouched");
  {
    MutexLock lock(receiver.mutex().get());
    ResolveAction action = resolver.Resolve("slow.test", 1, &receiver, net(), &receiver.result);
    ASSERT_TRUE(entered.WaitAtLeast(1, kTestDeadline));
    action.Cancel();
  }
  release.Increment();
  // The task thread runs its events in order, and an event it then schedules on the net thread
  // runs after anything the lookup scheduled there: when |after| runs, a callback would have.
  WaitCounter done;
  Call on_net([&] { done.Increment(); });
  Call on_task([&] { net()->ScheduleImm(&on_net); });
  ep_.ScheduleImm(&on_task, ThreadGroup::kTask);
  ASSERT_TRUE(done.WaitAtLeast(1, kTestDeadline));
  EXPECT_EQ(receiver.calls.value(), 0);
  EXPECT_EQ(receiver.result.endpoint.status().message(), "untouched");
  // The lookup still filled the cache.
  EXPECT_TRUE(resolver.Cached("slow.test", 2).has_value());
}

TEST_F(ResolverTest, ConcurrentResolvesAndCacheReadsAgree) {
  Start(/*task_threads=*/2);
  HostResolver resolver(&ep_, HostResolver::kDefaultTtl, /*max_entries=*/8);
  FakeLookup fake;
  for (int i = 0; i < 16; ++i) {
    fake.Set(absl::StrCat("h", i, ".test"), std::vector<IpEndpoint>{Ep("192.0.2.9:0")});
  }
  resolver.SetLookupForTesting(fake.fn());
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop.load()) {
      for (int i = 0; i < 16; ++i) {
        std::optional<IpEndpoint> hit = resolver.Cached(absl::StrCat("h", i, ".test"), 5);
        if (hit.has_value()) {
          EXPECT_EQ(hit->ToString(), "192.0.2.9:5");
        }
      }
    }
  });
  std::vector<std::unique_ptr<Receiver>> receivers;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 16; ++i) {
      receivers.push_back(std::make_unique<Receiver>());
      Receiver* r = receivers.back().get();
      MutexLock lock(r->mutex().get());
      resolver.Resolve(absl::StrCat("h", i, ".test"), 5, r, net(), &r->result);
    }
  }
  for (auto& r : receivers) EXPECT_EQ(Str(r->Wait()), "192.0.2.9:5");
  stop.store(true);
  reader.join();
  EXPECT_LE(resolver.cache_size(), 8u);
}

}  // namespace
}  // namespace tollgate
