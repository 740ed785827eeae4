#include "proxy/config/ports.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tollgate {
namespace {

constexpr absl::string_view kSupported = "supported: ssl, ipv4, ipv6, ip-in=";

// ATS's HttpProxyPort options that Tollgate does not implement; named so that the error says
// "not supported" rather than "unknown". Options with a value are listed up to their '='.
constexpr absl::string_view kAtsOnlyOptions[] = {
    "tr-in",       "tr-out", "tr-full", "tr-pass", "blind", "compress",    "ip-out=",
    "ip-resolve=", "proto=", "pp",      "mptcp",   "quic",  "allow-plain", "ipv6-only",
};

bool IsAtsOnlyOption(absl::string_view option) {
  for (absl::string_view known : kAtsOnlyOptions) {
    if (known.back() == '=' ? absl::StartsWithIgnoreCase(option, known)
                            : absl::EqualsIgnoreCase(option, known)) {
      return true;
    }
  }
  return false;
}

// SplitOptions splits a descriptor at ':' outside brackets, so "ip-in=[::1]:443" is two options.
std::vector<absl::string_view> SplitOptions(absl::string_view descriptor) {
  std::vector<absl::string_view> options;
  size_t start = 0;
  int depth = 0;
  for (size_t i = 0; i < descriptor.size(); ++i) {
    if (descriptor[i] == '[') ++depth;
    if (descriptor[i] == ']' && depth > 0) --depth;
    if (descriptor[i] == ':' && depth == 0) {
      options.push_back(descriptor.substr(start, i - start));
      start = i + 1;
    }
  }
  options.push_back(descriptor.substr(start));
  return options;
}

absl::Status DescriptorError(absl::string_view descriptor, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("'", descriptor, "': ", message));
}

absl::StatusOr<ServerPort> ParseDescriptor(absl::string_view descriptor) {
  std::optional<int> port;
  std::optional<int> family;  // From ipv4 / ipv6.
  std::optional<IpEndpoint> address;
  bool tls = false;
  for (absl::string_view option : SplitOptions(descriptor)) {
    if (option.empty()) return DescriptorError(descriptor, "empty option");
    if (absl::ascii_isdigit(static_cast<unsigned char>(option.front()))) {
      int value = 0;
      if (!absl::SimpleAtoi(option, &value) || value < 1 || value > 65535) {
        return DescriptorError(descriptor,
                               absl::StrCat("port '", option, "' is not a number in 1..65535"));
      }
      if (port.has_value()) return DescriptorError(descriptor, "more than one port number");
      port = value;
    } else if (absl::EqualsIgnoreCase(option, "ssl")) {
      if (tls) return DescriptorError(descriptor, "option 'ssl' given twice");
      tls = true;
    } else if (absl::EqualsIgnoreCase(option, "ipv4") || absl::EqualsIgnoreCase(option, "ipv6")) {
      const int wanted = absl::EqualsIgnoreCase(option, "ipv4") ? AF_INET : AF_INET6;
      if (family.has_value()) {
        return DescriptorError(descriptor,
                               *family == wanted ? absl::StrCat("option '", option, "' given twice")
                                                 : "ipv4 and ipv6 cannot both be given");
      }
      family = wanted;
    } else if (absl::StartsWithIgnoreCase(option, "ip-in=")) {
      if (address.has_value()) return DescriptorError(descriptor, "option 'ip-in=' given twice");
      absl::string_view text = option.substr(6);
      // IpEndpoint::Parse reads "ADDR" or "[ADDR]" with a default port; an unbracketed IPv6
      // address never gets here whole (it was split at its colons), so insist on brackets.
      absl::StatusOr<IpEndpoint> parsed = IpEndpoint::Parse(text, 0);
      const bool bracketed = !text.empty() && text.front() == '[' && text.back() == ']';
      if (!parsed.ok() || (parsed->family() == AF_INET6) != bracketed || parsed->port() != 0) {
        return DescriptorError(
            descriptor,
            absl::StrCat("ip-in: '", text, "' is not an IPv4 address or a bracketed IPv6 address"));
      }
      address = *parsed;
    } else if (IsAtsOnlyOption(option)) {
      return DescriptorError(
          descriptor, absl::StrCat("option '", option, "' is not supported (", kSupported, ")"));
    } else {
      return DescriptorError(descriptor,
                             absl::StrCat("unknown option '", option, "' (", kSupported, ")"));
    }
  }
  if (!port.has_value()) return DescriptorError(descriptor, "no port number");
  if (address.has_value() && family.has_value() && address->family() != *family) {
    return DescriptorError(descriptor,
                           absl::StrCat("ip-in address ", address->AddressString(), " is not ",
                                        *family == AF_INET ? "IPv4" : "IPv6"));
  }

  ServerPort result;
  result.tls = tls;
  if (address.has_value()) {
    result.bind = *address;
  } else {
    result.bind = *IpEndpoint::Parse(family.value_or(AF_INET) == AF_INET6 ? "[::]" : "0.0.0.0", 0);
  }
  result.bind.set_port(static_cast<uint16_t>(*port));
  return result;
}

}  // namespace

std::string ServerPort::ToString() const {
  return absl::StrCat(bind.ToString(), tls ? " (tls)" : " (http)");
}

absl::StatusOr<std::vector<ServerPort>> ParseServerPorts(absl::string_view text) {
  std::vector<ServerPort> ports;
  size_t i = 0;
  while (i < text.size()) {
    const auto is_separator = [](char c) {
      return c == ',' || absl::ascii_isspace(static_cast<unsigned char>(c));
    };
    while (i < text.size() && is_separator(text[i])) ++i;
    const size_t start = i;
    while (i < text.size() && !is_separator(text[i])) ++i;
    if (start == i) break;
    absl::string_view descriptor = text.substr(start, i - start);
    absl::StatusOr<ServerPort> port = ParseDescriptor(descriptor);
    if (!port.ok()) return port.status();
    for (const ServerPort& earlier : ports) {
      if (earlier.bind == port->bind) {
        return DescriptorError(descriptor,
                               absl::StrCat(port->bind.ToString(), " is already listed"));
      }
    }
    ports.push_back(*std::move(port));
  }
  return ports;
}

}  // namespace tollgate
