#include "proxy/config/remap.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "proxy/config/config_file.h"

namespace tollgate {
namespace {

// The rule kinds of ATS's remap.config other than `map`, so that they get "unsupported" rather
// than "unknown".
constexpr absl::string_view kAtsRuleKinds[] = {
    "reverse_map",
    "redirect",
    "redirect_temporary",
    "map_with_referer",
    "map_with_recv_port",
    "regex_map",
    "regex_map_with_recv_port",
    "regex_redirect",
    "regex_redirect_temporary",
    "regex_map_with_referer",
};

bool IsAtsRuleKind(absl::string_view word) {
  for (absl::string_view kind : kAtsRuleKinds) {
    if (absl::EqualsIgnoreCase(word, kind)) return true;
  }
  return false;
}

bool IsHostNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
}

struct HostPort {
  std::string host;  // Lowercased, IPv6 without brackets.
  uint16_t port = 0;
};

// ParseAuthority reads "host", "host:port", "[v6]" or "[v6]:port"; |default_port| stands in for
// a missing port. The error text names what was wrong but not the whole URL.
absl::StatusOr<HostPort> ParseAuthority(absl::string_view text, uint16_t default_port) {
  HostPort result;
  absl::string_view host = text;
  absl::string_view port_text;
  bool has_port = false;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError("missing ']' after the IPv6 address");
    }
    host = text.substr(1, close - 1);
    absl::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return absl::InvalidArgumentError("expected ':' after ']'");
      port_text = rest.substr(1);
      has_port = true;
    }
    in6_addr addr;
    if (inet_pton(AF_INET6, std::string(host).c_str(), &addr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("'", host, "' is not an IPv6 address"));
    }
  } else {
    const size_t colon = text.find(':');
    if (colon != absl::string_view::npos) {
      if (text.find(':', colon + 1) != absl::string_view::npos) {
        return absl::InvalidArgumentError("an IPv6 address must be in brackets");
      }
      host = text.substr(0, colon);
      port_text = text.substr(colon + 1);
      has_port = true;
    }
    if (host.empty()) return absl::InvalidArgumentError("the host is empty");
    for (char c : host) {
      if (!IsHostNameChar(c)) {
        return absl::InvalidArgumentError(
            absl::StrCat("the host '", host, "' holds '", absl::string_view(&c, 1), "'"));
      }
    }
  }
  result.host = absl::AsciiStrToLower(host);
  result.port = default_port;
  if (has_port) {
    int port = 0;
    if (port_text.empty() ||
        !std::all_of(port_text.begin(), port_text.end(),
                     [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); }) ||
        !absl::SimpleAtoi(port_text, &port) || port < 1 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("port '", port_text, "' is not a number in 1..65535"));
    }
    result.port = static_cast<uint16_t>(port);
  }
  return result;
}

std::string AuthorityString(absl::string_view scheme, absl::string_view host, uint16_t port) {
  std::string out = absl::StrContains(host, ':') ? absl::StrCat("[", host, "]") : std::string(host);
  if (port != DefaultPortForScheme(scheme)) absl::StrAppend(&out, ":", port);
  return out;
}

std::string BucketKey(absl::string_view scheme, absl::string_view host, uint16_t port) {
  return absl::StrCat(scheme, " ", host, " ", port);
}

// Parser owns the error and warning format.
class Parser {
 public:
  Parser(absl::string_view filename, std::vector<std::string>* warnings)
      : filename_(filename), warnings_(warnings) {}

  absl::Status Error(int line, absl::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat(filename_, ":", line, ": ", message));
  }

  void Warn(int line, absl::string_view message) const {
    if (warnings_ != nullptr)
      warnings_->push_back(absl::StrCat(filename_, ":", line, ": ", message));
  }

  // ParseRule parses one logical line (continuations joined) that is not blank or a comment.
  absl::StatusOr<RemapRule> ParseRule(absl::string_view text, int line) const {
    std::vector<absl::string_view> words =
        absl::StrSplit(text, absl::ByAnyChar(" \t\r\f\v"), absl::SkipEmpty());
    const absl::string_view kind = words[0];
    if (kind.front() == '.') {
      return Error(
          line,
          absl::StrCat("unsupported directive '", kind, "' (only 'map' rules are supported)"));
    }
    if (kind != "map") {
      return Error(line,
                   absl::StrCat(IsAtsRuleKind(kind) ? "unsupported" : "unknown", " rule kind '",
                                kind, "' (only 'map' is supported)"));
    }
    if (words.size() < 3) return Error(line, "expected 'map FROM TO'");
    RemapRule rule;
    rule.line = line;
    for (int i = 1; i <= 2; ++i) {
      absl::StatusOr<RemapUrl> url = RemapUrl::Parse(words[i]);
      if (!url.ok()) return Error(line, url.status().message());
      (i == 1 ? rule.from : rule.to) = *std::move(url);
    }
    for (size_t i = 3; i < words.size(); ++i) {
      const absl::string_view option = words[i];
      if (absl::StartsWith(option, "@plugin=")) {
        Warn(line, absl::StrCat(option, " ignored: remap plugins are not supported"));
      } else if (absl::StartsWith(option, "@pparam=")) {
        // Arguments of an ignored @plugin; its warning covers them.
      } else if (option.front() == '@') {
        return Error(line,
                     absl::StrCat("unsupported option '", option,
                                  "' (ACL filters and other @ options are not supported)"));
      } else {
        return Error(line, absl::StrCat("unexpected '", option, "' after 'map FROM TO'"));
      }
    }
    return rule;
  }

 private:
  std::string filename_;
  std::vector<std::string>* warnings_;
};

}  // namespace

uint16_t DefaultPortForScheme(absl::string_view scheme) {
  if (absl::EqualsIgnoreCase(scheme, "http")) return 80;
  if (absl::EqualsIgnoreCase(scheme, "https")) return 443;
  return 0;
}

absl::StatusOr<RemapUrl> RemapUrl::Parse(absl::string_view text) {
  const auto error = [text](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "': ", what));
  };
  const size_t sep = text.find("://");
  if (sep == absl::string_view::npos) return error("expected SCHEME://HOST[:PORT][/PATH]");
  RemapUrl url;
  url.scheme = absl::AsciiStrToLower(text.substr(0, sep));
  const uint16_t default_port = DefaultPortForScheme(url.scheme);
  if (default_port == 0) {
    return error(absl::StrCat("scheme '", text.substr(0, sep), "' is not http or https"));
  }
  absl::string_view rest = text.substr(sep + 3);
  if (rest.find_first_of("?#") != absl::string_view::npos) {
    return error("a query or fragment is not allowed");
  }
  const size_t slash = rest.find('/');
  const absl::string_view authority = rest.substr(0, slash);
  if (authority.empty()) return error("expected SCHEME://HOST[:PORT][/PATH]: no host");
  absl::StatusOr<HostPort> parsed = ParseAuthority(authority, default_port);
  if (!parsed.ok()) return error(parsed.status().message());
  url.host = std::move(parsed->host);
  url.port = parsed->port;
  url.path = slash == absl::string_view::npos ? "/" : std::string(rest.substr(slash));
  return url;
}

std::string RemapUrl::Authority() const { return AuthorityString(scheme, host, port); }

std::string RemapUrl::ToString() const { return absl::StrCat(scheme, "://", Authority(), path); }

std::string RemapRule::Describe() const {
  return absl::StrCat("line ", line, ": map ", from.ToString(), " -> ", to.ToString());
}

std::string RemapMatch::Url() const {
  return absl::StrCat(origin_scheme, "://",
                      AuthorityString(origin_scheme, origin_host, origin_port), path);
}

absl::StatusOr<std::shared_ptr<const RemapConfig>> RemapConfig::LoadFile(
    const std::string& path, std::vector<std::string>* warnings) {
  absl::StatusOr<std::string> content = ReadConfigFile(path);
  if (!content.ok()) return content.status();
  return Parse(*content, path, warnings);
}

absl::StatusOr<std::shared_ptr<const RemapConfig>> RemapConfig::Parse(
    absl::string_view content, absl::string_view filename_for_errors,
    std::vector<std::string>* warnings) {
  Parser parser(filename_for_errors, warnings);
  std::unique_ptr<RemapConfig> config(new RemapConfig());
  // "scheme host port path" of each FROM -> its line, to refuse duplicates.
  absl::flat_hash_map<std::string, int> seen;

  std::string logical;  // The rule being assembled from continued lines.
  int logical_line = 0;
  int line = 0;
  const std::vector<absl::string_view> lines = absl::StrSplit(content, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    ++line;
    absl::string_view text = lines[i];
    absl::ConsumeSuffix(&text, "\r");
    if (logical.empty()) {
      const absl::string_view trimmed = absl::StripAsciiWhitespace(text);
      if (trimmed.empty() || trimmed.front() == '#') continue;
      logical_line = line;
    }
    const absl::string_view stripped = absl::StripTrailingAsciiWhitespace(text);
    if (absl::EndsWith(stripped, "\\") && i + 1 < lines.size()) {
      absl::StrAppend(&logical, stripped.substr(0, stripped.size() - 1), " ");
      continue;
    }
    absl::string_view last = stripped;
    absl::ConsumeSuffix(&last, "\\");  // On the last line a backslash continues nothing.
    absl::StrAppend(&logical, last);
    const std::string rule_text = std::move(logical);
    logical.clear();
    if (absl::StripAsciiWhitespace(rule_text).empty()) continue;

    absl::StatusOr<RemapRule> rule = parser.ParseRule(rule_text, logical_line);
    if (!rule.ok()) return rule.status();
    const std::string key = absl::StrCat(
        BucketKey(rule->from.scheme, rule->from.host, rule->from.port), " ", rule->from.path);
    auto [it, inserted] = seen.try_emplace(key, logical_line);
    if (!inserted) {
      return parser.Error(logical_line,
                          absl::StrCat("map ", rule->from.ToString(),
                                       ": given twice (first at line ", it->second, ")"));
    }
    config->rules_.push_back(*std::move(rule));
  }

  for (size_t i = 0; i < config->rules_.size(); ++i) {
    const RemapUrl& from = config->rules_[i].from;
    config->by_authority_[BucketKey(from.scheme, from.host, from.port)].push_back(i);
  }
  for (auto& [key, indexes] : config->by_authority_) {
    const std::vector<RemapRule>& rules = config->rules_;
    std::stable_sort(indexes.begin(), indexes.end(), [&rules](size_t a, size_t b) {
      return rules[a].from.path.size() > rules[b].from.path.size();
    });
  }
  return std::shared_ptr<const RemapConfig>(std::move(config));
}

std::optional<RemapMatch> RemapConfig::Match(absl::string_view scheme, absl::string_view host,
                                             absl::string_view path) const {
  const std::string lower_scheme = absl::AsciiStrToLower(scheme);
  const uint16_t default_port = DefaultPortForScheme(lower_scheme);
  if (default_port == 0 || host.empty()) return std::nullopt;
  // The scheme's default port, not the listener's, when the Host has none (see the header).
  absl::StatusOr<HostPort> authority = ParseAuthority(host, default_port);
  if (!authority.ok()) return std::nullopt;
  auto bucket = by_authority_.find(BucketKey(lower_scheme, authority->host, authority->port));
  if (bucket == by_authority_.end()) return std::nullopt;

  const size_t query_at = path.find('?');
  absl::string_view path_only = path.substr(0, query_at);
  const absl::string_view query =
      query_at == absl::string_view::npos ? absl::string_view() : path.substr(query_at);
  if (path_only.empty()) path_only = "/";
  for (size_t index : bucket->second) {  // Longest FROM path first.
    const RemapRule& rule = rules_[index];
    if (!absl::StartsWith(path_only, rule.from.path)) continue;
    RemapMatch match;
    match.rule = &rule;
    match.origin_scheme = rule.to.scheme;
    match.origin_host = rule.to.host;
    match.origin_port = rule.to.port;
    match.path = absl::StrCat(rule.to.path, path_only.substr(rule.from.path.size()), query);
    return match;
  }
  return std::nullopt;
}

std::vector<std::string> RemapConfig::Describe() const {
  std::vector<std::string> out;
  out.reserve(rules_.size());
  for (const RemapRule& rule : rules_) out.push_back(rule.Describe());
  return out;
}

}  // namespace tollgate
