#include "proxy/admin_server.h"

#include <utility>

namespace tollgate {
namespace {

constexpr absl::string_view kText = "text/plain; charset=utf-8";

}  // namespace

AdminServer::AdminServer(Handlers handlers)
    : handlers_(std::move(handlers)),
      server_({.server_name = "tollgate-admin"},
              [this](const HttpRequest& request, absl::string_view) { return Respond(request); }) {}

absl::StatusOr<IpEndpoint> AdminServer::Listen(NetProcessor& net, const IpEndpoint& addr) {
  return server_.Listen(net, addr);
}

SimpleHttpResponse AdminServer::Respond(const HttpRequest& request) const {
  absl::string_view path = request.path;
  if (size_t query = path.find('?'); query != absl::string_view::npos) path = path.substr(0, query);
  if (path != "/stats" && path != "/healthz") {
    return SimpleHttpResponse::Text(404, kText, "404 Not Found\n");
  }
  if (request.method != "GET" && request.method != "HEAD") {
    SimpleHttpResponse response = SimpleHttpResponse::Text(405, kText, "405 Method Not Allowed\n");
    response.headers.Add("Allow", "GET, HEAD");
    return response;
  }
  SimpleHttpResponse response;
  if (path == "/stats") {
    response = SimpleHttpResponse::Text(200, "application/json",
                                        handlers_.stats_json ? handlers_.stats_json() : "{}");
  } else if (!handlers_.healthy || handlers_.healthy()) {
    response = SimpleHttpResponse::Text(200, kText, "ok\n");
  } else {
    response = SimpleHttpResponse::Text(503, kText, "draining\n");
  }
  // Monitoring must see the current value, never a cached one.
  response.headers.Add("Cache-Control", "no-store");
  return response;
}

}  // namespace tollgate
