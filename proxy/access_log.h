// AccessLog: the proxy's transaction log, one line per transaction (FormatAccessLogLine), written
// to a file descriptor (standard output in the binary).
//
// Lines are appended to a buffer under a short lock and written in batches: when the buffer
// passes kFlushBytes, and whenever Flush is called (the binary calls it about once a second and
// at exit), so a quiet proxy's log is at most a second behind and no line is lost on a clean
// exit. A write error is reported once on stderr and the log keeps trying.

#ifndef TOLLGATE_PROXY_ACCESS_LOG_H_
#define TOLLGATE_PROXY_ACCESS_LOG_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "iocore/eventsystem/mutex.h"

namespace tollgate {

class AccessLog {
 public:
  static constexpr size_t kFlushBytes = 64 * 1024;

  // |fd| stays owned by the caller and open while the log is used.
  explicit AccessLog(int fd) : fd_(fd) {}
  ~AccessLog() { Flush(); }
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Append adds |line| and a newline. Any thread.
  void Append(absl::string_view line);
  // Flush writes what is buffered. Any thread.
  void Flush();

 private:
  void WriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int fd_;
  Mutex mu_;
  std::string buffer_ ABSL_GUARDED_BY(mu_);
  bool reported_error_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace tollgate

#endif  // TOLLGATE_PROXY_ACCESS_LOG_H_
