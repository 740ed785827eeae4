// tollgate: the proxy binary. Today it checks a configuration (--check); serving comes with
// issue 7.
//
// Exit codes: 0 success, 1 a configuration error, 2 a usage error or a mode that is not built.

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "proxy/config/config_set.h"

namespace tollgate {
namespace {

constexpr char kVersion[] = "0.1.0";

constexpr int kExitOk = 0;
constexpr int kExitConfigError = 1;
constexpr int kExitUsage = 2;

constexpr char kUsage[] =
    "usage: tollgate [--config-dir DIR] [--check]\n"
    "       tollgate --version | --help\n"
    "\n"
    "  -c, --config-dir DIR  read the configuration from DIR: records.yaml (or records.config),\n"
    "                        ssl_multicert.config, sni.yaml, remap.config, plugin.config; each is\n"
    "                        optional. Without it, the embedded defaults: ports 8080 and\n"
    "                        8443:ssl on 127.0.0.1 with a generated self-signed certificate.\n"
    "  --check               load and validate the configuration, certificate and key files and\n"
    "                        plugin paths, print a summary and exit: 0 when valid, 1 on the first\n"
    "                        error (printed as 'tollgate: FILE:LINE: what is wrong').\n"
    "  --version             print 'tollgate VERSION' and exit.\n"
    "  -h, --help            print this help and exit.\n"
    "\n"
    "Serving is not implemented yet (issue 7): without --check, tollgate exits with status 2.\n";

struct Options {
  std::string config_dir;
  bool check = false;
};

int UsageError(const std::string& what) {
  std::fprintf(stderr, "tollgate: %s\n%s", what.c_str(), kUsage);
  return kExitUsage;
}

int Check(const Options& options) {
  absl::StatusOr<ConfigSet> config =
      options.config_dir.empty() ? EmbeddedConfig() : LoadConfigDir(options.config_dir);
  if (!config.ok()) {
    std::fprintf(stderr, "tollgate: %s\n", std::string(config.status().message()).c_str());
    return kExitConfigError;
  }
  std::printf("tollgate %s: checking configuration\n", kVersion);
  for (const std::string& line : config->Describe()) std::printf("%s\n", line.c_str());
  std::printf("configuration OK\n");
  return kExitOk;
}

int Main(int argc, char** argv) {
  Options options;
  bool have_config_dir = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    }
    if (arg == "--version") {
      std::printf("tollgate %s\n", kVersion);
      return kExitOk;
    }
    if (arg == "--check") {
      options.check = true;
    } else if (arg == "--config-dir" || arg == "-c") {
      if (i + 1 >= argc) return UsageError(std::string(arg) + " needs a directory");
      options.config_dir = argv[++i];
      have_config_dir = true;
    } else if (absl::ConsumePrefix(&arg, "--config-dir=")) {
      options.config_dir = std::string(arg);
      have_config_dir = true;
    } else {
      return UsageError("unknown option '" + std::string(arg) + "'");
    }
  }
  if (have_config_dir && options.config_dir.empty()) {
    return UsageError("--config-dir needs a non-empty directory");
  }
  if (!options.check) {
    std::fputs(
        "tollgate: serving is not implemented yet (issue 7); use --check to validate a "
        "configuration\n",
        stderr);
    return kExitUsage;
  }
  return Check(options);
}

}  // namespace
}  // namespace tollgate

int main(int argc, char** argv) { return tollgate::Main(argc, argv); }
