#include "proxy/config/ports.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tollgate {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> Strings(absl::string_view text) {
  absl::StatusOr<std::vector<ServerPort>> ports = ParseServerPorts(text);
  EXPECT_TRUE(ports.ok()) << ports.status();
  std::vector<std::string> out;
  if (ports.ok()) {
    for (const ServerPort& port : *ports) out.push_back(port.ToString());
  }
  return out;
}

std::string ErrorOf(absl::string_view text) {
  absl::StatusOr<std::vector<ServerPort>> ports = ParseServerPorts(text);
  EXPECT_FALSE(ports.ok()) << text;
  EXPECT_EQ(ports.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(ports.status().message());
}

TEST(ServerPortsTest, PlainAndSslPortsBindAllIpv4Addresses) {
  EXPECT_EQ(Strings("8080 8443:ssl"),
            (std::vector<std::string>{"0.0.0.0:8080 (http)", "0.0.0.0:8443 (tls)"}));
}

TEST(ServerPortsTest, CommasAndRunsOfBlanksSeparate) {
  EXPECT_EQ(
      Strings(" 80,443:ssl ,\t 8080 "),
      (std::vector<std::string>{"0.0.0.0:80 (http)", "0.0.0.0:443 (tls)", "0.0.0.0:8080 (http)"}));
}

TEST(ServerPortsTest, Ipv6BindsTheIpv6Wildcard) {
  EXPECT_EQ(
      Strings("8080 8080:ipv6 8443:ssl:ipv6"),
      (std::vector<std::string>{"0.0.0.0:8080 (http)", "[::]:8080 (http)", "[::]:8443 (tls)"}));
}

TEST(ServerPortsTest, PortMayStandAnywhereAndOptionsIgnoreCase) {
  EXPECT_EQ(Strings("SSL:IPv4:8443"), (std::vector<std::string>{"0.0.0.0:8443 (tls)"}));
}

TEST(ServerPortsTest, IpInSetsTheBindAddressAndFamily) {
  EXPECT_EQ(
      Strings("8080:ip-in=127.0.0.1 8443:ssl:ip-in=[::1] ip-in=[::1]:ipv6:9000"),
      (std::vector<std::string>{"127.0.0.1:8080 (http)", "[::1]:8443 (tls)", "[::1]:9000 (http)"}));
}

TEST(ServerPortsTest, EmptyValueGivesNoPorts) {
  EXPECT_TRUE(Strings("").empty());
  EXPECT_TRUE(Strings("  , ").empty());
}

TEST(ServerPortsTest, PortOutOfRangeIsAnError) {
  EXPECT_THAT(ErrorOf("0"), HasSubstr("port '0' is not a number in 1..65535"));
  EXPECT_THAT(ErrorOf("65536:ssl"), HasSubstr("'65536:ssl': port '65536'"));
  EXPECT_THAT(ErrorOf("80x"), HasSubstr("port '80x'"));
}

TEST(ServerPortsTest, MissingOrRepeatedPortIsAnError) {
  EXPECT_THAT(ErrorOf("ssl"), HasSubstr("'ssl': no port number"));
  EXPECT_THAT(ErrorOf("80:81"), HasSubstr("more than one port number"));
  EXPECT_THAT(ErrorOf("8080:"), HasSubstr("empty option"));
}

TEST(ServerPortsTest, UnsupportedAtsOptionIsNamed) {
  EXPECT_THAT(ErrorOf("8080 443:blind"),
              HasSubstr("'443:blind': option 'blind' is not supported (supported: ssl, ipv4, "
                        "ipv6, ip-in=)"));
  EXPECT_THAT(ErrorOf("80:tr-pass"), HasSubstr("option 'tr-pass' is not supported"));
  EXPECT_THAT(ErrorOf("80:proto=http"), HasSubstr("option 'proto=http' is not supported"));
}

TEST(ServerPortsTest, UnknownOptionIsNamed) {
  EXPECT_THAT(ErrorOf("80:tls"), HasSubstr("unknown option 'tls'"));
}

TEST(ServerPortsTest, BadIpInIsAnError) {
  EXPECT_THAT(ErrorOf("80:ip-in=localhost"),
              HasSubstr("ip-in: 'localhost' is not an IPv4 address or a bracketed IPv6"));
  EXPECT_THAT(ErrorOf("80:ip-in=[1.2.3.4]"), HasSubstr("ip-in: '[1.2.3.4]'"));
  EXPECT_THAT(ErrorOf("80:ip-in=[::1"), HasSubstr("ip-in: '[::1"));
  EXPECT_THAT(ErrorOf("80:ip-in=::1"), HasSubstr("ip-in: ''"));
}

TEST(ServerPortsTest, ContradictoryFamiliesAreAnError) {
  EXPECT_THAT(ErrorOf("80:ipv4:ipv6"), HasSubstr("ipv4 and ipv6 cannot both be given"));
  EXPECT_THAT(ErrorOf("80:ipv6:ip-in=127.0.0.1"), HasSubstr("ip-in address 127.0.0.1 is not IPv6"));
  EXPECT_THAT(ErrorOf("80:ssl:ssl"), HasSubstr("option 'ssl' given twice"));
}

TEST(ServerPortsTest, SameAddressTwiceIsAnError) {
  EXPECT_THAT(ErrorOf("8080 8080:ssl"), HasSubstr("'8080:ssl': 0.0.0.0:8080 is already listed"));
}

}  // namespace
}  // namespace tollgate
