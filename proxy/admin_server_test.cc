// AdminServer over real loopback sockets, and the /stats document it serves (stats_json.h).

#include "proxy/admin_server.h"

#include <atomic>
#include <cctype>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "iocore/eventsystem/event_processor.h"
#include "iocore/eventsystem/stats.h"
#include "iocore/net/net_processor.h"
#include "proxy/stats_json.h"
#include "proxy/test_http_client.h"
#include "tests/util/wait.h"

namespace tollgate {
namespace {

using test_util::TestHttpClient;

// JsonChecker accepts exactly the texts that are one valid JSON value (RFC 8259), and collects
// the keys of the top-level object and of the objects directly inside it ("stats.name").
class JsonChecker {
 public:
  explicit JsonChecker(absl::string_view text) : text_(text) {}

  bool Valid() {
    SkipSpace();
    if (!Value(0, "")) return false;
    SkipSpace();
    return pos_ == text_.size();
  }

  const std::vector<std::string>& keys() const { return keys_; }

 private:
  bool Value(int depth, const std::string& path) {
    if (depth > 64 || pos_ >= text_.size()) return false;
    switch (text_[pos_]) {
      case '{':
        return Object(depth, path);
      case '[':
        return Array(depth, path);
      case '"':
        return String(nullptr);
      case 't':
        return Literal("true");
      case 'f':
        return Literal("false");
      case 'n':
        return Literal("null");
      default:
        return Number();
    }
  }

  bool Object(int depth, const std::string& path) {
    ++pos_;
    SkipSpace();
    if (Peek('}')) return ++pos_, true;
    for (;;) {
      std::string key;
      SkipSpace();
      if (!String(&key)) return false;
      std::string full = path.empty() ? key : absl::StrCat(path, ".", key);
      if (depth <= 1) keys_.push_back(full);
      SkipSpace();
      if (!Peek(':')) return false;
      ++pos_;
      SkipSpace();
      if (!Value(depth + 1, full)) return false;
      SkipSpace();
      if (Peek('}')) return ++pos_, true;
      if (!Peek(',')) return false;
      ++pos_;
    }
  }

  bool Array(int depth, const std::string& path) {
    ++pos_;
    SkipSpace();
    if (Peek(']')) return ++pos_, true;
    for (;;) {
      SkipSpace();
      if (!Value(depth + 1, path)) return false;
      SkipSpace();
      if (Peek(']')) return ++pos_, true;
      if (!Peek(',')) return false;
      ++pos_;
    }
  }

  bool String(std::string* out) {
    if (!Peek('"')) return false;
    ++pos_;
    while (pos_ < text_.size()) {
      unsigned char c = static_cast<unsigned char>(text_[pos_++]);
      if (c == '"') return true;
      if (c < 0x20) return false;
      if (c == '\\') {
        if (pos_ >= text_.size()) return false;
        char e = text_[pos_++];
        if (e == 'u') {
          for (int i = 0; i < 4; ++i) {
            if (pos_ >= text_.size() || !std::isxdigit(static_cast<unsigned char>(text_[pos_]))) {
              return false;
            }
            ++pos_;
          }
          if (out != nullptr) out->push_back('?');
          continue;
        }
        if (absl::string_view("\"\\/bfnrt").find(e) == absl::string_view::npos) return false;
        if (out != nullptr) out->push_back(e);
        continue;
      }
      if (out != nullptr) out->push_back(static_cast<char>(c));
    }
    return false;
  }

  bool Number() {
    size_t start = pos_;
    if (Peek('-')) ++pos_;
    if (Peek('0')) {
      ++pos_;
    } else if (!Digits()) {
      return false;
    }
    if (Peek('.')) {
      ++pos_;
      if (!Digits()) return false;
    }
    if (Peek('e') || Peek('E')) {
      ++pos_;
      if (Peek('+') || Peek('-')) ++pos_;
      if (!Digits()) return false;
    }
    return pos_ > start;
  }

  bool Digits() {
    size_t start = pos_;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    return pos_ > start;
  }

  bool Literal(absl::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  bool Peek(char c) const { return pos_ < text_.size() && text_[pos_] == c; }

  void SkipSpace() {
    while (pos_ < text_.size() &&
           absl::string_view(" \t\r\n").find(text_[pos_]) != absl::string_view::npos) {
      ++pos_;
    }
  }

  absl::string_view text_;
  size_t pos_ = 0;
  std::vector<std::string> keys_;
};

bool HasKey(const std::vector<std::string>& keys, absl::string_view key) {
  for (const std::string& k : keys) {
    if (k == key) return true;
  }
  return false;
}

class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ep_.Start({.net_threads = 1,
                           .task_threads = 0,
                           .net_thread_init = [this](EThread& t) { net_.InitThread(t); }})
                    .ok());
    admin_ = std::make_unique<AdminServer>(AdminServer::Handlers{
        .stats_json = [] { return BuildStatsJson(); },
        .healthy = [this] { return healthy_.load(); },
    });
    absl::StatusOr<IpEndpoint> bound = admin_->Listen(net_, IpEndpoint::Loopback(AF_INET, 0));
    ASSERT_TRUE(bound.ok()) << bound.status();
    addr_ = *bound;
  }

  void TearDown() override {
    ep_.Shutdown();
    admin_.reset();
  }

  std::unique_ptr<TestHttpClient> Connect() {
    absl::StatusOr<std::unique_ptr<TestHttpClient>> client = TestHttpClient::Connect(addr_);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  absl::StatusOr<TestHttpClient::Response> Get(TestHttpClient& client, absl::string_view target,
                                               absl::string_view method = "GET") {
    if (absl::Status s =
            client.Send(absl::StrCat(method, " ", target, " HTTP/1.1\r\nHost: admin\r\n\r\n"));
        !s.ok()) {
      return s;
    }
    return client.ReadResponse(method);
  }

  std::atomic<bool> healthy_{true};
  NetProcessor net_;
  EventProcessor ep_;
  std::unique_ptr<AdminServer> admin_;
  IpEndpoint addr_;
};

TEST_F(AdminServerTest, HealthzFollowsTheHealthyHandlerOnOneKeptAliveConnection) {
  std::unique_ptr<TestHttpClient> client = Connect();
  ASSERT_NE(client, nullptr);
  absl::StatusOr<TestHttpClient::Response> r = Get(*client, "/healthz");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->head.status_code, 200);
  EXPECT_EQ(r->body, "ok\n");
  EXPECT_EQ(r->head.headers.Get("Server").value_or(""), "tollgate-admin");

  healthy_ = false;
  r = Get(*client, "/healthz?probe=lb");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->head.status_code, 503);
  EXPECT_EQ(r->body, "draining\n");

  healthy_ = true;
  r = Get(*client, "/healthz");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->head.status_code, 200);
}

TEST_F(AdminServerTest, StatsIsValidJsonWithTheDocumentedGroups) {
  // A stat with a name that needs no escaping but proves registered stats show up.
  absl::StatusOr<StatId> id =
      GlobalStats().Register("proxy.process.admin_test.marker", StatKind::kCounter);
  ASSERT_TRUE(id.ok()) << id.status();
  GlobalStats().Add(*id, 42);

  std::unique_ptr<TestHttpClient> client = Connect();
  ASSERT_NE(client, nullptr);
  absl::StatusOr<TestHttpClient::Response> r = Get(*client, "/stats");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->head.status_code, 200);
  EXPECT_EQ(r->head.headers.Get("Content-Type").value_or(""), "application/json");
  JsonChecker json(r->body);
  ASSERT_TRUE(json.Valid()) << r->body;
  for (absl::string_view key :
       {"version", "uptime_s", "stats", "derived", "derived.tls_resumption_rate",
        "stats.proxy.process.admin_test.marker"}) {
    EXPECT_TRUE(HasKey(json.keys(), key)) << key << " in " << r->body;
  }
  EXPECT_TRUE(absl::StrContains(r->body, "\"proxy.process.admin_test.marker\":42")) << r->body;
  EXPECT_TRUE(absl::StrContains(r->body, absl::StrCat("\"version\":\"", kTollgateVersion, "\"")));

  // HEAD: the same head, no body.
  absl::StatusOr<TestHttpClient::Response> head = Get(*client, "/stats", "HEAD");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->head.status_code, 200);
  EXPECT_EQ(head->body_bytes, 0u);
}

TEST_F(AdminServerTest, UnknownPathIs404AndOtherMethodsAre405) {
  std::unique_ptr<TestHttpClient> client = Connect();
  ASSERT_NE(client, nullptr);
  absl::StatusOr<TestHttpClient::Response> r = Get(*client, "/");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->head.status_code, 404);
  r = Get(*client, "/statsx");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->head.status_code, 404);
  for (absl::string_view method : {"POST", "DELETE", "PUT"}) {
    r = Get(*client, "/healthz", method);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->head.status_code, 405) << method;
    EXPECT_EQ(r->head.headers.Get("Allow").value_or(""), "GET, HEAD");
  }
  // Still the same connection: none of these closed it.
  r = Get(*client, "/healthz");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->head.status_code, 200);
}

TEST_F(AdminServerTest, MalformedRequestIsAnswered400AndClosed) {
  std::unique_ptr<TestHttpClient> client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send("GET /stats HTTP/1.1\r\n\r\n").ok());  // HTTP/1.1 without Host
  absl::StatusOr<TestHttpClient::Response> r = client->ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->head.status_code, 400);
  absl::StatusOr<std::string> rest = client->ReadToEof();
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(*rest, "");
}

TEST(AdminServerHandlers, EmptyHandlersServeAnEmptyObjectAndHealthy) {
  NetProcessor net;
  EventProcessor ep;
  ASSERT_TRUE(
      ep.Start({.net_threads = 1, .net_thread_init = [&net](EThread& t) { net.InitThread(t); }})
          .ok());
  auto admin = std::make_unique<AdminServer>(AdminServer::Handlers{});
  absl::StatusOr<IpEndpoint> bound = admin->Listen(net, IpEndpoint::Loopback(AF_INET, 0));
  ASSERT_TRUE(bound.ok()) << bound.status();
  absl::StatusOr<std::unique_ptr<TestHttpClient>> client = TestHttpClient::Connect(*bound);
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)
                  ->Send("GET /stats HTTP/1.1\r\nHost: a\r\n\r\n"
                         "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
                  .ok());
  absl::StatusOr<TestHttpClient::Response> stats = (*client)->ReadResponse();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->body, "{}");
  absl::StatusOr<TestHttpClient::Response> health = (*client)->ReadResponse();
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(health->head.status_code, 200);
  ep.Shutdown();
  admin.reset();
}

TEST(StatsJson, FormatsGroupsEscapesNamesAndDerivesTheResumptionRate) {
  std::vector<StatSnapshotEntry> stats = {
      {.name = "proxy.process.ssl.handshakes_ok", .kind = StatKind::kCounter, .value = 8},
      {.name = "proxy.process.ssl.resumed", .kind = StatKind::kCounter, .value = 2},
      {.name = "odd\"name\\x", .kind = StatKind::kGauge, .value = -3},
  };
  std::string json = FormatStatsJson(stats, "1.2\"3", 17);
  EXPECT_EQ(json,
            "{\"version\":\"1.2\\\"3\",\"uptime_s\":17,\"stats\":{"
            "\"proxy.process.ssl.handshakes_ok\":8,\"proxy.process.ssl.resumed\":2,"
            "\"odd\\\"name\\\\x\":-3},\"derived\":{\"tls_resumption_rate\":0.25}}");
  EXPECT_TRUE(JsonChecker(json).Valid());
}

TEST(StatsJson, ResumptionRateIsZeroBeforeAnyHandshakeAndTheDocumentIsValidWhenEmpty) {
  std::string json = FormatStatsJson({}, "v", 0);
  EXPECT_EQ(json,
            "{\"version\":\"v\",\"uptime_s\":0,\"stats\":{},"
            "\"derived\":{\"tls_resumption_rate\":0}}");
  EXPECT_TRUE(JsonChecker(json).Valid());
}

TEST(StatsJson, ControlCharactersAreEscaped) {
  std::string json = FormatStatsJson({}, std::string("a\x01\n", 3), 0);
  EXPECT_TRUE(absl::StrContains(json, "\"a\\u0001\\u000a\"")) << json;
  EXPECT_TRUE(JsonChecker(json).Valid());
}

TEST(StatsJson, BuildStatsJsonIsValidJson) {
  EXPECT_TRUE(JsonChecker(BuildStatsJson()).Valid());
  EXPECT_GE(ProcessUptimeSeconds(), 0);
}

}  // namespace
}  // namespace tollgate
