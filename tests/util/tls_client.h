// A blocking BoringSSL client for tests: connects to a loopback port, handshakes, and reports
// what a user would see (success or the failure, certificate CN, version, resumption).
//
//   TlsClient client({.sni = "a.test", .ca = ca_cert.get()});
//   absl::Status s = client.Connect(port);
//   EXPECT_EQ(client.PeerCommonName(), "a.test");
//   client.WriteAll("ping"); client.ReadExactly(4);

#ifndef TOLLGATE_TESTS_UTIL_TLS_CLIENT_H_
#define TOLLGATE_TESTS_UTIL_TLS_CLIENT_H_

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tollgate::test_util {

struct TlsClientOptions {
  std::string sni;  // empty: no SNI
  X509* ca = nullptr;  // verify the server against it (and |sni| when set); null: no check
  bool rsa_only = false;  // offer only RSA signature algorithms
  uint16_t max_version = TLS1_3_VERSION;
  SSL_SESSION* session = nullptr;  // offer this session for resumption
  bool tickets = true;  // false: refuse session tickets (TLS 1.2 session IDs only)
  std::vector<std::string> alpn;  // ALPN protocols to offer, in order
  X509* cert = nullptr;  // client certificate for mTLS (with key)
  EVP_PKEY* key = nullptr;
  std::chrono::milliseconds timeout{10000};  // per socket operation
};

class TlsClient {
 public:
  explicit TlsClient(TlsClientOptions options);
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  // Connect opens a TCP connection to 127.0.0.1:|port| and completes the handshake. Errors say
  // whether TCP or TLS failed and why.
  absl::Status Connect(uint16_t port);

  // After Connect.
  std::string PeerCommonName() const;
  uint16_t version() const;
  std::string cipher() const;
  bool reused() const;
  // alpn returns the protocol the server agreed to ("" if none).
  std::string alpn() const;
  // record_lengths returns the length field of every TLS record received so far (ciphertext
  // bytes: for TLS 1.3 application data, plaintext + 17).
  const std::vector<size_t>& record_lengths() const { return record_lengths_; }
  // session returns the session to resume with (a new reference): the newest ticket received,
  // so read some data first to let TLS 1.3 tickets arrive.
  bssl::UniquePtr<SSL_SESSION> session() const;

  absl::Status WriteAll(const std::string& data);
  absl::StatusOr<std::string> ReadExactly(size_t n);
  // ReadUntilClose reads until the server closes (clean or not) and returns what came.
  std::string ReadUntilClose();

  int fd() const { return fd_; }
  SSL* ssl() const { return ssl_.get(); }

 private:
  TlsClientOptions options_;
  bssl::UniquePtr<SSL_CTX> ctx_;
  bssl::UniquePtr<SSL> ssl_;
  bssl::UniquePtr<SSL_SESSION> latest_session_;  // from the last NewSessionTicket
  std::vector<size_t> record_lengths_;
  int fd_ = -1;
};

// ConnectTcp returns a blocking TCP socket connected to 127.0.0.1:|port| with send/receive
// timeouts, or -1.
int ConnectTcp(uint16_t port, std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

// MakeClientHello returns the bytes of the first flight a BoringSSL client sends for |sni|
// (a ClientHello), produced over a memory BIO without any network.
std::string MakeClientHello(const std::string& sni);

}  // namespace tollgate::test_util

#endif  // TOLLGATE_TESTS_UTIL_TLS_CLIENT_H_
