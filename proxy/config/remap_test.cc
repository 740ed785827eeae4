#include "proxy/config/remap.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tollgate {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::shared_ptr<const RemapConfig> MustParse(absl::string_view text,
                                             std::vector<std::string>* warnings = nullptr) {
  absl::StatusOr<std::shared_ptr<const RemapConfig>> config =
      RemapConfig::Parse(text, "remap.config", warnings);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : nullptr;
}

std::string ErrorOf(absl::string_view text) {
  absl::StatusOr<std::shared_ptr<const RemapConfig>> config =
      RemapConfig::Parse(text, "remap.config", nullptr);
  EXPECT_FALSE(config.ok()) << text;
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(config.status().message());
}

// MatchUrl returns the target URL, or "none".
std::string MatchUrl(const RemapConfig& config, absl::string_view scheme, absl::string_view host,
                     absl::string_view path) {
  std::optional<RemapMatch> match = config.Match(scheme, host, path);
  return match ? match->Url() : "none";
}

TEST(RemapUrlTest, ParsesPartsAndAppliesDefaults) {
  absl::StatusOr<RemapUrl> url = RemapUrl::Parse("HTTPS://WWW.Example.COM");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->scheme, "https");
  EXPECT_EQ(url->host, "www.example.com");
  EXPECT_EQ(url->port, 443);
  EXPECT_EQ(url->path, "/");
  EXPECT_EQ(url->ToString(), "https://www.example.com/");

  url = RemapUrl::Parse("http://[::1]:8080/a/b");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 8080);
  EXPECT_EQ(url->path, "/a/b");
  EXPECT_EQ(url->Authority(), "[::1]:8080");
}

TEST(RemapUrlTest, RejectsMalformedUrls) {
  EXPECT_THAT(RemapUrl::Parse("http//a.test/").status().message(),
              HasSubstr("expected SCHEME://HOST[:PORT][/PATH]"));
  EXPECT_THAT(RemapUrl::Parse("ftp://a.test/").status().message(),
              HasSubstr("scheme 'ftp' is not http or https"));
  EXPECT_THAT(RemapUrl::Parse("http:///x").status().message(), HasSubstr("no host"));
  EXPECT_THAT(RemapUrl::Parse("http://a.test:0/").status().message(),
              HasSubstr("port '0' is not a number in 1..65535"));
  EXPECT_THAT(RemapUrl::Parse("http://a.test:/").status().message(), HasSubstr("port ''"));
  EXPECT_THAT(RemapUrl::Parse("http://::1/").status().message(), HasSubstr("in brackets"));
  EXPECT_THAT(RemapUrl::Parse("http://u@a.test/").status().message(), HasSubstr("holds '@'"));
  EXPECT_THAT(RemapUrl::Parse("http://a.test/x?y=1").status().message(),
              HasSubstr("a query or fragment is not allowed"));
}

TEST(RemapMatchTest, ExactHostMatchAppendsThePath) {
  auto config = MustParse("map http://a.test/ http://origin.internal:8080/\n");
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(MatchUrl(*config, "http", "a.test", "/x/y?q=1"), "http://origin.internal:8080/x/y?q=1");
  std::optional<RemapMatch> match = config->Match("http", "a.test", "/");
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->origin_scheme, "http");
  EXPECT_EQ(match->origin_host, "origin.internal");
  EXPECT_EQ(match->origin_port, 8080);
  EXPECT_EQ(match->path, "/");
  EXPECT_EQ(match->rule->line, 1);
  EXPECT_EQ(MatchUrl(*config, "http", "b.test", "/"), "none");
}

TEST(RemapMatchTest, LongestPathPrefixWins) {
  auto config = MustParse(
      "map http://a.test/ http://root/\n"
      "map http://a.test/img/ https://cdn/static/\n"
      "map http://a.test/img/big/ http://big:81/b/\n");
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(MatchUrl(*config, "http", "a.test", "/index.html"), "http://root/index.html");
  EXPECT_EQ(MatchUrl(*config, "http", "a.test", "/img/a.png?v=2"), "https://cdn/static/a.png?v=2");
  EXPECT_EQ(MatchUrl(*config, "http", "a.test", "/img/big/x"), "http://big:81/b/x");
  // A plain string prefix, as in ATS: /img (no slash) does not reach the /img/ rule.
  EXPECT_EQ(MatchUrl(*config, "http", "a.test", "/img"), "http://root/img");
}

TEST(RemapMatchTest, PrefixIsAPlainStringPrefix) {
  auto config = MustParse("map http://a.test/img http://o/pics\n");
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(MatchUrl(*config, "http", "a.test", "/imgx"), "http://o/picsx");
  EXPECT_EQ(MatchUrl(*config, "http", "a.test", "/im"), "none");
}

TEST(RemapMatchTest, HostWithoutPortMeansTheSchemesDefaultPort) {
  auto config = MustParse(
      "map https://a.test/ http://tls-origin/\n"
      "map http://a.test/ http://plain-origin/\n"
      "map https://a.test:8443/ http://port-origin/\n");
  ASSERT_NE(config, nullptr);
  // A TLS request with `Host: a.test` (whatever listener port it came in on) is port 443.
  EXPECT_EQ(MatchUrl(*config, "https", "a.test", "/"), "http://tls-origin/");
  EXPECT_EQ(MatchUrl(*config, "https", "a.test:443", "/"), "http://tls-origin/");
  EXPECT_EQ(MatchUrl(*config, "http", "a.test", "/"), "http://plain-origin/");
  EXPECT_EQ(MatchUrl(*config, "http", "a.test:80", "/"), "http://plain-origin/");
  EXPECT_EQ(MatchUrl(*config, "https", "a.test:8443", "/"), "http://port-origin/");
  EXPECT_EQ(MatchUrl(*config, "http", "a.test:8443", "/"), "none");
  EXPECT_EQ(MatchUrl(*config, "https", "a.test:9443", "/"), "none");
}

TEST(RemapMatchTest, HostAndSchemeCompareCaseInsensitively) {
  auto config = MustParse("map https://WWW.Example.com/ http://o/\n");
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(MatchUrl(*config, "HTTPS", "www.EXAMPLE.com", "/a"), "http://o/a");
}

TEST(RemapMatchTest, PathIsCaseSensitive) {
  auto config = MustParse("map http://a.test/Img/ http://o/\n");
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(MatchUrl(*config, "http", "a.test", "/img/x"), "none");
}

TEST(RemapMatchTest, Ipv6HostsMatch) {
  auto config = MustParse("map http://[::1]:8080/ http://[2001:db8::1]/\n");
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(MatchUrl(*config, "http", "[::1]:8080", "/a"), "http://[2001:db8::1]/a");
  EXPECT_EQ(MatchUrl(*config, "http", "[::1]", "/a"), "none");
}

TEST(RemapMatchTest, MalformedHostMatchesNothing) {
  auto config = MustParse("map http://a.test/ http://o/\n");
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(MatchUrl(*config, "http", "", "/"), "none");
  EXPECT_EQ(MatchUrl(*config, "http", "a.test:x", "/"), "none");
  EXPECT_EQ(MatchUrl(*config, "http", "a.test:99999", "/"), "none");
  EXPECT_EQ(MatchUrl(*config, "ftp", "a.test", "/"), "none");
}

TEST(RemapMatchTest, EmptyPathIsRoot) {
  auto config = MustParse("map http://a.test/ http://o/base/\n");
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(MatchUrl(*config, "http", "a.test", ""), "http://o/base/");
  EXPECT_EQ(MatchUrl(*config, "http", "a.test", "?x=1"), "http://o/base/?x=1");
}

TEST(RemapParseTest, CommentsBlankLinesAndContinuations) {
  std::vector<std::string> warnings;
  auto config = MustParse(
      "# header\r\n"
      "\n"
      "   # indented comment\n"
      "map http://a.test/ \\\n"
      "    http://o/\n"
      "map\thttp://b.test/\thttp://p/\r\n",
      &warnings);
  ASSERT_NE(config, nullptr);
  EXPECT_THAT(warnings, IsEmpty());
  ASSERT_EQ(config->size(), 2u);
  EXPECT_EQ(config->rules()[0].line, 4);
  EXPECT_EQ(config->rules()[1].line, 6);
  EXPECT_THAT(config->Describe(),
              ElementsAre("line 4: map http://a.test/ -> http://o/",
                          "line 6: map http://b.test/ -> http://p/"));
}

TEST(RemapParseTest, EmptyFileHasNoRules) {
  auto config = MustParse("");
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(config->size(), 0u);
  EXPECT_EQ(MatchUrl(*config, "http", "a.test", "/"), "none");
}

TEST(RemapParseTest, PluginOptionsAreIgnoredWithAWarning) {
  std::vector<std::string> warnings;
  auto config = MustParse(
      "map http://a.test/ http://o/ @plugin=header_rewrite.so @pparam=rules.conf\n", &warnings);
  ASSERT_NE(config, nullptr);
  EXPECT_THAT(warnings,
              ElementsAre("remap.config:1: @plugin=header_rewrite.so ignored: remap "
                          "plugins are not supported"));
}

TEST(RemapParseTest, AclFiltersAreErrors) {
  EXPECT_EQ(ErrorOf("\nmap http://a.test/ http://o/ @action=deny @src_ip=10.0.0.1\n"),
            "remap.config:2: unsupported option '@action=deny' (ACL filters and other @ options "
            "are not supported)");
}

TEST(RemapParseTest, OtherRuleKindsAreUnsupported) {
  EXPECT_EQ(ErrorOf("map http://a.test/ http://o/\nreverse_map http://o/ http://a.test/\n"),
            "remap.config:2: unsupported rule kind 'reverse_map' (only 'map' is supported)");
  EXPECT_THAT(ErrorOf("regex_map http://(.*).test/ http://o/\n"),
              HasSubstr("remap.config:1: unsupported rule kind 'regex_map'"));
  EXPECT_THAT(ErrorOf("redirect http://a.test/ http://o/\n"),
              HasSubstr("unsupported rule kind 'redirect'"));
  EXPECT_THAT(ErrorOf("map_with_referer http://a/ http://o/ http://r/ ~*\n"),
              HasSubstr("unsupported rule kind 'map_with_referer'"));
  EXPECT_EQ(ErrorOf(".include other.config\n"),
            "remap.config:1: unsupported directive '.include' (only 'map' rules are supported)");
  EXPECT_THAT(ErrorOf("mapp http://a/ http://o/\n"), HasSubstr("unknown rule kind 'mapp'"));
}

TEST(RemapParseTest, MalformedRulesNameFileAndLine) {
  EXPECT_EQ(ErrorOf("# x\nmap http//a.test/ http://o/\n"),
            "remap.config:2: 'http//a.test/': expected SCHEME://HOST[:PORT][/PATH]");
  EXPECT_EQ(ErrorOf("map http://a.test/\n"), "remap.config:1: expected 'map FROM TO'");
  EXPECT_THAT(ErrorOf("map http://a.test/ http://o:70000/\n"),
              HasSubstr("remap.config:1: 'http://o:70000/': port '70000'"));
  EXPECT_THAT(ErrorOf("map http://a.test/ http://o/ extra\n"),
              HasSubstr("remap.config:1: unexpected 'extra'"));
}

TEST(RemapParseTest, DuplicateFromIsAnError) {
  EXPECT_EQ(ErrorOf("map http://a.test/ http://o/\nmap http://A.test:80 http://p/\n"),
            "remap.config:2: map http://a.test/: given twice (first at line 1)");
}

TEST(RemapLoadFileTest, MissingFileIsNotFound) {
  absl::StatusOr<std::shared_ptr<const RemapConfig>> config =
      RemapConfig::LoadFile("/nonexistent/remap.config", nullptr);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(config.status().message(), HasSubstr("/nonexistent/remap.config: cannot read"));
}

}  // namespace
}  // namespace tollgate
