// Self-signed server certificates made in memory, for the TLS benchmarks.
//
// The tools never read key material from disk: each run makes an ECDSA P-256 or an RSA-2048
// key and a self-signed certificate for one DNS name. The load tool does not verify the chain
// (it measures handshake cost, not trust), so no CA is needed.
//
//   absl::StatusOr<BenchCert> cert = MakeSelfSigned(BenchKeyType::kEcdsaP256, "a.test");
//   SSL_CTX_use_certificate(ctx, cert->cert.get());
//   SSL_CTX_use_PrivateKey(ctx, cert->key.get());

#ifndef TOLLGATE_TOOLS_TLS_BENCH_BENCH_CERTS_H_
#define TOLLGATE_TOOLS_TLS_BENCH_BENCH_CERTS_H_

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string>

#include "absl/status/statusor.h"

namespace tollgate::tls_bench {

enum class BenchKeyType {
  kEcdsaP256,
  kRsa2048,
};

struct BenchCert {
  bssl::UniquePtr<EVP_PKEY> key;
  bssl::UniquePtr<X509> cert;
};

// MakeSelfSigned returns a fresh key of |type| and a self-signed certificate (CN and one DNS
// subjectAltName = |dns_name|, valid from one hour ago for 30 days). Returns InternalError when
// BoringSSL fails. Any thread.
absl::StatusOr<BenchCert> MakeSelfSigned(BenchKeyType type, const std::string& dns_name);

}  // namespace tollgate::tls_bench

#endif  // TOLLGATE_TOOLS_TLS_BENCH_BENCH_CERTS_H_
