// libFuzzer target for CertTable::Parse (//iocore/tls:cert_table) on arbitrary
// ssl_multicert.config text. Certificates resolve against a directory that does not exist, and
// every '/' of the input is turned into '_' so no value is an absolute path: a line naming a
// file fails cleanly with "cannot read", and what is fuzzed is the tokenizer, the quoting, the
// keys and dest_ip. Tables that parse (action=tunnel entries only) are looked up with a few
// fixed names and addresses. How to build and run: README.md.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "iocore/net/ip_endpoint.h"
#include "iocore/tls/cert_table.h"

namespace {

constexpr absl::string_view kNames[] = {"", "a.test", "x.a.test", "A.TEST."};
constexpr absl::string_view kLocals[] = {"10.0.0.7:443", "[2001:db8::1]:443",
                                         "[::ffff:10.0.0.7]:8443"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string content(reinterpret_cast<const char*>(data), size);
  std::replace(content.begin(), content.end(), '/', '_');
  tollgate::CertTableOptions options;
  options.cert_dir = "/nonexistent/tollgate-fuzz-certs";
  absl::StatusOr<std::shared_ptr<const tollgate::CertTable>> table =
      tollgate::CertTable::Parse(content, "ssl_multicert.config", options);
  if (!table.ok()) return 0;
  for (absl::string_view name : kNames) {
    (void)(*table)->Lookup(name, tollgate::IpEndpoint());
    for (absl::string_view text : kLocals) {
      absl::StatusOr<tollgate::IpEndpoint> local = tollgate::IpEndpoint::Parse(text);
      if (local.ok()) (void)(*table)->Lookup(name, *local);
    }
  }
  return 0;
}
