#include "iocore/net/ip_endpoint.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tollgate {

absl::StatusOr<IpEndpoint> IpEndpoint::Parse(absl::string_view text, int default_port) {
  absl::string_view host = text;
  absl::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("'", text, "': missing ']'"));
    }
    host = text.substr(1, close - 1);
    absl::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return absl::InvalidArgumentError(absl::StrCat("'", text, "': expected ':' after ']'"));
      }
      port_text = rest.substr(1);
    }
  } else {
    size_t colon = text.rfind(':');
    if (colon != absl::string_view::npos && text.find(':') == colon) {
      host = text.substr(0, colon);
      port_text = text.substr(colon + 1);
    }
  }

  int port = default_port;
  if (!port_text.empty() || port < 0) {
    if (!absl::SimpleAtoi(port_text, &port) || port < 0 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "': port must be a number in 0..65535"));
    }
  }

  IpEndpoint ep;
  std::string host_str(host);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ep.storage_);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ep.storage_);
  if (inet_pton(AF_INET, host_str.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
  } else if (inet_pton(AF_INET6, host_str.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "': '", host, "' is not an IPv4 or IPv6 address"));
  }
  ep.set_port(static_cast<uint16_t>(port));
  return ep;
}

IpEndpoint IpEndpoint::FromSockaddr(const struct sockaddr* sa, socklen_t len) {
  IpEndpoint ep;
  if (sa == nullptr) return ep;
  if ((sa->sa_family == AF_INET && len >= sizeof(sockaddr_in)) ||
      (sa->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6))) {
    memcpy(&ep.storage_, sa, sa->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
  }
  return ep;
}

IpEndpoint IpEndpoint::Loopback(int family, uint16_t port) {
  IpEndpoint ep;
  if (family == AF_INET6) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ep.storage_);
    v6->sin6_family = AF_INET6;
    v6->sin6_addr = in6addr_loopback;
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ep.storage_);
    v4->sin_family = AF_INET;
    v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }
  ep.set_port(port);
  return ep;
}

uint16_t IpEndpoint::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  }
  return 0;
}

void IpEndpoint::set_port(uint16_t port) {
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
}

socklen_t IpEndpoint::socklen() const {
  if (family() == AF_INET) return sizeof(sockaddr_in);
  if (family() == AF_INET6) return sizeof(sockaddr_in6);
  return 0;
}

std::string IpEndpoint::AddressString() const {
  char buf[INET6_ADDRSTRLEN] = "-";
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf,
              sizeof(buf));
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf,
              sizeof(buf));
  }
  return buf;
}

std::string IpEndpoint::ToString() const {
  if (family() == AF_INET) return absl::StrCat(AddressString(), ":", port());
  if (family() == AF_INET6) return absl::StrCat("[", AddressString(), "]:", port());
  return "-";
}

bool operator==(const IpEndpoint& a, const IpEndpoint& b) {
  return a.socklen() == b.socklen() && memcmp(&a.storage_, &b.storage_, a.socklen()) == 0;
}

}  // namespace tollgate
