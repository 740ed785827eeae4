// NetHandler: the poller that runs connections on one ET_NET thread.
//
// Sockets are registered edge-triggered in the thread's epoll set. Readiness only marks a side
// "triggered"; a side runs when it is both triggered and enabled (by DoIoRead/DoIoWrite or
// Reenable). Ready connections wait in a read list and a write list, and only this class edits
// those lists. Enabling from another thread goes through a queue drained on this thread.
//
// The InactivityCop runs here too, every NetConfig::cop_interval: inactivity and active
// timeouts, and the connection limit (oldest idle keep-alive connections are timed out first).
//
// Connections closed during a pass are freed at the end of that Poll, after every list has
// forgotten them: never under the feet of the callback that closed them.

#ifndef TOLLGATE_IOCORE_NET_NET_HANDLER_H_
#define TOLLGATE_IOCORE_NET_NET_HANDLER_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "iocore/eventsystem/clock.h"
#include "iocore/eventsystem/ethread.h"
#include "iocore/eventsystem/mutex.h"
#include "iocore/eventsystem/stats.h"

namespace tollgate {

class UnixNetVConnection;

struct NetConfig {
  // proxy.config.net.default_inactivity_timeout (ATS default: one day).
  Nanoseconds default_inactivity_timeout = std::chrono::hours(24);
  // proxy.config.net.connections_throttle: open connections allowed in the process.
  int64_t connections_throttle = 30000;
  // How often the InactivityCop runs on each thread.
  Nanoseconds cop_interval = std::chrono::seconds(1);
  // Back-off after accept fails for lack of file descriptors.
  Nanoseconds accept_backoff = std::chrono::milliseconds(100);
};

// Process-wide net counters (registered once in GlobalStats()).
struct NetStats {
  StatId connections_open;  // gauge
  StatId connections_total;  // accepted + connected
  StatId accepts_total;
  StatId accept_errors;  // accept4 failures other than EAGAIN
  StatId accept_fd_exhausted;  // EMFILE/ENFILE episodes
  StatId connect_failures;
  StatId inactivity_timeouts;
  StatId active_timeouts;
  StatId throttled_closes;  // idle keep-alive connections timed out to make room
  StatId throttled_refusals;  // connections refused at the limit

  static const NetStats& Get();
};

// Shared by all NetHandlers of one NetProcessor.
struct NetShared {
  NetConfig config;
  std::atomic<int64_t> open_connections{0};
};

enum class NetSide : uint8_t {
  kRead,
  kWrite,
};

class NetHandler final : public Poller {
 public:
  // Constructed on |thread| itself (EventProcessorOptions::net_thread_init). When the thread's
  // loop ends, the handler closes every connection it still has, without callbacks.
  NetHandler(EThread* thread, NetShared* shared);
  ~NetHandler() override;
  NetHandler(const NetHandler&) = delete;
  NetHandler& operator=(const NetHandler&) = delete;

  // Poll runs the cross-thread queue, then every ready side, then frees closed connections.
  bool Poll() override;

  // Own thread only.
  //
  // Attach registers |vc|'s socket in the epoll set and starts tracking it. Returns false (and
  // leaves the fd to the caller) if epoll refused it.
  bool Attach(UnixNetVConnection* vc);
  // MarkReady queues |side| of |vc| for the next pass if it is enabled and triggered.
  void MarkReady(UnixNetVConnection* vc, NetSide side);
  // Release stops tracking |vc| (epoll, lists, cop) and frees it at the end of this Poll.
  void Release(UnixNetVConnection* vc);
  // RetrySoon makes the loop come back within EThread::kLockRetryDelay: a side found its VIO's
  // mutex busy and stays queued.
  void RetrySoon();
  // KeepAliveIdle moves |vc| into or out of the idle keep-alive list (newest at the back).
  void SetKeepAliveIdle(UnixNetVConnection* vc, bool idle);
  // MakeRoom is called when an accept would exceed the connection limit: it times out this
  // thread's oldest idle keep-alive connection and returns true, or returns false if there is
  // none.
  bool MakeRoom();
  // TimeOutIdleKeepAlive gives every idle keep-alive connection VC_EVENT_INACTIVITY_TIMEOUT
  // (NetProcessor::CloseIdleKeepAlive). One whose owner's mutex is busy stays in the list.
  void TimeOutIdleKeepAlive();

  // Any thread: run Reenable/close work for |vc| on this thread.
  void EnqueueFromOtherThread(UnixNetVConnection* vc, uint8_t ops);

  EThread* thread() const { return thread_; }
  NetShared* shared() const { return shared_; }
  int64_t connection_count() const { return connection_count_; }

  // this_net_handler returns the calling thread's NetHandler, or null.
  static NetHandler* ForCurrentThread();

 private:
  class Cop;
  class Waker;

  void CloseAllOnExit();
  void DrainOtherThreads();
  void RunReadyList(NetSide side);
  void FreeReleased();
  void RunCop();

  EThread* const thread_;
  NetShared* const shared_;
  std::vector<UnixNetVConnection*> read_ready_;
  std::vector<UnixNetVConnection*> write_ready_;
  std::vector<UnixNetVConnection*> released_;
  // Intrusive lists through UnixNetVConnection: every open connection, and the idle keep-alive
  // ones (oldest first).
  UnixNetVConnection* open_head_ = nullptr;
  UnixNetVConnection* ka_head_ = nullptr;
  UnixNetVConnection* ka_tail_ = nullptr;
  int64_t connection_count_ = 0;
  bool retry_scheduled_ = false;

  Mutex other_mu_;
  std::vector<UnixNetVConnection*> other_ ABSL_GUARDED_BY(other_mu_);

  Cop* cop_ = nullptr;
  Waker* waker_ = nullptr;
  Action cop_action_;
};

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_NET_NET_HANDLER_H_
