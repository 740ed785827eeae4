#include "plugin_api/client_hello.h"

#include <algorithm>
#include <string>

#include "gtest/gtest.h"
#include "tests/util/tls_client.h"

namespace tollgate {
namespace {

// The ClientHello body of a real BoringSSL client: record header (5) and handshake header (4)
// stripped.
std::string RealBody(const std::string& sni) {
  std::string flight = test_util::MakeClientHello(sni);
  EXPECT_GE(flight.size(), 9u);
  size_t len = (static_cast<uint8_t>(flight[6]) << 16) | (static_cast<uint8_t>(flight[7]) << 8) |
      static_cast<uint8_t>(flight[8]);
  EXPECT_EQ(flight.size(), 9 + len);
  return flight.substr(9, len);
}

// A minimal body: version, random, empty session id, the given suites, null compression.
std::string MinimalBody(const std::string& suites) {
  std::string b = "\x03\x03" + std::string(32, 'r') + std::string(1, '\0');
  b += static_cast<char>(suites.size() >> 8);
  b += static_cast<char>(suites.size() & 0xff);
  b += suites;
  b += std::string("\x01\x00", 2);
  return b;
}

TEST(ParseClientHelloTest, ReadsARealClientHello) {
  std::string body = RealBody("x.test");
  std::optional<ClientHelloLayout> layout = ParseClientHello(body);
  ASSERT_TRUE(layout.has_value());
  EXPECT_EQ(layout->legacy_version, 0x0303);
  EXPECT_GT(layout->cipher_suites.length, 0u);
  EXPECT_EQ(layout->cipher_suites.length % 2, 0u);
  auto sni = std::find_if(layout->extensions.begin(), layout->extensions.end(),
                          [](const auto& e) { return e.type == 0; });
  ASSERT_NE(sni, layout->extensions.end());
  EXPECT_NE(ClientHelloLayout::Slice(body, sni->data).find("x.test"), absl::string_view::npos);
  auto versions = std::find_if(layout->extensions.begin(), layout->extensions.end(),
                               [](const auto& e) { return e.type == 43; });
  EXPECT_NE(versions, layout->extensions.end());
}

TEST(ParseClientHelloTest, RejectsEveryTruncation) {
  std::string body = RealBody("x.test");
  std::optional<ClientHelloLayout> full = ParseClientHello(body);
  ASSERT_TRUE(full.has_value());
  ASSERT_FALSE(full->extensions.empty());
  // The one prefix that is itself well formed: everything before the extension block.
  size_t without_extensions = full->extensions.front().data.offset - 4 - 2;
  for (size_t n = 0; n < body.size(); ++n) {
    std::optional<ClientHelloLayout> cut = ParseClientHello(absl::string_view(body).substr(0, n));
    if (n == without_extensions) {
      ASSERT_TRUE(cut.has_value());
      EXPECT_TRUE(cut->extensions.empty());
    } else {
      EXPECT_FALSE(cut.has_value()) << "prefix of " << n << " bytes";
    }
  }
}

TEST(ParseClientHelloTest, RejectsTrailingBytes) {
  EXPECT_FALSE(ParseClientHello(RealBody("x.test") + "x").has_value());
}

TEST(ParseClientHelloTest, AcceptsNoExtensionBlock) {
  std::optional<ClientHelloLayout> layout = ParseClientHello(MinimalBody("\x13\x01"));
  ASSERT_TRUE(layout.has_value());
  EXPECT_TRUE(layout->extensions.empty());
  EXPECT_EQ(layout->cipher_suites.length, 2u);
}

TEST(ParseClientHelloTest, RejectsOddCipherSuiteList) {
  EXPECT_FALSE(ParseClientHello(MinimalBody("\x13\x01\x13")).has_value());
}

TEST(ParseClientHelloTest, RejectsExtensionRunningPastItsBlock) {
  // Block of 4 bytes holding an extension that claims 1 byte of data.
  std::string b = MinimalBody("\x13\x01") + std::string("\x00\x04\x00\x10\x00\x01", 6);
  EXPECT_FALSE(ParseClientHello(b).has_value());
  // Block length larger than what follows.
  std::string c = MinimalBody("\x13\x01") + std::string("\x00\x09\x00\x10\x00\x00", 6);
  EXPECT_FALSE(ParseClientHello(c).has_value());
  // A well-formed empty extension.
  std::string d = MinimalBody("\x13\x01") + std::string("\x00\x04\x00\x10\x00\x00", 6);
  std::optional<ClientHelloLayout> layout = ParseClientHello(d);
  ASSERT_TRUE(layout.has_value());
  ASSERT_EQ(layout->extensions.size(), 1u);
  EXPECT_EQ(layout->extensions[0].type, 16);
  EXPECT_EQ(layout->extensions[0].data.length, 0u);
}

TEST(ParseClientHelloTest, RejectsSessionIdPastTheEnd) {
  std::string b = "\x03\x03" + std::string(32, 'r') + "\x20" + std::string(10, 's');
  EXPECT_FALSE(ParseClientHello(b).has_value());
}

}  // namespace
}  // namespace tollgate
