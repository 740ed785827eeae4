// VConnection: a bidirectional byte stream driven by VIOs (ATS's VConnection).
//
// The net layer's NetVConnection (TCP) and SSLNetVConnection (TLS) implement it; upper layers use
// only this interface, so a TLS connection looks exactly like a TCP one.

#ifndef TOLLGATE_IOCORE_EVENTSYSTEM_VCONNECTION_H_
#define TOLLGATE_IOCORE_EVENTSYSTEM_VCONNECTION_H_

#include <cstdint>

#include "iocore/eventsystem/continuation.h"
#include "iocore/eventsystem/vio.h"

namespace tollgate {

enum class ShutdownHow : uint8_t {
  kRead,
  kWrite,
  kReadWrite,
};

class VConnection : public Continuation {
 public:
  using Continuation::Continuation;

  // DoIoRead starts (or, with a null |cont|, stops) reading up to |nbytes| into |buffer|;
  // |cont| gets VC_EVENT_READ_READY / READ_COMPLETE / EOS / ERROR / timeouts. Returns the read
  // VIO, owned by the connection and valid until DoIoClose.
  virtual VIO* DoIoRead(Continuation* cont, int64_t nbytes, MIOBuffer* buffer) = 0;

  // DoIoWrite starts (or, with a null |cont|, stops) writing up to |nbytes| from |reader|;
  // |cont| gets VC_EVENT_WRITE_READY / WRITE_COMPLETE / ERROR / timeouts. Returns the write VIO.
  virtual VIO* DoIoWrite(Continuation* cont, int64_t nbytes, IOBufferReader* reader) = 0;

  // DoIoClose closes the connection; no event is delivered for it afterwards. |error| is 0 for a
  // normal close, an errno value for an abort (-1: unspecified). The connection is freed later,
  // never under the caller's feet.
  virtual void DoIoClose(int error = 0) = 0;

  // DoIoShutdown shuts down one or both directions; VIOs of those directions are disabled.
  virtual void DoIoShutdown(ShutdownHow how) = 0;

  // Reenable resumes |vio| after its continuation made room or added data.
  virtual void Reenable(VIO* vio) = 0;
};

inline void VIO::Reenable() {
  if (vc_ != nullptr) vc_->Reenable(this);
}

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_EVENTSYSTEM_VCONNECTION_H_
