#include "iocore/net/unix_net_vconnection.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace tollgate {
namespace {

// Bytes moved per side per pass: enough to amortise the syscall, small enough that one busy
// connection cannot starve the others on its thread.
constexpr int64_t kMaxBytesPerPass = 256 * 1024;
constexpr int kMaxIov = 16;

}  // namespace

UnixNetVConnection* UnixNetVConnection::Adopt(int fd, NetHandler* nh, const IpEndpoint& local,
                                              const IpEndpoint& remote) {
  auto* vc = new UnixNetVConnection(fd, nh, local, remote);
  if (!nh->Attach(vc)) {
    delete vc;  // closes fd
    return nullptr;
  }
  return vc;
}

UnixNetVConnection::UnixNetVConnection(int fd, NetHandler* nh, const IpEndpoint& local,
                                       const IpEndpoint& remote)
    : fd_(fd), nh_(nh), local_(local), remote_(remote) {
  inactivity_timeout_ns_ = nh->shared()->config.default_inactivity_timeout.count();
  last_activity_ns_ = MonotonicNowNs();
}

UnixNetVConnection::~UnixNetVConnection() {
  if (fd_ >= 0) close(fd_);
}

VIO* UnixNetVConnection::DoIoRead(Continuation* cont, int64_t nbytes, MIOBuffer* buffer) {
  if (cont == nullptr || nbytes <= 0 || buffer == nullptr) {
    read_vio_.Setup(VIO::Op::kRead, nullptr, 0, nullptr, nullptr, this);
    read_vio_.Disable();
    return &read_vio_;
  }
  read_vio_.Setup(VIO::Op::kRead, cont, nbytes, buffer, nullptr, this);
  Enable(NetSide::kRead);
  return &read_vio_;
}

VIO* UnixNetVConnection::DoIoWrite(Continuation* cont, int64_t nbytes, IOBufferReader* reader) {
  if (cont == nullptr || nbytes <= 0 || reader == nullptr) {
    write_vio_.Setup(VIO::Op::kWrite, nullptr, 0, nullptr, nullptr, this);
    write_vio_.Disable();
    return &write_vio_;
  }
  write_vio_.Setup(VIO::Op::kWrite, cont, nbytes, nullptr, reader, this);
  Enable(NetSide::kWrite);
  return &write_vio_;
}

void UnixNetVConnection::Reenable(VIO* vio) {
  if (vio == &read_vio_) {
    Enable(NetSide::kRead);
  } else if (vio == &write_vio_) {
    Enable(NetSide::kWrite);
  }
}

void UnixNetVConnection::Enable(NetSide s) {
  if (closed()) return;
  if (nh_->thread()->IsCurrent()) {
    ApplyOps(s == NetSide::kRead ? kOpEnableRead : kOpEnableWrite);
  } else {
    nh_->EnqueueFromOtherThread(this, s == NetSide::kRead ? kOpEnableRead : kOpEnableWrite);
  }
}

void UnixNetVConnection::ApplyOps(uint8_t ops) {
  if (ops & kOpClose) {
    CloseOnThread();
    return;
  }
  if (released_) return;
  if (ops & kOpResume) OnResume();
  if (released_) return;
  if (ops & kOpEnableRead) {
    read_.enabled = read_vio_.op() == VIO::Op::kRead && read_vio_.continuation() != nullptr;
    nh_->MarkReady(this, NetSide::kRead);
  }
  if (ops & kOpEnableWrite) {
    write_.enabled = write_vio_.op() == VIO::Op::kWrite && write_vio_.continuation() != nullptr;
    nh_->MarkReady(this, NetSide::kWrite);
  }
}

void UnixNetVConnection::RequestResume() {
  if (nh_->thread()->IsCurrent()) {
    ApplyOps(kOpResume);
  } else {
    nh_->EnqueueFromOtherThread(this, kOpResume);
  }
}

void UnixNetVConnection::DoIoClose(int error) {
  if (closed_.exchange(true, std::memory_order_acq_rel)) return;
  close_error_ = error;
  read_vio_.Disable();
  write_vio_.Disable();
  if (nh_->thread()->IsCurrent()) {
    CloseOnThread();
  } else {
    nh_->EnqueueFromOtherThread(this, kOpClose);
  }
}

void UnixNetVConnection::CloseOnThread() {
  if (released_) return;
  if (close_error_ != 0) {
    // An abort: RST rather than FIN, so the peer learns the connection failed.
    linger lin{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
  }
  nh_->Release(this);
}

void UnixNetVConnection::DoIoShutdown(ShutdownHow how) {
  switch (how) {
    case ShutdownHow::kRead:
      shutdown(fd_, SHUT_RD);
      read_.shut = true;
      read_vio_.Disable();
      break;
    case ShutdownHow::kWrite:
      shutdown(fd_, SHUT_WR);
      write_.shut = true;
      write_vio_.Disable();
      break;
    case ShutdownHow::kReadWrite:
      shutdown(fd_, SHUT_RDWR);
      read_.shut = write_.shut = true;
      read_vio_.Disable();
      write_vio_.Disable();
      break;
  }
}

void UnixNetVConnection::SetInactivityTimeout(Nanoseconds timeout) {
  inactivity_timeout_ns_ = timeout.count() > 0
      ? timeout.count()
      : nh_->shared()->config.default_inactivity_timeout.count();
  last_activity_ns_ = MonotonicNowNs();
}

void UnixNetVConnection::CancelInactivityTimeout() { inactivity_timeout_ns_ = 0; }

void UnixNetVConnection::SetActiveTimeout(Nanoseconds timeout) {
  active_deadline_ns_ = MonotonicNowNs() + std::max<int64_t>(timeout.count(), 1);
}

void UnixNetVConnection::CancelActiveTimeout() { active_deadline_ns_ = 0; }

void UnixNetVConnection::SetKeepAliveIdle(bool idle) {
  if (nh_->thread()->IsCurrent() && !released_) nh_->SetKeepAliveIdle(this, idle);
}

// Called for every read and write: the pass's clock is enough for a timeout counted in seconds,
// and saves a clock read per I/O.
void UnixNetVConnection::TouchActivity() { last_activity_ns_ = nh_->thread()->pass_now_ns(); }

void UnixNetVConnection::OnEpollEvent(uint32_t events) {
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) peer_hung_up_ = true;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    read_.triggered = true;
    nh_->MarkReady(this, NetSide::kRead);
  }
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
    write_.triggered = true;
    if (connecting_) write_.enabled = true;
    nh_->MarkReady(this, NetSide::kWrite);
  }
}

bool UnixNetVConnection::Signal(VIO* vio, EventCode code) {
  // The caller holds vio->mutex(). Returns false when the callback closed the connection, after
  // which nothing of it may be touched but the flags the NetHandler reads.
  Continuation* cont = vio->continuation();
  if (cont == nullptr) return !closed();
  cont->HandleEvent(code, vio);
  return !closed();
}

void UnixNetVConnection::SignalError(VIO* vio, int err) {
  close_error_ = err;
  read_.shut = write_.shut = true;
  Signal(vio, EventCode::kError);
}

void UnixNetVConnection::NetRead() {
  VIO* vio = &read_vio_;
  MutexTryLock lock(vio->mutex().get());
  if (!lock.locked()) {
    nh_->RetrySoon();
    return;
  }
  if (closed() || vio->op() != VIO::Op::kRead || vio->continuation() == nullptr) {
    read_.enabled = false;
    return;
  }
  MIOBuffer* buf = vio->writer();
  if (vio->ntodo() <= 0 || buf->HighWater()) {
    read_.enabled = false;  // resumes on Reenable
    return;
  }
  IoResult r = ReadIntoBuffer(buf, std::min(vio->ntodo(), kMaxBytesPerPass));
  switch (r.status) {
    case IoResult::Status::kWouldBlock:
      read_.triggered = false;
      return;
    case IoResult::Status::kError:
      SignalError(vio, r.error);
      return;
    case IoResult::Status::kEof:
      read_.triggered = false;
      read_.shut = true;
      Signal(vio, EventCode::kVcEos);
      return;
    case IoResult::Status::kOk:
      break;
  }
  vio->AddDone(r.bytes);
  TouchActivity();
  // A short read drained the socket, and edge-triggered epoll reports the next arrival. Not so
  // once the peer's FIN was reported: no new edge would come for it, so read on until the read
  // returns 0.
  if (r.drained && !peer_hung_up_) read_.triggered = false;
  if (vio->ntodo() <= 0) {
    read_.enabled = false;
    Signal(vio, EventCode::kVcReadComplete);
  } else {
    Signal(vio, EventCode::kVcReadReady);
  }
}

IoResult UnixNetVConnection::RawReadIntoBuffer(MIOBuffer* buf, int64_t max) {
  iovec iov[kMaxIov];
  int niov = buf->FillIovecs(iov, kMaxIov, max);
  int64_t offered = 0;
  for (int i = 0; i < niov; ++i) offered += static_cast<int64_t>(iov[i].iov_len);
  ssize_t r;
  do {
    r = readv(fd_, iov, niov);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    buf->Fill(0);
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {IoResult::Status::kWouldBlock};
    return {IoResult::Status::kError, 0, false, errno};
  }
  if (r == 0) {
    buf->Fill(0);
    return {IoResult::Status::kEof};
  }
  buf->Fill(r);
  return {IoResult::Status::kOk, r, r < offered};
}

void UnixNetVConnection::NetWrite() {
  if (connecting_) {
    Continuation* op = connect_cont_;
    MutexTryLock lock(op->mutex().get());
    if (!lock.locked()) {
      nh_->RetrySoon();
      return;
    }
    connecting_ = false;
    write_.enabled = false;
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err == 0) {
      socklen_t llen = local_.socklen();
      sockaddr_storage ss{};
      llen = sizeof(ss);
      if (getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &llen) == 0) {
        const_cast<IpEndpoint&>(local_) =
            IpEndpoint::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), llen);
      }
      TouchActivity();
    }
    op->HandleEvent(err == 0 ? EventCode::kNetOpen : EventCode::kNetOpenFailed,
                    reinterpret_cast<void*>(static_cast<intptr_t>(err)));
    return;
  }

  VIO* vio = &write_vio_;
  MutexTryLock lock(vio->mutex().get());
  if (!lock.locked()) {
    nh_->RetrySoon();
    return;
  }
  if (closed() || vio->op() != VIO::Op::kWrite || vio->continuation() == nullptr) {
    write_.enabled = false;
    return;
  }
  IOBufferReader* reader = vio->reader();
  if (vio->ntodo() <= 0) {
    write_.enabled = false;
    return;
  }
  if (reader->ReadAvail() == 0) {
    // Nothing to send: ask for more, and sleep until Reenable if none comes.
    if (!Signal(vio, EventCode::kVcWriteReady)) return;
    if (reader->ReadAvail() == 0) {
      write_.enabled = false;
      return;
    }
  }
  IoResult w =
      WriteFromReader(reader, std::min({vio->ntodo(), reader->ReadAvail(), kMaxBytesPerPass}));
  switch (w.status) {
    case IoResult::Status::kWouldBlock:
      write_.triggered = false;
      return;
    case IoResult::Status::kError:
    case IoResult::Status::kEof:
      SignalError(vio, w.error != 0 ? w.error : EPIPE);
      return;
    case IoResult::Status::kOk:
      break;
  }
  vio->AddDone(w.bytes);
  TouchActivity();
  if (w.drained) write_.triggered = false;  // socket buffer full: wait for EPOLLOUT
  if (vio->ntodo() <= 0) {
    write_.enabled = false;
    Signal(vio, EventCode::kVcWriteComplete);
  } else if (reader->ReadAvail() == 0) {
    Signal(vio, EventCode::kVcWriteReady);
    if (!closed() && reader->ReadAvail() == 0) write_.enabled = false;
  }
}

IoResult UnixNetVConnection::RawWriteFromReader(IOBufferReader* reader, int64_t max) {
  iovec iov[kMaxIov];
  int niov = reader->FillIovecs(iov, kMaxIov, max);
  int64_t offered = 0;
  for (int i = 0; i < niov; ++i) offered += static_cast<int64_t>(iov[i].iov_len);
  ssize_t w;
  do {
    w = writev(fd_, iov, niov);
  } while (w < 0 && errno == EINTR);
  if (w < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {IoResult::Status::kWouldBlock};
    return {IoResult::Status::kError, 0, false, errno};
  }
  reader->Consume(w);
  return {IoResult::Status::kOk, w, w < offered};
}

void UnixNetVConnection::CheckTimeouts(int64_t now) {
  if (active_deadline_ns_ > 0 && now >= active_deadline_ns_) {
    TimeOutNow(EventCode::kVcActiveTimeout);
    return;
  }
  if (inactivity_timeout_ns_ > 0 && now - last_activity_ns_ >= inactivity_timeout_ns_) {
    TimeOutNow(EventCode::kVcInactivityTimeout);
  }
}

void UnixNetVConnection::TimeOutNow(EventCode code) {
  VIO* vio = read_vio_.continuation() != nullptr ? &read_vio_ : &write_vio_;
  if (vio->continuation() == nullptr) return;  // nobody to tell; the owner must close it
  MutexTryLock lock(vio->mutex().get());
  if (!lock.locked()) return;  // the cop tries again next round
  // Fire once: disarm before the callback, which usually closes the connection.
  if (code == EventCode::kVcActiveTimeout) {
    active_deadline_ns_ = 0;
    GlobalStats().Increment(NetStats::Get().active_timeouts);
  } else {
    inactivity_timeout_ns_ = 0;
    GlobalStats().Increment(NetStats::Get().inactivity_timeouts);
  }
  Signal(vio, code);
}

}  // namespace tollgate
