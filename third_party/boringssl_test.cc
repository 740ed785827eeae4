// Proves BoringSSL from android-libboringssl-dev works in this build: two SSL objects complete a
// TLS 1.3 handshake over an in-memory BIO pair and exchange application data.
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "tests/util/test_certs.h"

namespace {

using tollgate::test_util::MakeCert;
using tollgate::test_util::TestCert;

// Drives both ends until each reports its handshake done, or a step budget runs out.
bool CompleteHandshake(SSL* client, SSL* server) {
  bool client_done = false;
  bool server_done = false;
  for (int step = 0; step < 32 && !(client_done && server_done); ++step) {
    if (!client_done) {
      int ret = SSL_do_handshake(client);
      if (ret == 1) {
        client_done = true;
      } else if (SSL_get_error(client, ret) != SSL_ERROR_WANT_READ) {
        return false;
      }
    }
    if (!server_done) {
      int ret = SSL_do_handshake(server);
      if (ret == 1) {
        server_done = true;
      } else if (SSL_get_error(server, ret) != SSL_ERROR_WANT_READ) {
        return false;
      }
    }
  }
  return client_done && server_done;
}

TEST(BoringSslTest, Tls13HandshakeOverBioPairNegotiatesAesGcmAndVerifiesName) {
  absl::StatusOr<TestCert> ca = MakeCert({.common_name = "Test CA", .is_ca = true});
  ASSERT_TRUE(ca.ok()) << ca.status();
  absl::StatusOr<TestCert> leaf =
      MakeCert({.common_name = "a.test", .dns_names = {"a.test"}}, &*ca);
  ASSERT_TRUE(leaf.ok()) << leaf.status();

  bssl::UniquePtr<SSL_CTX> server_ctx(SSL_CTX_new(TLS_method()));
  ASSERT_TRUE(SSL_CTX_use_certificate(server_ctx.get(), leaf->cert.get()));
  ASSERT_TRUE(SSL_CTX_use_PrivateKey(server_ctx.get(), leaf->key.get()));
  ASSERT_TRUE(SSL_CTX_set_min_proto_version(server_ctx.get(), TLS1_3_VERSION));

  bssl::UniquePtr<SSL_CTX> client_ctx(SSL_CTX_new(TLS_method()));
  ASSERT_TRUE(X509_STORE_add_cert(SSL_CTX_get_cert_store(client_ctx.get()), ca->cert.get()));
  SSL_CTX_set_verify(client_ctx.get(), SSL_VERIFY_PEER, nullptr);

  bssl::UniquePtr<SSL> client(SSL_new(client_ctx.get()));
  bssl::UniquePtr<SSL> server(SSL_new(server_ctx.get()));
  ASSERT_TRUE(SSL_set_tlsext_host_name(client.get(), "a.test"));
  ASSERT_TRUE(
      X509_VERIFY_PARAM_set1_host(SSL_get0_param(client.get()), "a.test", strlen("a.test")));
  SSL_set_connect_state(client.get());
  SSL_set_accept_state(server.get());

  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  ASSERT_TRUE(BIO_new_bio_pair(&client_bio, 0, &server_bio, 0));
  SSL_set_bio(client.get(), client_bio, client_bio);
  SSL_set_bio(server.get(), server_bio, server_bio);

  ASSERT_TRUE(CompleteHandshake(client.get(), server.get()));
  EXPECT_EQ(SSL_version(client.get()), TLS1_3_VERSION);
  EXPECT_EQ(SSL_version(server.get()), TLS1_3_VERSION);
  EXPECT_STREQ(SSL_get_cipher_name(client.get()), "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(SSL_get_verify_result(client.get()), X509_V_OK);
  EXPECT_STREQ(SSL_get_servername(server.get(), TLSEXT_NAMETYPE_host_name), "a.test");

  const std::string message = "hello over tls 1.3";
  ASSERT_EQ(SSL_write(client.get(), message.data(), message.size()),
            static_cast<int>(message.size()));
  char buf[64];
  int n = SSL_read(server.get(), buf, sizeof(buf));
  ASSERT_EQ(n, static_cast<int>(message.size()));
  EXPECT_EQ(std::string(buf, n), message);
}

TEST(BoringSslTest, ClientRejectsCertificateFromUnknownIssuer) {
  absl::StatusOr<TestCert> leaf = MakeCert({.common_name = "a.test", .dns_names = {"a.test"}});
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  bssl::UniquePtr<SSL_CTX> server_ctx(SSL_CTX_new(TLS_method()));
  ASSERT_TRUE(SSL_CTX_use_certificate(server_ctx.get(), leaf->cert.get()));
  ASSERT_TRUE(SSL_CTX_use_PrivateKey(server_ctx.get(), leaf->key.get()));
  bssl::UniquePtr<SSL_CTX> client_ctx(SSL_CTX_new(TLS_method()));
  SSL_CTX_set_verify(client_ctx.get(), SSL_VERIFY_PEER, nullptr);

  bssl::UniquePtr<SSL> client(SSL_new(client_ctx.get()));
  bssl::UniquePtr<SSL> server(SSL_new(server_ctx.get()));
  SSL_set_connect_state(client.get());
  SSL_set_accept_state(server.get());
  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  ASSERT_TRUE(BIO_new_bio_pair(&client_bio, 0, &server_bio, 0));
  SSL_set_bio(client.get(), client_bio, client_bio);
  SSL_set_bio(server.get(), server_bio, server_bio);

  EXPECT_FALSE(CompleteHandshake(client.get(), server.get()));
  EXPECT_EQ(SSL_get_verify_result(client.get()), X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
}

}  // namespace
