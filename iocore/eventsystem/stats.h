// StatsRegistry: process-wide named counters and gauges.
//
// Every layer registers its stats once by name ("proxy.process.net.connections_open") and keeps
// the returned StatId; the hot path then adds to the stat by id, lock-free and without
// allocating. Each thread adds into its own slab of slots, so adding threads do not contend;
// a read sums the slabs. The plugin API (TSStatCreate, TSStatIntIncrement, ...) and the
// admin endpoint's JSON dump sit on top of this.
//
//   absl::StatusOr<StatId> open =
//       GlobalStats().Register("proxy.process.net.connections_open", StatKind::kGauge);
//   if (!open.ok()) return open.status();
//   ...
//   GlobalStats().Increment(*open);   // any thread, hot path
//   GlobalStats().Decrement(*open);
//   int64_t now_open = GlobalStats().Get(*open);
//   std::string json = GlobalStats().SnapshotJson();  // {"proxy.process.net.connections_open":0}
//
// Thread safety: every method may be called from any thread at any time. Register, Find,
// Snapshot and SnapshotJson take the registry's mutex. Add, Increment, Decrement, Get and Set
// never take a lock and never allocate, with one exception: a thread's first Add to a registry
// takes a slab for the thread under a second, internal mutex, allocating it (capacity() * 8
// bytes) unless an exited thread left one free.
//
// Values are never lost when a thread exits: its slab stays in the registry, is summed by every
// read, and is handed to the next thread that starts adding.

#ifndef TOLLGATE_IOCORE_EVENTSYSTEM_STATS_H_
#define TOLLGATE_IOCORE_EVENTSYSTEM_STATS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "iocore/eventsystem/mutex.h"

namespace tollgate {

namespace stats_internal {
class StatsCore;
}  // namespace stats_internal

// StatKind says how a stat is meant to move. The registry does not enforce it on Add; it is
// reported by Snapshot so exporters can label the stat.
enum class StatKind : uint8_t {
  kCounter,  // only goes up (events seen): connections_total, accept_errors
  kGauge,  // goes up and down (current level): connections_open; may go negative transiently
};

// StatKindName returns "counter" or "gauge".
absl::string_view StatKindName(StatKind kind);

// StatId is a registered stat's handle within one StatsRegistry. A default-constructed StatId is
// invalid. Ids are small dense indices, in registration order, starting at 0.
class StatId {
 public:
  constexpr StatId() = default;
  constexpr explicit StatId(int index) : index_(index) {}

  // valid returns whether the id holds a non-negative index. It does not say whether the index
  // is registered in any particular registry.
  constexpr bool valid() const { return index_ >= 0; }

  // index returns the id's index, or -1 for an invalid id.
  constexpr int index() const { return index_; }

  friend constexpr bool operator==(StatId a, StatId b) { return a.index_ == b.index_; }
  friend constexpr bool operator!=(StatId a, StatId b) { return a.index_ != b.index_; }

 private:
  int index_ = -1;
};

// StatSnapshotEntry is one stat as Snapshot saw it.
struct StatSnapshotEntry {
  std::string name;
  StatKind kind = StatKind::kCounter;
  int64_t value = 0;
};

class StatsRegistry {
 public:
  // Stats a registry holds unless its constructor says otherwise.
  static constexpr int kDefaultCapacity = 4096;
  // Longest accepted stat name, in bytes.
  static constexpr size_t kMaxNameLength = 256;

  // StatsRegistry creates an empty registry that holds up to |capacity| stats (at least 1;
  // smaller values are raised to 1). Each thread that adds to it costs capacity * 8 bytes.
  // Production code uses GlobalStats(); tests construct their own.
  explicit StatsRegistry(int capacity = kDefaultCapacity);

  // ~StatsRegistry frees every slab. No thread may be using the registry any more; threads
  // that added to it may still be running, and may exit later, safely.
  ~StatsRegistry();

  StatsRegistry(const StatsRegistry&) = delete;
  StatsRegistry& operator=(const StatsRegistry&) = delete;

  // capacity returns how many stats the registry can hold.
  int capacity() const { return capacity_; }

  // --- Control plane (takes the registry's mutex) ----------------------------------------------

  // Register returns the id of the stat called |name|, adding it with value 0 if it is new.
  // Registering a name again with the same |kind| returns the same id (layers and plugins
  // register at start-up and again on reload). It fails with:
  //   - InvalidArgument if |name| is empty, longer than kMaxNameLength, or contains a byte that
  //     is not printable ASCII (whitespace, control characters and non-ASCII are rejected);
  //   - AlreadyExists if |name| is registered with the other kind (the message names the stat
  //     and both kinds);
  //   - ResourceExhausted if |name| is new and the registry already holds capacity() stats.
  absl::StatusOr<StatId> Register(absl::string_view name, StatKind kind);

  // Find returns the id of the stat called |name|, or nullopt if none is registered.
  std::optional<StatId> Find(absl::string_view name) const;

  // Snapshot returns every registered stat (name, kind, current value as Get reports it) in
  // registration order. Values of different stats are read one after another, not atomically
  // as a set.
  std::vector<StatSnapshotEntry> Snapshot() const;

  // SnapshotJson returns Snapshot() as one flat JSON object, in registration order, with no
  // whitespace: {"proxy.a":1,"proxy.b":-2}, or {} when nothing is registered. Names are
  // JSON-escaped.
  std::string SnapshotJson() const;

  // --- Hot path (lock-free; no allocation after a thread's first Add) --------------------------
  //
  // These accept any StatId: one that is invalid or not registered in this registry is ignored
  // (Add, Increment, Decrement and Set do nothing; Get returns 0). An id from another registry
  // whose index happens to be registered here is not detected.

  // Add adds |delta| (possibly negative) to the stat, into the calling thread's slab. Values
  // wrap around on int64 overflow instead of being undefined.
  void Add(StatId id, int64_t delta);

  // Increment adds 1 to the stat.
  void Increment(StatId id) { Add(id, 1); }

  // Decrement subtracts 1 from the stat.
  void Decrement(StatId id) { Add(id, -1); }

  // Get returns the stat's value: the sum of every thread's slab, including those of threads
  // that have exited, plus the base set by Set. Adds that happen concurrently with Get may or
  // may not be included; once the adding threads are joined (or otherwise synchronised with
  // the caller), Get returns the exact total.
  int64_t Get(StatId id) const;

  // Set makes the stat's value |value| (TSStatIntSet; gauges fed from the control plane). It
  // sums the slabs and stores |value| minus that sum as the stat's base, leaving the slabs
  // alone. Without concurrent writers, Get returns exactly |value| afterwards, and later Adds
  // move it from there. Adds racing with Set on other threads may be erased or kept, and two
  // racing Sets leave one of the two values plus or minus those Adds; a Get racing with Set may
  // see a value in between.
  void Set(StatId id, int64_t value);

 private:
  std::atomic<int64_t>* SlotsForThisThread();
  bool IsRegistered(StatId id) const;

  const int capacity_;
  // Distinguishes this registry in threads' slab caches. Never reused, unlike the address.
  const uint64_t serial_;
  // Slabs and base values. Shared with the slab caches of the threads that added to this
  // registry, so a thread exiting after the registry is gone finds out safely.
  const std::shared_ptr<stats_internal::StatsCore> core_;

  // Stats registered so far; only grows. Written under mu_, read lock-free by the hot path to
  // reject unregistered ids.
  std::atomic<int> size_{0};

  struct StatInfo {
    std::string name;
    StatKind kind;
  };
  mutable Mutex mu_;
  std::vector<StatInfo> stats_ ABSL_GUARDED_BY(mu_);  // index is the StatId's
  absl::flat_hash_map<std::string, int> index_by_name_ ABSL_GUARDED_BY(mu_);
};

// RegisterFixedStat registers |name| in GlobalStats() and returns its id. For the fixed names a
// module registers once (its Stats::Get()): such a registration fails only on a programming
// error (a bad name, or the same name with the other kind), and the invalid id returned then
// makes it visible without stopping the program: every Get of it reads 0.
StatId RegisterFixedStat(absl::string_view name, StatKind kind);

// AppendJsonString appends |s| to |*out| as a JSON string (RFC 8259 §7): quotes and
// backslashes escaped, control characters as \u00XX, other bytes as they are.
void AppendJsonString(absl::string_view s, std::string* out);

// GlobalStats returns the process-wide registry (default capacity). It is created on first use
// and never destroyed, so it may be used from static destructors and exiting threads.
StatsRegistry& GlobalStats();

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_EVENTSYSTEM_STATS_H_
