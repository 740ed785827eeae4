#include "tools/tls_bench/raw_tls13_client.h"

#include <openssl/aead.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tools/tls_bench/bench_certs.h"

namespace tollgate::tls_bench {
namespace {

// A libssl server on one end of an in-memory BIO pair; the test is the network between it and
// a RawTls13Client.
class MemoryServer {
 public:
  explicit MemoryServer(const BenchCert& cert) : ctx_(SSL_CTX_new(TLS_method())) {
    EXPECT_TRUE(SSL_CTX_use_certificate(ctx_.get(), cert.cert.get()));
    EXPECT_TRUE(SSL_CTX_use_PrivateKey(ctx_.get(), cert.key.get()));
    EXPECT_TRUE(SSL_CTX_set_max_proto_version(ctx_.get(), TLS1_3_VERSION));
    SSL_CTX_set_keylog_callback(ctx_.get(), [](const SSL* ssl, const char* line) {
      static_cast<MemoryServer*>(SSL_get_app_data(ssl))->keylog_.push_back(line);
    });
    BIO* inner = nullptr;
    BIO* outer = nullptr;
    EXPECT_TRUE(BIO_new_bio_pair(&inner, 0, &outer, 0));
    net_.reset(outer);
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set_bio(ssl_.get(), inner, inner);
    SSL_set_accept_state(ssl_.get());
    SSL_set_app_data(ssl_.get(), this);
  }

  SSL* ssl() { return ssl_.get(); }

  // Deliver hands everything |client| queued to the server and lets it run its handshake.
  void Deliver(RawTls13Client* client) {
    size_t n = client->output_size();
    if (n > 0) {
      ASSERT_EQ(BIO_write(net_.get(), client->output(), static_cast<int>(n)), static_cast<int>(n));
      client->ConsumeOutput(n);
    }
    SSL_do_handshake(ssl_.get());
  }

  // TakeOutput returns every byte the server has written so far.
  std::vector<uint8_t> TakeOutput() {
    std::vector<uint8_t> out;
    uint8_t buf[4096];
    for (int i = 0; i < 1000; ++i) {
      int n = BIO_read(net_.get(), buf, sizeof(buf));
      if (n <= 0) break;
      out.insert(out.end(), buf, buf + n);
    }
    return out;
  }

  // Secret returns the hex secret of the key-log line labelled |label| ("" if none).
  std::string Secret(const std::string& label) const {
    for (const std::string& line : keylog_) {
      if (line.rfind(label + " ", 0) == 0) return line.substr(line.rfind(' ') + 1);
    }
    return "";
  }

 private:
  bssl::UniquePtr<SSL_CTX> ctx_;
  bssl::UniquePtr<BIO> net_;
  bssl::UniquePtr<SSL> ssl_;
  std::vector<std::string> keylog_;
};

BenchCert Cert(BenchKeyType type, const char* name) {
  absl::StatusOr<BenchCert> cert = MakeSelfSigned(type, name);
  EXPECT_TRUE(cert.ok()) << cert.status();
  return std::move(*cert);
}

RawClientConfig Config(bool rsa) {
  absl::StatusOr<RawClientConfig> config = NewRawClientConfig("a.test", rsa);
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

RawState FeedBytewise(RawTls13Client* client, const std::vector<uint8_t>& bytes) {
  for (uint8_t b : bytes) client->Receive(&b, 1);
  return client->state();
}

// Runs the client through a handshake, an echo of |request| and close_notify both ways against
// |server|, delivering every server byte separately.
void HandshakeEchoAndClose(RawTls13Client* client, MemoryServer* server, size_t request) {
  ASSERT_EQ(client->Start(), RawState::kWaitServerHello);
  server->Deliver(client);
  ASSERT_EQ(FeedBytewise(client, server->TakeOutput()), RawState::kConnected) << client->error();
  server->Deliver(client);  // the client Finished
  ASSERT_EQ(SSL_do_handshake(server->ssl()), 1);

  std::vector<uint8_t> data(request);
  for (size_t i = 0; i < request; ++i) data[i] = static_cast<uint8_t>(i * 7);
  ASSERT_TRUE(client->WriteApplicationData(data.data(), data.size()));
  server->Deliver(client);
  std::vector<uint8_t> got(request + 1);
  size_t have = 0;
  for (int i = 0; i < 100 && have < request; ++i) {
    int n = SSL_read(server->ssl(), got.data() + have, static_cast<int>(got.size() - have));
    if (n <= 0) break;
    have += static_cast<size_t>(n);
  }
  ASSERT_EQ(have, request);
  ASSERT_EQ(std::memcmp(got.data(), data.data(), request), 0);
  ASSERT_EQ(SSL_write(server->ssl(), got.data(), static_cast<int>(request)),
            static_cast<int>(request));
  EXPECT_EQ(FeedBytewise(client, server->TakeOutput()), RawState::kConnected) << client->error();
  EXPECT_EQ(client->app_bytes_received(), static_cast<int64_t>(request));

  ASSERT_TRUE(client->SendCloseNotify());
  EXPECT_FALSE(client->WriteApplicationData(data.data(), 1));
  server->Deliver(client);
  uint8_t byte;
  EXPECT_EQ(SSL_read(server->ssl(), &byte, 1), 0);  // the server saw close_notify
  EXPECT_EQ(SSL_get_error(server->ssl(), 0), SSL_ERROR_ZERO_RETURN);
  SSL_shutdown(server->ssl());
  EXPECT_EQ(FeedBytewise(client, server->TakeOutput()), RawState::kPeerClosed) << client->error();
}

TEST(RawTls13ClientTest, CompletesEcdsaHandshakeEchoAndCloseFedOneByteAtATime) {
  BenchCert cert = Cert(BenchKeyType::kEcdsaP256, "a.test");
  RawClientConfig config = Config(false);
  MemoryServer server(cert);
  RawTls13Client client(&config);
  HandshakeEchoAndClose(&client, &server, 64);
  EXPECT_EQ(SSL_get_curve_id(server.ssl()), SSL_CURVE_X25519);
  EXPECT_EQ(SSL_get_peer_signature_algorithm(server.ssl()), 0);  // no client certificate
}

TEST(RawTls13ClientTest, EchoesMoreThanOneRecordOfApplicationData) {
  BenchCert cert = Cert(BenchKeyType::kEcdsaP256, "a.test");
  RawClientConfig config = Config(false);
  MemoryServer server(cert);
  RawTls13Client client(&config);
  HandshakeEchoAndClose(&client, &server, 16384 + 100);
}

TEST(RawTls13ClientTest, ReassemblesRsaHandshakeMessagesSpanningSmallRecords) {
  BenchCert cert = Cert(BenchKeyType::kRsa2048, "rsa.test");
  RawClientConfig config = Config(true);
  MemoryServer server(cert);
  ASSERT_TRUE(SSL_set_max_send_fragment(server.ssl(), 512));  // the Certificate spans records
  RawTls13Client client(&config);
  HandshakeEchoAndClose(&client, &server, 64);
}

TEST(RawTls13ClientTest, SeveralConnectionsShareOneConfig) {
  BenchCert cert = Cert(BenchKeyType::kEcdsaP256, "a.test");
  RawClientConfig config = Config(false);
  for (int i = 0; i < 3; ++i) {
    MemoryServer server(cert);
    RawTls13Client client(&config);
    HandshakeEchoAndClose(&client, &server, 10);
  }
}

TEST(RawTls13ClientTest, RsaOnlyOfferAgainstEcdsaOnlyServerFailsWithTheServersAlert) {
  BenchCert cert = Cert(BenchKeyType::kEcdsaP256, "a.test");
  RawClientConfig config = Config(true);
  MemoryServer server(cert);
  RawTls13Client client(&config);
  client.Start();
  server.Deliver(&client);
  std::vector<uint8_t> reply = server.TakeOutput();
  EXPECT_EQ(client.Receive(reply.data(), reply.size()), RawState::kFailed);
  EXPECT_NE(client.error().find("handshake_failure"), std::string::npos) << client.error();
}

// Decrypts the server's first encrypted flight with the logged handshake secret, flips a bit of
// the Finished verify_data, and seals the records again: the records are authentic, only the
// MAC is wrong.
TEST(RawTls13ClientTest, WrongServerFinishedMacIsAConnectionError) {
  BenchCert cert = Cert(BenchKeyType::kEcdsaP256, "a.test");
  RawClientConfig config = Config(false);
  MemoryServer server(cert);
  RawTls13Client client(&config);
  client.Start();
  server.Deliver(&client);
  std::vector<uint8_t> flight = server.TakeOutput();
  std::string hex = server.Secret("SERVER_HANDSHAKE_TRAFFIC_SECRET");
  ASSERT_EQ(hex.size(), 64u);
  uint8_t secret[32];
  for (int i = 0; i < 32; ++i) secret[i] = std::stoi(hex.substr(2 * i, 2), nullptr, 16);
  uint8_t key[16], iv[12];
  ASSERT_TRUE(HkdfExpandLabel(secret, 32, "key", nullptr, 0, key, 16));
  ASSERT_TRUE(HkdfExpandLabel(secret, 32, "iv", nullptr, 0, iv, 12));
  bssl::ScopedEVP_AEAD_CTX aead;
  ASSERT_TRUE(EVP_AEAD_CTX_init(aead.get(), EVP_aead_aes_128_gcm(), key, 16, 16, nullptr));

  bool tampered = false;
  uint64_t seq = 0;
  for (size_t at = 0; at + 5 <= flight.size() && !tampered;) {
    uint8_t* header = flight.data() + at;
    size_t len = (header[3] << 8) | header[4];
    ASSERT_LE(at + 5 + len, flight.size());
    if (header[0] == 23) {
      uint8_t nonce[12];
      std::memcpy(nonce, iv, 12);
      for (int i = 0; i < 8; ++i) nonce[11 - i] ^= static_cast<uint8_t>(seq >> (8 * i));
      ++seq;
      std::vector<uint8_t> plain(len);
      size_t plain_len = 0;
      ASSERT_TRUE(EVP_AEAD_CTX_open(aead.get(), plain.data(), &plain_len, plain.size(), nonce, 12,
                                    header + 5, len, header, 5));
      // Handshake messages of this record (inner type last, no padding from BoringSSL).
      for (size_t m = 0; m + 4 <= plain_len - 1;) {
        size_t body = (plain[m + 1] << 16) | (plain[m + 2] << 8) | plain[m + 3];
        if (plain[m] == 20 && body == 32) {
          plain[m + 4] ^= 0x01;
          tampered = true;
        }
        m += 4 + body;
      }
      size_t sealed_len = 0;
      ASSERT_TRUE(EVP_AEAD_CTX_seal(aead.get(), header + 5, &sealed_len, len, nonce, 12,
                                    plain.data(), plain_len, header, 5));
      ASSERT_EQ(sealed_len, len);
    }
    at += 5 + len;
  }
  ASSERT_TRUE(tampered);
  EXPECT_EQ(client.Receive(flight.data(), flight.size()), RawState::kFailed);
  EXPECT_NE(client.error().find("Finished does not match"), std::string::npos) << client.error();
  EXPECT_EQ(client.output_size(), 0u);  // no client Finished
}

// Every single-bit change of the server's flight makes the handshake fail (or wait for bytes
// that never come), except in the plaintext record headers' legacy version byte, which TLS 1.3
// ignores. Each position gets a fresh handshake; ASan checks every byte read.
TEST(RawTls13ClientTest, EveryTamperedByteOfTheServerFlightIsRejected) {
  BenchCert cert = Cert(BenchKeyType::kEcdsaP256, "a.test");
  RawClientConfig config = Config(false);
  int failed = 0;
  for (size_t pos = 0; pos < 4000; ++pos) {
    MemoryServer server(cert);
    RawTls13Client client(&config);
    client.Start();
    server.Deliver(&client);
    std::vector<uint8_t> flight = server.TakeOutput();
    if (pos >= flight.size()) break;
    std::set<size_t> ignored;
    for (size_t at = 0; at + 5 <= flight.size();) {
      if (flight[at] != 23) ignored.insert(at + 2);
      at += 5 + ((flight[at + 3] << 8) | flight[at + 4]);
    }
    flight[pos] ^= static_cast<uint8_t>(1u << (pos % 8));
    RawState state = client.Receive(flight.data(), flight.size());
    if (state == RawState::kConnected) {
      EXPECT_TRUE(ignored.count(pos)) << "tampered byte " << pos << " went unnoticed";
    }
    if (state == RawState::kFailed) ++failed;
  }
  EXPECT_GT(failed, 500);
}

TEST(RawTls13ClientTest, GarbageAndTruncatedInputFailCleanly) {
  RawClientConfig config = Config(false);
  {
    RawTls13Client client(&config);
    client.Start();
    const char http[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
    EXPECT_EQ(client.Receive(reinterpret_cast<const uint8_t*>(http), sizeof(http) - 1),
              RawState::kFailed);
    EXPECT_NE(client.error().find("not a TLS record"), std::string::npos) << client.error();
  }
  {
    RawTls13Client client(&config);
    client.Start();
    const uint8_t huge[] = {22, 3, 3, 0xff, 0xff};
    EXPECT_EQ(client.Receive(huge, sizeof(huge)), RawState::kFailed);
  }
  {
    RawTls13Client client(&config);
    client.Start();
    // A 10-byte ServerHello split over two records: whole, but far too short.
    const uint8_t hello[] = {22, 3, 3, 0, 6, 2, 0, 0, 10, 3, 3};
    EXPECT_EQ(client.Receive(hello, sizeof(hello)), RawState::kWaitServerHello);
    const uint8_t junk[] = {22, 3, 3, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_EQ(client.Receive(junk, sizeof(junk)), RawState::kFailed);
    EXPECT_NE(client.error().find("malformed ServerHello"), std::string::npos) << client.error();
  }
  {
    RawTls13Client client(&config);
    client.Start();
    const uint8_t oversized[] = {22, 3, 3, 0, 4, 2, 0xff, 0xff, 0xff};
    EXPECT_EQ(client.Receive(oversized, sizeof(oversized)), RawState::kFailed);
  }
  {
    RawTls13Client client(&config);
    EXPECT_EQ(client.Receive(reinterpret_cast<const uint8_t*>("x"), 1), RawState::kFailed);
    EXPECT_FALSE(client.WriteApplicationData(reinterpret_cast<const uint8_t*>("x"), 1));
    EXPECT_FALSE(client.SendCloseNotify());
  }
}

TEST(RawTls13ClientTest, HelloRetryRequestIsAConnectionError) {
  RawClientConfig config = Config(false);
  RawTls13Client client(&config);
  client.Start();
  // The legacy_session_id the client sent: ClientHello record header 5, message header 4,
  // version 2, random 32, session id length 1.
  std::vector<uint8_t> session_id(client.output() + 44, client.output() + 76);
  std::vector<uint8_t> hello = {2, 0, 0, 0, 3, 3};
  const uint8_t hrr_random[32] = {0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
                                  0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
                                  0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};
  hello.insert(hello.end(), hrr_random, hrr_random + 32);
  hello.push_back(32);
  hello.insert(hello.end(), session_id.begin(), session_id.end());
  const uint8_t rest[] = {0x13, 0x01, 0, 0, 12, 0, 43, 0, 2, 3, 4, 0, 51, 0, 2, 0, 0x17};
  hello.insert(hello.end(), rest, rest + sizeof(rest));
  hello[3] = static_cast<uint8_t>(hello.size() - 4);
  std::vector<uint8_t> record = {22, 3, 3, 0, static_cast<uint8_t>(hello.size())};
  record.insert(record.end(), hello.begin(), hello.end());
  EXPECT_EQ(client.Receive(record.data(), record.size()), RawState::kFailed);
  EXPECT_NE(client.error().find("HelloRetryRequest"), std::string::npos) << client.error();
}

TEST(RawTls13ClientTest, NewRawClientConfigRejectsAServerNameLongerThan255Bytes) {
  EXPECT_FALSE(NewRawClientConfig(std::string(256, 'a'), false).ok());
  EXPECT_TRUE(NewRawClientConfig(std::string(255, 'a'), false).ok());
}

}  // namespace
}  // namespace tollgate::tls_bench
