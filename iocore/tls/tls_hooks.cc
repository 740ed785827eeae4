#include "iocore/tls/tls_hooks.h"

#include "absl/strings/str_cat.h"

namespace tollgate {

const char* TlsHookIdName(TlsHookId id) {
  switch (id) {
    case TlsHookId::kVconnStart:
      return "VCONN_START";
    case TlsHookId::kClientHello:
      return "SSL_CLIENT_HELLO";
    case TlsHookId::kServername:
      return "SSL_SERVERNAME";
    case TlsHookId::kCert:
      return "SSL_CERT";
    case TlsHookId::kVerifyClient:
      return "SSL_VERIFY_CLIENT";
    case TlsHookId::kVconnClose:
      return "VCONN_CLOSE";
    case TlsHookId::kOutboundStart:
      return "VCONN_OUTBOUND_START";
    case TlsHookId::kVerifyServer:
      return "SSL_VERIFY_SERVER";
    case TlsHookId::kOutboundClose:
      return "VCONN_OUTBOUND_CLOSE";
  }
  return "UNKNOWN_HOOK";
}

TlsHookRegistry::TlsHookRegistry() : lists_(std::make_shared<TlsHookLists>()) {
  static constexpr const char* kBuckets[6] = {"lt_1ms", "lt_10ms", "lt_100ms",
                                              "lt_1s",  "lt_10s",  "ge_10s"};
  for (int i = 0; i < kNumTlsHookIds; ++i) {
    std::string base =
        absl::StrCat("proxy.process.tls.hook.", TlsHookIdName(static_cast<TlsHookId>(i)));
    stats_[i].calls = RegisterFixedStat(base + ".calls", StatKind::kCounter);
    stats_[i].parked_now = RegisterFixedStat(base + ".parked", StatKind::kGauge);
    for (int b = 0; b < 6; ++b) {
      stats_[i].park_time[b] =
          RegisterFixedStat(absl::StrCat(base, ".park_time.", kBuckets[b]), StatKind::kCounter);
    }
  }
}

void TlsHookRegistry::Add(TlsHookId id, TlsHookCallback* callback) {
  MutexGuard lock(&mu_);
  auto copy = std::make_shared<TlsHookLists>(*lists_);
  copy->lists[static_cast<int>(id)].push_back(callback);
  lists_ = std::move(copy);
}

std::shared_ptr<const TlsHookLists> TlsHookRegistry::Snapshot() const {
  MutexGuard lock(&mu_);
  return lists_;
}

void TlsHookRegistry::RecordParkTime(TlsHookId id, int64_t ns) const {
  int bucket = ns < 1000000LL ? 0
      : ns < 10000000LL       ? 1
      : ns < 100000000LL      ? 2
      : ns < 1000000000LL     ? 3
      : ns < 10000000000LL    ? 4
                              : 5;
  GlobalStats().Increment(stats_[static_cast<int>(id)].park_time[bucket]);
}

}  // namespace tollgate
