#include "iocore/eventsystem/stats.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace tollgate {
namespace stats_internal {

// Slab is one thread's slots, one per possible StatId. Slabs are pushed onto a registry's list
// and never leave it until the registry is destroyed: readers walk the list without a lock, and
// the values of a thread that exited stay where they are, counted by every read. When a thread
// exits its slab goes on the free list and the next new thread adds on top of those values.
struct Slab {
  Slab(int capacity, Slab* next_slab)
      : slots(std::make_unique<std::atomic<int64_t>[]>(capacity)), next(next_slab) {}

  const std::unique_ptr<std::atomic<int64_t>[]> slots;  // value-initialised: all zero
  Slab* const next;  // immutable once published, so readers need no lock to follow it
};

// StatsCore is the part of a registry that threads' slab caches point at (weakly), so a thread
// exiting after the registry was destroyed can tell and leave the slab alone.
class StatsCore {
 public:
  explicit StatsCore(int capacity)
      : capacity_(capacity), base_(std::make_unique<std::atomic<int64_t>[]>(capacity)) {}

  ~StatsCore() {
    Slab* slab = head_.load(std::memory_order_acquire);
    while (slab != nullptr) {
      Slab* next = slab->next;
      delete slab;
      slab = next;
    }
  }

  StatsCore(const StatsCore&) = delete;
  StatsCore& operator=(const StatsCore&) = delete;

  // AcquireSlab returns a slab for the calling thread to own: one an exited thread left, or a
  // new zeroed one published on the list.
  Slab* AcquireSlab() {
    MutexGuard lock(&mu_);
    if (!free_.empty()) {
      Slab* slab = free_.back();
      free_.pop_back();
      return slab;
    }
    Slab* slab = new Slab(capacity_, head_.load(std::memory_order_relaxed));
    head_.store(slab, std::memory_order_release);
    return slab;
  }

  // ReleaseSlab hands back the slab of an exiting thread. It stays on the list.
  void ReleaseSlab(Slab* slab) {
    MutexGuard lock(&mu_);
    free_.push_back(slab);
  }

  Slab* head() const { return head_.load(std::memory_order_acquire); }

  // base returns the slots Set writes, and which threads add to directly once their own slab
  // is gone (see SlotsForThisThread).
  std::atomic<int64_t>* base() const { return base_.get(); }

 private:
  const int capacity_;
  const std::unique_ptr<std::atomic<int64_t>[]> base_;
  std::atomic<Slab*> head_{nullptr};  // pushed under mu_, read lock-free

  Mutex mu_;
  std::vector<Slab*> free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace stats_internal

namespace {

using stats_internal::Slab;
using stats_internal::StatsCore;

constinit std::atomic<uint64_t> g_next_serial{1};  // 0 marks an empty cache below

// The last registry this thread added to, and its slots. Trivially destructible, so reading it
// costs a plain TLS access: this is the whole hot-path lookup in the common one-registry case.
struct LastSlab {
  uint64_t serial = 0;
  std::atomic<int64_t>* slots = nullptr;
};
constinit thread_local LastSlab t_last;

// Set once this thread's ThreadSlabs is destroyed: from then on the thread adds to base slots.
constinit thread_local bool t_exiting = false;

// ThreadSlabs owns this thread's slab in every registry it added to, and hands each back when
// the thread exits, so the slab's values stay counted and its memory is reused.
class ThreadSlabs {
 public:
  struct Entry {
    uint64_t serial;
    std::weak_ptr<StatsCore> core;
    Slab* slab;
  };

  ThreadSlabs() = default;
  ThreadSlabs(const ThreadSlabs&) = delete;
  ThreadSlabs& operator=(const ThreadSlabs&) = delete;

  ~ThreadSlabs() {
    // Later thread_local destructors may still add; they must not touch a slab given away.
    t_exiting = true;
    t_last = LastSlab{};
    for (Entry& entry : entries) {
      if (std::shared_ptr<StatsCore> core = entry.core.lock()) core->ReleaseSlab(entry.slab);
    }
  }

  std::vector<Entry> entries;
};
thread_local ThreadSlabs t_slabs;

bool IsValidNameByte(char c) {
  // Printable ASCII without space: whitespace, control bytes and non-ASCII (which could be
  // invalid UTF-8 in the JSON dump) are all rejected.
  return c > ' ' && c < 0x7f;
}

absl::Status ValidateName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("stat name is empty");
  if (name.size() > StatsRegistry::kMaxNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("stat name \"", absl::CHexEscape(name.substr(0, 64)), "...\" is longer than ",
                     StatsRegistry::kMaxNameLength, " bytes"));
  }
  for (char c : name) {
    if (!IsValidNameByte(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("stat name \"", absl::CHexEscape(name),
                       "\" contains whitespace, a control character or a non-ASCII byte"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

void AppendJsonString(absl::string_view s, std::string* out) {
  out->push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          // Register rejects these; escape anyway so the output is valid JSON whatever the name.
          static constexpr char kHex[] = "0123456789abcdef";
          out->append("\\u00");
          out->push_back(kHex[(c >> 4) & 0xf]);
          out->push_back(kHex[c & 0xf]);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

StatId RegisterFixedStat(absl::string_view name, StatKind kind) {
  absl::StatusOr<StatId> id = GlobalStats().Register(name, kind);
  return id.ok() ? *id : StatId();
}

absl::string_view StatKindName(StatKind kind) {
  switch (kind) {
    case StatKind::kCounter:
      return "counter";
    case StatKind::kGauge:
      return "gauge";
  }
  return "unknown";
}

StatsRegistry::StatsRegistry(int capacity)
    : capacity_(std::max(capacity, 1)),
      serial_(g_next_serial.fetch_add(1, std::memory_order_relaxed)),
      core_(std::make_shared<StatsCore>(capacity_)) {}

StatsRegistry::~StatsRegistry() = default;

absl::StatusOr<StatId> StatsRegistry::Register(absl::string_view name, StatKind kind) {
  if (absl::Status status = ValidateName(name); !status.ok()) return status;
  MutexGuard lock(&mu_);
  // Look the name up before checking capacity: re-registering on reload must work when full.
  if (auto it = index_by_name_.find(name); it != index_by_name_.end()) {
    const StatKind existing = stats_[it->second].kind;
    if (existing != kind) {
      return absl::AlreadyExistsError(
          absl::StrCat("stat \"", name, "\" is already registered as a ", StatKindName(existing),
                       ", not a ", StatKindName(kind)));
    }
    return StatId(it->second);
  }
  if (stats_.size() >= static_cast<size_t>(capacity_)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "cannot register stat \"", name, "\": the registry is full (", capacity_, " stats)"));
  }
  const int index = static_cast<int>(stats_.size());
  stats_.push_back(StatInfo{std::string(name), kind});
  index_by_name_.emplace(std::string(name), index);
  // The slots at |index| are still zero: nothing writes a slot until its id is registered.
  size_.store(index + 1, std::memory_order_release);
  return StatId(index);
}

std::optional<StatId> StatsRegistry::Find(absl::string_view name) const {
  MutexGuard lock(&mu_);
  auto it = index_by_name_.find(name);
  if (it == index_by_name_.end()) return std::nullopt;
  return StatId(it->second);
}

std::vector<StatSnapshotEntry> StatsRegistry::Snapshot() const {
  MutexGuard lock(&mu_);
  std::vector<StatSnapshotEntry> entries;
  entries.reserve(stats_.size());
  for (size_t i = 0; i < stats_.size(); ++i) {
    entries.push_back(StatSnapshotEntry{
        .name = stats_[i].name,
        .kind = stats_[i].kind,
        .value = Get(StatId(static_cast<int>(i))),
    });
  }
  return entries;
}

std::string StatsRegistry::SnapshotJson() const {
  std::string json = "{";
  bool first = true;
  for (const StatSnapshotEntry& entry : Snapshot()) {
    if (!first) json.push_back(',');
    first = false;
    AppendJsonString(entry.name, &json);
    json.push_back(':');
    absl::StrAppend(&json, entry.value);
  }
  json.push_back('}');
  return json;
}

bool StatsRegistry::IsRegistered(StatId id) const {
  // An unsigned compare also rejects negative (invalid) ids.
  return static_cast<unsigned>(id.index()) <
      static_cast<unsigned>(size_.load(std::memory_order_acquire));
}

std::atomic<int64_t>* StatsRegistry::SlotsForThisThread() {
  if (t_exiting) {
    // This thread's slabs are handed back and may already belong to another thread. Share the
    // base slots instead; an add here can be erased by a concurrent Set, like any racing add.
    return core_->base();
  }
  for (const ThreadSlabs::Entry& entry : t_slabs.entries) {
    if (entry.serial == serial_) {
      t_last = LastSlab{serial_, entry.slab->slots.get()};
      return t_last.slots;
    }
  }
  // Entries of destroyed registries: their slabs died with them, nothing to hand back.
  std::erase_if(t_slabs.entries,
                [](const ThreadSlabs::Entry& entry) { return entry.core.expired(); });
  Slab* slab = core_->AcquireSlab();
  t_slabs.entries.push_back(ThreadSlabs::Entry{serial_, core_, slab});
  t_last = LastSlab{serial_, slab->slots.get()};
  return t_last.slots;
}

void StatsRegistry::Add(StatId id, int64_t delta) {
  if (!IsRegistered(id)) return;
  std::atomic<int64_t>* slots = t_last.serial == serial_ ? t_last.slots : SlotsForThisThread();
  // Only the owning thread writes a slab, so a relaxed load and store would do; fetch_add keeps
  // the count exact even where a slot is shared (the base slots of exiting threads) for the
  // price of a locked add, and wraps on overflow where `+` on int64_t would be undefined.
  slots[id.index()].fetch_add(delta, std::memory_order_relaxed);
}

int64_t StatsRegistry::Get(StatId id) const {
  if (!IsRegistered(id)) return 0;
  const int index = id.index();
  // Summed as unsigned so that wrapped values add up modulo 2^64 without undefined behaviour.
  uint64_t sum = static_cast<uint64_t>(core_->base()[index].load(std::memory_order_relaxed));
  for (const Slab* slab = core_->head(); slab != nullptr; slab = slab->next) {
    sum += static_cast<uint64_t>(slab->slots[index].load(std::memory_order_relaxed));
  }
  return static_cast<int64_t>(sum);
}

void StatsRegistry::Set(StatId id, int64_t value) {
  if (!IsRegistered(id)) return;
  const int index = id.index();
  // The slabs belong to their threads and are only ever added to, so Set leaves them alone and
  // moves the base instead: base = value - sum(slabs), which makes Get's sum come out at value.
  uint64_t slabs = 0;
  for (const Slab* slab = core_->head(); slab != nullptr; slab = slab->next) {
    slabs += static_cast<uint64_t>(slab->slots[index].load(std::memory_order_relaxed));
  }
  core_->base()[index].store(static_cast<int64_t>(static_cast<uint64_t>(value) - slabs),
                             std::memory_order_relaxed);
}

StatsRegistry& GlobalStats() {
  // Leaked on purpose: threads and static destructors may add to it during process exit.
  static StatsRegistry* const registry = new StatsRegistry();
  return *registry;
}

}  // namespace tollgate
