#include "plugin_api/client_hello.h"

namespace tollgate {
namespace {

// Reader consumes |bytes| front to back; every read fails instead of running past the end.
class Reader {
 public:
  explicit Reader(absl::string_view bytes) : bytes_(bytes) {}

  size_t offset() const { return offset_; }
  size_t remaining() const { return bytes_.size() - offset_; }

  bool ReadU8(uint8_t* out) {
    if (remaining() < 1) return false;
    *out = static_cast<uint8_t>(bytes_[offset_]);
    offset_ += 1;
    return true;
  }
  bool ReadU16(uint16_t* out) {
    if (remaining() < 2) return false;
    *out = static_cast<uint16_t>((static_cast<uint8_t>(bytes_[offset_]) << 8) |
                                 static_cast<uint8_t>(bytes_[offset_ + 1]));
    offset_ += 2;
    return true;
  }
  bool Skip(size_t n, ClientHelloLayout::Span* span = nullptr) {
    if (remaining() < n) return false;
    if (span != nullptr) *span = {offset_, n};
    offset_ += n;
    return true;
  }
  // ReadPrefixed8 / ReadPrefixed16 read a length prefix, then that many bytes.
  bool ReadPrefixed8(ClientHelloLayout::Span* span) {
    uint8_t n;
    return ReadU8(&n) && Skip(n, span);
  }
  bool ReadPrefixed16(ClientHelloLayout::Span* span) {
    uint16_t n;
    return ReadU16(&n) && Skip(n, span);
  }

 private:
  absl::string_view bytes_;
  size_t offset_ = 0;
};

constexpr size_t kRandomLength = 32;

}  // namespace

std::optional<ClientHelloLayout> ParseClientHello(absl::string_view body) {
  ClientHelloLayout layout;
  Reader r(body);
  ClientHelloLayout::Span session_id, compression;
  if (!r.ReadU16(&layout.legacy_version) || !r.Skip(kRandomLength) ||
      !r.ReadPrefixed8(&session_id) || !r.ReadPrefixed16(&layout.cipher_suites) ||
      !r.ReadPrefixed8(&compression)) {
    return std::nullopt;
  }
  if (layout.cipher_suites.length % 2 != 0) return std::nullopt;
  if (r.remaining() == 0) return layout;  // no extension block
  ClientHelloLayout::Span block;
  if (!r.ReadPrefixed16(&block) || r.remaining() != 0) return std::nullopt;
  Reader ext(body.substr(block.offset, block.length));
  while (ext.remaining() > 0) {
    ClientHelloLayout::Extension e;
    if (!ext.ReadU16(&e.type) || !ext.ReadPrefixed16(&e.data)) return std::nullopt;
    e.data.offset += block.offset;  // relative to |body|, not to the block
    layout.extensions.push_back(e);
  }
  return layout;
}

}  // namespace tollgate
