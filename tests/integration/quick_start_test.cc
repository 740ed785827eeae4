// The quick start a new user follows: `tollgate` with no configuration directory serves the
// embedded defaults on fixed loopback ports, and the curl command it prints answers 200.
//
// The defaults use 127.0.0.1:8443, :8080 and :8081; when one of them is taken on this machine
// the test is skipped (with the port named) rather than failing on something it cannot control.

#include <signal.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/http_client.h"
#include "tests/integration/tollgate_process.h"

namespace tollgate::integration {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class QuickStartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (CurlPath().empty()) GTEST_SKIP() << "curl is not installed";
    for (uint16_t port : {8443, 8080, 8081}) {
      if (!PortIsFree(port)) {
        GTEST_SKIP() << "127.0.0.1:" << port
                     << " is in use on this machine; the embedded defaults need it";
      }
    }
    absl::StatusOr<std::unique_ptr<Subprocess>> started = StartTollgate({});
    ASSERT_TRUE(started.ok()) << started.status();
    proxy_ = *std::move(started);
  }

  void TearDown() override {
    if (proxy_ == nullptr) return;
    proxy_->Signal(SIGTERM);
    EXPECT_EQ(proxy_->WaitForExit(kExitDeadline), 0) << proxy_->Stderr();
  }

  std::unique_ptr<Subprocess> proxy_;
};

TEST_F(QuickStartTest, PrintsOneLinePerListenerAndACurlCommand) {
  // Whole lines, in any order.
  const std::vector<std::string> lines = absl::StrSplit(proxy_->Stdout(), '\n');
  EXPECT_THAT(lines, Contains("tollgate: listening on https://127.0.0.1:8443 (TLS)"));
  EXPECT_THAT(lines, Contains("tollgate: listening on http://127.0.0.1:8080"));
  EXPECT_THAT(lines, Contains("tollgate: admin on http://127.0.0.1:8081 (/stats, /healthz)"));
  EXPECT_THAT(lines, Contains("try: curl -k https://127.0.0.1:8443/"));
}

TEST_F(QuickStartTest, PrintedCurlCommandAnswers200WithTheDemoPage) {
  // Run exactly what the binary told the user to run (plus -i to see the status line).
  const std::string out = proxy_->Stdout();
  const size_t at = out.find("try: ");
  ASSERT_NE(at, std::string::npos) << out;
  const std::string command = out.substr(at + 5, out.find('\n', at) - at - 5);
  std::vector<std::string> words = absl::StrSplit(command, ' ', absl::SkipEmpty());
  ASSERT_GE(words.size(), 2u) << command;
  ASSERT_EQ(words[0], "curl") << command;
  std::vector<std::string> args = {"-i"};
  args.insert(args.end(), words.begin() + 1, words.end());
  RunResult r = RunCurl(args, std::chrono::seconds(20));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("HTTP/1.1 200 "));
  EXPECT_THAT(r.out, HasSubstr("Tollgate demo origin"));
}

TEST_F(QuickStartTest, DemoEchoShowsTheHeadersTheProxyAdded) {
  RunResult r = RunCurl({"-k", "https://127.0.0.1:8443/echo"}, std::chrono::seconds(20));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("GET /echo HTTP/1.1\r\n"));
  EXPECT_THAT(r.out, HasSubstr("\r\nVia: 1.1 tollgate\r\n"));
  EXPECT_THAT(r.out, HasSubstr("\r\nX-Forwarded-For: 127.0.0.1\r\n"));
  EXPECT_THAT(r.out, HasSubstr("\r\nX-Forwarded-Proto: https\r\n"));
}

TEST_F(QuickStartTest, PlainPortAndAdminEndpointAnswer) {
  RunResult page = RunCurl({"-i", "http://127.0.0.1:8080/bytes/5"}, std::chrono::seconds(20));
  ASSERT_EQ(page.exit_code, 0) << page.err;
  EXPECT_THAT(page.out, StartsWith("HTTP/1.1 200 "));
  EXPECT_TRUE(absl::EndsWith(page.out, "\r\n\r\n01234")) << page.out;

  RunResult health = RunCurl({"http://127.0.0.1:8081/healthz"}, std::chrono::seconds(20));
  ASSERT_EQ(health.exit_code, 0) << health.err;
  EXPECT_EQ(health.out, "ok\n");
  RunResult stats = RunCurl({"http://127.0.0.1:8081/stats"}, std::chrono::seconds(20));
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_TRUE(StatValue(stats.out, "proxy.process.http.requests_total").has_value()) << stats.out;
}

}  // namespace
}  // namespace tollgate::integration
