#include "iocore/tls/cert_gen.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec_key.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tollgate {
namespace {

absl::Status SslError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, " failed"));
}

std::string BioContents(BIO* bio) {
  const uint8_t* data = nullptr;
  size_t len = 0;
  BIO_mem_contents(bio, &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

absl::Status AddSubjectAltNames(X509* cert, const CertOptions& options) {
  if (options.dns_names.empty() && options.ip_addresses.empty()) return absl::OkStatus();
  bssl::UniquePtr<GENERAL_NAMES> names(sk_GENERAL_NAME_new_null());
  if (names == nullptr) return SslError("sk_GENERAL_NAME_new_null");

  for (const std::string& dns : options.dns_names) {
    bssl::UniquePtr<GENERAL_NAME> name(GENERAL_NAME_new());
    bssl::UniquePtr<ASN1_IA5STRING> str(ASN1_IA5STRING_new());
    if (name == nullptr || str == nullptr ||
        !ASN1_STRING_set(str.get(), dns.data(), static_cast<int>(dns.size()))) {
      return SslError("DNS subjectAltName");
    }
    GENERAL_NAME_set0_value(name.get(), GEN_DNS, str.release());
    if (!bssl::PushToStack(names.get(), std::move(name))) return SslError("sk push");
  }

  for (const std::string& ip : options.ip_addresses) {
    uint8_t buf[16];
    int len = 0;
    if (inet_pton(AF_INET, ip.c_str(), buf) == 1) {
      len = 4;
    } else if (inet_pton(AF_INET6, ip.c_str(), buf) == 1) {
      len = 16;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("not an IP address: '", ip, "'"));
    }
    bssl::UniquePtr<GENERAL_NAME> name(GENERAL_NAME_new());
    bssl::UniquePtr<ASN1_OCTET_STRING> str(ASN1_OCTET_STRING_new());
    if (name == nullptr || str == nullptr || !ASN1_OCTET_STRING_set(str.get(), buf, len)) {
      return SslError("IP subjectAltName");
    }
    GENERAL_NAME_set0_value(name.get(), GEN_IPADD, str.release());
    if (!bssl::PushToStack(names.get(), std::move(name))) return SslError("sk push");
  }

  if (!X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), /*crit=*/0, X509V3_ADD_DEFAULT)) {
    return SslError("X509_add1_ext_i2d(subjectAltName)");
  }
  return absl::OkStatus();
}

absl::Status AddBasicConstraints(X509* cert, bool is_ca) {
  bssl::UniquePtr<BASIC_CONSTRAINTS> bc(BASIC_CONSTRAINTS_new());
  if (bc == nullptr) return SslError("BASIC_CONSTRAINTS_new");
  bc->ca = is_ca ? 0xff : 0;
  if (!X509_add1_ext_i2d(cert, NID_basic_constraints, bc.get(), /*crit=*/1, X509V3_ADD_DEFAULT)) {
    return SslError("X509_add1_ext_i2d(basicConstraints)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<bssl::UniquePtr<EVP_PKEY>> GenerateKey(KeyType type) {
  bssl::UniquePtr<EVP_PKEY> pkey(EVP_PKEY_new());
  if (pkey == nullptr) return SslError("EVP_PKEY_new");
  switch (type) {
    case KeyType::kEcdsaP256: {
      bssl::UniquePtr<EC_KEY> ec(EC_KEY_new_by_curve_name(NID_X9_62_prime256v1));
      if (ec == nullptr || !EC_KEY_generate_key(ec.get()) ||
          !EVP_PKEY_assign_EC_KEY(pkey.get(), ec.release())) {
        return SslError("P-256 key generation");
      }
      return pkey;
    }
    case KeyType::kRsa2048: {
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

absl::StatusOr<GeneratedCert> MakeCert(const CertOptions& options, const GeneratedCert* issuer) {
  absl::StatusOr<bssl::UniquePtr<EVP_PKEY>> key = GenerateKey(options.key_type);
  if (!key.ok()) return key.status();

  bssl::UniquePtr<X509> cert(X509_new());
  if (cert == nullptr) return SslError("X509_new");
  // Serial numbers only need to differ between certificates of one test run.
  static uint64_t next_serial = 1;
  if (!X509_set_version(cert.get(), X509_VERSION_3) ||
      !ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), next_serial++) ||
      !X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400L * options.valid_days) ||
      !X509_set_pubkey(cert.get(), key->get())) {
    return SslError("certificate fields");
  }

  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (!X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                  reinterpret_cast<const uint8_t*>(options.common_name.data()),
                                  static_cast<int>(options.common_name.size()), -1, 0)) {
    return SslError("subject CN");
  }
  X509_NAME* issuer_name = issuer != nullptr ? X509_get_subject_name(issuer->cert.get()) : subject;
  if (!X509_set_issuer_name(cert.get(), issuer_name)) return SslError("issuer name");

  if (absl::Status s = AddBasicConstraints(cert.get(), options.is_ca); !s.ok()) return s;
  if (absl::Status s = AddSubjectAltNames(cert.get(), options); !s.ok()) return s;

  EVP_PKEY* signing_key = issuer != nullptr ? issuer->key.get() : key->get();
  if (!X509_sign(cert.get(), signing_key, EVP_sha256())) return SslError("X509_sign");

  return GeneratedCert{std::move(*key), std::move(cert)};
}

std::string GeneratedCert::CertPem() const {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || !PEM_write_bio_X509(bio.get(), cert.get())) return "";
  return BioContents(bio.get());
}

std::string GeneratedCert::KeyPem() const {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr ||
      !PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr)) {
    return "";
  }
  return BioContents(bio.get());
}

}  // namespace tollgate
