// A minimal TLS 1.3 client on BoringSSL's libcrypto: the load tool's lean engine for full
// handshakes (LoadEngine::kRaw in tls_load.h).
//
// Why it exists: a libssl client spends more CPU per full ECDSA handshake than the server it
// measures (two X25519 operations plus the ECDSA verify), so one load core cannot saturate one
// server core. This client does as little as a TLS 1.3 client can and still complete real
// handshakes: the server sees an ordinary full handshake (fresh ECDHE share, fresh signature).
//
// What it does, per connection:
//   - a ClientHello offering exactly TLS 1.3, TLS_AES_128_GCM_SHA256, X25519, the signature
//     algorithms of the config, the server name of the config, a 32-byte legacy_session_id and
//     no PSK;
//   - the X25519 shared secret with the server's share, the RFC 8446 §7.1 key schedule
//     (HKDF-SHA256), AES-128-GCM record protection, the transcript hash;
//   - EncryptedExtensions, Certificate and CertificateVerify parsed (structure only), the
//     server Finished VERIFIED, the client Finished sent, application keys installed;
//   - application data both ways, NewSessionTicket messages skipped, close_notify.
//
// What it deliberately skips (a load tool measures cost, not trust):
//   - the certificate is not parsed or checked, and the CertificateVerify signature is NOT
//     verified (only its algorithm is checked against the offered list);
//   - every connection of a run reuses ONE X25519 key pair (RawClientConfig), so the client
//     pays one X25519 per handshake and the server still pays its full share;
//   - no HelloRetryRequest, no PSK or 0-RTT, no client certificates, no KeyUpdate: each is a
//     connection error.
//
// The engine works on bytes and never touches a socket: Start() queues the ClientHello,
// Receive() takes whatever the transport read (any fragment of the stream), and output() holds
// the bytes to send. Everything the server sends is bounds-checked; anything unexpected moves
// the connection to RawState::kFailed with error() saying why.
//
//   absl::StatusOr<RawClientConfig> config = NewRawClientConfig("a.test", /*rsa=*/false);
//   RawTls13Client client(&*config);
//   client.Start();
//   ... send client.output(), client.ConsumeOutput(n) ...
//   RawState s = client.Receive(bytes, n);
//   if (s == RawState::kConnected) client.WriteApplicationData(request, len);

#ifndef TOLLGATE_TOOLS_TLS_BENCH_RAW_TLS13_CLIENT_H_
#define TOLLGATE_TOOLS_TLS_BENCH_RAW_TLS13_CLIENT_H_

#include <openssl/aead.h>
#include <openssl/sha.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tollgate::tls_bench {

// ---- Run-wide configuration ------------------------------------------------------------------

// RawClientConfig is what every connection of a run shares. Immutable once made.
struct RawClientConfig {
  // Server name sent in the ClientHello ("" sends no server_name extension).
  std::string sni;
  // Offer only the RSA-PSS signature algorithms (so the server must use an RSA certificate);
  // otherwise ecdsa_secp256r1_sha256 first, then RSA-PSS.
  bool rsa = false;
  // The run's single X25519 key pair, offered by every connection.
  uint8_t x25519_private[32] = {};
  uint8_t x25519_public[32] = {};
  // Derive-Secret(Early Secret, "derived", ""): without a PSK the early secret is a constant,
  // so this is too, and is computed once.
  uint8_t derived_early[SHA256_DIGEST_LENGTH] = {};
};

// NewRawClientConfig makes a config for |sni| and |rsa| with a fresh X25519 key pair.
// InvalidArgument if |sni| is longer than 255 bytes; InternalError if HKDF fails. Any thread.
absl::StatusOr<RawClientConfig> NewRawClientConfig(const std::string& sni, bool rsa);

// ---- Building blocks (exposed for tests) -----------------------------------------------------

// HkdfExpandLabel writes HKDF-Expand-Label(|secret|, |label|, |context|, |out_len|) with
// SHA-256 (RFC 8446 §7.1; |label| without the "tls13 " prefix) to |out|. False if |out_len|
// or the label or context is too long for the HkdfLabel encoding, or HKDF fails.
bool HkdfExpandLabel(const uint8_t* secret, size_t secret_len, absl::string_view label,
                     const uint8_t* context, size_t context_len, uint8_t* out, size_t out_len);

// ---- The client ------------------------------------------------------------------------------

enum class RawState : uint8_t {
  kStart,  // Start() not called yet
  kWaitServerHello,
  kWaitEncryptedExtensions,
  kWaitCertificate,
  kWaitCertificateVerify,
  kWaitFinished,
  kConnected,  // handshake done, client Finished queued; application data both ways
  kPeerClosed,  // the server sent close_notify; nothing more is read
  kFailed,  // a connection error; error() says why; final
};

// RawStateName returns a short name for logs ("wait ServerHello", "connected", ...).
const char* RawStateName(RawState state);

// RawTls13Client is one client connection's TLS 1.3 state. Not thread-safe: one thread drives
// it. The config must outlive it.
class RawTls13Client {
 public:
  explicit RawTls13Client(const RawClientConfig* config);
  RawTls13Client(const RawTls13Client&) = delete;
  RawTls13Client& operator=(const RawTls13Client&) = delete;

  // Start queues the ClientHello record in output() and returns the new state
  // (kWaitServerHello; kFailed if the RNG failed). Call once, first.
  RawState Start();

  // Receive consumes |len| bytes the server sent next (any fragment: records and handshake
  // messages are reassembled internally) and returns the state after them. May queue output
  // (the client Finished). After kFailed or kPeerClosed it ignores its input and returns the
  // same state.
  RawState Receive(const uint8_t* data, size_t len);

  // WriteApplicationData queues |len| bytes as application data records. False (and nothing
  // queued) unless the state is kConnected.
  bool WriteApplicationData(const uint8_t* data, size_t len);

  // SendCloseNotify queues a close_notify alert. False unless the state is kConnected or
  // kPeerClosed. Nothing may be written after it.
  bool SendCloseNotify();

  // output / output_size: bytes queued for the server, not yet consumed. ConsumeOutput drops
  // the first |n| of them (n <= output_size()) once the transport has sent them. The pointer
  // is valid until the next call of any other method.
  const uint8_t* output() const { return out_.data() + out_start_; }
  size_t output_size() const { return out_.size() - out_start_; }
  void ConsumeOutput(size_t n);

  RawState state() const { return state_; }
  // app_bytes_received returns the application data bytes received so far.
  int64_t app_bytes_received() const { return app_bytes_; }
  // error returns why the state is kFailed ("" otherwise).
  const std::string& error() const { return error_; }

 private:
  // One direction's record protection.
  struct Direction {
    bssl::ScopedEVP_AEAD_CTX aead;
    uint8_t iv[12] = {};
    uint64_t seq = 0;
    bool on = false;  // false: plaintext records (before the ServerHello)
  };

  // Fail moves to kFailed with |why| (prefixed with the state it failed in); returns false.
  bool Fail(const std::string& why);
  bool InstallKeys(Direction* dir, const uint8_t* traffic_secret);
  bool SealRecord(uint8_t inner_type, const uint8_t* data, size_t len);
  void AppendPlainRecord(uint8_t type, const uint8_t* data, size_t len);
  bool ProcessRecord(const uint8_t* header, uint8_t* body, size_t len);
  bool ProcessHandshakeBytes(const uint8_t* data, size_t len);
  bool ProcessAlert(const uint8_t* data, size_t len);
  bool HandleMessage(uint8_t type, const uint8_t* msg, size_t len);
  bool DoServerHello(const uint8_t* body, size_t len);
  bool DoEncryptedExtensions(const uint8_t* body, size_t len);
  bool DoCertificate(const uint8_t* body, size_t len);
  bool DoCertificateVerify(const uint8_t* body, size_t len);
  bool DoFinished(const uint8_t* msg, size_t len);
  bool DoPostHandshake(uint8_t type);

  const RawClientConfig* config_;
  RawState state_ = RawState::kStart;
  std::string error_;
  uint8_t session_id_[32] = {};
  SHA256_CTX transcript_;
  uint8_t handshake_secret_[SHA256_DIGEST_LENGTH] = {};
  uint8_t client_hs_secret_[SHA256_DIGEST_LENGTH] = {};
  uint8_t server_hs_secret_[SHA256_DIGEST_LENGTH] = {};
  Direction read_;
  Direction write_;
  // Bytes received and not yet made into whole records (from in_start_).
  std::vector<uint8_t> in_;
  size_t in_start_ = 0;
  // Handshake message bytes not yet making a whole message.
  std::vector<uint8_t> hs_;
  std::vector<uint8_t> out_;
  size_t out_start_ = 0;
  int64_t app_bytes_ = 0;
  bool sent_close_ = false;
};

}  // namespace tollgate::tls_bench

#endif  // TOLLGATE_TOOLS_TLS_BENCH_RAW_TLS13_CLIENT_H_
