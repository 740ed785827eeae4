#include "iocore/eventsystem/diags.h"

#include <string>

#include "gtest/gtest.h"

namespace tollgate {
namespace {

TEST(DiagsTest, LineHasTimeLevelTagAndMessage) {
  std::string line = FormatDiagLine(DiagLevel::kWarning, "net", "accept: too many open files");
  // "[Nov 27 04:05:06.789] WARNING: (net) accept: too many open files"
  const std::string suffix = "] WARNING: (net) accept: too many open files";
  ASSERT_GT(line.size(), suffix.size() + 1) << line;
  EXPECT_EQ(line.front(), '[') << line;
  EXPECT_EQ(line.substr(line.size() - suffix.size()), suffix) << line;
  std::string when = line.substr(1, line.size() - suffix.size() - 1);
  ASSERT_EQ(when.size(), 19u) << when;  // "Mon dd hh:mm:ss.mmm"
  EXPECT_EQ(when[6], ' ');
  EXPECT_EQ(when[9], ':');
  EXPECT_EQ(when[12], ':');
  EXPECT_EQ(when[15], '.');
}

TEST(DiagsTest, DebugTagsMatchRegexFromTheStartOfTheTag) {
  ASSERT_TRUE(SetDebugTags(true, "ssl|http").ok());
  EXPECT_TRUE(IsDebugTagSet("ssl"));
  EXPECT_TRUE(IsDebugTagSet("ssl_sni"));
  EXPECT_TRUE(IsDebugTagSet("http"));
  EXPECT_FALSE(IsDebugTagSet("net"));
  EXPECT_FALSE(IsDebugTagSet("my_ssl"));
  ASSERT_TRUE(SetDebugTags(false, "").ok());
  EXPECT_FALSE(IsDebugTagSet("ssl"));
}

TEST(DiagsTest, BadRegexIsRejectedAndPreviousSettingStays) {
  ASSERT_TRUE(SetDebugTags(true, "net").ok());
  absl::Status s = SetDebugTags(true, "ssl(");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("ssl("), absl::string_view::npos);
  EXPECT_TRUE(IsDebugTagSet("net"));
  ASSERT_TRUE(SetDebugTags(false, "").ok());
}

}  // namespace
}  // namespace tollgate
