// libFuzzer target for LoadRecordsYaml and LoadRecordsConfig (//proxy/config:config): both
// loaders on the same bytes. records.h promises that ParseServerPorts accepts the
// http_server_ports of any RecordsConfig a loader returned; a loaded config whose ports do not
// parse traps. How to build and run: README.md.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proxy/config/ports.h"
#include "proxy/config/records.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

void CheckLoaded(const absl::StatusOr<tollgate::RecordsConfig>& records) {
  if (!records.ok()) return;
  Check(tollgate::ParseServerPorts(records->http_server_ports).ok());
  (void)records->Describe();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view content(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> warnings;
  CheckLoaded(tollgate::LoadRecordsYaml(content, "records.yaml", &warnings));
  warnings.clear();
  CheckLoaded(tollgate::LoadRecordsConfig(content, "records.config", &warnings));
  return 0;
}
