#include "plugin_api/plugin_loader.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace tollgate {
namespace {

using PluginInitFn = void (*)(int, const char*[]);

// The plugin whose TSPluginInit is running (start-up is single-threaded).
struct InitState {
  bool open = false;
  bool registered = false;
  std::string name;
};

InitState& CurrentInit() {
  static InitState* state = new InitState;
  return *state;
}

bool IsFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

bool RecordPluginRegistration(const char* plugin_name) {
  InitState& state = CurrentInit();
  if (!state.open) return false;
  state.registered = true;
  state.name = plugin_name != nullptr ? plugin_name : "";
  return true;
}

absl::StatusOr<std::vector<PluginConfigLine>> ParsePluginConfig(
    absl::string_view content, absl::string_view filename_for_errors) {
  std::vector<PluginConfigLine> lines;
  int number = 0;
  size_t pos = 0;
  while (pos <= content.size()) {
    size_t end = content.find('\n', pos);
    if (end == absl::string_view::npos) end = content.size();
    absl::string_view text = content.substr(pos, end - pos);
    pos = end + 1;
    ++number;
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    bool quoted = false;
    for (size_t i = 0; i < text.size(); ++i) {
      char c = text[i];
      if (quoted) {
        if (c == '"') {
          quoted = false;
        } else {
          word.push_back(c);
        }
        continue;
      }
      if (c == '#') break;
      if (c == '"') {
        quoted = true;
        in_word = true;
        continue;
      }
      if (c == ' ' || c == '\t' || c == '\r') {
        if (in_word) words.push_back(std::move(word));
        word.clear();
        in_word = false;
        continue;
      }
      word.push_back(c);
      in_word = true;
    }
    if (quoted) {
      return absl::InvalidArgumentError(
          absl::StrCat(filename_for_errors, ":", number, ": unterminated quote"));
    }
    if (in_word) words.push_back(std::move(word));
    if (words.empty()) continue;
    if (words[0].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(filename_for_errors, ":", number, ": empty plugin path"));
    }
    PluginConfigLine line;
    line.line = number;
    line.path = std::move(words[0]);
    line.args.assign(std::make_move_iterator(words.begin() + 1),
                     std::make_move_iterator(words.end()));
    lines.push_back(std::move(line));
    if (end == content.size()) break;
  }
  return lines;
}

absl::Status PluginLoader::LoadConfig(const std::string& config_path, const std::string& config_dir,
                                      const std::string& plugin_dir) {
  std::ifstream in(config_path);
  if (!in) {
    if (errno == ENOENT) return absl::OkStatus();  // no plugin.config: no plugins
    return absl::InvalidArgumentError(absl::StrCat(config_path, ": ", strerror(errno)));
  }
  std::ostringstream data;
  data << in.rdbuf();
  absl::StatusOr<std::vector<PluginConfigLine>> lines = ParsePluginConfig(data.str(), config_path);
  if (!lines.ok()) return lines.status();
  for (const PluginConfigLine& line : *lines) {
    absl::Status s = Load(line, absl::StrCat(config_path, ":", line.line), config_dir, plugin_dir);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status PluginLoader::Load(const PluginConfigLine& line, absl::string_view where,
                                const std::string& config_dir, const std::string& plugin_dir) {
  std::string resolved = line.path;
  if (!line.path.empty() && line.path[0] != '/') {
    std::string in_config = absl::StrCat(config_dir, "/", line.path);
    std::string in_plugins = absl::StrCat(plugin_dir, "/", line.path);
    if (IsFile(in_config)) {
      resolved = in_config;
    } else if (!plugin_dir.empty() && IsFile(in_plugins)) {
      resolved = in_plugins;
    } else {
      return absl::NotFoundError(absl::StrCat(where, ": plugin '", line.path, "' not found in ",
                                              config_dir,
                                              plugin_dir.empty() ? "" : " or " + plugin_dir));
    }
  }
  void* handle = dlopen(resolved.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = dlerror();
    return absl::FailedPreconditionError(absl::StrCat(where, ": cannot load plugin '", line.path,
                                                      "': ", err != nullptr ? err : "unknown"));
  }
  auto init = reinterpret_cast<PluginInitFn>(dlsym(handle, "TSPluginInit"));
  if (init == nullptr) {
    dlclose(handle);
    return absl::FailedPreconditionError(
        absl::StrCat(where, ": plugin '", line.path, "' has no TSPluginInit"));
  }
  std::vector<const char*> argv;
  argv.push_back(line.path.c_str());
  for (const std::string& arg : line.args) argv.push_back(arg.c_str());
  argv.push_back(nullptr);
  InitState& state = CurrentInit();
  state = InitState{.open = true};
  init(static_cast<int>(argv.size() - 1), argv.data());
  state.open = false;
  if (!state.registered) {
    // The plugin may have registered hooks already; it stays loaded, but start-up stops.
    return absl::FailedPreconditionError(absl::StrCat(
        where, ": plugin '", line.path, "' did not call TSPluginRegister from TSPluginInit"));
  }
  plugins_.push_back({line.path, resolved, state.name, handle});
  return absl::OkStatus();
}

}  // namespace tollgate
