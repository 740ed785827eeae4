// Tunnels: byte relays for sni.yaml's tunnel_route and forward_route.
//
// A TunnelAcceptor is set as both TlsPortConfig::tunnel_acceptor and ::forward_acceptor. Each
// connection it receives gets a tunnel to its destination, relayed both ways until both
// directions have finished:
//
//   - blind (tunnel_route, TSVConnTunnel, an `action=tunnel` certificate entry): the TLS
//     connection was not terminated. The destination is SSLNetVConnection::TunnelDestination().
//     The bytes the TLS layer read before deciding (the ClientHello, byte-exact,
//     TakeRecordedBytes()) go to the destination first, then everything else as it comes.
//   - forward (forward_route): the TLS connection is established and terminated here; the
//     decrypted bytes go, in plain TCP, to forward_destination(), and its answers back over TLS.
//     Nothing is replayed.
//
// Per tunnel: the destination is resolved (HostResolver: a literal or cached address at once,
// a name on an ET_TASK thread), connected on the client connection's own net thread (so every
// event of the tunnel runs on that one thread), and relayed:
//   - When one side ends its direction (EOS), what is in flight is delivered and then the other
//     side's write direction is shut down (a half-close), while the other direction goes on.
//     When both directions have ended, both connections are closed.
//   - An error on either side, a failed write, or |inactivity_timeout| without a byte moving
//     tears both connections down (an abortive close).
//   - Backpressure: a side is read only while fewer than |water_mark| bytes wait to be written
//     to the other, so a fast sender facing a slow receiver never grows memory without bound.
//     The VIO relay moves blocks by reference: one buffer per direction, filled by the read VIO
//     and drained by the write VIO, no byte copied.
//   - Blind tunnels, whose two ends are plain sockets, use splice(2) when |splice| is on: bytes
//     go socket -> pipe -> socket inside the kernel, one pipe per direction (at most the pipe's
//     capacity in flight), with readiness from the thread's edge-triggered epoll set. If the
//     pipes cannot be made (EMFILE), the tunnel uses the VIO relay instead.
//
// Failures (no destination, lookup failed, connect failed or timed out, I/O error, timeout)
// close the client connection and print one line under tag "tunnel", e.g.
//   [time] WARNING: (tunnel) blind tunnel 127.0.0.1:50312 -> db.test:5432 failed: connect:
//   Connection refused
//
//   HostResolver resolver(&event_processor);
//   TunnelAcceptor tunnels(&net, &resolver, {.inactivity_timeout = std::chrono::minutes(5)});
//   TlsPortSpec spec{..., .tunnel_acceptor = &tunnels, .sni = sni, .forward_acceptor = &tunnels};
//
// The process must ignore SIGPIPE: a write to a reset peer has to fail with EPIPE, for the net
// layer's writev and for splice alike.

#ifndef TOLLGATE_PROXY_TUNNEL_H_
#define TOLLGATE_PROXY_TUNNEL_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include "iocore/eventsystem/clock.h"
#include "iocore/eventsystem/continuation.h"
#include "iocore/eventsystem/ethread.h"
#include "iocore/eventsystem/mutex.h"
#include "iocore/eventsystem/stats.h"
#include "iocore/net/net_processor.h"
#include "proxy/resolver.h"

namespace tollgate {

struct TunnelOptions {
  // How long a connect to the destination may take (NET_EVENT_OPEN_FAILED with ETIMEDOUT).
  Nanoseconds connect_timeout = std::chrono::seconds(30);
  // Both connections are torn down after this long without a byte moving either way. Checked
  // about once a second by the InactivityCop (VIO relay) or by the tunnel's own timer (splice,
  // every quarter of the timeout, at most a second apart). Zero or less: the NetProcessor's
  // NetConfig::default_inactivity_timeout.
  Nanoseconds inactivity_timeout = std::chrono::minutes(2);
  // Per direction, reading stops while more than this many bytes wait to be written (VIO
  // relay), and a pipe holds about this much (splice; the kernel may grant less).
  int64_t water_mark = 256 * 1024;
  // Blind tunnels relay with splice(2). False: every tunnel uses the VIO relay.
  bool splice = true;
};

// Process-wide tunnel counters (registered once in GlobalStats()).
struct TunnelStats {
  StatId blind_total;  // proxy.process.tunnel.blind_total: blind tunnels accepted
  StatId forward_total;  // proxy.process.tunnel.forward_total: forward_route connections accepted
  StatId active;  // proxy.process.tunnel.active (gauge): tunnels open now
  // proxy.process.tunnel.connect_failures: no destination, lookup failed, connect failed
  StatId connect_failures;
  // proxy.process.tunnel.errors: torn down after connecting (I/O error or inactivity timeout)
  StatId errors;
  StatId spliced_total;  // proxy.process.tunnel.spliced_total: tunnels relayed with splice(2)
  StatId bytes_up;  // proxy.process.tunnel.bytes_up: client -> destination, replay included
  StatId bytes_down;  // proxy.process.tunnel.bytes_down: destination -> client

  // Get registers the stats on first use and returns their ids. Any thread.
  static const TunnelStats& Get();
};

namespace tunnel_internal {
class Tunnel;
}  // namespace tunnel_internal

// TunnelAcceptor: the tunnel_acceptor and forward_acceptor of TLS ports. It has no mutex, as
// acceptors do not; each tunnel has its own.
class TunnelAcceptor : public Continuation {
 public:
  // TunnelAcceptor connects with |net| and resolves with |resolver|; both are not owned and
  // must outlive every tunnel. The acceptor itself must outlive the event threads: destroy it
  // after EventProcessor::Shutdown. Tunnels still open when a net thread stops are closed by
  // that thread on its way out.
  TunnelAcceptor(NetProcessor* net, HostResolver* resolver, TunnelOptions options = {});
  ~TunnelAcceptor() override;

  // HandleEvent takes NET_EVENT_ACCEPT with an SSLNetVConnection* (as NetVConnection*): a
  // blind tunnel when is_tunnel(), else a forward_route connection. A connection without a
  // destination, or one that is not an SSLNetVConnection, is closed (and counted and logged).
  // Other events are ignored. Called by the TLS layer on the connection's net thread.
  void HandleEvent(EventCode code, void* data) override;

  // active returns how many tunnels of this acceptor are open now (resolving, connecting or
  // relaying). Any thread.
  int64_t active() const { return active_.load(std::memory_order_acquire); }

  // options returns the options given at construction.
  const TunnelOptions& options() const { return options_; }

 private:
  friend class tunnel_internal::Tunnel;

  NetProcessor* const net_;
  HostResolver* const resolver_;
  const TunnelOptions options_;
  std::atomic<int64_t> active_{0};
};

}  // namespace tollgate

#endif  // TOLLGATE_PROXY_TUNNEL_H_
