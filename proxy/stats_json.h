// The admin endpoint's /stats document: every registered stat, grouped, as one JSON object.
//
//   {"version":"0.1.0","uptime_s":42,
//    "stats":{"proxy.process.net.connections_currently_open":3, ...},
//    "derived":{"tls_resumption_rate":0.25}}
//
//   version   kTollgateVersion.
//   uptime_s  whole seconds since the process started (see ProcessUptimeSeconds).
//   stats     every stat of GlobalStats(), by name, in registration order, with its current
//             value. A layer's stats appear once the layer registered them (most register on
//             first use), so the set grows as the process warms up.
//   derived   values computed from stats:
//               tls_resumption_rate  proxy.process.ssl.resumed / proxy.process.ssl.handshakes_ok:
//                                    the share of successful TLS handshakes that resumed a
//                                    session; 0 before the first one.
//
// Thread-safe: any thread, any time (it takes the registry's mutex for the snapshot).

#ifndef TOLLGATE_PROXY_STATS_JSON_H_
#define TOLLGATE_PROXY_STATS_JSON_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "iocore/eventsystem/stats.h"

namespace tollgate {

// kTollgateVersion is the version /stats reports. It must stay equal to the version
// `tollgate --version` prints (kVersion in proxy/main.cc).
inline constexpr absl::string_view kTollgateVersion = "0.1.0";

// BuildStatsJson returns the document above for GlobalStats().Snapshot(), kTollgateVersion and
// ProcessUptimeSeconds().
std::string BuildStatsJson();

// FormatStatsJson returns the document for |stats|, |version| and |uptime_s|. BuildStatsJson
// uses it; tests call it with stats of their own. Names and |version| are JSON-escaped.
std::string FormatStatsJson(const std::vector<StatSnapshotEntry>& stats, absl::string_view version,
                            int64_t uptime_s);

// ProcessUptimeSeconds returns whole seconds since the process's static initialisers ran (the
// start of the process, for the tollgate binary), on the steady clock.
int64_t ProcessUptimeSeconds();

}  // namespace tollgate

#endif  // TOLLGATE_PROXY_STATS_JSON_H_
