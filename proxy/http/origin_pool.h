// OriginPool: idle keep-alive connections to origins, kept per net thread for reuse.
//
// An HTTP session runs on its client connection's net thread and opens origin connections on
// the same thread (ConnectOptions::thread), so a pool per thread needs no lock on the request
// path and hands out connections whose events already arrive on the right thread.
//
//   OriginPool* pool = OriginPool::ForCurrentThread(settings);  // on a net thread
//   if (NetVConnection* vc = pool->Take(key)) { ...reuse: DoIoRead/DoIoWrite with the session...}
//   ...
//   pool->Release(key, vc);  // response done, connection clean: keep it for the next request
//
// While a connection is idle in the pool, the pool owns it: it reads from it to notice the
// origin closing (EOS, error, or unexpected bytes all close it) and times it out after
// `idle_timeout` (proxy.config.http.keep_alive_no_activity_timeout_out). At most
// `max_idle_per_origin` connections per key are kept per thread; the oldest goes first.

#ifndef TOLLGATE_PROXY_HTTP_ORIGIN_POOL_H_
#define TOLLGATE_PROXY_HTTP_ORIGIN_POOL_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "iocore/eventsystem/io_buffer.h"
#include "iocore/eventsystem/stats.h"
#include "iocore/net/net_vconnection.h"

namespace tollgate {

struct OriginPoolSettings {
  Nanoseconds idle_timeout = std::chrono::seconds(120);
  size_t max_idle_per_origin = 64;
};

// Process-wide pool counters.
struct OriginPoolStats {
  StatId idle;  // gauge: connections idle in the pools now
  StatId reused;  // a Take that returned a connection
  StatId released;  // connections kept for reuse
  StatId closed_idle;  // idle connections closed: by the origin, timed out or over the bound

  static const OriginPoolStats& Get();
};

class OriginPool {
 public:
  // ForCurrentThread returns the calling net thread's pool, creating it with |settings| the
  // first time (later calls ignore |settings|). Freed, with its connections closed, when the
  // thread exits. Net threads only.
  static OriginPool* ForCurrentThread(const OriginPoolSettings& settings);

  ~OriginPool();
  OriginPool(const OriginPool&) = delete;
  OriginPool& operator=(const OriginPool&) = delete;

  // Take returns the most recently released idle connection for |key|, or null. The caller
  // owns it from then on and must set up its own VIOs (DoIoRead / DoIoWrite) before returning
  // to the event loop. Own thread only.
  NetVConnection* Take(const std::string& key);

  // Release keeps |vc| for reuse under |key|. Its VIOs are taken over by the pool; the caller
  // must not use it afterwards. Call only when no byte of a response is pending on it.
  void Release(const std::string& key, NetVConnection* vc);

  size_t idle_count() const { return idle_count_; }

 private:
  class Entry;

  explicit OriginPool(const OriginPoolSettings& settings);
  void Forget(Entry* entry);

  const OriginPoolSettings settings_;
  Ptr<ProxyMutex> mutex_;
  absl::flat_hash_map<std::string, std::deque<Entry*>> idle_;
  size_t idle_count_ = 0;
};

}  // namespace tollgate

#endif  // TOLLGATE_PROXY_HTTP_ORIGIN_POOL_H_
