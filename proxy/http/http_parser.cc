#include "proxy/http/http_parser.h"

#include <algorithm>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace tollgate {
namespace {

// RFC 9110 §5.6.2 tchar.
bool IsTchar(unsigned char c) {
  if (absl::ascii_isalnum(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool IsToken(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTchar(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// field-value characters: HTAB, SP, VCHAR and obs-text; no other CTL and no DEL.
bool IsFieldValueChar(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

bool IsOws(char c) { return c == ' ' || c == '\t'; }

absl::string_view TrimOws(absl::string_view s) {
  while (!s.empty() && IsOws(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsOws(s.back())) s.remove_suffix(1);
  return s;
}

// Parses "HTTP/DIGIT.DIGIT" exactly.
HttpError ParseVersion(absl::string_view s, HttpVersion* version) {
  if (s.size() != 8 || !absl::StartsWith(s, "HTTP/") || !absl::ascii_isdigit(s[5]) || s[6] != '.' ||
      !absl::ascii_isdigit(s[7])) {
    return HttpError::kBadVersion;
  }
  if (s[5] != '1') return HttpError::kUnsupportedVersion;
  if (s[7] == '1') {
    *version = HttpVersion::k1_1;
  } else if (s[7] == '0') {
    *version = HttpVersion::k1_0;
  } else {
    return HttpError::kUnsupportedVersion;
  }
  return HttpError::kNone;
}

// RFC 3986 reg-name characters (unreserved, sub-delims and '%' of pct-encoded).
bool IsRegNameChar(unsigned char c) {
  if (absl::ascii_isalnum(c)) return true;
  switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':
    case '%':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
      return true;
    default:
      return false;
  }
}

struct Authority {
  absl::string_view host;
  absl::string_view port;  // Digits, or empty when absent.
};

// Splits and checks `host [ ":" port ]` (RFC 3986 authority without userinfo). The host is a
// reg-name or a bracketed IP literal; the port, when present, is 1 to 5 digits up to 65535.
// An empty host is accepted only with |allow_empty|.
bool ParseAuthority(absl::string_view s, bool require_port, bool allow_empty, Authority* out) {
  if (s.empty()) {
    *out = Authority();
    return allow_empty && !require_port;
  }
  absl::string_view host;
  absl::string_view rest;
  if (s.front() == '[') {
    size_t close = s.find(']');
    if (close == absl::string_view::npos || close < 2) return false;
    for (char c : s.substr(1, close - 1)) {
      if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') {
        return false;
      }
    }
    host = s.substr(0, close + 1);
    rest = s.substr(close + 1);
  } else {
    size_t colon = s.find(':');
    host = s.substr(0, colon);
    rest = colon == absl::string_view::npos ? absl::string_view() : s.substr(colon);
    if (host.empty()) return false;
    for (char c : host) {
      if (!IsRegNameChar(static_cast<unsigned char>(c))) return false;
    }
  }
  absl::string_view port;
  if (!rest.empty()) {
    if (rest.front() != ':') return false;
    port = rest.substr(1);
    if (port.empty() || port.size() > 5) return false;
    uint32_t value = 0;
    for (char c : port) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
      value = value * 10 + static_cast<uint32_t>(c - '0');
    }
    if (value > 65535) return false;
  } else if (require_port) {
    return false;
  }
  out->host = host;
  out->port = port;
  return true;
}

// Whether two authorities name the same host and port, the port defaulting by |scheme|.
bool SameAuthority(const Authority& a, const Authority& b, absl::string_view scheme) {
  absl::string_view default_port = scheme == "https" ? "443" : "80";
  absl::string_view port_a = a.port.empty() ? default_port : a.port;
  absl::string_view port_b = b.port.empty() ? default_port : b.port;
  // Ports are at most 5 digits; leading zeros would make "080" differ from "80", which is
  // the conservative answer (a mismatch is rejected).
  return absl::EqualsIgnoreCase(a.host, b.host) && port_a == port_b;
}

// Calls |fn| on each trimmed element of the comma-separated lists in every field named |name|.
// Returns false as soon as |fn| does.
template <typename Fn>
bool ForEachListElement(const HttpHeaders& headers, absl::string_view name, Fn fn) {
  for (const HttpHeaderField& field : headers.fields()) {
    if (!absl::EqualsIgnoreCase(field.name, name)) continue;
    for (absl::string_view element : absl::StrSplit(field.value, ',')) {
      if (!fn(TrimOws(element))) return false;
    }
  }
  return true;
}

// Content-Length over every field (RFC 9110 §8.6): each element 1*DIGIT within 64 bits; equal
// values (repeated fields or a list) count as one, different ones are a conflict.
HttpError ParseContentLength(const HttpHeaders& headers, bool* present, uint64_t* length) {
  *present = false;
  HttpError error = HttpError::kNone;
  ForEachListElement(headers, "content-length", [&](absl::string_view element) {
    if (element.empty()) {
      error = HttpError::kBadContentLength;
      return false;
    }
    uint64_t value = 0;
    for (char c : element) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
        error = HttpError::kBadContentLength;
        return false;
      }
      uint64_t digit = static_cast<uint64_t>(c - '0');
      if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
        error = HttpError::kBadContentLength;
        return false;
      }
      value = value * 10 + digit;
    }
    if (*present && value != *length) {
      error = HttpError::kConflictingLength;
      return false;
    }
    *present = true;
    *length = value;
    return true;
  });
  return error;
}

bool IsKnownCoding(absl::string_view coding) {
  return absl::EqualsIgnoreCase(coding, "gzip") || absl::EqualsIgnoreCase(coding, "x-gzip") ||
      absl::EqualsIgnoreCase(coding, "deflate") || absl::EqualsIgnoreCase(coding, "compress") ||
      absl::EqualsIgnoreCase(coding, "x-compress");
}

// Transfer-Encoding over every field, in order. Every element must be a bare token (no
// parameters, no empty elements: both are smuggling shapes); "chunked" at most once. With
// |known_only| (requests), codings other than chunked must be known ones. Sets |*chunked_last|.
HttpError ParseTransferEncoding(const HttpHeaders& headers, bool known_only, bool* chunked_last) {
  bool seen_chunked = false;
  bool last_chunked = false;
  bool ok = ForEachListElement(headers, "transfer-encoding", [&](absl::string_view element) {
    if (!IsToken(element)) return false;
    if (absl::EqualsIgnoreCase(element, "chunked")) {
      if (seen_chunked) return false;
      seen_chunked = true;
      last_chunked = true;
      return true;
    }
    if (known_only && !IsKnownCoding(element)) return false;
    last_chunked = false;
    return true;
  });
  if (!ok) return HttpError::kBadTransferEncoding;
  *chunked_last = last_chunked;
  return HttpError::kNone;
}

// The keep-alive decision from Connection (RFC 9112 §9.3).
bool KeepAlive(const HttpHeaders& headers, HttpVersion version) {
  bool close = false;
  bool keep_alive = false;
  ForEachListElement(headers, "connection", [&](absl::string_view element) {
    if (absl::EqualsIgnoreCase(element, "close")) close = true;
    if (absl::EqualsIgnoreCase(element, "keep-alive")) keep_alive = true;
    return true;
  });
  if (close) return false;
  return version == HttpVersion::k1_1 || keep_alive;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Errors

absl::string_view HttpErrorName(HttpError error) {
  switch (error) {
    case HttpError::kNone:
      return "None";
    case HttpError::kBadRequestLine:
      return "BadRequestLine";
    case HttpError::kRequestLineTooLong:
      return "RequestLineTooLong";
    case HttpError::kBadVersion:
      return "BadVersion";
    case HttpError::kUnsupportedVersion:
      return "UnsupportedVersion";
    case HttpError::kBadStatusLine:
      return "BadStatusLine";
    case HttpError::kBareCr:
      return "BareCr";
    case HttpError::kBadLineEnding:
      return "BadLineEnding";
    case HttpError::kHeaderTooLarge:
      return "HeaderTooLarge";
    case HttpError::kTooManyHeaders:
      return "TooManyHeaders";
    case HttpError::kObsFold:
      return "ObsFold";
    case HttpError::kBadHeaderName:
      return "BadHeaderName";
    case HttpError::kBadHeaderValue:
      return "BadHeaderValue";
    case HttpError::kConflictingLength:
      return "ConflictingLength";
    case HttpError::kBadContentLength:
      return "BadContentLength";
    case HttpError::kBadTransferEncoding:
      return "BadTransferEncoding";
    case HttpError::kBadHost:
      return "BadHost";
    case HttpError::kBadChunkSize:
      return "BadChunkSize";
    case HttpError::kChunkTooLarge:
      return "ChunkTooLarge";
    case HttpError::kBadChunkExtension:
      return "BadChunkExtension";
    case HttpError::kBadChunkEnd:
      return "BadChunkEnd";
  }
  return "Unknown";
}

absl::string_view HttpErrorReason(HttpError error) {
  switch (error) {
    case HttpError::kNone:
      return "no error";
    case HttpError::kBadRequestLine:
      return "malformed request line";
    case HttpError::kRequestLineTooLong:
      return "request line too long";
    case HttpError::kBadVersion:
      return "malformed HTTP version";
    case HttpError::kUnsupportedVersion:
      return "HTTP version not supported";
    case HttpError::kBadStatusLine:
      return "malformed status line";
    case HttpError::kBareCr:
      return "CR not followed by LF";
    case HttpError::kBadLineEnding:
      return "line not ended by CRLF";
    case HttpError::kHeaderTooLarge:
      return "header section too large";
    case HttpError::kTooManyHeaders:
      return "too many header fields";
    case HttpError::kObsFold:
      return "obsolete line folding";
    case HttpError::kBadHeaderName:
      return "malformed header field name";
    case HttpError::kBadHeaderValue:
      return "invalid character in header field value";
    case HttpError::kConflictingLength:
      return "conflicting Content-Length and Transfer-Encoding";
    case HttpError::kBadContentLength:
      return "invalid Content-Length";
    case HttpError::kBadTransferEncoding:
      return "unsupported Transfer-Encoding";
    case HttpError::kBadHost:
      return "missing, repeated or invalid Host";
    case HttpError::kBadChunkSize:
      return "invalid chunk size";
    case HttpError::kChunkTooLarge:
      return "chunk too large";
    case HttpError::kBadChunkExtension:
      return "invalid chunk extension";
    case HttpError::kBadChunkEnd:
      return "chunk data not followed by CRLF";
  }
  return "unknown error";
}

int HttpErrorStatusCode(HttpError error) {
  switch (error) {
    case HttpError::kRequestLineTooLong:
      return 414;
    case HttpError::kHeaderTooLarge:
    case HttpError::kTooManyHeaders:
      return 431;
    case HttpError::kUnsupportedVersion:
      return 505;
    case HttpError::kNone:
    case HttpError::kBadTransferEncoding:
    case HttpError::kBadRequestLine:
    case HttpError::kBadVersion:
    case HttpError::kBadStatusLine:
    case HttpError::kBareCr:
    case HttpError::kBadLineEnding:
    case HttpError::kObsFold:
    case HttpError::kBadHeaderName:
    case HttpError::kBadHeaderValue:
    case HttpError::kConflictingLength:
    case HttpError::kBadContentLength:
    case HttpError::kBadHost:
    case HttpError::kBadChunkSize:
    case HttpError::kChunkTooLarge:
    case HttpError::kBadChunkExtension:
    case HttpError::kBadChunkEnd:
      return 400;
  }
  return 400;
}

// ---------------------------------------------------------------------------------------------
// HttpHeaders

void HttpHeaders::Add(absl::string_view name, absl::string_view value) {
  // One allocation for a typical head rather than one per doubling.
  if (fields_.capacity() == 0) fields_.reserve(kTypicalFields);
  fields_.push_back(HttpHeaderField{std::string(name), std::string(value)});
}

std::optional<absl::string_view> HttpHeaders::Get(absl::string_view name) const {
  for (const HttpHeaderField& field : fields_) {
    if (absl::EqualsIgnoreCase(field.name, name)) return absl::string_view(field.value);
  }
  return std::nullopt;
}

size_t HttpHeaders::Count(absl::string_view name) const {
  return static_cast<size_t>(std::count_if(
      fields_.begin(), fields_.end(),
      [name](const HttpHeaderField& field) { return absl::EqualsIgnoreCase(field.name, name); }));
}

size_t HttpHeaders::Remove(absl::string_view name) {
  size_t before = fields_.size();
  fields_.erase(std::remove_if(fields_.begin(), fields_.end(),
                               [name](const HttpHeaderField& field) {
                                 return absl::EqualsIgnoreCase(field.name, name);
                               }),
                fields_.end());
  return before - fields_.size();
}

void HttpHeaders::Set(absl::string_view name, absl::string_view value) {
  auto first = std::find_if(fields_.begin(), fields_.end(), [name](const HttpHeaderField& field) {
    return absl::EqualsIgnoreCase(field.name, name);
  });
  if (first == fields_.end()) {
    Add(name, value);
    return;
  }
  first->value = std::string(value);
  fields_.erase(std::remove_if(first + 1, fields_.end(),
                               [name](const HttpHeaderField& field) {
                                 return absl::EqualsIgnoreCase(field.name, name);
                               }),
                fields_.end());
}

void HttpHeaders::AppendTo(std::string* out) const {
  size_t bytes = out->size();
  for (const HttpHeaderField& field : fields_) bytes += field.name.size() + field.value.size() + 4;
  out->reserve(bytes + 2);  // and the blank line that ends a head
  for (const HttpHeaderField& field : fields_) {
    out->append(field.name);
    out->append(": ");
    out->append(field.value);
    out->append("\r\n");
  }
}

absl::string_view HttpVersionString(HttpVersion version) {
  switch (version) {
    case HttpVersion::k1_0:
      return "HTTP/1.0";
    case HttpVersion::k1_1:
      return "HTTP/1.1";
  }
  return "HTTP/1.1";
}

std::string SerializeRequestHead(const HttpRequest& request) {
  std::string out;
  out.append(request.method);
  out.push_back(' ');
  out.append(request.target);
  out.push_back(' ');
  absl::string_view version = HttpVersionString(request.version);
  out.append(version.data(), version.size());
  out.append("\r\n");
  request.headers.AppendTo(&out);
  out.append("\r\n");
  return out;
}

std::string SerializeResponseHead(const HttpResponse& response) {
  std::string out;
  absl::string_view version = HttpVersionString(response.version);
  out.append(version.data(), version.size());
  out.push_back(' ');
  out.append(std::to_string(response.status_code));
  out.push_back(' ');
  out.append(response.reason);
  out.append("\r\n");
  response.headers.AppendTo(&out);
  out.append("\r\n");
  return out;
}

// ---------------------------------------------------------------------------------------------
// HeadReader

namespace http_internal {

void HeadReader::Reset() {
  start_line_.clear();
  line_.clear();
  saw_cr_ = false;
  in_headers_ = !has_start_line_;
  leading_empty_ = 0;
  header_bytes_ = 0;
}

// Lines are split on LF only after every CR has been checked, so the result is the same
// whichever way the bytes are cut into pieces: each check below depends only on the bytes of
// the current line seen so far, and limits are applied on every growth of the line, before the
// bytes are copied (so memory stays bounded by the limits).
HeadReader::Event HeadReader::Next(absl::string_view* in, HttpHeaders* headers, HttpError* error) {
  const char* p = in->data();
  const size_t n = in->size();
  size_t i = 0;
  auto fail = [&](HttpError e, size_t at) {
    in->remove_prefix(at);
    *error = e;
    return Event::kError;
  };
  while (i < n) {
    size_t j = i;
    while (j < n && p[j] != '\r' && p[j] != '\n') ++j;
    if (j > i) {
      if (saw_cr_) return fail(HttpError::kBareCr, i);
      size_t new_size = line_.size() + (j - i);
      if (!in_headers_) {
        if (new_size > limits_.max_start_line_bytes) {
          return fail(HttpError::kRequestLineTooLong, j);
        }
      } else if (header_bytes_ + new_size + 2 > limits_.max_header_bytes) {
        return fail(HttpError::kHeaderTooLarge, j);
      }
      line_.append(p + i, j - i);
    }
    if (j == n) {
      i = n;
      break;
    }
    if (p[j] == '\r') {
      if (saw_cr_) return fail(HttpError::kBareCr, j);
      saw_cr_ = true;
      i = j + 1;
      continue;
    }
    // LF. Only CRLF ends a line, except that an empty line before the start line may end with a
    // bare LF (RFC 9112 2.2: ignore empty lines before the request line; such as `echo` piped
    // into a TLS client sends): nothing is framed by it, so it cannot smuggle anything.
    if (!saw_cr_ && (in_headers_ || !line_.empty())) return fail(HttpError::kBadLineEnding, j);
    saw_cr_ = false;
    i = j + 1;
    Event event = CompleteLine(headers, error);
    if (event != Event::kNeedMore) {
      in->remove_prefix(i);
      return event;
    }
  }
  in->remove_prefix(i);
  return Event::kNeedMore;
}

HeadReader::Event HeadReader::CompleteLine(HttpHeaders* headers, HttpError* error) {
  if (!in_headers_) {
    if (line_.empty()) {
      if (++leading_empty_ > limits_.max_leading_empty_lines) {
        *error = HttpError::kBadRequestLine;
        return Event::kError;
      }
      return Event::kNeedMore;
    }
    in_headers_ = true;
    start_line_.swap(line_);
    line_.clear();
    return Event::kStartLine;
  }
  if (line_.empty()) return Event::kEndOfHead;
  if (IsOws(line_.front())) {
    *error = HttpError::kObsFold;
    return Event::kError;
  }
  if (headers->size() >= limits_.max_header_count) {
    *error = HttpError::kTooManyHeaders;
    return Event::kError;
  }
  header_bytes_ += line_.size() + 2;
  absl::string_view line(line_);
  size_t colon = line.find(':');
  if (colon == absl::string_view::npos) {
    *error = HttpError::kBadHeaderName;
    return Event::kError;
  }
  // Whitespace before the colon is not a tchar, so IsToken rejects it (RFC 9112 §5.1: MUST
  // reject, a known smuggling shape).
  absl::string_view name = line.substr(0, colon);
  if (!IsToken(name)) {
    *error = HttpError::kBadHeaderName;
    return Event::kError;
  }
  absl::string_view value = TrimOws(line.substr(colon + 1));
  for (char c : value) {
    if (!IsFieldValueChar(static_cast<unsigned char>(c))) {
      *error = HttpError::kBadHeaderValue;
      return Event::kError;
    }
  }
  headers->Add(name, value);
  line_.clear();
  return Event::kNeedMore;
}

}  // namespace http_internal

// ---------------------------------------------------------------------------------------------
// HttpRequestParser

HttpRequestParser::HttpRequestParser(const HttpParserLimits& limits)
    : limits_(limits), reader_(limits, /*has_start_line=*/true) {}

void HttpRequestParser::Reset() {
  reader_.Reset();
  request_ = HttpRequest();
  result_ = ParseResult();
}

ParseResult HttpRequestParser::Parse(absl::string_view bytes, size_t* consumed) {
  *consumed = 0;
  if (result_.status != ParseStatus::kNeedMore) return result_;
  absl::string_view rest = bytes;
  for (;;) {
    HttpError error = HttpError::kNone;
    http_internal::HeadReader::Event event = reader_.Next(&rest, &request_.headers, &error);
    *consumed = bytes.size() - rest.size();
    switch (event) {
      case http_internal::HeadReader::Event::kNeedMore:
        return result_;
      case http_internal::HeadReader::Event::kStartLine:
        error = ParseRequestLine(reader_.start_line());
        break;
      case http_internal::HeadReader::Event::kEndOfHead:
        error = FinishHead();
        if (error == HttpError::kNone) {
          result_.status = ParseStatus::kDone;
          return result_;
        }
        break;
      case http_internal::HeadReader::Event::kError:
        break;
    }
    if (error != HttpError::kNone) {
      result_ = ParseResult{ParseStatus::kError, error};
      return result_;
    }
  }
}

HttpError HttpRequestParser::ParseRequestLine(absl::string_view line) {
  size_t sp1 = line.find(' ');
  if (sp1 == absl::string_view::npos) return HttpError::kBadRequestLine;
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == absl::string_view::npos) return HttpError::kBadRequestLine;
  absl::string_view method = line.substr(0, sp1);
  absl::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  absl::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method) || target.empty()) return HttpError::kBadRequestLine;
  if (version.find(' ') != absl::string_view::npos) return HttpError::kBadRequestLine;
  for (char c : target) {
    // VCHAR without '#': no fragment in a request-target; no CTL, SP or obs-text.
    if (c <= 0x20 || c >= 0x7f || c == '#') return HttpError::kBadRequestLine;
  }
  HttpError error = ParseVersion(version, &request_.version);
  if (error != HttpError::kNone) return error;

  request_.method = std::string(method);
  request_.target = std::string(target);
  Authority authority;
  if (method == "CONNECT") {
    if (!ParseAuthority(target, /*require_port=*/true, /*allow_empty=*/false, &authority)) {
      return HttpError::kBadRequestLine;
    }
    request_.target_form = RequestTargetForm::kAuthority;
    request_.authority = std::string(target);
    return HttpError::kNone;
  }
  if (target == "*") {
    if (method != "OPTIONS") return HttpError::kBadRequestLine;
    request_.target_form = RequestTargetForm::kAsterisk;
    request_.path = "*";
    return HttpError::kNone;
  }
  if (target.front() == '/') {
    request_.target_form = RequestTargetForm::kOrigin;
    request_.path = std::string(target);
    return HttpError::kNone;
  }
  // absolute-form: scheme "://" authority path-abempty [ "?" query ].
  size_t sep = target.find("://");
  if (sep == absl::string_view::npos) return HttpError::kBadRequestLine;
  std::string scheme = absl::AsciiStrToLower(target.substr(0, sep));
  if (scheme != "http" && scheme != "https") return HttpError::kBadRequestLine;
  absl::string_view after = target.substr(sep + 3);
  size_t path_start = after.find_first_of("/?");
  absl::string_view target_authority = after.substr(0, path_start);
  // No userinfo ('@' is not a reg-name character): deprecated and a confusion vector.
  if (!ParseAuthority(target_authority, /*require_port=*/false, /*allow_empty=*/false,
                      &authority)) {
    return HttpError::kBadRequestLine;
  }
  request_.target_form = RequestTargetForm::kAbsolute;
  request_.scheme = std::move(scheme);
  request_.authority = std::string(target_authority);
  if (path_start == absl::string_view::npos) {
    request_.path = "/";
  } else if (after[path_start] == '?') {
    request_.path = "/" + std::string(after.substr(path_start));
  } else {
    request_.path = std::string(after.substr(path_start));
  }
  return HttpError::kNone;
}

HttpError HttpRequestParser::FinishHead() {
  HttpRequest& r = request_;
  const HttpHeaders& headers = r.headers;

  // Host (RFC 9112 §3.2): exactly one for HTTP/1.1, at most one for 1.0, valid syntax.
  size_t host_count = headers.Count("host");
  if (host_count > 1) return HttpError::kBadHost;
  if (host_count == 0 && r.version == HttpVersion::k1_1) return HttpError::kBadHost;
  if (host_count == 1) {
    absl::string_view host = *headers.Get("host");
    Authority host_authority;
    if (!ParseAuthority(host, /*require_port=*/false, /*allow_empty=*/true, &host_authority)) {
      return HttpError::kBadHost;
    }
    switch (r.target_form) {
      case RequestTargetForm::kAbsolute: {
        Authority target_authority;
        ParseAuthority(r.authority, false, false, &target_authority);  // Checked already.
        if (!limits_.allow_absolute_form_host_mismatch &&
            !SameAuthority(target_authority, host_authority, r.scheme)) {
          return HttpError::kBadHost;
        }
        break;
      }
      case RequestTargetForm::kAuthority:
        break;
      case RequestTargetForm::kOrigin:
      case RequestTargetForm::kAsterisk:
        r.authority = std::string(host);
        break;
    }
  }

  // Framing (RFC 9112 §6.1-6.3).
  bool has_length = false;
  uint64_t length = 0;
  HttpError error = ParseContentLength(headers, &has_length, &length);
  if (error != HttpError::kNone) return error;
  if (headers.Has("transfer-encoding")) {
    if (has_length) return HttpError::kConflictingLength;
    // HTTP/1.0 has no transfer codings; a 1.0 message with one has faulty framing (§6.1).
    if (r.version == HttpVersion::k1_0) return HttpError::kBadTransferEncoding;
    bool chunked_last = false;
    error = ParseTransferEncoding(headers, /*known_only=*/true, &chunked_last);
    if (error != HttpError::kNone) return error;
    // A request body's length must be knowable: chunked is required and must be final.
    if (!chunked_last) return HttpError::kBadTransferEncoding;
    r.framing = BodyFraming::kChunked;
  } else if (has_length) {
    r.framing = BodyFraming::kContentLength;
    r.content_length = length;
  } else {
    r.framing = BodyFraming::kNone;
  }

  r.keep_alive = KeepAlive(headers, r.version);
  r.expects_100_continue = false;
  if (r.version == HttpVersion::k1_1) {
    for (const HttpHeaderField& field : headers.fields()) {
      if (absl::EqualsIgnoreCase(field.name, "expect") &&
          absl::EqualsIgnoreCase(field.value, "100-continue")) {
        r.expects_100_continue = true;
      }
    }
  }
  return HttpError::kNone;
}

// ---------------------------------------------------------------------------------------------
// HttpResponseParser

HttpResponseParser::HttpResponseParser(absl::string_view request_method,
                                       const HttpParserLimits& limits)
    : limits_(limits), reader_(limits, /*has_start_line=*/true), request_method_(request_method) {}

void HttpResponseParser::Reset(absl::string_view request_method) {
  reader_.Reset();
  request_method_ = std::string(request_method);
  response_ = HttpResponse();
  result_ = ParseResult();
}

ParseResult HttpResponseParser::Parse(absl::string_view bytes, size_t* consumed) {
  *consumed = 0;
  if (result_.status != ParseStatus::kNeedMore) return result_;
  absl::string_view rest = bytes;
  for (;;) {
    HttpError error = HttpError::kNone;
    http_internal::HeadReader::Event event = reader_.Next(&rest, &response_.headers, &error);
    *consumed = bytes.size() - rest.size();
    switch (event) {
      case http_internal::HeadReader::Event::kNeedMore:
        return result_;
      case http_internal::HeadReader::Event::kStartLine:
        error = ParseStatusLine(reader_.start_line());
        break;
      case http_internal::HeadReader::Event::kEndOfHead:
        error = FinishHead();
        if (error == HttpError::kNone) {
          result_.status = ParseStatus::kDone;
          return result_;
        }
        break;
      case http_internal::HeadReader::Event::kError:
        break;
    }
    if (error != HttpError::kNone) {
      result_ = ParseResult{ParseStatus::kError, error};
      return result_;
    }
  }
}

HttpError HttpResponseParser::ParseStatusLine(absl::string_view line) {
  if (line.size() < 12 || line[8] != ' ') return HttpError::kBadStatusLine;
  HttpError error = ParseVersion(line.substr(0, 8), &response_.version);
  if (error != HttpError::kNone) return error;
  int code = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(line[i]))) {
      return HttpError::kBadStatusLine;
    }
    code = code * 10 + (line[i] - '0');
  }
  if (code < 100) return HttpError::kBadStatusLine;
  absl::string_view reason;
  if (line.size() > 12) {
    if (line[12] != ' ') return HttpError::kBadStatusLine;
    reason = line.substr(13);
  }
  for (char c : reason) {
    if (!IsFieldValueChar(static_cast<unsigned char>(c))) return HttpError::kBadStatusLine;
  }
  response_.status_code = code;
  response_.reason = std::string(reason);
  return HttpError::kNone;
}

HttpError HttpResponseParser::FinishHead() {
  HttpResponse& r = response_;
  const HttpHeaders& headers = r.headers;
  bool has_length = false;
  uint64_t length = 0;
  HttpError error = ParseContentLength(headers, &has_length, &length);
  if (error != HttpError::kNone) return error;

  const int code = r.status_code;
  const bool no_body = request_method_ == "HEAD" || (code >= 100 && code < 200) || code == 204 ||
      code == 304 || (request_method_ == "CONNECT" && code >= 200 && code < 300);
  if (no_body) {
    r.framing = BodyFraming::kNone;
  } else if (headers.Has("transfer-encoding")) {
    if (has_length) return HttpError::kConflictingLength;
    if (r.version == HttpVersion::k1_0) return HttpError::kBadTransferEncoding;
    bool chunked_last = false;
    // An origin may use codings we do not know: we only forward them, and without a final
    // chunked the body is close-delimited anyway (RFC 9112 §6.3 item 4).
    error = ParseTransferEncoding(headers, /*known_only=*/false, &chunked_last);
    if (error != HttpError::kNone) return error;
    r.framing = chunked_last ? BodyFraming::kChunked : BodyFraming::kUntilClose;
  } else if (has_length) {
    r.framing = BodyFraming::kContentLength;
    r.content_length = length;
  } else {
    r.framing = BodyFraming::kUntilClose;
  }
  r.keep_alive = r.framing != BodyFraming::kUntilClose && KeepAlive(headers, r.version);
  return HttpError::kNone;
}

// ---------------------------------------------------------------------------------------------
// ChunkedDecoder

namespace {

HttpParserLimits TrailerLimits(const ChunkedDecoder::Limits& limits) {
  HttpParserLimits trailer;
  trailer.max_header_bytes = limits.max_trailer_bytes;
  trailer.max_header_count = limits.max_trailer_count;
  return trailer;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

ChunkedDecoder::ChunkedDecoder(const Limits& limits)
    : limits_(limits),
      trailer_limits_(TrailerLimits(limits)),
      trailer_reader_(trailer_limits_, /*has_start_line=*/false) {}

void ChunkedDecoder::Reset() {
  trailer_reader_.Reset();
  state_ = State::kSize;
  error_ = HttpError::kNone;
  chunk_size_ = 0;
  chunk_left_ = 0;
  size_digits_ = 0;
  extension_bytes_ = 0;
  body_bytes_ = 0;
  trailers_.Clear();
}

ChunkedDecoder::Result ChunkedDecoder::Fail(HttpError error, size_t consumed) {
  state_ = State::kError;
  error_ = error;
  return Result{ParseStatus::kError, error, consumed, {}};
}

ChunkedDecoder::Result ChunkedDecoder::Decode(absl::string_view in) {
  if (state_ == State::kDone) return Result{ParseStatus::kDone, HttpError::kNone, 0, {}};
  if (state_ == State::kError) return Result{ParseStatus::kError, error_, 0, {}};
  size_t i = 0;
  const size_t n = in.size();
  while (i < n) {
    const char c = in[i];
    switch (state_) {
      case State::kSize: {
        int digit = HexValue(c);
        if (digit >= 0) {
          // 16 hex digits fill 64 bits, so the shift cannot overflow.
          if (++size_digits_ > 16) return Fail(HttpError::kBadChunkSize, i);
          chunk_size_ = (chunk_size_ << 4) | static_cast<uint64_t>(digit);
          if (chunk_size_ > limits_.max_chunk_size) return Fail(HttpError::kChunkTooLarge, i);
          ++i;
          break;
        }
        if (size_digits_ == 0) return Fail(HttpError::kBadChunkSize, i);
        if (c == ';') {
          state_ = State::kExtension;
          extension_bytes_ = 1;
        } else if (c == ' ' || c == '\t') {
          state_ = State::kSizeWs;
          extension_bytes_ = 1;
        } else if (c == '\r') {
          state_ = State::kSizeLf;
        } else if (c == '\n') {
          return Fail(HttpError::kBadLineEnding, i);
        } else {
          return Fail(HttpError::kBadChunkSize, i);
        }
        ++i;
        break;
      }
      case State::kSizeWs:
        // BWS is allowed only before a ';' (RFC 9112 §7.1.1).
        if (c != ';' && c != ' ' && c != '\t') return Fail(HttpError::kBadChunkExtension, i);
        if (++extension_bytes_ > limits_.max_extension_bytes) {
          return Fail(HttpError::kBadChunkExtension, i);
        }
        if (c == ';') state_ = State::kExtension;
        ++i;
        break;
      case State::kExtension:
        if (c == '\r') {
          state_ = State::kSizeLf;
        } else if (c == '\n') {
          return Fail(HttpError::kBadLineEnding, i);
        } else if (!IsFieldValueChar(static_cast<unsigned char>(c)) ||
                   ++extension_bytes_ > limits_.max_extension_bytes) {
          return Fail(HttpError::kBadChunkExtension, i);
        }
        ++i;
        break;
      case State::kSizeLf:
        if (c != '\n') return Fail(HttpError::kBareCr, i);
        ++i;
        if (chunk_size_ == 0) {
          state_ = State::kTrailer;
        } else {
          chunk_left_ = chunk_size_;
          state_ = State::kData;
        }
        chunk_size_ = 0;
        size_digits_ = 0;
        extension_bytes_ = 0;
        break;
      case State::kData: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(chunk_left_, n - i));
        absl::string_view data = in.substr(i, take);
        i += take;
        chunk_left_ -= take;
        body_bytes_ += take;
        if (chunk_left_ == 0) state_ = State::kDataCr;
        return Result{ParseStatus::kNeedMore, HttpError::kNone, i, data};
      }
      case State::kDataCr:
        if (c != '\r') return Fail(HttpError::kBadChunkEnd, i);
        state_ = State::kDataLf;
        ++i;
        break;
      case State::kDataLf:
        if (c != '\n') return Fail(HttpError::kBadChunkEnd, i);
        state_ = State::kSize;
        ++i;
        break;
      case State::kTrailer: {
        absl::string_view rest = in.substr(i);
        HttpError error = HttpError::kNone;
        http_internal::HeadReader::Event event = trailer_reader_.Next(&rest, &trailers_, &error);
        i = n - rest.size();
        switch (event) {
          case http_internal::HeadReader::Event::kNeedMore:
            break;
          case http_internal::HeadReader::Event::kEndOfHead:
            state_ = State::kDone;
            return Result{ParseStatus::kDone, HttpError::kNone, i, {}};
          case http_internal::HeadReader::Event::kStartLine:  // No start line in trailers.
          case http_internal::HeadReader::Event::kError:
            return Fail(error == HttpError::kNone ? HttpError::kBadHeaderName : error, i);
        }
        break;
      }
      case State::kDone:
      case State::kError:
        // Handled before the loop; the loop never enters these states without returning.
        return Result{ParseStatus::kError, error_, i, {}};
    }
  }
  return Result{ParseStatus::kNeedMore, HttpError::kNone, i, {}};
}

absl::string_view HttpReasonPhrase(int status_code) {
  switch (status_code) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 205:
      return "Reset Content";
    case 206:
      return "Partial Content";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 305:
      return "Use Proxy";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 407:
      return "Proxy Authentication Required";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "";
  }
}

}  // namespace tollgate
