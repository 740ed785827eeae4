// CertTable: the server certificates from ssl_multicert.config, and the lookup that picks one
// for an inbound TLS connection.
//
// A table is built once on the control thread (at start-up or on a config reload) and is then
// immutable: any thread may call its const methods at the same time. It is handed out as a
// std::shared_ptr<const CertTable> so that a reload can install a new table while connections
// that started on the old one keep using the SSL_CTX objects they were given.
//
//   CertTableOptions options{.cert_dir = "/etc/tollgate/certs"};
//   options.configure_ctx = [](SSL_CTX* ctx) { return InstallServerCallbacks(ctx); };
//   absl::StatusOr<std::shared_ptr<const CertTable>> table =
//       CertTable::LoadFile("/etc/tollgate/ssl_multicert.config", options);
//   if (!table.ok()) { /* log table.status(), keep the old table */ }
//
//   // In the select_certificate callback:
//   std::optional<CertMatch> match = (*table)->Lookup(sni, local_endpoint);
//   if (match && !match->entry->tunnel) {
//     SSL_set_SSL_CTX(ssl, match->entry->ChooseContext(ClientAcceptsEcdsa(hello)));
//   }
//
// The file format is ATS's (9.x): one entry per line, whitespace-separated key=value pairs.
//
//   # comment
//   ssl_cert_name=ec.pem,rsa.pem ssl_key_name=ec.key,rsa.key dest_ip=*
//   ssl_cert_name="my site.pem" dest_ip=[2001:db8::1]:443   # trailing comment
//   dest_ip=10.0.0.7 action=tunnel
//
// Keys:
//   ssl_cert_name=F[,F2]  PEM file(s) holding the leaf certificate followed by its intermediates.
//                         Two files make a dual ECDSA + RSA entry, in either order; the key type
//                         is read from each certificate. Required unless action=tunnel.
//   ssl_key_name=K[,K2]   PEM private key file(s), one per certificate and in the same order.
//                         When absent, each key is read from its certificate file.
//   ssl_ca_name=F         PEM file of extra chain certificates, appended to every chain of the
//                         entry (after the intermediates in the certificate file).
//   dest_ip=ADDR          "*" (the default entry), "1.2.3.4", "1.2.3.4:443", "2001:db8::1",
//                         "[2001:db8::1]" or "[2001:db8::1]:443": the local address (and port)
//                         the client connected to.
//   action=tunnel         Connections matching this entry are blind-tunnelled, not terminated.
//                         Such an entry needs no certificate, but needs dest_ip or a certificate
//                         to be matched by.
// Relative file names resolve against CertTableOptions::cert_dir (certificates, ssl_ca_name) and
// CertTableOptions::key_dir (keys). Values may be double-quoted to hold spaces; inside quotes,
// \" stands for a quote and \\ for a backslash. "#" starts a comment at the start of a line or
// after whitespace outside quotes. Other ATS keys (ssl_ocsp_name, ssl_ticket_enabled,
// ssl_ticket_number, ssl_key_dialog, dest_fqdn) are rejected as unsupported, and any other key
// as unknown.

#ifndef TOLLGATE_IOCORE_TLS_CERT_TABLE_H_
#define TOLLGATE_IOCORE_TLS_CERT_TABLE_H_

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "iocore/net/ip_endpoint.h"

namespace tollgate {

// --- Options -------------------------------------------------------------------------------------

struct CertTableOptions {
  // Directory that relative ssl_cert_name and ssl_ca_name paths resolve against
  // (proxy.config.ssl.server.cert.path). Empty: relative to the working directory.
  std::string cert_dir;
  // Directory that relative ssl_key_name paths resolve against
  // (proxy.config.ssl.server.private_key.path). Empty: |cert_dir|.
  std::string key_dir;
  // Called once for every SSL_CTX the table creates, after its certificate chain and private
  // key are installed, so that the TLS layer can set versions, ciphers, callbacks and tickets.
  // May be empty. A non-OK result rejects the entry (and so the whole file) with that message.
  // Called on the thread that builds the table.
  std::function<absl::Status(SSL_CTX*)> configure_ctx;
};

// --- dest_ip -------------------------------------------------------------------------------------

// DestIp is the value of one dest_ip key: any address, an address, or an address and port.
class DestIp {
 public:
  enum class Kind {
    kAny,  // dest_ip=*
    kAddress,  // dest_ip=1.2.3.4, dest_ip=[::1]
    kAddressAndPort,  // dest_ip=1.2.3.4:443, dest_ip=[::1]:443
  };

  // Any returns the "*" selector: the table's default entry.
  static DestIp Any();
  // Address returns a selector for |address| on any port (its port is ignored).
  static DestIp Address(const IpEndpoint& address);
  // AddressAndPort returns a selector for |endpoint|'s address and port.
  static DestIp AddressAndPort(const IpEndpoint& endpoint);

  // Parse accepts the dest_ip forms listed at the top of this file. On failure it returns
  // InvalidArgument with a message such as "'1.2.3' is not an IP address".
  static absl::StatusOr<DestIp> Parse(absl::string_view text);

  Kind kind() const { return kind_; }
  // endpoint returns the address (and port for kAddressAndPort); unset for kAny.
  const IpEndpoint& endpoint() const { return endpoint_; }

  // ToString returns the config form: "*", "1.2.3.4", "1.2.3.4:443", "::1" or "[::1]:443".
  std::string ToString() const;

 private:
  DestIp(Kind kind, const IpEndpoint& endpoint) : kind_(kind), endpoint_(endpoint) {}

  Kind kind_;
  IpEndpoint endpoint_;
};

// --- Entries -------------------------------------------------------------------------------------

// CertEntry is one line of ssl_multicert.config (or one CertTable::Builder::Add call). It is
// owned by its CertTable and lives as long as the table; its SSL_CTX objects are shared by every
// connection that uses them (SSL_set_SSL_CTX takes its own reference).
struct CertEntry {
  // ChooseContext returns the ECDSA context when |client_accepts_ecdsa| and the entry has one,
  // else the RSA context, else the ECDSA context. It returns nullptr only for an entry without
  // certificates (action=tunnel without ssl_cert_name). The table keeps the context alive.
  SSL_CTX* ChooseContext(bool client_accepts_ecdsa) const;

  // Describe returns a one-line summary for `tollgate --check`, e.g.
  // "line 3: a.test, *.b.test (ECDSA P-256 + RSA 2048) dest_ip=*".
  std::string Describe() const;

  // At most one context per key type; both may be null for a tunnel entry.
  bssl::UniquePtr<SSL_CTX> ecdsa_ctx;
  bssl::UniquePtr<SSL_CTX> rsa_ctx;
  // Matching connections are blind-tunnelled (action=tunnel).
  bool tunnel = false;
  // The lowercased CNs and DNS subjectAltNames of the entry's certificates, without duplicates,
  // in certificate order ("*.example.com" for wildcards). Names that another entry claimed
  // first are listed here but do not select this entry.
  std::vector<std::string> names;
  std::vector<DestIp> dest_ips;
  // The 1-based line in the config file; for entries added with CertTable::Builder::Add, the
  // line given in the EntrySpec (0 when none was given).
  int line = 0;
  // "ECDSA P-256 + RSA 2048", "RSA 4096", or "no certificate".
  std::string key_summary;
};

// CertMatch is the result of CertTable::Lookup: the entry and the rule that selected it.
struct CertMatch {
  enum class Kind {
    kExactName,  // SNI equals one of the entry's names (case-insensitive).
    kWildcardName,  // SNI matches "*.suffix" of the entry in its first label.
    kAddressAndPort,  // dest_ip=ADDR:PORT equals the local address and port.
    kAddress,  // dest_ip=ADDR equals the local address.
    kDefault,  // dest_ip=*.
  };

  const CertEntry* entry;
  Kind kind;
};

// CertMatchKindName returns "exact name", "wildcard name", "address and port", "address" or
// "default", for logs.
const char* CertMatchKindName(CertMatch::Kind kind);

// --- The table -----------------------------------------------------------------------------------

class CertTable {
 public:
  // One certificate of an entry, already in memory.
  struct CertSpec {
    bssl::UniquePtr<X509> leaf;
    // Intermediates sent after the leaf, in order (not including the leaf).
    std::vector<bssl::UniquePtr<X509>> chain;
    bssl::UniquePtr<EVP_PKEY> key;
    // How errors name this certificate, e.g. its ssl_cert_name value. May be empty.
    std::string source;
  };

  // One entry, already in memory: what a config line says once its files are read.
  struct EntrySpec {
    // Zero (tunnel entries only), one, or two certificates; two must be one ECDSA and one RSA.
    std::vector<CertSpec> certs;
    // Appended to the chain of every certificate (ssl_ca_name).
    std::vector<bssl::UniquePtr<X509>> extra_chain;
    std::vector<DestIp> dest_ips;
    bool tunnel = false;
    // Copied to CertEntry::line.
    int line = 0;
  };

  // Builder collects entries, in priority order, and makes the table. Both the config parser
  // and in-memory callers (the built-in self-signed default, tests) build tables through it.
  //
  //   CertTable::Builder builder(options);
  //   CertTable::EntrySpec spec;
  //   spec.certs.push_back({.leaf = std::move(cert), .key = std::move(key)});
  //   spec.dest_ips.push_back(DestIp::Any());
  //   if (absl::Status s = builder.Add(std::move(spec)); !s.ok()) return s;
  //   absl::StatusOr<std::shared_ptr<const CertTable>> table = std::move(builder).Build();
  class Builder {
   public:
    explicit Builder(CertTableOptions options);
    Builder(const Builder&) = delete;
    Builder& operator=(const Builder&) = delete;

    // Add checks |spec|, creates its SSL_CTX objects with SSL_CTX_new(TLS_method()), installs
    // each chain and key, calls CertTableOptions::configure_ctx on each, and indexes the
    // entry's names and dest_ips. An earlier entry keeps a name or dest_ip that a later one
    // also claims (ATS's "first line wins"); the later claim is logged as a warning.
    //
    // It returns InvalidArgument, with a message that does not name a file or line (the caller
    // adds those), when: a certificate has no key or a key that does not match it; two
    // certificates have the same key type, or one is neither ECDSA nor RSA; there are more than
    // two certificates; a non-tunnel entry has no certificate; a tunnel entry has neither a
    // certificate nor a dest_ip; BoringSSL refuses the chain; or configure_ctx fails. On error
    // the builder is unchanged.
    absl::Status Add(EntrySpec spec);

    // Build returns the table. It does not fail today; the StatusOr leaves room for checks
    // across entries.
    absl::StatusOr<std::shared_ptr<const CertTable>> Build() &&;

   private:
    CertTableOptions options_;
    std::unique_ptr<CertTable> table_;
  };

  // LoadFile reads and parses the ssl_multicert.config at |path|. Errors are InvalidArgument and
  // start with "|path|:LINE: ". The file is taken whole or not at all.
  static absl::StatusOr<std::shared_ptr<const CertTable>> LoadFile(const std::string& path,
                                                                   const CertTableOptions& options);

  // Parse parses ssl_multicert.config text. It reads the certificate and key files the lines
  // name. On the first bad line it returns InvalidArgument with a message like
  //   "ssl_multicert.config:3: ssl_cert_name: cannot read '/x/y.pem': No such file or directory"
  // where "ssl_multicert.config" is |filename_for_errors|. Contexts already made for earlier
  // lines (and passed to configure_ctx) are then freed; nothing else is kept.
  static absl::StatusOr<std::shared_ptr<const CertTable>> Parse(
      absl::string_view content, absl::string_view filename_for_errors,
      const CertTableOptions& options);

  CertTable(const CertTable&) = delete;
  CertTable& operator=(const CertTable&) = delete;
  ~CertTable();

  // Lookup returns the entry for a connection whose ClientHello carried |sni| (empty when the
  // client sent none) and that arrived on the local address |local|, trying in order:
  //   1. an entry with a name equal to |sni| (ASCII case-insensitive; one trailing dot ignored);
  //   2. an entry with a wildcard "*.suffix" where |sni| is "label.suffix" (exactly one label);
  //   3. an entry with dest_ip equal to |local|'s address and port;
  //   4. an entry with dest_ip equal to |local|'s address (any port);
  //   5. the dest_ip=* entry.
  // An IPv4-mapped IPv6 |local| (::ffff:a.b.c.d) matches IPv4 dest_ip values. An unset |local|
  // skips steps 3 and 4. It returns nullopt when nothing matches. The entry lives as long as the
  // table. Any thread.
  std::optional<CertMatch> Lookup(absl::string_view sni, const IpEndpoint& local) const;

  // FindByName returns the RSA-preferred context (ChooseContext(false)) of the entry whose
  // name matches |name| exactly or by wildcard, as TSSslContextFindByName does, or nullptr for
  // an empty name, no match, or an entry without certificates.
  SSL_CTX* FindByName(absl::string_view name) const;

  // FindByAddr returns the RSA-preferred context of the entry whose dest_ip matches |address|'s
  // address and port, else its address alone, as TSSslContextFindByAddr does; or nullptr.
  SSL_CTX* FindByAddr(const IpEndpoint& address) const;

  // size returns the number of entries.
  size_t size() const { return entries_.size(); }

  // entries returns every entry in config order.
  const std::vector<std::unique_ptr<CertEntry>>& entries() const { return entries_; }

  // Describe returns CertEntry::Describe for every entry, in config order.
  std::vector<std::string> Describe() const;

 private:
  CertTable() = default;

  const CertEntry* FindName(absl::string_view sni, CertMatch::Kind* kind) const;
  const CertEntry* FindAddress(const IpEndpoint& local, CertMatch::Kind* kind) const;

  std::vector<std::unique_ptr<CertEntry>> entries_;
  // Lowercased exact names.
  absl::flat_hash_map<std::string, const CertEntry*> exact_names_;
  // Wildcard "*.example.com" is stored as "example.com".
  absl::flat_hash_map<std::string, const CertEntry*> wildcard_suffixes_;
  // Keyed by IpEndpoint::ToString() ("1.2.3.4:443", "[::1]:443").
  absl::flat_hash_map<std::string, const CertEntry*> by_address_and_port_;
  // Keyed by IpEndpoint::AddressString() ("1.2.3.4", "::1").
  absl::flat_hash_map<std::string, const CertEntry*> by_address_;
  const CertEntry* default_entry_ = nullptr;
};

// --- ClientHello inspection ----------------------------------------------------------------------

// ClientAcceptsEcdsa returns whether the client that sent |hello| can verify an ECDSA server
// signature: true when its signature_algorithms extension lists an ECDSA scheme (0x0403, 0x0503,
// 0x0603, 0x0203), or, when the extension is absent, when it offers an ECDHE-ECDSA cipher suite.
// A malformed extension gives false. It does not check the curve: a TLS 1.3 client offering only
// ecdsa_secp256r1_sha256 still gets true for a P-384 certificate. Call it from the
// select_certificate callback, while |hello| is valid.
bool ClientAcceptsEcdsa(const SSL_CLIENT_HELLO* hello);

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_TLS_CERT_TABLE_H_
