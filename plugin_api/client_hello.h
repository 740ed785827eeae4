// ParseClientHello: a bounds-checked parser of a TLS ClientHello message body (what follows the
// 4-byte handshake header: legacy_version, random, legacy_session_id, cipher_suites,
// legacy_compression_methods, extensions), as BoringSSL hands it to the select-certificate
// callback in SSL_CLIENT_HELLO::client_hello. The bytes come from the peer: every length is
// checked against what is left, and anything that does not add up is rejected.
//
//   std::optional<ClientHelloLayout> layout = ParseClientHello(bytes);
//   if (!layout.has_value()) return nullptr;  // malformed
//   absl::string_view suites = layout->Slice(bytes, layout->cipher_suites);
//
// The result holds offsets, not pointers, so it stays valid for any copy of the same bytes
// (TSClientHello keeps one copy and one layout).

#ifndef TOLLGATE_PLUGIN_API_CLIENT_HELLO_H_
#define TOLLGATE_PLUGIN_API_CLIENT_HELLO_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/strings/string_view.h"

namespace tollgate {

struct ClientHelloLayout {
  // A range of the parsed bytes.
  struct Span {
    size_t offset = 0;
    size_t length = 0;
  };
  struct Extension {
    uint16_t type = 0;
    Span data;
  };

  uint16_t legacy_version = 0;
  Span cipher_suites;  // the 2-byte big-endian list, without its length prefix
  std::vector<Extension> extensions;  // in the order the client sent them

  // Slice returns |span| of |bytes|, the buffer that was parsed (or an identical copy).
  static absl::string_view Slice(absl::string_view bytes, Span span) {
    return bytes.substr(span.offset, span.length);
  }
};

// ParseClientHello returns the layout of |body|, or nullopt if it is malformed: truncated, a
// length running past the end, an odd-length cipher-suite list, an extension block that does not
// end exactly at the end of the message, or bytes after it. A ClientHello without an extension
// block (allowed before TLS 1.3) parses with no extensions.
std::optional<ClientHelloLayout> ParseClientHello(absl::string_view body);

}  // namespace tollgate

#endif  // TOLLGATE_PLUGIN_API_CLIENT_HELLO_H_
