// libFuzzer target for SniConfig::Parse (//iocore/tls:sni_config) on arbitrary sni.yaml text.
// For inputs that parse it also runs Match on a few fixed names, resolves the routes of what
// matched, checks the fixed client addresses against ip_allow and describes every policy, so
// the capture and substitution code is fuzzed with the patterns the parser accepted. A match's
// captures must number the pattern's `*`s; anything else traps. How to build and run: README.md.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "iocore/net/ip_endpoint.h"
#include "iocore/tls/sni_config.h"

namespace {

constexpr absl::string_view kNames[] = {
    "",
    "a",
    "bar.com",
    "a.match.com",
    "a.ok.b.ok.c.com",
    "A.B.C.D.E.F.G.H.I.J.K",
    "xn--bcher-kva.example",
    "-._-*",
};

constexpr absl::string_view kClients[] = {
    "10.1.2.3:1",
    "[::1]:1",
    "[::ffff:192.168.1.5]:1",
};

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view yaml(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> warnings;
  absl::StatusOr<std::shared_ptr<const tollgate::SniConfig>> config =
      tollgate::SniConfig::Parse(yaml, "sni.yaml", &warnings);
  if (!config.ok()) return 0;
  std::vector<tollgate::IpEndpoint> clients;
  for (absl::string_view text : kClients) {
    absl::StatusOr<tollgate::IpEndpoint> client = tollgate::IpEndpoint::Parse(text);
    if (client.ok()) clients.push_back(*client);
  }
  for (absl::string_view name : kNames) {
    std::optional<tollgate::SniMatch> match = (*config)->Match(name);
    if (!match.has_value()) continue;
    Check(match->policy != nullptr);
    Check(static_cast<int>(match->captures.size()) == match->policy->capture_count);
    (void)match->TunnelDestination();
    (void)match->ForwardDestination();
    (void)match->policy->Describe();
    for (const tollgate::IpEndpoint& client : clients) {
      (void)tollgate::IpAllowed(match->policy->ip_allow, client);
    }
  }
  return 0;
}
