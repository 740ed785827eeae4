// TLS hook points: where plugins (and tests) take part in a connection's first moments.
//
// A hook is a TlsHookCallback registered for a TlsHookId. Hooks of one kind run in registration
// order; the next runs only after the previous one called Reenable (SSLNetVConnection::Reenable
// with the connection's handle) exactly once, inline or later from any thread. While a hook has
// not reenabled, the handshake is parked: nothing of it moves.
//
// The registry is filled at start-up (plugins register in TSPluginInit) and may grow later;
// every connection takes a snapshot of the lists when it starts, so hooks added meanwhile apply
// to new connections only.
//
// Per hook kind the registry keeps stats: calls, handshakes parked now, and a park-time
// histogram (proxy.process.tls.hook.<name>.*).

#ifndef TOLLGATE_IOCORE_TLS_TLS_HOOKS_H_
#define TOLLGATE_IOCORE_TLS_TLS_HOOKS_H_

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "iocore/eventsystem/mutex.h"
#include "iocore/eventsystem/stats.h"

namespace tollgate {

class SSLNetVConnection;

enum class TlsHookId : uint8_t {
  kVconnStart,  // before any byte is read (TS_VCONN_START_HOOK)
  kClientHello,  // ClientHello parsed (TS_SSL_CLIENT_HELLO_HOOK)
  kServername,  // SNI known, also when absent (TS_SSL_SERVERNAME_HOOK)
  kCert,  // certificate about to be used (TS_SSL_CERT_HOOK)
  kVerifyClient,  // client certificate verification (TS_SSL_VERIFY_CLIENT_HOOK)
  kVconnClose,  // connection closing (TS_VCONN_CLOSE_HOOK)
  kOutboundStart,  // client side: before connecting TLS to an origin
  kVerifyServer,  // client side: origin certificate verification
  kOutboundClose,  // client side: origin connection closing
};
inline constexpr int kNumTlsHookIds = 9;

// TlsHookIdName returns "VCONN_START", "SSL_CLIENT_HELLO", ... for logs and stat names.
const char* TlsHookIdName(TlsHookId id);

class TlsHookCallback {
 public:
  virtual ~TlsHookCallback() = default;
  // Invoke runs on the connection's net thread. The callee must make the connection's handle be
  // reenabled exactly once (SSLNetVConnection::Reenable), now or later, from any thread.
  virtual void Invoke(TlsHookId id, SSLNetVConnection* vc) = 0;
};

// An immutable snapshot of the registered hooks.
struct TlsHookLists {
  std::array<std::vector<TlsHookCallback*>, kNumTlsHookIds> lists;
  const std::vector<TlsHookCallback*>& of(TlsHookId id) const {
    return lists[static_cast<int>(id)];
  }
};

struct TlsHookStats {
  StatId calls;
  StatId parked_now;
  // Park time histogram: < 1 ms, < 10 ms, < 100 ms, < 1 s, < 10 s, >= 10 s.
  std::array<StatId, 6> park_time;
};

class TlsHookRegistry {
 public:
  TlsHookRegistry();
  TlsHookRegistry(const TlsHookRegistry&) = delete;
  TlsHookRegistry& operator=(const TlsHookRegistry&) = delete;

  // Add appends |callback| (not owned; must outlive every connection) to the hooks of |id|. Any
  // thread.
  void Add(TlsHookId id, TlsHookCallback* callback);

  // Snapshot returns the current lists. Any thread.
  std::shared_ptr<const TlsHookLists> Snapshot() const;

  // stats returns the counters of |id|.
  const TlsHookStats& stats(TlsHookId id) const { return stats_[static_cast<int>(id)]; }

  // RecordParkTime adds one parked interval to |id|'s histogram.
  void RecordParkTime(TlsHookId id, int64_t nanoseconds) const;

 private:
  mutable Mutex mu_;
  std::shared_ptr<const TlsHookLists> lists_ ABSL_GUARDED_BY(mu_);
  std::array<TlsHookStats, kNumTlsHookIds> stats_;
};

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_TLS_TLS_HOOKS_H_
