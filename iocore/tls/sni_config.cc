#include "iocore/tls/sni_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "iocore/eventsystem/diags.h"
#include "third_party/yaml_documents.h"
#include "yaml-cpp/yaml.h"

namespace tollgate {
namespace {

// --- Addresses -----------------------------------------------------------------------------------

// ParseAddress parses one IPv4 or IPv6 address (no brackets, no port) into |out| (network
// order, IPv4 in the first 4 bytes) and returns its family, or 0 when |text| is not one.
int ParseAddress(absl::string_view text, std::array<uint8_t, 16>* out) {
  std::string s(text);  // inet_pton needs a NUL-terminated string.
  out->fill(0);
  if (inet_pton(AF_INET, s.c_str(), out->data()) == 1) return AF_INET;
  if (inet_pton(AF_INET6, s.c_str(), out->data()) == 1) return AF_INET6;
  return 0;
}

size_t AddressLength(int family) { return family == AF_INET ? 4 : 16; }

std::string FormatAddress(int family, const std::array<uint8_t, 16>& addr) {
  char buf[INET6_ADDRSTRLEN];
  if (inet_ntop(family, addr.data(), buf, sizeof(buf)) == nullptr) return "?";
  return buf;
}

bool InRange(const std::array<uint8_t, 16>& addr, const std::array<uint8_t, 16>& low,
             const std::array<uint8_t, 16>& high, size_t len) {
  return std::memcmp(addr.data(), low.data(), len) >= 0 &&
      std::memcmp(addr.data(), high.data(), len) <= 0;
}

// The 12-byte prefix of IPv4-mapped IPv6 addresses (::ffff:0:0/96).
constexpr uint8_t kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// --- Host names and routes -----------------------------------------------------------------------

bool IsHostChar(char c) { return absl::ascii_isalnum(c) || c == '-' || c == '_'; }

// IsValidHostName accepts a DNS name (which includes a dotted IPv4 address): 1..253 bytes of
// labels of 1..63 letters, digits, '-' or '_', separated by single dots.
bool IsValidHostName(absl::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (absl::string_view label : absl::StrSplit(host, '.')) {
    if (label.empty() || label.size() > 63) return false;
    for (char c : label) {
      if (!IsHostChar(c)) return false;
    }
  }
  return true;
}

// Substitute replaces $1..$9 in |host_template| with |captures|. The template was checked at
// load time, so every "$" is followed by a digit 1..9 within range of the pattern's captures.
std::string Substitute(absl::string_view host_template, const std::vector<std::string>& captures) {
  std::string out;
  for (size_t i = 0; i < host_template.size(); ++i) {
    char c = host_template[i];
    if (c == '$' && i + 1 < host_template.size() && host_template[i + 1] >= '1' &&
        host_template[i + 1] <= '9') {
      size_t n = static_cast<size_t>(host_template[i + 1] - '0');
      if (n <= captures.size()) out += captures[n - 1];
      ++i;
    } else {
      out += c;
    }
  }
  return out;
}

absl::StatusOr<SniRoute> ResolveRoute(const std::optional<SniRouteTemplate>& route, const char* key,
                                      const std::vector<std::string>& captures) {
  if (!route) {
    return absl::FailedPreconditionError(absl::StrCat("the sni policy has no ", key));
  }
  SniRoute out;
  out.port = route->port;
  if (absl::StrContains(route->host, ':')) {  // An IPv6 literal: never holds $N.
    out.host = route->host;
    return out;
  }
  out.host = Substitute(route->host, captures);
  if (!IsValidHostName(out.host)) {
    return absl::InvalidArgumentError(absl::StrCat(key, " '", route->text, "' gives host '",
                                                   out.host,
                                                   "' for this server name, not a host name"));
  }
  return out;
}

// --- fqdn globs ----------------------------------------------------------------------------------

// GlobMatcher matches a lowercased pattern "L0*L1*...*Ln" against a lowercased name. Each `*`
// takes one or more characters; an earlier `*` takes as many as it can (the order a backtracking
// regex engine tries "(.+)"), so captures equal ATS's. Failed (star, position) states are
// remembered, which bounds the work at stars x length^2 for names of at most 255 bytes.
class GlobMatcher {
 public:
  GlobMatcher(absl::string_view pattern, absl::string_view name)
      : literals_(absl::StrSplit(pattern, '*')), name_(name) {}

  bool Match(std::vector<std::string>* captures) {
    const absl::string_view first = literals_.front();
    if (!absl::StartsWith(name_, first)) return false;
    if (literals_.size() == 1) return name_.size() == first.size();
    stars_ = literals_.size() - 1;
    failed_.assign(stars_ * (name_.size() + 1), 0);
    spans_.assign(stars_, {0, 0});
    if (!MatchStar(0, first.size())) return false;
    captures->clear();
    for (const auto& [start, length] : spans_) {
      captures->emplace_back(name_.substr(start, length));
    }
    return true;
  }

 private:
  // MatchStar matches star |s| starting at |pos|, and everything after it.
  bool MatchStar(size_t s, size_t pos) {
    const absl::string_view next = literals_[s + 1];
    if (s + 1 == stars_) {  // The last star: |next| must end the name.
      if (name_.size() < pos + 1 + next.size()) return false;
      if (!absl::EndsWith(name_, next)) return false;
      spans_[s] = {pos, name_.size() - next.size() - pos};
      return true;
    }
    const size_t state = s * (name_.size() + 1) + pos;
    if (failed_[state]) return false;
    // The star covers [pos, end); |next| follows it, and the following star needs one byte.
    for (size_t end = name_.size(); end > pos; --end) {
      if (end + next.size() + 1 > name_.size()) continue;
      if (name_.compare(end, next.size(), next) != 0) continue;
      spans_[s] = {pos, end - pos};
      if (MatchStar(s + 1, end + next.size())) return true;
    }
    failed_[state] = 1;
    return false;
  }

  std::vector<absl::string_view> literals_;
  absl::string_view name_;
  size_t stars_ = 0;
  std::vector<uint8_t> failed_;
  std::vector<std::pair<size_t, size_t>> spans_;
};

// --- YAML helpers --------------------------------------------------------------------------------

const char* KindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return "a value";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
  }
  return "nothing";
}

// LineOf returns |node|'s 1-based line, or |fallback| when yaml-cpp has no position for it.
int LineOf(const YAML::Node& node, int fallback) {
  const int line = node.Mark().line;
  return line >= 0 ? line + 1 : fallback;
}

// Parser turns the YAML tree into policies. It owns the error and warning format.
class Parser {
 public:
  Parser(absl::string_view filename, std::vector<std::string>* warnings)
      : filename_(filename), warnings_(warnings) {}

  absl::Status ParseDocument(const YAML::Node& root, std::vector<SniPolicy>* policies);

  absl::Status Error(int line, absl::string_view message) const {
    if (line <= 0) return absl::InvalidArgumentError(absl::StrCat(filename_, ": ", message));
    return absl::InvalidArgumentError(absl::StrCat(filename_, ":", line, ": ", message));
  }

 private:
  void Warn(int line, absl::string_view message) {
    std::string text = absl::StrCat(filename_, ":", line, ": ", message);
    if (warnings_ != nullptr) {
      warnings_->push_back(std::move(text));
    } else {
      Diag(DiagLevel::kWarning, "ssl", text);
    }
  }

  // Scalar returns the text of |value| for key |key|, or an error when it is not a scalar.
  absl::StatusOr<std::string> Scalar(absl::string_view key, const YAML::Node& value,
                                     int line) const {
    if (!value.IsScalar()) {
      return Error(line, absl::StrCat(key, ": expected a value, got ", KindName(value)));
    }
    return value.Scalar();
  }

  // OneOf returns the index of |value| in |names| (compared case-insensitively), or an error
  // "KEY: 'VALUE' is not one of A, B, C".
  absl::StatusOr<size_t> OneOf(absl::string_view key, const YAML::Node& value, int line,
                               const std::vector<absl::string_view>& names) const {
    absl::StatusOr<std::string> text = Scalar(key, value, line);
    if (!text.ok()) return text.status();
    for (size_t i = 0; i < names.size(); ++i) {
      if (absl::EqualsIgnoreCase(*text, names[i])) return i;
    }
    return Error(line,
                 absl::StrCat(key, ": '", *text, "' is not one of ", absl::StrJoin(names, ", ")));
  }

  absl::Status ParseItem(const YAML::Node& item, SniPolicy* policy);
  absl::Status ParseFqdn(const YAML::Node& value, int line, SniPolicy* policy);
  absl::StatusOr<SniRouteTemplate> ParseRoute(absl::string_view key, const YAML::Node& value,
                                              int line, const SniPolicy& policy) const;
  absl::Status ParseIpAllow(const YAML::Node& value, int line, SniPolicy* policy) const;
  absl::Status ParseCaCerts(const YAML::Node& value, int line, SniPolicy* policy) const;
  absl::Status ParseTlsVersions(const YAML::Node& value, int line, SniPolicy* policy) const;

  std::string filename_;
  std::vector<std::string>* warnings_;
  // Lowercased fqdn -> line of its first policy, to warn about policies that can never match.
  absl::flat_hash_map<std::string, int> fqdn_lines_;
};

// The keys ParseItem understands. partial_blind_route is listed so that it gets its own warning.
constexpr absl::string_view kKnownKeys[] = {
    "fqdn",
    "tunnel_route",
    "forward_route",
    "partial_blind_route",
    "ip_allow",
    "verify_client",
    "verify_client_ca_certs",
    "valid_tls_versions_in",
    "http2",
    "disable_h2",
    "host_sni_policy",
    "verify_server_policy",
    "verify_server_properties",
};

bool IsKnownKey(absl::string_view key) {
  for (absl::string_view known : kKnownKeys) {
    if (key == known) return true;
  }
  return false;
}

absl::Status Parser::ParseDocument(const YAML::Node& root, std::vector<SniPolicy>* policies) {
  if (root.IsNull()) return absl::OkStatus();  // An empty file.
  if (!root.IsMap()) {
    return Error(LineOf(root, 1),
                 absl::StrCat("expected a map with an 'sni' key at the top, got ", KindName(root)));
  }
  // Items are parsed where the `sni` key stands, so that warnings come out in file order.
  bool seen_sni = false;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const int key_line = LineOf(it->first, 1);
    if (!it->first.IsScalar()) {
      return Error(key_line,
                   absl::StrCat("top-level keys must be names, got ", KindName(it->first)));
    }
    if (it->first.Scalar() != "sni") {
      Warn(key_line, absl::StrCat("unknown top-level key '", it->first.Scalar(), "' ignored"));
      continue;
    }
    if (seen_sni) return Error(key_line, "sni: given twice");
    seen_sni = true;
    const YAML::Node list = it->second;
    if (list.IsNull()) continue;  // "sni:" with no items.
    if (!list.IsSequence()) {
      return Error(LineOf(list, key_line),
                   absl::StrCat("sni: expected a list of maps, got ", KindName(list)));
    }
    for (const YAML::Node& item : list) {
      SniPolicy policy;
      absl::Status status = ParseItem(item, &policy);
      if (!status.ok()) return status;
      policies->push_back(std::move(policy));
    }
  }
  return absl::OkStatus();
}

absl::Status Parser::ParseItem(const YAML::Node& item, SniPolicy* policy) {
  const int item_line = LineOf(item, 1);
  policy->line = item_line;
  if (!item.IsMap()) {
    return Error(
        item_line,
        absl::StrCat("sni: each item must be a map with an fqdn key, got ", KindName(item)));
  }

  // Collect the keys first: yaml-cpp keeps duplicate keys, and the routes need the fqdn.
  struct Entry {
    YAML::Node value;
    int line;  // Of the key.
  };
  absl::flat_hash_map<std::string, Entry> entries;
  for (auto it = item.begin(); it != item.end(); ++it) {
    const int key_line = LineOf(it->first, item_line);
    if (!it->first.IsScalar()) {
      return Error(key_line, absl::StrCat("keys must be names, got ", KindName(it->first)));
    }
    const std::string& key = it->first.Scalar();
    auto [pos, inserted] = entries.try_emplace(key, Entry{it->second, key_line});
    if (!inserted) {
      return Error(
          key_line,
          absl::StrCat(key, ": given twice in one item (first at line ", pos->second.line, ")"));
    }
    if (key == "partial_blind_route") {
      Warn(key_line, "partial_blind_route is not supported; the key is ignored");
    } else if (!IsKnownKey(key)) {
      Warn(key_line, absl::StrCat("unknown key '", key, "' ignored"));
    }
  }
  auto find = [&entries](absl::string_view key) -> const Entry* {
    auto it = entries.find(key);
    return it == entries.end() ? nullptr : &it->second;
  };
  // The line errors about a key's value name: the value's own line when it has one. yaml-cpp
  // marks an empty value at the token after it, often on the next line, so that uses the key's.
  auto value_line = [](const Entry& e) {
    return e.value.IsNull() ? e.line : LineOf(e.value, e.line);
  };

  const Entry* fqdn = find("fqdn");
  if (fqdn == nullptr) return Error(item_line, "fqdn is required");
  if (absl::Status s = ParseFqdn(fqdn->value, value_line(*fqdn), policy); !s.ok()) return s;

  const Entry* tunnel = find("tunnel_route");
  const Entry* forward = find("forward_route");
  if (tunnel != nullptr && forward != nullptr) {
    return Error(std::max(tunnel->line, forward->line),
                 "tunnel_route and forward_route cannot both be given in one item");
  }
  if (tunnel != nullptr) {
    absl::StatusOr<SniRouteTemplate> route =
        ParseRoute("tunnel_route", tunnel->value, value_line(*tunnel), *policy);
    if (!route.ok()) return route.status();
    policy->tunnel_route = *std::move(route);
  }
  if (forward != nullptr) {
    absl::StatusOr<SniRouteTemplate> route =
        ParseRoute("forward_route", forward->value, value_line(*forward), *policy);
    if (!route.ok()) return route.status();
    policy->forward_route = *std::move(route);
  }

  if (const Entry* e = find("ip_allow")) {
    if (absl::Status s = ParseIpAllow(e->value, value_line(*e), policy); !s.ok()) return s;
  }
  if (const Entry* e = find("verify_client")) {
    absl::StatusOr<size_t> i =
        OneOf("verify_client", e->value, value_line(*e), {"NONE", "MODERATE", "STRICT"});
    if (!i.ok()) return i.status();
    constexpr SniPolicy::VerifyClient kValues[] = {SniPolicy::VerifyClient::kNone,
                                                   SniPolicy::VerifyClient::kModerate,
                                                   SniPolicy::VerifyClient::kStrict};
    policy->verify_client = kValues[*i];
  }
  if (const Entry* e = find("verify_client_ca_certs")) {
    if (absl::Status s = ParseCaCerts(e->value, value_line(*e), policy); !s.ok()) return s;
  }
  if (const Entry* e = find("valid_tls_versions_in")) {
    if (absl::Status s = ParseTlsVersions(e->value, value_line(*e), policy); !s.ok()) return s;
  }

  const Entry* http2 = find("http2");
  const Entry* disable_h2 = find("disable_h2");
  if (http2 != nullptr && disable_h2 != nullptr) {
    return Error(std::max(http2->line, disable_h2->line),
                 "http2 and disable_h2 cannot both be given; use http2 only");
  }
  if (http2 != nullptr) {
    absl::StatusOr<size_t> i =
        OneOf("http2", http2->value, value_line(*http2), {"on", "off", "true", "false"});
    if (!i.ok()) return i.status();
    policy->http2 = *i == 0 || *i == 2;
  }
  if (disable_h2 != nullptr) {
    absl::StatusOr<size_t> i = OneOf("disable_h2", disable_h2->value, value_line(*disable_h2),
                                     {"true", "false", "on", "off"});
    if (!i.ok()) return i.status();
    const bool disable = *i == 0 || *i == 2;
    policy->http2 = !disable;
    Warn(disable_h2->line,
         absl::StrCat("disable_h2 is deprecated; use 'http2: ", disable ? "off" : "on", "'"));
  }

  if (const Entry* e = find("host_sni_policy")) {
    absl::StatusOr<size_t> i = OneOf("host_sni_policy", e->value, value_line(*e),
                                     {"DISABLED", "PERMISSIVE", "ENFORCED", "0", "1", "2"});
    if (!i.ok()) return i.status();
    constexpr SniPolicy::HostSniPolicy kValues[] = {SniPolicy::HostSniPolicy::kDisabled,
                                                    SniPolicy::HostSniPolicy::kPermissive,
                                                    SniPolicy::HostSniPolicy::kEnforced};
    policy->host_sni_policy = kValues[*i % 3];
  }
  if (const Entry* e = find("verify_server_policy")) {
    const std::vector<absl::string_view> names = {"DISABLED", "PERMISSIVE", "ENFORCED"};
    absl::StatusOr<size_t> i = OneOf("verify_server_policy", e->value, value_line(*e), names);
    if (!i.ok()) return i.status();
    policy->verify_server_policy = std::string(names[*i]);
  }
  if (const Entry* e = find("verify_server_properties")) {
    const std::vector<absl::string_view> names = {"NONE", "SIGNATURE", "NAME", "ALL"};
    absl::StatusOr<size_t> i = OneOf("verify_server_properties", e->value, value_line(*e), names);
    if (!i.ok()) return i.status();
    policy->verify_server_properties = std::string(names[*i]);
  }
  return absl::OkStatus();
}

absl::Status Parser::ParseFqdn(const YAML::Node& value, int line, SniPolicy* policy) {
  absl::StatusOr<std::string> text = Scalar("fqdn", value, line);
  if (!text.ok()) return text.status();
  std::string pattern = absl::AsciiStrToLower(*text);
  if (pattern.size() > SniConfig::kMaxNameLength) {
    return Error(
        line,
        absl::StrCat("fqdn: '", *text, "' is longer than ", SniConfig::kMaxNameLength, " bytes"));
  }
  int stars = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '*') {
      if (i > 0 && pattern[i - 1] == '*') {
        return Error(line, absl::StrCat("fqdn: '", *text, "' has two '*' in a row"));
      }
      ++stars;
    } else if (!IsHostChar(c) && c != '.') {
      return Error(line,
                   absl::StrCat("fqdn: '", *text, "': '", absl::CEscape(std::string(1, c)),
                                "' is not allowed (only letters, digits, '-', '_', '.' "
                                "and '*')"));
    }
  }
  if (stars > 9) {
    return Error(line,
                 absl::StrCat("fqdn: '", *text, "' has ", stars, " '*'; at most 9 are allowed"));
  }
  auto [it, inserted] = fqdn_lines_.try_emplace(pattern, policy->line);
  if (!inserted) {
    Warn(policy->line,
         absl::StrCat("fqdn '", *text, "' is also at line ", it->second,
                      ", which wins; this item is never used"));
  }
  policy->fqdn_pattern = std::move(pattern);
  policy->capture_count = stars;
  return absl::OkStatus();
}

absl::StatusOr<SniRouteTemplate> Parser::ParseRoute(absl::string_view key, const YAML::Node& value,
                                                    int line, const SniPolicy& policy) const {
  absl::StatusOr<std::string> text = Scalar(key, value, line);
  if (!text.ok()) return text.status();
  SniRouteTemplate route;
  route.text = *text;
  const absl::string_view t = route.text;
  auto bad = [&](absl::string_view why) {
    return Error(line, absl::StrCat(key, ": '", t, "' ", why));
  };

  absl::string_view host;
  absl::string_view port;
  bool ipv6 = false;
  if (absl::StartsWith(t, "[")) {
    const size_t close = t.find(']');
    if (close == absl::string_view::npos) return bad("has '[' without ']'");
    host = t.substr(1, close - 1);
    if (t.substr(close + 1, 1) != ":") return bad("is not [address]:port");
    port = t.substr(close + 2);
    std::array<uint8_t, 16> addr;
    if (ParseAddress(host, &addr) != AF_INET6) {
      return bad(absl::StrCat("holds '", host, "' in brackets, which is not an IPv6 address"));
    }
    ipv6 = true;
  } else {
    const size_t colon = t.rfind(':');
    if (colon == absl::string_view::npos) return bad("is not host:port");
    host = t.substr(0, colon);
    port = t.substr(colon + 1);
    if (absl::StrContains(host, ':')) return bad("has an IPv6 address without [brackets]");
  }
  uint32_t port_number = 0;
  if (port.empty() || !std::all_of(port.begin(), port.end(), absl::ascii_isdigit) ||
      port.size() > 5 || !absl::SimpleAtoi(port, &port_number) || port_number < 1 ||
      port_number > 65535) {
    return bad(absl::StrCat("has port '", port, "', which is not 1..65535"));
  }
  route.port = static_cast<uint16_t>(port_number);

  if (!ipv6) {
    // Check the $N references, then the host with each one replaced by a plain label.
    std::string probe;
    for (size_t i = 0; i < host.size(); ++i) {
      if (host[i] != '$') {
        probe += host[i];
        continue;
      }
      if (i + 1 >= host.size() || host[i + 1] < '1' || host[i + 1] > '9') {
        return bad("has a '$' that is not followed by a digit 1..9");
      }
      const int n = host[i + 1] - '0';
      if (n > policy.capture_count) {
        return bad(absl::StrCat("uses $", n, " but fqdn '", policy.fqdn_pattern, "' has ",
                                policy.capture_count, " '*'"));
      }
      probe += 'x';
      ++i;
    }
    if (!IsValidHostName(probe)) {
      return bad(absl::StrCat("has host '", host, "', which is not a host name or address"));
    }
  }
  route.host = std::string(host);
  return route;
}

absl::Status Parser::ParseIpAllow(const YAML::Node& value, int line, SniPolicy* policy) const {
  std::vector<std::pair<std::string, int>> texts;  // Each with its line.
  if (value.IsScalar()) {
    texts.emplace_back(value.Scalar(), line);
  } else if (value.IsSequence()) {
    for (const YAML::Node& element : value) {
      const int element_line = LineOf(element, line);
      absl::StatusOr<std::string> text = Scalar("ip_allow", element, element_line);
      if (!text.ok()) return text.status();
      texts.emplace_back(*std::move(text), element_line);
    }
  } else if (!value.IsNull()) {
    return Error(line, absl::StrCat("ip_allow: expected addresses, got ", KindName(value)));
  }
  for (const auto& [text, text_line] : texts) {
    for (absl::string_view piece : absl::StrSplit(text, ',')) {
      piece = absl::StripAsciiWhitespace(piece);
      if (piece.empty()) {
        return Error(text_line, absl::StrCat("ip_allow: '", text, "' has an empty entry"));
      }
      absl::StatusOr<IpRange> range = IpRange::Parse(piece);
      if (!range.ok()) {
        return Error(text_line, absl::StrCat("ip_allow: ", range.status().message()));
      }
      policy->ip_allow.push_back(*range);
    }
  }
  if (policy->ip_allow.empty()) return Error(line, "ip_allow: no addresses given");
  return absl::OkStatus();
}

absl::Status Parser::ParseCaCerts(const YAML::Node& value, int line, SniPolicy* policy) const {
  constexpr absl::string_view kKey = "verify_client_ca_certs";
  if (value.IsScalar()) {
    if (value.Scalar().empty()) return Error(line, absl::StrCat(kKey, ": the path is empty"));
    policy->verify_client_ca_certs = value.Scalar();
    return absl::OkStatus();
  }
  if (!value.IsMap()) {
    return Error(
        line,
        absl::StrCat(kKey, ": expected a path or a map with file and dir, got ", KindName(value)));
  }
  for (auto it = value.begin(); it != value.end(); ++it) {
    const int key_line = LineOf(it->first, line);
    const std::string sub = it->first.IsScalar() ? it->first.Scalar() : "";
    std::string* field = sub == "file" ? &policy->verify_client_ca_file
        : sub == "dir"                 ? &policy->verify_client_ca_dir
                                       : nullptr;
    if (field == nullptr) {
      return Error(key_line,
                   absl::StrCat(kKey, ": unknown key '", sub, "' (expected file or dir)"));
    }
    const std::string name = absl::StrCat(kKey, ".", sub);
    absl::StatusOr<std::string> path =
        Scalar(name, it->second, it->second.IsNull() ? key_line : LineOf(it->second, key_line));
    if (!path.ok()) return path.status();
    if (path->empty()) return Error(key_line, absl::StrCat(name, ": the path is empty"));
    if (!field->empty()) return Error(key_line, absl::StrCat(name, ": given twice"));
    *field = *std::move(path);
  }
  if (policy->verify_client_ca_file.empty() && policy->verify_client_ca_dir.empty()) {
    return Error(line, absl::StrCat(kKey, ": the map has neither file nor dir"));
  }
  return absl::OkStatus();
}

absl::Status Parser::ParseTlsVersions(const YAML::Node& value, int line, SniPolicy* policy) const {
  constexpr absl::string_view kKey = "valid_tls_versions_in";
  const std::vector<absl::string_view> names = {"TLSv1", "TLSv1_1", "TLSv1_2", "TLSv1_3"};
  constexpr uint32_t kBits[] = {kTlsVersion1_0, kTlsVersion1_1, kTlsVersion1_2, kTlsVersion1_3};
  uint32_t mask = 0;
  if (value.IsScalar()) {
    absl::StatusOr<size_t> i = OneOf(kKey, value, line, names);
    if (!i.ok()) return i.status();
    mask |= kBits[*i];
  } else if (value.IsSequence()) {
    for (const YAML::Node& element : value) {
      absl::StatusOr<size_t> i = OneOf(kKey, element, LineOf(element, line), names);
      if (!i.ok()) return i.status();
      mask |= kBits[*i];
    }
  } else if (!value.IsNull()) {
    return Error(line, absl::StrCat(kKey, ": expected a list of versions, got ", KindName(value)));
  }
  if (mask == 0) return Error(line, absl::StrCat(kKey, ": no versions given"));
  policy->tls_versions_mask = mask;
  return absl::OkStatus();
}

std::string DescribeTlsVersions(uint32_t mask) {
  std::vector<absl::string_view> names;
  if (mask & kTlsVersion1_0) names.push_back("TLSv1");
  if (mask & kTlsVersion1_1) names.push_back("TLSv1_1");
  if (mask & kTlsVersion1_2) names.push_back("TLSv1_2");
  if (mask & kTlsVersion1_3) names.push_back("TLSv1_3");
  return absl::StrJoin(names, ",");
}

}  // namespace

// --- IpRange -------------------------------------------------------------------------------------

absl::StatusOr<IpRange> IpRange::Parse(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  IpRange range;
  const size_t dash = text.find('-');
  const size_t slash = text.find('/');
  if (dash != absl::string_view::npos) {
    const absl::string_view low = absl::StripAsciiWhitespace(text.substr(0, dash));
    const absl::string_view high = absl::StripAsciiWhitespace(text.substr(dash + 1));
    const int low_family = ParseAddress(low, &range.low_);
    if (low_family == 0) {
      return absl::InvalidArgumentError(absl::StrCat("'", low, "' is not an IP address"));
    }
    const int high_family = ParseAddress(high, &range.high_);
    if (high_family == 0) {
      return absl::InvalidArgumentError(absl::StrCat("'", high, "' is not an IP address"));
    }
    if (low_family != high_family) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "' mixes an IPv4 and an IPv6 address"));
    }
    range.family_ = low_family;
    if (std::memcmp(range.low_.data(), range.high_.data(), AddressLength(range.family_)) > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "' has its first address above its last"));
    }
    return range;
  }
  if (slash != absl::string_view::npos) {
    const absl::string_view address = text.substr(0, slash);
    const absl::string_view prefix_text = text.substr(slash + 1);
    range.family_ = ParseAddress(address, &range.low_);
    if (range.family_ == 0) {
      return absl::InvalidArgumentError(absl::StrCat("'", address, "' is not an IP address"));
    }
    const int bits = static_cast<int>(AddressLength(range.family_) * 8);
    int prefix = 0;
    if (prefix_text.empty() || prefix_text.size() > 3 ||
        !std::all_of(prefix_text.begin(), prefix_text.end(), absl::ascii_isdigit) ||
        !absl::SimpleAtoi(prefix_text, &prefix)) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "' has a prefix length that is not a number"));
    }
    if (prefix > bits) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "' has a prefix length above ", bits));
    }
    range.high_ = range.low_;
    for (int byte = 0; byte < bits / 8; ++byte) {
      const int keep = std::clamp(prefix - byte * 8, 0, 8);  // Network bits in this byte.
      const uint8_t mask = static_cast<uint8_t>(0xff00 >> keep);
      range.low_[byte] &= mask;
      range.high_[byte] |= static_cast<uint8_t>(~mask);
    }
    return range;
  }
  range.family_ = ParseAddress(text, &range.low_);
  if (range.family_ == 0) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not an IP address"));
  }
  range.high_ = range.low_;
  return range;
}

bool IpRange::Contains(const IpEndpoint& client) const {
  // The client's address in both families where it has one: an IPv4 address and its mapped
  // IPv6 form ::ffff:a.b.c.d are the same client.
  std::array<uint8_t, 16> v4{};
  std::array<uint8_t, 16> v6{};
  bool has_v4 = false;
  bool has_v6 = false;
  if (client.family() == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(client.sockaddr());
    std::memcpy(v4.data(), &sin->sin_addr, 4);
    std::memcpy(v6.data(), kV4MappedPrefix, 12);
    std::memcpy(v6.data() + 12, &sin->sin_addr, 4);
    has_v4 = has_v6 = true;
  } else if (client.family() == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(client.sockaddr());
    std::memcpy(v6.data(), &sin6->sin6_addr, 16);
    has_v6 = true;
    if (std::memcmp(v6.data(), kV4MappedPrefix, 12) == 0) {
      std::memcpy(v4.data(), v6.data() + 12, 4);
      has_v4 = true;
    }
  }
  if (family_ == AF_INET) return has_v4 && InRange(v4, low_, high_, 4);
  if (family_ == AF_INET6) return has_v6 && InRange(v6, low_, high_, 16);
  return false;
}

std::string IpRange::ToString() const {
  if (low_ == high_) return FormatAddress(family_, low_);
  return absl::StrCat(FormatAddress(family_, low_), "-", FormatAddress(family_, high_));
}

bool IpAllowed(const std::vector<IpRange>& allow, const IpEndpoint& client) {
  if (allow.empty()) return true;
  for (const IpRange& range : allow) {
    if (range.Contains(client)) return true;
  }
  return false;
}

// --- Policies ------------------------------------------------------------------------------------

std::string SniRoute::ToString() const {
  if (absl::StrContains(host, ':')) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

const char* VerifyClientName(SniPolicy::VerifyClient value) {
  switch (value) {
    case SniPolicy::VerifyClient::kNone:
      return "NONE";
    case SniPolicy::VerifyClient::kModerate:
      return "MODERATE";
    case SniPolicy::VerifyClient::kStrict:
      return "STRICT";
  }
  return "?";
}

const char* HostSniPolicyName(SniPolicy::HostSniPolicy value) {
  switch (value) {
    case SniPolicy::HostSniPolicy::kDisabled:
      return "DISABLED";
    case SniPolicy::HostSniPolicy::kPermissive:
      return "PERMISSIVE";
    case SniPolicy::HostSniPolicy::kEnforced:
      return "ENFORCED";
  }
  return "?";
}

std::string SniPolicy::Describe() const {
  std::string out = absl::StrCat("line ", line, ": ");
  if (fqdn_pattern.empty()) {
    absl::StrAppend(&out, "no SNI");
  } else {
    absl::StrAppend(&out, "fqdn '", fqdn_pattern, "'");
  }
  if (tunnel_route) absl::StrAppend(&out, " tunnel_route ", tunnel_route->text);
  if (forward_route) absl::StrAppend(&out, " forward_route ", forward_route->text);
  if (!ip_allow.empty()) {
    absl::StrAppend(&out, " ip_allow ",
                    absl::StrJoin(ip_allow, ",", [](std::string* s, const IpRange& r) {
                      s->append(r.ToString());
                    }));
  }
  if (verify_client) absl::StrAppend(&out, " verify_client ", VerifyClientName(*verify_client));
  if (!verify_client_ca_certs.empty()) {
    absl::StrAppend(&out, " verify_client_ca_certs ", verify_client_ca_certs);
  }
  if (!verify_client_ca_file.empty()) {
    absl::StrAppend(&out, " verify_client_ca_certs.file ", verify_client_ca_file);
  }
  if (!verify_client_ca_dir.empty()) {
    absl::StrAppend(&out, " verify_client_ca_certs.dir ", verify_client_ca_dir);
  }
  if (tls_versions_mask) {
    absl::StrAppend(&out, " valid_tls_versions_in ", DescribeTlsVersions(*tls_versions_mask));
  }
  if (http2) absl::StrAppend(&out, " http2 ", *http2 ? "on" : "off");
  if (host_sni_policy) {
    absl::StrAppend(&out, " host_sni_policy ", HostSniPolicyName(*host_sni_policy));
  }
  if (!verify_server_policy.empty()) {
    absl::StrAppend(&out, " verify_server_policy ", verify_server_policy);
  }
  if (!verify_server_properties.empty()) {
    absl::StrAppend(&out, " verify_server_properties ", verify_server_properties);
  }
  return out;
}

absl::StatusOr<SniRoute> SniMatch::TunnelDestination() const {
  return ResolveRoute(policy->tunnel_route, "tunnel_route", captures);
}

absl::StatusOr<SniRoute> SniMatch::ForwardDestination() const {
  return ResolveRoute(policy->forward_route, "forward_route", captures);
}

// --- SniConfig -----------------------------------------------------------------------------------

absl::StatusOr<std::shared_ptr<const SniConfig>> SniConfig::LoadFile(
    const std::string& path, std::vector<std::string>* warnings) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    const std::string message = absl::StrCat(path, ": cannot read: ", strerror(err));
    return err == ENOENT ? absl::NotFoundError(message) : absl::InvalidArgumentError(message);
  }
  std::string content;
  char buf[16384];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      close(fd);
      return absl::InvalidArgumentError(absl::StrCat(path, ": cannot read: ", strerror(err)));
    }
    content.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return Parse(content, path, warnings);
}

absl::StatusOr<std::shared_ptr<const SniConfig>> SniConfig::Parse(
    absl::string_view yaml, absl::string_view filename_for_errors,
    std::vector<std::string>* warnings) {
  Parser parser(filename_for_errors, warnings);
  std::unique_ptr<SniConfig> config(new SniConfig());
  // yaml-cpp reports syntax errors (and a few misuses) by throwing; nothing may escape.
  try {
    const std::string text(yaml);
    const YamlDocuments documents = ScanYamlDocuments(text);
    if (documents.stuck_line > 0) {
      return parser.Error(documents.stuck_line, "yaml: unexpected character outside any node");
    }
    if (documents.count > 1) {
      return parser.Error(documents.second_line, "only one YAML document is allowed");
    }
    const YAML::Node root = documents.count == 0 ? YAML::Node() : YAML::Load(text);
    if (absl::Status s = parser.ParseDocument(root, &config->policies_); !s.ok()) return s;
  } catch (const YAML::Exception& e) {
    return parser.Error(e.mark.line >= 0 ? e.mark.line + 1 : 0, absl::StrCat("yaml: ", e.msg));
  } catch (const std::exception& e) {
    return parser.Error(0, absl::StrCat("cannot parse: ", e.what()));
  }

  for (size_t i = 0; i < config->policies_.size(); ++i) {
    const SniPolicy& policy = config->policies_[i];
    if (policy.capture_count > 0) {
      config->globs_.push_back(i);
    } else {
      config->exact_.try_emplace(policy.fqdn_pattern, i);
    }
  }
  return std::shared_ptr<const SniConfig>(std::move(config));
}

std::optional<SniMatch> SniConfig::Match(absl::string_view sni) const {
  if (sni.size() > kMaxNameLength) return std::nullopt;
  const std::string name = absl::AsciiStrToLower(sni);
  // The first exact policy bounds the glob scan: only a glob earlier in the file can beat it.
  size_t best = policies_.size();
  if (auto it = exact_.find(name); it != exact_.end()) best = it->second;
  SniMatch match;
  if (!name.empty()) {  // A glob needs at least one character per `*`.
    for (size_t index : globs_) {
      if (index >= best) break;
      if (GlobMatcher(policies_[index].fqdn_pattern, name).Match(&match.captures)) {
        best = index;
        break;
      }
    }
  }
  if (best == policies_.size()) return std::nullopt;
  match.policy = &policies_[best];
  if (match.policy->capture_count == 0) match.captures.clear();
  return match;
}

std::vector<std::string> SniConfig::Describe() const {
  std::vector<std::string> out;
  out.reserve(policies_.size());
  for (const SniPolicy& policy : policies_) out.push_back(policy.Describe());
  return out;
}

}  // namespace tollgate
