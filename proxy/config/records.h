// RecordsConfig: the proxy.config.* settings Tollgate reads, from records.yaml or, for operators
// coming from ATS 9, records.config.
//
//   std::vector<std::string> warnings;
//   absl::StatusOr<RecordsConfig> records = LoadRecordsFromDir("/etc/tollgate", &warnings);
//   for (const std::string& w : warnings) Diag(DiagLevel::kWarning, "config", w);
//   if (!records.ok()) { /* print records.status(); exit 1 at start-up, keep the old at reload */ }
//   absl::StatusOr<std::vector<ServerPort>> ports = ParseServerPorts(records->http_server_ports);
//   // Always ok for a RecordsConfig a Load function returned: the loader checked it.
//
// records.yaml (ATS 10): the settings sit under a top-level `ts:` map (ATS 10's final name for
// it, `records:`, is accepted too), as nested maps, dotted keys, or a mix of both; the path of
// keys below `ts:` joined with '.' and prefixed with "proxy.config." is the record name.
//
//   ts:
//     http:
//       server_ports: 8080 8443:ssl
//       keep_alive_no_activity_timeout_in: 60
//     ssl.server.cert.path: /etc/tollgate/certs
//     diags:
//       debug: {enabled: 1, tags: http|ssl}
//
// An empty file, and `ts:` with nothing under it, give the defaults. A key whose value is null
// (`key:`, `~`) sets a STRING record to "" and is an error for an INT record. Other top-level
// keys are warned about and ignored. A record given twice (in any mix of nested and dotted
// forms) is an error naming both lines. Only one YAML document is allowed.
//
// records.config (ATS 9 and earlier), one record per line, '#' starts a comment line:
//
//   CONFIG proxy.config.http.server_ports STRING 8080 8443:ssl
//   CONFIG proxy.config.ssl.handshake_timeout_in INT 30
//
// The first word is CONFIG (or LOCAL, read the same way); the type is INT, STRING or FLOAT and
// must be the record's type; a STRING value is the rest of the line with outer blanks removed,
// and the value NULL means "" as in ATS. A record given twice is a warning, and the later line
// wins (as in ATS).
//
// In both formats:
//  - An INT value is a decimal integer; it must be within the record's range below.
//  - A record Tollgate does not know gives a warning naming the file, line and record, e.g.
//    "records.yaml:4: unknown record 'proxy.config.http.cache.http' ignored".
//  - An invalid value gives InvalidArgument naming the file, line, record and what is valid,
//    e.g. "records.yaml:7: proxy.config.ssl.max_record_size: '20000' is not an integer in
//    -1..16383", "records.config:3: proxy.config.ssl.client.verify.server.policy: 'SOMETIMES' is
//    not one of DISABLED, PERMISSIVE, ENFORCED" or "records.yaml:2: proxy.config.http.
//    server_ports: '8443:blind': option 'blind' is not supported (...)".
//  - The file is taken whole or not at all. yaml-cpp's exceptions never leave this module.
//
// Relative paths and file names in the records are relative to the config directory; resolving
// them is the caller's job.

#ifndef TOLLGATE_PROXY_CONFIG_RECORDS_H_
#define TOLLGATE_PROXY_CONFIG_RECORDS_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tollgate {

// VerifyServerPolicy is proxy.config.ssl.client.verify.server.policy: what the origin-side TLS
// does when an origin's certificate fails verification.
enum class VerifyServerPolicy {
  kDisabled,  // Do not verify.
  kPermissive,  // Verify; log failures but keep the connection.
  kEnforced,  // Verify; close the connection on failure.
};

// VerifyServerPolicyName returns "DISABLED", "PERMISSIVE" or "ENFORCED".
const char* VerifyServerPolicyName(VerifyServerPolicy policy);

// RecordsConfig holds every record Tollgate reads. Each field is named after its record without
// the "proxy.config." prefix; the comment gives the record's type, valid values and default.
// Defaults are ATS 9's unless marked "ours". Timeouts are in seconds, and 0 turns a timeout off
// unless said otherwise. A plain value type: copy it freely.
struct RecordsConfig {
  // http.server_ports, STRING: listeners in ATS syntax (see ports.h). Ours: "8080 8443:ssl"
  // (ATS: "8080 8080:ipv6"). The embedded defaults of `tollgate` without --config-dir bind these
  // on 127.0.0.1 instead; that is the binary's choice, and this string stays as written.
  std::string http_server_ports = "8080 8443:ssl";

  // ssl.server.cert.path, STRING: directory against which ssl_multicert.config's relative
  // certificate names resolve. Ours: "" = the config directory (ATS: its sysconfdir).
  std::string ssl_server_cert_path;
  // ssl.server.private_key.path, STRING: likewise for private keys. "" = the config directory.
  std::string ssl_server_private_key_path;
  // ssl.handshake_timeout_in, INT 0..65535: bound on an inbound TLS handshake. Ours: 30 (ATS: 0,
  // no bound), so that a client that stalls mid-handshake cannot hold a connection forever.
  int ssl_handshake_timeout_in = 30;
  // ssl.max_record_size, INT -1..16383: -1 = dynamic record sizing (small records while a
  // connection is new, then full ones), 0 = always full-size (16 KiB) records, N = at most N
  // bytes of plaintext per record. Default 0.
  int ssl_max_record_size = 0;
  // ssl.server.ticket_key.filename, STRING: session ticket key file; "" (the default, ATS's NULL)
  // = keys generated in memory and rotated by the process.
  std::string ssl_server_ticket_key_filename;
  // ssl.server.cipher_suite, STRING: TLS 1.2 cipher suites in BoringSSL's cipher-list syntax
  // (OpenSSL names, ':'-separated); "" (the default) = BoringSSL's own list. TLS 1.3 suites are
  // fixed by BoringSSL.
  std::string ssl_server_cipher_suite;
  // ssl.server.groups_list, STRING: key-exchange groups offered to clients, ':'-separated
  // BoringSSL names. Ours: "X25519:P-256:CECPQ2" (CECPQ2 is the X25519 + HRSS post-quantum hybrid
  // this BoringSSL has; only TLS 1.3 clients that offer it get it). ATS: OpenSSL's default.
  std::string ssl_server_groups_list = "X25519:P-256:CECPQ2";
  // ssl.TLSv1_2, INT 0 or 1: accept TLS 1.2 from clients. Default 1.
  bool ssl_tlsv1_2 = true;
  // ssl.TLSv1_3, INT 0 or 1: accept TLS 1.3 from clients. Default 1.
  bool ssl_tlsv1_3 = true;
  // ssl.client.verify.server.policy, STRING DISABLED, PERMISSIVE or ENFORCED (any case).
  // Default PERMISSIVE, as in ATS 9 (ATS 8 had DISABLED).
  VerifyServerPolicy ssl_client_verify_server_policy = VerifyServerPolicy::kPermissive;
  // ssl.client.CA.cert.filename, STRING: CA bundle for verifying origins; "" (the default) = the
  // system's default trust store.
  std::string ssl_client_ca_cert_filename;
  // ssl.servername.filename, STRING: the sni.yaml file. Default "sni.yaml".
  std::string ssl_servername_filename = "sni.yaml";
  // ssl.server.multicert.filename, STRING: the certificate table. Default "ssl_multicert.config".
  std::string ssl_server_multicert_filename = "ssl_multicert.config";

  // net.connections_throttle, INT 1..2147483647: most client plus origin connections at once.
  // Default 30000.
  int net_connections_throttle = 30000;
  // net.default_inactivity_timeout, INT 0..2147483647: inactivity bound for connections that no
  // other timeout covers. Default 86400.
  int net_default_inactivity_timeout = 86400;

  // exec_thread.autoconfig, INT 0 or 1: 1 = one event thread per CPU, ignoring exec_thread.limit.
  // Default 1.
  bool exec_thread_autoconfig = true;
  // exec_thread.limit, INT 1..4096: event threads when autoconfig is 0. Default 2.
  int exec_thread_limit = 2;
  // task_threads, INT 1..4096: threads for blocking work (file loads, plugin tasks). Default 2.
  int task_threads = 2;

  // http.keep_alive_no_activity_timeout_in, INT 0..2147483647: idle time allowed between client
  // requests on a keep-alive connection. Default 120.
  int http_keep_alive_no_activity_timeout_in = 120;
  // http.keep_alive_no_activity_timeout_out, INT 0..2147483647: likewise for an idle origin
  // connection in the pool. Default 120.
  int http_keep_alive_no_activity_timeout_out = 120;
  // http.transaction_no_activity_timeout_in, INT 0..2147483647: silence allowed from the client
  // during a transaction. Default 30.
  int http_transaction_no_activity_timeout_in = 30;
  // http.transaction_no_activity_timeout_out, INT 0..2147483647: silence allowed from the origin
  // during a transaction (then 504). Default 30.
  int http_transaction_no_activity_timeout_out = 30;
  // http.connect_attempts_timeout, INT 0..2147483647: bound on connecting to an origin (then
  // 502). Default 30.
  int http_connect_attempts_timeout = 30;

  // diags.debug.enabled, INT 0 or 1: print TSDebug output whose tag matches diags.debug.tags.
  // Default 0. (ATS's 2 and 3, debug for chosen clients or URLs only, are not supported.)
  bool diags_debug_enabled = false;
  // diags.debug.tags, STRING: a regular expression over debug tags, e.g. "http|ssl". Ours: ""
  // (matches no tag; ATS: "http|dns").
  std::string diags_debug_tags;
  // plugin.plugin_dir, STRING: directory against which plugin.config's relative paths resolve.
  // Ours: "" = the config directory (ATS: its libexecdir).
  std::string plugin_plugin_dir;
  // admin.port, INT 0..65535 (ours, not an ATS record): the stats endpoint, on loopback.
  // 0 = no admin endpoint. Default 8081.
  int admin_port = 8081;
  // stop.shutdown_timeout, INT 0..2147483647: on SIGTERM, how long in-flight requests may take
  // to finish before the process exits anyway; 0 = exit without waiting. Ours: 30 (ATS: 0).
  int stop_shutdown_timeout = 30;

  // Where the values came from: the file's name as given to the loader, or "" for the defaults.
  std::string source;
  // The 1-based line each record was set on, by full record name ("proxy.config.admin.port"),
  // so that later checks (a certificate that does not load) can name it. Records left at their
  // default are absent.
  absl::flat_hash_map<std::string, int> lines;

  // Describe returns a one-screen summary for `tollgate --check`: the source, then one line per
  // group of related records, e.g. "http.server_ports: 8080 8443:ssl".
  std::vector<std::string> Describe() const;
};

// LoadRecordsYaml parses records.yaml text (see above). |filename| starts every error and
// warning and becomes RecordsConfig::source. Each warning is appended to |*warnings|, which may be
// null to drop them; on an error the warnings already given stay. Any thread may call it.
absl::StatusOr<RecordsConfig> LoadRecordsYaml(absl::string_view content, absl::string_view filename,
                                              std::vector<std::string>* warnings);

// LoadRecordsConfig parses records.config text (see above); otherwise as LoadRecordsYaml.
absl::StatusOr<RecordsConfig> LoadRecordsConfig(absl::string_view content,
                                                absl::string_view filename,
                                                std::vector<std::string>* warnings);

// LoadRecordsFromDir reads |config_dir|/records.yaml when it exists, else
// |config_dir|/records.config when that exists (with a warning when both exist that
// records.config is ignored), else returns the defaults (source ""). Errors name the file by
// its path under |config_dir|. It returns NotFound when |config_dir| is not a directory, and
// InvalidArgument "PATH: cannot read: REASON" when a file exists but cannot be read.
absl::StatusOr<RecordsConfig> LoadRecordsFromDir(const std::string& config_dir,
                                                 std::vector<std::string>* warnings);

}  // namespace tollgate

#endif  // TOLLGATE_PROXY_CONFIG_RECORDS_H_
