#include "tools/tls_bench/bench_certs.h"

#include "iocore/tls/cert_gen.h"

namespace tollgate::tls_bench {

absl::StatusOr<BenchCert> MakeSelfSigned(BenchKeyType type, const std::string& dns_name) {
  absl::StatusOr<GeneratedCert> cert = MakeCert(
      {.key_type = type == BenchKeyType::kEcdsaP256 ? KeyType::kEcdsaP256 : KeyType::kRsa2048,
       .common_name = dns_name,
       .dns_names = {dns_name}});
  if (!cert.ok()) return cert.status();
  return BenchCert{std::move(cert->key), std::move(cert->cert)};
}

}  // namespace tollgate::tls_bench
