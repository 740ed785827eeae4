#include "iocore/tls/cert_table.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bytestring.h>
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/tls1.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "iocore/eventsystem/diags.h"

namespace tollgate {
namespace {

constexpr absl::string_view kDiagTag = "ssl";

// Certificate and config files are small; the cap keeps a mistaken path (a device, a log file)
// from being read into memory.
constexpr size_t kMaxFileSize = 16 * 1024 * 1024;

// --- Files and PEM -------------------------------------------------------------------------------

// ReadFile returns the contents of |path|, or an error "cannot read '|path|': <strerror>".
absl::StatusOr<std::string> ReadFile(const std::string& path) {
  FILE* file = fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read '", path, "': ", strerror(errno)));
  }
  std::string contents;
  char buf[8192];
  for (;;) {
    size_t n = fread(buf, 1, sizeof(buf), file);
    contents.append(buf, n);
    if (contents.size() > kMaxFileSize) {
      fclose(file);
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read '", path, "': larger than ", kMaxFileSize, " bytes"));
    }
    if (n < sizeof(buf)) break;
  }
  // fread does not say why it stopped; ferror does, and errno still holds the reason (EISDIR for
  // a directory).
  int error = errno;
  bool failed = ferror(file) != 0;
  fclose(file);
  if (failed) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read '", path, "': ", strerror(error)));
  }
  return contents;
}

// SslErrorReason returns the reason of the most recent BoringSSL error and clears the queue.
std::string SslErrorReason() {
  uint32_t error = ERR_peek_last_error();
  std::string reason = error == 0 ? "unknown error" : ERR_reason_error_string(error);
  ERR_clear_error();
  return reason;
}

// IsPemEndOfInput returns whether the last error is PEM's "no more PEM blocks", the normal end
// of a PEM read loop.
bool IsPemEndOfInput() {
  uint32_t error = ERR_peek_last_error();
  return ERR_GET_LIB(error) == ERR_LIB_PEM && ERR_GET_REASON(error) == PEM_R_NO_START_LINE;
}

// Encrypted keys need ssl_key_dialog, which Tollgate does not support; never prompt.
int NoPassword(char*, int, int, void*) { return 0; }

// ReadCertificates returns every CERTIFICATE block of |pem|, in order, skipping other blocks.
absl::StatusOr<std::vector<bssl::UniquePtr<X509>>> ReadCertificates(absl::string_view pem,
                                                                    absl::string_view path) {
  ERR_clear_error();
  bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), pem.size()));
  if (bio == nullptr) return absl::ResourceExhaustedError("BIO_new_mem_buf failed");
  std::vector<bssl::UniquePtr<X509>> certs;
  for (;;) {
    bssl::UniquePtr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassword, nullptr));
    if (cert == nullptr) break;
    certs.push_back(std::move(cert));
  }
  if (!IsPemEndOfInput()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad certificate in '", path, "': ", SslErrorReason()));
  }
  ERR_clear_error();
  if (certs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no certificate in '", path, "'"));
  }
  return certs;
}

// ReadPrivateKey returns the first private key block of |pem|, or nullptr when there is none.
absl::StatusOr<bssl::UniquePtr<EVP_PKEY>> ReadPrivateKey(absl::string_view pem,
                                                         absl::string_view path) {
  ERR_clear_error();
  bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), pem.size()));
  if (bio == nullptr) return absl::ResourceExhaustedError("BIO_new_mem_buf failed");
  bssl::UniquePtr<EVP_PKEY> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  if (key == nullptr && !IsPemEndOfInput()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad private key in '", path, "' (encrypted keys are not supported): ", SslErrorReason()));
  }
  ERR_clear_error();
  return key;
}

// ResolvePath returns |name| when it is absolute or |dir| is empty, else |dir|/|name|.
std::string ResolvePath(absl::string_view dir, absl::string_view name) {
  if (dir.empty() || absl::StartsWith(name, "/")) return std::string(name);
  if (absl::EndsWith(dir, "/")) return absl::StrCat(dir, name);
  return absl::StrCat(dir, "/", name);
}

// --- Addresses -----------------------------------------------------------------------------------

// Unmapped turns ::ffff:a.b.c.d:port into a.b.c.d:port, so that a dual-stack listener's local
// address matches IPv4 dest_ip values; other endpoints are returned unchanged.
IpEndpoint Unmapped(const IpEndpoint& endpoint) {
  if (endpoint.family() != AF_INET6) return endpoint;
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(endpoint.sockaddr());
  if (!IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) return endpoint;
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_port = v6->sin6_port;
  memcpy(&v4.sin_addr, &v6->sin6_addr.s6_addr[12], sizeof(v4.sin_addr));
  return IpEndpoint::FromSockaddr(reinterpret_cast<const sockaddr*>(&v4), sizeof(v4));
}

std::string AddressKey(const IpEndpoint& endpoint) { return Unmapped(endpoint).AddressString(); }
std::string AddressAndPortKey(const IpEndpoint& endpoint) { return Unmapped(endpoint).ToString(); }

// --- Certificates --------------------------------------------------------------------------------

// Appends |name|, lowercased, to |names| unless it is empty, holds a NUL, or is already there.
void AddName(absl::string_view name, std::vector<std::string>* names) {
  if (name.empty() || name.find('\0') != absl::string_view::npos) return;
  std::string lower = absl::AsciiStrToLower(name);
  for (const std::string& existing : *names) {
    if (existing == lower) return;
  }
  names->push_back(std::move(lower));
}

// CollectNames appends |leaf|'s subject CNs and DNS subjectAltNames to |names|.
void CollectNames(X509* leaf, std::vector<std::string>* names) {
  X509_NAME* subject = X509_get_subject_name(leaf);
  for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, data);
    if (len >= 0) AddName(absl::string_view(reinterpret_cast<char*>(utf8), len), names);
    OPENSSL_free(utf8);
  }
  bssl::UniquePtr<GENERAL_NAMES> sans(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr)));
  for (size_t i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), i);
    if (gn->type != GEN_DNS) continue;
    AddName(absl::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.dNSName)),
                              ASN1_STRING_length(gn->d.dNSName)),
            names);
  }
  ERR_clear_error();
}

// KeySummary returns "ECDSA P-256" or "RSA 2048" for an ECDSA or RSA public key.
std::string KeySummary(const EVP_PKEY* key) {
  if (EVP_PKEY_id(key) == EVP_PKEY_RSA) return absl::StrCat("RSA ", EVP_PKEY_bits(key));
  const EC_KEY* ec = EVP_PKEY_get0_EC_KEY(key);
  int nid = ec == nullptr ? NID_undef : EC_GROUP_get_curve_name(EC_KEY_get0_group(ec));
  switch (nid) {
    case NID_X9_62_prime256v1:
      return "ECDSA P-256";
    case NID_secp384r1:
      return "ECDSA P-384";
    case NID_secp521r1:
      return "ECDSA P-521";
  }
  const char* name = OBJ_nid2sn(nid);
  return absl::StrCat("ECDSA ", name != nullptr ? name : "unknown curve");
}

// Label returns how errors name certificate |index| of an entry.
std::string Label(const CertTable::CertSpec& spec, size_t index) {
  if (spec.source.empty()) return absl::StrCat("certificate ", index + 1);
  return absl::StrCat("certificate '", spec.source, "'");
}

// NewServerContext returns an SSL_CTX holding |spec|'s leaf, chain, |extra_chain| and key.
absl::StatusOr<bssl::UniquePtr<SSL_CTX>> NewServerContext(
    const CertTable::CertSpec& spec, const std::vector<bssl::UniquePtr<X509>>& extra_chain,
    const std::string& label) {
  ERR_clear_error();
  bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
  if (ctx == nullptr) return absl::ResourceExhaustedError("SSL_CTX_new failed");
  if (!SSL_CTX_use_certificate(ctx.get(), spec.leaf.get())) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": ", SslErrorReason()));
  }
  for (const std::vector<bssl::UniquePtr<X509>>* chain : {&spec.chain, &extra_chain}) {
    for (const bssl::UniquePtr<X509>& cert : *chain) {
      if (cert == nullptr || !SSL_CTX_add1_chain_cert(ctx.get(), cert.get())) {
        return absl::InvalidArgumentError(
            absl::StrCat(label, ": cannot add chain certificate: ", SslErrorReason()));
      }
    }
  }
  if (!SSL_CTX_use_PrivateKey(ctx.get(), spec.key.get()) || !SSL_CTX_check_private_key(ctx.get())) {
    return absl::InvalidArgumentError(
        absl::StrCat("private key does not match ", label, ": ", SslErrorReason()));
  }
  return ctx;
}

// --- ssl_multicert.config lines ------------------------------------------------------------------

struct KeyValue {
  std::string key;
  std::string value;
};

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// Tokenize splits one config line into key=value pairs (see the header for the syntax).
absl::StatusOr<std::vector<KeyValue>> Tokenize(absl::string_view line) {
  std::vector<KeyValue> pairs;
  size_t i = 0;
  const size_t n = line.size();
  for (;;) {
    while (i < n && IsBlank(line[i])) ++i;
    if (i == n || line[i] == '#') break;
    size_t start = i;
    while (i < n && line[i] != '=' && !IsBlank(line[i])) ++i;
    if (i == n || line[i] != '=') {
      return absl::InvalidArgumentError(
          absl::StrCat("expected key=value, found '", line.substr(start, i - start), "'"));
    }
    if (i == start) return absl::InvalidArgumentError("'=' without a key");
    KeyValue pair{std::string(line.substr(start, i - start)), ""};
    ++i;  // '='
    if (i < n && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < n) {
        char c = line[i];
        if (c == '\\' && i + 1 < n && (line[i + 1] == '"' || line[i + 1] == '\\')) {
          pair.value.push_back(line[i + 1]);
          i += 2;
        } else if (c == '"') {
          closed = true;
          ++i;
          break;
        } else {
          pair.value.push_back(c);
          ++i;
        }
      }
      if (!closed) {
        return absl::InvalidArgumentError(absl::StrCat(pair.key, ": unterminated quote in value"));
      }
      if (i < n && !IsBlank(line[i])) {
        return absl::InvalidArgumentError(
            absl::StrCat(pair.key, ": unexpected '", line.substr(i, 1), "' after closing quote"));
      }
    } else {
      size_t value_start = i;
      while (i < n && !IsBlank(line[i])) ++i;
      pair.value = std::string(line.substr(value_start, i - value_start));
    }
    if (pair.value.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(pair.key, ": empty value"));
    }
    pairs.push_back(std::move(pair));
  }
  return pairs;
}

// SplitFileList splits "a.pem,b.pem" and rejects empty names.
absl::StatusOr<std::vector<std::string>> SplitFileList(absl::string_view key,
                                                       absl::string_view value) {
  std::vector<std::string> names = absl::StrSplit(value, ',');
  for (const std::string& name : names) {
    if (name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(key, ": empty file name in '", value, "'"));
    }
  }
  return names;
}

// Keys ATS 9 accepts that Tollgate does not implement: rejected with a clearer message than
// "unknown key", so that a config copied from ATS fails loudly rather than silently differs.
bool IsUnsupportedAtsKey(absl::string_view key) {
  return key == "ssl_ocsp_name" || key == "ssl_ticket_enabled" || key == "ssl_ticket_number" ||
      key == "ssl_key_dialog" || key == "dest_fqdn";
}

// ParseLine turns one line into an EntrySpec, reading the files it names. A blank or comment
// line gives an empty optional.
absl::StatusOr<std::optional<CertTable::EntrySpec>> ParseLine(absl::string_view line,
                                                              int line_number,
                                                              const CertTableOptions& options) {
  absl::StatusOr<std::vector<KeyValue>> pairs = Tokenize(line);
  if (!pairs.ok()) return pairs.status();
  if (pairs->empty()) return std::optional<CertTable::EntrySpec>();

  std::optional<std::string> cert_name, key_name, ca_name, dest_ip, action;
  for (KeyValue& pair : *pairs) {
    std::optional<std::string>* slot = nullptr;
    if (pair.key == "ssl_cert_name") {
      slot = &cert_name;
    } else if (pair.key == "ssl_key_name") {
      slot = &key_name;
    } else if (pair.key == "ssl_ca_name") {
      slot = &ca_name;
    } else if (pair.key == "dest_ip") {
      slot = &dest_ip;
    } else if (pair.key == "action") {
      slot = &action;
    } else if (IsUnsupportedAtsKey(pair.key)) {
      return absl::InvalidArgumentError(absl::StrCat(pair.key, ": not supported by Tollgate"));
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown key '", pair.key, "'"));
    }
    if (slot->has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(pair.key, ": given more than once"));
    }
    *slot = std::move(pair.value);
  }

  CertTable::EntrySpec spec;
  spec.line = line_number;
  if (action.has_value()) {
    if (*action != "tunnel") {
      return absl::InvalidArgumentError(
          absl::StrCat("action: '", *action, "' is not a known action (only 'tunnel')"));
    }
    spec.tunnel = true;
  }
  if (dest_ip.has_value()) {
    absl::StatusOr<DestIp> parsed = DestIp::Parse(*dest_ip);
    if (!parsed.ok())
      return absl::InvalidArgumentError(absl::StrCat("dest_ip: ", parsed.status().message()));
    spec.dest_ips.push_back(*parsed);
  }
  if (!cert_name.has_value()) {
    if (key_name.has_value() || ca_name.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          key_name.has_value() ? "ssl_key_name" : "ssl_ca_name", ": given without ssl_cert_name"));
    }
    if (!spec.tunnel) {
      return absl::InvalidArgumentError("ssl_cert_name is required (unless action=tunnel)");
    }
    return std::optional<CertTable::EntrySpec>(std::move(spec));
  }

  absl::StatusOr<std::vector<std::string>> cert_files = SplitFileList("ssl_cert_name", *cert_name);
  if (!cert_files.ok()) return cert_files.status();
  if (cert_files->size() > 2) {
    return absl::InvalidArgumentError(absl::StrCat("ssl_cert_name: ", cert_files->size(),
                                                   " files; at most two (one ECDSA, one RSA)"));
  }
  std::vector<std::string> key_files;
  if (key_name.has_value()) {
    absl::StatusOr<std::vector<std::string>> split = SplitFileList("ssl_key_name", *key_name);
    if (!split.ok()) return split.status();
    key_files = *std::move(split);
    if (key_files.size() != cert_files->size()) {
      return absl::InvalidArgumentError(absl::StrCat("ssl_key_name: names ", key_files.size(),
                                                     " file(s) but ssl_cert_name names ",
                                                     cert_files->size()));
    }
  }
  const std::string& key_dir = options.key_dir.empty() ? options.cert_dir : options.key_dir;

  for (size_t i = 0; i < cert_files->size(); ++i) {
    const std::string& cert_file = (*cert_files)[i];
    std::string cert_path = ResolvePath(options.cert_dir, cert_file);
    absl::StatusOr<std::string> cert_pem = ReadFile(cert_path);
    if (!cert_pem.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("ssl_cert_name: ", cert_pem.status().message()));
    }
    absl::StatusOr<std::vector<bssl::UniquePtr<X509>>> certs =
        ReadCertificates(*cert_pem, cert_path);
    if (!certs.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("ssl_cert_name: ", certs.status().message()));
    }

    absl::StatusOr<bssl::UniquePtr<EVP_PKEY>> key;
    if (key_files.empty()) {
      key = ReadPrivateKey(*cert_pem, cert_path);
      if (!key.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("ssl_cert_name: ", key.status().message()));
      }
      if (*key == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("ssl_cert_name: no private key in '", cert_path, "' (add ssl_key_name)"));
      }
    } else {
      std::string key_path = ResolvePath(key_dir, key_files[i]);
      absl::StatusOr<std::string> key_pem = ReadFile(key_path);
      if (!key_pem.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("ssl_key_name: ", key_pem.status().message()));
      }
      key = ReadPrivateKey(*key_pem, key_path);
      if (!key.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("ssl_key_name: ", key.status().message()));
      }
      if (*key == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("ssl_key_name: no private key in '", key_path, "'"));
      }
    }

    CertTable::CertSpec cert;
    cert.leaf = std::move(certs->front());
    for (size_t j = 1; j < certs->size(); ++j) cert.chain.push_back(std::move((*certs)[j]));
    cert.key = *std::move(key);
    cert.source = cert_file;
    spec.certs.push_back(std::move(cert));
  }

  if (ca_name.has_value()) {
    std::string ca_path = ResolvePath(options.cert_dir, *ca_name);
    absl::StatusOr<std::string> ca_pem = ReadFile(ca_path);
    if (!ca_pem.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("ssl_ca_name: ", ca_pem.status().message()));
    }
    absl::StatusOr<std::vector<bssl::UniquePtr<X509>>> extra = ReadCertificates(*ca_pem, ca_path);
    if (!extra.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("ssl_ca_name: ", extra.status().message()));
    }
    spec.extra_chain = *std::move(extra);
  }
  return std::optional<CertTable::EntrySpec>(std::move(spec));
}

}  // namespace

// --- DestIp --------------------------------------------------------------------------------------

DestIp DestIp::Any() { return DestIp(Kind::kAny, IpEndpoint()); }

DestIp DestIp::Address(const IpEndpoint& address) {
  IpEndpoint endpoint = Unmapped(address);
  endpoint.set_port(0);
  return DestIp(Kind::kAddress, endpoint);
}

DestIp DestIp::AddressAndPort(const IpEndpoint& endpoint) {
  return DestIp(Kind::kAddressAndPort, Unmapped(endpoint));
}

absl::StatusOr<DestIp> DestIp::Parse(absl::string_view text) {
  if (text == "*") return Any();
  absl::string_view host = text;
  absl::string_view port_text;
  bool has_port = false;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("'", text, "' is missing ']'"));
    }
    host = text.substr(1, close - 1);
    absl::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not an IP address"));
      }
      port_text = rest.substr(1);
      has_port = true;
    }
  } else {
    // Exactly one ':' is "v4:port"; more is a bare IPv6 address.
    size_t colon = text.find(':');
    if (colon != absl::string_view::npos && colon == text.rfind(':')) {
      host = text.substr(0, colon);
      port_text = text.substr(colon + 1);
      has_port = true;
    }
  }
  int port = 0;
  if (has_port && (!absl::SimpleAtoi(port_text, &port) || port < 1 || port > 65535)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' has a bad port (expected 1..65535)"));
  }
  // Only a bare address reaches IpEndpoint::Parse: no ':' for IPv4, two or more for IPv6, so it
  // never splits off a port itself.
  absl::StatusOr<IpEndpoint> address = IpEndpoint::Parse(host, 0);
  if (host.empty() || !address.ok() ||
      (host.find(':') != absl::string_view::npos && host.find(':') == host.rfind(':'))) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not an IP address"));
  }
  if (!has_port) return Address(*address);
  address->set_port(static_cast<uint16_t>(port));
  return AddressAndPort(*address);
}

std::string DestIp::ToString() const {
  switch (kind_) {
    case Kind::kAny:
      return "*";
    case Kind::kAddress:
      return endpoint_.AddressString();
    case Kind::kAddressAndPort:
      return endpoint_.ToString();
  }
  return "?";
}

// --- CertEntry -----------------------------------------------------------------------------------

SSL_CTX* CertEntry::ChooseContext(bool client_accepts_ecdsa) const {
  if (client_accepts_ecdsa && ecdsa_ctx != nullptr) return ecdsa_ctx.get();
  if (rsa_ctx != nullptr) return rsa_ctx.get();
  return ecdsa_ctx.get();
}

std::string CertEntry::Describe() const {
  std::string out = line > 0 ? absl::StrCat("line ", line, ": ") : "built-in: ";
  absl::StrAppend(&out, names.empty() ? "(no names)" : absl::StrJoin(names, ", "), " (",
                  key_summary, ")");
  for (const DestIp& dest_ip : dest_ips) absl::StrAppend(&out, " dest_ip=", dest_ip.ToString());
  if (tunnel) absl::StrAppend(&out, " action=tunnel");
  return out;
}

const char* CertMatchKindName(CertMatch::Kind kind) {
  switch (kind) {
    case CertMatch::Kind::kExactName:
      return "exact name";
    case CertMatch::Kind::kWildcardName:
      return "wildcard name";
    case CertMatch::Kind::kAddressAndPort:
      return "address and port";
    case CertMatch::Kind::kAddress:
      return "address";
    case CertMatch::Kind::kDefault:
      return "default";
  }
  return "?";
}

// --- Builder -------------------------------------------------------------------------------------

CertTable::Builder::Builder(CertTableOptions options)
    : options_(std::move(options)), table_(new CertTable()) {}

absl::Status CertTable::Builder::Add(EntrySpec spec) {
  if (spec.certs.size() > 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(spec.certs.size(), " certificates; at most two (one ECDSA, one RSA)"));
  }
  if (spec.certs.empty() && !spec.tunnel) {
    return absl::InvalidArgumentError("ssl_cert_name is required (unless action=tunnel)");
  }
  if (spec.certs.empty() && spec.dest_ips.empty()) {
    return absl::InvalidArgumentError(
        "action=tunnel without ssl_cert_name needs a dest_ip to be selected by");
  }

  // Everything that can fail happens before the table changes, so a failed Add leaves the
  // builder as it was.
  auto entry = std::make_unique<CertEntry>();
  entry->tunnel = spec.tunnel;
  entry->line = spec.line;
  entry->dest_ips = spec.dest_ips;
  std::string ecdsa_summary;
  std::string rsa_summary;
  std::string ecdsa_label;
  for (size_t i = 0; i < spec.certs.size(); ++i) {
    const CertSpec& cert = spec.certs[i];
    std::string label = Label(cert, i);
    if (cert.leaf == nullptr) return absl::InvalidArgumentError(absl::StrCat(label, ": missing"));
    if (cert.key == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("no private key for ", label));
    }
    if (!X509_check_private_key(cert.leaf.get(), cert.key.get())) {
      ERR_clear_error();
      return absl::InvalidArgumentError(absl::StrCat("private key does not match ", label));
    }
    bssl::UniquePtr<EVP_PKEY> public_key(X509_get_pubkey(cert.leaf.get()));
    int type = public_key == nullptr ? EVP_PKEY_NONE : EVP_PKEY_id(public_key.get());
    if (type != EVP_PKEY_EC && type != EVP_PKEY_RSA) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          absl::StrCat(label, ": unsupported key type (only ECDSA and RSA)"));
    }
    bssl::UniquePtr<SSL_CTX>& slot = type == EVP_PKEY_EC ? entry->ecdsa_ctx : entry->rsa_ctx;
    if (slot != nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("two ", type == EVP_PKEY_EC ? "ECDSA" : "RSA",
                       " certificates; a dual entry needs one ECDSA and one RSA certificate"));
    }
    absl::StatusOr<bssl::UniquePtr<SSL_CTX>> ctx = NewServerContext(cert, spec.extra_chain, label);
    if (!ctx.ok()) return ctx.status();
    if (options_.configure_ctx) {
      absl::Status configured = options_.configure_ctx(ctx->get());
      if (!configured.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("configuring the TLS context for ", label, ": ", configured.message()));
      }
    }
    slot = *std::move(ctx);
    (type == EVP_PKEY_EC ? ecdsa_summary : rsa_summary) = KeySummary(public_key.get());
    CollectNames(cert.leaf.get(), &entry->names);
  }
  if (!ecdsa_summary.empty() && !rsa_summary.empty()) {
    entry->key_summary = absl::StrCat(ecdsa_summary, " + ", rsa_summary);
  } else if (!ecdsa_summary.empty() || !rsa_summary.empty()) {
    entry->key_summary = ecdsa_summary + rsa_summary;
  } else {
    entry->key_summary = "no certificate";
  }

  // Index. try_emplace keeps the first entry's claim: ATS's "first line wins".
  CertTable& table = *table_;
  const CertEntry* added = entry.get();
  auto where = [added] {
    return added->line > 0 ? absl::StrCat("line ", added->line) : std::string("built-in entry");
  };
  auto claim = [&](absl::flat_hash_map<std::string, const CertEntry*>& map, std::string key,
                   absl::string_view what) {
    auto [it, inserted] = map.try_emplace(key, added);
    if (!inserted && it->second != added) {
      Diag(DiagLevel::kWarning, kDiagTag,
           absl::StrCat("ssl_multicert: ", where(), ": ", what, " '", key,
                        "' is already used by line ", it->second->line, "; ignored here"));
    }
  };
  bool selectable = false;
  for (const std::string& name : entry->names) {
    if (absl::StartsWith(name, "*.") && name.size() > 2 && name.find('*', 1) == std::string::npos) {
      claim(table.wildcard_suffixes_, name.substr(2), "wildcard suffix");
      selectable = true;
    } else if (name.find('*') == std::string::npos) {
      claim(table.exact_names_, name, "name");
      selectable = true;
    }
    // Partial wildcards ("a*.example.com", "*.*.example.com") are listed but never match.
  }
  for (const DestIp& dest_ip : entry->dest_ips) {
    selectable = true;
    switch (dest_ip.kind()) {
      case DestIp::Kind::kAny:
        if (table.default_entry_ == nullptr) {
          table.default_entry_ = added;
        } else {
          Diag(DiagLevel::kWarning, kDiagTag,
               absl::StrCat("ssl_multicert: ", where(), ": dest_ip=* is already used by line ",
                            table.default_entry_->line, "; ignored here"));
        }
        break;
      case DestIp::Kind::kAddress:
        claim(table.by_address_, AddressKey(dest_ip.endpoint()), "dest_ip");
        break;
      case DestIp::Kind::kAddressAndPort:
        claim(table.by_address_and_port_, AddressAndPortKey(dest_ip.endpoint()), "dest_ip");
        break;
    }
  }
  if (!selectable) {
    Diag(DiagLevel::kWarning, kDiagTag,
         absl::StrCat("ssl_multicert: ", where(),
                      ": the certificate has no usable name and there is no dest_ip; the entry "
                      "is never selected"));
  }
  table.entries_.push_back(std::move(entry));
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const CertTable>> CertTable::Builder::Build() && {
  std::shared_ptr<const CertTable> table(std::move(table_));
  table_.reset(new CertTable());
  return table;
}

// --- CertTable -----------------------------------------------------------------------------------

CertTable::~CertTable() = default;

absl::StatusOr<std::shared_ptr<const CertTable>> CertTable::LoadFile(
    const std::string& path, const CertTableOptions& options) {
  absl::StatusOr<std::string> content = ReadFile(path);
  if (!content.ok()) return content.status();
  return Parse(*content, path, options);
}

absl::StatusOr<std::shared_ptr<const CertTable>> CertTable::Parse(
    absl::string_view content, absl::string_view filename_for_errors,
    const CertTableOptions& options) {
  Builder builder(options);
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    ++line_number;
    absl::StatusOr<std::optional<EntrySpec>> spec = ParseLine(line, line_number, options);
    absl::Status status = spec.status();
    if (status.ok() && spec->has_value()) status = builder.Add(**std::move(spec));
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(filename_for_errors, ":", line_number, ": ", status.message()));
    }
  }
  return std::move(builder).Build();
}

const CertEntry* CertTable::FindName(absl::string_view sni, CertMatch::Kind* kind) const {
  if (absl::EndsWith(sni, ".")) sni.remove_suffix(1);
  if (sni.empty()) return nullptr;
  std::string name = absl::AsciiStrToLower(sni);
  if (auto it = exact_names_.find(name); it != exact_names_.end()) {
    *kind = CertMatch::Kind::kExactName;
    return it->second;
  }
  // "*.example.com" covers exactly one non-empty label before "example.com".
  size_t dot = name.find('.');
  if (dot == 0 || dot == std::string::npos || dot + 1 == name.size()) return nullptr;
  if (auto it = wildcard_suffixes_.find(absl::string_view(name).substr(dot + 1));
      it != wildcard_suffixes_.end()) {
    *kind = CertMatch::Kind::kWildcardName;
    return it->second;
  }
  return nullptr;
}

const CertEntry* CertTable::FindAddress(const IpEndpoint& local, CertMatch::Kind* kind) const {
  if (!local.valid()) return nullptr;
  if (!by_address_and_port_.empty()) {
    if (auto it = by_address_and_port_.find(AddressAndPortKey(local));
        it != by_address_and_port_.end()) {
      *kind = CertMatch::Kind::kAddressAndPort;
      return it->second;
    }
  }
  if (!by_address_.empty()) {
    if (auto it = by_address_.find(AddressKey(local)); it != by_address_.end()) {
      *kind = CertMatch::Kind::kAddress;
      return it->second;
    }
  }
  return nullptr;
}

std::optional<CertMatch> CertTable::Lookup(absl::string_view sni, const IpEndpoint& local) const {
  CertMatch::Kind kind = CertMatch::Kind::kDefault;
  if (const CertEntry* entry = FindName(sni, &kind)) return CertMatch{entry, kind};
  if (const CertEntry* entry = FindAddress(local, &kind)) return CertMatch{entry, kind};
  if (default_entry_ != nullptr) return CertMatch{default_entry_, CertMatch::Kind::kDefault};
  return std::nullopt;
}

SSL_CTX* CertTable::FindByName(absl::string_view name) const {
  CertMatch::Kind kind;
  const CertEntry* entry = FindName(name, &kind);
  return entry == nullptr ? nullptr : entry->ChooseContext(false);
}

SSL_CTX* CertTable::FindByAddr(const IpEndpoint& address) const {
  CertMatch::Kind kind;
  const CertEntry* entry = FindAddress(address, &kind);
  return entry == nullptr ? nullptr : entry->ChooseContext(false);
}

std::vector<std::string> CertTable::Describe() const {
  std::vector<std::string> lines;
  lines.reserve(entries_.size());
  for (const std::unique_ptr<CertEntry>& entry : entries_) lines.push_back(entry->Describe());
  return lines;
}

// --- ClientHello ---------------------------------------------------------------------------------

namespace {

bool IsEcdsaSignatureScheme(uint16_t scheme) {
  return scheme == 0x0403 || scheme == 0x0503 || scheme == 0x0603 || scheme == 0x0203;
}

bool IsEcdheEcdsaCipherSuite(uint16_t suite) {
  switch (suite) {
    case 0xC009:  // ECDHE-ECDSA-AES128-SHA
    case 0xC00A:  // ECDHE-ECDSA-AES256-SHA
    case 0xC023:  // ECDHE-ECDSA-AES128-SHA256
    case 0xC024:  // ECDHE-ECDSA-AES256-SHA384
    case 0xC02B:  // ECDHE-ECDSA-AES128-GCM-SHA256
    case 0xC02C:  // ECDHE-ECDSA-AES256-GCM-SHA384
    case 0xCCA9:  // ECDHE-ECDSA-CHACHA20-POLY1305
      return true;
  }
  return false;
}

// Each reader returns false on malformed input; CBS never reads past its end.
bool OffersEcdheEcdsaSuite(const SSL_CLIENT_HELLO* hello) {
  CBS suites;
  CBS_init(&suites, hello->cipher_suites, hello->cipher_suites_len);
  uint16_t suite;
  while (CBS_get_u16(&suites, &suite)) {
    if (IsEcdheEcdsaCipherSuite(suite)) return true;
  }
  return false;
}

bool OffersTls13(const SSL_CLIENT_HELLO* hello) {
  const uint8_t* data = nullptr;
  size_t len = 0;
  if (!SSL_early_callback_ctx_extension_get(hello, TLSEXT_TYPE_supported_versions, &data, &len)) {
    return false;
  }
  CBS extension, versions;
  CBS_init(&extension, data, len);
  if (!CBS_get_u8_length_prefixed(&extension, &versions) || CBS_len(&extension) != 0) {
    return false;
  }
  uint16_t version;
  while (CBS_get_u16(&versions, &version)) {
    if (version == TLS1_3_VERSION) return true;
  }
  return false;
}

}  // namespace

bool ClientAcceptsEcdsa(const SSL_CLIENT_HELLO* hello) {
  if (hello == nullptr) return false;
  const uint8_t* data = nullptr;
  size_t len = 0;
  if (!SSL_early_callback_ctx_extension_get(hello, TLSEXT_TYPE_signature_algorithms, &data, &len)) {
    // No signature_algorithms (a TLS 1.0/1.1 or minimal TLS 1.2 client): ECDSA works exactly
    // when an ECDHE-ECDSA suite can be negotiated.
    return OffersEcdheEcdsaSuite(hello);
  }
  CBS extension, schemes;
  CBS_init(&extension, data, len);
  if (!CBS_get_u16_length_prefixed(&extension, &schemes) || CBS_len(&extension) != 0) {
    return false;
  }
  bool lists_ecdsa = false;
  uint16_t scheme;
  while (CBS_get_u16(&schemes, &scheme)) {
    if (IsEcdsaSignatureScheme(scheme)) lists_ecdsa = true;
  }
  if (!lists_ecdsa || CBS_len(&schemes) != 0) return false;
  // In TLS 1.3 the cipher suite says nothing about the certificate; in TLS 1.2 it must be an
  // ECDHE-ECDSA suite too, or the ECDSA context would leave no suite in common. A client that
  // offers TLS 1.3 is assumed to get it (Tollgate enables TLS 1.3 by default).
  return OffersTls13(hello) || OffersEcdheEcdsaSuite(hello);
}

}  // namespace tollgate
