// tlsload: a TLS 1.3 load generator on BoringSSL, against an echoing TLS server on 127.0.0.1.
// Prints one machine-readable line per run (see LoadResult::Line). Full handshakes run on the
// lean raw engine by default (tls_load.h, LoadEngine::kRaw), everything else on libssl.
//
//   tlsload --port=8443 --mode=full --conns=64 --duration=5
//   tlsload --port=8443 --mode=resume --conns=64 --duration=5
//   tlsload --port=8443 --mode=full --rsa --sni=rsa.test
//   tlsload --port=8443 --mode=full --engine=ssl                 # libssl client instead of raw
//   tlsload --port=8443 --mode=bulk --duration=5
//   tlsload --port=8443 --mode=idle --conns=10000 --hold=30
//
// Flags: --port (required), --mode=full|resume|bulk|idle, --engine=raw|ssl (default: raw for
// full, ssl otherwise; raw runs full only), --conns, --duration (s, window),
// --warmup (ms), --max (connections started, at most), --sni (""=none), --rsa (offer only
// RSA-PSS signatures), --request (bytes per connection), --hold (s, idle mode: how long to
// keep the connections open; ends early when stdin closes or gets a line), --cpu (pin to it).

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tools/tls_bench/tls_load.h"

namespace tollgate::tls_bench {
namespace {

int Usage(const char* why) {
  std::fprintf(
      stderr,
      "tlsload: %s\nusage: tlsload --port=N [--mode=full|resume|bulk|idle] [--engine=raw|ssl] "
      "[--conns=N] [--duration=S] [--warmup=MS] [--max=N] [--sni=NAME] [--rsa] "
      "[--request=BYTES] [--hold=S] [--cpu=N]\n",
      why);
  return 2;
}

int Main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  LoadOptions options;
  int hold_s = 10;
  int cpu = -1;
  bool engine_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string key = arg;
    std::string value;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      key = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    auto number = [&] { return std::strtoll(value.c_str(), nullptr, 10); };
    if (key == "--port") {
      options.port = static_cast<uint16_t>(number());
    } else if (key == "--mode") {
      if (!ParseLoadMode(value, &options.mode)) return Usage("unknown --mode");
    } else if (key == "--engine") {
      if (!ParseLoadEngine(value, &options.engine)) return Usage("unknown --engine");
      engine_given = true;
    } else if (key == "--conns") {
      options.conns = static_cast<int>(number());
    } else if (key == "--duration") {
      options.duration =
          std::chrono::milliseconds(static_cast<int64_t>(std::atof(value.c_str()) * 1000));
    } else if (key == "--warmup") {
      options.warm_up = std::chrono::milliseconds(number());
    } else if (key == "--max") {
      options.max_connections = number();
    } else if (key == "--sni") {
      options.sni = value;
    } else if (key == "--rsa") {
      options.rsa = true;
    } else if (key == "--request") {
      options.request_bytes = static_cast<int>(number());
    } else if (key == "--hold") {
      hold_s = static_cast<int>(number());
    } else if (key == "--cpu") {
      cpu = static_cast<int>(number());
    } else {
      return Usage(("unknown flag " + arg).c_str());
    }
  }
  if (options.port == 0) return Usage("--port is required");
  if (options.request_bytes < 1) return Usage("--request must be at least 1");
  if (!engine_given) {
    options.engine = options.mode == LoadMode::kFull ? LoadEngine::kRaw : LoadEngine::kSsl;
  }
  if (options.engine == LoadEngine::kRaw && options.mode != LoadMode::kFull) {
    return Usage("--engine=raw runs --mode=full only");
  }
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) std::perror("tlsload: sched_setaffinity");
  }
  if (options.mode == LoadMode::kIdle) {
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    options.on_idle_established = [hold_s](int established) {
      std::printf("established %d\n", established);
      std::fflush(stdout);
      pollfd p{.fd = STDIN_FILENO, .events = POLLIN};
      poll(&p, 1, hold_s * 1000);  // one bounded wait: the hold time, or stdin
    };
  }
  absl::StatusOr<LoadResult> result = RunLoad(options);
  if (!result.ok()) {
    std::fprintf(stderr, "tlsload: %s\n", result.status().ToString().c_str());
    return 1;
  }
  std::printf("%s\n", result->Line().c_str());
  return 0;
}

}  // namespace
}  // namespace tollgate::tls_bench

int main(int argc, char** argv) { return tollgate::tls_bench::Main(argc, argv); }
