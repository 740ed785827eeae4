// ServerPort: the listening ports of `proxy.config.http.server_ports`, in ATS syntax.
//
//   absl::StatusOr<std::vector<ServerPort>> ports = ParseServerPorts("8080 8443:ssl");
//   for (const ServerPort& port : *ports) {
//     bind(fd, port.bind.sockaddr(), port.bind.socklen());  // 0.0.0.0:8080, then 0.0.0.0:8443
//     if (port.tls) { /* terminate TLS on this listener */ }
//   }
//
// The value is a list of descriptors separated by spaces and/or commas. A descriptor is a list of
// options separated by ':', exactly one of which is the port number (1..65535); ATS allows the
// port anywhere in the list, so "8443:ssl" and "ssl:8443" are the same listener. Options, matched
// case-insensitively as ATS does:
//   ssl          Terminate TLS on this port (otherwise plain HTTP).
//   ipv4         Listen on IPv4 (the default), on 0.0.0.0 unless ip-in= says otherwise.
//   ipv6         Listen on IPv6, on :: unless ip-in= says otherwise.
//   ip-in=ADDR   Listen on ADDR only: an IPv4 address, or an IPv6 address in brackets
//                ("ip-in=[::1]"). The address family follows ADDR.
// ATS's other options (tr-in, tr-out, tr-full, tr-pass, blind, compress, ip-out=, ip-resolve=,
// proto=, pp, mptcp, quic, allow-plain) are errors ("option 'blind' is not supported"), as is
// anything else ("unknown option 'foo'"); so are ipv4 with ipv6, a family that contradicts
// ip-in=, an option given twice, and the same address and port given twice.
//
// An empty (or all-blank) value is valid and gives no ports.

#ifndef TOLLGATE_PROXY_CONFIG_PORTS_H_
#define TOLLGATE_PROXY_CONFIG_PORTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "iocore/net/ip_endpoint.h"

namespace tollgate {

// ServerPort is one listener of proxy.config.http.server_ports.
struct ServerPort {
  // The address and port to bind: 0.0.0.0 or [::] (by family) unless ip-in= gave an address.
  IpEndpoint bind;
  // True for `ssl`: the listener terminates TLS.
  bool tls = false;

  // ToString returns e.g. "0.0.0.0:8443 (tls)" or "[::1]:8080 (http)".
  std::string ToString() const;

  friend bool operator==(const ServerPort& a, const ServerPort& b) {
    return a.bind == b.bind && a.tls == b.tls;
  }
};

// ParseServerPorts parses a proxy.config.http.server_ports value into its listeners, in the
// order given. On failure it returns InvalidArgument naming the descriptor and what was wrong,
// e.g. "'8443:blind': option 'blind' is not supported (supported: ssl, ipv4, ipv6, ip-in=)"; the
// message names no file (the records loader adds the file and line). Any thread may call it.
absl::StatusOr<std::vector<ServerPort>> ParseServerPorts(absl::string_view text);

}  // namespace tollgate

#endif  // TOLLGATE_PROXY_CONFIG_PORTS_H_
