// IpEndpoint: an IPv4 or IPv6 address and port, as the socket calls want it.
//
//   absl::StatusOr<IpEndpoint> ep = IpEndpoint::Parse("127.0.0.1:8443");
//   absl::StatusOr<IpEndpoint> v6 = IpEndpoint::Parse("[::1]:0");
//   bind(fd, ep->sockaddr(), ep->socklen());

#ifndef TOLLGATE_IOCORE_NET_IP_ENDPOINT_H_
#define TOLLGATE_IOCORE_NET_IP_ENDPOINT_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tollgate {

class IpEndpoint {
 public:
  // An unset endpoint (family AF_UNSPEC).
  IpEndpoint() = default;

  // Parse accepts "a.b.c.d:port", "[v6]:port", and, with |default_port| >= 0, an address without
  // a port. It returns InvalidArgument naming what was wrong.
  static absl::StatusOr<IpEndpoint> Parse(absl::string_view text, int default_port = -1);

  // FromSockaddr copies an AF_INET or AF_INET6 address; others give an unset endpoint.
  static IpEndpoint FromSockaddr(const struct sockaddr* sa, socklen_t len);

  // Loopback returns 127.0.0.1:|port| or [::1]:|port|.
  static IpEndpoint Loopback(int family, uint16_t port);

  int family() const { return storage_.ss_family; }
  bool valid() const { return family() == AF_INET || family() == AF_INET6; }
  uint16_t port() const;
  void set_port(uint16_t port);

  const struct sockaddr* sockaddr() const {
    return reinterpret_cast<const struct sockaddr*>(&storage_);
  }
  struct sockaddr* mutable_sockaddr() {
    return reinterpret_cast<struct sockaddr*>(&storage_);
  }
  socklen_t socklen() const;

  // ToString returns "1.2.3.4:80" or "[::1]:80" ("-" when unset). AddressString omits the port.
  std::string ToString() const;
  std::string AddressString() const;

  friend bool operator==(const IpEndpoint& a, const IpEndpoint& b);

 private:
  struct sockaddr_storage storage_ {};
};

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_NET_IP_ENDPOINT_H_
