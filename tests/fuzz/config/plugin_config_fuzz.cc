// libFuzzer target for ParsePluginConfig (plugin_api/plugin_loader.h) on arbitrary plugin.config
// text. Every line it returns must have a line number above the previous one, within the input's
// line count, with a non-empty path; anything else traps. How to build and run: README.md.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "plugin_api/plugin_loader.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view content(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<tollgate::PluginConfigLine>> lines =
      tollgate::ParsePluginConfig(content, "plugin.config");
  if (!lines.ok()) return 0;
  const int line_count = static_cast<int>(std::count(content.begin(), content.end(), '\n')) + 1;
  int previous = 0;
  for (const tollgate::PluginConfigLine& line : *lines) {
    Check(line.line > previous && line.line <= line_count);
    Check(!line.path.empty());
    previous = line.line;
  }
  return 0;
}
