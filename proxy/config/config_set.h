// ConfigSet: everything in one configuration directory, loaded and checked together, as one typed
// value. `tollgate --check` prints it; start-up (and, later, SIGHUP) builds one before serving.
//
//   absl::StatusOr<ConfigSet> config = LoadConfigDir("/etc/tollgate");
//   if (!config.ok()) {
//     // "/etc/tollgate/remap.config:3: unsupported rule kind 'regex_map' (...)"
//     fprintf(stderr, "tollgate: %s\n", std::string(config.status().message()).c_str());
//   }
//   for (const std::string& line : config->Describe()) puts(line.c_str());
//
// The files, each optional (an absent file gives that part's defaults):
//   records.yaml, else records.config   the proxy.config.* records (proxy/config/records.h);
//                                       proxy.config.http.server_ports gives the ports.
//   ssl_multicert.config                the certificates (iocore/tls/cert_table.h); the file
//                                       name is proxy.config.ssl.server.multicert.filename.
//                                       Every certificate and key file is read and matched.
//   sni.yaml                            the SNI policies (iocore/tls/sni_config.h); the file
//                                       name is proxy.config.ssl.servername.filename.
//   remap.config                        the `map` rules (proxy/config/remap.h).
//   plugin.config                       the plugins (plugin_api/plugin_loader.h). Each plugin's
//                                       file must exist, as the loader would find it (relative
//                                       paths: the config directory, then plugin.plugin_dir);
//                                       nothing is opened or run.
//   the ticket key file                 when proxy.config.ssl.server.ticket_key.filename is set.
// File names in the records that are relative resolve against the config directory.
//
// Errors are the loaders' own, which name the file (by its path under the directory) and the
// line; the first one stops the load. Warnings (unknown keys and records, ignored options) are
// collected in ConfigSet::warnings.

#ifndef TOLLGATE_PROXY_CONFIG_CONFIG_SET_H_
#define TOLLGATE_PROXY_CONFIG_CONFIG_SET_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "iocore/tls/cert_table.h"
#include "iocore/tls/sni_config.h"
#include "iocore/tls/ssl_net_vconnection.h"
#include "iocore/tls/ticket_keys.h"
#include "plugin_api/plugin_loader.h"
#include "proxy/config/ports.h"
#include "proxy/config/records.h"
#include "proxy/config/remap.h"

namespace tollgate {

// ConfigFileState says where one part of a ConfigSet came from.
struct ConfigFileState {
  // The file's name as the operator knows it: "records.yaml", "ssl_multicert.config", ...
  std::string name;
  // The path that was read, or that would have been read when |present| is false.
  std::string path;
  // False: the file does not exist and the part has its defaults.
  bool present = false;
};

// ConfigPlugin is one plugin.config line with the file the loader would open.
struct ConfigPlugin {
  PluginConfigLine line;
  std::string resolved;
};

// ConfigSet is one whole configuration. Tables are shared and immutable, so a ConfigSet is
// cheap to copy and any thread may read it.
struct ConfigSet {
  // The directory it was loaded from; "" for the embedded defaults.
  std::string config_dir;
  // One entry per file, in the order above (records, ssl_multicert, sni, remap, plugin, and the
  // ticket key file only when a record names one).
  std::vector<ConfigFileState> files;

  RecordsConfig records;
  // proxy.config.http.server_ports, parsed.
  std::vector<ServerPort> ports;
  // Never null; empty (size 0) when the file is absent.
  std::shared_ptr<const CertTable> certs;
  std::shared_ptr<const SniConfig> sni;
  std::shared_ptr<const RemapConfig> remap;
  std::vector<ConfigPlugin> plugins;
  // The session ticket keys of proxy.config.ssl.server.ticket_key.filename; null when the
  // record is unset (the TLS ports then make random keys).
  std::shared_ptr<const TicketKeyRing> ticket_keys;

  // The loaders' warnings, and the set's own (a TLS port without any certificate), in order.
  std::vector<std::string> warnings;

  // Describe returns the summary `tollgate --check` prints: per file "loaded" or "absent,
  // defaults", the records, the ports (with the number that terminate TLS), and each
  // certificate, SNI policy, remap rule and plugin, then the warnings.
  std::vector<std::string> Describe() const;
};

// LoadConfigDir loads and checks every file of |config_dir| (see the top of this file). It
// returns NotFound "DIR: not a directory" when |config_dir| is not one, and otherwise the first
// loader error, e.g. InvalidArgument "DIR/sni.yaml:4: fqdn is required". It reads certificate,
// key and plugin files named by the configuration. Call it on the main thread: it blocks on the
// file system.
absl::StatusOr<ConfigSet> LoadConfigDir(const std::string& config_dir);

// ServerTlsSettings returns the TLS settings of the records (versions, handshake timeout,
// record size) with |set|'s ticket keys. Every certificate context of a loaded ConfigSet is
// already configured with them (ConfigureServerContext).
TlsServerSettings ServerTlsSettings(const ConfigSet& set);

// EmbeddedConfig returns the configuration `tollgate` uses without --config-dir: default
// records, the default ports bound on 127.0.0.1 instead of every address, and one dest_ip=*
// certificate entry with a freshly generated self-signed ECDSA certificate for localhost and
// 127.0.0.1. It fails only if BoringSSL fails.
absl::StatusOr<ConfigSet> EmbeddedConfig();

}  // namespace tollgate

#endif  // TOLLGATE_PROXY_CONFIG_CONFIG_SET_H_
