// tollgate: the proxy binary. It serves (see proxy/server.h) or checks a configuration
// (--check).
//
// Signals: SIGHUP reloads the configuration directory; SIGTERM and SIGINT drain (stop
// accepting, let requests in flight finish within proxy.config.stop.shutdown_timeout) and exit
// 0; a second SIGTERM or SIGINT during the drain exits at once.
//
// Exit codes: 0 success (also after a drain), 1 a configuration or start-up error, 2 a usage
// error.

#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "iocore/eventsystem/clock.h"
#include "iocore/eventsystem/diags.h"
#include "proxy/config/config_set.h"
#include "proxy/server.h"
#include "proxy/stats_json.h"

namespace tollgate {
namespace {

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
    "                        8443:ssl on 127.0.0.1 with a generated self-signed certificate,\n"
    "                        both remapped to a built-in demo origin, admin on 127.0.0.1:8081.\n"
    "                        Listeners, the admin endpoint and a curl command to try are\n"
    "                        printed at start; the access log follows on standard output.\n"
    "  --check               load and validate the configuration, certificate and key files and\n"
    "                        plugin paths, print a summary and exit: 0 when valid, 1 on the first\n"
    "                        error (printed as 'tollgate: FILE:LINE: what is wrong').\n"
    "  --version             print 'tollgate VERSION' and exit.\n"
    "  -h, --help            print this help and exit.\n"
    "\n"
    "Signals: SIGHUP reloads certificates, ticket keys, sni.yaml and remap.config (a bad file\n"
    "keeps the running configuration); SIGTERM or SIGINT drains and exits 0.\n";

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
  std::printf("tollgate %s: checking configuration\n", std::string(kTollgateVersion).c_str());
  for (const std::string& line : config->Describe()) std::printf("%s\n", line.c_str());
  std::printf("configuration OK\n");
  return kExitOk;
}

// Serve runs the proxy until a drain ends. Signals are taken synchronously (sigtimedwait) on
// this thread; every other thread starts with them blocked.
int Serve(const Options& options) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<Server>> started =
      Server::Start({.config_dir = options.config_dir});
  if (!started.ok()) {
    std::fprintf(stderr, "tollgate: %s\n", std::string(started.status().message()).c_str());
    return kExitConfigError;
  }
  Server& server = **started;
  const timespec tick{.tv_sec = 1, .tv_nsec = 0};
  const timespec drain_tick{.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
  bool draining = false;
  int64_t drain_deadline_ns = 0;
  for (;;) {
    const int sig = sigtimedwait(&signals, nullptr, draining ? &drain_tick : &tick);
    server.FlushAccessLog();
    if (sig == SIGHUP && !draining) {
      Diag(DiagLevel::kNote, "config", "SIGHUP: reloading");
      if (absl::Status s = server.Reload(); !s.ok()) {
        Diag(DiagLevel::kError, "config",
             absl::StrCat("reload rejected, the running configuration stays: ", s.message()));
      }
    } else if (sig == SIGTERM || sig == SIGINT) {
      if (draining) {
        Diag(DiagLevel::kWarning, "server", "second stop signal: exiting without waiting");
        break;
      }
      draining = true;
      drain_deadline_ns = MonotonicNowNs() + server.shutdown_timeout().count();
      server.BeginDrain();
    }
    if (draining) {
      if (server.DrainDone()) {
        Diag(DiagLevel::kNote, "server", "drained: every client connection closed");
        break;
      }
      if (MonotonicNowNs() >= drain_deadline_ns) {
        Diag(DiagLevel::kWarning, "server",
             "proxy.config.stop.shutdown_timeout reached: closing what is left");
        break;
      }
    }
  }
  server.Stop();
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
      std::printf("tollgate %s\n", std::string(kTollgateVersion).c_str());
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
  return options.check ? Check(options) : Serve(options);
}

}  // namespace
}  // namespace tollgate

int main(int argc, char** argv) { return tollgate::Main(argc, argv); }
