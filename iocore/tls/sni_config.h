// SniConfig: the per-server-name policies of sni.yaml, and the lookup that picks the policy for
// an inbound TLS connection from the name the client sent (SNI).
//
// A config is built once on the control thread (at start-up or on a config reload) and is then
// immutable: any thread may call its const methods at the same time. It is handed out as a
// std::shared_ptr<const SniConfig> so that a reload can install a new config while connections
// that matched against the old one keep using the policy they were given.
//
//   std::vector<std::string> warnings;
//   absl::StatusOr<std::shared_ptr<const SniConfig>> config =
//       SniConfig::LoadFile("/etc/tollgate/sni.yaml", &warnings);
//   if (!config.ok()) { /* log config.status(), keep the old config */ }
//
//   // In the select_certificate callback ("" when the client sent no SNI):
//   std::optional<SniMatch> match = (*config)->Match(sni);
//   if (match && !IpAllowed(match->policy->ip_allow, client_endpoint)) { /* refuse */ }
//   if (match && match->policy->tunnel_route) {
//     absl::StatusOr<SniRoute> to = match->TunnelDestination();  // "$1" etc. filled in
//   }
//
// The file format is ATS's sni.yaml (9.x): a top-level map whose `sni` key holds a list of
// maps, one per policy. An empty file, `sni:` and `sni: []` are valid empty configs.
//
//   sni:
//     - fqdn: '*.match.com'
//       tunnel_route: $1.testmatch:4443
//     - fqdn: '*.ok.*.com'
//       tunnel_route: $2.example.$1:443
//     - fqdn: bar.com
//       verify_client: STRICT
//       verify_client_ca_certs: /etc/tollgate/client-ca.pem
//       valid_tls_versions_in: [TLSv1_2, TLSv1_3]
//       ip_allow: 10.0.0.0/8, 192.168.1.1-192.168.1.9, ::1
//       http2: off
//     - fqdn: ''                       # the client sent no SNI
//       forward_route: 127.0.0.1:8080
//
// Keys of one policy:
//   fqdn                     Required. The name pattern, matched case-insensitively (see
//                            "Matching" below). '' matches only connections without SNI.
//   tunnel_route: host:port  Blind-tunnel the connection to host:port without terminating TLS.
//   forward_route: host:port Terminate TLS and forward the plaintext bytes to host:port.
//                            At most one of tunnel_route and forward_route. In both, the host is
//                            a name, an IPv4 address or a bracketed IPv6 address, the port is
//                            1..65535, and the host may hold $1..$9: the text the fqdn's first
//                            to ninth `*` matched. A $N beyond the fqdn's `*` count is an error.
//   partial_blind_route      Not supported: a warning, and the key is ignored.
//   ip_allow                 Client addresses allowed: a comma-separated string, or a list, of
//                            addresses ("10.1.2.3", "::1"), CIDR blocks ("10.0.0.0/8",
//                            "2001:db8::/32") and inclusive ranges ("10.0.0.1-10.0.0.9"). Absent
//                            means every client is allowed; an empty value is an error.
//   verify_client            NONE, MODERATE or STRICT (any case): client-certificate policy.
//   verify_client_ca_certs   The CAs that verify client certificates: a path (a PEM file or a
//                            hashed directory; the TLS layer decides which when it loads it), or
//                            a map with `file` and/or `dir` keys.
//   valid_tls_versions_in    A list (or one value) of TLSv1, TLSv1_1, TLSv1_2, TLSv1_3.
//   http2                    on, off, true or false (any case): offer h2 in ALPN or not.
//   disable_h2               Deprecated (ATS 8): true/false is http2 off/on, with a warning.
//                            Giving both http2 and disable_h2 is an error.
//   host_sni_policy          DISABLED, PERMISSIVE or ENFORCED (any case), or 0, 1 or 2.
//   verify_server_policy     DISABLED, PERMISSIVE or ENFORCED (any case); kept for the
//                            origin-side TLS and not used here.
//   verify_server_properties NONE, SIGNATURE, NAME or ALL (any case); likewise kept.
// A key given twice in one policy is an error. Any other key is reported as a warning (file,
// line and key) and ignored; so is any top-level key other than `sni`.
//
// Matching: the policies are tried in file order and the first one whose fqdn matches wins.
// Names and patterns compare case-insensitively (ASCII). Each `*` in a pattern matches ONE OR
// MORE characters of any kind, dots included, so "*.match.com" matches "a.match.com" and
// "a.b.match.com" (with $1 = "a.b") but neither "match.com" nor ".match.com", and a pattern of
// just "*" matches every non-empty name. Like ATS's regular expressions, an earlier `*` takes as
// much as it can: "*.ok.*.com" on "a.ok.b.ok.c.com" gives $1 = "a.ok.b", $2 = "c". Patterns hold
// only letters, digits, '-', '_', '.' and at most nine `*`, never two `*` in a row. Names longer
// than 255 bytes (which BoringSSL refuses in the handshake anyway) match no pattern.
//
// Errors are InvalidArgument and name the file, the 1-based line and what was wrong, e.g.
//   "sni.yaml:7: verify_client: 'SOMETIMES' is not one of NONE, MODERATE, STRICT"
//   "sni.yaml:3: fqdn is required"
//   "sni.yaml:5: yaml: end of sequence flow not found"
// The file is taken whole or not at all. yaml-cpp's exceptions never leave this module.

#ifndef TOLLGATE_IOCORE_TLS_SNI_CONFIG_H_
#define TOLLGATE_IOCORE_TLS_SNI_CONFIG_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "iocore/net/ip_endpoint.h"

namespace tollgate {

// --- ip_allow ------------------------------------------------------------------------------------

// IpRange is an inclusive range of IPv4 or IPv6 addresses: one entry of an ip_allow value.
class IpRange {
 public:
  // Parse accepts "10.1.2.3", "10.0.0.0/8", "10.0.0.1-10.0.0.9", "::1", "2001:db8::/32" and
  // "::1-::9". Spaces around the text and around '-' are ignored. A CIDR block's host bits are
  // ignored ("10.1.2.3/8" is 10.0.0.0/8). On failure it returns InvalidArgument with a message
  // such as "'10.0.0.0/33' has a prefix length above 32"; the message does not name a file.
  static absl::StatusOr<IpRange> Parse(absl::string_view text);

  // Contains returns whether |client|'s address (its port is ignored) is in the range. An IPv4
  // range also contains IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) of its members, and an IPv6
  // range containing ::ffff:a.b.c.d also contains the IPv4 address a.b.c.d. An unset endpoint
  // is in no range.
  bool Contains(const IpEndpoint& client) const;

  // family returns AF_INET or AF_INET6.
  int family() const { return family_; }

  // ToString returns "10.0.0.0-10.255.255.255", or just the address for a single address.
  std::string ToString() const;

 private:
  IpRange() = default;

  int family_ = 0;
  // Network byte order; an IPv4 address uses the first 4 bytes.
  std::array<uint8_t, 16> low_{};
  std::array<uint8_t, 16> high_{};
};

// IpAllowed returns true when |allow| is empty (no ip_allow key: everyone is allowed) or when one
// of its ranges contains |client|.
bool IpAllowed(const std::vector<IpRange>& allow, const IpEndpoint& client);

// --- Policies ------------------------------------------------------------------------------------

// Bits of SniPolicy::tls_versions_mask.
inline constexpr uint32_t kTlsVersion1_0 = 1u << 0;  // TLSv1
inline constexpr uint32_t kTlsVersion1_1 = 1u << 1;  // TLSv1_1
inline constexpr uint32_t kTlsVersion1_2 = 1u << 2;  // TLSv1_2
inline constexpr uint32_t kTlsVersion1_3 = 1u << 3;  // TLSv1_3

// SniRoute is a tunnel_route or forward_route destination with its $N resolved.
struct SniRoute {
  // A host name or an IPv4 address, or an IPv6 address without brackets.
  std::string host;
  uint16_t port = 0;

  // ToString returns "host:port", or "[v6]:port" for an IPv6 address.
  std::string ToString() const;
};

// SniRouteTemplate is a route as written in sni.yaml, split into its parts.
struct SniRouteTemplate {
  // The value as written, e.g. "$2.example.$1:443".
  std::string text;
  // The host part, brackets removed for IPv6; may hold $1..$9.
  std::string host;
  uint16_t port = 0;
};

// SniPolicy is one item of the sni list. Fields are unset (nullopt or empty) when the item does
// not give the key, so that the TLS layer applies its global setting instead.
struct SniPolicy {
  enum class VerifyClient { kNone, kModerate, kStrict };
  enum class HostSniPolicy { kDisabled, kPermissive, kEnforced };

  // The fqdn as written, lowercased ("" for the no-SNI policy).
  std::string fqdn_pattern;
  // The number of `*` in |fqdn_pattern|: how many captures a match has.
  int capture_count = 0;
  // The 1-based line of the item in the file.
  int line = 0;

  std::optional<SniRouteTemplate> tunnel_route;
  std::optional<SniRouteTemplate> forward_route;
  // Empty: every client is allowed.
  std::vector<IpRange> ip_allow;
  std::optional<VerifyClient> verify_client;
  // verify_client_ca_certs given as a path: a file or a directory. Empty when not given.
  std::string verify_client_ca_certs;
  // verify_client_ca_certs given as a map: its `file` and `dir`. Empty when not given.
  std::string verify_client_ca_file;
  std::string verify_client_ca_dir;
  // An OR of kTlsVersion* bits; never 0 when set.
  std::optional<uint32_t> tls_versions_mask;
  std::optional<bool> http2;
  std::optional<HostSniPolicy> host_sni_policy;
  // Uppercased: "DISABLED", "PERMISSIVE" or "ENFORCED". Empty when not given.
  std::string verify_server_policy;
  // Uppercased: "NONE", "SIGNATURE", "NAME" or "ALL". Empty when not given.
  std::string verify_server_properties;

  // Describe returns a one-line summary for `tollgate --check`, e.g.
  // "line 3: fqdn '*.match.com' tunnel_route $1.testmatch:4443 verify_client STRICT".
  std::string Describe() const;
};

// VerifyClientName returns "NONE", "MODERATE" or "STRICT".
const char* VerifyClientName(SniPolicy::VerifyClient value);
// HostSniPolicyName returns "DISABLED", "PERMISSIVE" or "ENFORCED".
const char* HostSniPolicyName(SniPolicy::HostSniPolicy value);

// SniMatch is the result of SniConfig::Match. |policy| points into the SniConfig, which the
// caller keeps alive (by holding its shared_ptr) for as long as it uses the match.
struct SniMatch {
  const SniPolicy* policy = nullptr;
  // The text each `*` of the pattern matched, lowercased, in pattern order ($1 is captures[0]).
  std::vector<std::string> captures;

  // TunnelDestination returns the policy's tunnel_route with $N replaced by captures[N-1]. It
  // returns FailedPrecondition when the policy has no tunnel_route, and InvalidArgument when the
  // substituted host is not a valid host name (the client's name put characters such as ':' or
  // '/', or an empty label, into it): the connection should then be refused.
  absl::StatusOr<SniRoute> TunnelDestination() const;
  // ForwardDestination does the same for forward_route.
  absl::StatusOr<SniRoute> ForwardDestination() const;
};

// --- The config ----------------------------------------------------------------------------------

class SniConfig {
 public:
  // The longest name Match considers (RFC 6066 and BoringSSL's limit for a host_name).
  static constexpr size_t kMaxNameLength = 255;

  // LoadFile reads and parses the sni.yaml at |path|; errors start with "|path|:LINE: ", or are
  // "|path|: cannot read: <reason>" (NotFound for a missing file, else InvalidArgument) when the
  // file cannot be read. |warnings| is as for Parse.
  static absl::StatusOr<std::shared_ptr<const SniConfig>> LoadFile(
      const std::string& path, std::vector<std::string>* warnings);

  // Parse parses sni.yaml text; |filename_for_errors| starts every error and warning. Each
  // warning ("sni.yaml:4: unknown key 'foo' ignored") is appended to |*warnings|; when
  // |warnings| is null it is logged instead with Diag(kWarning, "ssl", ...). On an error the
  // warnings already given stay in |*warnings|.
  static absl::StatusOr<std::shared_ptr<const SniConfig>> Parse(
      absl::string_view yaml, absl::string_view filename_for_errors,
      std::vector<std::string>* warnings);

  SniConfig(const SniConfig&) = delete;
  SniConfig& operator=(const SniConfig&) = delete;

  // Match returns the first policy, in file order, whose fqdn matches |sni|, with the text each
  // `*` matched; nullopt when none does. |sni| is "" when the client sent no SNI, which only an
  // fqdn of '' matches. Any thread may call it.
  std::optional<SniMatch> Match(absl::string_view sni) const;

  // size returns the number of policies.
  size_t size() const { return policies_.size(); }
  // policies returns them in file order.
  const std::vector<SniPolicy>& policies() const { return policies_; }

  // Describe returns SniPolicy::Describe of each policy, in file order.
  std::vector<std::string> Describe() const;

 private:
  SniConfig() = default;

  std::vector<SniPolicy> policies_;
  // Lowercased pattern without `*` (and "" for no SNI) -> index of its first policy.
  absl::flat_hash_map<std::string, size_t> exact_;
  // Indexes of the policies whose pattern holds a `*`, in file order.
  std::vector<size_t> globs_;
};

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_TLS_SNI_CONFIG_H_
