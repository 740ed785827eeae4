// libFuzzer target for RemapConfig::Parse (//proxy/config:config) on arbitrary remap.config
// text. For inputs that parse it runs Match on a few fixed requests, and checks one invariant
// per rule: a request for exactly the rule's FROM (scheme, authority, path) matches that rule,
// since no other rule has the same FROM and none has a longer path that is a prefix of it. A
// broken invariant traps. How to build and run: README.md.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "proxy/config/remap.h"

namespace {

struct Request {
  absl::string_view scheme;
  absl::string_view host;
  absl::string_view path;
};

constexpr Request kRequests[] = {
    {"http", "www.example.com", "/"},
    {"https", "www.example.com", "/img/a.png?v=1"},
    {"https", "WWW.EXAMPLE.COM:443", "/imgx"},
    {"https", "[::1]:8443", "/"},
    {"http", "a.test:80", ""},
    {"http", "a.test:", "/"},
    {"http", "a.test:99999", "/"},
    {"http", "", "/"},
};

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view content(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> warnings;
  absl::StatusOr<std::shared_ptr<const tollgate::RemapConfig>> remap =
      tollgate::RemapConfig::Parse(content, "remap.config", &warnings);
  if (!remap.ok()) return 0;
  for (const Request& request : kRequests) {
    std::optional<tollgate::RemapMatch> match =
        (*remap)->Match(request.scheme, request.host, request.path);
    if (match.has_value()) (void)match->Url();
  }
  for (const tollgate::RemapRule& rule : (*remap)->rules()) {
    (void)rule.Describe();
    // Authority() leaves out the default port; Match then applies it again.
    std::string path = absl::StrCat(rule.from.path, "?q");
    std::optional<tollgate::RemapMatch> match =
        (*remap)->Match(rule.from.scheme, rule.from.Authority(), path);
    Check(match.has_value() && match->rule == &rule);
    Check(match->path == absl::StrCat(rule.to.path, "?q"));
  }
  return 0;
}
