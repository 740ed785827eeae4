#include "proxy/config/config_set.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "iocore/tls/cert_gen.h"
#include "iocore/tls/ticket_keys.h"
#include "proxy/config/config_file.h"

namespace tollgate {
namespace {

std::string JoinPath(absl::string_view dir, absl::string_view file) {
  if (dir.empty() || (!file.empty() && file.front() == '/')) return std::string(file);
  if (dir.back() == '/') return absl::StrCat(dir, file);
  return absl::StrCat(dir, "/", file);
}

bool IsFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Plural returns "1 remap rule" or "2 remap rules".
std::string Count(size_t n, absl::string_view noun) {
  return absl::StrCat(n, " ", noun, n == 1 ? "" : "s");
}

// ReadOptional reads |path| into |*content| and records the file in |*set|. An absent file is
// not an error: |*content| stays empty and the file is marked absent.
absl::Status ReadOptional(absl::string_view name, const std::string& path, ConfigSet* set,
                          std::string* content) {
  absl::StatusOr<std::string> text = ReadConfigFile(path);
  const bool present = text.ok();
  if (!present && !absl::IsNotFound(text.status())) return text.status();
  if (present) *content = *std::move(text);
  set->files.push_back({.name = std::string(name), .path = path, .present = present});
  return absl::OkStatus();
}

// RecordPrefix returns "FILE:LINE: NAME: " for the record |name| (a full name), or "NAME: " when
// it was left at its default.
std::string RecordPrefix(const RecordsConfig& r, absl::string_view name) {
  const auto line = r.lines.find(std::string(name));
  if (line == r.lines.end() || r.source.empty()) return absl::StrCat(name, ": ");
  return absl::StrCat(r.source, ":", line->second, ": ", name, ": ");
}

// ValidateServerTls tries the TLS records on a scratch context, one at a time, so that a bad
// group or cipher list is reported against its record, not against the first certificate.
absl::Status ValidateServerTls(const ConfigSet& set) {
  const RecordsConfig& r = set.records;
  struct Check {
    absl::string_view record;
    TlsServerSettings settings;
  };
  TlsServerSettings groups_only;
  groups_only.groups = r.ssl_server_groups_list;
  TlsServerSettings ciphers_only;
  ciphers_only.cipher_suites = r.ssl_server_cipher_suite;
  TlsServerSettings versions_only;
  versions_only.tls12 = r.ssl_tlsv1_2;
  versions_only.tls13 = r.ssl_tlsv1_3;
  const Check checks[] = {
      {"proxy.config.ssl.server.groups_list", groups_only},
      {"proxy.config.ssl.server.cipher_suite", ciphers_only},
      {r.ssl_tlsv1_3 ? "proxy.config.ssl.TLSv1_2" : "proxy.config.ssl.TLSv1_3", versions_only},
  };
  for (const Check& check : checks) {
    bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
    if (ctx == nullptr) return absl::InternalError("SSL_CTX_new failed");
    absl::Status s = ConfigureServerContext(ctx.get(), check.settings);
    if (s.ok()) continue;
    const auto line = r.lines.find(std::string(check.record));
    std::string where = line == r.lines.end() || r.source.empty()
        ? std::string()
        : absl::StrCat(r.source, ":", line->second, ": ");
    return absl::Status(s.code(), absl::StrCat(where, check.record, ": ", s.message()));
  }
  // The origin CA bundle is loaded when the server starts; --check and a reload catch it here.
  if (!r.ssl_client_ca_cert_filename.empty()) {
    bssl::UniquePtr<X509_STORE> store(X509_STORE_new());
    if (store == nullptr) return absl::InternalError("X509_STORE_new failed");
    if (!X509_STORE_load_locations(store.get(), r.ssl_client_ca_cert_filename.c_str(), nullptr)) {
      char reason[256];
      ERR_error_string_n(ERR_get_error(), reason, sizeof(reason));
      ERR_clear_error();
      return absl::InvalidArgumentError(absl::StrCat(
          RecordPrefix(r, "proxy.config.ssl.client.CA.cert.filename"),
          "cannot load CA certificates from '", r.ssl_client_ca_cert_filename, "': ", reason));
    }
  }
  return absl::OkStatus();
}

absl::Status LoadCerts(ConfigSet* set) {
  const std::string path = JoinPath(set->config_dir, set->records.ssl_server_multicert_filename);
  std::string content;
  if (absl::Status s = ReadOptional("ssl_multicert.config", path, set, &content); !s.ok()) {
    return s;
  }
  // proxy.config.ssl.server.cert.path and .private_key.path: "" is the config directory, and a
  // relative value is relative to it.
  CertTableOptions options;
  options.cert_dir = JoinPath(set->config_dir, set->records.ssl_server_cert_path);
  if (options.cert_dir.empty()) options.cert_dir = set->config_dir;
  options.key_dir = set->records.ssl_server_private_key_path.empty()
      ? options.cert_dir
      : JoinPath(set->config_dir, set->records.ssl_server_private_key_path);
  const TlsServerSettings settings = ServerTlsSettings(*set);
  options.configure_ctx = [settings](SSL_CTX* ctx) {
    return ConfigureServerContext(ctx, settings);
  };
  absl::StatusOr<std::shared_ptr<const CertTable>> certs = CertTable::Parse(content, path, options);
  if (!certs.ok()) return certs.status();
  set->certs = *std::move(certs);
  return absl::OkStatus();
}

absl::Status LoadSni(ConfigSet* set) {
  const std::string path = JoinPath(set->config_dir, set->records.ssl_servername_filename);
  std::string content;
  if (absl::Status s = ReadOptional("sni.yaml", path, set, &content); !s.ok()) return s;
  absl::StatusOr<std::shared_ptr<const SniConfig>> sni =
      SniConfig::Parse(content, path, &set->warnings);
  if (!sni.ok()) return sni.status();
  set->sni = *std::move(sni);
  return absl::OkStatus();
}

absl::Status LoadRemap(ConfigSet* set) {
  const std::string path = JoinPath(set->config_dir, "remap.config");
  std::string content;
  if (absl::Status s = ReadOptional("remap.config", path, set, &content); !s.ok()) return s;
  absl::StatusOr<std::shared_ptr<const RemapConfig>> remap =
      RemapConfig::Parse(content, path, &set->warnings);
  if (!remap.ok()) return remap.status();
  set->remap = *std::move(remap);
  return absl::OkStatus();
}

// LoadPlugins checks plugin.config without opening any plugin. The search order must stay the
// same as PluginLoader::Load's: the config directory, then plugin.plugin_dir.
absl::Status LoadPlugins(ConfigSet* set) {
  const std::string path = JoinPath(set->config_dir, "plugin.config");
  std::string content;
  if (absl::Status s = ReadOptional("plugin.config", path, set, &content); !s.ok()) return s;
  absl::StatusOr<std::vector<PluginConfigLine>> lines = ParsePluginConfig(content, path);
  if (!lines.ok()) return lines.status();
  const std::string plugin_dir = set->records.plugin_plugin_dir.empty()
      ? set->config_dir
      : JoinPath(set->config_dir, set->records.plugin_plugin_dir);
  for (PluginConfigLine& line : *lines) {
    const bool absolute = !line.path.empty() && line.path.front() == '/';
    std::string resolved;
    if (absolute) {
      if (IsFile(line.path)) resolved = line.path;
    } else if (IsFile(JoinPath(set->config_dir, line.path))) {
      resolved = JoinPath(set->config_dir, line.path);
    } else if (IsFile(JoinPath(plugin_dir, line.path))) {
      resolved = JoinPath(plugin_dir, line.path);
    }
    if (resolved.empty()) {
      std::string where;
      if (!absolute) {
        where = absl::StrCat(" in ", set->config_dir);
        if (plugin_dir != set->config_dir) absl::StrAppend(&where, " or ", plugin_dir);
      }
      return absl::NotFoundError(
          absl::StrCat(path, ":", line.line, ": plugin '", line.path, "' not found", where));
    }
    set->plugins.push_back({.line = std::move(line), .resolved = std::move(resolved)});
  }
  return absl::OkStatus();
}

absl::Status LoadTicketKeys(ConfigSet* set) {
  if (set->records.ssl_server_ticket_key_filename.empty()) return absl::OkStatus();
  const std::string path = JoinPath(set->config_dir, set->records.ssl_server_ticket_key_filename);
  // Unlike the other files, this one was asked for by name: its absence is an error.
  absl::StatusOr<std::shared_ptr<const TicketKeyRing>> ring = TicketKeyRing::LoadFile(path);
  if (!ring.ok()) {
    return absl::Status(
        ring.status().code(),
        absl::StrCat(RecordPrefix(set->records, "proxy.config.ssl.server.ticket_key.filename"),
                     ring.status().message()));
  }
  set->ticket_keys = *std::move(ring);
  set->files.push_back({.name = "ticket key file", .path = path, .present = true});
  return absl::OkStatus();
}

void WarnAboutTlsPortsWithoutCertificates(ConfigSet* set) {
  size_t tls_ports = 0;
  for (const ServerPort& port : set->ports) tls_ports += port.tls ? 1 : 0;
  if (tls_ports > 0 && set->certs->size() == 0) {
    set->warnings.push_back(absl::StrCat(Count(tls_ports, "TLS port"),
                                         " but no certificate: every TLS handshake will fail (add ",
                                         set->records.ssl_server_multicert_filename, ")"));
  }
}

}  // namespace

absl::StatusOr<ConfigSet> LoadConfigDir(const std::string& config_dir) {
  ConfigSet set;
  set.config_dir = config_dir;
  absl::StatusOr<RecordsConfig> records = LoadRecordsFromDir(config_dir, &set.warnings);
  if (!records.ok()) return records.status();
  set.records = *std::move(records);
  const bool from_config =
      !set.records.source.empty() && set.records.source == JoinPath(config_dir, "records.config");
  set.files.push_back({
      .name = from_config ? "records.config" : "records.yaml",
      .path =
          set.records.source.empty() ? JoinPath(config_dir, "records.yaml") : set.records.source,
      .present = !set.records.source.empty(),
  });
  // The records loader has checked server_ports already; a failure here is a bug there, but is
  // still reported rather than assumed away.
  absl::StatusOr<std::vector<ServerPort>> ports = ParseServerPorts(set.records.http_server_ports);
  if (!ports.ok()) return ports.status();
  set.ports = *std::move(ports);

  if (absl::Status s = ValidateServerTls(set); !s.ok()) return s;
  if (absl::Status s = LoadCerts(&set); !s.ok()) return s;
  if (absl::Status s = LoadSni(&set); !s.ok()) return s;
  if (absl::Status s = LoadRemap(&set); !s.ok()) return s;
  if (absl::Status s = LoadPlugins(&set); !s.ok()) return s;
  if (absl::Status s = LoadTicketKeys(&set); !s.ok()) return s;
  WarnAboutTlsPortsWithoutCertificates(&set);
  return set;
}

TlsServerSettings ServerTlsSettings(const ConfigSet& set) {
  const RecordsConfig& r = set.records;
  TlsServerSettings settings;
  settings.tls12 = r.ssl_tlsv1_2;
  settings.tls13 = r.ssl_tlsv1_3;
  settings.handshake_timeout = r.ssl_handshake_timeout_in > 0
      ? Nanoseconds(std::chrono::seconds(r.ssl_handshake_timeout_in))
      : Nanoseconds(std::chrono::hours(24));
  settings.max_record_size = r.ssl_max_record_size;
  settings.groups = r.ssl_server_groups_list;
  settings.cipher_suites = r.ssl_server_cipher_suite;
  settings.ticket_keys = set.ticket_keys;
  return settings;
}

absl::StatusOr<ConfigSet> EmbeddedConfig() {
  ConfigSet set;
  absl::StatusOr<std::vector<ServerPort>> ports = ParseServerPorts(set.records.http_server_ports);
  if (!ports.ok()) return ports.status();
  set.ports = *std::move(ports);
  // Without a config directory nothing is exposed beyond this machine.
  for (ServerPort& port : set.ports) {
    port.bind = IpEndpoint::Loopback(AF_INET, port.bind.port());
  }

  absl::StatusOr<GeneratedCert> cert = MakeCert({
      .common_name = "localhost",
      .dns_names = {"localhost"},
      .ip_addresses = {"127.0.0.1"},
  });
  if (!cert.ok()) return cert.status();
  const TlsServerSettings settings = ServerTlsSettings(set);
  CertTable::Builder builder(CertTableOptions{
      .configure_ctx = [settings](SSL_CTX* ctx) { return ConfigureServerContext(ctx, settings); }});
  CertTable::EntrySpec spec;
  spec.certs.push_back({.leaf = std::move(cert->cert),
                        .key = std::move(cert->key),
                        .source = "generated self-signed certificate"});
  spec.dest_ips.push_back(DestIp::Any());
  if (absl::Status s = builder.Add(std::move(spec)); !s.ok()) return s;
  absl::StatusOr<std::shared_ptr<const CertTable>> certs = std::move(builder).Build();
  if (!certs.ok()) return certs.status();
  set.certs = *std::move(certs);

  absl::StatusOr<std::shared_ptr<const SniConfig>> sni = SniConfig::Parse("", "sni.yaml", nullptr);
  if (!sni.ok()) return sni.status();
  set.sni = *std::move(sni);
  absl::StatusOr<std::shared_ptr<const RemapConfig>> remap =
      RemapConfig::Parse("", "remap.config", nullptr);
  if (!remap.ok()) return remap.status();
  set.remap = *std::move(remap);
  return set;
}

std::vector<std::string> ConfigSet::Describe() const {
  std::vector<std::string> out;
  out.push_back(config_dir.empty() ? "config: embedded defaults (no --config-dir)"
                                   : absl::StrCat("config: ", config_dir));
  out.push_back("files:");
  if (files.empty()) out.push_back("  none: embedded defaults");
  for (const ConfigFileState& file : files) {
    out.push_back(absl::StrCat("  ", file.name, ": ", file.present ? "loaded" : "absent, defaults",
                               " (", file.path, ")"));
  }

  for (std::string& line : records.Describe()) out.push_back(std::move(line));

  size_t tls_ports = 0;
  std::vector<std::string> port_names;
  for (const ServerPort& port : ports) {
    tls_ports += port.tls ? 1 : 0;
    port_names.push_back(port.ToString());
  }
  out.push_back(absl::StrCat(Count(ports.size(), "port"), " (", tls_ports, " with ssl)",
                             ports.empty() ? "" : ": ", absl::StrJoin(port_names, ", ")));

  const size_t cert_count = certs != nullptr ? certs->size() : 0;
  out.push_back(
      absl::StrCat(Count(cert_count, "certificate"),
                   config_dir.empty() && cert_count > 0 ? " (generated, self-signed)" : ""));
  if (certs != nullptr) {
    for (const std::string& line : certs->Describe()) out.push_back(absl::StrCat("  ", line));
  }
  out.push_back(Count(sni != nullptr ? sni->size() : 0, "sni rule"));
  if (sni != nullptr) {
    for (const std::string& line : sni->Describe()) out.push_back(absl::StrCat("  ", line));
  }
  out.push_back(Count(remap != nullptr ? remap->size() : 0, "remap rule"));
  if (remap != nullptr) {
    for (const std::string& line : remap->Describe()) out.push_back(absl::StrCat("  ", line));
  }
  out.push_back(Count(plugins.size(), "plugin"));
  for (const ConfigPlugin& plugin : plugins) {
    std::string args =
        plugin.line.args.empty() ? "" : absl::StrCat(" ", absl::StrJoin(plugin.line.args, " "));
    out.push_back(absl::StrCat("  line ", plugin.line.line, ": ", plugin.line.path, args, " -> ",
                               plugin.resolved));
  }
  out.push_back(Count(warnings.size(), "warning"));
  for (const std::string& warning : warnings) {
    out.push_back(absl::StrCat("  warning: ", warning));
  }
  return out;
}

}  // namespace tollgate
