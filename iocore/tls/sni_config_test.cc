#include "iocore/tls/sni_config.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tollgate {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Parse |yaml| as "sni.yaml", collecting warnings into |warnings| (a scratch vector if null).
absl::StatusOr<std::shared_ptr<const SniConfig>> ParseSni(
    absl::string_view yaml, std::vector<std::string>* warnings = nullptr) {
  std::vector<std::string> scratch;
  return SniConfig::Parse(yaml, "sni.yaml", warnings != nullptr ? warnings : &scratch);
}

std::shared_ptr<const SniConfig> MustParse(absl::string_view yaml) {
  absl::StatusOr<std::shared_ptr<const SniConfig>> config = ParseSni(yaml);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : nullptr;
}

std::string ParseError(absl::string_view yaml) {
  absl::StatusOr<std::shared_ptr<const SniConfig>> config = ParseSni(yaml);
  if (config.ok()) return "<parsed without error>";
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << config.status();
  return std::string(config.status().message());
}

IpEndpoint Ep(absl::string_view text) {
  absl::StatusOr<IpEndpoint> ep = IpEndpoint::Parse(text, 0);
  EXPECT_TRUE(ep.ok()) << text << ": " << ep.status();
  return ep.ok() ? *ep : IpEndpoint();
}

IpRange Range(absl::string_view text) {
  absl::StatusOr<IpRange> range = IpRange::Parse(text);
  EXPECT_TRUE(range.ok()) << text << ": " << range.status();
  return *range;
}

// The fqdn of the policy |sni| matches, or "<none>".
std::string MatchedFqdn(const SniConfig& config, absl::string_view sni) {
  std::optional<SniMatch> match = config.Match(sni);
  return match ? match->policy->fqdn_pattern : "<none>";
}

// --- Parsing -------------------------------------------------------------------------------------

TEST(SniConfigParseTest, ReadsEveryKey) {
  std::vector<std::string> warnings;
  absl::StatusOr<std::shared_ptr<const SniConfig>> config = ParseSni(R"(
sni:
  - fqdn: Bar.COM
    forward_route: 127.0.0.1:8080
    ip_allow: 10.0.0.0/8, 192.168.1.1-192.168.1.9
    verify_client: strict
    verify_client_ca_certs: /etc/ca.pem
    valid_tls_versions_in: [TLSv1_2, tlsv1_3]
    http2: off
    host_sni_policy: ENFORCED
    verify_server_policy: permissive
    verify_server_properties: Signature
  - fqdn: foo.com
    tunnel_route: '[::1]:443'
    ip_allow: ['::1', '2001:db8::/32']
    verify_client: MODERATE
    verify_client_ca_certs: {file: /etc/ca.pem, dir: /etc/ca.d}
    valid_tls_versions_in: TLSv1
    http2: TRUE
    host_sni_policy: 1
)",
                                                                     &warnings);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(warnings, IsEmpty());
  ASSERT_EQ((*config)->size(), 2u);

  const SniPolicy& bar = (*config)->policies()[0];
  EXPECT_EQ(bar.fqdn_pattern, "bar.com");
  EXPECT_EQ(bar.line, 3);
  EXPECT_EQ(bar.capture_count, 0);
  EXPECT_FALSE(bar.tunnel_route);
  ASSERT_TRUE(bar.forward_route);
  EXPECT_EQ(bar.forward_route->text, "127.0.0.1:8080");
  EXPECT_EQ(bar.forward_route->host, "127.0.0.1");
  EXPECT_EQ(bar.forward_route->port, 8080);
  ASSERT_EQ(bar.ip_allow.size(), 2u);
  EXPECT_EQ(bar.ip_allow[0].ToString(), "10.0.0.0-10.255.255.255");
  EXPECT_EQ(bar.ip_allow[1].ToString(), "192.168.1.1-192.168.1.9");
  EXPECT_EQ(bar.verify_client, SniPolicy::VerifyClient::kStrict);
  EXPECT_EQ(bar.verify_client_ca_certs, "/etc/ca.pem");
  EXPECT_EQ(bar.tls_versions_mask, kTlsVersion1_2 | kTlsVersion1_3);
  EXPECT_EQ(bar.http2, false);
  EXPECT_EQ(bar.host_sni_policy, SniPolicy::HostSniPolicy::kEnforced);
  EXPECT_EQ(bar.verify_server_policy, "PERMISSIVE");
  EXPECT_EQ(bar.verify_server_properties, "SIGNATURE");

  const SniPolicy& foo = (*config)->policies()[1];
  EXPECT_EQ(foo.line, 13);
  ASSERT_TRUE(foo.tunnel_route);
  EXPECT_EQ(foo.tunnel_route->host, "::1");
  EXPECT_EQ(foo.tunnel_route->port, 443);
  EXPECT_FALSE(foo.forward_route);
  ASSERT_EQ(foo.ip_allow.size(), 2u);
  EXPECT_EQ(foo.ip_allow[0].ToString(), "::1");
  EXPECT_EQ(foo.ip_allow[1].ToString(), "2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
  EXPECT_EQ(foo.verify_client, SniPolicy::VerifyClient::kModerate);
  EXPECT_EQ(foo.verify_client_ca_certs, "");
  EXPECT_EQ(foo.verify_client_ca_file, "/etc/ca.pem");
  EXPECT_EQ(foo.verify_client_ca_dir, "/etc/ca.d");
  EXPECT_EQ(foo.tls_versions_mask, kTlsVersion1_0);
  EXPECT_EQ(foo.http2, true);
  EXPECT_EQ(foo.host_sni_policy, SniPolicy::HostSniPolicy::kPermissive);
  EXPECT_EQ(foo.verify_server_policy, "");

  std::optional<SniMatch> match = (*config)->Match("foo.com");
  ASSERT_TRUE(match);
  absl::StatusOr<SniRoute> route = match->TunnelDestination();
  ASSERT_TRUE(route.ok()) << route.status();
  EXPECT_EQ(route->ToString(), "[::1]:443");
}

TEST(SniConfigParseTest, KeysOmittedStayUnset) {
  std::shared_ptr<const SniConfig> config = MustParse("sni:\n  - fqdn: a.com\n");
  ASSERT_TRUE(config);
  const SniPolicy& p = config->policies()[0];
  EXPECT_FALSE(p.tunnel_route);
  EXPECT_FALSE(p.forward_route);
  EXPECT_THAT(p.ip_allow, IsEmpty());
  EXPECT_FALSE(p.verify_client);
  EXPECT_FALSE(p.tls_versions_mask);
  EXPECT_FALSE(p.http2);
  EXPECT_FALSE(p.host_sni_policy);
}

TEST(SniConfigParseTest, EmptyFileAndEmptyListAreEmptyConfigs) {
  for (absl::string_view yaml : {"", "# only a comment\n", "sni: []\n", "sni:\n", "---\n"}) {
    std::vector<std::string> warnings;
    absl::StatusOr<std::shared_ptr<const SniConfig>> config = ParseSni(yaml, &warnings);
    ASSERT_TRUE(config.ok()) << "'" << yaml << "': " << config.status();
    EXPECT_EQ((*config)->size(), 0u) << yaml;
    EXPECT_FALSE((*config)->Match("a.com")) << yaml;
    EXPECT_FALSE((*config)->Match("")) << yaml;
    EXPECT_THAT(warnings, IsEmpty()) << yaml;
  }
}

TEST(SniConfigParseTest, HttpTwoAcceptsOnOffTrueFalseInAnyCase) {
  const std::pair<const char*, bool> cases[] = {
      {"on", true}, {"ON", true}, {"off", false}, {"Off", false}, {"true", true}, {"false", false},
  };
  for (const auto& [text, want] : cases) {
    std::shared_ptr<const SniConfig> config =
        MustParse(absl::StrCat("sni:\n  - fqdn: a.com\n    http2: ", text, "\n"));
    ASSERT_TRUE(config);
    EXPECT_EQ(config->policies()[0].http2, want) << text;
  }
}

TEST(SniConfigParseTest, HostSniPolicyAcceptsNamesAndNumbers) {
  const std::pair<const char*, SniPolicy::HostSniPolicy> cases[] = {
      {"DISABLED", SniPolicy::HostSniPolicy::kDisabled},
      {"permissive", SniPolicy::HostSniPolicy::kPermissive},
      {"Enforced", SniPolicy::HostSniPolicy::kEnforced},
      {"0", SniPolicy::HostSniPolicy::kDisabled},
      {"1", SniPolicy::HostSniPolicy::kPermissive},
      {"2", SniPolicy::HostSniPolicy::kEnforced},
  };
  for (const auto& [text, want] : cases) {
    std::shared_ptr<const SniConfig> config =
        MustParse(absl::StrCat("sni:\n  - fqdn: a.com\n    host_sni_policy: ", text, "\n"));
    ASSERT_TRUE(config);
    EXPECT_EQ(config->policies()[0].host_sni_policy, want) << text;
  }
}

TEST(SniConfigParseTest, VerifyClientAcceptsEachLevelInAnyCase) {
  const std::pair<const char*, SniPolicy::VerifyClient> cases[] = {
      {"NONE", SniPolicy::VerifyClient::kNone},
      {"none", SniPolicy::VerifyClient::kNone},
      {"Moderate", SniPolicy::VerifyClient::kModerate},
      {"STRICT", SniPolicy::VerifyClient::kStrict},
  };
  for (const auto& [text, want] : cases) {
    std::shared_ptr<const SniConfig> config =
        MustParse(absl::StrCat("sni:\n  - fqdn: a.com\n    verify_client: ", text, "\n"));
    ASSERT_TRUE(config);
    EXPECT_EQ(config->policies()[0].verify_client, want) << text;
  }
}

TEST(SniConfigParseTest, AllTlsVersionsMakeTheFullMask) {
  std::shared_ptr<const SniConfig> config = MustParse(R"(
sni:
  - fqdn: a.com
    valid_tls_versions_in:
      - TLSv1
      - TLSv1_1
      - TLSv1_2
      - TLSv1_3
)");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->policies()[0].tls_versions_mask,
            kTlsVersion1_0 | kTlsVersion1_1 | kTlsVersion1_2 | kTlsVersion1_3);
}

TEST(SniConfigParseTest, DisableH2IsDeprecatedButHonoured) {
  std::vector<std::string> warnings;
  absl::StatusOr<std::shared_ptr<const SniConfig>> config =
      ParseSni("sni:\n  - fqdn: a.com\n    disable_h2: true\n", &warnings);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ((*config)->policies()[0].http2, false);
  EXPECT_THAT(warnings, ElementsAre("sni.yaml:3: disable_h2 is deprecated; use 'http2: off'"));
}

TEST(SniConfigParseTest, DescribeSummarisesEachPolicy) {
  std::shared_ptr<const SniConfig> config = MustParse(R"(
sni:
  - fqdn: '*.match.com'
    tunnel_route: $1.testmatch:4443
    verify_client: STRICT
  - fqdn: ''
    forward_route: 127.0.0.1:80
    http2: off
    ip_allow: 10.0.0.1
)");
  ASSERT_TRUE(config);
  EXPECT_THAT(config->Describe(),
              ElementsAre("line 3: fqdn '*.match.com' tunnel_route $1.testmatch:4443 "
                          "verify_client STRICT",
                          "line 6: no SNI forward_route 127.0.0.1:80 ip_allow 10.0.0.1 http2 off"));
}

// --- Matching ------------------------------------------------------------------------------------

TEST(SniConfigMatchTest, FirstMatchingItemInFileOrderWins) {
  std::shared_ptr<const SniConfig> config = MustParse(R"(
sni:
  - fqdn: '*.early.com'
  - fqdn: a.early.com
  - fqdn: b.late.com
  - fqdn: '*.late.com'
  - fqdn: '*'
)");
  ASSERT_TRUE(config);
  EXPECT_EQ(MatchedFqdn(*config, "a.early.com"), "*.early.com");
  EXPECT_EQ(MatchedFqdn(*config, "b.late.com"), "b.late.com");
  EXPECT_EQ(MatchedFqdn(*config, "c.late.com"), "*.late.com");
  EXPECT_EQ(MatchedFqdn(*config, "other.org"), "*");
}

TEST(SniConfigMatchTest, NamesAndPatternsCompareCaseInsensitively) {
  std::shared_ptr<const SniConfig> config = MustParse(R"(
sni:
  - fqdn: Foo.COM
  - fqdn: '*.Match.Com'
    tunnel_route: $1.testmatch:4443
)");
  ASSERT_TRUE(config);
  EXPECT_EQ(MatchedFqdn(*config, "foo.com"), "foo.com");
  EXPECT_EQ(MatchedFqdn(*config, "FOO.com"), "foo.com");
  std::optional<SniMatch> match = config->Match("WWW.MATCH.COM");
  ASSERT_TRUE(match);
  EXPECT_THAT(match->captures, ElementsAre("www"));
  EXPECT_EQ(match->TunnelDestination()->ToString(), "www.testmatch:4443");
}

TEST(SniConfigMatchTest, EmptyFqdnMatchesOnlyConnectionsWithoutSni) {
  std::shared_ptr<const SniConfig> config = MustParse(R"(
sni:
  - fqdn: ''
    forward_route: 127.0.0.1:81
  - fqdn: '*'
    forward_route: 127.0.0.1:82
)");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->Match("")->policy->line, 3);
  EXPECT_EQ(config->Match("a.com")->policy->line, 5);

  std::shared_ptr<const SniConfig> only_star = MustParse("sni:\n  - fqdn: '*'\n");
  ASSERT_TRUE(only_star);
  EXPECT_FALSE(only_star->Match(""));  // `*` needs at least one character.
  EXPECT_TRUE(only_star->Match("x"));
}

TEST(SniConfigMatchTest, StarMatchesOneOrMoreCharactersIncludingDots) {
  std::shared_ptr<const SniConfig> config = MustParse("sni:\n  - fqdn: '*.match.com'\n");
  ASSERT_TRUE(config);
  std::optional<SniMatch> match = config->Match("a.b.match.com");
  ASSERT_TRUE(match);
  EXPECT_THAT(match->captures, ElementsAre("a.b"));
  EXPECT_TRUE(config->Match("x.match.com"));
  EXPECT_FALSE(config->Match("match.com"));
  EXPECT_FALSE(config->Match(".match.com"));
  EXPECT_FALSE(config->Match("xmatch.com"));
  EXPECT_FALSE(config->Match("a.match.com.evil"));

  std::shared_ptr<const SniConfig> middle = MustParse("sni:\n  - fqdn: 'bob.*.com'\n");
  ASSERT_TRUE(middle);
  EXPECT_THAT(middle->Match("bob.x.y.com")->captures, ElementsAre("x.y"));
  EXPECT_FALSE(middle->Match("bob..com"));
  EXPECT_FALSE(middle->Match("bob.com"));
}

TEST(SniConfigMatchTest, MatchDotComTunnelRouteSubstitutesTheCapture) {
  std::shared_ptr<const SniConfig> config = MustParse(R"(
sni:
  - fqdn: '*.match.com'
    tunnel_route: $1.testmatch:4443
)");
  ASSERT_TRUE(config);
  std::optional<SniMatch> match = config->Match("abc.match.com");
  ASSERT_TRUE(match);
  EXPECT_THAT(match->captures, ElementsAre("abc"));
  absl::StatusOr<SniRoute> route = match->TunnelDestination();
  ASSERT_TRUE(route.ok()) << route.status();
  EXPECT_EQ(route->host, "abc.testmatch");
  EXPECT_EQ(route->port, 4443);
  EXPECT_EQ(route->ToString(), "abc.testmatch:4443");
}

TEST(SniConfigMatchTest, TwoStarRouteSubstitutesCapturesInAnyOrder) {
  std::shared_ptr<const SniConfig> config = MustParse(R"(
sni:
  - fqdn: '*.ok.*.com'
    tunnel_route: $2.example.$1:443
)");
  ASSERT_TRUE(config);
  std::optional<SniMatch> match = config->Match("foo.ok.bar.com");
  ASSERT_TRUE(match);
  EXPECT_THAT(match->captures, ElementsAre("foo", "bar"));
  EXPECT_EQ(match->TunnelDestination()->ToString(), "bar.example.foo:443");
  EXPECT_FALSE(config->Match("foo.ok.com"));
}

TEST(SniConfigMatchTest, EarlierStarTakesTheLongestText) {
  std::shared_ptr<const SniConfig> config = MustParse("sni:\n  - fqdn: '*.ok.*.com'\n");
  ASSERT_TRUE(config);
  std::optional<SniMatch> match = config->Match("a.ok.b.ok.c.com");
  ASSERT_TRUE(match);
  EXPECT_THAT(match->captures, ElementsAre("a.ok.b", "c"));
}

TEST(SniConfigMatchTest, ForwardRouteSubstitutesCaptures) {
  std::shared_ptr<const SniConfig> config = MustParse(R"(
sni:
  - fqdn: 'api-*.example.com'
    forward_route: backend-$1.internal:8080
)");
  ASSERT_TRUE(config);
  std::optional<SniMatch> match = config->Match("api-eu.example.com");
  ASSERT_TRUE(match);
  EXPECT_EQ(match->ForwardDestination()->ToString(), "backend-eu.internal:8080");
  EXPECT_EQ(match->TunnelDestination().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SniConfigMatchTest, DestinationRefusesCaptureThatIsNotAHostName) {
  std::shared_ptr<const SniConfig> config = MustParse(R"(
sni:
  - fqdn: '*.match.com'
    tunnel_route: $1.testmatch:4443
)");
  ASSERT_TRUE(config);
  for (absl::string_view sni : {"evil:22/x.match.com", "a..b.match.com", "a b.match.com"}) {
    std::optional<SniMatch> match = config->Match(sni);
    ASSERT_TRUE(match) << sni;
    absl::StatusOr<SniRoute> route = match->TunnelDestination();
    EXPECT_EQ(route.status().code(), absl::StatusCode::kInvalidArgument) << sni;
    EXPECT_THAT(route.status().message(), HasSubstr("not a host name")) << sni;
  }
}

TEST(SniConfigMatchTest, RouteWithoutCapturesIsReturnedAsWritten) {
  std::shared_ptr<const SniConfig> config = MustParse(R"(
sni:
  - fqdn: foo.com
    tunnel_route: localhost:4443
)");
  ASSERT_TRUE(config);
  std::optional<SniMatch> match = config->Match("foo.com");
  ASSERT_TRUE(match);
  EXPECT_THAT(match->captures, IsEmpty());
  EXPECT_EQ(match->TunnelDestination()->ToString(), "localhost:4443");
}

TEST(SniConfigMatchTest, NameLongerThan255BytesMatchesNothing) {
  std::shared_ptr<const SniConfig> config = MustParse("sni:\n  - fqdn: '*'\n");
  ASSERT_TRUE(config);
  EXPECT_TRUE(config->Match(std::string(255, 'a')));
  EXPECT_FALSE(config->Match(std::string(256, 'a')));
}

TEST(SniConfigMatchTest, ManyStarsAgainstALongNameFinishQuickly) {
  std::shared_ptr<const SniConfig> config = MustParse("sni:\n  - fqdn: '*a*a*a*a*a*a*a*a*b'\n");
  ASSERT_TRUE(config);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(config->Match(std::string(255, 'a')));
  EXPECT_TRUE(config->Match(std::string(254, 'a') + "b"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

// --- Errors and warnings -------------------------------------------------------------------------

TEST(SniConfigErrorTest, BadVerifyClientNamesFileLineAndChoices) {
  EXPECT_EQ(ParseError(R"(
sni:
  - fqdn: a.com
    http2: on
  - fqdn: b.com
    verify_client: SOMETIMES
)"),
            "sni.yaml:6: verify_client: 'SOMETIMES' is not one of NONE, MODERATE, STRICT");
}

TEST(SniConfigErrorTest, MissingFqdnIsRequired) {
  EXPECT_EQ(ParseError("sni:\n  - fqdn: a.com\n  - tunnel_route: a:1\n"),
            "sni.yaml:3: fqdn is required");
}

TEST(SniConfigErrorTest, BadValueOfEachKeyNamesFileLineAndKey) {
  struct Case {
    const char* item;  // Lines after "  - fqdn: a.com\n" (the item starts on line 2).
    const char* want;
  };
  const Case cases[] = {
      {"    fqdn2: x\n    tunnel_route: nohost\n",
       "sni.yaml:4: tunnel_route: 'nohost' is not host:port"},
      {"    tunnel_route: a.com:0\n", "sni.yaml:3: tunnel_route: 'a.com:0' has port '0'"},
      {"    tunnel_route: a.com:65536\n", "sni.yaml:3: tunnel_route: 'a.com:65536' has port"},
      {"    tunnel_route: a.com:http\n", "sni.yaml:3: tunnel_route: 'a.com:http' has port"},
      {"    tunnel_route: 'a.com:'\n", "sni.yaml:3: tunnel_route: 'a.com:' has port"},
      {"    tunnel_route: ::1:443\n", "sni.yaml:3: tunnel_route: '::1:443' has an IPv6 address"},
      {"    tunnel_route: '[a.com]:443'\n", "sni.yaml:3: tunnel_route: '[a.com]:443' holds"},
      {"    tunnel_route: '[::1]443'\n", "sni.yaml:3: tunnel_route: '[::1]443' is not"},
      {"    tunnel_route: 'a b:443'\n", "sni.yaml:3: tunnel_route: 'a b:443' has host 'a b'"},
      {"    tunnel_route: ':443'\n", "sni.yaml:3: tunnel_route: ':443' has host ''"},
      {"    tunnel_route: [a, b]\n", "sni.yaml:3: tunnel_route: expected a value, got a list"},
      {"    forward_route: $x.a:1\n", "sni.yaml:3: forward_route: '$x.a:1' has a '$'"},
      {"    forward_route:\n", "sni.yaml:3: forward_route: expected a value, got nothing"},
      {"    ip_allow: 10.0.0.0/33\n", "sni.yaml:3: ip_allow: '10.0.0.0/33' has a prefix length"},
      {"    ip_allow: 10.0.0.300\n", "sni.yaml:3: ip_allow: '10.0.0.300' is not an IP address"},
      {"    ip_allow: 10.0.0.9-10.0.0.1\n", "sni.yaml:3: ip_allow: '10.0.0.9-10.0.0.1' has its"},
      {"    ip_allow: 10.0.0.1-::1\n", "sni.yaml:3: ip_allow: '10.0.0.1-::1' mixes"},
      {"    ip_allow: '10.0.0.1,,10.0.0.2'\n", "sni.yaml:3: ip_allow: '10.0.0.1,,10.0.0.2' has an"},
      {"    ip_allow: []\n", "sni.yaml:3: ip_allow: no addresses given"},
      {"    ip_allow:\n      - 10.0.0.1\n      - bogus\n", "sni.yaml:5: ip_allow: 'bogus' is not"},
      {"    ip_allow: {a: b}\n", "sni.yaml:3: ip_allow: expected addresses, got a map"},
      {"    verify_client: [STRICT]\n", "sni.yaml:3: verify_client: expected a value, got a list"},
      {"    verify_client_ca_certs: ''\n", "sni.yaml:3: verify_client_ca_certs: the path is empty"},
      {"    verify_client_ca_certs: {path: x}\n",
       "sni.yaml:3: verify_client_ca_certs: unknown key 'path' (expected file or dir)"},
      {"    verify_client_ca_certs: [x]\n", "sni.yaml:3: verify_client_ca_certs: expected a path"},
      {"    valid_tls_versions_in: [TLSv1_2, TLSv1_4]\n",
       "sni.yaml:3: valid_tls_versions_in: 'TLSv1_4' is not one of TLSv1, TLSv1_1, TLSv1_2, "
       "TLSv1_3"},
      {"    valid_tls_versions_in: []\n", "sni.yaml:3: valid_tls_versions_in: no versions given"},
      {"    http2: maybe\n", "sni.yaml:3: http2: 'maybe' is not one of on, off, true, false"},
      {"    host_sni_policy: 3\n",
       "sni.yaml:3: host_sni_policy: '3' is not one of DISABLED, PERMISSIVE, ENFORCED, 0, 1, 2"},
      {"    verify_server_policy: STRICT\n",
       "sni.yaml:3: verify_server_policy: 'STRICT' is not one of DISABLED, PERMISSIVE, ENFORCED"},
      {"    verify_server_properties: SOME\n",
       "sni.yaml:3: verify_server_properties: 'SOME' is not one of NONE, SIGNATURE, NAME, ALL"},
      {"    http2: on\n    disable_h2: true\n",
       "sni.yaml:4: http2 and disable_h2 cannot both be given"},
  };
  for (const Case& c : cases) {
    const std::string yaml = absl::StrCat("sni:\n  - fqdn: a.com\n", c.item);
    EXPECT_THAT(ParseError(yaml), HasSubstr(c.want)) << yaml;
  }
}

TEST(SniConfigErrorTest, BadFqdnNamesFileLineAndWhatIsWrong) {
  EXPECT_EQ(ParseError("sni:\n  - fqdn: [a.com]\n"),
            "sni.yaml:2: fqdn: expected a value, got a list");
  EXPECT_EQ(ParseError("sni:\n  - fqdn:\n"), "sni.yaml:2: fqdn: expected a value, got nothing");
  EXPECT_THAT(ParseError("sni:\n  - fqdn: 'a b.com'\n"),
              HasSubstr("sni.yaml:2: fqdn: 'a b.com': ' ' is not allowed"));
  EXPECT_THAT(ParseError("sni:\n  - fqdn: 'foo.com:443'\n"),
              HasSubstr("sni.yaml:2: fqdn: 'foo.com:443': ':' is not allowed"));
  EXPECT_EQ(ParseError("sni:\n  - fqdn: '**.com'\n"),
            "sni.yaml:2: fqdn: '**.com' has two '*' in a row");
  EXPECT_EQ(ParseError("sni:\n  - fqdn: '*.*.*.*.*.*.*.*.*.*.com'\n"),
            "sni.yaml:2: fqdn: '*.*.*.*.*.*.*.*.*.*.com' has 10 '*'; at most 9 are allowed");
  EXPECT_THAT(ParseError(absl::StrCat("sni:\n  - fqdn: ", std::string(256, 'a'), "\n")),
              HasSubstr("is longer than 255 bytes"));
}

TEST(SniConfigErrorTest, BadShapeIsRejectedWithLine) {
  EXPECT_EQ(ParseError("- fqdn: a.com\n"),
            "sni.yaml:1: expected a map with an 'sni' key at the top, got a list");
  EXPECT_EQ(ParseError("sni: a.com\n"), "sni.yaml:1: sni: expected a list of maps, got a value");
  EXPECT_EQ(ParseError("sni:\n  - fqdn: a.com\n  - b.com\n"),
            "sni.yaml:3: sni: each item must be a map with an fqdn key, got a value");
  EXPECT_EQ(ParseError("sni: []\nsni: []\n"), "sni.yaml:2: sni: given twice");
  EXPECT_EQ(ParseError("sni: []\n---\nsni: []\n"), "sni.yaml:3: only one YAML document is allowed");
}

// yaml-cpp 0.7's LoadAll never returned on these (found by //tests/fuzz/config:sni_config_fuzz).
TEST(SniConfigErrorTest, StrayTopLevelCommaIsAnErrorNotAHang) {
  EXPECT_EQ(ParseError(","), "sni.yaml:1: yaml: unexpected character outside any node");
  EXPECT_EQ(ParseError(", 10.0.0.1\nsni:\n"),
            "sni.yaml:1: yaml: unexpected character outside any node");
  EXPECT_EQ(ParseError("sni: []\n---\n,\n"), "sni.yaml:3: only one YAML document is allowed");
}

TEST(SniConfigErrorTest, TunnelAndForwardRouteTogetherAreRejected) {
  EXPECT_EQ(ParseError(R"(
sni:
  - fqdn: a.com
    tunnel_route: a:1
    forward_route: b:2
)"),
            "sni.yaml:5: tunnel_route and forward_route cannot both be given in one item");
}

TEST(SniConfigErrorTest, KeyGivenTwiceInOneItemIsRejected) {
  EXPECT_EQ(ParseError("sni:\n  - fqdn: a.com\n    http2: on\n    http2: off\n"),
            "sni.yaml:4: http2: given twice in one item (first at line 3)");
}

TEST(SniConfigErrorTest, CaptureBeyondTheStarsIsRejected) {
  EXPECT_EQ(
      ParseError(R"(
sni:
  - fqdn: '*.ok.*.com'
    tunnel_route: $3.example.$1:443
)"),
      "sni.yaml:4: tunnel_route: '$3.example.$1:443' uses $3 but fqdn '*.ok.*.com' has 2 '*'");
  EXPECT_THAT(ParseError("sni:\n  - fqdn: foo.com\n    forward_route: $1.x:80\n"),
              HasSubstr("sni.yaml:3: forward_route: '$1.x:80' uses $1 but fqdn 'foo.com' has 0"));
  EXPECT_THAT(ParseError("sni:\n  - fqdn: '*.com'\n    forward_route: $0.x:80\n"),
              HasSubstr("has a '$' that is not followed by a digit 1..9"));
}

TEST(SniConfigErrorTest, YamlSyntaxErrorReportsItsLine) {
  EXPECT_EQ(ParseError(R"(sni:
  - fqdn: a.com
    tunnel_route: a:1
  - fqdn: [b.com
    http2: on
)"),
            "sni.yaml:5: yaml: end of sequence flow not found");
  EXPECT_EQ(ParseError("sni:\n  - fqdn: a.com\n   bad: : indent\n"),
            "sni.yaml:3: yaml: end of sequence not found");
  EXPECT_EQ(ParseError("sni:\n  - fqdn: a.com\n\thttp2: on\n"),
            "sni.yaml:3: yaml: illegal tab when looking for indentation");
}

TEST(SniConfigErrorTest, OneBadItemRejectsTheWholeFile) {
  std::vector<std::string> warnings;
  absl::StatusOr<std::shared_ptr<const SniConfig>> config =
      ParseSni("sni:\n  - fqdn: a.com\n  - fqdn: b.com\n    http2: sometimes\n", &warnings);
  EXPECT_EQ(config.status().message(),
            "sni.yaml:4: http2: 'sometimes' is not one of on, off, true, false");
}

TEST(SniConfigWarningTest, UnknownKeyWarnsWithFileLineAndKey) {
  std::vector<std::string> warnings;
  absl::StatusOr<std::shared_ptr<const SniConfig>> config = ParseSni(R"(
sni:
  - fqdn: a.com
    http2: on
    client_cert: /x.pem
extra: 1
)",
                                                                     &warnings);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(warnings,
              ElementsAre("sni.yaml:5: unknown key 'client_cert' ignored",
                          "sni.yaml:6: unknown top-level key 'extra' ignored"));
  EXPECT_EQ((*config)->policies()[0].http2, true);
}

TEST(SniConfigWarningTest, PartialBlindRouteWarnsAndIsIgnored) {
  std::vector<std::string> warnings;
  absl::StatusOr<std::shared_ptr<const SniConfig>> config =
      ParseSni("sni:\n  - fqdn: a.com\n    partial_blind_route: b.com:443\n", &warnings);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(warnings,
              ElementsAre("sni.yaml:3: partial_blind_route is not supported; the key "
                          "is ignored"));
  const SniPolicy& p = (*config)->policies()[0];
  EXPECT_FALSE(p.tunnel_route);
  EXPECT_FALSE(p.forward_route);
}

TEST(SniConfigWarningTest, RepeatedFqdnWarnsThatTheLaterItemIsNeverUsed) {
  std::vector<std::string> warnings;
  absl::StatusOr<std::shared_ptr<const SniConfig>> config =
      ParseSni("sni:\n  - fqdn: a.com\n  - fqdn: A.com\n    http2: off\n", &warnings);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(warnings,
              ElementsAre("sni.yaml:3: fqdn 'A.com' is also at line 2, which wins; "
                          "this item is never used"));
  EXPECT_EQ((*config)->Match("a.com")->policy->line, 2);
}

TEST(SniConfigWarningTest, NullWarningVectorLogsInsteadOfCrashing) {
  absl::StatusOr<std::shared_ptr<const SniConfig>> config =
      SniConfig::Parse("sni:\n  - fqdn: a.com\n    bogus: 1\n", "sni.yaml", nullptr);
  EXPECT_TRUE(config.ok()) << config.status();
}

// --- LoadFile ------------------------------------------------------------------------------------

TEST(SniConfigLoadFileTest, MissingFileErrorNamesThePath) {
  absl::StatusOr<std::shared_ptr<const SniConfig>> config =
      SniConfig::LoadFile("/nonexistent/dir/sni.yaml", nullptr);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(config.status().message(), HasSubstr("/nonexistent/dir/sni.yaml: cannot read: "));
}

TEST(SniConfigLoadFileTest, ReadsTheFileAndNamesItInErrors) {
  const char* tmp = getenv("TEST_TMPDIR");
  const std::string dir = tmp != nullptr ? tmp : "/tmp";
  const std::string good = dir + "/good_sni.yaml";
  const std::string bad = dir + "/bad_sni.yaml";
  std::ofstream(good) << "sni:\n  - fqdn: a.com\n    tunnel_route: b.com:443\n";
  std::ofstream(bad) << "sni:\n  - fqdn: a.com\n    verify_client: SOMETIMES\n";

  std::vector<std::string> warnings;
  absl::StatusOr<std::shared_ptr<const SniConfig>> config = SniConfig::LoadFile(good, &warnings);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ((*config)->size(), 1u);
  EXPECT_EQ((*config)->Match("a.com")->TunnelDestination()->ToString(), "b.com:443");

  absl::StatusOr<std::shared_ptr<const SniConfig>> failed = SniConfig::LoadFile(bad, &warnings);
  EXPECT_EQ(failed.status().message(),
            bad + ":3: verify_client: 'SOMETIMES' is not one of NONE, MODERATE, STRICT");

  absl::StatusOr<std::shared_ptr<const SniConfig>> directory = SniConfig::LoadFile(dir, nullptr);
  EXPECT_FALSE(directory.ok());
  EXPECT_THAT(directory.status().message(), HasSubstr(dir + ": cannot read: "));
  unlink(good.c_str());
  unlink(bad.c_str());
}

// --- ip_allow ------------------------------------------------------------------------------------

TEST(IpRangeTest, CidrBlocksCoverTheirAddresses) {
  IpRange v4 = Range("10.1.2.3/8");  // Host bits are ignored.
  EXPECT_EQ(v4.ToString(), "10.0.0.0-10.255.255.255");
  EXPECT_TRUE(v4.Contains(Ep("10.0.0.0")));
  EXPECT_TRUE(v4.Contains(Ep("10.255.255.255")));
  EXPECT_FALSE(v4.Contains(Ep("11.0.0.0")));
  EXPECT_FALSE(v4.Contains(Ep("9.255.255.255")));

  IpRange odd = Range("192.168.1.64/27");
  EXPECT_EQ(odd.ToString(), "192.168.1.64-192.168.1.95");

  EXPECT_EQ(Range("0.0.0.0/0").ToString(), "0.0.0.0-255.255.255.255");
  EXPECT_EQ(Range("1.2.3.4/32").ToString(), "1.2.3.4");
  EXPECT_EQ(Range("::1/128").ToString(), "::1");
  IpRange v6 = Range("2001:db8::/32");
  EXPECT_TRUE(v6.Contains(Ep("[2001:db8:1::5]:443")));
  EXPECT_FALSE(v6.Contains(Ep("[2001:db9::]:443")));
}

TEST(IpRangeTest, DashRangesAreInclusive) {
  IpRange r = Range(" 10.0.0.5 - 10.0.0.9 ");
  EXPECT_FALSE(r.Contains(Ep("10.0.0.4")));
  EXPECT_TRUE(r.Contains(Ep("10.0.0.5")));
  EXPECT_TRUE(r.Contains(Ep("10.0.0.9:80")));
  EXPECT_FALSE(r.Contains(Ep("10.0.0.10")));
  IpRange v6 = Range("::1-::9");
  EXPECT_TRUE(v6.Contains(Ep("[::5]:1")));
  EXPECT_FALSE(v6.Contains(Ep("[::a]:1")));
}

TEST(IpRangeTest, FamiliesMatchThroughIpv4MappedAddresses) {
  IpRange v4 = Range("10.0.0.0/8");
  EXPECT_TRUE(v4.Contains(Ep("[::ffff:10.1.2.3]:443")));
  EXPECT_FALSE(v4.Contains(Ep("[::ffff:11.1.2.3]:443")));
  EXPECT_FALSE(v4.Contains(Ep("[::a01:203]:443")));  // IPv4-compatible, not mapped.
  EXPECT_FALSE(v4.Contains(Ep("[::1]:443")));

  IpRange mapped = Range("::ffff:10.0.0.0/104");
  EXPECT_TRUE(mapped.Contains(Ep("10.1.2.3")));
  EXPECT_FALSE(mapped.Contains(Ep("11.1.2.3")));

  IpRange loopback6 = Range("::1");
  EXPECT_FALSE(loopback6.Contains(Ep("127.0.0.1")));
  EXPECT_FALSE(v4.Contains(IpEndpoint()));
}

TEST(IpRangeTest, ParseRejectsMalformedText) {
  for (absl::string_view text :
       {"", "10.0.0", "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/-1", "::/129", "1.2.3.4-", "-1.2.3.4",
        "[::1]", "10.0.0.0/8/8", "a.b.c.d", "10.0.0.0/0008"}) {
    EXPECT_FALSE(IpRange::Parse(text).ok()) << "'" << text << "'";
  }
}

TEST(IpAllowedTest, EmptyListAllowsEveryone) {
  EXPECT_TRUE(IpAllowed({}, Ep("1.2.3.4")));
  EXPECT_TRUE(IpAllowed({}, Ep("[::1]:1")));
}

TEST(IpAllowedTest, ListFormsFromSniYamlAllowOnlyTheirClients) {
  std::shared_ptr<const SniConfig> config = MustParse(R"(
sni:
  - fqdn: string.com
    ip_allow: 127.0.0.1, 10.0.0.0/8,192.168.0.1-192.168.0.9 , ::1/128
  - fqdn: list.com
    ip_allow:
      - 127.0.0.1
      - 10.0.0.0/8, 192.168.0.1-192.168.0.9
      - '::1/128'
)");
  ASSERT_TRUE(config);
  for (const char* fqdn : {"string.com", "list.com"}) {
    std::optional<SniMatch> match = config->Match(fqdn);
    ASSERT_TRUE(match) << fqdn;
    const std::vector<IpRange>& allow = match->policy->ip_allow;
    EXPECT_EQ(allow.size(), 4u) << fqdn;
    EXPECT_TRUE(IpAllowed(allow, Ep("127.0.0.1:5000"))) << fqdn;
    EXPECT_TRUE(IpAllowed(allow, Ep("10.9.8.7"))) << fqdn;
    EXPECT_TRUE(IpAllowed(allow, Ep("192.168.0.9"))) << fqdn;
    EXPECT_TRUE(IpAllowed(allow, Ep("[::1]:5000"))) << fqdn;
    EXPECT_TRUE(IpAllowed(allow, Ep("[::ffff:127.0.0.1]:5000"))) << fqdn;
    EXPECT_FALSE(IpAllowed(allow, Ep("127.0.0.2"))) << fqdn;
    EXPECT_FALSE(IpAllowed(allow, Ep("192.168.0.10"))) << fqdn;
    EXPECT_FALSE(IpAllowed(allow, Ep("[::2]:5000"))) << fqdn;
    EXPECT_FALSE(IpAllowed(allow, IpEndpoint())) << fqdn;
  }
}

}  // namespace
}  // namespace tollgate
