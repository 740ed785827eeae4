#include "proxy/access_log.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "iocore/eventsystem/diags.h"

namespace tollgate {

void AccessLog::Append(absl::string_view line) {
  MutexGuard lock(&mu_);
  buffer_.append(line.data(), line.size());
  buffer_.push_back('\n');
  if (buffer_.size() >= kFlushBytes) WriteLocked();
}

void AccessLog::Flush() {
  MutexGuard lock(&mu_);
  WriteLocked();
}

void AccessLog::WriteLocked() {
  size_t done = 0;
  while (done < buffer_.size()) {
    ssize_t n = write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (!reported_error_) {
        reported_error_ = true;
        Diag(DiagLevel::kError, "log",
             absl::StrCat("access log: write failed: ", n < 0 ? strerror(errno) : "no progress",
                          "; dropping ", buffer_.size() - done, " bytes"));
      }
      break;
    }
    done += static_cast<size_t>(n);
  }
  buffer_.clear();
}

}  // namespace tollgate
