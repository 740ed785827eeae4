// NetProcessor: listening sockets and outgoing connections on the ET_NET threads.
//
//   NetProcessor net(NetConfig{});
//   EventProcessor ep;
//   ep.Start({.net_threads = 2, .net_thread_init = [&](EThread& t) { net.InitThread(t); }});
//   absl::StatusOr<IpEndpoint> bound = net.Accept(&acceptor, *IpEndpoint::Parse("127.0.0.1:0"));
//   net.Connect(&client, *bound, {.timeout = std::chrono::seconds(5)});
//   ...
//   ep.Shutdown();  // each thread closes its connections and listeners as it exits
//
// Accept: one SO_REUSEPORT listener per ET_NET thread; each accepts until EAGAIN (bounded per
// pass), sets TCP_NODELAY, wraps the socket in a UnixNetVConnection on that thread and calls
// the acceptor with NET_EVENT_ACCEPT and the NetVConnection* as data. The acceptor is called on
// the net thread and must not block; a mutex on it is try-locked, and the connection is refused
// when that fails, so acceptors normally have none. On EMFILE/ENFILE a listener stops for
// NetConfig::accept_backoff, logs once per episode and resumes; it never spins.
//
// Connect: NET_EVENT_OPEN with the NetVConnection*, or NET_EVENT_OPEN_FAILED with -errno cast
// to void* (ATS convention; -ETIMEDOUT after |timeout|), to |cont| under its mutex.

#ifndef TOLLGATE_IOCORE_NET_NET_PROCESSOR_H_
#define TOLLGATE_IOCORE_NET_NET_PROCESSOR_H_

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "iocore/eventsystem/continuation.h"
#include "iocore/eventsystem/ethread.h"
#include "iocore/eventsystem/mutex.h"
#include "iocore/net/ip_endpoint.h"
#include "iocore/net/net_handler.h"
#include "iocore/net/net_vconnection.h"

namespace tollgate {

class UnixNetVConnection;

struct AcceptOptions {
  int backlog = 1024;
  // Wraps each accepted socket (non-blocking, TCP_NODELAY) on the accepting net thread. Empty:
  // a plain UnixNetVConnection. The TLS layer passes one that makes SSLNetVConnections. Returns
  // null (having closed the socket) when the connection cannot be set up.
  std::function<UnixNetVConnection*(int fd, NetHandler* nh, const IpEndpoint& local,
                                    const IpEndpoint& remote)>
      make_vc;
};

struct ConnectOptions {
  Nanoseconds timeout = std::chrono::seconds(30);
  // The net thread to connect on (one initialised with InitThread). Null: the next net thread,
  // round robin. A session that wants its client and origin connections on one thread (so that
  // every event of both reaches it on that thread) passes its client connection's thread().
  EThread* thread = nullptr;
  // Wraps the connecting socket, as AcceptOptions::make_vc does for accepted ones (the TLS layer
  // makes client-side SSLNetVConnections). Empty: a plain UnixNetVConnection.
  std::function<UnixNetVConnection*(int fd, NetHandler* nh, const IpEndpoint& local,
                                    const IpEndpoint& remote)>
      make_vc;
};

class NetProcessor {
 public:
  explicit NetProcessor(NetConfig config = {});
  // Destroy it after EventProcessor::Shutdown: its threads use what it owns.
  ~NetProcessor();
  NetProcessor(const NetProcessor&) = delete;
  NetProcessor& operator=(const NetProcessor&) = delete;

  // InitThread attaches a NetHandler to |thread|. Call it from the ET_NET thread init callback.
  void InitThread(EThread& thread);

  // Accept listens on |addr| (port 0: an ephemeral port) on every initialised net thread and
  // returns the bound address. Errors name the address and the failing call. Call after the
  // event threads started.
  absl::StatusOr<IpEndpoint> Accept(Continuation* acceptor, const IpEndpoint& addr,
                                    AcceptOptions options = {});

  // Connect opens a TCP connection to |to| on options.thread, else the next net thread. Any
  // thread.
  void Connect(Continuation* cont, const IpEndpoint& to, ConnectOptions options = {});

  // StopAccepting closes every listening socket opened by Accept, each on its own thread, so
  // that new connections are refused by the kernel; connections already accepted are not
  // touched. Any thread; call it before EventProcessor::Shutdown. Idempotent.
  void StopAccepting();

  // CloseIdleKeepAlive gives every connection marked idle keep-alive (SetKeepAliveIdle) a
  // VC_EVENT_INACTIVITY_TIMEOUT now, on its own thread, so that its owner closes it. A connection
  // whose owner's mutex is busy at that moment stays marked; calling again retries it. Any
  // thread; used by a draining server.
  void CloseIdleKeepAlive();

  const NetConfig& config() const { return shared_.config; }
  // open_connections returns connections currently open across all threads.
  int64_t open_connections() const {
    return shared_.open_connections.load(std::memory_order_relaxed);
  }

 private:
  class Listener;
  class ConnectOp;
  class IdleSweep;

  NetShared shared_;
  Mutex mu_;
  std::vector<std::unique_ptr<NetHandler>> handlers_ ABSL_GUARDED_BY(mu_);
  std::vector<EThread*> threads_ ABSL_GUARDED_BY(mu_);
  // Every listener opened by Accept, with the thread it lives on (it is freed when that thread
  // exits).
  std::vector<std::pair<EThread*, Listener*>> listeners_ ABSL_GUARDED_BY(mu_);
  std::vector<Listener*> all_listeners_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint32_t> next_thread_{0};
  std::unique_ptr<IdleSweep> idle_sweep_;
};

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_NET_NET_PROCESSOR_H_
