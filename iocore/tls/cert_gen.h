// In-memory keys and X.509 certificates: the embedded self-signed default of the tollgate binary,
// the benchmarks' certificates, and every test's (tests never read key material from the source
// tree, so expiry dates, names and key types are visible where they are made).
//
//   absl::StatusOr<GeneratedCert> ca = MakeCert({.common_name = "Test CA", .is_ca = true});
//   absl::StatusOr<GeneratedCert> leaf =
//       MakeCert({.common_name = "a.test", .dns_names = {"a.test"}}, &*ca);
//   SSL_CTX_use_certificate(ctx, leaf->cert.get());
//   SSL_CTX_use_PrivateKey(ctx, leaf->key.get());

#ifndef TOLLGATE_IOCORE_TLS_CERT_GEN_H_
#define TOLLGATE_IOCORE_TLS_CERT_GEN_H_

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tollgate {

enum class KeyType {
  kEcdsaP256,
  kRsa2048,
};

struct CertOptions {
  KeyType key_type = KeyType::kEcdsaP256;
  // Subject and issuer CN (the issuer's CN when signed by another certificate).
  std::string common_name = "localhost";
  // subjectAltName entries. DNS names may be wildcards ("*.example.test").
  std::vector<std::string> dns_names;
  // subjectAltName IP entries in text form: "127.0.0.1", "::1".
  std::vector<std::string> ip_addresses;
  // Marks the certificate as a CA (basicConstraints CA:TRUE) so it can sign others.
  bool is_ca = false;
  // Validity starts one hour in the past (clock skew) and lasts this many days.
  int valid_days = 30;
};

struct GeneratedCert {
  bssl::UniquePtr<EVP_PKEY> key;
  bssl::UniquePtr<X509> cert;

  // CertPem returns the certificate in PEM form.
  std::string CertPem() const;
  // KeyPem returns the private key in PEM (PKCS#8) form.
  std::string KeyPem() const;
};

// GenerateKey returns a fresh private key of |type|.
absl::StatusOr<bssl::UniquePtr<EVP_PKEY>> GenerateKey(KeyType type);

// MakeCert returns a new key and a certificate for it, signed by |issuer| or self-signed when
// |issuer| is null. It returns an error if a name or address in |options| is malformed or
// BoringSSL fails.
absl::StatusOr<GeneratedCert> MakeCert(const CertOptions& options,
                                       const GeneratedCert* issuer = nullptr);

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_TLS_CERT_GEN_H_
