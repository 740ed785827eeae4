// RemapConfig: the `map` rules of remap.config, and the lookup that picks the origin for a
// request from its scheme, Host and path, as ATS does.
//
// A config is built once on the control thread (at start-up or on a reload) and is then
// immutable: any thread may call its const methods at the same time. It is handed out as a
// std::shared_ptr<const RemapConfig> so that a reload can install a new one while requests in
// flight keep the one they matched against.
//
//   std::vector<std::string> warnings;
//   absl::StatusOr<std::shared_ptr<const RemapConfig>> remap =
//       RemapConfig::LoadFile("/etc/tollgate/remap.config", &warnings);
//   if (!remap.ok()) { /* log remap.status(), keep the old config */ }
//
//   // Per request: "https" on a TLS listener, the Host header (or the authority of an
//   // absolute-form target), and the request target's path with its query.
//   std::optional<RemapMatch> match = (*remap)->Match("https", "www.example.com", "/img/a.png?x");
//   if (!match) { /* 404 */ }
//   // match->origin_host, ->origin_port, ->origin_scheme: where to connect;
//   // match->path: what to put in the forwarded request line ("/static/a.png?x").
//
// The file format is ATS's remap.config, of which Tollgate supports `map`:
//
//   # comment
//   map http://www.example.com/      http://origin.internal:8080/
//   map https://www.example.com/img/ https://cdn.internal/static/
//   map https://[::1]:8443/          http://127.0.0.1:9000/  @plugin=header_rewrite.so @pparam=x
//
// One rule per line; a line ending in '\' continues on the next (errors name the first line).
// Words are separated by blanks. FROM and TO are absolute URLs, `SCHEME://HOST[:PORT][/PATH]`:
//   - SCHEME is http or https (any case).
//   - HOST is a name (letters, digits, '-', '_', '.'), an IPv4 address, or an IPv6 address in
//     brackets; it is compared case-insensitively.
//   - PORT is 1..65535; without it the scheme's default port (80 for http, 443 for https).
//   - PATH starts with '/'; no PATH is "/". A query ('?') or fragment ('#') is an error.
// After TO, `@plugin=` and `@pparam=` options are accepted but ignored with a warning (remap
// plugins are not supported). Any other `@` option, notably the ACL filters (@action=, @method=,
// @src_ip=, @in_ip=, @internal), is an error: ignoring an ACL would open access.
//
// Every other rule kind (reverse_map, redirect, redirect_temporary, map_with_referer,
// map_with_recv_port, regex_map, regex_redirect, ...) and every directive (.include,
// .definefilter, .activatefilter, ...) is an ERROR, "unsupported rule kind 'reverse_map'", not
// a warning: a rule skipped in silence would send traffic somewhere the operator did not mean.
// Two rules with the same FROM (after defaults are applied and the host is lowercased) are an
// error naming both lines. An empty file is a valid config with no rules.
//
// Matching, as ATS does it:
//   1. The scheme is the request's: "https" on a TLS listener, "http" otherwise.
//   2. Host and port come from the Host header (or the authority of an absolute-form request
//      target). A Host without a port means the SCHEME'S DEFAULT PORT, not the port the request
//      came in on: `map https://a.test/` serves `Host: a.test` on any TLS listener (8443
//      included), while `Host: a.test:8443` needs `map https://a.test:8443/`.
//   3. Among the rules with that scheme, host and port, the one with the longest FROM path that
//      is a prefix of the request path wins. The prefix is a plain string prefix, as in ATS:
//      `/img` matches `/img/a` and also `/imgx`; write `/img/` to mean the directory.
//   4. The new path is TO's path followed by the rest of the request path after FROM's path,
//      then the request's query: `map http://a/img/ http://b/static/` sends `/img/x.png?v=1`
//      to `/static/x.png?v=1`.
//
// Errors are InvalidArgument and name the file and the 1-based line, e.g.
//   "remap.config:3: unsupported rule kind 'regex_map' (only 'map' is supported)"
//   "remap.config:5: 'http//a.test/': expected SCHEME://HOST[:PORT][/PATH]"
// The file is taken whole or not at all.

#ifndef TOLLGATE_PROXY_CONFIG_REMAP_H_
#define TOLLGATE_PROXY_CONFIG_REMAP_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tollgate {

// RemapUrl is a parsed FROM or TO URL.
struct RemapUrl {
  // "http" or "https", lowercase.
  std::string scheme;
  // Lowercased; an IPv6 address without its brackets.
  std::string host;
  // The explicit port, or the scheme's default.
  uint16_t port = 0;
  // Starts with '/'.
  std::string path;

  // Parse reads "SCHEME://HOST[:PORT][/PATH]" (see the file comment). Its InvalidArgument
  // message names the URL but no file.
  static absl::StatusOr<RemapUrl> Parse(absl::string_view text);

  // Authority returns "host", "host:port" when the port is not the scheme's default, and
  // brackets an IPv6 host: what a forwarded Host header should say.
  std::string Authority() const;
  // ToString returns "scheme://authority/path".
  std::string ToString() const;
};

// DefaultPortForScheme returns 80 for "http", 443 for "https" (any case), else 0.
uint16_t DefaultPortForScheme(absl::string_view scheme);

// RemapRule is one `map` line.
struct RemapRule {
  RemapUrl from;
  RemapUrl to;
  // The 1-based line of the rule in the file.
  int line = 0;

  // Describe returns "line 3: map https://a.test/img/ -> http://origin:8080/static/".
  std::string Describe() const;
};

// RemapMatch is the result of RemapConfig::Match. |rule| points into the RemapConfig, which the
// caller keeps alive (by holding its shared_ptr) while it uses the match.
struct RemapMatch {
  const RemapRule* rule = nullptr;
  // Where to send the request: the rule's TO.
  std::string origin_scheme;
  std::string origin_host;
  uint16_t origin_port = 0;
  // The path and query for the forwarded request line.
  std::string path;

  // Url returns origin_scheme://authority + path, e.g. "http://origin:8080/static/x.png?v=1".
  std::string Url() const;
};

class RemapConfig {
 public:
  // LoadFile reads and parses the remap.config at |path|; errors start with "|path|:LINE: ", or
  // are "|path|: cannot read: REASON" (NotFound for a missing file, else InvalidArgument).
  static absl::StatusOr<std::shared_ptr<const RemapConfig>> LoadFile(
      const std::string& path, std::vector<std::string>* warnings);

  // Parse parses remap.config text; |filename_for_errors| starts every error and warning. Each
  // warning ("remap.config:4: @plugin=x.so ignored: remap plugins are not supported") is
  // appended to |*warnings|, which may be null to drop them. On an error the warnings already
  // given stay in |*warnings|.
  static absl::StatusOr<std::shared_ptr<const RemapConfig>> Parse(
      absl::string_view content, absl::string_view filename_for_errors,
      std::vector<std::string>* warnings);

  RemapConfig(const RemapConfig&) = delete;
  RemapConfig& operator=(const RemapConfig&) = delete;

  // Match returns the rule for a request (see "Matching" above) and the rewritten target, or
  // nullopt when no rule matches. |scheme| is "http" or "https"; |host| is the Host header's
  // value ("a.test", "a.test:8443", "[::1]:8443"), compared case-insensitively; a Host that is
  // empty or has a malformed port matches nothing. |path| is the request target's path with
  // its query, e.g. "/img/a.png?v=1". Any thread may call it.
  std::optional<RemapMatch> Match(absl::string_view scheme, absl::string_view host,
                                  absl::string_view path) const;

  // size returns the number of rules; rules returns them in file order.
  size_t size() const { return rules_.size(); }
  const std::vector<RemapRule>& rules() const { return rules_; }

  // Describe returns RemapRule::Describe of each rule, in file order.
  std::vector<std::string> Describe() const;

 private:
  RemapConfig() = default;

  std::vector<RemapRule> rules_;
  // "scheme host port" -> indexes into rules_, longest FROM path first.
  absl::flat_hash_map<std::string, std::vector<size_t>> by_authority_;
};

}  // namespace tollgate

#endif  // TOLLGATE_PROXY_CONFIG_REMAP_H_
