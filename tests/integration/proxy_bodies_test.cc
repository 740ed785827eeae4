// Bodies through the TLS listener, byte-exact (SHA-256), as curl sends and receives them:
// downloads with Content-Length and chunked, uploads with Content-Length and chunked, at 0 B,
// 1 MiB and the large size (100 MiB; see LargeBodyBytes for sanitizer builds).
//
// One proxy, one DemoOrigin (/bytes/N, /echo) and one scripted origin (chunked noise) serve the
// whole suite; each test names its own files under TEST_TMPDIR.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/http_client.h"
#include "tests/integration/test_origins.h"
#include "tests/integration/tollgate_process.h"

namespace tollgate::integration {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint32_t kNoiseSeed = 0x5eed;

#if defined(__SANITIZE_THREAD__)
constexpr bool kSanitizerBuild = true;
#elif defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitizerBuild = true;
#else
constexpr bool kSanitizerBuild = false;
#endif

// LargeBodyBytes is 100 MiB; TOLLGATE_LARGE_BODY_MIB overrides it (e.g. to run the suite
// quickly by hand).
uint64_t LargeBodyBytes() {
  if (const char* env = std::getenv("TOLLGATE_LARGE_BODY_MIB")) {
    uint64_t mib = 0;
    if (absl::SimpleAtoi(env, &mib) && mib > 0) return mib * kMiB;
  }
  return 100 * kMiB;
}

// The time curl may take for one large transfer: generous, for sanitizer builds on two CPUs.
Duration TransferDeadline() {
  return kSanitizerBuild ? std::chrono::seconds(400) : std::chrono::seconds(120);
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Sends |n| noise bytes (NoiseBytes(n, kNoiseSeed)) as a chunked response to each request,
// in chunks of varying size (1 byte to 64 KiB).
void ServeChunkedNoise(OriginConnection& c) {
  for (;;) {
    absl::StatusOr<std::string> head = c.ReadHead();
    if (!head.ok()) return;
    // GET /N HTTP/1.1
    const size_t sp = head->find(' ', 5);
    uint64_t n = 0;
    if (sp == std::string::npos || !absl::SimpleAtoi(head->substr(5, sp - 5), &n)) {
      (void)c.Write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    if (!c.Write("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n")
             .ok()) {
      return;
    }
    NoiseStream noise(kNoiseSeed);
    std::string chunk;
    size_t step = 1;
    while (n > 0) {
      const size_t take = static_cast<size_t>(std::min<uint64_t>(n, step));
      chunk.assign(absl::StrCat(absl::Hex(take), "\r\n"));
      const size_t at = chunk.size();
      chunk.resize(at + take);
      noise.Fill(chunk.data() + at, take);
      chunk += "\r\n";
      if (!c.Write(chunk).ok()) return;
      n -= take;
      step = step * 13 % 65536 + 1;
    }
    if (!c.Write("0\r\n\r\n").ok()) return;
  }
}

class ProxyBodiesTest : public ::testing::TestWithParam<uint64_t> {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<PatternOrigin>> pattern = PatternOrigin::Start(1);
    ASSERT_TRUE(pattern.ok()) << pattern.status();
    pattern_origin_ = pattern->release();
    absl::StatusOr<std::unique_ptr<ScriptedOrigin>> chunked =
        ScriptedOrigin::Start(ServeChunkedNoise);
    ASSERT_TRUE(chunked.ok()) << chunked.status();
    chunked_origin_ = chunked->release();
    proxy_ = new TestProxy();
    proxy_->AddRecord("http.transaction_no_activity_timeout_in", "120");
    proxy_->AddRecord("http.transaction_no_activity_timeout_out", "120");
    proxy_->MapPrefix("/chunked/", chunked_origin_->port());
    proxy_->MapPrefix("/", pattern_origin_->port());
    absl::Status s = proxy_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }

  static void TearDownTestSuite() {
    delete proxy_;
    delete chunked_origin_;
    delete pattern_origin_;
    proxy_ = nullptr;
    chunked_origin_ = nullptr;
    pattern_origin_ = nullptr;
  }

  void SetUp() override {
    if (CurlPath().empty()) GTEST_SKIP() << "curl is not installed";
    ASSERT_NE(proxy_, nullptr);
  }

  static std::string Url(const std::string& path) {
    return absl::StrCat("https://127.0.0.1:", proxy_->tls_port(), path);
  }

  // A file name unique to the running test.
  static std::string TestFile(const std::string& what) {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = absl::StrCat(info->test_suite_name(), "_", info->name(), "_", what);
    for (char& ch : name) {
      if (!absl::ascii_isalnum(ch)) ch = '_';
    }
    return absl::StrCat(TestTmpDir(), "/", name);
  }

  struct Transfer {
    RunResult curl;
    std::string headers;  // the response heads curl received (-D), lowercased
    std::string sha256;  // of the body curl received
    uint64_t size = 0;
    std::string small_body;  // the body itself when under 64 KiB
  };

  // Curl runs curl over TLS with |args| (before the URL), the body to a file; stdout is the
  // status code.
  static Transfer Curl(const std::vector<std::string>& args, const std::string& url) {
    Transfer t;
    const std::string body = TestFile("received");
    const std::string heads = TestFile("heads");
    std::vector<std::string> all = {"-k", "-o", body, "-D", heads, "-w", "%{http_code}"};
    all.insert(all.end(), args.begin(), args.end());
    all.push_back(url);
    t.curl = RunCurl(all, TransferDeadline());
    absl::StatusOr<std::pair<std::string, uint64_t>> digest = FileSha256(body);
    if (digest.ok()) {
      t.sha256 = digest->first;
      t.size = digest->second;
    }
    if (t.size < 64 * 1024) t.small_body = ReadWholeFile(body);
    t.headers = absl::AsciiStrToLower(ReadWholeFile(heads));
    std::remove(body.c_str());
    return t;
  }

  static PatternOrigin* pattern_origin_;
  static ScriptedOrigin* chunked_origin_;
  static TestProxy* proxy_;
};

PatternOrigin* ProxyBodiesTest::pattern_origin_ = nullptr;
ScriptedOrigin* ProxyBodiesTest::chunked_origin_ = nullptr;
TestProxy* ProxyBodiesTest::proxy_ = nullptr;

TEST_P(ProxyBodiesTest, ContentLengthDownloadIsByteExact) {
  const uint64_t n = GetParam();
  Transfer t = Curl({}, Url(absl::StrCat("/bytes/", n)));
  ASSERT_EQ(t.curl.exit_code, 0) << t.curl.err;
  EXPECT_EQ(t.curl.out, "200");
  EXPECT_THAT(t.headers, HasSubstr(absl::StrCat("\ncontent-length: ", n, "\r\n")));
  EXPECT_EQ(t.size, n);
  EXPECT_EQ(t.sha256, PatternSha256(n));
}

TEST_P(ProxyBodiesTest, ChunkedDownloadFromOriginIsByteExact) {
  const uint64_t n = GetParam();
  Transfer t = Curl({}, Url(absl::StrCat("/chunked/", n)));
  ASSERT_EQ(t.curl.exit_code, 0) << t.curl.err;
  EXPECT_EQ(t.curl.out, "200");
  EXPECT_THAT(t.headers, HasSubstr("\ntransfer-encoding: chunked\r\n"));
  EXPECT_EQ(t.size, n);
  EXPECT_EQ(t.sha256, NoiseSha256(n, kNoiseSeed));
}

TEST_P(ProxyBodiesTest, ContentLengthUploadIsEchoedByteExact) {
  const uint64_t n = GetParam();
  const std::string file = TestFile("sent");
  absl::StatusOr<std::string> sent = WriteNoiseFile(file, n, static_cast<uint32_t>(n) + 1);
  ASSERT_TRUE(sent.ok()) << sent.status();
  // -T: a PUT with Content-Length, streamed from the file (and Expect: 100-continue when large).
  Transfer t = Curl({"-T", file, "-H", "Content-Type: application/octet-stream"}, Url("/echo"));
  std::remove(file.c_str());
  ASSERT_EQ(t.curl.exit_code, 0) << t.curl.err;
  EXPECT_EQ(t.curl.out, "200");
  if (n == 0) {
    // An empty body is no body: the echo origin answers with the request head it received,
    // which shows the proxy forwarded the zero-length body as such.
    EXPECT_THAT(t.small_body, ::testing::StartsWith("PUT /echo HTTP/1.1\r\n"));
    EXPECT_THAT(t.small_body, HasSubstr("\r\nContent-Length: 0\r\n"));
    return;
  }
  EXPECT_THAT(t.headers, HasSubstr(absl::StrCat("\ncontent-length: ", n, "\r\n")));
  EXPECT_EQ(t.size, n);
  EXPECT_EQ(t.sha256, *sent);
}

TEST_P(ProxyBodiesTest, ChunkedUploadIsEchoedChunkedByteExact) {
  const uint64_t n = GetParam();
  if (n == 0) {
    // curl 7.88 never sends the last chunk of an empty `-T` upload (it hangs against any
    // server), so the empty chunked body goes from our own TLS client.
    absl::StatusOr<std::unique_ptr<ClientConnection>> c =
        ClientConnection::Tls(proxy_->tls_port(), {.sni = "localhost"});
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_TRUE(
        (*c)->Send(absl::StrCat("PUT /echo HTTP/1.1\r\nHost: 127.0.0.1:", proxy_->tls_port(),
                                "\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
            .ok());
    absl::StatusOr<HttpResponseData> r = (*c)->ReadResponse();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->chunked) << r->head;
    EXPECT_EQ(r->body_bytes, 0u);
    return;
  }
  const std::string file = TestFile("sent");
  absl::StatusOr<std::string> sent = WriteNoiseFile(file, n, static_cast<uint32_t>(n) + 2);
  ASSERT_TRUE(sent.ok()) << sent.status();
  Transfer t = Curl({"-T", file, "-H", "Transfer-Encoding: chunked", "-H",
                     "Content-Type: application/octet-stream"},
                    Url("/echo"));
  std::remove(file.c_str());
  ASSERT_EQ(t.curl.exit_code, 0) << t.curl.err;
  EXPECT_EQ(t.curl.out, "200");
  // The echo origin answers a chunked request with a chunked response.
  EXPECT_THAT(t.headers, HasSubstr("\ntransfer-encoding: chunked\r\n"));
  EXPECT_EQ(t.size, n);
  EXPECT_EQ(t.sha256, *sent);
}

INSTANTIATE_TEST_SUITE_P(Sizes, ProxyBodiesTest,
                         ::testing::Values(uint64_t{0}, 1 * kMiB, LargeBodyBytes()),
                         [](const ::testing::TestParamInfo<uint64_t>& size) {
                           return size.param == 0 ? std::string("0B")
                                                  : absl::StrCat(size.param / kMiB, "MiB");
                         });

}  // namespace
}  // namespace tollgate::integration
