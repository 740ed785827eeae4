#include "proxy/http/http_proxy.h"

#include "absl/strings/str_cat.h"
#include "proxy/http/http_session.h"

namespace tollgate {
namespace {

// Generations are unique across HttpProxy instances, so that a thread's cached rules can never
// be mistaken for another instance's.
uint64_t NextRemapGeneration() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

absl::string_view OrDash(absl::string_view s) { return s.empty() ? "-" : s; }

}  // namespace

const char* HttpSchemeName(HttpScheme scheme) {
  return scheme == HttpScheme::kHttps ? "https" : "http";
}

const HttpStats& HttpStats::Get() {
  static const HttpStats stats{
      .client_sessions_total =
          RegisterFixedStat("proxy.process.http.client_sessions_total", StatKind::kCounter),
      .client_sessions_active =
          RegisterFixedStat("proxy.process.http.client_sessions_active", StatKind::kGauge),
      .requests_total = RegisterFixedStat("proxy.process.http.requests_total", StatKind::kCounter),
      .responses_2xx = RegisterFixedStat("proxy.process.http.responses_2xx", StatKind::kCounter),
      .responses_3xx = RegisterFixedStat("proxy.process.http.responses_3xx", StatKind::kCounter),
      .responses_4xx = RegisterFixedStat("proxy.process.http.responses_4xx", StatKind::kCounter),
      .responses_5xx = RegisterFixedStat("proxy.process.http.responses_5xx", StatKind::kCounter),
      .errors_400 = RegisterFixedStat("proxy.process.http.errors.bad_request", StatKind::kCounter),
      .errors_404 = RegisterFixedStat("proxy.process.http.errors.no_remap", StatKind::kCounter),
      .errors_502 =
          RegisterFixedStat("proxy.process.http.errors.origin_unreachable", StatKind::kCounter),
      .errors_504 =
          RegisterFixedStat("proxy.process.http.errors.origin_timeout", StatKind::kCounter),
      .aborted = RegisterFixedStat("proxy.process.http.transactions_aborted", StatKind::kCounter),
      .client_bytes_in =
          RegisterFixedStat("proxy.process.http.client_bytes_in", StatKind::kCounter),
      .client_bytes_out =
          RegisterFixedStat("proxy.process.http.client_bytes_out", StatKind::kCounter),
      .origin_connections_opened =
          RegisterFixedStat("proxy.process.http.origin_connections_opened", StatKind::kCounter),
      .origin_connect_failures =
          RegisterFixedStat("proxy.process.http.origin_connect_failures", StatKind::kCounter),
      .keep_alive_reuses =
          RegisterFixedStat("proxy.process.http.client_keep_alive_reuses", StatKind::kCounter),
  };
  return stats;
}

namespace {

// AppendThousandths appends |value| / 1000 with three decimals, exactly and without floating
// point: 1795765388084 -> "1795765388.084", 412 -> "0.412". Negative values count as 0.
void AppendThousandths(std::string* out, int64_t value) {
  if (value < 0) value = 0;
  absl::StrAppend(out, value / 1000, ".");
  const int64_t fraction = value % 1000;
  if (fraction < 100) out->push_back('0');
  if (fraction < 10) out->push_back('0');
  absl::StrAppend(out, fraction);
}

}  // namespace

// One line per transaction, on the request path: built with StrAppend (StrFormat cost 3% of a
// keep-alive proxy core).
std::string FormatAccessLogLine(const AccessLogEntry& e) {
  std::string line;
  line.reserve(192);
  AppendThousandths(&line, e.start_unix_ms);
  absl::StrAppend(&line, " ", OrDash(e.client), " ", OrDash(e.method), " ", OrDash(e.url), " ",
                  e.status, " ", e.bytes_in, " ", e.bytes_out, " ", OrDash(e.origin), " ");
  AppendThousandths(&line, e.duration_us);
  absl::StrAppend(&line, " ", OrDash(e.tls_version), " ", OrDash(e.cipher), " ", OrDash(e.sni), " ",
                  e.resumed ? 1 : 0);
  return line;
}

class HttpProxy::Acceptor final : public Continuation {
 public:
  Acceptor(HttpProxy* proxy, HttpScheme scheme) : proxy_(proxy), scheme_(scheme) {}

  void HandleEvent(EventCode code, void* data) override {
    if (code != EventCode::kNetAccept) return;
    (new HttpSession(proxy_, static_cast<NetVConnection*>(data), scheme_))->Start();
  }

 private:
  HttpProxy* const proxy_;
  const HttpScheme scheme_;
};

HttpProxy::HttpProxy(NetProcessor* net, HostResolver* resolver, HttpProxySettings settings,
                     AccessLogSink access_log)
    : net_(net),
      resolver_(resolver),
      settings_(std::move(settings)),
      access_log_(std::move(access_log)),
      http_acceptor_(std::make_unique<Acceptor>(this, HttpScheme::kHttp)),
      https_acceptor_(std::make_unique<Acceptor>(this, HttpScheme::kHttps)),
      remap_generation_(NextRemapGeneration()) {
  HttpStats::Get();
  OriginPoolStats::Get();
}

HttpProxy::~HttpProxy() = default;

Continuation* HttpProxy::acceptor(HttpScheme scheme) {
  return scheme == HttpScheme::kHttps ? https_acceptor_.get() : http_acceptor_.get();
}

void HttpProxy::SetRemap(std::shared_ptr<const RemapConfig> remap) {
  MutexGuard lock(&mu_);
  remap_ = std::move(remap);
  remap_generation_.store(NextRemapGeneration(), std::memory_order_release);
}

std::shared_ptr<const RemapConfig> HttpProxy::remap() const {
  // Each thread keeps the rules it saw last and takes the lock only after a reload, so the
  // request path does not contend on |mu_|.
  struct Cached {
    uint64_t generation = 0;
    std::shared_ptr<const RemapConfig> remap;
  };
  thread_local Cached cached;
  const uint64_t generation = remap_generation_.load(std::memory_order_acquire);
  if (cached.generation != generation) {
    MutexGuard lock(&mu_);
    cached.generation = remap_generation_.load(std::memory_order_relaxed);
    cached.remap = remap_;
  }
  return cached.remap;
}

void HttpProxy::SetOriginTls(std::shared_ptr<TlsClientContext> tls) {
  MutexGuard lock(&mu_);
  origin_tls_ = std::move(tls);
}

std::shared_ptr<TlsClientContext> HttpProxy::origin_tls() const {
  MutexGuard lock(&mu_);
  return origin_tls_;
}

void HttpProxy::SessionOpened() {
  active_sessions_.fetch_add(1, std::memory_order_acq_rel);
  const HttpStats& stats = HttpStats::Get();
  GlobalStats().Increment(stats.client_sessions_total);
  GlobalStats().Increment(stats.client_sessions_active);
}

void HttpProxy::SessionClosed() {
  active_sessions_.fetch_sub(1, std::memory_order_acq_rel);
  GlobalStats().Decrement(HttpStats::Get().client_sessions_active);
}

}  // namespace tollgate
