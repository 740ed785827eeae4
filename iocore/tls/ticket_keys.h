// TicketKeyRing: the keys that encrypt and decrypt TLS session tickets (TLS 1.2 and 1.3).
//
// The ATS file format of proxy.config.ssl.server.ticket_key.filename: 48 bytes per key, each a
// 16-byte key name, a 16-byte HMAC-SHA256 secret and a 16-byte AES-128 key. The first key
// encrypts new tickets; every key decrypts, so a new file that keeps the old keys after a new
// first one rotates without breaking resumption. Without a file, the ring is random.
//
//   absl::StatusOr<std::shared_ptr<const TicketKeyRing>> ring = TicketKeyRing::LoadFile(path);
//   InstallTicketKeyCallback(session_ctx);  // once per context that issues tickets
//   AttachTicketKeys(ssl, ring->get());     // per connection; the ring must outlive |ssl|

#ifndef TOLLGATE_IOCORE_TLS_TICKET_KEYS_H_
#define TOLLGATE_IOCORE_TLS_TICKET_KEYS_H_

#include <openssl/ssl.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tollgate {

class TicketKeyRing {
 public:
  static constexpr size_t kKeyBytes = 48;

  struct Key {
    std::array<uint8_t, 16> name;
    std::array<uint8_t, 16> hmac_secret;
    std::array<uint8_t, 16> aes_key;
  };

  // FromBytes parses one or more 48-byte keys. InvalidArgument (naming |source|) when the
  // length is zero or not a multiple of 48.
  static absl::StatusOr<std::shared_ptr<const TicketKeyRing>> FromBytes(absl::string_view bytes,
                                                                        absl::string_view source);
  // LoadFile reads |path| and parses it as FromBytes does; errors name the path.
  static absl::StatusOr<std::shared_ptr<const TicketKeyRing>> LoadFile(const std::string& path);
  // Random returns a ring of one fresh random key.
  static std::shared_ptr<const TicketKeyRing> Random();

  // encrypt_key returns the key new tickets are sealed with.
  const Key& encrypt_key() const { return keys_.front(); }
  // Find returns the key named |name| (16 bytes), or null.
  const Key* Find(const uint8_t* name) const;
  size_t size() const { return keys_.size(); }

 private:
  explicit TicketKeyRing(std::vector<Key> keys) : keys_(std::move(keys)) {}
  std::vector<Key> keys_;
};

// InstallTicketKeyCallback makes |ctx| (the session context of server connections) seal and
// open tickets with the ring attached to each connection. A connection without a ring issues no
// ticket and resumes none.
void InstallTicketKeyCallback(SSL_CTX* ctx);

// AttachTicketKeys gives |ssl| the ring its tickets use. |ring| must outlive |ssl|.
void AttachTicketKeys(SSL* ssl, const TicketKeyRing* ring);

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_TLS_TICKET_KEYS_H_
