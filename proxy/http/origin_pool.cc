#include "proxy/http/origin_pool.h"

#include "iocore/net/net_handler.h"

namespace tollgate {
namespace {

thread_local OriginPool* tls_pool = nullptr;

}  // namespace

const OriginPoolStats& OriginPoolStats::Get() {
  static const OriginPoolStats stats{
      .idle = RegisterFixedStat("proxy.process.http.origin_pool.idle", StatKind::kGauge),
      .reused = RegisterFixedStat("proxy.process.http.origin_pool.reused", StatKind::kCounter),
      .released = RegisterFixedStat("proxy.process.http.origin_pool.released", StatKind::kCounter),
      .closed_idle =
          RegisterFixedStat("proxy.process.http.origin_pool.closed_idle", StatKind::kCounter),
  };
  return stats;
}

// One idle connection. It watches the connection under the pool's mutex: any event (the
// origin closed, sent bytes nobody asked for, errored, or stayed idle too long) closes it.
class OriginPool::Entry final : public Continuation {
 public:
  Entry(OriginPool* pool, std::string key, NetVConnection* vc)
      : Continuation(pool->mutex_), pool_(pool), key_(std::move(key)), vc_(vc) {
    vc_->DoIoWrite(nullptr, 0, nullptr);
    vc_->DoIoRead(this, INT64_MAX, &sink_);
    vc_->SetInactivityTimeout(pool_->settings_.idle_timeout);
  }

  void HandleEvent(EventCode, void*) override {
    GlobalStats().Increment(OriginPoolStats::Get().closed_idle);
    vc_->DoIoClose();
    pool_->Forget(this);
    delete this;
  }

  // Hand over: stop watching and return the connection.
  NetVConnection* Detach() {
    vc_->DoIoRead(nullptr, 0, nullptr);
    vc_->CancelInactivityTimeout();
    return vc_;
  }

  // Close without callbacks (over the bound).
  void CloseNow() { vc_->DoIoClose(); }

  const std::string& key() const { return key_; }

 private:
  OriginPool* const pool_;
  const std::string key_;
  NetVConnection* const vc_;
  MIOBuffer sink_{0};
};

OriginPool* OriginPool::ForCurrentThread(const OriginPoolSettings& settings) {
  if (tls_pool != nullptr) return tls_pool;
  NetHandler* nh = NetHandler::ForCurrentThread();
  if (nh == nullptr) return nullptr;
  tls_pool = new OriginPool(settings);
  OriginPool* pool = tls_pool;
  nh->thread()->AtExit([pool] {
    tls_pool = nullptr;
    delete pool;
  });
  return pool;
}

OriginPool::OriginPool(const OriginPoolSettings& settings)
    : settings_(settings), mutex_(NewProxyMutex()) {}

OriginPool::~OriginPool() {
  // At thread exit the net layer closes every connection itself (maybe already has): drop the
  // entries without touching their connections.
  for (auto& [key, entries] : idle_) {
    for (Entry* entry : entries) delete entry;
  }
  GlobalStats().Add(OriginPoolStats::Get().idle, -static_cast<int64_t>(idle_count_));
}

NetVConnection* OriginPool::Take(const std::string& key) {
  MutexLock lock(mutex_.get());
  auto it = idle_.find(key);
  if (it == idle_.end() || it->second.empty()) return nullptr;
  Entry* entry = it->second.back();
  it->second.pop_back();
  if (it->second.empty()) idle_.erase(it);
  --idle_count_;
  NetVConnection* vc = entry->Detach();
  delete entry;
  const OriginPoolStats& stats = OriginPoolStats::Get();
  GlobalStats().Decrement(stats.idle);
  GlobalStats().Increment(stats.reused);
  return vc;
}

void OriginPool::Release(const std::string& key, NetVConnection* vc) {
  MutexLock lock(mutex_.get());
  const OriginPoolStats& stats = OriginPoolStats::Get();
  std::deque<Entry*>& entries = idle_[key];
  if (entries.size() >= settings_.max_idle_per_origin) {
    Entry* oldest = entries.front();
    entries.pop_front();
    --idle_count_;
    oldest->CloseNow();
    delete oldest;
    GlobalStats().Decrement(stats.idle);
    GlobalStats().Increment(stats.closed_idle);
  }
  entries.push_back(new Entry(this, key, vc));
  ++idle_count_;
  GlobalStats().Increment(stats.idle);
  GlobalStats().Increment(stats.released);
}

void OriginPool::Forget(Entry* entry) {
  auto it = idle_.find(entry->key());
  if (it == idle_.end()) return;
  std::deque<Entry*>& entries = it->second;
  for (auto e = entries.begin(); e != entries.end(); ++e) {
    if (*e == entry) {
      entries.erase(e);
      --idle_count_;
      GlobalStats().Decrement(OriginPoolStats::Get().idle);
      break;
    }
  }
  if (entries.empty()) idle_.erase(it);
}

}  // namespace tollgate
