// libFuzzer target for ParseServerPorts (//proxy/config:config) on arbitrary
// proxy.config.http.server_ports values. Every listener of a value that parses must have a port
// (1..65535) and print; no two may be equal (ports.h makes a repeated address and port an
// error). A broken invariant traps. How to build and run: README.md.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proxy/config/ports.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<tollgate::ServerPort>> ports = tollgate::ParseServerPorts(text);
  if (!ports.ok()) return 0;
  for (size_t i = 0; i < ports->size(); ++i) {
    Check(!(*ports)[i].ToString().empty());
    for (size_t j = 0; j < i; ++j) Check(!((*ports)[i] == (*ports)[j]));
  }
  return 0;
}
