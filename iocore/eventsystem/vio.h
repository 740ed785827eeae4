// VIO: one direction of I/O on a VConnection, described for the continuation that asked for it.
//
// DoIoRead returns a VIO whose writer() is the MIOBuffer the connection fills; DoIoWrite returns
// one whose reader() the connection drains. The VIO counts progress (ndone of nbytes) and names
// the continuation that receives VC_EVENT_* for it, called under mutex().
//
//   VIO* vio = vc->DoIoRead(this, INT64_MAX, buffer.get());
//   ... on VC_EVENT_READ_READY: consume from a reader of |buffer|, then vio->Reenable();

#ifndef TOLLGATE_IOCORE_EVENTSYSTEM_VIO_H_
#define TOLLGATE_IOCORE_EVENTSYSTEM_VIO_H_

#include <cstdint>

#include "iocore/eventsystem/continuation.h"
#include "iocore/eventsystem/proxy_mutex.h"

namespace tollgate {

class IOBufferReader;
class MIOBuffer;
class VConnection;

class VIO {
 public:
  enum class Op : uint8_t {
    kNone,
    kRead,
    kWrite,
  };

  VIO() = default;
  VIO(const VIO&) = delete;
  VIO& operator=(const VIO&) = delete;

  Op op() const { return op_; }
  // continuation returns who receives this VIO's events (null when disabled).
  Continuation* continuation() const { return cont_; }
  // mutex returns the continuation's mutex, captured when the operation was set up.
  const Ptr<ProxyMutex>& mutex() const { return mutex_; }
  // nbytes returns the total bytes the operation should transfer (INT64_MAX: unbounded).
  int64_t nbytes() const { return nbytes_; }
  // ndone returns the bytes transferred so far.
  int64_t ndone() const { return ndone_; }
  // ntodo returns nbytes() - ndone().
  int64_t ntodo() const { return nbytes_ - ndone_; }
  // writer returns the buffer a read fills (null for writes).
  MIOBuffer* writer() const { return writer_; }
  // reader returns the reader a write drains (null for reads).
  IOBufferReader* reader() const { return reader_; }
  // vc returns the connection this VIO belongs to.
  VConnection* vc() const { return vc_; }

  // Reenable tells the connection there is new room (read) or new data (write). Call with the
  // VIO's mutex held; the connection handles the rest on its own thread.
  void Reenable();

  // Set-up and progress, for VConnection implementations only.
  void Setup(Op op, Continuation* cont, int64_t nbytes, MIOBuffer* writer, IOBufferReader* reader,
             VConnection* vc) {
    op_ = op;
    cont_ = cont;
    mutex_ = cont != nullptr ? cont->mutex() : nullptr;
    nbytes_ = nbytes;
    ndone_ = 0;
    writer_ = writer;
    reader_ = reader;
    vc_ = vc;
  }
  void Disable() {
    op_ = Op::kNone;
    cont_ = nullptr;
    mutex_ = nullptr;
    writer_ = nullptr;
    reader_ = nullptr;
  }
  void AddDone(int64_t n) { ndone_ += n; }
  void set_nbytes(int64_t n) { nbytes_ = n; }

 private:
  Op op_ = Op::kNone;
  Continuation* cont_ = nullptr;
  Ptr<ProxyMutex> mutex_;
  int64_t nbytes_ = 0;
  int64_t ndone_ = 0;
  MIOBuffer* writer_ = nullptr;
  IOBufferReader* reader_ = nullptr;
  VConnection* vc_ = nullptr;
};

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_EVENTSYSTEM_VIO_H_
