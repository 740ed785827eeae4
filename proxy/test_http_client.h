// TestHttpClient: a plain blocking HTTP/1.1 client over TCP for tests of the proxy's own
// servers. It runs on the test thread; every read and write is bounded by the socket timeouts
// (SO_RCVTIMEO / SO_SNDTIMEO), so a server that never answers fails the test instead of hanging
// it. Responses are parsed with the proxy's own strict HttpResponseParser and ChunkedDecoder.
//
//   absl::StatusOr<std::unique_ptr<TestHttpClient>> client = TestHttpClient::Connect(bound);
//   ASSERT_TRUE((*client)->Send("GET / HTTP/1.1\r\nHost: a\r\n\r\n").ok());
//   absl::StatusOr<TestHttpClient::Response> response = (*client)->ReadResponse();

#ifndef TOLLGATE_PROXY_TEST_HTTP_CLIENT_H_
#define TOLLGATE_PROXY_TEST_HTTP_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "iocore/net/ip_endpoint.h"
#include "proxy/http/http_parser.h"

namespace tollgate::test_util {

class TestHttpClient {
 public:
  struct Response {
    std::vector<int> interim_codes;  // 1xx responses before the final one, in order
    HttpResponse head;  // the final response's head
    bool chunked = false;  // the body came chunked
    std::string body;  // empty when an on_body callback took the bytes
    uint64_t body_bytes = 0;
  };

  // Connect opens a blocking TCP connection to |to|, with |timeout| on every later read and
  // write. It returns the connect error, naming the call that failed.
  static absl::StatusOr<std::unique_ptr<TestHttpClient>> Connect(
      const IpEndpoint& to, std::chrono::milliseconds timeout = std::chrono::seconds(20));

  // ~TestHttpClient closes the socket.
  ~TestHttpClient();
  TestHttpClient(const TestHttpClient&) = delete;
  TestHttpClient& operator=(const TestHttpClient&) = delete;

  // Send writes all of |bytes|, or returns the error (a timeout is DeadlineExceeded).
  absl::Status Send(absl::string_view bytes);

  // ShutdownWrite sends a FIN: the server sees EOS after the bytes already sent.
  void ShutdownWrite();

  // ReadResponse reads one response to a |method| request: any interim responses, the final
  // head, and its body framed as the head says. |on_body|, when set, gets the body bytes as they
  // arrive instead of Response::body. Errors: OutOfRange when the server closed first,
  // DeadlineExceeded on a timeout, DataLoss for a malformed response.
  absl::StatusOr<Response> ReadResponse(
      absl::string_view method = "GET",
      const std::function<void(absl::string_view)>& on_body = nullptr);

  // ReadToEof returns every byte until the server closes the connection (what was read ahead
  // and not yet returned included), or the error that came first.
  absl::StatusOr<std::string> ReadToEof();

  int fd() const { return fd_; }

 private:
  explicit TestHttpClient(int fd) : fd_(fd) {}

  // Fill appends what the next recv returns to buffer_: OK, OutOfRange at EOF, or the error.
  absl::Status Fill();

  int fd_;
  std::string buffer_;  // received and not yet parsed
};

}  // namespace tollgate::test_util

#endif  // TOLLGATE_PROXY_TEST_HTTP_CLIENT_H_
