#include "proxy/stats_json.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tollgate {
namespace {

// Taken during static initialisation, before main.
const std::chrono::steady_clock::time_point kProcessStart = std::chrono::steady_clock::now();

// Stat names the derived values read. They must stay in sync with the names TlsStats registers
// in iocore/tls/ssl_net_vconnection.cc.
constexpr absl::string_view kTlsHandshakesOk = "proxy.process.ssl.handshakes_ok";
constexpr absl::string_view kTlsResumed = "proxy.process.ssl.resumed";

}  // namespace

int64_t ProcessUptimeSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                          kProcessStart)
      .count();
}

std::string FormatStatsJson(const std::vector<StatSnapshotEntry>& stats, absl::string_view version,
                            int64_t uptime_s) {
  std::string json = "{\"version\":";
  AppendJsonString(version, &json);
  absl::StrAppend(&json, ",\"uptime_s\":", uptime_s, ",\"stats\":{");
  int64_t handshakes_ok = 0;
  int64_t resumed = 0;
  bool first = true;
  for (const StatSnapshotEntry& entry : stats) {
    if (!first) json.push_back(',');
    first = false;
    AppendJsonString(entry.name, &json);
    absl::StrAppend(&json, ":", entry.value);
    if (entry.name == kTlsHandshakesOk) handshakes_ok = entry.value;
    if (entry.name == kTlsResumed) resumed = entry.value;
  }
  double resumption_rate =
      handshakes_ok > 0 ? static_cast<double>(resumed) / static_cast<double>(handshakes_ok) : 0.0;
  // %.6g of a finite double is a valid JSON number ("0", "0.25", "1e-07").
  absl::StrAppendFormat(&json, "},\"derived\":{\"tls_resumption_rate\":%.6g}}", resumption_rate);
  return json;
}

std::string BuildStatsJson() {
  return FormatStatsJson(GlobalStats().Snapshot(), kTollgateVersion, ProcessUptimeSeconds());
}

}  // namespace tollgate
