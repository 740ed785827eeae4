#include "iocore/tls/ticket_keys.h"

#include <openssl/cipher.h>
#include <openssl/digest.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tollgate {
namespace {

int SslExIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// OpenSSL-style ticket callback: AES-128-CBC with HMAC-SHA256, keyed by the 16-byte name.
int TicketKeyCallback(SSL* ssl, uint8_t* key_name, uint8_t* iv, EVP_CIPHER_CTX* cipher,
                      HMAC_CTX* hmac, int encrypt) {
  const auto* ring = static_cast<const TicketKeyRing*>(SSL_get_ex_data(ssl, SslExIndex()));
  if (ring == nullptr) return encrypt ? -1 : 0;
  if (encrypt) {
    const TicketKeyRing::Key& key = ring->encrypt_key();
    memcpy(key_name, key.name.data(), key.name.size());
    if (!RAND_bytes(iv, EVP_CIPHER_iv_length(EVP_aes_128_cbc())) ||
        !EVP_EncryptInit_ex(cipher, EVP_aes_128_cbc(), nullptr, key.aes_key.data(), iv) ||
        !HMAC_Init_ex(hmac, key.hmac_secret.data(), key.hmac_secret.size(), EVP_sha256(),
                      nullptr)) {
      return -1;
    }
    return 1;
  }
  const TicketKeyRing::Key* key = ring->Find(key_name);
  if (key == nullptr) return 0;  // unknown or retired key: full handshake
  if (!HMAC_Init_ex(hmac, key->hmac_secret.data(), key->hmac_secret.size(), EVP_sha256(),
                    nullptr) ||
      !EVP_DecryptInit_ex(cipher, EVP_aes_128_cbc(), nullptr, key->aes_key.data(), iv)) {
    return -1;
  }
  // Tickets sealed with an older key are renewed with the current one.
  return key == &ring->encrypt_key() ? 1 : 2;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const TicketKeyRing>> TicketKeyRing::FromBytes(
    absl::string_view bytes, absl::string_view source) {
  if (bytes.empty() || bytes.size() % kKeyBytes != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": ticket key data is ", bytes.size(), " bytes; expected a multiple of 48 (",
        "16-byte name, 16-byte HMAC secret, 16-byte AES key per key)"));
  }
  std::vector<Key> keys(bytes.size() / kKeyBytes);
  for (size_t i = 0; i < keys.size(); ++i) {
    const char* p = bytes.data() + i * kKeyBytes;
    memcpy(keys[i].name.data(), p, 16);
    memcpy(keys[i].hmac_secret.data(), p + 16, 16);
    memcpy(keys[i].aes_key.data(), p + 32, 16);
  }
  return std::shared_ptr<const TicketKeyRing>(new TicketKeyRing(std::move(keys)));
}

absl::StatusOr<std::shared_ptr<const TicketKeyRing>> TicketKeyRing::LoadFile(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("ticket key file '", path, "': ", strerror(errno)));
  }
  std::ostringstream data;
  data << in.rdbuf();
  return FromBytes(data.str(), absl::StrCat("ticket key file '", path, "'"));
}

std::shared_ptr<const TicketKeyRing> TicketKeyRing::Random() {
  std::vector<Key> keys(1);
  RAND_bytes(keys[0].name.data(), keys[0].name.size());
  RAND_bytes(keys[0].hmac_secret.data(), keys[0].hmac_secret.size());
  RAND_bytes(keys[0].aes_key.data(), keys[0].aes_key.size());
  return std::shared_ptr<const TicketKeyRing>(new TicketKeyRing(std::move(keys)));
}

const TicketKeyRing::Key* TicketKeyRing::Find(const uint8_t* name) const {
  for (const Key& key : keys_) {
    if (memcmp(key.name.data(), name, key.name.size()) == 0) return &key;
  }
  return nullptr;
}

void InstallTicketKeyCallback(SSL_CTX* ctx) {
  SSL_CTX_set_tlsext_ticket_key_cb(ctx, &TicketKeyCallback);
}

void AttachTicketKeys(SSL* ssl, const TicketKeyRing* ring) {
  SSL_set_ex_data(ssl, SslExIndex(), const_cast<TicketKeyRing*>(ring));
}

}  // namespace tollgate
