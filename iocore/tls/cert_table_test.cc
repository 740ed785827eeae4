#include "iocore/tls/cert_table.h"

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/util/test_certs.h"

namespace tollgate {
namespace {

using test_util::CertOptions;
using test_util::KeyType;
using test_util::MakeCert;
using test_util::TestCert;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kConfigName[] = "ssl_multicert.config";

// MakeTestCert returns a new certificate or stops the test program: every test needs its
// certificates, and a failure here is a broken test environment, not a behaviour under test.
TestCert MakeTestCert(const CertOptions& options, const TestCert* issuer = nullptr) {
  absl::StatusOr<TestCert> cert = MakeCert(options, issuer);
  if (!cert.ok()) {
    fprintf(stderr, "MakeCert failed: %s\n", cert.status().ToString().c_str());
    abort();
  }
  return *std::move(cert);
}

IpEndpoint Endpoint(const char* text) {
  absl::StatusOr<IpEndpoint> endpoint = IpEndpoint::Parse(text);
  if (!endpoint.ok()) abort();
  return *endpoint;
}

std::string CommonName(X509* cert) {
  char buf[256] = {};
  if (cert == nullptr ||
      X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof(buf)) <
          0) {
    return "";
  }
  return buf;
}

int KeyTypeOf(X509* cert) {
  bssl::UniquePtr<EVP_PKEY> key(X509_get_pubkey(cert));
  return key == nullptr ? EVP_PKEY_NONE : EVP_PKEY_id(key.get());
}

class CertTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/cert_table_XXXXXX");
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    dir_ = dir;
    options_.cert_dir = dir_;
  }

  void WriteFile(const std::string& name, const std::string& content) {
    FILE* file = fopen(Path(name).c_str(), "wb");
    ASSERT_NE(file, nullptr) << Path(name);
    ASSERT_EQ(fwrite(content.data(), 1, content.size(), file), content.size());
    ASSERT_EQ(fclose(file), 0);
  }

  // WriteCert writes |cert| to |name| and its key to |name| with ".key" appended.
  void WriteCert(const std::string& name, const TestCert& cert) {
    WriteFile(name, cert.CertPem());
    WriteFile(name + ".key", cert.KeyPem());
  }

  std::string Path(const std::string& name) const { return absl::StrCat(dir_, "/", name); }

  absl::StatusOr<std::shared_ptr<const CertTable>> ParseConfig(const std::string& text) {
    return CertTable::Parse(text, kConfigName, options_);
  }

  // ExpectRejected checks that |text| is rejected with exactly |message|.
  void ExpectRejected(const std::string& text, const std::string& message) {
    absl::StatusOr<std::shared_ptr<const CertTable>> table = ParseConfig(text);
    ASSERT_FALSE(table.ok()) << text;
    EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(table.status().message(), message);
  }

  std::string dir_;
  CertTableOptions options_;
};

// --- Parsing -------------------------------------------------------------------------------------

TEST_F(CertTableTest, ParsesCommentsQuotesAndBlankLines) {
  WriteCert("a.pem", MakeTestCert({.common_name = "a.test", .dns_names = {"a.test"}}));
  WriteCert("my cert.pem", MakeTestCert({.common_name = "b.test", .dns_names = {"b.test"}}));
  WriteCert("q\"uote.pem", MakeTestCert({.common_name = "c.test"}));
  WriteCert("hash#in.pem", MakeTestCert({.common_name = "d.test"}));
  absl::StatusOr<std::shared_ptr<const CertTable>> table = ParseConfig(
      "# ssl_multicert.config\n"
      "\n"
      "   \t\n"
      "ssl_cert_name=a.pem ssl_key_name=a.pem.key   # the a.test site\r\n"
      "  # an indented comment\n"
      "ssl_cert_name=\"my cert.pem\"\tssl_key_name=\"my cert.pem.key\" dest_ip=*\n"
      "ssl_cert_name=\"q\\\"uote.pem\" ssl_key_name=\"q\\\"uote.pem.key\"#not-a-comment.key\n"
      "ssl_cert_name=hash#in.pem ssl_key_name=hash#in.pem.key\n");
  ASSERT_FALSE(table.ok());  // The quoted value must end at whitespace.
  EXPECT_EQ(table.status().message(),
            "ssl_multicert.config:7: ssl_key_name: unexpected '#' after closing quote");

  table = ParseConfig(
      "# ssl_multicert.config\n"
      "\n"
      "   \t\n"
      "ssl_cert_name=a.pem ssl_key_name=a.pem.key   # the a.test site\r\n"
      "  # an indented comment\n"
      "ssl_cert_name=\"my cert.pem\"\tssl_key_name=\"my cert.pem.key\" dest_ip=*\n"
      "ssl_cert_name=\"q\\\"uote.pem\" ssl_key_name=\"q\\\"uote.pem.key\" # comment\n"
      "ssl_cert_name=hash#in.pem ssl_key_name=hash#in.pem.key\n"
      "# last line without newline");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ((*table)->size(), 4u);
  EXPECT_THAT((*table)->Describe(),
              ElementsAre("line 4: a.test (ECDSA P-256)", "line 6: b.test (ECDSA P-256) dest_ip=*",
                          "line 7: c.test (ECDSA P-256)", "line 8: d.test (ECDSA P-256)"));
}

TEST_F(CertTableTest, KeyIsReadFromTheCertificateFileWhenSslKeyNameIsAbsent) {
  TestCert cert = MakeTestCert({.common_name = "a.test"});
  WriteFile("both.pem", cert.KeyPem() + cert.CertPem());
  absl::StatusOr<std::shared_ptr<const CertTable>> table = ParseConfig("ssl_cert_name=both.pem\n");
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_NE((*table)->FindByName("a.test"), nullptr);
}

TEST_F(CertTableTest, KeysResolveAgainstTheKeyDirectory) {
  TestCert cert = MakeTestCert({.common_name = "a.test"});
  ASSERT_EQ(mkdir(Path("private").c_str(), 0700), 0);
  WriteFile("a.pem", cert.CertPem());
  WriteFile("private/a.key", cert.KeyPem());
  options_.key_dir = Path("private");
  absl::StatusOr<std::shared_ptr<const CertTable>> table =
      ParseConfig("ssl_cert_name=a.pem ssl_key_name=a.key\n");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ((*table)->size(), 1u);
}

TEST_F(CertTableTest, LoadFileReadsTheConfigAndNamesItInErrors) {
  WriteCert("a.pem", MakeTestCert({.common_name = "a.test"}));
  WriteFile("good.config", "ssl_cert_name=a.pem ssl_key_name=a.pem.key dest_ip=*\n");
  WriteFile("bad.config", "\nssl_cert_name=a.pem bogus=1\n");
  absl::StatusOr<std::shared_ptr<const CertTable>> table =
      CertTable::LoadFile(Path("good.config"), options_);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ((*table)->size(), 1u);

  table = CertTable::LoadFile(Path("bad.config"), options_);
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.status().message(), absl::StrCat(Path("bad.config"), ":2: unknown key 'bogus'"));

  table = CertTable::LoadFile(Path("absent.config"), options_);
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(table.status().message(),
            absl::StrCat("cannot read '", Path("absent.config"), "': No such file or directory"));
}

// --- Errors: the whole file is rejected, naming file, line and reason ---------------------------

TEST_F(CertTableTest, MissingCertificateFileIsRejected) {
  WriteCert("a.pem", MakeTestCert({.common_name = "a.test"}));
  ExpectRejected(
      "# good lines first\n"
      "ssl_cert_name=a.pem ssl_key_name=a.pem.key dest_ip=*\n"
      "ssl_cert_name=missing.pem\n",
      absl::StrCat("ssl_multicert.config:3: ssl_cert_name: cannot read '", Path("missing.pem"),
                   "': No such file or directory"));
}

TEST_F(CertTableTest, BadDestIpIsRejected) {
  WriteCert("a.pem", MakeTestCert({.common_name = "a.test"}));
  ExpectRejected("ssl_cert_name=a.pem ssl_key_name=a.pem.key dest_ip=1.2.3\n",
                 "ssl_multicert.config:1: dest_ip: '1.2.3' is not an IP address");
  ExpectRejected("ssl_cert_name=a.pem ssl_key_name=a.pem.key dest_ip=1.2.3.4:70000\n",
                 "ssl_multicert.config:1: dest_ip: '1.2.3.4:70000' has a bad port (expected "
                 "1..65535)");
  ExpectRejected("ssl_cert_name=a.pem ssl_key_name=a.pem.key dest_ip=[::1\n",
                 "ssl_multicert.config:1: dest_ip: '[::1' is missing ']'");
  ExpectRejected("ssl_cert_name=a.pem ssl_key_name=a.pem.key dest_ip=[1:2]\n",
                 "ssl_multicert.config:1: dest_ip: '[1:2]' is not an IP address");
}

TEST_F(CertTableTest, PrivateKeyThatDoesNotMatchIsRejected) {
  TestCert a = MakeTestCert({.common_name = "a.test"});
  TestCert b = MakeTestCert({.common_name = "b.test"});
  WriteFile("a.pem", a.CertPem());
  WriteFile("b.key", b.KeyPem());
  WriteCert("ok.pem", b);
  ExpectRejected(
      "ssl_cert_name=ok.pem ssl_key_name=ok.pem.key\n"
      "ssl_cert_name=a.pem ssl_key_name=b.key\n",
      "ssl_multicert.config:2: private key does not match certificate 'a.pem'");
}

TEST_F(CertTableTest, UnknownKeyIsRejected) {
  WriteCert("a.pem", MakeTestCert({.common_name = "a.test"}));
  ExpectRejected("ssl_cert_name=a.pem ssl_key_name=a.pem.key ssl_cert_nmae=b.pem\n",
                 "ssl_multicert.config:1: unknown key 'ssl_cert_nmae'");
  ExpectRejected("ssl_cert_name=a.pem ssl_key_name=a.pem.key ssl_ocsp_name=a.ocsp\n",
                 "ssl_multicert.config:1: ssl_ocsp_name: not supported by Tollgate");
}

TEST_F(CertTableTest, MissingSslCertNameIsRejected) {
  ExpectRejected("\ndest_ip=*\n",
                 "ssl_multicert.config:2: ssl_cert_name is required (unless action=tunnel)");
  ExpectRejected("ssl_key_name=a.key\n",
                 "ssl_multicert.config:1: ssl_key_name: given without ssl_cert_name");
}

TEST_F(CertTableTest, UnterminatedQuoteIsRejected) {
  ExpectRejected("ssl_cert_name=\"a.pem dest_ip=*\n",
                 "ssl_multicert.config:1: ssl_cert_name: unterminated quote in value");
  ExpectRejected("ssl_cert_name=\"a.pem\\\"\n",
                 "ssl_multicert.config:1: ssl_cert_name: unterminated quote in value");
}

TEST_F(CertTableTest, OtherMalformedLinesAreRejected) {
  TestCert ec = MakeTestCert({.common_name = "a.test"});
  TestCert ec2 = MakeTestCert({.common_name = "b.test"});
  WriteCert("a.pem", ec);
  WriteCert("b.pem", ec2);
  WriteFile("empty.pem", "");
  WriteFile("garbage.pem", "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n");
  WriteFile("cert-only.pem", ec.CertPem());
  ExpectRejected("ssl_cert_name\n",
                 "ssl_multicert.config:1: expected key=value, found "
                 "'ssl_cert_name'");
  ExpectRejected("=a.pem\n", "ssl_multicert.config:1: '=' without a key");
  ExpectRejected("ssl_cert_name= dest_ip=*\n",
                 "ssl_multicert.config:1: ssl_cert_name: empty value");
  ExpectRejected("ssl_cert_name=a.pem ssl_cert_name=b.pem\n",
                 "ssl_multicert.config:1: ssl_cert_name: given more than once");
  ExpectRejected("ssl_cert_name=a.pem, ssl_key_name=a.pem.key\n",
                 "ssl_multicert.config:1: ssl_cert_name: empty file name in 'a.pem,'");
  ExpectRejected("ssl_cert_name=a.pem,b.pem ssl_key_name=a.pem.key\n",
                 "ssl_multicert.config:1: ssl_key_name: names 1 file(s) but ssl_cert_name names 2");
  ExpectRejected("ssl_cert_name=a.pem,b.pem ssl_key_name=a.pem.key,b.pem.key\n",
                 "ssl_multicert.config:1: two ECDSA certificates; a dual entry needs one ECDSA "
                 "and one RSA certificate");
  ExpectRejected("ssl_cert_name=empty.pem\n",
                 absl::StrCat("ssl_multicert.config:1: ssl_cert_name: no certificate in '",
                              Path("empty.pem"), "'"));
  ExpectRejected("ssl_cert_name=cert-only.pem\n",
                 absl::StrCat("ssl_multicert.config:1: ssl_cert_name: no private key in '",
                              Path("cert-only.pem"), "' (add ssl_key_name)"));
  ExpectRejected("ssl_cert_name=a.pem ssl_key_name=a.pem.key action=splice\n",
                 "ssl_multicert.config:1: action: 'splice' is not a known action (only "
                 "'tunnel')");
  ExpectRejected("action=tunnel\n",
                 "ssl_multicert.config:1: action=tunnel without ssl_cert_name needs a dest_ip "
                 "to be selected by");
  ExpectRejected("ssl_cert_name=. ssl_key_name=a.pem.key\n",
                 absl::StrCat("ssl_multicert.config:1: ssl_cert_name: cannot read '", dir_,
                              "/.': Is a directory"));

  absl::StatusOr<std::shared_ptr<const CertTable>> table =
      ParseConfig("ssl_cert_name=garbage.pem ssl_key_name=a.pem.key\n");
  ASSERT_FALSE(table.ok());
  EXPECT_THAT(table.status().message(),
              HasSubstr(absl::StrCat("ssl_multicert.config:1: ssl_cert_name: bad certificate in '",
                                     Path("garbage.pem"), "': ")));
}

TEST_F(CertTableTest, FailingConfigureCtxRejectsTheLineAndSucceedingOneSeesEveryContext) {
  WriteCert("ec.pem", MakeTestCert({.common_name = "a.test"}));
  WriteCert("rsa.pem", MakeTestCert({.key_type = KeyType::kRsa2048, .common_name = "a.test"}));
  std::vector<SSL_CTX*> configured;
  options_.configure_ctx = [&configured](SSL_CTX* ctx) {
    configured.push_back(ctx);
    return absl::OkStatus();
  };
  absl::StatusOr<std::shared_ptr<const CertTable>> table =
      ParseConfig("ssl_cert_name=ec.pem,rsa.pem ssl_key_name=ec.pem.key,rsa.pem.key\n");
  ASSERT_TRUE(table.ok()) << table.status();
  const CertEntry& entry = *(*table)->entries()[0];
  EXPECT_THAT(configured, ElementsAre(entry.ecdsa_ctx.get(), entry.rsa_ctx.get()));

  options_.configure_ctx = [](SSL_CTX*) { return absl::InternalError("no tickets today"); };
  ExpectRejected("\nssl_cert_name=ec.pem ssl_key_name=ec.pem.key\n",
                 "ssl_multicert.config:2: configuring the TLS context for certificate 'ec.pem': "
                 "no tickets today");
}

// --- Dual certificates ---------------------------------------------------------------------------

TEST_F(CertTableTest, DualCertificatesInEitherOrderGiveBothContextsAndChooseByClient) {
  WriteCert("ec.pem", MakeTestCert({.common_name = "a.test", .dns_names = {"a.test"}}));
  WriteCert("rsa.pem",
            MakeTestCert(
                {.key_type = KeyType::kRsa2048, .common_name = "a.test", .dns_names = {"a.test"}}));
  for (const char* line : {"ssl_cert_name=ec.pem,rsa.pem ssl_key_name=ec.pem.key,rsa.pem.key",
                           "ssl_cert_name=rsa.pem,ec.pem ssl_key_name=rsa.pem.key,ec.pem.key"}) {
    SCOPED_TRACE(line);
    absl::StatusOr<std::shared_ptr<const CertTable>> table = ParseConfig(line);
    ASSERT_TRUE(table.ok()) << table.status();
    std::optional<CertMatch> match = (*table)->Lookup("a.test", IpEndpoint());
    ASSERT_TRUE(match.has_value());
    const CertEntry& entry = *match->entry;
    ASSERT_NE(entry.ecdsa_ctx, nullptr);
    ASSERT_NE(entry.rsa_ctx, nullptr);
    EXPECT_EQ(KeyTypeOf(SSL_CTX_get0_certificate(entry.ecdsa_ctx.get())), EVP_PKEY_EC);
    EXPECT_EQ(KeyTypeOf(SSL_CTX_get0_certificate(entry.rsa_ctx.get())), EVP_PKEY_RSA);
    EXPECT_EQ(entry.ChooseContext(true), entry.ecdsa_ctx.get());
    EXPECT_EQ(entry.ChooseContext(false), entry.rsa_ctx.get());
    EXPECT_EQ(entry.names, std::vector<std::string>{"a.test"});
    EXPECT_EQ(entry.Describe(), "line 1: a.test (ECDSA P-256 + RSA 2048)");
  }
}

TEST_F(CertTableTest, SingleCertificateEntryIsChosenWhateverTheClientAccepts) {
  WriteCert("rsa.pem", MakeTestCert({.key_type = KeyType::kRsa2048, .common_name = "r.test"}));
  WriteCert("ec.pem", MakeTestCert({.common_name = "e.test"}));
  absl::StatusOr<std::shared_ptr<const CertTable>> table = ParseConfig(
      "ssl_cert_name=rsa.pem ssl_key_name=rsa.pem.key\n"
      "ssl_cert_name=ec.pem ssl_key_name=ec.pem.key\n");
  ASSERT_TRUE(table.ok()) << table.status();
  const CertEntry& rsa = *(*table)->entries()[0];
  const CertEntry& ec = *(*table)->entries()[1];
  EXPECT_EQ(rsa.ChooseContext(true), rsa.rsa_ctx.get());
  EXPECT_EQ(rsa.ChooseContext(false), rsa.rsa_ctx.get());
  EXPECT_EQ(ec.ChooseContext(true), ec.ecdsa_ctx.get());
  EXPECT_EQ(ec.ChooseContext(false), ec.ecdsa_ctx.get());
}

// --- Full handshakes -----------------------------------------------------------------------------

// What the server's select_certificate callback needs and what it saw.
struct Selection {
  const CertTable* table = nullptr;
  IpEndpoint local;
  std::optional<CertMatch> match;
  bool client_accepts_ecdsa = false;
};

ssl_select_cert_result_t SelectCertificate(const SSL_CLIENT_HELLO* hello) {
  auto* selection = static_cast<Selection*>(SSL_get_app_data(hello->ssl));
  const char* sni = SSL_get_servername(hello->ssl, TLSEXT_NAMETYPE_host_name);
  selection->match = selection->table->Lookup(sni != nullptr ? sni : "", selection->local);
  if (!selection->match.has_value()) return ssl_select_cert_error;
  selection->client_accepts_ecdsa = ClientAcceptsEcdsa(hello);
  SSL_CTX* ctx = selection->match->entry->ChooseContext(selection->client_accepts_ecdsa);
  if (ctx == nullptr || SSL_set_SSL_CTX(hello->ssl, ctx) == nullptr) return ssl_select_cert_error;
  return ssl_select_cert_success;
}

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

enum class ClientKind {
  kDefault,  // BoringSSL's defaults: TLS 1.3, ECDSA and RSA signatures.
  kRsaSignaturesOnly,  // TLS 1.3, signature_algorithms lists only RSA schemes.
  kTls12RsaSuitesOnly,  // TLS 1.2, ECDHE-RSA suites only (signature_algorithms still has ECDSA).
};

class HandshakeTest : public CertTableTest {
 protected:
  void SetUp() override {
    CertTableTest::SetUp();
    ca_ = MakeTestCert({.common_name = "Test CA", .is_ca = true});
    WriteCert("ec.pem",
              MakeTestCert({.common_name = "a.test ECDSA", .dns_names = {"a.test"}}, &ca_));
    WriteCert(
        "rsa.pem",
        MakeTestCert(
            {.key_type = KeyType::kRsa2048, .common_name = "a.test RSA", .dns_names = {"a.test"}},
            &ca_));
  }

  // Handshake connects a client of |kind| asking for |sni| to a server that selects its
  // certificate from |table|, and returns the certificate the client received (null on failure).
  bssl::UniquePtr<X509> Handshake(const CertTable& table, const char* sni, ClientKind kind,
                                  Selection* selection) {
    bssl::UniquePtr<SSL_CTX> server_ctx(SSL_CTX_new(TLS_method()));
    SSL_CTX_set_select_certificate_cb(server_ctx.get(), SelectCertificate);
    bssl::UniquePtr<SSL_CTX> client_ctx(SSL_CTX_new(TLS_method()));
    X509_STORE_add_cert(SSL_CTX_get_cert_store(client_ctx.get()), ca_.cert.get());
    SSL_CTX_set_verify(client_ctx.get(), SSL_VERIFY_PEER, nullptr);

    bssl::UniquePtr<SSL> client(SSL_new(client_ctx.get()));
    bssl::UniquePtr<SSL> server(SSL_new(server_ctx.get()));
    selection->table = &table;
    SSL_set_app_data(server.get(), selection);
    SSL_set_tlsext_host_name(client.get(), sni);
    X509_VERIFY_PARAM_set1_host(SSL_get0_param(client.get()), sni, strlen(sni));
    switch (kind) {
      case ClientKind::kDefault:
        break;
      case ClientKind::kRsaSignaturesOnly: {
        static const uint16_t kRsaOnly[] = {SSL_SIGN_RSA_PSS_RSAE_SHA256,
                                            SSL_SIGN_RSA_PKCS1_SHA256};
        EXPECT_TRUE(SSL_set_verify_algorithm_prefs(client.get(), kRsaOnly, 2));
        EXPECT_TRUE(SSL_set_signing_algorithm_prefs(client.get(), kRsaOnly, 2));
        break;
      }
      case ClientKind::kTls12RsaSuitesOnly:
        EXPECT_TRUE(SSL_set_max_proto_version(client.get(), TLS1_2_VERSION));
        EXPECT_TRUE(SSL_set_strict_cipher_list(client.get(), "ECDHE-RSA-AES128-GCM-SHA256"));
        break;
    }
    SSL_set_connect_state(client.get());
    SSL_set_accept_state(server.get());
    BIO* client_bio = nullptr;
    BIO* server_bio = nullptr;
    EXPECT_TRUE(BIO_new_bio_pair(&client_bio, 0, &server_bio, 0));
    SSL_set_bio(client.get(), client_bio, client_bio);
    SSL_set_bio(server.get(), server_bio, server_bio);
    if (!CompleteHandshake(client.get(), server.get())) {
      ADD_FAILURE() << "handshake failed: " << ERR_reason_error_string(ERR_peek_last_error());
      ERR_clear_error();
      return nullptr;
    }
    EXPECT_EQ(SSL_get_verify_result(client.get()), X509_V_OK);
    return bssl::UniquePtr<X509>(SSL_get_peer_certificate(client.get()));
  }

  TestCert ca_;
};

TEST_F(HandshakeTest, EcdsaCapableClientGetsTheEcdsaCertificate) {
  absl::StatusOr<std::shared_ptr<const CertTable>> table =
      ParseConfig("ssl_cert_name=rsa.pem,ec.pem ssl_key_name=rsa.pem.key,ec.pem.key\n");
  ASSERT_TRUE(table.ok()) << table.status();
  Selection selection;
  bssl::UniquePtr<X509> peer = Handshake(**table, "a.test", ClientKind::kDefault, &selection);
  ASSERT_NE(peer, nullptr);
  EXPECT_EQ(CommonName(peer.get()), "a.test ECDSA");
  EXPECT_TRUE(selection.client_accepts_ecdsa);
  ASSERT_TRUE(selection.match.has_value());
  EXPECT_EQ(selection.match->kind, CertMatch::Kind::kExactName);
}

TEST_F(HandshakeTest, RsaOnlyClientGetsTheRsaCertificate) {
  absl::StatusOr<std::shared_ptr<const CertTable>> table =
      ParseConfig("ssl_cert_name=ec.pem,rsa.pem ssl_key_name=ec.pem.key,rsa.pem.key\n");
  ASSERT_TRUE(table.ok()) << table.status();
  Selection selection;
  bssl::UniquePtr<X509> peer =
      Handshake(**table, "a.test", ClientKind::kRsaSignaturesOnly, &selection);
  ASSERT_NE(peer, nullptr);
  EXPECT_EQ(CommonName(peer.get()), "a.test RSA");
  EXPECT_FALSE(selection.client_accepts_ecdsa);
}

TEST_F(HandshakeTest, Tls12ClientWithOnlyRsaSuitesGetsTheRsaCertificate) {
  absl::StatusOr<std::shared_ptr<const CertTable>> table =
      ParseConfig("ssl_cert_name=ec.pem,rsa.pem ssl_key_name=ec.pem.key,rsa.pem.key\n");
  ASSERT_TRUE(table.ok()) << table.status();
  Selection selection;
  bssl::UniquePtr<X509> peer =
      Handshake(**table, "a.test", ClientKind::kTls12RsaSuitesOnly, &selection);
  ASSERT_NE(peer, nullptr);
  EXPECT_EQ(CommonName(peer.get()), "a.test RSA");
  EXPECT_FALSE(selection.client_accepts_ecdsa);
}

TEST_F(HandshakeTest, SslCaNameIsSentAfterTheLeafSoClientsTrustingOnlyTheRootVerify) {
  TestCert intermediate = MakeTestCert({.common_name = "Intermediate", .is_ca = true}, &ca_);
  WriteCert("leaf.pem",
            MakeTestCert({.common_name = "i.test", .dns_names = {"i.test"}}, &intermediate));
  WriteFile("intermediate.pem", intermediate.CertPem());
  absl::StatusOr<std::shared_ptr<const CertTable>> table = ParseConfig(
      "ssl_cert_name=leaf.pem ssl_key_name=leaf.pem.key ssl_ca_name=intermediate.pem\n");
  ASSERT_TRUE(table.ok()) << table.status();
  Selection selection;
  bssl::UniquePtr<X509> peer = Handshake(**table, "i.test", ClientKind::kDefault, &selection);
  ASSERT_NE(peer, nullptr);
  EXPECT_EQ(CommonName(peer.get()), "i.test");
}

// --- ClientAcceptsEcdsa on hand-made ClientHellos ------------------------------------------------

std::vector<uint8_t> Extension(uint16_t type, const std::vector<uint8_t>& body) {
  std::vector<uint8_t> out = {static_cast<uint8_t>(type >> 8), static_cast<uint8_t>(type),
                              static_cast<uint8_t>(body.size() >> 8),
                              static_cast<uint8_t>(body.size())};
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

std::vector<uint8_t> U16List(const std::vector<uint16_t>& values) {
  size_t len = values.size() * 2;
  std::vector<uint8_t> out = {static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len)};
  for (uint16_t v : values) {
    out.push_back(static_cast<uint8_t>(v >> 8));
    out.push_back(static_cast<uint8_t>(v));
  }
  return out;
}

std::vector<uint8_t> SupportedVersions(const std::vector<uint16_t>& versions) {
  std::vector<uint8_t> list = U16List(versions);
  list.erase(list.begin());  // supported_versions has an 8-bit length.
  return Extension(TLSEXT_TYPE_supported_versions, list);
}

// Evaluates ClientAcceptsEcdsa on a hello with exactly these bytes (heap copies, so that ASan
// sees any read past the end).
bool AcceptsEcdsa(const std::vector<uint8_t>& extensions, const std::vector<uint8_t>& suites) {
  std::unique_ptr<uint8_t[]> ext_copy(new uint8_t[extensions.size()]);
  std::unique_ptr<uint8_t[]> suites_copy(new uint8_t[suites.size()]);
  std::copy(extensions.begin(), extensions.end(), ext_copy.get());
  std::copy(suites.begin(), suites.end(), suites_copy.get());
  SSL_CLIENT_HELLO hello{};
  hello.extensions = ext_copy.get();
  hello.extensions_len = extensions.size();
  hello.cipher_suites = suites_copy.get();
  hello.cipher_suites_len = suites.size();
  return ClientAcceptsEcdsa(&hello);
}

std::vector<uint8_t> Concat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(ClientAcceptsEcdsaTest, Tls13ClientListingAnEcdsaSchemeAcceptsEcdsa) {
  std::vector<uint8_t> ext =
      Concat(Extension(TLSEXT_TYPE_signature_algorithms, U16List({0x0804, 0x0403})),
             SupportedVersions({0x0304, 0x0303}));
  EXPECT_TRUE(AcceptsEcdsa(ext, {0x13, 0x01}));
  for (uint16_t scheme : {0x0503, 0x0603, 0x0203}) {
    EXPECT_TRUE(AcceptsEcdsa(Concat(Extension(TLSEXT_TYPE_signature_algorithms, U16List({scheme})),
                                    SupportedVersions({0x0304})),
                             {0x13, 0x01}))
        << scheme;
  }
}

TEST(ClientAcceptsEcdsaTest, ClientListingOnlyRsaSchemesDoesNotAcceptEcdsa) {
  std::vector<uint8_t> ext =
      Concat(Extension(TLSEXT_TYPE_signature_algorithms, U16List({0x0804, 0x0401, 0x0201})),
             SupportedVersions({0x0304}));
  EXPECT_FALSE(AcceptsEcdsa(ext, {0x13, 0x01, 0xC0, 0x2B}));
}

TEST(ClientAcceptsEcdsaTest, Tls12ClientNeedsAnEcdheEcdsaSuiteToo) {
  std::vector<uint8_t> ext = Extension(TLSEXT_TYPE_signature_algorithms, U16List({0x0403}));
  EXPECT_FALSE(AcceptsEcdsa(ext, {0xC0, 0x2F}));
  EXPECT_TRUE(AcceptsEcdsa(ext, {0xC0, 0x2F, 0xC0, 0x2B}));
}

TEST(ClientAcceptsEcdsaTest, WithoutSignatureAlgorithmsTheCipherSuitesDecide) {
  for (uint16_t suite : {0xC009, 0xC00A, 0xC023, 0xC024, 0xC02B, 0xC02C, 0xCCA9}) {
    EXPECT_TRUE(AcceptsEcdsa(
        {}, {0x00, 0x2F, static_cast<uint8_t>(suite >> 8), static_cast<uint8_t>(suite)}))
        << suite;
  }
  EXPECT_FALSE(AcceptsEcdsa({}, {0x00, 0x2F, 0xC0, 0x2F, 0xCC, 0xA8}));
  EXPECT_FALSE(AcceptsEcdsa({}, {}));
}

TEST(ClientAcceptsEcdsaTest, MalformedInputGivesFalseWithoutReadingPastTheEnd) {
  EXPECT_FALSE(ClientAcceptsEcdsa(nullptr));
  // signature_algorithms whose list length claims more than the extension holds.
  EXPECT_FALSE(AcceptsEcdsa(Extension(TLSEXT_TYPE_signature_algorithms, {0x00, 0x10, 0x04, 0x03}),
                            {0xC0, 0x2B}));
  // An odd-length list.
  EXPECT_FALSE(AcceptsEcdsa(
      Extension(TLSEXT_TYPE_signature_algorithms, {0x00, 0x03, 0x04, 0x03, 0x08}), {0xC0, 0x2B}));
  // Trailing bytes after the list.
  EXPECT_FALSE(AcceptsEcdsa(
      Extension(TLSEXT_TYPE_signature_algorithms, {0x00, 0x02, 0x04, 0x03, 0x00}), {0xC0, 0x2B}));
  // An empty extension body.
  EXPECT_FALSE(AcceptsEcdsa(Extension(TLSEXT_TYPE_signature_algorithms, {}), {0xC0, 0x2B}));
  // An extension header cut short: no extension is found, suites decide; an odd suite byte is
  // ignored.
  EXPECT_TRUE(AcceptsEcdsa({0x00, 0x0d, 0x00}, {0xC0, 0x2B, 0xC0}));
  EXPECT_FALSE(AcceptsEcdsa({0x00, 0x0d, 0x00, 0x09, 0x00}, {0xC0}));
  // A supported_versions extension with a bad length does not count as TLS 1.3.
  EXPECT_FALSE(AcceptsEcdsa(Concat(Extension(TLSEXT_TYPE_signature_algorithms, U16List({0x0403})),
                                   Extension(TLSEXT_TYPE_supported_versions, {0x05, 0x03, 0x04})),
                            {0x13, 0x01}));
}

// --- Lookup order --------------------------------------------------------------------------------

TEST_F(CertTableTest, ExactNameBeatsWildcard) {
  WriteCert("wild.pem", MakeTestCert({.common_name = "wild", .dns_names = {"*.b.test"}}));
  WriteCert("x.pem", MakeTestCert({.common_name = "x.b.test", .dns_names = {"x.b.test"}}));
  absl::StatusOr<std::shared_ptr<const CertTable>> table = ParseConfig(
      "ssl_cert_name=wild.pem ssl_key_name=wild.pem.key\n"
      "ssl_cert_name=x.pem ssl_key_name=x.pem.key\n");
  ASSERT_TRUE(table.ok()) << table.status();
  std::optional<CertMatch> match = (*table)->Lookup("x.b.test", IpEndpoint());
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->entry->line, 2);
  EXPECT_EQ(match->kind, CertMatch::Kind::kExactName);
  match = (*table)->Lookup("y.b.test", IpEndpoint());
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->entry->line, 1);
  EXPECT_EQ(match->kind, CertMatch::Kind::kWildcardName);
}

TEST_F(CertTableTest, WildcardMatchesExactlyOneLabel) {
  WriteCert("wild.pem", MakeTestCert({.common_name = "wild", .dns_names = {"*.example.test"}}));
  absl::StatusOr<std::shared_ptr<const CertTable>> table =
      ParseConfig("ssl_cert_name=wild.pem ssl_key_name=wild.pem.key\n");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_TRUE((*table)->Lookup("a.example.test", IpEndpoint()).has_value());
  EXPECT_FALSE((*table)->Lookup("example.test", IpEndpoint()).has_value());
  EXPECT_FALSE((*table)->Lookup("a.b.example.test", IpEndpoint()).has_value());
  EXPECT_FALSE((*table)->Lookup(".example.test", IpEndpoint()).has_value());
}

TEST_F(CertTableTest, NameLookupIgnoresCaseAndOneTrailingDot) {
  WriteCert(
      "a.pem",
      MakeTestCert({.common_name = "Mixed.Test", .dns_names = {"WWW.Mixed.Test", "*.Wild.Test"}}));
  absl::StatusOr<std::shared_ptr<const CertTable>> table =
      ParseConfig("ssl_cert_name=a.pem ssl_key_name=a.pem.key\n");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ((*table)->entries()[0]->names,
            (std::vector<std::string>{"mixed.test", "www.mixed.test", "*.wild.test"}));
  for (const char* sni : {"mixed.test", "MIXED.TEST", "www.MiXeD.test", "mixed.test."}) {
    std::optional<CertMatch> match = (*table)->Lookup(sni, IpEndpoint());
    ASSERT_TRUE(match.has_value()) << sni;
    EXPECT_EQ(match->kind, CertMatch::Kind::kExactName) << sni;
  }
  std::optional<CertMatch> match = (*table)->Lookup("A.WILD.TEST", IpEndpoint());
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->kind, CertMatch::Kind::kWildcardName);
}

TEST_F(CertTableTest, FirstLineWinsWhenTwoEntriesClaimTheSameName) {
  WriteCert("one.pem", MakeTestCert({.common_name = "same.test"}));
  WriteCert("two.pem", MakeTestCert({.common_name = "same.test"}));
  absl::StatusOr<std::shared_ptr<const CertTable>> table = ParseConfig(
      "ssl_cert_name=one.pem ssl_key_name=one.pem.key dest_ip=*\n"
      "ssl_cert_name=two.pem ssl_key_name=two.pem.key dest_ip=*\n");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ((*table)->size(), 2u);
  EXPECT_EQ((*table)->Lookup("same.test", IpEndpoint())->entry->line, 1);
  EXPECT_EQ((*table)->Lookup("", IpEndpoint())->entry->line, 1);
}

TEST_F(CertTableTest, AddressAndPortBeatsAddressBeatsDefault) {
  for (const char* name : {"port.pem", "addr.pem", "v6.pem", "any.pem"}) {
    WriteCert(name, MakeTestCert({.common_name = name}));
  }
  absl::StatusOr<std::shared_ptr<const CertTable>> table = ParseConfig(
      "ssl_cert_name=any.pem ssl_key_name=any.pem.key dest_ip=*\n"
      "ssl_cert_name=addr.pem ssl_key_name=addr.pem.key dest_ip=127.0.0.1\n"
      "ssl_cert_name=port.pem ssl_key_name=port.pem.key dest_ip=127.0.0.1:8443\n"
      "ssl_cert_name=v6.pem ssl_key_name=v6.pem.key dest_ip=[::1]:443\n");
  ASSERT_TRUE(table.ok()) << table.status();
  const CertTable& t = **table;
  struct Case {
    const char* local;
    int line;
    CertMatch::Kind kind;
  };
  for (const Case& c : {
           Case{"127.0.0.1:8443", 3, CertMatch::Kind::kAddressAndPort},
           Case{"127.0.0.1:443", 2, CertMatch::Kind::kAddress},
           Case{"[::ffff:127.0.0.1]:8443", 3, CertMatch::Kind::kAddressAndPort},
           Case{"[::ffff:127.0.0.1]:9", 2, CertMatch::Kind::kAddress},
           Case{"[::1]:443", 4, CertMatch::Kind::kAddressAndPort},
           Case{"[::1]:444", 1, CertMatch::Kind::kDefault},
           Case{"10.0.0.1:8443", 1, CertMatch::Kind::kDefault},
       }) {
    std::optional<CertMatch> match = t.Lookup("unknown.test", Endpoint(c.local));
    ASSERT_TRUE(match.has_value()) << c.local;
    EXPECT_EQ(match->entry->line, c.line) << c.local;
    EXPECT_EQ(match->kind, c.kind) << c.local << ": " << CertMatchKindName(match->kind);
  }
  // A name match beats any address.
  std::optional<CertMatch> match = t.Lookup("port.pem", Endpoint("[::1]:443"));
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->entry->line, 3);
  EXPECT_EQ(match->kind, CertMatch::Kind::kExactName);
}

TEST_F(CertTableTest, UnknownNameWithoutDefaultMatchesNothing) {
  WriteCert("a.pem", MakeTestCert({.common_name = "a.test"}));
  absl::StatusOr<std::shared_ptr<const CertTable>> table =
      ParseConfig("ssl_cert_name=a.pem ssl_key_name=a.pem.key dest_ip=10.1.1.1\n");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_FALSE((*table)->Lookup("b.test", Endpoint("127.0.0.1:443")).has_value());
  EXPECT_FALSE((*table)->Lookup("", IpEndpoint()).has_value());
}

TEST_F(CertTableTest, UnknownNameWithDefaultGetsTheDefault) {
  WriteCert("a.pem", MakeTestCert({.common_name = "a.test"}));
  WriteCert("default.pem", MakeTestCert({.common_name = "default.test"}));
  absl::StatusOr<std::shared_ptr<const CertTable>> table = ParseConfig(
      "ssl_cert_name=a.pem ssl_key_name=a.pem.key\n"
      "ssl_cert_name=default.pem ssl_key_name=default.pem.key dest_ip=*\n");
  ASSERT_TRUE(table.ok()) << table.status();
  for (const char* sni : {"b.test", ""}) {
    std::optional<CertMatch> match = (*table)->Lookup(sni, Endpoint("127.0.0.1:443"));
    ASSERT_TRUE(match.has_value()) << sni;
    EXPECT_EQ(match->entry->line, 2);
    EXPECT_EQ(match->kind, CertMatch::Kind::kDefault);
  }
}

// --- Tunnel entries ------------------------------------------------------------------------------

TEST_F(CertTableTest, TunnelEntryWithoutCertificateIsReturnedByLookup) {
  WriteCert("a.pem", MakeTestCert({.common_name = "a.test"}));
  absl::StatusOr<std::shared_ptr<const CertTable>> table = ParseConfig(
      "ssl_cert_name=a.pem ssl_key_name=a.pem.key dest_ip=*\n"
      "dest_ip=10.0.0.7:443 action=tunnel\n"
      "ssl_cert_name=a.pem ssl_key_name=a.pem.key dest_ip=10.0.0.8 action=tunnel\n");
  ASSERT_TRUE(table.ok()) << table.status();
  std::optional<CertMatch> match = (*table)->Lookup("other.test", Endpoint("10.0.0.7:443"));
  ASSERT_TRUE(match.has_value());
  EXPECT_TRUE(match->entry->tunnel);
  EXPECT_EQ(match->kind, CertMatch::Kind::kAddressAndPort);
  EXPECT_EQ(match->entry->ChooseContext(true), nullptr);
  EXPECT_EQ(match->entry->Describe(),
            "line 2: (no names) (no certificate) "
            "dest_ip=10.0.0.7:443 action=tunnel");

  match = (*table)->Lookup("", Endpoint("10.0.0.8:1"));
  ASSERT_TRUE(match.has_value());
  EXPECT_TRUE(match->entry->tunnel);
  EXPECT_NE(match->entry->ChooseContext(true), nullptr);

  match = (*table)->Lookup("", Endpoint("10.0.0.7:444"));
  ASSERT_TRUE(match.has_value());
  EXPECT_FALSE(match->entry->tunnel);
  EXPECT_EQ(match->kind, CertMatch::Kind::kDefault);
}

// --- Plugin API lookups --------------------------------------------------------------------------

TEST_F(CertTableTest, FindByNameAndFindByAddrReturnTheEntryContexts) {
  WriteCert("a.pem", MakeTestCert({.common_name = "a.test", .dns_names = {"*.w.test"}}));
  WriteCert("b.pem", MakeTestCert({.common_name = "b.test"}));
  absl::StatusOr<std::shared_ptr<const CertTable>> table = ParseConfig(
      "ssl_cert_name=a.pem ssl_key_name=a.pem.key dest_ip=192.0.2.1\n"
      "ssl_cert_name=b.pem ssl_key_name=b.pem.key dest_ip=192.0.2.1:443\n"
      "dest_ip=192.0.2.9 action=tunnel\n");
  ASSERT_TRUE(table.ok()) << table.status();
  const CertTable& t = **table;
  SSL_CTX* a = t.entries()[0]->ecdsa_ctx.get();
  SSL_CTX* b = t.entries()[1]->ecdsa_ctx.get();
  EXPECT_EQ(t.FindByName("a.test"), a);
  EXPECT_EQ(t.FindByName("A.TEST"), a);
  EXPECT_EQ(t.FindByName("x.w.test"), a);
  EXPECT_EQ(t.FindByName("b.test"), b);
  EXPECT_EQ(t.FindByName(""), nullptr);
  EXPECT_EQ(t.FindByName("c.test"), nullptr);
  EXPECT_EQ(t.FindByAddr(Endpoint("192.0.2.1:443")), b);
  EXPECT_EQ(t.FindByAddr(Endpoint("192.0.2.1:80")), a);
  EXPECT_EQ(t.FindByAddr(Endpoint("192.0.2.2:443")), nullptr);
  EXPECT_EQ(t.FindByAddr(Endpoint("192.0.2.9:443")), nullptr);
  EXPECT_EQ(t.FindByAddr(IpEndpoint()), nullptr);
}

// --- In-memory entries ---------------------------------------------------------------------------

TEST(CertTableBuilderTest, InMemoryCertificatesBuildATableLikeTheConfigDoes) {
  TestCert ec = MakeTestCert({.common_name = "builtin.test"});
  TestCert rsa = MakeTestCert({.key_type = KeyType::kRsa2048, .common_name = "builtin.test"});
  int configured = 0;
  CertTable::Builder builder(CertTableOptions{.configure_ctx = [&configured](SSL_CTX*) {
    ++configured;
    return absl::OkStatus();
  }});
  CertTable::EntrySpec spec;
  spec.certs.push_back({.leaf = std::move(rsa.cert), .key = std::move(rsa.key)});
  spec.certs.push_back({.leaf = std::move(ec.cert), .key = std::move(ec.key)});
  spec.dest_ips.push_back(DestIp::Any());
  ASSERT_TRUE(builder.Add(std::move(spec)).ok());

  // A failed Add leaves the builder unchanged.
  TestCert other = MakeTestCert({.common_name = "other.test"});
  TestCert stranger = MakeTestCert({.common_name = "stranger.test"});
  CertTable::EntrySpec bad;
  bad.certs.push_back({.leaf = std::move(other.cert), .key = std::move(stranger.key)});
  bad.dest_ips.push_back(DestIp::Any());
  absl::Status status = builder.Add(std::move(bad));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "private key does not match certificate 1");

  absl::StatusOr<std::shared_ptr<const CertTable>> table = std::move(builder).Build();
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ((*table)->size(), 1u);
  EXPECT_EQ(configured, 2);
  EXPECT_THAT((*table)->Describe(),
              ElementsAre("built-in: builtin.test (ECDSA P-256 + RSA 2048) dest_ip=*"));
  std::optional<CertMatch> match = (*table)->Lookup("", IpEndpoint());
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->kind, CertMatch::Kind::kDefault);
}

TEST(DestIpTest, ParsesEveryFormAndPrintsItBack) {
  for (const char* text : {"*", "1.2.3.4", "1.2.3.4:443", "2001:db8::1", "[2001:db8::1]:443"}) {
    absl::StatusOr<DestIp> dest_ip = DestIp::Parse(text);
    ASSERT_TRUE(dest_ip.ok()) << text << ": " << dest_ip.status();
    EXPECT_EQ(dest_ip->ToString(), text);
  }
  absl::StatusOr<DestIp> bracketed = DestIp::Parse("[::1]");
  ASSERT_TRUE(bracketed.ok());
  EXPECT_EQ(bracketed->kind(), DestIp::Kind::kAddress);
  EXPECT_EQ(bracketed->ToString(), "::1");
  for (const char* bad : {"", "1.2.3", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:x", "[::1]x", "host",
                          "[::1]:65536", "fe80::1%eth0"}) {
    EXPECT_FALSE(DestIp::Parse(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace tollgate
