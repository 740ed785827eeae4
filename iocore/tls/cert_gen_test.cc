#include "iocore/tls/cert_gen.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "gtest/gtest.h"

namespace tollgate {
namespace {

TEST(CertGenTest, SelfSignedCertVerifiesWithItsOwnKey) {
  absl::StatusOr<GeneratedCert> cert = MakeCert({.common_name = "a.test", .dns_names = {"a.test"}});
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(X509_verify(cert->cert.get(), cert->key.get()), 1);
}

TEST(CertGenTest, LeafSignedByCaVerifiesWithCaKeyOnly) {
  absl::StatusOr<GeneratedCert> ca = MakeCert({.common_name = "Test CA", .is_ca = true});
  ASSERT_TRUE(ca.ok()) << ca.status();
  absl::StatusOr<GeneratedCert> leaf =
      MakeCert({.common_name = "b.test", .dns_names = {"b.test"}}, &*ca);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_EQ(X509_verify(leaf->cert.get(), ca->key.get()), 1);
  EXPECT_NE(X509_verify(leaf->cert.get(), leaf->key.get()), 1);
}

TEST(CertGenTest, SubjectAltNamesMatchHostsAndAddresses) {
  absl::StatusOr<GeneratedCert> cert =
      MakeCert({.dns_names = {"*.wild.test", "exact.test"}, .ip_addresses = {"127.0.0.1", "::1"}});
  ASSERT_TRUE(cert.ok()) << cert.status();
  X509* x = cert->cert.get();
  EXPECT_EQ(X509_check_host(x, "exact.test", 10, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(x, "a.wild.test", 11, 0, nullptr), 1);
  EXPECT_NE(X509_check_host(x, "other.test", 10, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(x, "::1", 0), 1);
  EXPECT_NE(X509_check_ip_asc(x, "127.0.0.2", 0), 1);
}

TEST(CertGenTest, MalformedIpAddressIsAnError) {
  absl::StatusOr<GeneratedCert> cert = MakeCert({.ip_addresses = {"not-an-ip"}});
  EXPECT_EQ(cert.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CertGenTest, PemRoundTripsForEcdsaAndRsa) {
  for (KeyType type : {KeyType::kEcdsaP256, KeyType::kRsa2048}) {
    absl::StatusOr<GeneratedCert> cert = MakeCert({.key_type = type});
    ASSERT_TRUE(cert.ok()) << cert.status();
    std::string cert_pem = cert->CertPem();
    std::string key_pem = cert->KeyPem();
    bssl::UniquePtr<BIO> cbio(BIO_new_mem_buf(cert_pem.data(), cert_pem.size()));
    bssl::UniquePtr<X509> x(PEM_read_bio_X509(cbio.get(), nullptr, nullptr, nullptr));
    ASSERT_NE(x, nullptr);
    EXPECT_EQ(X509_cmp(x.get(), cert->cert.get()), 0);
    bssl::UniquePtr<BIO> kbio(BIO_new_mem_buf(key_pem.data(), key_pem.size()));
    bssl::UniquePtr<EVP_PKEY> k(PEM_read_bio_PrivateKey(kbio.get(), nullptr, nullptr, nullptr));
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(EVP_PKEY_cmp(k.get(), cert->key.get()), 1);
  }
}

}  // namespace
}  // namespace tollgate
