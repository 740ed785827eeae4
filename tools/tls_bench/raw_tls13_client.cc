#include "tools/tls_bench/raw_tls13_client.h"

#include <openssl/bytestring.h>
#include <openssl/curve25519.h>
#include <openssl/digest.h>
#include <openssl/hkdf.h>
#include <openssl/hmac.h>
#include <openssl/mem.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <iterator>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tollgate::tls_bench {
namespace {

constexpr size_t kHashLen = SHA256_DIGEST_LENGTH;
constexpr size_t kKeyLen = 16;  // AES-128
constexpr size_t kIvLen = 12;
constexpr size_t kTagLen = 16;
constexpr size_t kHeaderLen = 5;  // record header
constexpr size_t kMaxPlaintext = 1 << 14;  // RFC 8446 §5.1
constexpr size_t kMaxCiphertext = kMaxPlaintext + 256;  // §5.2
// Far above any certificate chain the tool meets, and a bound on what a server can make the
// client buffer.
constexpr size_t kMaxHandshakeMessage = 1 << 17;

// Record content types (RFC 8446 §5.1).
constexpr uint8_t kChangeCipherSpec = 20;
constexpr uint8_t kAlert = 21;
constexpr uint8_t kHandshake = 22;
constexpr uint8_t kApplicationData = 23;

// Handshake message types (§4).
constexpr uint8_t kClientHello = 1;
constexpr uint8_t kServerHello = 2;
constexpr uint8_t kNewSessionTicket = 4;
constexpr uint8_t kEncryptedExtensions = 8;
constexpr uint8_t kCertificate = 11;
constexpr uint8_t kCertificateRequest = 13;
constexpr uint8_t kCertificateVerify = 15;
constexpr uint8_t kFinished = 20;
constexpr uint8_t kKeyUpdate = 24;

// Extensions (§4.2).
constexpr uint16_t kExtServerName = 0;
constexpr uint16_t kExtSupportedGroups = 10;
constexpr uint16_t kExtSignatureAlgorithms = 13;
constexpr uint16_t kExtSupportedVersions = 43;
constexpr uint16_t kExtKeyShare = 51;

constexpr uint16_t kLegacyVersion = 0x0303;
constexpr uint16_t kTls13 = 0x0304;
constexpr uint16_t kAes128GcmSha256 = 0x1301;
constexpr uint16_t kX25519 = 0x001d;

// Signature schemes offered: ecdsa_secp256r1_sha256, then rsa_pss_rsae_sha{256,384,512}.
constexpr uint16_t kSchemesEcdsaFirst[] = {0x0403, 0x0804, 0x0805, 0x0806};
constexpr uint16_t kSchemesRsaPssOnly[] = {0x0804, 0x0805, 0x0806};

// The ServerHello random that marks a HelloRetryRequest: SHA-256("HelloRetryRequest") (§4.1.3).
constexpr uint8_t kHelloRetryRandom[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

const char* AlertName(uint8_t description) {
  switch (description) {
    case 0:
      return "close_notify";
    case 10:
      return "unexpected_message";
    case 20:
      return "bad_record_mac";
    case 40:
      return "handshake_failure";
    case 42:
      return "bad_certificate";
    case 47:
      return "illegal_parameter";
    case 50:
      return "decode_error";
    case 51:
      return "decrypt_error";
    case 70:
      return "protocol_version";
    case 80:
      return "internal_error";
    case 109:
      return "missing_extension";
    case 110:
      return "unsupported_extension";
    case 112:
      return "unrecognized_name";
  }
  return "alert";
}

// Appends big-endian fields to a byte vector; Begin/End pairs write a length prefix once the
// length is known.
class Writer {
 public:
  explicit Writer(std::vector<uint8_t>* out) : out_(out) {}
  void U8(uint8_t v) { out_->push_back(v); }
  void U16(uint16_t v) {
    out_->push_back(static_cast<uint8_t>(v >> 8));
    out_->push_back(static_cast<uint8_t>(v));
  }
  void Bytes(const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    out_->insert(out_->end(), b, b + n);
  }
  // Begin reserves a |width|-byte length prefix and returns where it is.
  size_t Begin(int width) {
    size_t at = out_->size();
    out_->resize(at + width);
    return at;
  }
  // End writes the length of everything after the prefix at |at| (|width| bytes wide).
  void End(size_t at, int width) {
    size_t len = out_->size() - at - width;
    for (int i = 0; i < width; ++i) {
      (*out_)[at + i] = static_cast<uint8_t>(len >> (8 * (width - 1 - i)));
    }
  }

 private:
  std::vector<uint8_t>* out_;
};

const uint8_t* EmptyHash() {
  static const struct Hash {
    Hash() { SHA256(nullptr, 0, bytes); }
    uint8_t bytes[kHashLen];
  } hash;
  return hash.bytes;
}

// DeriveSecret is Derive-Secret(|secret|, |label|, messages) for a transcript hash |hash|.
bool DeriveSecret(const uint8_t* secret, absl::string_view label, const uint8_t* hash,
                  uint8_t* out) {
  return HkdfExpandLabel(secret, kHashLen, label, hash, kHashLen, out, kHashLen);
}

}  // namespace

bool HkdfExpandLabel(const uint8_t* secret, size_t secret_len, absl::string_view label,
                     const uint8_t* context, size_t context_len, uint8_t* out, size_t out_len) {
  static constexpr absl::string_view kPrefix = "tls13 ";
  const size_t full_label = kPrefix.size() + label.size();
  if (out_len > 0xffff || full_label > 255 || context_len > 255) return false;
  // struct { uint16 length; opaque label<7..255>; opaque context<0..255>; } HkdfLabel;
  uint8_t info[2 + 1 + 255 + 1 + 255];
  size_t n = 0;
  info[n++] = static_cast<uint8_t>(out_len >> 8);
  info[n++] = static_cast<uint8_t>(out_len);
  info[n++] = static_cast<uint8_t>(full_label);
  std::memcpy(info + n, kPrefix.data(), kPrefix.size());
  n += kPrefix.size();
  std::memcpy(info + n, label.data(), label.size());
  n += label.size();
  info[n++] = static_cast<uint8_t>(context_len);
  if (context_len > 0) std::memcpy(info + n, context, context_len);
  n += context_len;
  return HKDF_expand(out, out_len, EVP_sha256(), secret, secret_len, info, n) == 1;
}

absl::StatusOr<RawClientConfig> NewRawClientConfig(const std::string& sni, bool rsa) {
  if (sni.size() > 255) return absl::InvalidArgumentError("server name longer than 255 bytes");
  RawClientConfig config;
  config.sni = sni;
  config.rsa = rsa;
  X25519_keypair(config.x25519_public, config.x25519_private);
  // Early Secret = HKDF-Extract(salt 0, IKM 0): no PSK, so both are a hash length of zeros.
  const uint8_t zeros[kHashLen] = {};
  uint8_t early[EVP_MAX_MD_SIZE];
  size_t early_len = 0;
  if (!HKDF_extract(early, &early_len, EVP_sha256(), zeros, kHashLen, zeros, kHashLen) ||
      early_len != kHashLen || !DeriveSecret(early, "derived", EmptyHash(), config.derived_early)) {
    return absl::InternalError("HKDF failed");
  }
  return config;
}

const char* RawStateName(RawState state) {
  switch (state) {
    case RawState::kStart:
      return "start";
    case RawState::kWaitServerHello:
      return "wait ServerHello";
    case RawState::kWaitEncryptedExtensions:
      return "wait EncryptedExtensions";
    case RawState::kWaitCertificate:
      return "wait Certificate";
    case RawState::kWaitCertificateVerify:
      return "wait CertificateVerify";
    case RawState::kWaitFinished:
      return "wait Finished";
    case RawState::kConnected:
      return "connected";
    case RawState::kPeerClosed:
      return "peer closed";
    case RawState::kFailed:
      return "failed";
  }
  return "?";
}

RawTls13Client::RawTls13Client(const RawClientConfig* config) : config_(config) {
  SHA256_Init(&transcript_);
}

bool RawTls13Client::Fail(const std::string& why) {
  if (state_ == RawState::kFailed) return false;  // the first reason stays
  error_ = absl::StrCat("raw TLS 1.3 client (", RawStateName(state_), "): ", why);
  state_ = RawState::kFailed;
  return false;
}

void RawTls13Client::ConsumeOutput(size_t n) {
  out_start_ += std::min(n, output_size());
  if (out_start_ == out_.size()) {
    out_.clear();
    out_start_ = 0;
  }
}

RawState RawTls13Client::Start() {
  if (state_ != RawState::kStart) {
    Fail("Start called twice");
    return state_;
  }
  uint8_t random[32];
  if (!RAND_bytes(random, sizeof(random)) || !RAND_bytes(session_id_, sizeof(session_id_))) {
    Fail("RAND_bytes failed");
    return state_;
  }
  std::vector<uint8_t> hello;
  hello.reserve(256 + config_->sni.size());
  Writer w(&hello);
  w.U8(kClientHello);
  size_t body = w.Begin(3);
  w.U16(kLegacyVersion);
  w.Bytes(random, sizeof(random));
  w.U8(sizeof(session_id_));
  w.Bytes(session_id_, sizeof(session_id_));
  w.U16(2);  // cipher_suites
  w.U16(kAes128GcmSha256);
  w.U8(1);  // legacy_compression_methods: null only
  w.U8(0);
  size_t extensions = w.Begin(2);
  if (!config_->sni.empty()) {
    w.U16(kExtServerName);
    size_t ext = w.Begin(2);
    size_t list = w.Begin(2);
    w.U8(0);  // host_name
    w.U16(static_cast<uint16_t>(config_->sni.size()));
    w.Bytes(config_->sni.data(), config_->sni.size());
    w.End(list, 2);
    w.End(ext, 2);
  }
  w.U16(kExtSupportedVersions);
  w.U16(3);
  w.U8(2);
  w.U16(kTls13);
  w.U16(kExtSupportedGroups);
  w.U16(4);
  w.U16(2);
  w.U16(kX25519);
  w.U16(kExtKeyShare);
  w.U16(2 + 2 + 2 + 32);
  w.U16(2 + 2 + 32);  // client_shares
  w.U16(kX25519);
  w.U16(32);
  w.Bytes(config_->x25519_public, 32);
  w.U16(kExtSignatureAlgorithms);
  size_t ext = w.Begin(2);
  size_t list = w.Begin(2);
  if (config_->rsa) {
    for (uint16_t s : kSchemesRsaPssOnly) w.U16(s);
  } else {
    for (uint16_t s : kSchemesEcdsaFirst) w.U16(s);
  }
  w.End(list, 2);
  w.End(ext, 2);
  w.End(extensions, 2);
  w.End(body, 3);

  SHA256_Update(&transcript_, hello.data(), hello.size());
  // The ClientHello record says TLS 1.0, as every client does for middleboxes (§5.1).
  Writer r(&out_);
  r.U8(kHandshake);
  r.U16(0x0301);
  r.U16(static_cast<uint16_t>(hello.size()));
  r.Bytes(hello.data(), hello.size());
  state_ = RawState::kWaitServerHello;
  return state_;
}

bool RawTls13Client::InstallKeys(Direction* dir, const uint8_t* traffic_secret) {
  uint8_t key[kKeyLen];
  if (!HkdfExpandLabel(traffic_secret, kHashLen, "key", nullptr, 0, key, sizeof(key)) ||
      !HkdfExpandLabel(traffic_secret, kHashLen, "iv", nullptr, 0, dir->iv, sizeof(dir->iv))) {
    return Fail("HKDF-Expand-Label failed");
  }
  dir->aead.Reset();
  bool ok = EVP_AEAD_CTX_init(dir->aead.get(), EVP_aead_aes_128_gcm(), key, sizeof(key), kTagLen,
                              nullptr) == 1;
  OPENSSL_cleanse(key, sizeof(key));
  if (!ok) return Fail("EVP_AEAD_CTX_init failed");
  dir->seq = 0;
  dir->on = true;
  return true;
}

namespace {

// MakeNonce: the per-record nonce is the IV XOR the 64-bit sequence number, right-aligned
// (§5.3).
void MakeNonce(const uint8_t iv[kIvLen], uint64_t seq, uint8_t nonce[kIvLen]) {
  std::memcpy(nonce, iv, kIvLen);
  for (int i = 0; i < 8; ++i) nonce[kIvLen - 1 - i] ^= static_cast<uint8_t>(seq >> (8 * i));
}

}  // namespace

bool RawTls13Client::SealRecord(uint8_t inner_type, const uint8_t* data, size_t len) {
  const size_t sealed = len + 1 + kTagLen;  // TLSInnerPlaintext (no padding) + tag
  const size_t at = out_.size();
  out_.resize(at + kHeaderLen + sealed);
  uint8_t* header = out_.data() + at;
  header[0] = kApplicationData;  // opaque_type
  header[1] = 0x03;
  header[2] = 0x03;
  header[3] = static_cast<uint8_t>(sealed >> 8);
  header[4] = static_cast<uint8_t>(sealed);
  uint8_t* payload = header + kHeaderLen;
  if (len > 0) std::memcpy(payload, data, len);
  payload[len] = inner_type;
  uint8_t nonce[kIvLen];
  MakeNonce(write_.iv, write_.seq, nonce);
  size_t out_len = 0;
  if (!EVP_AEAD_CTX_seal(write_.aead.get(), payload, &out_len, sealed, nonce, kIvLen, payload,
                         len + 1, header, kHeaderLen) ||
      out_len != sealed) {
    out_.resize(at);
    return Fail("EVP_AEAD_CTX_seal failed");
  }
  ++write_.seq;
  return true;
}

RawState RawTls13Client::Receive(const uint8_t* data, size_t len) {
  if (state_ == RawState::kFailed || state_ == RawState::kPeerClosed) return state_;
  if (state_ == RawState::kStart) {
    Fail("bytes received before the ClientHello was sent");
    return state_;
  }
  in_.insert(in_.end(), data, data + len);
  // Whole records only; the rest waits for more bytes. A record is decrypted in place.
  while (in_.size() - in_start_ >= kHeaderLen) {
    const uint8_t* at = in_.data() + in_start_;
    const size_t body_len = (static_cast<size_t>(at[3]) << 8) | at[4];
    if (at[1] != 0x03) {
      Fail(absl::StrFormat("not a TLS record (type %u, version 0x%02x%02x)", at[0], at[1], at[2]));
      return state_;
    }
    if (body_len > kMaxCiphertext) {
      Fail(absl::StrCat("record of ", body_len, " bytes, more than ", kMaxCiphertext));
      return state_;
    }
    if (in_.size() - in_start_ < kHeaderLen + body_len) break;
    uint8_t header[kHeaderLen];
    std::memcpy(header, at, kHeaderLen);
    uint8_t* body = in_.data() + in_start_ + kHeaderLen;
    in_start_ += kHeaderLen + body_len;
    if (!ProcessRecord(header, body, body_len)) return state_;
  }
  if (in_start_ > 0) {
    in_.erase(in_.begin(), in_.begin() + in_start_);
    in_start_ = 0;
  }
  return state_;
}

bool RawTls13Client::ProcessRecord(const uint8_t* header, uint8_t* body, size_t len) {
  const uint8_t type = header[0];
  const bool between_hellos_and_finished = state_ == RawState::kWaitEncryptedExtensions ||
      state_ == RawState::kWaitCertificate || state_ == RawState::kWaitCertificateVerify ||
      state_ == RawState::kWaitFinished;
  if (type == kChangeCipherSpec) {
    // The server's middlebox-compatibility ChangeCipherSpec (§D.4): one byte, 0x01, only
    // between its ServerHello and its Finished. It means nothing in TLS 1.3.
    if (!between_hellos_and_finished || len != 1 || body[0] != 1) {
      return Fail("unexpected ChangeCipherSpec record");
    }
    return true;
  }
  if (read_.on) {
    if (type != kApplicationData) {
      return Fail(absl::StrCat("plaintext record of type ", type, " after the ServerHello"));
    }
  } else {
    switch (type) {
      case kHandshake:
        if (len == 0) return Fail("empty handshake record");
        return ProcessHandshakeBytes(body, len);
      case kAlert:
        return ProcessAlert(body, len);
      default:
        return Fail(absl::StrCat("record of type ", type, " before the ServerHello"));
    }
  }
  if (len < 1 + kTagLen) return Fail(absl::StrCat("encrypted record of ", len, " bytes"));
  uint8_t nonce[kIvLen];
  MakeNonce(read_.iv, read_.seq, nonce);
  size_t plain_len = 0;
  if (!EVP_AEAD_CTX_open(read_.aead.get(), body, &plain_len, len, nonce, kIvLen, body, len, header,
                         kHeaderLen)) {
    return Fail(absl::StrCat("record ", read_.seq, " does not decrypt (bad_record_mac)"));
  }
  ++read_.seq;
  // TLSInnerPlaintext: content, the real type, then zero padding.
  size_t n = plain_len;
  while (n > 0 && body[n - 1] == 0) --n;
  if (n == 0) return Fail("encrypted record without a content type");
  const uint8_t inner = body[n - 1];
  --n;
  if (n > kMaxPlaintext) return Fail(absl::StrCat("record plaintext of ", n, " bytes"));
  switch (inner) {
    case kHandshake:
      if (n == 0) return Fail("empty handshake record");
      return ProcessHandshakeBytes(body, n);
    case kAlert:
      return ProcessAlert(body, n);
    case kApplicationData:
      if (state_ != RawState::kConnected) return Fail("application data before the Finished");
      app_bytes_ += static_cast<int64_t>(n);
      return true;
  }
  return Fail(absl::StrCat("encrypted record of content type ", inner));
}

bool RawTls13Client::ProcessAlert(const uint8_t* data, size_t len) {
  if (len != 2) return Fail(absl::StrCat("alert record of ", len, " bytes"));
  const uint8_t description = data[1];
  if (description == 0 && state_ == RawState::kConnected) {
    state_ = RawState::kPeerClosed;
    return false;  // nothing after close_notify is read
  }
  return Fail(absl::StrFormat("server sent alert %s (%u)", AlertName(description), description));
}

bool RawTls13Client::ProcessHandshakeBytes(const uint8_t* data, size_t len) {
  hs_.insert(hs_.end(), data, data + len);
  size_t pos = 0;
  while (hs_.size() - pos >= 4) {
    const uint8_t* msg = hs_.data() + pos;
    const size_t body_len =
        (static_cast<size_t>(msg[1]) << 16) | (static_cast<size_t>(msg[2]) << 8) | msg[3];
    if (body_len > kMaxHandshakeMessage) {
      return Fail(absl::StrCat("handshake message of type ", msg[0], " and ", body_len, " bytes"));
    }
    if (hs_.size() - pos < 4 + body_len) break;
    pos += 4 + body_len;
    const RawState before = state_;
    if (!HandleMessage(msg[0], msg, 4 + body_len)) return false;
    // The ServerHello and the server Finished change the read keys: no handshake message may
    // continue in the same record after them (§5.1).
    const bool key_change =
        before == RawState::kWaitServerHello || before == RawState::kWaitFinished;
    if (key_change && pos != hs_.size()) {
      return Fail("handshake data after a key change in the same record");
    }
  }
  hs_.erase(hs_.begin(), hs_.begin() + pos);
  return true;
}

bool RawTls13Client::HandleMessage(uint8_t type, const uint8_t* msg, size_t len) {
  const uint8_t* body = msg + 4;
  const size_t body_len = len - 4;
  auto expect = [&](uint8_t want, const char* name) {
    if (type == want) return true;
    return Fail(absl::StrCat("expected ", name, ", got handshake message type ", type));
  };
  switch (state_) {
    case RawState::kWaitServerHello:
      if (!expect(kServerHello, "ServerHello")) return false;
      SHA256_Update(&transcript_, msg, len);
      return DoServerHello(body, body_len);
    case RawState::kWaitEncryptedExtensions:
      if (!expect(kEncryptedExtensions, "EncryptedExtensions")) return false;
      SHA256_Update(&transcript_, msg, len);
      return DoEncryptedExtensions(body, body_len);
    case RawState::kWaitCertificate:
      if (type == kCertificateRequest) return Fail("CertificateRequest: no client certificate");
      if (!expect(kCertificate, "Certificate")) return false;
      SHA256_Update(&transcript_, msg, len);
      return DoCertificate(body, body_len);
    case RawState::kWaitCertificateVerify:
      if (!expect(kCertificateVerify, "CertificateVerify")) return false;
      SHA256_Update(&transcript_, msg, len);
      return DoCertificateVerify(body, body_len);
    case RawState::kWaitFinished:
      if (!expect(kFinished, "Finished")) return false;
      return DoFinished(msg, len);  // hashes the transcript before adding the message
    case RawState::kConnected:
      return DoPostHandshake(type);
    case RawState::kStart:
    case RawState::kPeerClosed:
    case RawState::kFailed:
      return Fail("handshake message in a state that reads none");
  }
  return false;
}

bool RawTls13Client::DoServerHello(const uint8_t* body, size_t len) {
  CBS cbs, random, session_id, extensions;
  uint16_t version = 0, suite = 0;
  uint8_t compression = 0;
  CBS_init(&cbs, body, len);
  if (!CBS_get_u16(&cbs, &version) || !CBS_get_bytes(&cbs, &random, 32) ||
      !CBS_get_u8_length_prefixed(&cbs, &session_id) || !CBS_get_u16(&cbs, &suite) ||
      !CBS_get_u8(&cbs, &compression) || !CBS_get_u16_length_prefixed(&cbs, &extensions) ||
      CBS_len(&cbs) != 0) {
    return Fail("malformed ServerHello");
  }
  if (CBS_mem_equal(&random, kHelloRetryRandom, sizeof(kHelloRetryRandom))) {
    return Fail("HelloRetryRequest (not supported: X25519 is the only group offered)");
  }
  if (version != kLegacyVersion) {
    return Fail(absl::StrFormat("ServerHello legacy_version 0x%04x", version));
  }
  if (!CBS_mem_equal(&session_id, session_id_, sizeof(session_id_))) {
    return Fail("ServerHello does not echo the legacy_session_id");
  }
  if (suite != kAes128GcmSha256) {
    return Fail(absl::StrFormat("cipher suite 0x%04x (only 0x1301 offered)", suite));
  }
  if (compression != 0) return Fail("ServerHello compression method not null");
  bool have_version = false;
  bool have_share = false;
  int unoffered = -1;
  CBS share;
  CBS_init(&share, nullptr, 0);
  while (CBS_len(&extensions) > 0) {
    uint16_t ext_type = 0;
    CBS ext;
    if (!CBS_get_u16(&extensions, &ext_type) || !CBS_get_u16_length_prefixed(&extensions, &ext)) {
      return Fail("malformed ServerHello extensions");
    }
    if (ext_type == kExtSupportedVersions) {
      uint16_t selected = 0;
      if (have_version || !CBS_get_u16(&ext, &selected) || CBS_len(&ext) != 0) {
        return Fail("malformed supported_versions");
      }
      if (selected != kTls13) {
        return Fail(absl::StrFormat("server selected version 0x%04x", selected));
      }
      have_version = true;
    } else if (ext_type == kExtKeyShare) {
      uint16_t group = 0;
      if (have_share || !CBS_get_u16(&ext, &group) || !CBS_get_u16_length_prefixed(&ext, &share) ||
          CBS_len(&ext) != 0) {
        return Fail("malformed key_share");
      }
      if (group != kX25519) return Fail(absl::StrFormat("server chose group 0x%04x", group));
      if (CBS_len(&share) != X25519_PUBLIC_VALUE_LEN) {
        return Fail(absl::StrCat("X25519 share of ", CBS_len(&share), " bytes"));
      }
      have_share = true;
    } else if (unoffered < 0) {
      unoffered = ext_type;
    }
  }
  if (!have_version) return Fail("ServerHello without supported_versions (not TLS 1.3)");
  if (unoffered >= 0)
    return Fail(absl::StrCat("ServerHello extension ", unoffered, " not offered"));
  if (!have_share) return Fail("ServerHello without key_share");

  uint8_t shared[X25519_SHARED_KEY_LEN];
  if (!X25519(shared, config_->x25519_private, CBS_data(&share))) {
    return Fail("X25519 with the server's share gives zero (low-order point)");
  }
  uint8_t hash[kHashLen];
  SHA256_CTX copy = transcript_;
  SHA256_Final(hash, &copy);  // ClientHello..ServerHello
  size_t secret_len = 0;
  bool ok = HKDF_extract(handshake_secret_, &secret_len, EVP_sha256(), shared, sizeof(shared),
                         config_->derived_early, kHashLen) == 1 &&
      secret_len == kHashLen &&
      DeriveSecret(handshake_secret_, "c hs traffic", hash, client_hs_secret_) &&
      DeriveSecret(handshake_secret_, "s hs traffic", hash, server_hs_secret_);
  OPENSSL_cleanse(shared, sizeof(shared));
  if (!ok) return Fail("handshake key schedule failed");
  if (!InstallKeys(&read_, server_hs_secret_) || !InstallKeys(&write_, client_hs_secret_)) {
    return false;
  }
  state_ = RawState::kWaitEncryptedExtensions;
  return true;
}

bool RawTls13Client::DoEncryptedExtensions(const uint8_t* body, size_t len) {
  // Structure only: the client asked for nothing the server could answer here.
  CBS cbs, extensions;
  CBS_init(&cbs, body, len);
  if (!CBS_get_u16_length_prefixed(&cbs, &extensions) || CBS_len(&cbs) != 0) {
    return Fail("malformed EncryptedExtensions");
  }
  while (CBS_len(&extensions) > 0) {
    uint16_t ext_type = 0;
    CBS ext;
    if (!CBS_get_u16(&extensions, &ext_type) || !CBS_get_u16_length_prefixed(&extensions, &ext)) {
      return Fail("malformed EncryptedExtensions");
    }
  }
  state_ = RawState::kWaitCertificate;
  return true;
}

bool RawTls13Client::DoCertificate(const uint8_t* body, size_t len) {
  // Structure only: the certificates are neither parsed nor checked (see the header).
  CBS cbs, context, list;
  CBS_init(&cbs, body, len);
  if (!CBS_get_u8_length_prefixed(&cbs, &context) || !CBS_get_u24_length_prefixed(&cbs, &list) ||
      CBS_len(&cbs) != 0 || CBS_len(&context) != 0) {
    return Fail("malformed Certificate");
  }
  int entries = 0;
  while (CBS_len(&list) > 0) {
    CBS cert, extensions;
    if (!CBS_get_u24_length_prefixed(&list, &cert) || CBS_len(&cert) == 0 ||
        !CBS_get_u16_length_prefixed(&list, &extensions)) {
      return Fail("malformed CertificateEntry");
    }
    ++entries;
  }
  if (entries == 0) return Fail("empty Certificate");
  state_ = RawState::kWaitCertificateVerify;
  return true;
}

bool RawTls13Client::DoCertificateVerify(const uint8_t* body, size_t len) {
  // The signature is NOT verified (see the header); only the scheme is checked, so that a
  // server signing with a scheme the client did not offer is still an error.
  CBS cbs, signature;
  uint16_t scheme = 0;
  CBS_init(&cbs, body, len);
  if (!CBS_get_u16(&cbs, &scheme) || !CBS_get_u16_length_prefixed(&cbs, &signature) ||
      CBS_len(&cbs) != 0 || CBS_len(&signature) == 0) {
    return Fail("malformed CertificateVerify");
  }
  const uint16_t* begin =
      config_->rsa ? std::begin(kSchemesRsaPssOnly) : std::begin(kSchemesEcdsaFirst);
  const uint16_t* end = config_->rsa ? std::end(kSchemesRsaPssOnly) : std::end(kSchemesEcdsaFirst);
  if (std::find(begin, end, scheme) == end) {
    return Fail(absl::StrFormat("CertificateVerify with scheme 0x%04x, not offered", scheme));
  }
  state_ = RawState::kWaitFinished;
  return true;
}

bool RawTls13Client::DoFinished(const uint8_t* msg, size_t len) {
  if (len != 4 + kHashLen) return Fail(absl::StrCat("Finished of ", len - 4, " bytes"));
  uint8_t hash[kHashLen];
  SHA256_CTX copy = transcript_;
  SHA256_Final(hash, &copy);  // ClientHello..CertificateVerify
  uint8_t finished_key[kHashLen];
  uint8_t expected[EVP_MAX_MD_SIZE];
  unsigned expected_len = 0;
  if (!HkdfExpandLabel(server_hs_secret_, kHashLen, "finished", nullptr, 0, finished_key,
                       kHashLen) ||
      HMAC(EVP_sha256(), finished_key, kHashLen, hash, kHashLen, expected, &expected_len) ==
          nullptr ||
      expected_len != kHashLen) {
    return Fail("Finished key derivation failed");
  }
  if (CRYPTO_memcmp(expected, msg + 4, kHashLen) != 0) {
    return Fail("server Finished does not match the transcript (decrypt_error)");
  }
  SHA256_Update(&transcript_, msg, len);
  copy = transcript_;
  SHA256_Final(hash, &copy);  // ClientHello..server Finished

  // The client Finished, under the client handshake keys. (It would also enter the transcript
  // for the resumption secret, which this client never uses.)
  uint8_t finished[4 + kHashLen] = {kFinished, 0, 0, kHashLen};
  unsigned mac_len = 0;
  if (!HkdfExpandLabel(client_hs_secret_, kHashLen, "finished", nullptr, 0, finished_key,
                       kHashLen) ||
      HMAC(EVP_sha256(), finished_key, kHashLen, hash, kHashLen, finished + 4, &mac_len) ==
          nullptr ||
      mac_len != kHashLen) {
    return Fail("client Finished failed");
  }
  if (!SealRecord(kHandshake, finished, sizeof(finished))) return false;

  // Master Secret = HKDF-Extract(Derive-Secret(Handshake Secret, "derived", ""), 0).
  const uint8_t zeros[kHashLen] = {};
  uint8_t derived[kHashLen], master[EVP_MAX_MD_SIZE], client_ap[kHashLen], server_ap[kHashLen];
  size_t master_len = 0;
  bool ok = DeriveSecret(handshake_secret_, "derived", EmptyHash(), derived) &&
      HKDF_extract(master, &master_len, EVP_sha256(), zeros, kHashLen, derived, kHashLen) == 1 &&
      master_len == kHashLen && DeriveSecret(master, "c ap traffic", hash, client_ap) &&
      DeriveSecret(master, "s ap traffic", hash, server_ap);
  if (!ok) return Fail("application key schedule failed");
  if (!InstallKeys(&read_, server_ap) || !InstallKeys(&write_, client_ap)) return false;
  state_ = RawState::kConnected;
  return true;
}

bool RawTls13Client::DoPostHandshake(uint8_t type) {
  switch (type) {
    case kNewSessionTicket:
      return true;  // never used: every connection is a full handshake
    case kKeyUpdate:
      return Fail("KeyUpdate (not supported)");
  }
  return Fail(absl::StrCat("post-handshake message of type ", type));
}

bool RawTls13Client::WriteApplicationData(const uint8_t* data, size_t len) {
  if (state_ != RawState::kConnected || sent_close_) return false;
  while (len > 0) {
    const size_t chunk = std::min(len, kMaxPlaintext);
    if (!SealRecord(kApplicationData, data, chunk)) return false;
    data += chunk;
    len -= chunk;
  }
  return true;
}

bool RawTls13Client::SendCloseNotify() {
  if ((state_ != RawState::kConnected && state_ != RawState::kPeerClosed) || sent_close_) {
    return false;
  }
  const uint8_t close_notify[2] = {1, 0};  // warning, close_notify
  sent_close_ = SealRecord(kAlert, close_notify, sizeof(close_notify));
  return sent_close_;
}

}  // namespace tollgate::tls_bench
