// Plugin loading: plugin.config, dlopen, TSPluginInit.
//
// plugin.config has one plugin per line, `path [args...]`, in load order; `#` starts a comment,
// double quotes group an argument with spaces. A relative path is looked up in the configuration
// directory, then in the plugin directory (proxy.config.plugin.plugin_dir). Each plugin is
// opened with dlopen(RTLD_NOW) — an undefined symbol fails the load at once — and its
// TSPluginInit(argc, argv) runs with argv[0] the path as written. A plugin must call
// TSPluginRegister from TSPluginInit.
//
// Any failure stops the load: the error names the file, the line, the plugin and the reason,
// and the caller (start-up) exits.
//
//   PluginLoader loader;
//   absl::Status s = loader.LoadConfig(config_dir + "/plugin.config", config_dir, plugin_dir);

#ifndef TOLLGATE_PLUGIN_API_PLUGIN_LOADER_H_
#define TOLLGATE_PLUGIN_API_PLUGIN_LOADER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tollgate {

struct PluginConfigLine {
  int line = 0;  // 1-based
  std::string path;
  std::vector<std::string> args;  // after the path
};

// ParsePluginConfig splits plugin.config text into lines. InvalidArgument, naming
// |filename_for_errors| and the line, for an unterminated quote.
absl::StatusOr<std::vector<PluginConfigLine>> ParsePluginConfig(
    absl::string_view content, absl::string_view filename_for_errors);

struct LoadedPlugin {
  std::string path;  // as written in plugin.config
  std::string resolved;  // the file opened
  std::string name;  // TSPluginRegistrationInfo::plugin_name ("" if none given)
  void* handle = nullptr;
};

class PluginLoader {
 public:
  PluginLoader() = default;
  PluginLoader(const PluginLoader&) = delete;
  PluginLoader& operator=(const PluginLoader&) = delete;

  // LoadConfig reads |config_path| (a missing file means no plugins) and loads every plugin it
  // lists, in order. Call once, at start-up, before the ports open, on the main thread.
  absl::Status LoadConfig(const std::string& config_path, const std::string& config_dir,
                          const std::string& plugin_dir);

  // Load loads one plugin. |where| prefixes errors ("plugin.config:3").
  absl::Status Load(const PluginConfigLine& line, absl::string_view where,
                    const std::string& config_dir, const std::string& plugin_dir);

  const std::vector<LoadedPlugin>& plugins() const { return plugins_; }

 private:
  std::vector<LoadedPlugin> plugins_;
};

// ---- Registration (used by TSPluginRegister) ---------------------------------------------------

// PluginRegistrationOpen returns whether a TSPluginInit is running now (TSPluginRegister is only
// valid there), and records |name| for it.
bool RecordPluginRegistration(const char* plugin_name);

}  // namespace tollgate

#endif  // TOLLGATE_PLUGIN_API_PLUGIN_LOADER_H_
