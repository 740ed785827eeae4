#include "proxy/http/http_parser.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tollgate {
namespace {

struct Parsed {
  ParseStatus status = ParseStatus::kNeedMore;
  HttpError error = HttpError::kNone;
  size_t consumed = 0;
  HttpRequest request;
};

// Feeds |pieces| in order, stopping at kDone or kError; |consumed| totals over the pieces.
Parsed ParsePieces(const std::vector<absl::string_view>& pieces,
                   const HttpParserLimits& limits = HttpParserLimits()) {
  HttpRequestParser parser(limits);
  Parsed out;
  for (absl::string_view piece : pieces) {
    size_t consumed = 0;
    ParseResult r = parser.Parse(piece, &consumed);
    out.status = r.status;
    out.error = r.error;
    out.consumed += consumed;
    if (r.status != ParseStatus::kNeedMore) break;
  }
  out.request = parser.request();
  return out;
}

Parsed ParseRequest(absl::string_view bytes, const HttpParserLimits& limits = HttpParserLimits()) {
  return ParsePieces({bytes}, limits);
}

Parsed ParseByteByByte(absl::string_view bytes,
                       const HttpParserLimits& limits = HttpParserLimits()) {
  std::vector<absl::string_view> pieces;
  for (size_t i = 0; i < bytes.size(); ++i) pieces.push_back(bytes.substr(i, 1));
  return ParsePieces(pieces, limits);
}

HttpError RequestError(absl::string_view bytes,
                       const HttpParserLimits& limits = HttpParserLimits()) {
  Parsed p = ParseRequest(bytes, limits);
  EXPECT_EQ(p.status, p.error == HttpError::kNone ? ParseStatus::kDone : ParseStatus::kError)
      << bytes;
  return p.error;
}

std::string WithHeader(absl::string_view header_line) {
  return absl::StrCat("GET / HTTP/1.1\r\nHost: a.test\r\n", header_line, "\r\n\r\n");
}

// --- Basic requests ---------------------------------------------------------------------------

TEST(HttpRequestParserTest, ParsesSimpleGet) {
  const std::string bytes = "GET /index.html?q=1 HTTP/1.1\r\nHost: a.test\r\nX-Id: 7\r\n\r\n";
  Parsed p = ParseRequest(bytes);
  ASSERT_EQ(p.status, ParseStatus::kDone);
  EXPECT_EQ(p.consumed, bytes.size());
  EXPECT_EQ(p.request.method, "GET");
  EXPECT_EQ(p.request.target, "/index.html?q=1");
  EXPECT_EQ(p.request.path, "/index.html?q=1");
  EXPECT_EQ(p.request.target_form, RequestTargetForm::kOrigin);
  EXPECT_EQ(p.request.version, HttpVersion::k1_1);
  EXPECT_EQ(p.request.authority, "a.test");
  EXPECT_EQ(p.request.framing, BodyFraming::kNone);
  EXPECT_TRUE(p.request.keep_alive);
  EXPECT_FALSE(p.request.expects_100_continue);
  ASSERT_EQ(p.request.headers.size(), 2u);
  EXPECT_EQ(p.request.headers.fields()[1].name, "X-Id");
  EXPECT_EQ(p.request.headers.fields()[1].value, "7");
}

TEST(HttpRequestParserTest, HeaderLookupIsCaseInsensitiveAndValuesAreTrimmed) {
  Parsed p = ParseRequest("GET / HTTP/1.1\r\nhOsT: a.test\r\nX-A: \t one two \t\r\nX-E:\r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::kDone);
  EXPECT_EQ(p.request.headers.Get("HOST").value_or(""), "a.test");
  EXPECT_EQ(p.request.headers.Get("x-a").value_or(""), "one two");
  EXPECT_EQ(p.request.headers.Get("x-e").value_or("missing"), "");
  EXPECT_FALSE(p.request.headers.Get("x-none").has_value());
}

TEST(HttpRequestParserTest, AcceptsTabAndObsTextInValues) {
  Parsed p = ParseRequest(WithHeader("X-A: a\tb \xC3\xA9"));
  ASSERT_EQ(p.status, ParseStatus::kDone);
  EXPECT_EQ(p.request.headers.Get("x-a").value_or(""), "a\tb \xC3\xA9");
}

TEST(HttpRequestParserTest, IncompleteHeadNeedsMoreAndConsumesAll) {
  const std::string bytes = "GET / HTTP/1.1\r\nHost: a.test\r\n";
  Parsed p = ParseRequest(bytes);
  EXPECT_EQ(p.status, ParseStatus::kNeedMore);
  EXPECT_EQ(p.consumed, bytes.size());
}

TEST(HttpRequestParserTest, DoneAndErrorAreStickyUntilReset) {
  HttpRequestParser parser;
  size_t consumed = 0;
  EXPECT_EQ(parser.Parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &consumed).status,
            ParseStatus::kDone);
  EXPECT_EQ(parser.Parse("GET / HTTP/1.1\r\n", &consumed).status, ParseStatus::kDone);
  EXPECT_EQ(consumed, 0u);
  parser.Reset();
  ParseResult r = parser.Parse("GET / HTTP/1.1\n", &consumed);
  EXPECT_EQ(r.error, HttpError::kBadLineEnding);
  r = parser.Parse("Host: a\r\n\r\n", &consumed);
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.error, HttpError::kBadLineEnding);
  EXPECT_EQ(consumed, 0u);
  parser.Reset();
  EXPECT_EQ(parser.Parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &consumed).status,
            ParseStatus::kDone);
}

TEST(HttpRequestParserTest, IgnoresUpToFourLeadingEmptyLines) {
  EXPECT_EQ(RequestError("\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), HttpError::kNone);
  EXPECT_EQ(RequestError("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            HttpError::kBadRequestLine);
}

// --- Request line -----------------------------------------------------------------------------

TEST(HttpRequestParserTest, RejectsMalformedRequestLines) {
  for (absl::string_view line : {
           "GET /",  // No version (HTTP/0.9 shape).
           "GET  / HTTP/1.1",  // Two spaces.
           "GET / HTTP/1.1 ",  // Trailing space.
           "GET / HTTP/1.1 x",  // Extra field.
           "G(T / HTTP/1.1",  // Method not a token.
           " GET / HTTP/1.1",  // Leading space.
           "GET /a#frag HTTP/1.1",  // Fragment.
           "GET /a\x7f HTTP/1.1",  // DEL in target.
           "GET /\xC3\xA9 HTTP/1.1",  // Non-ASCII in target.
           "GET\t/ HTTP/1.1",  // HTAB as separator.
           "GET x HTTP/1.1",  // Not origin or absolute form.
           "GET * HTTP/1.1",  // Asterisk only for OPTIONS.
           "CONNECT /x HTTP/1.1",  // CONNECT needs authority-form.
           "CONNECT a.test HTTP/1.1",  // Authority-form needs a port.
           "CONNECT a.test:99999 HTTP/1.1",  // Port out of range.
           "GET ftp://a.test/ HTTP/1.1",  // Scheme other than http(s).
           "GET http://u@a.test/ HTTP/1.1",  // Userinfo.
           "GET http:///x HTTP/1.1",  // Empty host.
       }) {
    EXPECT_EQ(RequestError(absl::StrCat(line, "\r\nHost: a.test\r\n\r\n")),
              HttpError::kBadRequestLine)
        << line;
  }
}

TEST(HttpRequestParserTest, RejectsBadAndUnsupportedVersions) {
  EXPECT_EQ(RequestError("GET / http/1.1\r\nHost: a\r\n\r\n"), HttpError::kBadVersion);
  EXPECT_EQ(RequestError("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), HttpError::kBadVersion);
  EXPECT_EQ(RequestError("GET / HTTP/11\r\nHost: a\r\n\r\n"), HttpError::kBadVersion);
  EXPECT_EQ(RequestError("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), HttpError::kUnsupportedVersion);
  EXPECT_EQ(RequestError("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), HttpError::kUnsupportedVersion);
  EXPECT_EQ(RequestError("GET / HTTP/0.9\r\nHost: a\r\n\r\n"), HttpError::kUnsupportedVersion);
}

TEST(HttpRequestParserTest, ParsesEveryTargetForm) {
  Parsed p = ParseRequest("GET http://A.test:8080/p?q HTTP/1.1\r\nHost: a.TEST:8080\r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::kDone);
  EXPECT_EQ(p.request.target_form, RequestTargetForm::kAbsolute);
  EXPECT_EQ(p.request.scheme, "http");
  EXPECT_EQ(p.request.authority, "A.test:8080");
  EXPECT_EQ(p.request.path, "/p?q");

  p = ParseRequest("GET HTTPS://a.test?q HTTP/1.1\r\nHost: a.test:443\r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::kDone);
  EXPECT_EQ(p.request.scheme, "https");
  EXPECT_EQ(p.request.path, "/?q");

  p = ParseRequest("GET http://[::1]:80 HTTP/1.1\r\nHost: [::1]\r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::kDone);
  EXPECT_EQ(p.request.authority, "[::1]:80");
  EXPECT_EQ(p.request.path, "/");

  p = ParseRequest("CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::kDone);
  EXPECT_EQ(p.request.target_form, RequestTargetForm::kAuthority);
  EXPECT_EQ(p.request.authority, "a.test:443");

  p = ParseRequest("OPTIONS * HTTP/1.1\r\nHost: a.test\r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::kDone);
  EXPECT_EQ(p.request.target_form, RequestTargetForm::kAsterisk);
  EXPECT_EQ(p.request.path, "*");
}

// --- Limits -----------------------------------------------------------------------------------

TEST(HttpRequestParserTest, RequestLineAtTheLimitPassesOneOverFails) {
  HttpParserLimits limits;
  limits.max_start_line_bytes = 64;
  const std::string prefix = "GET /";
  const std::string suffix = " HTTP/1.1";
  std::string exact = prefix + std::string(64 - prefix.size() - suffix.size(), 'a') + suffix;
  ASSERT_EQ(exact.size(), 64u);
  const std::string rest = "\r\nHost: a\r\n\r\n";
  EXPECT_EQ(RequestError(exact + rest, limits), HttpError::kNone);
  std::string over = prefix + std::string(65 - prefix.size() - suffix.size(), 'a') + suffix;
  EXPECT_EQ(RequestError(over + rest, limits), HttpError::kRequestLineTooLong);
  EXPECT_EQ(ParseByteByByte(over + rest, limits).error, HttpError::kRequestLineTooLong);
}

TEST(HttpRequestParserTest, DefaultRequestLineLimitIs8KiB) {
  const std::string line = "GET /" + std::string(8192 - 14, 'a') + " HTTP/1.1";
  ASSERT_EQ(line.size(), 8192u);
  EXPECT_EQ(RequestError(line + "\r\nHost: a\r\n\r\n"), HttpError::kNone);
  const std::string over = "GET /" + std::string(8192 - 13, 'a') + " HTTP/1.1";
  EXPECT_EQ(RequestError(over + "\r\nHost: a\r\n\r\n"), HttpError::kRequestLineTooLong);
}

TEST(HttpRequestParserTest, HeaderBytesAtTheLimitPassOneOverFails) {
  HttpParserLimits limits;
  limits.max_header_bytes = 100;
  // "Host: a\r\n" is 9 bytes; "X: " + value + "\r\n" fills the remaining 91.
  const std::string exact = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(86, 'v') + "\r\n\r\n";
  EXPECT_EQ(RequestError(exact, limits), HttpError::kNone);
  EXPECT_EQ(ParseByteByByte(exact, limits).error, HttpError::kNone);
  const std::string over = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(87, 'v') + "\r\n\r\n";
  EXPECT_EQ(RequestError(over, limits), HttpError::kHeaderTooLarge);
  EXPECT_EQ(ParseByteByByte(over, limits).error, HttpError::kHeaderTooLarge);
}

TEST(HttpRequestParserTest, HeaderCountAtTheLimitPassesOneOverFails) {
  HttpParserLimits limits;
  limits.max_header_count = 5;
  std::string exact = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 4; ++i) absl::StrAppend(&exact, "X-", i, ": v\r\n");
  EXPECT_EQ(RequestError(exact + "\r\n", limits), HttpError::kNone);
  EXPECT_EQ(RequestError(exact + "X-4: v\r\n\r\n", limits), HttpError::kTooManyHeaders);
}

TEST(HttpRequestParserTest, DefaultHeaderCountLimitIs100) {
  std::string head = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 99; ++i) absl::StrAppend(&head, "X-", i, ": v\r\n");
  EXPECT_EQ(RequestError(head + "\r\n"), HttpError::kNone);
  EXPECT_EQ(RequestError(head + "X-99: v\r\n\r\n"), HttpError::kTooManyHeaders);
}

// --- Line endings and field syntax ------------------------------------------------------------

TEST(HttpRequestParserTest, RejectsBareCr) {
  EXPECT_EQ(RequestError("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n"), HttpError::kBareCr);
  EXPECT_EQ(RequestError("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n"), HttpError::kBareCr);
  EXPECT_EQ(RequestError("GET / HTTP/1.1\r\r\nHost: a\r\n\r\n"), HttpError::kBareCr);
  EXPECT_EQ(RequestError("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n"), HttpError::kBareCr);
}

TEST(HttpRequestParserTest, RejectsBareLf) {
  EXPECT_EQ(RequestError("GET / HTTP/1.1\nHost: a\r\n\r\n"), HttpError::kBadLineEnding);
  EXPECT_EQ(RequestError("GET / HTTP/1.1\r\nHost: a\n\r\n"), HttpError::kBadLineEnding);
  EXPECT_EQ(RequestError("GET / HTTP/1.1\r\nHost: a\r\n\n"), HttpError::kBadLineEnding);
}

TEST(HttpRequestParserTest, LeadingEmptyLinesMayEndWithABareLf) {
  EXPECT_EQ(RequestError("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), HttpError::kNone);
  EXPECT_EQ(RequestError("\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), HttpError::kNone);
  // They count against the same limit as CRLF ones.
  EXPECT_EQ(RequestError("\n\n\n\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            HttpError::kBadRequestLine);
}

TEST(HttpRequestParserTest, RejectsObsFold) {
  EXPECT_EQ(RequestError("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n  c\r\n\r\n"), HttpError::kObsFold);
  EXPECT_EQ(RequestError("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n"), HttpError::kObsFold);
  // Whitespace between the start line and the first field (RFC 9112 §2.2).
  EXPECT_EQ(RequestError("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), HttpError::kObsFold);
}

TEST(HttpRequestParserTest, RejectsBadHeaderNames) {
  for (absl::string_view line : {
           "Content-Length : 5",  // Whitespace before the colon (smuggling).
           "Content-Length\t: 5",
           "X Y: v",  // Space inside the name.
           "NoColon",  // No colon.
           ": v",  // Empty name.
           "X\xC3\xA9: v",  // Non-token.
           "X(Y): v",
       }) {
    EXPECT_EQ(RequestError(WithHeader(line)), HttpError::kBadHeaderName) << line;
  }
}

TEST(HttpRequestParserTest, RejectsControlCharactersInValues) {
  EXPECT_EQ(RequestError(WithHeader(std::string("X: a\0b", 6))), HttpError::kBadHeaderValue);
  EXPECT_EQ(RequestError(WithHeader("X: a\x01")), HttpError::kBadHeaderValue);
  EXPECT_EQ(RequestError(WithHeader("X: a\x7f")), HttpError::kBadHeaderValue);
  EXPECT_EQ(RequestError(WithHeader("X: a\x1b[0m")), HttpError::kBadHeaderValue);
}

// --- Framing ----------------------------------------------------------------------------------

TEST(HttpRequestParserTest, ContentLengthFraming) {
  Parsed p = ParseRequest(WithHeader("Content-Length: 42"));
  ASSERT_EQ(p.status, ParseStatus::kDone);
  EXPECT_EQ(p.request.framing, BodyFraming::kContentLength);
  EXPECT_EQ(p.request.content_length, 42u);
  p = ParseRequest(WithHeader("Content-Length: 18446744073709551615"));
  ASSERT_EQ(p.status, ParseStatus::kDone);
  EXPECT_EQ(p.request.content_length, 18446744073709551615u);
}

TEST(HttpRequestParserTest, DuplicateContentLengthWithSameValueIsOneLength) {
  Parsed p = ParseRequest(WithHeader("Content-Length: 5\r\nContent-Length: 5"));
  ASSERT_EQ(p.status, ParseStatus::kDone);
  EXPECT_EQ(p.request.content_length, 5u);
  p = ParseRequest(WithHeader("Content-Length: 5, 5"));
  ASSERT_EQ(p.status, ParseStatus::kDone);
  EXPECT_EQ(p.request.content_length, 5u);
}

TEST(HttpRequestParserTest, DifferentContentLengthsConflict) {
  EXPECT_EQ(RequestError(WithHeader("Content-Length: 5\r\nContent-Length: 6")),
            HttpError::kConflictingLength);
  EXPECT_EQ(RequestError(WithHeader("Content-Length: 5, 6")), HttpError::kConflictingLength);
}

TEST(HttpRequestParserTest, ContentLengthWithTransferEncodingConflicts) {
  EXPECT_EQ(RequestError(WithHeader("Content-Length: 5\r\nTransfer-Encoding: chunked")),
            HttpError::kConflictingLength);
  EXPECT_EQ(RequestError(WithHeader("Transfer-Encoding: chunked\r\nContent-Length: 0")),
            HttpError::kConflictingLength);
}

TEST(HttpRequestParserTest, RejectsBadContentLength) {
  for (absl::string_view value : {"+5", "-1", "5a", "0x5", "5 5", "", "5,", "1.0",
                                  "18446744073709551616", "99999999999999999999999"}) {
    EXPECT_EQ(RequestError(WithHeader(absl::StrCat("Content-Length: ", value))),
              HttpError::kBadContentLength)
        << value;
  }
}

TEST(HttpRequestParserTest, ChunkedMustBeTheFinalCodingOfARequest) {
  Parsed p = ParseRequest(WithHeader("Transfer-Encoding: gzip, chunked"));
  ASSERT_EQ(p.status, ParseStatus::kDone);
  EXPECT_EQ(p.request.framing, BodyFraming::kChunked);
  p = ParseRequest(WithHeader("Transfer-Encoding: gzip\r\nTransfer-Encoding: Chunked"));
  ASSERT_EQ(p.status, ParseStatus::kDone);
  EXPECT_EQ(p.request.framing, BodyFraming::kChunked);

  EXPECT_EQ(RequestError(WithHeader("Transfer-Encoding: chunked, gzip")),
            HttpError::kBadTransferEncoding);
  EXPECT_EQ(RequestError(WithHeader("Transfer-Encoding: gzip")), HttpError::kBadTransferEncoding);
}

TEST(HttpRequestParserTest, RejectsSmugglingShapedTransferEncodings) {
  for (absl::string_view value : {
           "chunked, chunked",  // Applied twice.
           "br, chunked",  // Unknown coding.
           "identity",  // Removed from the registry.
           "chunked;x=1",  // Parameters.
           ", chunked",  // Empty element.
           "chunked,",
           "\"chunked\"",
           "chunk",
           "",
       }) {
    EXPECT_EQ(RequestError(WithHeader(absl::StrCat("Transfer-Encoding: ", value))),
              HttpError::kBadTransferEncoding)
        << value;
  }
  // The chunked of the first field and the gzip of the second: chunked is not final.
  EXPECT_EQ(RequestError(WithHeader("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip")),
            HttpError::kBadTransferEncoding);
}

TEST(HttpRequestParserTest, TransferEncodingInHttp10IsRejected) {
  EXPECT_EQ(RequestError("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            HttpError::kBadTransferEncoding);
}

// --- Host -------------------------------------------------------------------------------------

TEST(HttpRequestParserTest, HostRules) {
  EXPECT_EQ(RequestError("GET / HTTP/1.1\r\n\r\n"), HttpError::kBadHost);
  EXPECT_EQ(RequestError("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), HttpError::kBadHost);
  EXPECT_EQ(RequestError("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), HttpError::kBadHost);
  EXPECT_EQ(RequestError("GET / HTTP/1.1\r\nHost: a:port\r\n\r\n"), HttpError::kBadHost);
  EXPECT_EQ(RequestError("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"), HttpError::kBadHost);
  EXPECT_EQ(RequestError("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), HttpError::kBadHost);
  // HTTP/1.0 may omit Host; the authority is then empty.
  Parsed p = ParseRequest("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::kDone);
  EXPECT_EQ(p.request.authority, "");
  // An empty Host is valid syntax (RFC 9112 §3.2); routing decides what to do with it.
  EXPECT_EQ(RequestError("GET / HTTP/1.1\r\nHost:\r\n\r\n"), HttpError::kNone);
  EXPECT_EQ(RequestError("GET / HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n"), HttpError::kNone);
}

TEST(HttpRequestParserTest, AbsoluteFormHostMismatchIsRejectedByDefault) {
  EXPECT_EQ(RequestError("GET http://a.test/ HTTP/1.1\r\nHost: b.test\r\n\r\n"),
            HttpError::kBadHost);
  EXPECT_EQ(RequestError("GET http://a.test/ HTTP/1.1\r\nHost: a.test:8080\r\n\r\n"),
            HttpError::kBadHost);
  // Same host in another case, and the scheme's default port spelled out or not: a match.
  EXPECT_EQ(RequestError("GET http://A.Test/ HTTP/1.1\r\nHost: a.test:80\r\n\r\n"),
            HttpError::kNone);
  EXPECT_EQ(RequestError("GET https://a.test:443/ HTTP/1.1\r\nHost: a.test\r\n\r\n"),
            HttpError::kNone);
  EXPECT_EQ(RequestError("GET https://a.test/ HTTP/1.1\r\nHost: a.test:80\r\n\r\n"),
            HttpError::kBadHost);
}

TEST(HttpRequestParserTest, AbsoluteFormHostMismatchAllowedMeansTheTargetWins) {
  HttpParserLimits limits;
  limits.allow_absolute_form_host_mismatch = true;
  Parsed p = ParseRequest("GET http://a.test/x HTTP/1.1\r\nHost: b.test\r\n\r\n", limits);
  ASSERT_EQ(p.status, ParseStatus::kDone);
  EXPECT_EQ(p.request.authority, "a.test");
  EXPECT_EQ(p.request.headers.Get("host").value_or(""), "b.test");
}

// --- Connection and Expect --------------------------------------------------------------------

TEST(HttpRequestParserTest, KeepAliveDecision) {
  EXPECT_TRUE(ParseRequest("GET / HTTP/1.1\r\nHost: a\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(ParseRequest(WithHeader("Connection: close")).request.keep_alive);
  EXPECT_FALSE(ParseRequest(WithHeader("Connection: Keep-Alive, CLOSE")).request.keep_alive);
  EXPECT_FALSE(ParseRequest(WithHeader("Connection: x\r\nConnection: close")).request.keep_alive);
  EXPECT_FALSE(ParseRequest("GET / HTTP/1.0\r\n\r\n").request.keep_alive);
  EXPECT_TRUE(ParseRequest("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").request.keep_alive);
}

TEST(HttpRequestParserTest, ExpectContinueOnlyForHttp11) {
  EXPECT_TRUE(ParseRequest(WithHeader("Expect: 100-Continue")).request.expects_100_continue);
  EXPECT_FALSE(ParseRequest(WithHeader("Expect: other")).request.expects_100_continue);
  EXPECT_FALSE(
      ParseRequest("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").request.expects_100_continue);
}

// --- Pieces and pipelining --------------------------------------------------------------------

TEST(HttpRequestParserTest, EverySplitGivesTheSameResultAsAllAtOnce) {
  const std::vector<std::string> inputs = {
      "GET /a HTTP/1.1\r\nHost: a.test\r\nX: 1\r\n\r\n",
      "\r\nPOST http://a.test/u HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip, chunked\r\n"
      "Expect: 100-continue\r\n\r\nBODY",
      "GET / HTTP/1.1\r\nHost: a\r\nX: b\r c\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "GET / HTTP/1.1\nHost: a\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n",
  };
  for (const std::string& input : inputs) {
    const Parsed whole = ParseRequest(input);
    const Parsed bytewise = ParseByteByByte(input);
    EXPECT_EQ(bytewise.status, whole.status) << input;
    EXPECT_EQ(bytewise.error, whole.error) << input;
    if (whole.status == ParseStatus::kDone) {
      EXPECT_EQ(bytewise.consumed, whole.consumed) << input;
      EXPECT_EQ(SerializeRequestHead(bytewise.request), SerializeRequestHead(whole.request));
    }
    for (size_t split = 0; split <= input.size(); ++split) {
      absl::string_view view(input);
      const Parsed two = ParsePieces({view.substr(0, split), view.substr(split)});
      EXPECT_EQ(two.status, whole.status) << input << " split at " << split;
      EXPECT_EQ(two.error, whole.error) << input << " split at " << split;
      if (whole.status == ParseStatus::kDone) {
        EXPECT_EQ(two.consumed, whole.consumed);
        EXPECT_EQ(two.request.authority, whole.request.authority);
        EXPECT_EQ(two.request.framing, whole.request.framing);
        EXPECT_EQ(two.request.headers.size(), whole.request.headers.size());
      }
    }
  }
}

TEST(HttpRequestParserTest, PipelinedRequestsAreConsumedOneAtATime) {
  const std::string first = "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n";
  const std::string second = "GET /b HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string buffer = first + "xyz" + second + "GET /c";
  absl::string_view in(buffer);
  HttpRequestParser parser;
  size_t consumed = 0;
  ASSERT_EQ(parser.Parse(in, &consumed).status, ParseStatus::kDone);
  EXPECT_EQ(consumed, first.size());
  EXPECT_EQ(parser.request().path, "/a");
  in.remove_prefix(consumed + parser.request().content_length);
  parser.Reset();
  ASSERT_EQ(parser.Parse(in, &consumed).status, ParseStatus::kDone);
  EXPECT_EQ(consumed, second.size());
  EXPECT_EQ(parser.request().path, "/b");
  in.remove_prefix(consumed);
  parser.Reset();
  EXPECT_EQ(parser.Parse(in, &consumed).status, ParseStatus::kNeedMore);
  EXPECT_EQ(consumed, 6u);
}

// --- Serialization ----------------------------------------------------------------------------

TEST(HttpHeadersTest, SerializationKeepsOrderAndCase) {
  Parsed p =
      ParseRequest("GET /x HTTP/1.1\r\nhost: a\r\nX-Foo:  1 \r\nx-foo: 2\r\nACCEPT: */*\r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::kDone);
  EXPECT_EQ(SerializeRequestHead(p.request),
            "GET /x HTTP/1.1\r\nhost: a\r\nX-Foo: 1\r\nx-foo: 2\r\nACCEPT: */*\r\n\r\n");
}

TEST(HttpHeadersTest, SetReplacesInPlaceAndRemoveErasesAll) {
  HttpHeaders h;
  h.Add("A", "1");
  h.Add("B", "2");
  h.Add("a", "3");
  EXPECT_EQ(h.Count("a"), 2u);
  h.Set("A", "x");
  std::string out;
  h.AppendTo(&out);
  EXPECT_EQ(out, "A: x\r\nB: 2\r\n");
  h.Set("C", "y");
  EXPECT_EQ(h.Remove("b"), 1u);
  out.clear();
  h.AppendTo(&out);
  EXPECT_EQ(out, "A: x\r\nC: y\r\n");
}

TEST(HttpErrorTest, EveryErrorHasANameAReasonAndAStatus) {
  for (int i = static_cast<int>(HttpError::kNone); i <= static_cast<int>(HttpError::kBadChunkEnd);
       ++i) {
    HttpError e = static_cast<HttpError>(i);
    EXPECT_NE(HttpErrorName(e), "Unknown") << i;
    EXPECT_NE(HttpErrorReason(e), "unknown error") << i;
    EXPECT_GE(HttpErrorStatusCode(e), 400);
  }
  EXPECT_EQ(HttpErrorStatusCode(HttpError::kConflictingLength), 400);
  EXPECT_EQ(HttpErrorStatusCode(HttpError::kRequestLineTooLong), 414);
  EXPECT_EQ(HttpErrorStatusCode(HttpError::kHeaderTooLarge), 431);
}

// --- Responses --------------------------------------------------------------------------------

struct ParsedResponse {
  ParseStatus status = ParseStatus::kNeedMore;
  HttpError error = HttpError::kNone;
  size_t consumed = 0;
  HttpResponse response;
};

ParsedResponse ParseResponse(absl::string_view bytes, absl::string_view method = "GET") {
  HttpResponseParser parser(method);
  ParsedResponse out;
  ParseResult r = parser.Parse(bytes, &out.consumed);
  out.status = r.status;
  out.error = r.error;
  out.response = parser.response();
  return out;
}

TEST(HttpResponseParserTest, ParsesStatusLine) {
  ParsedResponse p = ParseResponse("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::kDone);
  EXPECT_EQ(p.response.status_code, 404);
  EXPECT_EQ(p.response.reason, "Not Found");
  EXPECT_EQ(p.response.framing, BodyFraming::kContentLength);
  EXPECT_TRUE(p.response.keep_alive);
  // Empty reason, with or without the SP.
  EXPECT_EQ(ParseResponse("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n").status, ParseStatus::kDone);
  EXPECT_EQ(ParseResponse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").status, ParseStatus::kDone);
}

TEST(HttpResponseParserTest, RejectsMalformedStatusLines) {
  for (absl::string_view line :
       {"HTTP/1.1  200 OK", "HTTP/1.1 20 OK", "HTTP/1.1 2000 OK", "HTTP/1.1 099 Low",
        "HTTP/1.1 abc OK", "HTTP/1.1", "ICY 200 OK", "HTTP/1.1 200 O\x01K"}) {
    EXPECT_EQ(ParseResponse(absl::StrCat(line, "\r\n\r\n")).error, HttpError::kBadStatusLine)
        << line;
  }
  EXPECT_EQ(ParseResponse("HTTP/2.0 200 OK\r\n\r\n").error, HttpError::kUnsupportedVersion);
  EXPECT_EQ(ParseResponse("HTTP/x.y 200 OK\r\n\r\n").error, HttpError::kBadVersion);
}

TEST(HttpResponseParserTest, NoBodyForHeadAnd204And304And1xx) {
  ParsedResponse p = ParseResponse("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", "HEAD");
  ASSERT_EQ(p.status, ParseStatus::kDone);
  EXPECT_EQ(p.response.framing, BodyFraming::kNone);
  EXPECT_TRUE(p.response.keep_alive);
  p = ParseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HEAD");
  EXPECT_EQ(p.response.framing, BodyFraming::kNone);
  EXPECT_EQ(ParseResponse("HTTP/1.1 204 No Content\r\n\r\n").response.framing, BodyFraming::kNone);
  EXPECT_EQ(
      ParseResponse("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n").response.framing,
      BodyFraming::kNone);
  p = ParseResponse("HTTP/1.1 100 Continue\r\n\r\n");
  EXPECT_EQ(p.response.framing, BodyFraming::kNone);
  EXPECT_TRUE(p.response.is_interim());
  EXPECT_FALSE(ParseResponse("HTTP/1.1 101 Switching\r\n\r\n").response.is_interim());
  EXPECT_EQ(ParseResponse("HTTP/1.1 200 OK\r\n\r\n", "CONNECT").response.framing,
            BodyFraming::kNone);
}

TEST(HttpResponseParserTest, InterimResponseThenFinalOnTheSameParser) {
  const std::string bytes =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  absl::string_view in(bytes);
  HttpResponseParser parser("POST");
  size_t consumed = 0;
  ASSERT_EQ(parser.Parse(in, &consumed).status, ParseStatus::kDone);
  EXPECT_TRUE(parser.response().is_interim());
  in.remove_prefix(consumed);
  parser.Reset("POST");
  ASSERT_EQ(parser.Parse(in, &consumed).status, ParseStatus::kDone);
  EXPECT_EQ(parser.response().status_code, 200);
  EXPECT_EQ(in.substr(consumed), "ok");
}

TEST(HttpResponseParserTest, BodyFramingRules) {
  EXPECT_EQ(ParseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").response.framing,
            BodyFraming::kChunked);
  ParsedResponse p = ParseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, br\r\n\r\n");
  EXPECT_EQ(p.response.framing, BodyFraming::kUntilClose);
  EXPECT_FALSE(p.response.keep_alive);
  p = ParseResponse("HTTP/1.1 200 OK\r\n\r\n");
  EXPECT_EQ(p.response.framing, BodyFraming::kUntilClose);
  EXPECT_FALSE(p.response.keep_alive);
  p = ParseResponse("HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n");
  EXPECT_EQ(p.response.framing, BodyFraming::kContentLength);
  EXPECT_EQ(p.response.content_length, 7u);
  EXPECT_EQ(
      ParseResponse("HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 8\r\n\r\n").error,
      HttpError::kConflictingLength);
  EXPECT_EQ(ParseResponse("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n")
                .error,
            HttpError::kConflictingLength);
  EXPECT_EQ(ParseResponse("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").error,
            HttpError::kBadTransferEncoding);
  EXPECT_EQ(ParseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n").error,
            HttpError::kBadTransferEncoding);
  EXPECT_EQ(ParseResponse("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").error,
            HttpError::kBadContentLength);
}

TEST(HttpResponseParserTest, KeepAliveDecision) {
  EXPECT_FALSE(ParseResponse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").response.keep_alive);
  EXPECT_TRUE(
      ParseResponse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n")
          .response.keep_alive);
  EXPECT_FALSE(ParseResponse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                   .response.keep_alive);
}

TEST(HttpResponseParserTest, HeadLimitsAndLineEndingsApply) {
  EXPECT_EQ(ParseResponse("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n").error,
            HttpError::kBadLineEnding);
  EXPECT_EQ(ParseResponse("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n").error, HttpError::kObsFold);
  EXPECT_EQ(ParseResponse("HTTP/1.1 200 OK\r\nX : a\r\n\r\n").error, HttpError::kBadHeaderName);
}

TEST(HttpResponseParserTest, SerializeResponseHead) {
  ParsedResponse p = ParseResponse("HTTP/1.1 200 OK\r\nServer: o\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(SerializeResponseHead(p.response),
            "HTTP/1.1 200 OK\r\nServer: o\r\nContent-Length: 0\r\n\r\n");
}

// --- Chunked decoder --------------------------------------------------------------------------

struct Decoded {
  ParseStatus status = ParseStatus::kNeedMore;
  HttpError error = HttpError::kNone;
  std::string body;
  size_t consumed = 0;
  HttpHeaders trailers;
};

Decoded DecodePieces(const std::vector<absl::string_view>& pieces,
                     const ChunkedDecoder::Limits& limits = ChunkedDecoder::Limits()) {
  ChunkedDecoder decoder(limits);
  Decoded out;
  for (absl::string_view piece : pieces) {
    while (!piece.empty()) {
      ChunkedDecoder::Result r = decoder.Decode(piece);
      piece.remove_prefix(r.consumed);
      out.consumed += r.consumed;
      out.body.append(r.data.data(), r.data.size());
      out.status = r.status;
      out.error = r.error;
      if (r.status != ParseStatus::kNeedMore) {
        out.trailers = decoder.trailers();
        return out;
      }
    }
  }
  out.trailers = decoder.trailers();
  return out;
}

Decoded Decode(absl::string_view bytes,
               const ChunkedDecoder::Limits& limits = ChunkedDecoder::Limits()) {
  return DecodePieces({bytes}, limits);
}

TEST(ChunkedDecoderTest, DecodesChunksAndStopsAfterTheLastCrlf) {
  const std::string body = "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";
  Decoded d = Decode(body + "NEXT");
  ASSERT_EQ(d.status, ParseStatus::kDone);
  EXPECT_EQ(d.body, "hello, world");
  EXPECT_EQ(d.consumed, body.size());
}

TEST(ChunkedDecoderTest, AcceptsHexInEitherCaseAndLeadingZeros) {
  Decoded d = Decode("A\r\n0123456789\r\n000b\r\n0123456789a\r\n00\r\n\r\n");
  ASSERT_EQ(d.status, ParseStatus::kDone);
  EXPECT_EQ(d.body.size(), 21u);
}

TEST(ChunkedDecoderTest, IgnoresExtensions) {
  Decoded d = Decode("5;name=value;flag\r\nhello\r\n3 ; q=\"a b\"\r\nabc\r\n0;last\r\n\r\n");
  ASSERT_EQ(d.status, ParseStatus::kDone) << HttpErrorName(d.error);
  EXPECT_EQ(d.body, "helloabc");
}

TEST(ChunkedDecoderTest, ParsesTrailers) {
  Decoded d = Decode("3\r\nabc\r\n0\r\nChecksum: 1234\r\nX-T: v\r\n\r\nNEXT");
  ASSERT_EQ(d.status, ParseStatus::kDone);
  EXPECT_EQ(d.body, "abc");
  EXPECT_EQ(d.trailers.Get("checksum").value_or(""), "1234");
  EXPECT_EQ(d.trailers.size(), 2u);
  EXPECT_EQ(d.consumed, 37u);
}

TEST(ChunkedDecoderTest, SplitAtEveryByteGivesTheSameBody) {
  const std::string input =
      "4;x=y\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nT: 1\r\n\r\n";
  const Decoded whole = Decode(input);
  ASSERT_EQ(whole.status, ParseStatus::kDone);
  EXPECT_EQ(whole.body, "Wikipedia in\r\n\r\nchunks.");
  for (size_t split = 0; split <= input.size(); ++split) {
    absl::string_view view(input);
    Decoded two = DecodePieces({view.substr(0, split), view.substr(split)});
    EXPECT_EQ(two.status, ParseStatus::kDone) << split;
    EXPECT_EQ(two.body, whole.body) << split;
    EXPECT_EQ(two.consumed, whole.consumed) << split;
  }
  std::vector<absl::string_view> bytes;
  for (size_t i = 0; i < input.size(); ++i) bytes.push_back(absl::string_view(input).substr(i, 1));
  Decoded bytewise = DecodePieces(bytes);
  EXPECT_EQ(bytewise.status, ParseStatus::kDone);
  EXPECT_EQ(bytewise.body, whole.body);
  EXPECT_EQ(bytewise.trailers.Get("t").value_or(""), "1");
}

TEST(ChunkedDecoderTest, RejectsOversizedChunkSize) {
  EXPECT_EQ(Decode("00000000000000001\r\n").error, HttpError::kBadChunkSize);  // 17 digits.
  EXPECT_EQ(Decode("FFFFFFFFFFFFFFFF\r\n").error, HttpError::kChunkTooLarge);
  ChunkedDecoder::Limits limits;
  limits.max_chunk_size = 16;
  EXPECT_EQ(Decode("10\r\n0123456789abcdef\r\n0\r\n\r\n", limits).status, ParseStatus::kDone);
  EXPECT_EQ(Decode("11\r\n", limits).error, HttpError::kChunkTooLarge);
}

TEST(ChunkedDecoderTest, RejectsBadChunkSizeLines) {
  EXPECT_EQ(Decode("\r\n").error, HttpError::kBadChunkSize);
  EXPECT_EQ(Decode("x\r\n").error, HttpError::kBadChunkSize);
  EXPECT_EQ(Decode("-5\r\n").error, HttpError::kBadChunkSize);
  EXPECT_EQ(Decode("0x5\r\n").error, HttpError::kBadChunkSize);
  EXPECT_EQ(Decode("5 \r\n").error, HttpError::kBadChunkExtension);
  EXPECT_EQ(Decode("5\n").error, HttpError::kBadLineEnding);
  EXPECT_EQ(Decode("5\rx").error, HttpError::kBareCr);
  EXPECT_EQ(Decode("5;a\x01\r\n").error, HttpError::kBadChunkExtension);
  ChunkedDecoder::Limits limits;
  limits.max_extension_bytes = 4;
  EXPECT_EQ(Decode("1;abc\r\nx\r\n0\r\n\r\n", limits).status, ParseStatus::kDone);
  EXPECT_EQ(Decode("1;abcd\r\n", limits).error, HttpError::kBadChunkExtension);
}

TEST(ChunkedDecoderTest, RejectsMissingCrlfAfterData) {
  EXPECT_EQ(Decode("3\r\nabcd\r\n").error, HttpError::kBadChunkEnd);
  EXPECT_EQ(Decode("3\r\nabc\n0\r\n\r\n").error, HttpError::kBadChunkEnd);
  EXPECT_EQ(Decode("3\r\nabc\rx").error, HttpError::kBadChunkEnd);
}

TEST(ChunkedDecoderTest, TrailersAreBoundedAndStrict) {
  EXPECT_EQ(Decode("0\r\nX: a\r\n b\r\n\r\n").error, HttpError::kObsFold);
  EXPECT_EQ(Decode("0\r\nX : a\r\n\r\n").error, HttpError::kBadHeaderName);
  EXPECT_EQ(Decode("0\r\n\n").error, HttpError::kBadLineEnding);
  ChunkedDecoder::Limits limits;
  limits.max_trailer_count = 1;
  EXPECT_EQ(Decode("0\r\nA: 1\r\n\r\n", limits).status, ParseStatus::kDone);
  EXPECT_EQ(Decode("0\r\nA: 1\r\nB: 2\r\n\r\n", limits).error, HttpError::kTooManyHeaders);
  limits = ChunkedDecoder::Limits();
  limits.max_trailer_bytes = 8;
  EXPECT_EQ(Decode("0\r\nA: 123\r\n\r\n", limits).status, ParseStatus::kDone);
  EXPECT_EQ(Decode("0\r\nA: 1234\r\n\r\n", limits).error, HttpError::kHeaderTooLarge);
}

TEST(ChunkedDecoderTest, DoneAndErrorAreStickyUntilReset) {
  ChunkedDecoder decoder;
  EXPECT_EQ(decoder.Decode("0\r\n\r\n").status, ParseStatus::kDone);
  ChunkedDecoder::Result r = decoder.Decode("5\r\n");
  EXPECT_EQ(r.status, ParseStatus::kDone);
  EXPECT_EQ(r.consumed, 0u);
  decoder.Reset();
  EXPECT_EQ(decoder.Decode("z").error, HttpError::kBadChunkSize);
  r = decoder.Decode("0\r\n\r\n");
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.consumed, 0u);
  decoder.Reset();
  EXPECT_EQ(decoder.Decode("1\r\na\r\n0\r\n\r\n").status, ParseStatus::kNeedMore);  // Data first.
  EXPECT_EQ(decoder.body_bytes(), 1u);
}

}  // namespace
}  // namespace tollgate
