// Clients for the integration tests: a blocking HTTP/1.1 connection (plain TCP or TLS through
// BoringSSL) that sends raw bytes and reads responses with its own small parser (independent of
// the proxy's), curl run as a child process, the admin /stats document, and SHA-256 helpers.
//
//   absl::StatusOr<std::unique_ptr<ClientConnection>> c = ClientConnection::Plain(port);
//   ASSERT_TRUE((*c)->Send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").ok());
//   absl::StatusOr<HttpResponseData> r = (*c)->ReadResponse();
//   EXPECT_EQ(r->status, 200);
//
// Every read and write is bounded by the connection's socket timeouts.

#ifndef TOLLGATE_TESTS_INTEGRATION_HTTP_CLIENT_H_
#define TOLLGATE_TESTS_INTEGRATION_HTTP_CLIENT_H_

#include <openssl/sha.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tests/integration/tollgate_process.h"
#include "tests/util/tls_client.h"

namespace tollgate::integration {

// Per socket operation; only a broken proxy makes a test wait this long.
inline constexpr Duration kIoTimeout{std::chrono::seconds(20)};

// ---- Bodies and digests
// --------------------------------------------------------------------------

// PatternByte returns byte |offset| of the origins' /bytes/N bodies: "0-9a-zA-Z" repeated
// (proxy/demo_origin.h documents the same pattern; this is the test's own copy).
char PatternByte(uint64_t offset);

// Sha256 accumulates a SHA-256 digest.
class Sha256 {
 public:
  Sha256() { SHA256_Init(&ctx_); }
  void Update(absl::string_view bytes) { SHA256_Update(&ctx_, bytes.data(), bytes.size()); }
  // HexDigest returns the digest of everything given so far, in lowercase hex.
  std::string HexDigest();

 private:
  SHA256_CTX ctx_;
};

// Sha256Hex returns the SHA-256 of |bytes| in lowercase hex.
std::string Sha256Hex(absl::string_view bytes);
// PatternSha256 returns the SHA-256 of the first |n| pattern bytes.
std::string PatternSha256(uint64_t n);
// FileSha256 returns the SHA-256 of the file at |path| and its size, or the read error.
absl::StatusOr<std::pair<std::string, uint64_t>> FileSha256(const std::string& path);
// WriteNoiseFile writes |n| pseudo-random bytes (not the pattern, so that an echo cannot pass by
// producing the pattern) to |path| and returns their SHA-256.
absl::StatusOr<std::string> WriteNoiseFile(const std::string& path, uint64_t n, uint32_t seed);
// NoiseBytes returns |n| pseudo-random bytes from |seed|.
std::string NoiseBytes(size_t n, uint32_t seed);

// NoiseStream produces the bytes NoiseBytes(n, seed) would, a piece at a time, for bodies too
// large to hold twice.
class NoiseStream {
 public:
  explicit NoiseStream(uint32_t seed) : x_(seed != 0 ? seed : 2463534242u) {}
  // Fill writes the next |n| bytes to |out|.
  void Fill(char* out, size_t n);

 private:
  uint32_t x_;
};

// NoiseSha256 returns the SHA-256 of NoiseBytes(n, seed) without holding it.
std::string NoiseSha256(uint64_t n, uint32_t seed);

// ---- Raw HTTP/1.1 connection
// ---------------------------------------------------------------------

struct HttpResponseData {
  std::vector<int> interim;  // 1xx status codes before the final response
  int status = 0;
  std::string reason;
  std::string head;  // the final response's head as received, through the empty line
  std::vector<std::pair<std::string, std::string>> headers;
  bool chunked = false;
  std::string body;  // empty when an on_body callback took the bytes
  uint64_t body_bytes = 0;

  // Header returns the first field named |name| (any case), or nullopt.
  std::optional<std::string> Header(absl::string_view name) const;
  // HeaderCount returns how many fields are named |name|.
  int HeaderCount(absl::string_view name) const;
};

struct ReadOptions {
  // The response answers a HEAD request: no body whatever the head says.
  bool head_request = false;
  // When set, gets the body as it arrives instead of HttpResponseData::body.
  std::function<void(absl::string_view)> on_body;
};

class ClientConnection {
 public:
  // Plain opens a TCP connection to 127.0.0.1:|port|.
  static absl::StatusOr<std::unique_ptr<ClientConnection>> Plain(uint16_t port,
                                                                 Duration timeout = kIoTimeout);
  // Tls opens a TCP connection to 127.0.0.1:|port| and completes a TLS handshake as
  // |options| say (SNI, verification against a CA, ...).
  static absl::StatusOr<std::unique_ptr<ClientConnection>> Tls(
      uint16_t port, test_util::TlsClientOptions options = {});

  ~ClientConnection();
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  // Send writes all of |bytes|; errors name the failing call.
  absl::Status Send(absl::string_view bytes);
  // ReadResponse reads one response (skipping and recording 1xx). Errors: OutOfRange when the
  // peer closed before a complete response, DeadlineExceeded on a timeout, DataLoss when the
  // response is malformed.
  absl::StatusOr<HttpResponseData> ReadResponse(const ReadOptions& options = {});
  // ReadThrough returns the bytes up to and including the first |delimiter|, leaving what
  // follows for the next read (e.g. an interim "100 Continue" head).
  absl::StatusOr<std::string> ReadThrough(absl::string_view delimiter);
  // ReadUntilClose returns what arrives until the peer closes (cleanly or with a reset), or
  // DeadlineExceeded when it stays open past the socket timeout.
  absl::StatusOr<std::string> ReadUntilClose();
  // Get sends a GET for |path| with Host |host| and reads the response.
  absl::StatusOr<HttpResponseData> Get(absl::string_view host, absl::string_view path);

  // bytes_received returns every byte read from the peer so far, parsed or not.
  uint64_t bytes_received() const { return bytes_received_; }
  // close_notify_received returns whether a TLS peer ended its data with a close_notify alert
  // (rather than a bare TCP close, which a TLS client cannot tell from a truncation).
  bool close_notify_received() const { return close_notify_received_; }

  // The TLS client, or null on a plain connection.
  test_util::TlsClient* tls() { return tls_.get(); }
  int fd() const;

 private:
  ClientConnection() = default;
  // Recv appends what the next read returns to buffer_: OK, OutOfRange at EOF (or a reset after
  // EOF-like close), DeadlineExceeded, or the error.
  absl::Status Recv();
  // Need makes buffer_ hold at least |n| bytes.
  absl::Status Need(size_t n);

  int fd_ = -1;  // plain only
  std::unique_ptr<test_util::TlsClient> tls_;
  std::string buffer_;
  uint64_t bytes_received_ = 0;
  bool close_notify_received_ = false;
};

// ---- curl
// ----------------------------------------------------------------------------------------

// CurlPath returns the curl binary, or "" when none is installed.
std::string CurlPath();
// RunCurl runs `curl -sS --max-time SECONDS ARGS...` and returns its result; |stdout_file|, when
// set, receives the body (for large downloads). The process is bounded by |max_time| plus a
// margin (then killed).
RunResult RunCurl(const std::vector<std::string>& args, Duration max_time,
                  const std::string& stdout_file = "");

// ---- Admin
// ---------------------------------------------------------------------------------------

// FetchStats returns the body of GET /stats on the admin port.
absl::StatusOr<std::string> FetchStats(uint16_t admin_port);
// StatValue returns the integer value of |name| in a /stats document, or nullopt when absent.
std::optional<int64_t> StatValue(absl::string_view json, absl::string_view name);
// WaitForStat polls /stats (bounded by |timeout|) until |pred| holds for the value of |name|
// and returns the last value read (nullopt when the stat never appeared).
std::optional<int64_t> WaitForStat(uint16_t admin_port, absl::string_view name,
                                   const std::function<bool(int64_t)>& pred, Duration timeout);

}  // namespace tollgate::integration

#endif  // TOLLGATE_TESTS_INTEGRATION_HTTP_CLIENT_H_
