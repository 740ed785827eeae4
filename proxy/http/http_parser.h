// HTTP/1.1 message-head parsers and a chunked-body decoder: strict, bounded and incremental.
//
// These parse bytes and never touch a socket, a buffer chain or the event system, so they are
// easy to test and to fuzz (tests/fuzz/http_parser_fuzz.cc). Everything a peer sends is checked
// against RFC 9110 / RFC 9112 with explicit limits; whatever the proxy cannot frame without doubt
// (the request smuggling shapes: obs-fold, bare CR or LF, whitespace before a colon,
// Content-Length with Transfer-Encoding, two different Content-Lengths, a Transfer-Encoding that
// does not end in "chunked") is an error with a typed reason, never a guess and never a crash.
//
//   HttpRequestParser parser;
//   size_t consumed = 0;
//   ParseResult r = parser.Parse(bytes, &consumed);
//   bytes.remove_prefix(consumed);  // On kDone, what is left is the body or the next request.
//   switch (r.status) {
//     case ParseStatus::kNeedMore: ...read more, call Parse again with the new bytes only...
//     case ParseStatus::kError:    ...answer HttpErrorStatusCode(r.error) with
//                                     HttpErrorReason(r.error), then close...
//     case ParseStatus::kDone:     ...use parser.request(); parser.Reset() before the next...
//   }
//
// Threads: each object is used by one thread at a time; the free functions are thread-safe.

#ifndef TOLLGATE_PROXY_HTTP_HTTP_PARSER_H_
#define TOLLGATE_PROXY_HTTP_HTTP_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace tollgate {

// ---------------------------------------------------------------------------------------------
// Results

// ParseStatus is what a Parse or Decode call reached.
enum class ParseStatus {
  kNeedMore,  // Every byte given was consumed and the message part is not complete yet.
  kDone,  // The message part is complete; bytes after it were not consumed.
  kError,  // The input is invalid; see the HttpError. The parser stays in error until Reset.
};

// HttpError says why a message was rejected. Each value has a short reason text
// (HttpErrorReason) for a 400 body and a log line, and a name (HttpErrorName) for logs and tests.
enum class HttpError {
  kNone,
  // Start line.
  kBadRequestLine,  // Not `method SP request-target SP HTTP-version`, or a bad target.
  kRequestLineTooLong,  // Request (or status) line longer than max_start_line_bytes.
  kBadVersion,  // Not `HTTP/DIGIT.DIGIT`.
  kUnsupportedVersion,  // Well-formed but not HTTP/1.0 or HTTP/1.1.
  kBadStatusLine,  // Response: not `HTTP-version SP 3DIGIT [SP reason]`.
  // Line endings.
  kBareCr,  // A CR not followed by LF.
  kBadLineEnding,  // A LF not preceded by CR (bare LF).
  // Header fields.
  kHeaderTooLarge,  // Header section larger than max_header_bytes.
  kTooManyHeaders,  // More than max_header_count fields.
  kObsFold,  // A field line starting with SP or HTAB (obsolete line folding).
  kBadHeaderName,  // Empty, not a token, missing colon, or whitespace before the colon.
  kBadHeaderValue,  // A control character other than HTAB in a value.
  // Framing and semantics.
  kConflictingLength,  // Content-Length with Transfer-Encoding, or two different lengths.
  kBadContentLength,  // Not 1*DIGIT, or too large for 64 bits.
  kBadTransferEncoding,  // Unknown coding, chunked twice or not last (requests), or HTTP/1.0.
  kBadHost,  // HTTP/1.1 without Host, several Host fields, bad syntax, or mismatch.
  // Chunked body.
  kBadChunkSize,  // Not 1*HEXDIG, or more than 16 digits.
  kChunkTooLarge,  // A chunk larger than ChunkedDecoder::Limits::max_chunk_size.
  kBadChunkExtension,  // Chunk extension with a control character, or too long.
  kBadChunkEnd,  // Chunk data not followed by CRLF.
};

// HttpErrorName returns the enumerator's name without the "k" ("BadHost"); "Unknown" for a
// value outside the enum.
absl::string_view HttpErrorName(HttpError error);

// HttpErrorReason returns a short, fixed English phrase ("conflicting Content-Length and
// Transfer-Encoding") safe to put in a response body: it never echoes peer bytes.
absl::string_view HttpErrorReason(HttpError error);

// HttpErrorStatusCode returns the HTTP status to answer a request rejected with |error|: 414
// for kRequestLineTooLong, 431 for kHeaderTooLarge and kTooManyHeaders, 505 for
// kUnsupportedVersion, 400 for the rest (every framing and smuggling shape among them: RFC 9112
// §6.3 asks for 400 when a request's body length cannot be determined reliably).
int HttpErrorStatusCode(HttpError error);

// HttpReasonPhrase returns the RFC 9110 reason phrase of |status_code| ("Not Found"), or "" for
// a code it does not know (an empty reason is valid in a status line).
absl::string_view HttpReasonPhrase(int status_code);

// ParseResult is the outcome of one Parse call. |error| is kNone unless status is kError.
struct ParseResult {
  ParseStatus status = ParseStatus::kNeedMore;
  HttpError error = HttpError::kNone;
};

// ---------------------------------------------------------------------------------------------
// Limits

// HttpParserLimits bounds what a peer can make a head parser hold. Every bound is inclusive:
// exactly the limit is accepted, one byte (or field) more is an error.
struct HttpParserLimits {
  // The request or status line, without its CRLF.
  size_t max_start_line_bytes = 8 * 1024;
  // The header section: every field line with its CRLF, not counting the start line or the
  // empty line that ends the head.
  size_t max_header_bytes = 64 * 1024;
  // Number of field lines.
  size_t max_header_count = 100;
  // Empty lines (CRLF) accepted before the start line (RFC 9112 §2.2 robustness for clients
  // that send a CRLF after a body); one more is kBadRequestLine.
  size_t max_leading_empty_lines = 4;
  // When false (the default), a request in absolute-form whose authority differs from its Host
  // field (compared case-insensitively, with the scheme's default port filled in) is rejected
  // with kBadHost: two stages of the proxy (remap and a plugin, say) could otherwise route the
  // same request by different hosts. When true, the target's authority wins as RFC 9112 §3.2.2
  // says and HttpRequest::authority is the target's; the Host field is left as received.
  bool allow_absolute_form_host_mismatch = false;
};

// ---------------------------------------------------------------------------------------------
// Header fields

struct HttpHeaderField {
  std::string name;  // As received (original case).
  std::string value;  // Leading and trailing SP / HTAB removed.
};

// HttpHeaders is an ordered list of fields with case-insensitive lookup by name. Order and the
// original case of names are kept, so AppendTo forwards them as they came (bar the optional
// whitespace around values, which is not kept).
class HttpHeaders {
 public:
  // Add appends a field. It does not validate: callers add fields they made themselves.
  void Add(absl::string_view name, absl::string_view value);

  // Get returns the value of the first field named |name| (case-insensitive), or nullopt. The
  // view is valid until the headers are next changed.
  std::optional<absl::string_view> Get(absl::string_view name) const;

  // Count returns how many fields are named |name|.
  size_t Count(absl::string_view name) const;

  bool Has(absl::string_view name) const { return Count(name) != 0; }

  // Remove erases every field named |name| and returns how many it erased.
  size_t Remove(absl::string_view name);

  // Set replaces the first field named |name| in place (keeping its position and the case of its
  // name) and erases the others; with no such field it appends one.
  void Set(absl::string_view name, absl::string_view value);

  // AppendTo writes every field as "name: value\r\n", in order, to |out|.
  void AppendTo(std::string* out) const;

  const std::vector<HttpHeaderField>& fields() const { return fields_; }
  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  void Clear() { fields_.clear(); }

 private:
  static constexpr size_t kTypicalFields = 16;
  std::vector<HttpHeaderField> fields_;
};

// ---------------------------------------------------------------------------------------------
// Parsed heads

enum class HttpVersion { k1_0, k1_1 };

// HttpVersionString returns "HTTP/1.0" or "HTTP/1.1".
absl::string_view HttpVersionString(HttpVersion version);

// The four request-target forms of RFC 9112 §3.2.
enum class RequestTargetForm {
  kOrigin,  // "/path?query"
  kAbsolute,  // "http://host:port/path?query" (scheme http or https)
  kAuthority,  // "host:port", CONNECT only
  kAsterisk,  // "*", OPTIONS only
};

// BodyFraming is how the message body is delimited (RFC 9112 §6.3).
enum class BodyFraming {
  kNone,  // No body (or, for a request, a zero-length one).
  kContentLength,  // Exactly content_length bytes.
  kChunked,  // Chunked transfer coding: feed the body to a ChunkedDecoder.
  kUntilClose,  // Responses only: the body runs until the origin closes the connection.
};

struct HttpRequest {
  std::string method;  // Case-sensitive token, as received ("GET").
  std::string target;  // The request-target, as received.
  RequestTargetForm target_form = RequestTargetForm::kOrigin;
  HttpVersion version = HttpVersion::k1_1;
  HttpHeaders headers;

  // For kAbsolute: the lower-cased scheme ("http" or "https"); empty otherwise.
  std::string scheme;
  // The authority the request is for: the target's for kAbsolute and kAuthority, otherwise the
  // Host field's value (empty for HTTP/1.0 without Host).
  std::string authority;
  // For kOrigin and kAbsolute: path and query ("/" when an absolute target has no path); empty
  // for kAuthority and "*" for kAsterisk.
  std::string path;

  BodyFraming framing = BodyFraming::kNone;  // Never kUntilClose for a request.
  uint64_t content_length = 0;  // Meaningful for kContentLength only.
  // HTTP/1.1: true unless Connection has "close". HTTP/1.0: true only with "keep-alive" (and
  // no "close").
  bool keep_alive = true;
  // HTTP/1.1 with "Expect: 100-continue" (case-insensitive). Other expectations are ignored,
  // as is Expect in HTTP/1.0 (RFC 9110 §10.1.1).
  bool expects_100_continue = false;
};

struct HttpResponse {
  HttpVersion version = HttpVersion::k1_1;
  int status_code = 0;  // 100..999.
  std::string reason;  // May be empty.
  HttpHeaders headers;

  BodyFraming framing = BodyFraming::kNone;
  uint64_t content_length = 0;  // Meaningful for kContentLength only.
  // False when the body is close-delimited, with "Connection: close", and for HTTP/1.0 without
  // "Connection: keep-alive".
  bool keep_alive = true;

  // is_interim is true for 1xx other than 101: another head (the final response) follows on
  // the same connection; Reset the parser and parse again.
  bool is_interim() const { return status_code >= 100 && status_code < 200 && status_code != 101; }
};

// SerializeRequestHead returns "METHOD target VERSION\r\n", the fields (HttpHeaders::AppendTo)
// and the empty line, for forwarding.
std::string SerializeRequestHead(const HttpRequest& request);

// SerializeResponseHead returns "VERSION code reason\r\n", the fields and the empty line.
std::string SerializeResponseHead(const HttpResponse& response);

// ---------------------------------------------------------------------------------------------
// Parsers

namespace http_internal {

// HeadReader splits bytes into CRLF lines, enforces the line-ending rules and the limits, and
// parses field lines. Shared by the request and response parsers; not for direct use.
class HeadReader {
 public:
  enum class Event { kNeedMore, kStartLine, kEndOfHead, kError };

  // With |has_start_line| false (trailers), the first line is already a field line.
  HeadReader(const HttpParserLimits& limits, bool has_start_line)
      : limits_(limits), has_start_line_(has_start_line), in_headers_(!has_start_line) {}

  // Next consumes bytes from the front of |*in| until a start line or the end of the head is
  // complete, the input runs out (kNeedMore, |*in| empty), or an error. Field lines are added to
  // |*headers|. After kStartLine the line is start_line().
  Event Next(absl::string_view* in, HttpHeaders* headers, HttpError* error);

  absl::string_view start_line() const { return start_line_; }
  void Reset();

 private:
  Event CompleteLine(HttpHeaders* headers, HttpError* error);

  const HttpParserLimits limits_;
  const bool has_start_line_;
  std::string start_line_;
  std::string line_;  // The current line without CR or LF.
  bool saw_cr_ = false;  // The last byte consumed was a CR.
  bool in_headers_;  // The start line is done (or there is none).
  size_t leading_empty_ = 0;  // Empty lines seen before the start line.
  size_t header_bytes_ = 0;  // Field lines so far, with their CRLFs.
};

}  // namespace http_internal

// HttpRequestParser parses one request head at a time, from bytes that may arrive in pieces of
// any size. It copies what it keeps, so the caller's bytes need not outlive a call.
class HttpRequestParser {
 public:
  explicit HttpRequestParser(const HttpParserLimits& limits = HttpParserLimits());

  // Parse consumes bytes of the head. It sets |*consumed| to the number of bytes of |bytes| it
  // took: all of them on kNeedMore; on kDone, up to and including the CRLF ending the head (what
  // follows is the body or a pipelined request); on kError, an unspecified count (the connection
  // is to be closed). Once kDone or kError, further calls return the same result with
  // |*consumed| 0 until Reset.
  ParseResult Parse(absl::string_view bytes, size_t* consumed);

  // request returns the parsed request; complete only after kDone.
  const HttpRequest& request() const { return request_; }
  HttpRequest& mutable_request() { return request_; }

  // Reset readies the parser for the next request on the same connection; limits are kept.
  void Reset();

 private:
  HttpError ParseRequestLine(absl::string_view line);
  HttpError FinishHead();

  const HttpParserLimits limits_;
  http_internal::HeadReader reader_;
  HttpRequest request_;
  ParseResult result_;
};

// HttpResponseParser parses an origin's response head. The request method decides framing for
// HEAD and CONNECT, so it is given at construction and at Reset.
class HttpResponseParser {
 public:
  explicit HttpResponseParser(absl::string_view request_method,
                              const HttpParserLimits& limits = HttpParserLimits());

  // Parse is as HttpRequestParser::Parse. Framing follows RFC 9112 §6.3: no body for a
  // response to HEAD, for 1xx, 204 and 304, and for 2xx to CONNECT (the connection becomes a
  // tunnel); then Transfer-Encoding ending in chunked is kChunked, another final coding is
  // kUntilClose; then Content-Length (repeated equal values are one; different values, or
  // Content-Length with Transfer-Encoding, are kConflictingLength); else kUntilClose. The
  // status line may omit the SP before an empty reason.
  ParseResult Parse(absl::string_view bytes, size_t* consumed);

  const HttpResponse& response() const { return response_; }
  HttpResponse& mutable_response() { return response_; }

  // Reset readies the parser for the next response (or the final response after an interim
  // one, with the same method).
  void Reset(absl::string_view request_method);

 private:
  HttpError ParseStatusLine(absl::string_view line);
  HttpError FinishHead();

  const HttpParserLimits limits_;
  http_internal::HeadReader reader_;
  std::string request_method_;
  HttpResponse response_;
  ParseResult result_;
};

// ---------------------------------------------------------------------------------------------
// Chunked bodies

// ChunkedDecoder decodes a chunked body (RFC 9112 §7.1) from bytes that may arrive in pieces,
// returning views of the chunk data without copying it.
//
//   ChunkedDecoder decoder;
//   while (!in.empty()) {
//     ChunkedDecoder::Result r = decoder.Decode(in);
//     in.remove_prefix(r.consumed);
//     if (!r.data.empty()) Forward(r.data);      // A view into |in|'s bytes.
//     if (r.status == ParseStatus::kDone) break;   // |in| now holds what follows the body.
//     if (r.status == ParseStatus::kError) Fail(r.error);
//   }
//
// Chunk extensions are checked and ignored; trailer fields are parsed with the same rules as
// header fields, bounded, and kept in trailers().
class ChunkedDecoder {
 public:
  struct Limits {
    uint64_t max_chunk_size = uint64_t{1} << 40;  // Larger is kChunkTooLarge.
    size_t max_extension_bytes = 4096;  // Per chunk-size line, after the digits.
    size_t max_trailer_bytes = 16 * 1024;  // As HttpParserLimits::max_header_bytes.
    size_t max_trailer_count = 32;
  };

  struct Result {
    ParseStatus status = ParseStatus::kNeedMore;
    HttpError error = HttpError::kNone;
    size_t consumed = 0;  // Bytes of the input taken, including those of |data|.
    absl::string_view data;  // Chunk data, pointing into the input; may be empty.
  };

  ChunkedDecoder() : ChunkedDecoder(Limits()) {}
  explicit ChunkedDecoder(const Limits& limits);

  // Decode consumes bytes until it has a span of chunk data to return, the body ends (kDone,
  // with the bytes after the last CRLF left unconsumed), the input runs out (kNeedMore), or an
  // error. A kNeedMore result may carry data and leave input unconsumed: call again with the
  // rest. After kDone or kError it returns the same status, consuming nothing, until Reset.
  Result Decode(absl::string_view in);

  // trailers returns the trailer fields; complete after kDone.
  const HttpHeaders& trailers() const { return trailers_; }

  // body_bytes returns the chunk data bytes decoded so far.
  uint64_t body_bytes() const { return body_bytes_; }

  void Reset();

 private:
  enum class State {
    kSize,  // Hex digits of chunk-size.
    kSizeWs,  // BWS after the digits; only ';' or CR may follow.
    kExtension,  // After ';' up to CR.
    kSizeLf,  // CR seen after the size line; LF must follow.
    kData,  // Chunk data.
    kDataCr,  // CR after chunk data.
    kDataLf,  // LF after chunk data.
    kTrailer,  // Trailer section, via HeadReader.
    kDone,
    kError,
  };

  Result Fail(HttpError error, size_t consumed);

  const Limits limits_;
  HttpParserLimits trailer_limits_;
  http_internal::HeadReader trailer_reader_;
  State state_ = State::kSize;
  HttpError error_ = HttpError::kNone;
  uint64_t chunk_size_ = 0;
  uint64_t chunk_left_ = 0;
  size_t size_digits_ = 0;
  size_t extension_bytes_ = 0;
  uint64_t body_bytes_ = 0;
  HttpHeaders trailers_;
};

}  // namespace tollgate

#endif  // TOLLGATE_PROXY_HTTP_HTTP_PARSER_H_
