// Server-side sessions for net and TLS tests: an echo that flushes and closes on EOS, counting
// what happened in a SessionLog the test waits on.

#ifndef TOLLGATE_TESTS_UTIL_ECHO_SESSION_H_
#define TOLLGATE_TESTS_UTIL_ECHO_SESSION_H_

#include <cstdint>

#include "iocore/eventsystem/io_buffer.h"
#include "iocore/eventsystem/vconnection.h"
#include "tests/util/wait.h"

namespace tollgate::test_util {

struct SessionLog {
  WaitCounter accepted;
  WaitCounter finished;
  WaitCounter eos;
  WaitCounter errors;
  WaitCounter inactivity_timeouts;
  WaitCounter active_timeouts;
  WaitCounter events_after_close;
};

// Echoes every byte back; on EOS flushes what is left, then closes and deletes itself.
class EchoSession : public Continuation {
 public:
  EchoSession(VConnection* vc, SessionLog* log)
      : Continuation(NewProxyMutex()), vc_(vc), log_(log) {}

  // Start begins reading and writing. Call once, from the accepting callback.
  void Start() {
    MutexLock lock(mutex().get());
    buf_.set_water_mark(256 * 1024);
    reader_ = buf_.AllocReader();
    read_ = vc_->DoIoRead(this, INT64_MAX, &buf_);
    write_ = vc_->DoIoWrite(this, INT64_MAX, reader_);
  }

  void HandleEvent(EventCode code, void*) override {
    switch (code) {
      case EventCode::kVcReadReady:
        write_->Reenable();
        return;
      case EventCode::kVcWriteReady:
        read_->Reenable();
        return;
      case EventCode::kVcEos:
        log_->eos.Increment();
        write_->set_nbytes(write_->ndone() + reader_->ReadAvail());
        if (write_->ntodo() == 0) {
          Finish();
        } else {
          write_->Reenable();
        }
        return;
      case EventCode::kVcWriteComplete:
        Finish();
        return;
      case EventCode::kError:
        log_->errors.Increment();
        Finish();
        return;
      case EventCode::kVcInactivityTimeout:
        log_->inactivity_timeouts.Increment();
        Finish();
        return;
      case EventCode::kVcActiveTimeout:
        log_->active_timeouts.Increment();
        Finish();
        return;
      default:
        return;
    }
  }

 private:
  void Finish() {
    vc_->DoIoClose();
    log_->finished.Increment();
    delete this;
  }

  VConnection* vc_;
  SessionLog* log_;
  MIOBuffer buf_;
  IOBufferReader* reader_ = nullptr;
  VIO* read_ = nullptr;
  VIO* write_ = nullptr;
};

}  // namespace tollgate::test_util

#endif  // TOLLGATE_TESTS_UTIL_ECHO_SESSION_H_
