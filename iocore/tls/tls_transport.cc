#include "iocore/tls/tls_transport.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <utility>

namespace tollgate {

BioPairTransport::BioPairTransport(bssl::UniquePtr<BIO> end) : end_(std::move(end)) {}

BioPairTransport::~BioPairTransport() {
  if (end_ != nullptr) BIO_shutdown_wr(end_.get());
}

TlsTransport::Io BioPairTransport::Recv(char* out, size_t len) {
  const int n = BIO_read(end_.get(), out, static_cast<int>(std::min<size_t>(len, INT_MAX)));
  if (n > 0) return {Io::Status::kOk, static_cast<size_t>(n)};
  if (BIO_should_retry(end_.get())) return {Io::Status::kWouldBlock};
  // A pair whose other side is gone reads as an error, one that shut down writing as EOF.
  if (n == 0) return {Io::Status::kEof};
  return {Io::Status::kError, 0, ECONNRESET};
}

TlsTransport::Io BioPairTransport::Send(const char* in, size_t len, bool) {
  const int n = BIO_write(end_.get(), in, static_cast<int>(std::min<size_t>(len, INT_MAX)));
  if (n > 0) return {Io::Status::kOk, static_cast<size_t>(n)};
  if (BIO_should_retry(end_.get())) return {Io::Status::kWouldBlock};
  return {Io::Status::kError, 0, EPIPE};
}

}  // namespace tollgate
