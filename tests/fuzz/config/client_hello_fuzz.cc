// libFuzzer target for ParseClientHello (//plugin_api:client_hello) on arbitrary bytes. Beyond
// "no crash, no sanitizer report" it traps when a parsed layout breaks the header's contract:
// every span inside the input, an even-length cipher-suite list, and extensions in order and
// not overlapping. How to build and run: README.md.

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "plugin_api/client_hello.h"

namespace tollgate {
namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

bool Inside(ClientHelloLayout::Span span, size_t size) {
  return span.offset <= size && span.length <= size - span.offset;
}

}  // namespace
}  // namespace tollgate

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tollgate::Check;
  absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::optional<tollgate::ClientHelloLayout> layout = tollgate::ParseClientHello(bytes);
  if (!layout.has_value()) return 0;
  Check(tollgate::Inside(layout->cipher_suites, size));
  Check(layout->cipher_suites.length % 2 == 0);
  Check(tollgate::ClientHelloLayout::Slice(bytes, layout->cipher_suites).size() ==
        layout->cipher_suites.length);
  size_t previous_end = layout->cipher_suites.offset + layout->cipher_suites.length;
  for (const tollgate::ClientHelloLayout::Extension& extension : layout->extensions) {
    Check(tollgate::Inside(extension.data, size));
    // Each extension's body follows its 4-byte header, after the previous extension.
    Check(extension.data.offset >= previous_end + 4);
    previous_end = extension.data.offset + extension.data.length;
  }
  // The extension block, when present, ends exactly at the end of the message.
  if (!layout->extensions.empty()) Check(previous_end == size);
  return 0;
}
