#include "proxy/test_http_client.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tollgate::test_util {
namespace {

absl::Status ErrnoStatus(absl::string_view call, int err) {
  if (err == EAGAIN || err == EWOULDBLOCK) {
    return absl::DeadlineExceededError(absl::StrCat(call, ": timed out"));
  }
  return absl::InternalError(absl::StrCat(call, ": ", std::strerror(err)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<TestHttpClient>> TestHttpClient::Connect(
    const IpEndpoint& to, std::chrono::milliseconds timeout) {
  int fd = socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket", errno);
  std::unique_ptr<TestHttpClient> client(new TestHttpClient(fd));
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
    return ErrnoStatus("setsockopt", errno);
  }
  if (connect(fd, to.sockaddr(), to.socklen()) != 0) return ErrnoStatus("connect", errno);
  return client;
}

TestHttpClient::~TestHttpClient() { close(fd_); }

absl::Status TestHttpClient::Send(absl::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("send", errno);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

void TestHttpClient::ShutdownWrite() { shutdown(fd_, SHUT_WR); }

absl::Status TestHttpClient::Fill() {
  char chunk[64 * 1024];
  for (;;) {
    ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      return absl::OkStatus();
    }
    if (n == 0) return absl::OutOfRangeError("the server closed the connection");
    if (errno != EINTR) return ErrnoStatus("recv", errno);
  }
}

absl::StatusOr<TestHttpClient::Response> TestHttpClient::ReadResponse(
    absl::string_view method, const std::function<void(absl::string_view)>& on_body) {
  Response response;
  auto deliver = [&](absl::string_view bytes) {
    response.body_bytes += bytes.size();
    if (on_body) {
      on_body(bytes);
    } else {
      response.body.append(bytes.data(), bytes.size());
    }
  };

  // Heads: interim ones, then the final one.
  for (;;) {
    HttpResponseParser parser(method);
    for (;;) {
      if (buffer_.empty()) {
        if (absl::Status s = Fill(); !s.ok()) return s;
      }
      size_t consumed = 0;
      ParseResult r = parser.Parse(buffer_, &consumed);
      buffer_.erase(0, consumed);
      if (r.status == ParseStatus::kError) {
        return absl::DataLossError(absl::StrCat("bad response head: ", HttpErrorName(r.error)));
      }
      if (r.status == ParseStatus::kDone) break;
    }
    if (parser.response().is_interim()) {
      response.interim_codes.push_back(parser.response().status_code);
      continue;
    }
    response.head = parser.response();
    break;
  }

  switch (response.head.framing) {
    case BodyFraming::kNone:
      break;
    case BodyFraming::kContentLength: {
      uint64_t left = response.head.content_length;
      while (left > 0) {
        if (buffer_.empty()) {
          if (absl::Status s = Fill(); !s.ok()) return s;
        }
        size_t n = static_cast<size_t>(std::min<uint64_t>(left, buffer_.size()));
        deliver(absl::string_view(buffer_).substr(0, n));
        buffer_.erase(0, n);
        left -= n;
      }
      break;
    }
    case BodyFraming::kChunked: {
      response.chunked = true;
      ChunkedDecoder decoder;
      for (;;) {
        if (buffer_.empty()) {
          if (absl::Status s = Fill(); !s.ok()) return s;
        }
        ChunkedDecoder::Result r = decoder.Decode(buffer_);
        if (!r.data.empty()) deliver(r.data);
        buffer_.erase(0, r.consumed);
        if (r.status == ParseStatus::kError) {
          return absl::DataLossError(absl::StrCat("bad chunked body: ", HttpErrorName(r.error)));
        }
        if (r.status == ParseStatus::kDone) break;
        if (r.consumed == 0 && !buffer_.empty()) {
          if (absl::Status s = Fill(); !s.ok()) return s;
        }
      }
      break;
    }
    case BodyFraming::kUntilClose: {
      for (;;) {
        deliver(buffer_);
        buffer_.clear();
        absl::Status s = Fill();
        if (absl::IsOutOfRange(s)) break;
        if (!s.ok()) return s;
      }
      break;
    }
  }
  return response;
}

absl::StatusOr<std::string> TestHttpClient::ReadToEof() {
  for (;;) {
    absl::Status s = Fill();
    if (absl::IsOutOfRange(s)) break;
    if (!s.ok()) return s;
  }
  std::string all;
  all.swap(buffer_);
  return all;
}

}  // namespace tollgate::test_util
