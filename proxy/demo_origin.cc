#include "proxy/demo_origin.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace tollgate {
namespace {

constexpr absl::string_view kText = "text/plain; charset=utf-8";
constexpr absl::string_view kOctets = "application/octet-stream";

constexpr absl::string_view kIndexPage =
    "<!DOCTYPE html>\n"
    "<html><head><title>Tollgate demo origin</title></head>\n"
    "<body>\n"
    "<h1>Tollgate demo origin</h1>\n"
    "<p>This is the Tollgate demo origin: the built-in server the proxy's default "
    "configuration sends requests to.</p>\n"
    "<ul>\n"
    "<li><code>GET /</code>: this page</li>\n"
    "<li><code>/echo</code>: the request body back, or the request head when there is no "
    "body</li>\n"
    "<li><code>GET /bytes/N</code>: N bytes of a repeating 0-9a-zA-Z pattern</li>\n"
    "<li><code>/status/NNN</code>: an empty response with status NNN</li>\n"
    "</ul>\n"
    "</body></html>\n";

bool IsGetOrHead(const HttpRequest& request) {
  return request.method == "GET" || request.method == "HEAD";
}

SimpleHttpResponse NotAllowed(absl::string_view allow) {
  SimpleHttpResponse response =
      SimpleHttpResponse::Text(405, kText, absl::StrCat("405 Method Not Allowed\n"));
  response.headers.Add("Allow", allow);
  return response;
}

SimpleHttpResponse BadRequest(absl::string_view why) {
  return SimpleHttpResponse::Text(400, kText, absl::StrCat("400 Bad Request: ", why, "\n"));
}

// ParseDecimal parses 1 to |max_digits| ASCII digits, nothing else.
bool ParseDecimal(absl::string_view text, size_t max_digits, uint64_t* value) {
  if (text.empty() || text.size() > max_digits) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return absl::SimpleAtoi(text, value);
}

SimpleHttpResponse Bytes(const HttpRequest& request, absl::string_view count) {
  if (!IsGetOrHead(request)) return NotAllowed("GET, HEAD");
  uint64_t n = 0;
  // 2^40 has 13 digits; leading zeros beyond that are not worth accepting.
  if (!ParseDecimal(count, 13, &n) || n > DemoOrigin::kMaxPatternBytes) {
    return BadRequest("/bytes/N wants a decimal N from 0 to 1099511627776");
  }
  return SimpleHttpResponse::Pattern(n, kOctets);
}

SimpleHttpResponse Status(absl::string_view code) {
  uint64_t status = 0;
  if (code.size() != 3 || !ParseDecimal(code, 3, &status) || status < 200 || status > 599) {
    return BadRequest("/status/NNN wants NNN from 200 to 599");
  }
  return SimpleHttpResponse::Text(static_cast<int>(status), "", "");
}

SimpleHttpResponse Echo(const HttpRequest& request, absl::string_view raw_head) {
  bool has_body = request.framing == BodyFraming::kChunked ||
      (request.framing == BodyFraming::kContentLength && request.content_length > 0);
  if (has_body) return SimpleHttpResponse::EchoRequestBody(kOctets);
  return SimpleHttpResponse::Text(200, kText, std::string(raw_head));
}

}  // namespace

DemoOrigin::DemoOrigin(DemoOriginOptions options)
    : server_(
          {.server_name = "tollgate-demo-origin", .inactivity_timeout = options.inactivity_timeout},
          &DemoOrigin::Respond) {}

absl::StatusOr<IpEndpoint> DemoOrigin::Listen(NetProcessor& net, const IpEndpoint& addr) {
  return server_.Listen(net, addr);
}

SimpleHttpResponse DemoOrigin::Respond(const HttpRequest& request, absl::string_view raw_head) {
  absl::string_view path = request.path;
  if (size_t query = path.find('?'); query != absl::string_view::npos) path = path.substr(0, query);

  if (path == "/") {
    if (!IsGetOrHead(request)) return NotAllowed("GET, HEAD");
    return SimpleHttpResponse::Text(200, "text/html; charset=utf-8", std::string(kIndexPage));
  }
  if (path == "/echo") return Echo(request, raw_head);
  if (absl::ConsumePrefix(&path, "/bytes/")) return Bytes(request, path);
  if (absl::ConsumePrefix(&path, "/status/")) return Status(path);
  return SimpleHttpResponse::Text(404, kText, "404 Not Found\n");
}

}  // namespace tollgate
