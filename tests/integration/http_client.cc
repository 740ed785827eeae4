#include "tests/integration/http_client.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace tollgate::integration {
namespace {

constexpr absl::string_view kPattern =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
constexpr size_t kMaxHead = 64 * 1024;

std::string Hex(const uint8_t* digest, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[digest[i] >> 4]);
    out.push_back(kDigits[digest[i] & 15]);
  }
  return out;
}

}  // namespace

char PatternByte(uint64_t offset) { return kPattern[offset % kPattern.size()]; }

std::string Sha256::HexDigest() {
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256_CTX copy = ctx_;
  SHA256_Final(digest, &copy);
  return Hex(digest, sizeof(digest));
}

std::string Sha256Hex(absl::string_view bytes) {
  Sha256 sha;
  sha.Update(bytes);
  return sha.HexDigest();
}

std::string PatternSha256(uint64_t n) {
  // One period-aligned block (62 * 1024 bytes) hashed repeatedly.
  std::string block(kPattern.size() * 1024, '\0');
  for (size_t i = 0; i < block.size(); ++i) block[i] = PatternByte(i);
  Sha256 sha;
  while (n > 0) {
    const size_t take = static_cast<size_t>(std::min<uint64_t>(n, block.size()));
    sha.Update(absl::string_view(block.data(), take));
    n -= take;
  }
  return sha.HexDigest();
}

absl::StatusOr<std::pair<std::string, uint64_t>> FileSha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  Sha256 sha;
  uint64_t size = 0;
  std::string buf(1 << 20, '\0');
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::streamsize got = in.gcount();
    if (got <= 0) break;
    sha.Update(absl::string_view(buf.data(), static_cast<size_t>(got)));
    size += static_cast<uint64_t>(got);
  }
  return std::pair{sha.HexDigest(), size};
}

absl::StatusOr<std::string> WriteNoiseFile(const std::string& path, uint64_t n, uint32_t seed) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::InternalError(absl::StrCat("cannot create ", path));
  NoiseStream noise(seed);
  Sha256 sha;
  std::string buf(1 << 20, '\0');
  while (n > 0) {
    const size_t take = static_cast<size_t>(std::min<uint64_t>(n, buf.size()));
    noise.Fill(buf.data(), take);
    out.write(buf.data(), static_cast<std::streamsize>(take));
    sha.Update(absl::string_view(buf.data(), take));
    n -= take;
  }
  out.close();
  if (!out.good()) return absl::InternalError(absl::StrCat("cannot write ", path));
  return sha.HexDigest();
}

// xorshift32, so that a body is reproducible from its seed.
void NoiseStream::Fill(char* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    x_ ^= x_ << 13;
    x_ ^= x_ >> 17;
    x_ ^= x_ << 5;
    out[i] = static_cast<char>(x_ >> 11);
  }
}

std::string NoiseBytes(size_t n, uint32_t seed) {
  std::string out(n, '\0');
  NoiseStream(seed).Fill(out.data(), n);
  return out;
}

std::string NoiseSha256(uint64_t n, uint32_t seed) {
  NoiseStream noise(seed);
  Sha256 sha;
  std::string buf(1 << 20, '\0');
  while (n > 0) {
    const size_t take = static_cast<size_t>(std::min<uint64_t>(n, buf.size()));
    noise.Fill(buf.data(), take);
    sha.Update(absl::string_view(buf.data(), take));
    n -= take;
  }
  return sha.HexDigest();
}

// ---- HttpResponseData
// ----------------------------------------------------------------------------

std::optional<std::string> HttpResponseData::Header(absl::string_view name) const {
  for (const auto& [field, value] : headers) {
    if (absl::EqualsIgnoreCase(field, name)) return value;
  }
  return std::nullopt;
}

int HttpResponseData::HeaderCount(absl::string_view name) const {
  int n = 0;
  for (const auto& [field, value] : headers) n += absl::EqualsIgnoreCase(field, name) ? 1 : 0;
  return n;
}

// ---- ClientConnection
// ----------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<ClientConnection>> ClientConnection::Plain(uint16_t port,
                                                                          Duration timeout) {
  signal(SIGPIPE, SIG_IGN);
  const int fd = test_util::ConnectTcp(port, timeout);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("connect to 127.0.0.1:", port, ": ", strerror(errno)));
  }
  std::unique_ptr<ClientConnection> c(new ClientConnection());
  c->fd_ = fd;
  return c;
}

absl::StatusOr<std::unique_ptr<ClientConnection>> ClientConnection::Tls(
    uint16_t port, test_util::TlsClientOptions options) {
  signal(SIGPIPE, SIG_IGN);
  auto tls = std::make_unique<test_util::TlsClient>(std::move(options));
  if (absl::Status s = tls->Connect(port); !s.ok()) return s;
  std::unique_ptr<ClientConnection> c(new ClientConnection());
  c->tls_ = std::move(tls);
  return c;
}

ClientConnection::~ClientConnection() {
  if (fd_ >= 0) close(fd_);
}

int ClientConnection::fd() const { return tls_ != nullptr ? tls_->fd() : fd_; }

absl::Status ClientConnection::Send(absl::string_view bytes) {
  while (!bytes.empty()) {
    if (tls_ != nullptr) {
      const int n = SSL_write(tls_->ssl(), bytes.data(),
                              static_cast<int>(std::min<size_t>(bytes.size(), 1 << 20)));
      if (n <= 0) {
        return absl::UnavailableError(absl::StrCat(
            "SSL_write: error ", SSL_get_error(tls_->ssl(), n), ", errno ", strerror(errno)));
      }
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return absl::DeadlineExceededError("send: timed out");
    }
    if (n <= 0) return absl::UnavailableError(absl::StrCat("send: ", strerror(errno)));
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status ClientConnection::Recv() {
  char buf[64 * 1024];
  if (tls_ != nullptr) {
    ERR_clear_error();
    errno = 0;
    const int n = SSL_read(tls_->ssl(), buf, sizeof(buf));
    if (n > 0) {
      buffer_.append(buf, static_cast<size_t>(n));
      bytes_received_ += static_cast<uint64_t>(n);
      return absl::OkStatus();
    }
    const int err = SSL_get_error(tls_->ssl(), n);
    if (err == SSL_ERROR_ZERO_RETURN) {
      close_notify_received_ = true;
      return absl::OutOfRangeError("closed (close_notify)");
    }
    if (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return absl::DeadlineExceededError("SSL_read: timed out");
    }
    if (err == SSL_ERROR_SYSCALL && (errno == 0 || errno == ECONNRESET)) {
      return absl::OutOfRangeError(errno == 0 ? "closed" : "reset");
    }
    return absl::UnavailableError(
        absl::StrCat("SSL_read: error ", err, ", errno ", strerror(errno)));
  }
  for (;;) {
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n > 0) {
      buffer_.append(buf, static_cast<size_t>(n));
      bytes_received_ += static_cast<uint64_t>(n);
      return absl::OkStatus();
    }
    if (n == 0) return absl::OutOfRangeError("closed");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return absl::DeadlineExceededError("recv: timed out");
    }
    if (errno == ECONNRESET) return absl::OutOfRangeError("reset");
    return absl::UnavailableError(absl::StrCat("recv: ", strerror(errno)));
  }
}

absl::Status ClientConnection::Need(size_t n) {
  while (buffer_.size() < n) {
    if (absl::Status s = Recv(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<HttpResponseData> ClientConnection::ReadResponse(const ReadOptions& options) {
  HttpResponseData r;
  auto deliver = [&](absl::string_view bytes) {
    r.body_bytes += bytes.size();
    if (options.on_body) {
      options.on_body(bytes);
    } else {
      r.body.append(bytes.data(), bytes.size());
    }
  };
  for (;;) {  // interim responses, then the final one
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (buffer_.size() > kMaxHead) return absl::DataLossError("response head too large");
      if (absl::Status s = Recv(); !s.ok()) {
        return absl::Status(s.code(),
                            absl::StrCat(s.message(), " before a response head (", buffer_.size(),
                                         " bytes: '", absl::CEscape(buffer_.substr(0, 200)), "')"));
      }
    }
    r.head = buffer_.substr(0, end + 4);
    buffer_.erase(0, end + 4);
    std::vector<absl::string_view> lines =
        absl::StrSplit(absl::string_view(r.head).substr(0, r.head.size() - 4), "\r\n");
    absl::string_view status_line = lines[0];
    if (!absl::ConsumePrefix(&status_line, "HTTP/1.1 ") &&
        !absl::ConsumePrefix(&status_line, "HTTP/1.0 ")) {
      return absl::DataLossError(absl::StrCat("bad status line: ", lines[0]));
    }
    if (status_line.size() < 3 || !absl::SimpleAtoi(status_line.substr(0, 3), &r.status)) {
      return absl::DataLossError(absl::StrCat("bad status code: ", lines[0]));
    }
    r.reason = std::string(absl::StripAsciiWhitespace(status_line.substr(3)));
    r.headers.clear();
    for (size_t i = 1; i < lines.size(); ++i) {
      const size_t colon = lines[i].find(':');
      if (colon == absl::string_view::npos || colon == 0) {
        return absl::DataLossError(absl::StrCat("bad header line: ", lines[i]));
      }
      r.headers.emplace_back(std::string(lines[i].substr(0, colon)),
                             std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1))));
    }
    if (r.status >= 100 && r.status < 200) {
      r.interim.push_back(r.status);
      continue;
    }
    break;
  }

  if (options.head_request || r.status == 204 || r.status == 304) return r;
  std::optional<std::string> te = r.Header("transfer-encoding");
  if (te.has_value() && absl::EqualsIgnoreCase(*te, "chunked")) {
    r.chunked = true;
    for (;;) {
      size_t eol;
      while ((eol = buffer_.find("\r\n")) == std::string::npos) {
        if (absl::Status s = Recv(); !s.ok()) return s;
      }
      absl::string_view size_text = absl::string_view(buffer_).substr(0, eol);
      size_text = size_text.substr(0, size_text.find(';'));
      uint64_t size = 0;
      if (!absl::SimpleHexAtoi(absl::StripAsciiWhitespace(size_text), &size)) {
        return absl::DataLossError(absl::StrCat("bad chunk size line: ", size_text));
      }
      buffer_.erase(0, eol + 2);
      if (size == 0) break;
      while (size > 0) {
        if (buffer_.empty()) {
          if (absl::Status s = Recv(); !s.ok()) return s;
        }
        const size_t take = static_cast<size_t>(std::min<uint64_t>(size, buffer_.size()));
        deliver(absl::string_view(buffer_).substr(0, take));
        buffer_.erase(0, take);
        size -= take;
      }
      if (absl::Status s = Need(2); !s.ok()) return s;
      if (buffer_.compare(0, 2, "\r\n") != 0) return absl::DataLossError("chunk without CRLF");
      buffer_.erase(0, 2);
    }
    // Trailers, up to the empty line.
    for (;;) {
      size_t eol;
      while ((eol = buffer_.find("\r\n")) == std::string::npos) {
        if (absl::Status s = Recv(); !s.ok()) return s;
      }
      buffer_.erase(0, eol + 2);
      if (eol == 0) break;
    }
    return r;
  }
  std::optional<std::string> cl = r.Header("content-length");
  if (cl.has_value()) {
    uint64_t remaining = 0;
    if (!absl::SimpleAtoi(*cl, &remaining)) {
      return absl::DataLossError(absl::StrCat("bad Content-Length: ", *cl));
    }
    while (remaining > 0) {
      if (buffer_.empty()) {
        if (absl::Status s = Recv(); !s.ok()) {
          return absl::Status(
              s.code(),
              absl::StrCat(s.message(), " with ", remaining, " body bytes still to come"));
        }
      }
      const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining, buffer_.size()));
      deliver(absl::string_view(buffer_).substr(0, take));
      buffer_.erase(0, take);
      remaining -= take;
    }
    return r;
  }
  // Close-delimited.
  for (;;) {
    if (!buffer_.empty()) {
      deliver(buffer_);
      buffer_.clear();
    }
    absl::Status s = Recv();
    if (absl::IsOutOfRange(s)) return r;
    if (!s.ok()) return s;
  }
}

absl::StatusOr<std::string> ClientConnection::ReadThrough(absl::string_view delimiter) {
  size_t at;
  while ((at = buffer_.find(delimiter.data(), 0, delimiter.size())) == std::string::npos) {
    if (absl::Status s = Recv(); !s.ok()) return s;
  }
  std::string out = buffer_.substr(0, at + delimiter.size());
  buffer_.erase(0, at + delimiter.size());
  return out;
}

absl::StatusOr<std::string> ClientConnection::ReadUntilClose() {
  for (;;) {
    absl::Status s = Recv();
    if (absl::IsOutOfRange(s)) {
      std::string out = std::move(buffer_);
      buffer_.clear();
      return out;
    }
    if (!s.ok()) return s;
  }
}

absl::StatusOr<HttpResponseData> ClientConnection::Get(absl::string_view host,
                                                       absl::string_view path) {
  if (absl::Status s = Send(absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: ", host, "\r\n\r\n"));
      !s.ok()) {
    return s;
  }
  return ReadResponse();
}

// ---- curl
// ----------------------------------------------------------------------------------------

std::string CurlPath() {
  for (const char* path : {"/usr/bin/curl", "/usr/local/bin/curl", "/bin/curl"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return "";
}

RunResult RunCurl(const std::vector<std::string>& args, Duration max_time,
                  const std::string& stdout_file) {
  std::vector<std::string> argv = {CurlPath(), "-sS", "--max-time",
                                   absl::StrCat(std::max<int64_t>(1, max_time.count() / 1000))};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, max_time + std::chrono::seconds(10), stdout_file);
}

// ---- Admin
// ---------------------------------------------------------------------------------------

absl::StatusOr<std::string> FetchStats(uint16_t admin_port) {
  absl::StatusOr<std::unique_ptr<ClientConnection>> c = ClientConnection::Plain(admin_port);
  if (!c.ok()) return c.status();
  absl::StatusOr<HttpResponseData> r = (*c)->Get("127.0.0.1", "/stats");
  if (!r.ok()) return r.status();
  if (r->status != 200) return absl::InternalError(absl::StrCat("/stats answered ", r->status));
  return r->body;
}

std::optional<int64_t> StatValue(absl::string_view json, absl::string_view name) {
  const std::string key = absl::StrCat("\"", name, "\":");
  const size_t at = json.find(key);
  if (at == absl::string_view::npos) return std::nullopt;
  absl::string_view rest = absl::StripLeadingAsciiWhitespace(json.substr(at + key.size()));
  size_t len = 0;
  while (len < rest.size() && (absl::ascii_isdigit(rest[len]) || rest[len] == '-')) ++len;
  int64_t value = 0;
  if (!absl::SimpleAtoi(rest.substr(0, len), &value)) return std::nullopt;
  return value;
}

std::optional<int64_t> WaitForStat(uint16_t admin_port, absl::string_view name,
                                   const std::function<bool(int64_t)>& pred, Duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::optional<int64_t> last;
  for (;;) {
    absl::StatusOr<std::string> stats = FetchStats(admin_port);
    if (stats.ok()) {
      last = StatValue(*stats, name);
      if (last.has_value() && pred(*last)) return last;
    }
    if (std::chrono::steady_clock::now() >= deadline) return last;
    // Polling interval of a bounded poll, not synchronisation.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace tollgate::integration
