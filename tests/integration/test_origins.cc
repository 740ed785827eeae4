#include "tests/integration/test_origins.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "iocore/eventsystem/event_processor.h"
#include "iocore/net/ip_endpoint.h"
#include "iocore/net/net_processor.h"
#include "proxy/demo_origin.h"

namespace tollgate::integration {
namespace {

constexpr int kSocketTimeoutSeconds = 20;

void SetTimeouts(int fd, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

}  // namespace

// ---- PatternOrigin
// -------------------------------------------------------------------------------

PatternOrigin::PatternOrigin() = default;

absl::StatusOr<std::unique_ptr<PatternOrigin>> PatternOrigin::Start(int net_threads) {
  std::unique_ptr<PatternOrigin> origin(new PatternOrigin());
  origin->events_ = std::make_unique<EventProcessor>();
  origin->net_ = std::make_unique<NetProcessor>();
  NetProcessor* net = origin->net_.get();
  if (absl::Status s =
          origin->events_->Start({.net_threads = net_threads,
                                  .task_threads = 0,
                                  .net_thread_init = [net](EThread& t) { net->InitThread(t); }});
      !s.ok()) {
    return s;
  }
  origin->origin_ = std::make_unique<DemoOrigin>();
  absl::StatusOr<IpEndpoint> bound =
      origin->origin_->Listen(*origin->net_, IpEndpoint::Loopback(AF_INET, 0));
  if (!bound.ok()) return bound.status();
  origin->port_ = bound->port();
  return origin;
}

PatternOrigin::~PatternOrigin() {
  // The event threads first: connections call into the origin until they stop.
  if (events_ != nullptr) events_->Shutdown();
  origin_.reset();
  net_.reset();
}

int64_t PatternOrigin::active_sessions() const { return origin_->active_sessions(); }

// ---- OriginConnection
// ----------------------------------------------------------------------------

OriginConnection::OriginConnection(int fd, std::function<void(int)> release,
                                   std::function<void(const std::string&)> record_head)
    : fd_(fd), release_(std::move(release)), record_head_(std::move(record_head)) {
  SetTimeouts(fd_, kSocketTimeoutSeconds);
}

OriginConnection::~OriginConnection() { Close(); }

absl::Status OriginConnection::Fill() {
  char buf[64 * 1024];
  for (;;) {
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n > 0) {
      buffer_.append(buf, static_cast<size_t>(n));
      return absl::OkStatus();
    }
    if (n == 0) return absl::OutOfRangeError("proxy closed the origin connection");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return absl::DeadlineExceededError("timed out");
    return absl::UnavailableError(absl::StrCat("recv: ", strerror(errno)));
  }
}

absl::StatusOr<std::string> OriginConnection::ReadHead() {
  if (fd_ < 0) return absl::FailedPreconditionError("closed");
  size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (absl::Status s = Fill(); !s.ok()) return s;
  }
  std::string head = buffer_.substr(0, end + 4);
  buffer_.erase(0, end + 4);
  if (record_head_) record_head_(head);
  return head;
}

absl::StatusOr<std::string> OriginConnection::ReadExactly(size_t n) {
  while (buffer_.size() < n) {
    if (absl::Status s = Fill(); !s.ok()) return s;
  }
  std::string out = buffer_.substr(0, n);
  buffer_.erase(0, n);
  return out;
}

absl::StatusOr<std::string> OriginConnection::ReadChunkedBody() {
  std::string body;
  for (;;) {
    size_t eol;
    while ((eol = buffer_.find("\r\n")) == std::string::npos) {
      if (absl::Status s = Fill(); !s.ok()) return s;
    }
    std::string size_text = buffer_.substr(0, eol);
    size_text = size_text.substr(0, size_text.find(';'));
    uint64_t size = 0;
    if (!absl::SimpleHexAtoi(absl::StripAsciiWhitespace(size_text), &size)) {
      return absl::DataLossError(absl::StrCat("bad chunk size '", size_text, "'"));
    }
    buffer_.erase(0, eol + 2);
    if (size == 0) break;
    absl::StatusOr<std::string> data = ReadExactly(size + 2);
    if (!data.ok()) return data.status();
    if (data->substr(size) != "\r\n") return absl::DataLossError("chunk without CRLF");
    body.append(*data, 0, size);
  }
  for (;;) {  // trailers
    size_t eol;
    while ((eol = buffer_.find("\r\n")) == std::string::npos) {
      if (absl::Status s = Fill(); !s.ok()) return s;
    }
    buffer_.erase(0, eol + 2);
    if (eol == 0) return body;
  }
}

absl::Status OriginConnection::Write(absl::string_view bytes) {
  if (fd_ < 0) return absl::FailedPreconditionError("closed");
  while (!bytes.empty()) {
    const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::UnavailableError(absl::StrCat("send: ", strerror(errno)));
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

bool OriginConnection::WaitForPeerClose(Duration timeout) {
  if (fd_ < 0) return true;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return true;
  }
}

void OriginConnection::Reset() {
  if (fd_ < 0) return;
  linger l{1, 0};
  setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  Close();
}

void OriginConnection::Close() {
  if (fd_ < 0) return;
  release_(fd_);
  fd_ = -1;
}

// ---- ScriptedOrigin
// ------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<ScriptedOrigin>> ScriptedOrigin::Start(Handler handler) {
  std::unique_ptr<ScriptedOrigin> origin(new ScriptedOrigin());
  origin->handler_ = std::move(handler);
  origin->listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (origin->listen_fd_ < 0) return absl::InternalError(strerror(errno));
  const int one = 1;
  setsockopt(origin->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sin);
  if (bind(origin->listen_fd_, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) != 0 ||
      listen(origin->listen_fd_, 128) != 0 ||
      getsockname(origin->listen_fd_, reinterpret_cast<sockaddr*>(&sin), &len) != 0) {
    return absl::InternalError(absl::StrCat("origin listen: ", strerror(errno)));
  }
  origin->port_ = ntohs(sin.sin_port);
  if (pipe2(origin->stop_pipe_, O_CLOEXEC) != 0) return absl::InternalError(strerror(errno));
  ScriptedOrigin* raw = origin.get();
  origin->acceptor_ = std::thread([raw] { raw->AcceptLoop(); });
  return origin;
}

ScriptedOrigin::~ScriptedOrigin() {
  if (stop_pipe_[1] >= 0) {
    (void)!write(stop_pipe_[1], "x", 1);
  }
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);
    workers.swap(workers_);
  }
  for (std::thread& t : workers) t.join();
  if (listen_fd_ >= 0) close(listen_fd_);
  for (int fd : stop_pipe_) {
    if (fd >= 0) close(fd);
  }
}

void ScriptedOrigin::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    accepted_.fetch_add(1);
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      close(fd);
      return;
    }
    open_fds_.push_back(fd);
    workers_.emplace_back([this, fd] {
      // Closing under mu_ keeps open_fds_ true: the destructor never shuts a reused number.
      auto release = [this](int closing) {
        std::lock_guard<std::mutex> release_lock(mu_);
        open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), closing), open_fds_.end());
        close(closing);
      };
      auto record = [this](const std::string& head) {
        std::lock_guard<std::mutex> record_lock(mu_);
        heads_.push_back(head);
      };
      OriginConnection connection(fd, release, record);
      handler_(connection);
    });
  }
}

std::vector<std::string> ScriptedOrigin::heads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return heads_;
}

}  // namespace tollgate::integration
