// Proves Abseil from libabsl-dev links and behaves in this build.
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace {

absl::StatusOr<int> ParsePort(absl::string_view text) {
  int port = 0;
  if (!absl::SimpleAtoi(text, &port) || port < 1 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port '", text, "': expected 1-65535"));
  }
  return port;
}

TEST(AbseilTest, StatusOrCarriesValueOrMessage) {
  absl::StatusOr<int> good = ParsePort("8443");
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 8443);

  absl::StatusOr<int> bad = ParsePort("70000");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "bad port '70000': expected 1-65535");
}

TEST(AbseilTest, FlatHashMapCountsWordsFromStrSplit) {
  absl::flat_hash_map<std::string, int> counts;
  for (absl::string_view word : absl::StrSplit("a b a c a b", ' ')) ++counts[std::string(word)];
  EXPECT_EQ(counts.size(), 3u);
  EXPECT_EQ(counts["a"], 3);
  EXPECT_EQ(counts["b"], 2);
  EXPECT_EQ(counts["c"], 1);
  EXPECT_FALSE(counts.contains("d"));
}

TEST(AbseilTest, StrCatJoinsMixedTypes) {
  EXPECT_EQ(absl::StrCat("port ", 8443, ":", "ssl", " x", 1.5), "port 8443:ssl x1.5");
}

}  // namespace
