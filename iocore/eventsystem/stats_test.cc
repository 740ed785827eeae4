#include "iocore/eventsystem/stats.h"

#include <atomic>
#include <cstdint>
#include <future>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tollgate {
namespace {

using ::testing::HasSubstr;

StatId MustRegister(StatsRegistry& stats, absl::string_view name, StatKind kind) {
  absl::StatusOr<StatId> id = stats.Register(name, kind);
  EXPECT_TRUE(id.ok()) << id.status();
  return id.ok() ? *id : StatId();
}

// --- Registration ------------------------------------------------------------------------------

TEST(StatsRegistryTest, RegisteringSameNameAndKindAgainReturnsSameId) {
  StatsRegistry stats;
  StatId first = MustRegister(stats, "proxy.process.net.connections_open", StatKind::kGauge);
  StatId other = MustRegister(stats, "proxy.process.net.connections_total", StatKind::kCounter);
  StatId again = MustRegister(stats, "proxy.process.net.connections_open", StatKind::kGauge);
  EXPECT_TRUE(first.valid());
  EXPECT_EQ(first, again);
  EXPECT_NE(first, other);
  EXPECT_EQ(first.index(), 0);
  EXPECT_EQ(other.index(), 1);
  EXPECT_EQ(stats.Snapshot().size(), 2u);
}

TEST(StatsRegistryTest, ReRegisteringKeepsTheValue) {
  StatsRegistry stats;
  StatId id = MustRegister(stats, "proxy.process.net.accept_errors", StatKind::kCounter);
  stats.Add(id, 7);
  StatId again = MustRegister(stats, "proxy.process.net.accept_errors", StatKind::kCounter);
  EXPECT_EQ(stats.Get(again), 7);
}

TEST(StatsRegistryTest, RegisteringSameNameWithOtherKindFailsWithAlreadyExistsNamingTheStat) {
  StatsRegistry stats;
  MustRegister(stats, "proxy.process.net.connections_open", StatKind::kGauge);
  absl::StatusOr<StatId> id =
      stats.Register("proxy.process.net.connections_open", StatKind::kCounter);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(id.status().message(), HasSubstr("proxy.process.net.connections_open"));
  EXPECT_THAT(id.status().message(), HasSubstr("gauge"));
}

TEST(StatsRegistryTest, RegisterRejectsEmptyWhitespaceControlNonAsciiAndOverlongNames) {
  StatsRegistry stats;
  const std::string bad_names[] = {
      "",
      "proxy.process net",
      " proxy.process.net",
      "proxy.process.net\t",
      "proxy.process.net\n",
      std::string("proxy.process\0net", 17),
      "proxy.process.\x01net",
      "proxy.process.\x7fnet",
      "proxy.process.caf\xc3\xa9",
      std::string(StatsRegistry::kMaxNameLength + 1, 'a'),
  };
  for (const std::string& name : bad_names) {
    absl::StatusOr<StatId> id = stats.Register(name, StatKind::kCounter);
    ASSERT_FALSE(id.ok()) << "accepted \"" << name << "\"";
    EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument) << id.status();
  }
  EXPECT_TRUE(stats.Snapshot().empty());
  EXPECT_TRUE(
      stats.Register(std::string(StatsRegistry::kMaxNameLength, 'a'), StatKind::kCounter).ok());
}

TEST(StatsRegistryTest, RegisteringBeyondCapacityFailsWithResourceExhausted) {
  StatsRegistry stats(/*capacity=*/3);
  EXPECT_EQ(stats.capacity(), 3);
  MustRegister(stats, "a", StatKind::kCounter);
  MustRegister(stats, "b", StatKind::kCounter);
  MustRegister(stats, "c", StatKind::kGauge);
  absl::StatusOr<StatId> id = stats.Register("d", StatKind::kCounter);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(id.status().message(), HasSubstr("\"d\""));
  EXPECT_FALSE(stats.Find("d").has_value());
  // A full registry still answers re-registration (reload) of the stats it has.
  absl::StatusOr<StatId> again = stats.Register("c", StatKind::kGauge);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->index(), 2);
}

TEST(StatsRegistryTest, FindReturnsRegisteredIdAndNulloptForUnknownName) {
  StatsRegistry stats;
  StatId id = MustRegister(stats, "proxy.process.net.inactivity_timeouts", StatKind::kCounter);
  std::optional<StatId> found = stats.Find("proxy.process.net.inactivity_timeouts");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found, id);
  EXPECT_EQ(stats.Find("proxy.process.net.no_such_stat"), std::nullopt);
  EXPECT_EQ(stats.Find(""), std::nullopt);
}

TEST(StatsRegistryTest, ConcurrentRegistrationsOfOneNameAllGetTheSameId) {
  StatsRegistry stats;
  constexpr int kThreads = 8;
  std::vector<StatId> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&stats, &ids, t] {
      MustRegister(stats, "unrelated." + std::to_string(t), StatKind::kCounter);
      ids[t] = MustRegister(stats, "proxy.process.shared", StatKind::kCounter);
      stats.Increment(ids[t]);
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (StatId id : ids) EXPECT_EQ(id, ids[0]);
  EXPECT_EQ(stats.Get(ids[0]), kThreads);
  EXPECT_EQ(stats.Snapshot().size(), kThreads + 1u);
}

// --- Hot path ----------------------------------------------------------------------------------

TEST(StatsRegistryTest, AddIncrementAndDecrementOnOneThreadShowInGet) {
  StatsRegistry stats;
  StatId total = MustRegister(stats, "proxy.process.net.connections_total", StatKind::kCounter);
  StatId open = MustRegister(stats, "proxy.process.net.connections_open", StatKind::kGauge);
  EXPECT_EQ(stats.Get(total), 0);
  EXPECT_EQ(stats.Get(open), 0);
  stats.Increment(total);
  stats.Increment(total);
  stats.Add(total, 40);
  stats.Increment(open);
  stats.Increment(open);
  stats.Decrement(open);
  EXPECT_EQ(stats.Get(total), 42);
  EXPECT_EQ(stats.Get(open), 1);
}

TEST(StatsRegistryTest, GaugeMayGoNegative) {
  StatsRegistry stats;
  StatId open = MustRegister(stats, "proxy.process.net.connections_open", StatKind::kGauge);
  stats.Decrement(open);
  stats.Add(open, -4);
  EXPECT_EQ(stats.Get(open), -5);
  stats.Add(open, 6);
  EXPECT_EQ(stats.Get(open), 1);
}

TEST(StatsRegistryTest, AddWrapsAroundOnOverflowInsteadOfFailing) {
  StatsRegistry stats;
  StatId id = MustRegister(stats, "big", StatKind::kCounter);
  stats.Add(id, std::numeric_limits<int64_t>::max());
  std::thread([&] { stats.Add(id, 2); }).join();
  EXPECT_EQ(stats.Get(id), std::numeric_limits<int64_t>::min() + 1);
}

TEST(StatsRegistryTest, InvalidOrUnregisteredIdsAreIgnored) {
  StatsRegistry stats(/*capacity=*/4);
  StatId id = MustRegister(stats, "a", StatKind::kCounter);
  for (StatId bad : {StatId(), StatId(-7), StatId(1), StatId(4), StatId(1 << 30)}) {
    EXPECT_FALSE(bad == id);
    stats.Add(bad, 5);
    stats.Increment(bad);
    stats.Decrement(bad);
    stats.Set(bad, 9);
    EXPECT_EQ(stats.Get(bad), 0);
  }
  EXPECT_FALSE(StatId().valid());
  EXPECT_EQ(stats.Get(id), 0);
  // A stat registered later at a previously bad index starts from zero.
  StatId b = MustRegister(stats, "b", StatKind::kCounter);
  EXPECT_EQ(b, StatId(1));
  EXPECT_EQ(stats.Get(b), 0);
}

TEST(StatsRegistryTest, ValuesAddedByThreadsSurviveTheirExit) {
  StatsRegistry stats;
  StatId total = MustRegister(stats, "proxy.process.net.connections_total", StatKind::kCounter);
  StatId open = MustRegister(stats, "proxy.process.net.connections_open", StatKind::kGauge);
  constexpr int kThreads = 8;
  constexpr int kAddsPerThread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&stats, total, open] {
      for (int i = 0; i < kAddsPerThread; ++i) {
        stats.Increment(total);
        stats.Add(open, 2);
        stats.Decrement(open);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(stats.Get(total), int64_t{kThreads} * kAddsPerThread);
  EXPECT_EQ(stats.Get(open), int64_t{kThreads} * kAddsPerThread);
}

TEST(StatsRegistryTest, ReadersRacingWithAddersNeverSeeMoreThanWasAdded) {
  StatsRegistry stats;
  StatId id = MustRegister(stats, "proxy.process.net.connections_total", StatKind::kCounter);
  constexpr int kThreads = 4;
  constexpr int kAddsPerThread = 20000;
  std::atomic<int> adders_left{kThreads};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kAddsPerThread; ++i) stats.Increment(id);
      adders_left.fetch_sub(1, std::memory_order_release);
    });
  }
  // Reads until the adders are done, which bounds the loop; a counter only grows.
  int64_t last = 0;
  while (adders_left.load(std::memory_order_acquire) > 0) {
    int64_t now = stats.Get(id);
    EXPECT_GE(now, last);
    EXPECT_LE(now, int64_t{kThreads} * kAddsPerThread);
    last = now;
    EXPECT_EQ(stats.Snapshot().size(), 1u);
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(stats.Get(id), int64_t{kThreads} * kAddsPerThread);
}

TEST(StatsRegistryTest, ManyShortLivedThreadsKeepEveryValue) {
  // Each thread's slab is handed to the next one when it exits; nothing may be lost or doubled.
  StatsRegistry stats;
  StatId id = MustRegister(stats, "proxy.process.plugin.calls", StatKind::kCounter);
  constexpr int kRounds = 50;
  for (int round = 0; round < kRounds; ++round) {
    std::thread a([&] { stats.Add(id, 3); });
    std::thread b([&] { stats.Add(id, 5); });
    a.join();
    b.join();
    ASSERT_EQ(stats.Get(id), (round + 1) * 8);
  }
}

TEST(StatsRegistryTest, RegistriesKeepSeparateValuesOnTheSameThread) {
  StatsRegistry one;
  StatsRegistry two;
  StatId a = MustRegister(one, "x", StatKind::kCounter);
  StatId b = MustRegister(two, "x", StatKind::kCounter);
  for (int i = 0; i < 10; ++i) {
    one.Add(a, 1);
    two.Add(b, 100);
  }
  EXPECT_EQ(one.Get(a), 10);
  EXPECT_EQ(two.Get(b), 1000);
}

TEST(StatsRegistryTest, ThreadMayOutliveARegistryItAddedTo) {
  std::promise<void> added;
  std::promise<void> registry_gone;
  std::shared_future<void> gone = registry_gone.get_future().share();
  auto stats = std::make_unique<StatsRegistry>();
  StatId id = MustRegister(*stats, "short.lived", StatKind::kCounter);
  std::thread thread([&stats, id, &added, gone] {
    stats->Increment(id);
    added.set_value();
    gone.wait();
    // This thread's slab went with the registry: a newer registry must get a slab of its own,
    // and the thread's exit must not hand the freed one back.
    StatsRegistry fresh;
    StatId fresh_id = MustRegister(fresh, "short.lived", StatKind::kCounter);
    fresh.Increment(fresh_id);
    EXPECT_EQ(fresh.Get(fresh_id), 1);
  });
  added.get_future().wait();
  EXPECT_EQ(stats->Get(id), 1);
  stats.reset();
  registry_gone.set_value();
  thread.join();
}

TEST(StatsRegistryTest, SetMakesGetReturnExactlyTheValueAndLaterAddsMoveFromIt) {
  StatsRegistry stats;
  StatId id = MustRegister(stats, "proxy.process.cache.bytes_used", StatKind::kGauge);
  stats.Add(id, 10);
  std::thread([&] { stats.Add(id, 32); }).join();
  stats.Set(id, 5);
  EXPECT_EQ(stats.Get(id), 5);
  stats.Increment(id);
  std::thread([&] { stats.Add(id, -10); }).join();
  EXPECT_EQ(stats.Get(id), -4);
  std::thread([&] { stats.Set(id, 1000); }).join();
  EXPECT_EQ(stats.Get(id), 1000);
  stats.Set(id, 0);
  EXPECT_EQ(stats.Get(id), 0);
}

// --- Snapshots ---------------------------------------------------------------------------------

TEST(StatsRegistryTest, SnapshotListsEveryStatInRegistrationOrderWithKindAndValue) {
  StatsRegistry stats;
  StatId z = MustRegister(stats, "z.first", StatKind::kCounter);
  StatId a = MustRegister(stats, "a.second", StatKind::kGauge);
  StatId m = MustRegister(stats, "m.third", StatKind::kCounter);
  stats.Add(z, 3);
  stats.Add(a, -2);
  stats.Add(m, 12345678901234);
  std::vector<StatSnapshotEntry> snapshot = stats.Snapshot();
  ASSERT_EQ(snapshot.size(), 3u);
  EXPECT_EQ(snapshot[0].name, "z.first");
  EXPECT_EQ(snapshot[0].kind, StatKind::kCounter);
  EXPECT_EQ(snapshot[0].value, 3);
  EXPECT_EQ(snapshot[1].name, "a.second");
  EXPECT_EQ(snapshot[1].kind, StatKind::kGauge);
  EXPECT_EQ(snapshot[1].value, -2);
  EXPECT_EQ(snapshot[2].name, "m.third");
  EXPECT_EQ(snapshot[2].kind, StatKind::kCounter);
  EXPECT_EQ(snapshot[2].value, 12345678901234);
  EXPECT_EQ(StatKindName(StatKind::kCounter), "counter");
  EXPECT_EQ(StatKindName(StatKind::kGauge), "gauge");
}

TEST(StatsRegistryTest, SnapshotJsonIsAFlatObjectInRegistrationOrder) {
  StatsRegistry stats;
  EXPECT_EQ(stats.SnapshotJson(), "{}");
  StatId z = MustRegister(stats, "proxy.z", StatKind::kCounter);
  StatId a = MustRegister(stats, "proxy.a", StatKind::kGauge);
  stats.Add(z, 1);
  stats.Add(a, -2);
  EXPECT_EQ(stats.SnapshotJson(), R"({"proxy.z":1,"proxy.a":-2})");
}

TEST(StatsRegistryTest, SnapshotJsonEscapesQuotesAndBackslashesInNames) {
  StatsRegistry stats;
  StatId quote = MustRegister(stats, R"(plugin."quoted")", StatKind::kCounter);
  StatId slash = MustRegister(stats, R"(plugin.back\slash)", StatKind::kCounter);
  stats.Increment(quote);
  stats.Add(slash, 2);
  EXPECT_EQ(stats.SnapshotJson(), R"({"plugin.\"quoted\"":1,"plugin.back\\slash":2})");
}

TEST(GlobalStatsTest, ReturnsOneProcessWideRegistry) {
  StatsRegistry* from_other_thread = nullptr;
  std::thread([&] { from_other_thread = &GlobalStats(); }).join();
  EXPECT_EQ(&GlobalStats(), from_other_thread);
  EXPECT_EQ(GlobalStats().capacity(), StatsRegistry::kDefaultCapacity);
  StatId id = MustRegister(GlobalStats(), "tollgate.test.global", StatKind::kCounter);
  GlobalStats().Increment(id);
  EXPECT_EQ(GlobalStats().Get(id), 1);
}

}  // namespace
}  // namespace tollgate

namespace tollgate {
namespace {

TEST(RegisterFixedStatTest, ReturnsTheSameIdForTheSameNameAndAnInvalidOneForABadName) {
  const StatId id = RegisterFixedStat("proxy.process.test.fixed_stat", StatKind::kCounter);
  EXPECT_TRUE(id.valid());
  EXPECT_EQ(RegisterFixedStat("proxy.process.test.fixed_stat", StatKind::kCounter), id);
  const StatId bad = RegisterFixedStat("has space", StatKind::kCounter);
  EXPECT_FALSE(bad.valid());
  GlobalStats().Increment(bad);  // ignored, as documented for invalid ids
  EXPECT_EQ(GlobalStats().Get(bad), 0);
}

}  // namespace
}  // namespace tollgate
