#include "tests/util/tls_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tollgate::test_util {
namespace {

std::string SslErrors() {
  std::string out;
  uint32_t err;
  while ((err = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no library error" : out;
}

}  // namespace

int ConnectTcp(uint16_t port, std::chrono::milliseconds timeout) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TlsClient::TlsClient(TlsClientOptions options) : options_(std::move(options)) {
  ctx_.reset(SSL_CTX_new(TLS_method()));
  SSL_CTX_set_max_proto_version(ctx_.get(), options_.max_version);
  // TLS 1.3 sessions become resumable only with a NewSessionTicket, which BoringSSL hands to
  // this callback (SSL_get1_session would return the ticketless handshake session).
  SSL_CTX_set_session_cache_mode(ctx_.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
  SSL_CTX_sess_set_new_cb(ctx_.get(), [](SSL* ssl, SSL_SESSION* session) -> int {
    static_cast<TlsClient*>(SSL_get_app_data(ssl))->latest_session_.reset(session);
    return 1;  // we keep the reference
  });
  if (options_.ca != nullptr) {
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_.get()), options_.ca);
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
  }
  if (!options_.tickets) SSL_CTX_set_options(ctx_.get(), SSL_OP_NO_TICKET);
  if (options_.cert != nullptr && options_.key != nullptr) {
    SSL_CTX_use_certificate(ctx_.get(), options_.cert);
    SSL_CTX_use_PrivateKey(ctx_.get(), options_.key);
  }
  if (!options_.alpn.empty()) {
    std::string wire;
    for (const std::string& p : options_.alpn) {
      wire.push_back(static_cast<char>(p.size()));
      wire += p;
    }
    SSL_CTX_set_alpn_protos(ctx_.get(), reinterpret_cast<const uint8_t*>(wire.data()), wire.size());
  }
  // Record headers as they arrive, to observe the server's record sizes.
  SSL_CTX_set_msg_callback(
      ctx_.get(),
      [](int is_write, int, int content_type, const void* buf, size_t len, SSL* ssl, void*) {
        if (is_write || content_type != SSL3_RT_HEADER || len < 5) return;
        const auto* h = static_cast<const uint8_t*>(buf);
        static_cast<TlsClient*>(SSL_get_app_data(ssl))
            ->record_lengths_.push_back((static_cast<size_t>(h[3]) << 8) | h[4]);
      });
  if (options_.rsa_only) {
    static const uint16_t kRsa[] = {SSL_SIGN_RSA_PSS_RSAE_SHA256, SSL_SIGN_RSA_PKCS1_SHA256};
    SSL_CTX_set_verify_algorithm_prefs(ctx_.get(), kRsa, 2);
  }
}

TlsClient::~TlsClient() {
  if (fd_ >= 0) close(fd_);
}

absl::Status TlsClient::Connect(uint16_t port) {
  fd_ = ConnectTcp(port, options_.timeout);
  if (fd_ < 0) return absl::UnavailableError(absl::StrCat("tcp connect: ", strerror(errno)));
  ssl_.reset(SSL_new(ctx_.get()));
  SSL_set_app_data(ssl_.get(), this);
  SSL_set_fd(ssl_.get(), fd_);
  if (!options_.sni.empty()) {
    SSL_set_tlsext_host_name(ssl_.get(), options_.sni.c_str());
    if (options_.ca != nullptr) {
      X509_VERIFY_PARAM_set1_host(SSL_get0_param(ssl_.get()), options_.sni.data(),
                                  options_.sni.size());
    }
  }
  if (options_.session != nullptr) SSL_set_session(ssl_.get(), options_.session);
  if (SSL_connect(ssl_.get()) != 1) {
    return absl::UnavailableError(absl::StrCat("tls handshake: ", SslErrors()));
  }
  return absl::OkStatus();
}

std::string TlsClient::PeerCommonName() const {
  bssl::UniquePtr<X509> cert(SSL_get_peer_certificate(ssl_.get()));
  if (cert == nullptr) return "";
  char cn[256] = "";
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof(cn));
  return cn;
}

uint16_t TlsClient::version() const { return SSL_version(ssl_.get()); }

std::string TlsClient::cipher() const {
  const SSL_CIPHER* c = SSL_get_current_cipher(ssl_.get());
  return c != nullptr ? SSL_CIPHER_standard_name(c) : "";
}

bool TlsClient::reused() const { return SSL_session_reused(ssl_.get()); }

std::string TlsClient::alpn() const {
  const uint8_t* data = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl_.get(), &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

bssl::UniquePtr<SSL_SESSION> TlsClient::session() const {
  if (latest_session_ != nullptr) {
    SSL_SESSION_up_ref(latest_session_.get());
    return bssl::UniquePtr<SSL_SESSION>(latest_session_.get());
  }
  return bssl::UniquePtr<SSL_SESSION>(SSL_get1_session(ssl_.get()));
}

absl::Status TlsClient::WriteAll(const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    int n = SSL_write(ssl_.get(), data.data() + off, static_cast<int>(data.size() - off));
    if (n <= 0) return absl::UnavailableError(absl::StrCat("SSL_write: ", SslErrors()));
    off += n;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> TlsClient::ReadExactly(size_t n) {
  std::string out(n, '\0');
  size_t off = 0;
  while (off < n) {
    int r = SSL_read(ssl_.get(), out.data() + off, static_cast<int>(n - off));
    if (r <= 0) {
      return absl::UnavailableError(
          absl::StrCat("SSL_read after ", off, " of ", n, " bytes: ", SslErrors()));
    }
    off += r;
  }
  return out;
}

std::string TlsClient::ReadUntilClose() {
  std::string out;
  char buf[16384];
  int r;
  while ((r = SSL_read(ssl_.get(), buf, sizeof(buf))) > 0) out.append(buf, r);
  return out;
}

std::string MakeClientHello(const std::string& sni) {
  bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
  bssl::UniquePtr<SSL> ssl(SSL_new(ctx.get()));
  BIO* internal = nullptr;
  BIO* network = nullptr;
  BIO_new_bio_pair(&internal, 0, &network, 0);
  SSL_set_bio(ssl.get(), internal, internal);
  SSL_set_connect_state(ssl.get());
  if (!sni.empty()) SSL_set_tlsext_host_name(ssl.get(), sni.c_str());
  SSL_do_handshake(ssl.get());  // writes the ClientHello, then wants to read
  std::string out;
  char buf[4096];
  int n;
  while ((n = BIO_read(network, buf, sizeof(buf))) > 0) out.append(buf, n);
  BIO_free(network);
  return out;
}

}  // namespace tollgate::test_util
