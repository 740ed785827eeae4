// Proves yaml-cpp from libyaml-cpp-dev works in this build, on the shape of an sni.yaml file.
#include <string>

#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace {

TEST(YamlCppTest, ParsesSequenceOfMapsLikeSniYaml) {
  YAML::Node doc = YAML::Load(R"(
sni:
  - fqdn: a.test
    tunnel_route: 127.0.0.1:4443
  - fqdn: '*.b.test'
    verify_client: STRICT
)");
  ASSERT_TRUE(doc["sni"].IsSequence());
  ASSERT_EQ(doc["sni"].size(), 2u);
  EXPECT_EQ(doc["sni"][0]["fqdn"].as<std::string>(), "a.test");
  EXPECT_EQ(doc["sni"][0]["tunnel_route"].as<std::string>(), "127.0.0.1:4443");
  EXPECT_EQ(doc["sni"][1]["fqdn"].as<std::string>(), "*.b.test");
  EXPECT_FALSE(doc["sni"][1]["tunnel_route"].IsDefined());
  EXPECT_EQ(doc["sni"][1].Mark().line, 4);  // 0-based: errors can name the line
}

TEST(YamlCppTest, MalformedDocumentReportsLine) {
  try {
    YAML::Load("a: [1, 2\nb: 3\n");
    FAIL() << "expected a parser error";
  } catch (const YAML::ParserException& e) {
    EXPECT_GE(e.mark.line, 0);
  }
}

}  // namespace
