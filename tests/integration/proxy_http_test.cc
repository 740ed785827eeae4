// The HTTP/1.1 reverse proxy as a client and an origin see it, over small requests on loopback:
// what happens when the origin is down, silent, resets or talks garbage; how each request
// smuggling shape is refused; pipelining, HEAD, forwarded headers, chunked and close-delimited
// bodies, keep-alive reuse, and the access log line.
//
// Each test runs its own `tollgate` process with a config directory under TEST_TMPDIR. The
// origins run in the test process: DemoOrigin (/bytes/N, /echo) and scripted blocking origins.

#include <signal.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/http_client.h"
#include "tests/integration/test_origins.h"
#include "tests/integration/tollgate_process.h"
#include "tests/util/wait.h"

namespace tollgate::integration {
namespace {

using test_util::WaitCounter;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

using Clock = std::chrono::steady_clock;

std::string Pattern(size_t n) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = PatternByte(i);
  return out;
}

// Answers every request on the connection with 200 "ok" until the proxy closes it.
void AnswerOkUntilClosed(OriginConnection& c) {
  while (c.ReadHead().ok()) {
    if (!c.Write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").ok()) return;
  }
}

// LogLineFor waits for the access-log line of the request for |url| on the proxy's stdout and
// returns its space-separated fields (empty when no such line came in time).
std::vector<std::string> LogLineFor(Subprocess& proxy, const std::string& url) {
  std::vector<std::string> fields;
  proxy.WaitForStdout(
      [&](const std::string& out) {
        for (absl::string_view line : absl::StrSplit(out, '\n')) {
          std::vector<std::string> words = absl::StrSplit(line, ' ');
          if (words.size() > 3 && words[3] == url) {
            fields = std::move(words);
            return true;
          }
        }
        return false;
      },
      kEffectDeadline);
  return fields;
}

// IsFixedPoint returns whether |s| is 1*DIGIT "." followed by exactly |decimals| digits.
bool IsFixedPoint(absl::string_view s, size_t decimals) {
  const size_t dot = s.find('.');
  if (dot == absl::string_view::npos || dot == 0 || s.size() - dot - 1 != decimals) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i != dot && !absl::ascii_isdigit(s[i])) return false;
  }
  return true;
}

class ProxyHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<PatternOrigin>> origin = PatternOrigin::Start();
    ASSERT_TRUE(origin.ok()) << origin.status();
    pattern_origin_ = *std::move(origin);
    proxy_ = std::make_unique<TestProxy>();
  }

  void TearDown() override {
    // The proxy first, so that no origin connection outlives its origin.
    proxy_.reset();
    scripted_.clear();
    pattern_origin_.reset();
  }

  // StartProxy maps "/" to the pattern origin and starts the binary.
  void StartProxy() {
    proxy_->MapPrefix("/", pattern_origin_->port());
    absl::Status s = proxy_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }

  // AddScripted starts a scripted origin and maps |prefix| to it.
  ScriptedOrigin* AddScripted(const std::string& prefix, ScriptedOrigin::Handler handler) {
    absl::StatusOr<std::unique_ptr<ScriptedOrigin>> origin = ScriptedOrigin::Start(handler);
    EXPECT_TRUE(origin.ok()) << origin.status();
    if (!origin.ok()) return nullptr;
    scripted_.push_back(*std::move(origin));
    proxy_->MapPrefix(prefix, scripted_.back()->port());
    return scripted_.back().get();
  }

  std::string Host() const { return absl::StrCat("127.0.0.1:", proxy_->http_port()); }

  std::unique_ptr<ClientConnection> Plain() {
    absl::StatusOr<std::unique_ptr<ClientConnection>> c =
        ClientConnection::Plain(proxy_->http_port());
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }

  // Get sends one GET on a new plain connection.
  absl::StatusOr<HttpResponseData> GetPlain(const std::string& path) {
    std::unique_ptr<ClientConnection> c = Plain();
    if (c == nullptr) return absl::UnavailableError("no connection");
    return c->Get(Host(), path);
  }

  std::unique_ptr<PatternOrigin> pattern_origin_;
  std::vector<std::unique_ptr<ScriptedOrigin>> scripted_;
  std::unique_ptr<TestProxy> proxy_;
};

// ---- Origin failures
// -----------------------------------------------------------------------------

TEST_F(ProxyHttpTest, OriginRefusingConnectionsGives502) {
  const std::vector<uint16_t> unused = PickFreePorts(1);
  ASSERT_EQ(unused.size(), 1u);
  proxy_->MapPrefix("/down/", unused[0]);  // nothing listens there
  StartProxy();
  absl::StatusOr<HttpResponseData> r = GetPlain("/down/x");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 502) << r->head << r->body;
}

TEST_F(ProxyHttpTest, SilentOriginGives504AfterTransactionNoActivityTimeoutOut) {
  proxy_->AddRecord("http.transaction_no_activity_timeout_out", "1");
  // Shared with the origin's threads, which may outlive this test body.
  auto origin_saw_close = std::make_shared<WaitCounter>();
  AddScripted("/silent/", [origin_saw_close](OriginConnection& c) {
    if (!c.ReadHead().ok()) return;
    if (c.WaitForPeerClose(std::chrono::seconds(30))) origin_saw_close->Increment();
  });
  StartProxy();
  const Clock::time_point start = Clock::now();
  absl::StatusOr<HttpResponseData> r = GetPlain("/silent/x");
  const auto elapsed = Clock::now() - start;
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 504) << r->head << r->body;
  // Not before the one-second timeout, and not much after it.
  EXPECT_GE(elapsed, std::chrono::milliseconds(900));
  EXPECT_LT(elapsed, std::chrono::seconds(10));
  // The proxy gives up on the origin connection too.
  EXPECT_TRUE(origin_saw_close->WaitAtLeast(1, kEffectDeadline));
}

TEST_F(ProxyHttpTest, OriginResettingBeforeResponseGives502) {
  AddScripted("/reset/", [](OriginConnection& c) {
    if (c.ReadHead().ok()) c.Reset();
  });
  StartProxy();
  absl::StatusOr<HttpResponseData> r = GetPlain("/reset/x");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 502) << r->head << r->body;
}

TEST_F(ProxyHttpTest, OriginClosingBeforeResponseGives502) {
  AddScripted("/fin/", [](OriginConnection& c) {
    if (c.ReadHead().ok()) c.Close();
  });
  StartProxy();
  absl::StatusOr<HttpResponseData> r = GetPlain("/fin/x");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 502) << r->head << r->body;
}

TEST_F(ProxyHttpTest, OriginAnsweringGarbageGives502) {
  AddScripted("/garbage/", [](OriginConnection& c) {
    if (!c.ReadHead().ok()) return;
    if (c.Write("SMTP ready\r\n\r\n").ok()) c.WaitForPeerClose(std::chrono::seconds(20));
  });
  StartProxy();
  absl::StatusOr<HttpResponseData> r = GetPlain("/garbage/x");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 502) << r->head << r->body;
}

// ---- Requests the proxy answers itself
// -----------------------------------------------------------

TEST_F(ProxyHttpTest, HostWithoutRemapRuleGets404AndConnectionStaysUsable) {
  StartProxy();
  std::unique_ptr<ClientConnection> c = Plain();
  ASSERT_NE(c, nullptr);
  absl::StatusOr<HttpResponseData> missing =
      c->Get(absl::StrCat("unmapped.test:", proxy_->http_port()), "/bytes/3");
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->status, 404) << missing->head;
  absl::StatusOr<HttpResponseData> mapped = c->Get(Host(), "/bytes/3");
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_EQ(mapped->status, 200);
  EXPECT_EQ(mapped->body, "012");
}

TEST_F(ProxyHttpTest, ConnectGets501) {
  StartProxy();
  std::unique_ptr<ClientConnection> c = Plain();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send("CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n").ok());
  absl::StatusOr<HttpResponseData> r = c->ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 501) << r->head;
}

// ---- Request smuggling shapes
// --------------------------------------------------------------------

struct SmugglingShape {
  const char* name;
  // The request, with {host} for the proxy's Host. A second, valid request for /smuggled
  // follows it on the wire: it must never be answered or reach the origin.
  const char* request;
  // The head is valid and only the body is bad: the head may reach the origin first.
  bool head_is_valid = false;
};

class SmugglingTest : public ProxyHttpTest, public ::testing::WithParamInterface<SmugglingShape> {};

TEST_P(SmugglingTest, Gets400AndTheConnectionIsClosed) {
  ScriptedOrigin* origin = AddScripted("/", AnswerOkUntilClosed);
  ASSERT_NE(origin, nullptr);
  ASSERT_TRUE(proxy_->Start().ok());
  std::unique_ptr<ClientConnection> c = Plain();
  ASSERT_NE(c, nullptr);
  const std::string request = absl::StrReplaceAll(GetParam().request, {{"{host}", Host()}});
  ASSERT_TRUE(
      c->Send(absl::StrCat(request, "GET /smuggled HTTP/1.1\r\nHost: ", Host(), "\r\n\r\n")).ok());
  absl::StatusOr<HttpResponseData> r = c->ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 400) << r->head << r->body;
  EXPECT_EQ(r->Header("connection"), "close") << r->head;
  // Nothing more: the proxy closes instead of reading the rest as another request.
  absl::StatusOr<std::string> rest = c->ReadUntilClose();
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_THAT(*rest, IsEmpty());
  for (const std::string& head : origin->heads()) {
    EXPECT_THAT(head, Not(HasSubstr("/smuggled")));
  }
  if (!GetParam().head_is_valid) {
    EXPECT_THAT(origin->heads(), IsEmpty());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, SmugglingTest,
    ::testing::Values(
        SmugglingShape{"ContentLengthAndTransferEncoding",
                       "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
        SmugglingShape{"TransferEncodingAndContentLength",
                       "POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n"
                       "Content-Length: 5\r\n\r\n0\r\n\r\n"},
        SmugglingShape{"TwoDifferentContentLengths",
                       "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 4\r\n"
                       "Content-Length: 5\r\n\r\nabcd"},
        SmugglingShape{"ContentLengthList",
                       "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 4, 5\r\n\r\nabcd"},
        SmugglingShape{"SignedContentLength",
                       "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: +4\r\n\r\nabcd"},
        SmugglingShape{"ObsFold", "GET / HTTP/1.1\r\nHost: {host}\r\nX-Folded: a\r\n b\r\n\r\n"},
        SmugglingShape{"BareLfLineEndings", "GET / HTTP/1.1\nHost: {host}\n\n"},
        SmugglingShape{"BareLfInOneFieldLine", "GET / HTTP/1.1\r\nHost: {host}\nX-A: b\r\n\r\n"},
        SmugglingShape{"BareCr", "GET / HTTP/1.1\r\nHost: {host}\rX-A: b\r\n\r\n"},
        SmugglingShape{"SpaceBeforeColon",
                       "POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding : chunked\r\n"
                       "Content-Length: 4\r\n\r\nabcd"},
        SmugglingShape{"TabBeforeColon", "GET / HTTP/1.1\r\nHost\t: {host}\r\n\r\n"},
        SmugglingShape{"TransferEncodingNotEndingInChunked",
                       "POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked, gzip\r\n"
                       "\r\n0\r\n\r\n"},
        SmugglingShape{"TransferEncodingChunkedTwice",
                       "POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
        SmugglingShape{"UnknownTransferEncoding",
                       "POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: xchunked\r\n\r\n"
                       "0\r\n\r\n"},
        SmugglingShape{"TransferEncodingInHttp10",
                       "POST / HTTP/1.0\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "0\r\n\r\n"},
        SmugglingShape{"Http11WithoutHost", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n"},
        SmugglingShape{"TwoHosts", "GET / HTTP/1.1\r\nHost: {host}\r\nHost: other.test\r\n\r\n"},
        SmugglingShape{"ControlCharacterInFieldValue",
                       "GET / HTTP/1.1\r\nHost: {host}\r\nX-A: a\x01z\r\n\r\n"},
        SmugglingShape{"SpaceInRequestTarget", "GET /a b HTTP/1.1\r\nHost: {host}\r\n\r\n"},
        SmugglingShape{"BadChunkSize",
                       "POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "zz\r\nabc\r\n0\r\n\r\n",
                       /*head_is_valid=*/true},
        SmugglingShape{"ChunkSizeOverflow",
                       "POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "10000000000000003\r\nabc\r\n0\r\n\r\n",
                       /*head_is_valid=*/true},
        SmugglingShape{"ChunkDataWithoutCrlf",
                       "POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "3\r\nabcX\r\n0\r\n\r\n",
                       /*head_is_valid=*/true}),
    [](const ::testing::TestParamInfo<SmugglingShape>& shape) { return shape.param.name; });

// ---- Message handling
// ----------------------------------------------------------------------------

TEST_F(ProxyHttpTest, PipelinedRequestsAreAnsweredInOrder) {
  StartProxy();
  std::unique_ptr<ClientConnection> c = Plain();
  ASSERT_NE(c, nullptr);
  const std::string host = Host();
  // Four requests in one write: a GET, a POST with a body, a HEAD and another GET.
  ASSERT_TRUE(c->Send(absl::StrCat("GET /bytes/1 HTTP/1.1\r\nHost: ", host, "\r\n\r\n",
                                   "POST /echo HTTP/1.1\r\nHost: ", host,
                                   "\r\nContent-Length: 5\r\n\r\nhello",
                                   "HEAD /bytes/7 HTTP/1.1\r\nHost: ", host, "\r\n\r\n",
                                   "GET /bytes/3 HTTP/1.1\r\nHost: ", host, "\r\n\r\n"))
                  .ok());
  absl::StatusOr<HttpResponseData> first = c->ReadResponse();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->body, "0");
  absl::StatusOr<HttpResponseData> second = c->ReadResponse();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(second->body, "hello");
  absl::StatusOr<HttpResponseData> third = c->ReadResponse({.head_request = true});
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(third->status, 200);
  EXPECT_EQ(third->Header("content-length"), "7");
  absl::StatusOr<HttpResponseData> fourth = c->ReadResponse();
  ASSERT_TRUE(fourth.ok()) << fourth.status();
  EXPECT_EQ(fourth->status, 200);
  EXPECT_EQ(fourth->body, "012");
}

TEST_F(ProxyHttpTest, HeadResponseHasHeadersButNoBody) {
  StartProxy();
  std::unique_ptr<ClientConnection> c = Plain();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(
      c->Send(absl::StrCat("HEAD /bytes/1000 HTTP/1.1\r\nHost: ", Host(), "\r\n\r\n")).ok());
  absl::StatusOr<HttpResponseData> head = c->ReadResponse({.head_request = true});
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("content-length"), "1000");
  // If any body byte followed the HEAD response, it would precede this response's status line.
  absl::StatusOr<HttpResponseData> next = c->Get(Host(), "/bytes/3");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(next->body, "012");
}

TEST_F(ProxyHttpTest, OriginSeesViaAndXForwardedHeaders) {
  ScriptedOrigin* origin = AddScripted("/fwd/", AnswerOkUntilClosed);
  ASSERT_NE(origin, nullptr);
  StartProxy();

  std::unique_ptr<ClientConnection> plain = Plain();
  ASSERT_NE(plain, nullptr);
  ASSERT_TRUE(plain
                  ->Send(absl::StrCat("GET /fwd/plain HTTP/1.1\r\nHost: ", Host(),
                                      "\r\nX-Forwarded-For: 192.0.2.7\r\n\r\n"))
                  .ok());
  absl::StatusOr<HttpResponseData> r1 = plain->ReadResponse();
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_EQ(r1->status, 200);

  absl::StatusOr<std::unique_ptr<ClientConnection>> tls =
      ClientConnection::Tls(proxy_->tls_port(), {.sni = "a.test"});
  ASSERT_TRUE(tls.ok()) << tls.status();
  absl::StatusOr<HttpResponseData> r2 =
      (*tls)->Get(absl::StrCat("a.test:", proxy_->tls_port()), "/fwd/tls");
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->status, 200);

  const std::vector<std::string> heads = origin->heads();
  ASSERT_EQ(heads.size(), 2u);
  const std::string origin_host = absl::StrCat("\r\nHost: 127.0.0.1:", origin->port(), "\r\n");
  EXPECT_THAT(heads[0], testing::StartsWith("GET /plain HTTP/1.1\r\n"));
  EXPECT_THAT(heads[0], HasSubstr(origin_host));
  EXPECT_THAT(heads[0], HasSubstr("\r\nVia: 1.1 tollgate\r\n"));
  EXPECT_THAT(heads[0], HasSubstr("\r\nX-Forwarded-For: 192.0.2.7, 127.0.0.1\r\n"));
  EXPECT_THAT(heads[0], HasSubstr("\r\nX-Forwarded-Proto: http\r\n"));
  EXPECT_THAT(heads[1], testing::StartsWith("GET /tls HTTP/1.1\r\n"));
  EXPECT_THAT(heads[1], HasSubstr(origin_host));
  EXPECT_THAT(heads[1], HasSubstr("\r\nVia: 1.1 tollgate\r\n"));
  EXPECT_THAT(heads[1], HasSubstr("\r\nX-Forwarded-For: 127.0.0.1\r\n"));
  EXPECT_THAT(heads[1], HasSubstr("\r\nX-Forwarded-Proto: https\r\n"));
}

// A chunked body of |size| noise bytes with chunk sizes that vary (1 byte to ~40 KiB), so
// chunk boundaries fall everywhere relative to the proxy's buffers.
std::string ChunkedNoise(const std::string& body) {
  std::string out;
  size_t at = 0;
  size_t step = 1;
  while (at < body.size()) {
    const size_t take = std::min(step, body.size() - at);
    absl::StrAppend(&out, absl::Hex(take), "\r\n", body.substr(at, take), "\r\n");
    at += take;
    step = step * 7 % 40009 + 1;
  }
  out += "0\r\n\r\n";
  return out;
}

TEST_F(ProxyHttpTest, ChunkedResponseFromOriginArrivesChunkedAndByteExact) {
  const auto shared_body = std::make_shared<const std::string>(NoiseBytes(700 * 1024, 7));
  const std::string& body = *shared_body;
  AddScripted("/chunked/", [shared_body](OriginConnection& c) {
    while (c.ReadHead().ok()) {
      if (!c.Write(absl::StrCat("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                                ChunkedNoise(*shared_body)))
               .ok()) {
        return;
      }
    }
  });
  StartProxy();
  std::unique_ptr<ClientConnection> c = Plain();
  ASSERT_NE(c, nullptr);
  for (int i = 0; i < 2; ++i) {  // the second proves the framing ended where it should
    absl::StatusOr<HttpResponseData> r = c->Get(Host(), "/chunked/x");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->chunked) << r->head;
    EXPECT_EQ(r->body.size(), body.size());
    EXPECT_EQ(Sha256Hex(r->body), Sha256Hex(body));
  }
}

TEST_F(ProxyHttpTest, CloseDelimitedResponseArrivesWholeThenTheConnectionCloses) {
  const auto shared_body = std::make_shared<const std::string>(NoiseBytes(600 * 1024, 11));
  const std::string& body = *shared_body;
  AddScripted("/eof/", [shared_body](OriginConnection& c) {
    if (!c.ReadHead().ok()) return;
    if (c.Write(absl::StrCat("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n",
                             *shared_body))
            .ok()) {
      c.Close();
    }
  });
  StartProxy();
  std::unique_ptr<ClientConnection> c = Plain();
  ASSERT_NE(c, nullptr);
  absl::StatusOr<HttpResponseData> r = c->Get(Host(), "/eof/x");  // reads until close
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("connection"), "close") << r->head;
  EXPECT_EQ(r->body.size(), body.size());
  EXPECT_EQ(Sha256Hex(r->body), Sha256Hex(body));
}

TEST_F(ProxyHttpTest, CloseDelimitedResponseOverTlsEndsWithCloseNotify) {
  // Over TLS the end of a close-delimited body is only trustworthy with a close_notify: without
  // one, clients (OpenSSL 3's "unexpected eof") must treat the body as truncated.
  const std::string body = NoiseBytes(200 * 1024, 12);
  AddScripted("/eof/", [body](OriginConnection& c) {
    if (!c.ReadHead().ok()) return;
    if (c.Write(absl::StrCat("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n",
                             body))
            .ok()) {
      c.Close();
    }
  });
  StartProxy();
  absl::StatusOr<std::unique_ptr<ClientConnection>> tls =
      ClientConnection::Tls(proxy_->tls_port(), {.sni = "a.test"});
  ASSERT_TRUE(tls.ok()) << tls.status();
  absl::StatusOr<HttpResponseData> r =
      (*tls)->Get(absl::StrCat("a.test:", proxy_->tls_port()), "/eof/tls");  // reads until close
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Sha256Hex(r->body), Sha256Hex(body));
  EXPECT_TRUE((*tls)->close_notify_received()) << "the proxy closed without close_notify";
}

TEST_F(ProxyHttpTest, ChunkedUploadReachesOriginChunkedAndByteExact) {
  const std::string body = NoiseBytes(300 * 1024, 13);
  AddScripted("/upload/", [](OriginConnection& c) {
    absl::StatusOr<std::string> head = c.ReadHead();
    if (!head.ok()) return;
    const bool chunked = absl::StrContains(*head, "\r\nTransfer-Encoding: chunked\r\n");
    absl::StatusOr<std::string> got =
        chunked ? c.ReadChunkedBody() : absl::StatusOr<std::string>(std::string("unchunked"));
    const std::string answer = got.ok() ? Sha256Hex(*got) : std::string(got.status().message());
    (void)c.Write(
        absl::StrCat("HTTP/1.1 200 OK\r\nContent-Length: ", answer.size(), "\r\n\r\n", answer));
    c.WaitForPeerClose(std::chrono::seconds(20));
  });
  StartProxy();
  std::unique_ptr<ClientConnection> c = Plain();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send(absl::StrCat("POST /upload/x HTTP/1.1\r\nHost: ", Host(),
                                   "\r\nTransfer-Encoding: chunked\r\n\r\n", ChunkedNoise(body)))
                  .ok());
  absl::StatusOr<HttpResponseData> r = c->ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, Sha256Hex(body));
}

TEST_F(ProxyHttpTest, ExpectContinueGets100BeforeTheBodyIsSent) {
  StartProxy();
  std::unique_ptr<ClientConnection> c = Plain();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send(absl::StrCat("POST /echo HTTP/1.1\r\nHost: ", Host(),
                                   "\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"))
                  .ok());
  // The body is held back until the interim response comes (bounded by the socket timeout).
  absl::StatusOr<std::string> interim = c->ReadThrough("\r\n\r\n");
  ASSERT_TRUE(interim.ok()) << interim.status();
  EXPECT_THAT(*interim, testing::StartsWith("HTTP/1.1 100 "));
  ASSERT_TRUE(c->Send("hello").ok());
  absl::StatusOr<HttpResponseData> r = c->ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
  EXPECT_THAT(r->interim, IsEmpty()) << "a second 100 Continue";
}

TEST_F(ProxyHttpTest, Http10RequestIsAnsweredThenClosedUnlessKeepAliveIsAsked) {
  StartProxy();
  std::unique_ptr<ClientConnection> c = Plain();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send(absl::StrCat("GET /bytes/3 HTTP/1.0\r\nHost: ", Host(), "\r\n\r\n")).ok());
  absl::StatusOr<HttpResponseData> r = c->ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "012");
  absl::StatusOr<std::string> rest = c->ReadUntilClose();
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(*rest, "");

  std::unique_ptr<ClientConnection> kept = Plain();
  ASSERT_NE(kept, nullptr);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(kept->Send(absl::StrCat("GET /bytes/4 HTTP/1.0\r\nHost: ", Host(),
                                        "\r\nConnection: keep-alive\r\n\r\n"))
                    .ok());
    absl::StatusOr<HttpResponseData> k = kept->ReadResponse();
    ASSERT_TRUE(k.ok()) << k.status();
    EXPECT_EQ(k->body, "0123");
    EXPECT_EQ(k->Header("connection"), "keep-alive") << k->head;
  }
}

TEST_F(ProxyHttpTest, NoContentAndNotModifiedResponsesHaveNoBody) {
  StartProxy();
  std::unique_ptr<ClientConnection> c = Plain();
  ASSERT_NE(c, nullptr);
  for (const char* status : {"204", "304"}) {
    absl::StatusOr<HttpResponseData> r = c->Get(Host(), absl::StrCat("/status/", status));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(absl::StrCat(r->status), status);
    // Any body byte would precede the next status line.
    absl::StatusOr<HttpResponseData> next = c->Get(Host(), "/bytes/3");
    ASSERT_TRUE(next.ok()) << next.status();
    EXPECT_EQ(next->body, "012");
  }
}

TEST_F(ProxyHttpTest, AbsoluteFormRequestTargetIsRemappedByItsAuthority) {
  StartProxy();
  std::unique_ptr<ClientConnection> c = Plain();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send(absl::StrCat("GET http://", Host(), "/bytes/3 HTTP/1.1\r\nHost: ", Host(),
                                   "\r\n\r\n"))
                  .ok());
  absl::StatusOr<HttpResponseData> r = c->ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "012");
}

TEST_F(ProxyHttpTest, OversizedHeadsGet431And414) {
  StartProxy();
  std::unique_ptr<ClientConnection> c = Plain();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send(absl::StrCat("GET / HTTP/1.1\r\nHost: ", Host(),
                                   "\r\nX-Big: ", std::string(70 * 1024, 'a'), "\r\n\r\n"))
                  .ok());
  absl::StatusOr<HttpResponseData> big = c->ReadResponse();
  ASSERT_TRUE(big.ok()) << big.status();
  EXPECT_EQ(big->status, 431);

  std::unique_ptr<ClientConnection> c2 = Plain();
  ASSERT_NE(c2, nullptr);
  ASSERT_TRUE(c2->Send(absl::StrCat("GET /", std::string(9 * 1024, 'p'),
                                    " HTTP/1.1\r\nHost: ", Host(), "\r\n\r\n"))
                  .ok());
  absl::StatusOr<HttpResponseData> long_line = c2->ReadResponse();
  ASSERT_TRUE(long_line.ok()) << long_line.status();
  EXPECT_EQ(long_line->status, 414);
}

TEST_F(ProxyHttpTest, RequestAfterOriginClosedItsPooledConnectionSucceeds) {
  auto closed = std::make_shared<WaitCounter>();
  ScriptedOrigin* origin = AddScripted("/once/", [closed](OriginConnection& c) {
    // One keep-alive response, then the origin closes the idle connection.
    if (!c.ReadHead().ok()) return;
    if (!c.Write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").ok()) return;
    c.Close();
    closed->Increment();
  });
  ASSERT_NE(origin, nullptr);
  StartProxy();
  std::unique_ptr<ClientConnection> c = Plain();
  ASSERT_NE(c, nullptr);
  absl::StatusOr<HttpResponseData> first = c->Get(Host(), "/once/a");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->body, "ok");
  ASSERT_TRUE(closed->WaitAtLeast(1, kEffectDeadline));
  absl::StatusOr<HttpResponseData> second = c->Get(Host(), "/once/b");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->status, 200) << second->head << second->body;
  EXPECT_EQ(second->body, "ok");
  EXPECT_EQ(origin->accepted(), 2);
}

TEST_F(ProxyHttpTest, OriginResetMidBodyCutsTheResponseShortWithoutHanging) {
  AddScripted("/cut/", [](OriginConnection& c) {
    if (!c.ReadHead().ok()) return;
    if (c.Write(absl::StrCat("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n",
                             std::string(1000, 'x')))
            .ok()) {
      c.Reset();
    }
  });
  StartProxy();
  std::unique_ptr<ClientConnection> c = Plain();
  ASSERT_NE(c, nullptr);
  absl::StatusOr<HttpResponseData> r = c->Get(Host(), "/cut/x");
  // The head went out before the reset: all the proxy can do is close the connection early.
  ASSERT_FALSE(r.ok()) << "a complete response from an origin that sent 1000 of 100000 bytes";
  EXPECT_TRUE(absl::IsOutOfRange(r.status())) << r.status();
  EXPECT_LT(c->bytes_received(), 100000u);
}

TEST_F(ProxyHttpTest, ClientAbortingADownloadFreesItsConnectionsAndTheProxyServesOn) {
  StartProxy();
  {
    absl::StatusOr<std::unique_ptr<ClientConnection>> c =
        ClientConnection::Tls(proxy_->tls_port(), {.sni = "a.test"});
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_TRUE((*c)->Send(absl::StrCat("GET /bytes/", 1 << 30, " HTTP/1.1\r\nHost: a.test:",
                                        proxy_->tls_port(), "\r\n\r\n"))
                    .ok());
    absl::StatusOr<std::string> some = (*c)->ReadThrough("\r\n\r\n0123456789abcdef");
    ASSERT_TRUE(some.ok()) << some.status();
  }  // closed mid-body
  std::optional<int64_t> sessions = WaitForStat(
      proxy_->admin_port(), "proxy.process.http.client_sessions_active",
      [](int64_t v) { return v == 0; }, kEffectDeadline);
  EXPECT_EQ(sessions, 0);
  // The origin connection of the aborted transaction is closed, not left streaming.
  const auto deadline = Clock::now() + kEffectDeadline;
  while (pattern_origin_->active_sessions() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a bounded wait
  }
  EXPECT_EQ(pattern_origin_->active_sessions(), 0);
  absl::StatusOr<HttpResponseData> after = GetPlain("/bytes/3");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->body, "012");
}

// ---- Client timeouts
// ------------------------------------------------------------------------------

// ClosedWithin returns how long the proxy took to close |c| (nullopt if it sent something or
// kept it open past the socket timeout).
std::optional<Clock::duration> ClosedWithin(ClientConnection& c, Clock::time_point since) {
  absl::StatusOr<std::string> rest = c.ReadUntilClose();
  if (!rest.ok() || !rest->empty()) return std::nullopt;
  return Clock::now() - since;
}

TEST_F(ProxyHttpTest, StalledRequestHeadIsClosedAfterTransactionNoActivityTimeoutIn) {
  proxy_->AddRecord("http.transaction_no_activity_timeout_in", "1");
  StartProxy();
  std::unique_ptr<ClientConnection> c = Plain();
  ASSERT_NE(c, nullptr);
  const Clock::time_point start = Clock::now();
  ASSERT_TRUE(c->Send("GET /bytes/3 HTTP/1.1\r\nHo").ok());
  std::optional<Clock::duration> closed = ClosedWithin(*c, start);
  ASSERT_TRUE(closed.has_value()) << "the proxy kept a stalled request open or answered it";
  EXPECT_GE(*closed, std::chrono::milliseconds(900));
  EXPECT_LT(*closed, std::chrono::seconds(10));
}

TEST_F(ProxyHttpTest, IdleKeepAliveConnectionIsClosedAfterKeepAliveNoActivityTimeoutIn) {
  proxy_->AddRecord("http.keep_alive_no_activity_timeout_in", "1");
  StartProxy();
  std::unique_ptr<ClientConnection> c = Plain();
  ASSERT_NE(c, nullptr);
  absl::StatusOr<HttpResponseData> r = c->Get(Host(), "/bytes/3");
  ASSERT_TRUE(r.ok()) << r.status();
  const Clock::time_point idle_since = Clock::now();
  std::optional<Clock::duration> closed = ClosedWithin(*c, idle_since);
  ASSERT_TRUE(closed.has_value()) << "the idle connection stayed open";
  EXPECT_GE(*closed, std::chrono::milliseconds(900));
  EXPECT_LT(*closed, std::chrono::seconds(10));
}

TEST_F(ProxyHttpTest, SilentTlsClientIsClosedAfterHandshakeTimeoutIn) {
  proxy_->AddRecord("ssl.handshake_timeout_in", "1");
  StartProxy();
  absl::StatusOr<std::unique_ptr<ClientConnection>> tcp =
      ClientConnection::Plain(proxy_->tls_port());  // TCP only: no ClientHello ever comes
  ASSERT_TRUE(tcp.ok()) << tcp.status();
  const Clock::time_point start = Clock::now();
  std::optional<Clock::duration> closed = ClosedWithin(**tcp, start);
  ASSERT_TRUE(closed.has_value()) << "a client that never starts its handshake stays connected";
  EXPECT_GE(*closed, std::chrono::milliseconds(900));
  EXPECT_LT(*closed, std::chrono::seconds(10));
}

// ---- Error responses are logged -----------------------------------------------------------------

TEST_F(ProxyHttpTest, ErrorResponsesHaveAShortBodyAnAccessLogLineAndADiagnostic) {
  const std::vector<uint16_t> unused = PickFreePorts(1);
  ASSERT_EQ(unused.size(), 1u);
  proxy_->MapPrefix("/down/", unused[0]);
  StartProxy();
  absl::StatusOr<HttpResponseData> down = GetPlain("/down/logged");
  ASSERT_TRUE(down.ok()) << down.status();
  EXPECT_EQ(down->status, 502);
  EXPECT_FALSE(down->body.empty());
  EXPECT_LT(down->body.size(), 1024u);
  std::unique_ptr<ClientConnection> c = Plain();
  ASSERT_NE(c, nullptr);
  const std::string unmapped = absl::StrCat("unmapped.test:", proxy_->http_port());
  absl::StatusOr<HttpResponseData> missing = c->Get(unmapped, "/logged");
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->status, 404);
  EXPECT_FALSE(missing->body.empty());
  EXPECT_LT(missing->body.size(), 1024u);

  const std::vector<std::string> down_line =
      LogLineFor(proxy_->process(), absl::StrCat("http://", Host(), "/down/logged"));
  ASSERT_EQ(down_line.size(), 13u) << proxy_->process().Stdout();
  EXPECT_EQ(down_line[4], "502");
  const std::vector<std::string> missing_line =
      LogLineFor(proxy_->process(), absl::StrCat("http://", unmapped, "/logged"));
  ASSERT_EQ(missing_line.size(), 13u) << proxy_->process().Stdout();
  EXPECT_EQ(missing_line[4], "404");

  // Diagnostics: "[Mon DD HH:MM:SS.mmm] LEVEL: (tag) message", one per error.
  const std::string err = proxy_->process().Stderr();
  for (const char* what : {"502 for 127.0.0.1 GET ", "404 for 127.0.0.1 GET "}) {
    const size_t at = err.find(what);
    ASSERT_NE(at, std::string::npos) << what << " not in:\n" << err;
    const size_t begin = err.rfind('\n', at) == std::string::npos ? 0 : err.rfind('\n', at) + 1;
    const std::string line = err.substr(begin, err.find('\n', at) - begin);
    EXPECT_EQ(line[0], '[') << line;
    EXPECT_NE(line.find("] "), std::string::npos) << line;
    const std::string rest = line.substr(line.find("] ") + 2);
    EXPECT_TRUE(absl::StartsWith(rest, "WARNING: (http) ") ||
                absl::StartsWith(rest, "NOTE: (http) ") || absl::StartsWith(rest, "ERROR: (http) "))
        << line;
  }
}

// ---- Keep-alive and stats
// ------------------------------------------------------------------------

TEST_F(ProxyHttpTest, KeepAliveReuseOfClientAndOriginConnectionsShowsInStats) {
  if (CurlPath().empty()) GTEST_SKIP() << "curl is not installed";
  StartProxy();
  absl::StatusOr<std::string> before = FetchStats(proxy_->admin_port());
  ASSERT_TRUE(before.ok()) << before.status();
  const auto stat = [](const std::string& json, const char* name) {
    return StatValue(json, name).value_or(0);
  };
  // Two URLs on one curl command line: curl sends both on one connection.
  const std::string base = absl::StrCat("https://127.0.0.1:", proxy_->tls_port());
  RunResult r = RunCurl({"-k", base + "/bytes/10", base + "/bytes/20"}, std::chrono::seconds(20));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, Pattern(10) + Pattern(20));
  absl::StatusOr<std::string> after = FetchStats(proxy_->admin_port());
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(stat(*after, "proxy.process.http.requests_total") -
                stat(*before, "proxy.process.http.requests_total"),
            2)
      << *after;
  EXPECT_EQ(stat(*after, "proxy.process.http.client_sessions_total") -
                stat(*before, "proxy.process.http.client_sessions_total"),
            1)
      << *after;
  EXPECT_EQ(stat(*after, "proxy.process.http.client_keep_alive_reuses") -
                stat(*before, "proxy.process.http.client_keep_alive_reuses"),
            1)
      << *after;
  EXPECT_EQ(stat(*after, "proxy.process.http.origin_pool.reused") -
                stat(*before, "proxy.process.http.origin_pool.reused"),
            1)
      << *after;
}

// ---- Access log
// ----------------------------------------------------------------------------------

TEST_F(ProxyHttpTest, AccessLogHasOneLinePerTransactionInTheDocumentedFormat) {
  StartProxy();
  // TIME CLIENT METHOD URL STATUS BYTES_IN BYTES_OUT ORIGIN DURATION_MS TLS CIPHER SNI RESUMED
  std::unique_ptr<ClientConnection> c = Plain();
  ASSERT_NE(c, nullptr);
  const std::string request =
      absl::StrCat("GET /bytes/10?plain HTTP/1.1\r\nHost: ", Host(), "\r\n\r\n");
  ASSERT_TRUE(c->Send(request).ok());
  absl::StatusOr<HttpResponseData> r = c->ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->status, 200);
  const std::string plain_url = absl::StrCat("http://", Host(), "/bytes/10?plain");
  const std::vector<std::string> plain = LogLineFor(proxy_->process(), plain_url);
  ASSERT_EQ(plain.size(), 13u) << "no line for " << plain_url << " in:\n"
                               << proxy_->process().Stdout();
  const std::string origin = absl::StrCat("127.0.0.1:", pattern_origin_->port());
  EXPECT_TRUE(IsFixedPoint(plain[0], 3)) << plain[0];
  EXPECT_EQ(plain[1], "127.0.0.1");
  EXPECT_EQ(plain[2], "GET");
  EXPECT_EQ(plain[4], "200");
  EXPECT_EQ(plain[5], absl::StrCat(request.size()));
  EXPECT_EQ(plain[6], absl::StrCat(r->head.size() + 10));
  EXPECT_EQ(plain[7], origin);
  EXPECT_TRUE(IsFixedPoint(plain[8], 3)) << plain[8];
  EXPECT_EQ(plain[9], "-");
  EXPECT_EQ(plain[10], "-");
  EXPECT_EQ(plain[11], "-");
  EXPECT_EQ(plain[12], "0");

  // TLS: the version, cipher and SNI the client negotiated, not resumed.
  absl::StatusOr<std::unique_ptr<ClientConnection>> tls =
      ClientConnection::Tls(proxy_->tls_port(), {.sni = "a.test"});
  ASSERT_TRUE(tls.ok()) << tls.status();
  const std::string tls_host = absl::StrCat("a.test:", proxy_->tls_port());
  absl::StatusOr<HttpResponseData> r2 = (*tls)->Get(tls_host, "/bytes/5?tls");
  ASSERT_TRUE(r2.ok()) << r2.status();
  ASSERT_EQ(r2->status, 200);
  const std::string tls_url = absl::StrCat("https://", tls_host, "/bytes/5?tls");
  const std::vector<std::string> line = LogLineFor(proxy_->process(), tls_url);
  ASSERT_EQ(line.size(), 13u) << "no line for " << tls_url << " in:\n"
                              << proxy_->process().Stdout();
  EXPECT_EQ(line[2], "GET");
  EXPECT_EQ(line[4], "200");
  EXPECT_EQ(line[6], absl::StrCat(r2->head.size() + 5));
  EXPECT_EQ(line[7], origin);
  EXPECT_EQ(line[9], "TLSv1.3");
  EXPECT_EQ(line[10], (*tls)->tls()->cipher());
  EXPECT_EQ(line[11], "a.test");
  EXPECT_EQ(line[12], "0");
}

// ---- Start-up
// -------------------------------------------------------------------------------------

// A second tollgate started by mistake on the ports of a running one must fail and say why,
// not share the ports with it (through SO_REUSEPORT both would accept, each taking a share of
// the connections, possibly with different configurations).
TEST(TollgateStartTest, SecondInstanceOnTheSamePortsExitsWithAddressInUse) {
  TestProxy first;
  ASSERT_TRUE(first.Start().ok());
  const std::string dir = MakeTempDir("second");
  ASSERT_TRUE(WriteFile(dir + "/records.yaml",
                        absl::StrCat("ts:\n  http.server_ports: \"", first.http_port(),
                                     ":ip-in=127.0.0.1\"\n  admin.port: 0\n"))
                  .ok());
  absl::StatusOr<std::unique_ptr<Subprocess>> second =
      Subprocess::Spawn({TollgatePath(), "--config-dir", dir});
  ASSERT_TRUE(second.ok()) << second.status();
  // It either exits or prints its listening lines; waiting for the first of the two.
  const bool serving = (*second)->WaitForStdoutText("\ntry: ", kStartDeadline);
  ASSERT_FALSE(serving) << "the second instance serves 127.0.0.1:" << first.http_port()
                        << " alongside the first:\n"
                        << (*second)->Stdout();
  EXPECT_EQ((*second)->WaitForExit(kExitDeadline), 1);
  EXPECT_THAT((*second)->Stderr(), HasSubstr(absl::StrCat("127.0.0.1:", first.http_port())));
  EXPECT_THAT((*second)->Stderr(), HasSubstr("in use"));
}

}  // namespace
}  // namespace tollgate::integration
