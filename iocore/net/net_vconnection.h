// NetVConnection: the connection interface upper layers and the TLS layer use.
//
// A VConnection over a socket, with timeouts and addresses. UnixNetVConnection implements it for
// TCP; SSLNetVConnection builds TLS on it. Every call below is made with the mutex of the
// continuation driving the connection held; the connection does the net-thread work itself.

#ifndef TOLLGATE_IOCORE_NET_NET_VCONNECTION_H_
#define TOLLGATE_IOCORE_NET_NET_VCONNECTION_H_

#include "iocore/eventsystem/clock.h"
#include "iocore/eventsystem/ethread.h"
#include "iocore/eventsystem/vconnection.h"
#include "iocore/net/ip_endpoint.h"

namespace tollgate {

class NetVConnection : public VConnection {
 public:
  using VConnection::VConnection;

  // SetInactivityTimeout arms VC_EVENT_INACTIVITY_TIMEOUT after |timeout| without I/O. Zero
  // restores the default (proxy.config.net.default_inactivity_timeout). It fires once, checked
  // by the InactivityCop (about once a second), to the read VIO's continuation if reading, else
  // the write VIO's.
  virtual void SetInactivityTimeout(Nanoseconds timeout) = 0;
  // CancelInactivityTimeout disarms it (also the default).
  virtual void CancelInactivityTimeout() = 0;
  // SetActiveTimeout arms VC_EVENT_ACTIVE_TIMEOUT |timeout| from now, whatever the traffic.
  virtual void SetActiveTimeout(Nanoseconds timeout) = 0;
  virtual void CancelActiveTimeout() = 0;

  // SetKeepAliveIdle marks the connection as an idle keep-alive connection (or not). At the
  // connection limit the oldest idle ones get VC_EVENT_INACTIVITY_TIMEOUT first.
  virtual void SetKeepAliveIdle(bool idle) = 0;

  virtual const IpEndpoint& local_addr() const = 0;
  virtual const IpEndpoint& remote_addr() const = 0;
  // thread returns the net thread the connection lives on.
  virtual EThread* thread() const = 0;
};

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_NET_NET_VCONNECTION_H_
