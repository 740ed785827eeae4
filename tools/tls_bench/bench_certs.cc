#include "tools/tls_bench/bench_certs.h"

#include <openssl/bn.h>
#include <openssl/ec_key.h>
#include <openssl/nid.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tollgate::tls_bench {
namespace {

absl::Status SslError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, " failed"));
}

absl::StatusOr<bssl::UniquePtr<EVP_PKEY>> GenerateKey(BenchKeyType type) {
  bssl::UniquePtr<EVP_PKEY> pkey(EVP_PKEY_new());
  if (pkey == nullptr) return SslError("EVP_PKEY_new");
  switch (type) {
    case BenchKeyType::kEcdsaP256: {
      bssl::UniquePtr<EC_KEY> ec(EC_KEY_new_by_curve_name(NID_X9_62_prime256v1));
      if (ec == nullptr || !EC_KEY_generate_key(ec.get()) ||
          !EVP_PKEY_assign_EC_KEY(pkey.get(), ec.release())) {
        return SslError("P-256 key generation");
      }
      return pkey;
    }
    case BenchKeyType::kRsa2048: {
      bssl::UniquePtr<RSA> rsa(RSA_new());
      bssl::UniquePtr<BIGNUM> e(BN_new());
      if (rsa == nullptr || e == nullptr || !BN_set_word(e.get(), RSA_F4) ||
          !RSA_generate_key_ex(rsa.get(), 2048, e.get(), nullptr) ||
          !EVP_PKEY_assign_RSA(pkey.get(), rsa.release())) {
        return SslError("RSA-2048 key generation");
      }
      return pkey;
    }
  }
  return absl::InvalidArgumentError("unknown key type");
}

}  // namespace

absl::StatusOr<BenchCert> MakeSelfSigned(BenchKeyType type, const std::string& dns_name) {
  absl::StatusOr<bssl::UniquePtr<EVP_PKEY>> key = GenerateKey(type);
  if (!key.ok()) return key.status();
  bssl::UniquePtr<X509> cert(X509_new());
  if (cert == nullptr) return SslError("X509_new");
  if (!X509_set_version(cert.get(), X509_VERSION_3) ||
      !ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), 1) ||
      !X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400L * 30) ||
      !X509_set_pubkey(cert.get(), key->get())) {
    return SslError("certificate fields");
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (!X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                  reinterpret_cast<const uint8_t*>(dns_name.data()),
                                  static_cast<int>(dns_name.size()), -1, 0) ||
      !X509_set_issuer_name(cert.get(), subject)) {
    return SslError("subject CN");
  }
  bssl::UniquePtr<GENERAL_NAMES> names(sk_GENERAL_NAME_new_null());
  bssl::UniquePtr<GENERAL_NAME> name(GENERAL_NAME_new());
  bssl::UniquePtr<ASN1_IA5STRING> str(ASN1_IA5STRING_new());
  if (names == nullptr || name == nullptr || str == nullptr ||
      !ASN1_STRING_set(str.get(), dns_name.data(), static_cast<int>(dns_name.size()))) {
    return SslError("subjectAltName");
  }
  GENERAL_NAME_set0_value(name.get(), GEN_DNS, str.release());
  if (!bssl::PushToStack(names.get(), std::move(name)) ||
      !X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, names.get(), /*crit=*/0,
                         X509V3_ADD_DEFAULT)) {
    return SslError("subjectAltName extension");
  }
  if (!X509_sign(cert.get(), key->get(), EVP_sha256())) return SslError("X509_sign");
  return BenchCert{std::move(*key), std::move(cert)};
}

}  // namespace tollgate::tls_bench
