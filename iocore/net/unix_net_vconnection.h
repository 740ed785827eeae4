// UnixNetVConnection: a TCP connection as a non-blocking state machine on one net thread.
//
// Reads fill the read VIO's buffer free space with readv; writes send many blocks per writev.
// Events (VC_EVENT_READ_READY, READ_COMPLETE, WRITE_READY, WRITE_COMPLETE, EOS, ERROR,
// INACTIVITY_TIMEOUT, ACTIVE_TIMEOUT) go to the VIO's continuation with the VIO's mutex held;
// the net thread only try-locks it. After DoIoClose no event is delivered; the object is freed
// on the net thread once the current pass is over.
//
// Backpressure: no read while the buffer is above its water mark (MIOBuffer::HighWater); the
// read side resumes on Reenable.

#ifndef TOLLGATE_IOCORE_NET_UNIX_NET_VCONNECTION_H_
#define TOLLGATE_IOCORE_NET_UNIX_NET_VCONNECTION_H_

#include <atomic>
#include <cstdint>

#include "iocore/eventsystem/ethread.h"
#include "iocore/eventsystem/io_buffer.h"
#include "iocore/net/net_handler.h"
#include "iocore/net/net_vconnection.h"

namespace tollgate {

// IoResult: the outcome of moving bytes between the socket and a buffer.
struct IoResult {
  enum class Status : uint8_t {
    kOk,  // |bytes| > 0 moved
    kWouldBlock,  // nothing moved: the socket (or TLS) needs readiness first
    kEof,  // the peer closed its direction cleanly
    kError,  // |error| holds the errno (or a TLS failure mapped to one)
  };
  Status status = Status::kOk;
  int64_t bytes = 0;
  // With kOk: the socket had nothing more (a short read or write); edge-triggered epoll reports
  // the next change.
  bool drained = false;
  int error = 0;
};

class UnixNetVConnection : public NetVConnection, public EpollTarget {
 public:
  // Adopt wraps a connected, non-blocking socket on the calling net thread's NetHandler. It
  // returns null (and closes |fd|) if the socket cannot be registered.
  static UnixNetVConnection* Adopt(int fd, NetHandler* nh, const IpEndpoint& local,
                                   const IpEndpoint& remote);

  // NetVConnection.
  VIO* DoIoRead(Continuation* cont, int64_t nbytes, MIOBuffer* buffer) override;
  VIO* DoIoWrite(Continuation* cont, int64_t nbytes, IOBufferReader* reader) override;
  void DoIoClose(int error = 0) override;
  void DoIoShutdown(ShutdownHow how) override;
  void Reenable(VIO* vio) override;
  void SetInactivityTimeout(Nanoseconds timeout) override;
  void CancelInactivityTimeout() override;
  void SetActiveTimeout(Nanoseconds timeout) override;
  void CancelActiveTimeout() override;
  void SetKeepAliveIdle(bool idle) override;
  const IpEndpoint& local_addr() const override { return local_; }
  const IpEndpoint& remote_addr() const override { return remote_; }
  EThread* thread() const override { return nh_->thread(); }

  // Continuation: a connection receives no scheduled events of its own.
  void HandleEvent(EventCode, void*) override {}

  // EpollTarget.
  void OnEpollEvent(uint32_t epoll_events) override;

  int fd() const { return fd_; }
  bool closed() const { return closed_.load(std::memory_order_acquire); }

 protected:
  friend class NetHandler;
  friend class NetProcessor;

  // Cross-thread operations queued on the NetHandler.
  static constexpr uint8_t kOpEnableRead = 1;
  static constexpr uint8_t kOpEnableWrite = 2;
  static constexpr uint8_t kOpClose = 4;
  static constexpr uint8_t kOpResume = 8;  // a subclass's own work (e.g. a hook reenabled)

  struct Side {
    bool enabled = false;
    bool triggered = false;
    bool queued = false;  // in the NetHandler's ready list
    bool shut = false;  // shut down or hit EOS/error: never runs again
  };

  UnixNetVConnection(int fd, NetHandler* nh, const IpEndpoint& local, const IpEndpoint& remote);
  ~UnixNetVConnection() override;

  // Run by the NetHandler on this connection's thread when a side is enabled and triggered. The
  // base versions drive the read and write VIOs; a subclass may run something else first (the
  // TLS handshake) and switch to these once.
  virtual void NetRead();
  virtual void NetWrite();
  // Byte movement for the VIO paths: readv/writev here, SSL_read/SSL_write for TLS.
  virtual IoResult ReadIntoBuffer(MIOBuffer* buf, int64_t max) {
    return RawReadIntoBuffer(buf, max);
  }
  virtual IoResult WriteFromReader(IOBufferReader* reader, int64_t max) {
    return RawWriteFromReader(reader, max);
  }
  // readv / writev on the socket.
  IoResult RawReadIntoBuffer(MIOBuffer* buf, int64_t max);
  IoResult RawWriteFromReader(IOBufferReader* reader, int64_t max);
  // Closing on the connection's thread; a subclass may first run work of its own (close hooks)
  // and then call the base version.
  virtual void CloseOnThread();
  // A timeout found by the InactivityCop.
  virtual void TimeOutNow(EventCode code);
  // kOpResume, queued with RequestResume from any thread, runs here on the connection's thread.
  virtual void OnResume() {}
  // RequestResume arranges for OnResume to run on the connection's thread: now if called there,
  // else through the NetHandler's queue.
  void RequestResume();

  void ApplyOps(uint8_t ops);
  void CheckTimeouts(int64_t now_ns);

  void Enable(NetSide side);
  Side& side(NetSide s) { return s == NetSide::kRead ? read_ : write_; }
  bool Signal(VIO* vio, EventCode code);
  void SignalError(VIO* vio, int err);
  void TouchActivity();

  int fd_;
  NetHandler* const nh_;
  const IpEndpoint local_;
  const IpEndpoint remote_;
  VIO read_vio_;
  VIO write_vio_;
  Side read_;
  Side write_;
  std::atomic<bool> closed_{false};
  bool peer_hung_up_ = false;  // EPOLLRDHUP/HUP/ERR seen: read until EOS or error
  int close_error_ = 0;

  int64_t inactivity_timeout_ns_ = 0;  // 0: disarmed
  int64_t last_activity_ns_ = 0;
  int64_t active_deadline_ns_ = 0;  // 0: disarmed

  // Connect in progress (NetProcessor::Connect): the first write readiness completes it.
  Continuation* connect_cont_ = nullptr;
  bool connecting_ = false;

  // NetHandler bookkeeping.
  uint8_t pending_ops_ = 0;  // guarded by the NetHandler's cross-thread mutex
  bool released_ = false;
  bool keep_alive_idle_ = false;
  UnixNetVConnection* open_prev_ = nullptr;
  UnixNetVConnection* open_next_ = nullptr;
  UnixNetVConnection* ka_prev_ = nullptr;
  UnixNetVConnection* ka_next_ = nullptr;
};

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_NET_UNIX_NET_VCONNECTION_H_
