#include "iocore/net/ip_endpoint.h"

#include "gtest/gtest.h"

namespace tollgate {
namespace {

TEST(IpEndpointTest, ParsesIpv4AndIpv6WithPorts) {
  absl::StatusOr<IpEndpoint> v4 = IpEndpoint::Parse("127.0.0.1:8443");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->family(), AF_INET);
  EXPECT_EQ(v4->port(), 8443);
  EXPECT_EQ(v4->ToString(), "127.0.0.1:8443");

  absl::StatusOr<IpEndpoint> v6 = IpEndpoint::Parse("[::1]:0");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->family(), AF_INET6);
  EXPECT_EQ(v6->ToString(), "[::1]:0");
}

TEST(IpEndpointTest, DefaultPortAppliesOnlyWhenNoneIsGiven) {
  EXPECT_EQ(IpEndpoint::Parse("10.1.2.3", 443)->port(), 443);
  EXPECT_EQ(IpEndpoint::Parse("10.1.2.3:80", 443)->port(), 80);
  EXPECT_EQ(IpEndpoint::Parse("::1", 443)->ToString(), "[::1]:443");
}

TEST(IpEndpointTest, RejectsMalformedInputWithAReason) {
  EXPECT_EQ(IpEndpoint::Parse("127.0.0.1").status().code(), absl::StatusCode::kInvalidArgument);
  absl::Status bad_port = IpEndpoint::Parse("127.0.0.1:99999").status();
  EXPECT_NE(bad_port.message().find("0..65535"), absl::string_view::npos) << bad_port;
  absl::Status bad_host = IpEndpoint::Parse("example.test:80").status();
  EXPECT_NE(bad_host.message().find("not an IPv4 or IPv6 address"), absl::string_view::npos);
  EXPECT_FALSE(IpEndpoint::Parse("[::1:80").ok());
  EXPECT_FALSE(IpEndpoint::Parse("[::1]x80").ok());
}

TEST(IpEndpointTest, LoopbackAndEquality) {
  EXPECT_EQ(IpEndpoint::Loopback(AF_INET, 80), *IpEndpoint::Parse("127.0.0.1:80"));
  EXPECT_EQ(IpEndpoint::Loopback(AF_INET6, 80), *IpEndpoint::Parse("[::1]:80"));
  EXPECT_FALSE(IpEndpoint::Loopback(AF_INET, 80) == IpEndpoint::Loopback(AF_INET, 81));
  EXPECT_FALSE(IpEndpoint().valid());
}

}  // namespace
}  // namespace tollgate
