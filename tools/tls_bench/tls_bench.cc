// tls_bench: TLS handshake rate, bulk throughput and idle-connection memory of SSLNetVConnection,
// against the in-process ceiling of the same handshakes over BIO pairs.
//
//   bazel run --config=opt //tools/tls_bench:tls_bench
//   bazel run --config=opt //tools/tls_bench:tls_bench -- --hooks   # plugin hook overhead only
//
// The server is a forked child pinned to CPU 0: one ET_NET thread, a TlsPort on 127.0.0.1 whose
// acceptor echoes every byte (certificates made in memory: ECDSA P-256 "a.test", the default,
// and RSA-2048 "rsa.test"). The parent, pinned to CPU 1, runs the tlsload engine (tls_load.h)
// against it: full ECDSA handshakes, full RSA handshakes, resumed handshakes and bulk echo, 3
// runs each, medians. The full handshakes use the lean raw client (LoadEngine::kRaw: one X25519
// key pair per run, no certificate or CertificateVerify checks) so that the one load core can
// saturate the one server core; resumed, bulk and idle use libssl (LoadEngine::kSsl). The ceiling
// is measured in the parent too, one thread doing client and server of each handshake over a BIO
// pair; the server's share is timed separately, and that server-only rate is what the 60% target
// compares with (the load tool has its own core, so the server's core only has to pay for the
// server's half).
//
// Idle memory: a fresh server child, 10,000 established idle TLS connections (handshake and one
// echo each); the child reports mallinfo2() heap in use and RSS before and after.
//
// --hooks: the cost of TLS hooks through the plugin C ABI. Three server children (1 ET_NET and 1
// ET_TASK thread each, all on CPU 0, plugin hosts like the tollgate binary): (a) no plugin,
// (b) plugins/hook_probe with immediate START, CLIENT_HELLO, SERVERNAME and CERT hooks, (c) the
// same four hooks delayed by 0 ms through the TASK pool. Full ECDSA handshakes (libssl engine)
// against each, interleaved a,b,c,a,b,c,..., medians; the cost is the server's CPU per handshake
// relative to (a) (the load core, not the server, limits the rate on this machine).
//
// Everything runs on 127.0.0.1, every wait is bounded, children die with the parent
// (PR_SET_PDEATHSIG) and are killed and reaped at the end. See README.md.

#include <fcntl.h>
#include <malloc.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "iocore/eventsystem/event_processor.h"
#include "iocore/eventsystem/io_buffer.h"
#include "iocore/eventsystem/stats.h"
#include "iocore/net/net_processor.h"
#include "iocore/tls/cert_table.h"
#include "iocore/tls/ssl_net_vconnection.h"
#include "iocore/tls/tls_hooks.h"
#include "plugin_api/plugin_loader.h"
#include "plugin_api/ts_runtime.h"
#include "tools/tls_bench/bench_certs.h"
#include "tools/tls_bench/tls_load.h"

namespace tollgate::tls_bench {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kRuns = 3;
constexpr milliseconds kHandshakeWindow{2500};
constexpr milliseconds kBulkWindow{2500};
constexpr milliseconds kWarmUp{300};
constexpr milliseconds kCeilingWindow{1000};
constexpr int kLoadConns = 32;
constexpr int kIdleConnections = 10000;
constexpr int kServerCpu = 0;
constexpr int kLoadCpu = 1;
constexpr int kChildReplyMs = 10000;
constexpr int kRequestBytes = 64;

void Die(const std::string& what) {
  std::fprintf(stderr, "tls_bench: %s (errno %d: %s)\n", what.c_str(), errno, strerror(errno));
  std::exit(1);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

bool PinToCpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof(set), &set) == 0;
}

bool ReadWithDeadline(int fd, void* out, size_t len, int timeout_ms) {
  pollfd p{.fd = fd, .events = POLLIN};
  if (poll(&p, 1, timeout_ms) != 1) return false;
  return read(fd, out, len) == static_cast<ssize_t>(len);
}

struct Certs {
  BenchCert ecdsa;  // a.test, the default
  BenchCert rsa;  // rsa.test
};

// ---- Server child ----------------------------------------------------------------------------

// Echoes every byte; on EOS flushes what is left, then closes and deletes itself.
class EchoSession : public Continuation {
 public:
  explicit EchoSession(VConnection* vc) : Continuation(NewProxyMutex()), vc_(vc) {}

  void Start() {
    MutexLock lock(mutex().get());
    reader_ = buf_.AllocReader();
    read_ = vc_->DoIoRead(this, INT64_MAX, &buf_);
    write_ = vc_->DoIoWrite(this, INT64_MAX, reader_);
  }

  void HandleEvent(EventCode code, void*) override {
    switch (code) {
      case EventCode::kVcReadReady:
        write_->Reenable();
        return;
      case EventCode::kVcWriteReady:
        read_->Reenable();
        return;
      case EventCode::kVcEos:
        write_->set_nbytes(write_->ndone() + reader_->ReadAvail());
        if (write_->ntodo() == 0) {
          Finish();
        } else {
          write_->Reenable();
        }
        return;
      default:  // write complete, errors, timeouts
        Finish();
        return;
    }
  }

 private:
  void Finish() {
    vc_->DoIoClose();
    delete this;
  }

  VConnection* vc_;
  MIOBuffer buf_;
  IOBufferReader* reader_ = nullptr;
  VIO* read_ = nullptr;
  VIO* write_ = nullptr;
};

class EchoAcceptor : public Continuation {
 public:
  void HandleEvent(EventCode code, void* data) override {
    if (code != EventCode::kNetAccept) return;
    (new EchoSession(static_cast<NetVConnection*>(data)))->Start();
    accepted.fetch_add(1, std::memory_order_relaxed);
  }
  std::atomic<int64_t> accepted{0};
};

// What the child reports on request.
struct ChildReport {
  int64_t heap_in_use = 0;  // mallinfo2: uordblks + hblkhd
  int64_t rss = 0;
  int64_t open_connections = 0;
  int64_t accepted = 0;
  int64_t handshakes_ok = 0;
  int64_t handshakes_failed = 0;
  int64_t resumed = 0;
  int64_t io_data_fresh_bytes = 0;
  int64_t hook_calls = 0;  // all TLS hook kinds (plugin host children only)
  double cpu_seconds = 0;  // getrusage(RUSAGE_SELF): utime + stime of all threads, in us steps
};

// ServerSpec: how a server child is set up.
struct ServerSpec {
  int task_threads = 0;
  // Plugin host: a TlsHookRegistry on the port and a TsRuntime, like the tollgate binary.
  bool plugin_host = false;
  // Loaded with PluginLoader when not empty (absolute path), with |plugin_args|.
  std::string plugin_path;
  std::vector<std::string> plugin_args;
};

int64_t RssBytes(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/statm");
  int64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// CpuSeconds returns user + system CPU time of process |pid|, all threads.
double CpuSeconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(f, line);
  size_t paren = line.rfind(')');
  if (paren == std::string::npos) return 0;
  std::vector<std::string> fields;
  std::string field;
  for (size_t i = paren + 2; i <= line.size(); ++i) {
    if (i == line.size() || line[i] == ' ') {
      fields.push_back(field);
      field.clear();
    } else {
      field += line[i];
    }
  }
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  if (fields.size() < 13) return 0;
  return (std::stod(fields[11]) + std::stod(fields[12])) / sysconf(_SC_CLK_TCK);
}

std::shared_ptr<const CertTable> MakeServerTable(Certs* certs, const TlsServerSettings& settings) {
  CertTable::Builder builder(CertTableOptions{.configure_ctx = [&settings](SSL_CTX* ctx) {
    return ConfigureServerContext(ctx, settings);
  }});
  auto add = [&](BenchCert& cert, std::vector<DestIp> dest_ips) {
    CertTable::EntrySpec entry;
    CertTable::CertSpec spec;
    spec.leaf = bssl::UpRef(cert.cert);
    spec.key = bssl::UpRef(cert.key);
    entry.certs.push_back(std::move(spec));
    entry.dest_ips = std::move(dest_ips);
    if (absl::Status s = builder.Add(std::move(entry)); !s.ok()) Die(s.ToString());
  };
  add(certs->ecdsa, {DestIp::Any()});
  add(certs->rsa, {});
  absl::StatusOr<std::shared_ptr<const CertTable>> table = std::move(builder).Build();
  if (!table.ok()) Die(table.status().ToString());
  return *table;
}

// ServerChild runs the TLS echo server on CPU 0 and answers every byte read from |from_parent|
// with a ChildReport on |to_parent|. It exits when the parent closes the pipe (or dies).
[[noreturn]] void ServerChild(Certs* certs, const ServerSpec& spec, int to_parent,
                              int from_parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) _exit(1);  // the parent is already gone
  if (!PinToCpu(kServerCpu)) Die("sched_setaffinity (server)");
  TlsServerSettings settings;
  EchoAcceptor acceptor;
  NetProcessor net;
  EventProcessor ep;
  TlsHookRegistry hooks;
  TsRuntime runtime{.events = &ep, .tls_hooks = &hooks};
  if (spec.plugin_host) SetTsRuntime(&runtime);
  absl::Status started = ep.Start({.net_threads = 1,
                                   .task_threads = spec.task_threads,
                                   .net_thread_init = [&net](EThread& t) { net.InitThread(t); }});
  if (!started.ok()) Die("EventProcessor::Start: " + started.ToString());
  std::shared_ptr<const CertTable> table = MakeServerTable(certs, settings);
  runtime.certs = [table] { return table; };
  PluginLoader loader;  // plugins stay loaded until the child exits
  if (!spec.plugin_path.empty()) {
    absl::Status loaded =
        loader.Load({.line = 1, .path = spec.plugin_path, .args = spec.plugin_args},
                    "plugin.config:1", "/", "");
    if (!loaded.ok()) Die("PluginLoader: " + loaded.ToString());
  }
  absl::StatusOr<std::shared_ptr<const TlsPortConfig>> config =
      MakeTlsPortConfig(table, settings, spec.plugin_host ? &hooks : nullptr, &acceptor, nullptr);
  if (!config.ok()) Die(config.status().ToString());
  TlsPort port(*config);
  absl::StatusOr<IpEndpoint> bound =
      port.Listen(net, IpEndpoint::Loopback(AF_INET, 0), {.backlog = 4096});
  if (!bound.ok()) Die("TlsPort::Listen: " + bound.status().ToString());
  uint16_t port_number = bound->port();
  (void)!write(to_parent, &port_number, sizeof(port_number));
  const TlsStats& stats = TlsStats::Get();
  for (int i = 0; i < 100000; ++i) {  // bounded; each pass waits for one parent request
    char cmd;
    if (read(from_parent, &cmd, 1) != 1) break;
    struct mallinfo2 mi = mallinfo2();
    IOBufferAllocatorStats io = GetIOBufferAllocatorStats();
    ChildReport r{
        .heap_in_use = static_cast<int64_t>(mi.uordblks + mi.hblkhd),
        .rss = RssBytes(getpid()),
        .open_connections = net.open_connections(),
        .accepted = acceptor.accepted.load(),
        .handshakes_ok = GlobalStats().Get(stats.handshakes_ok),
        .handshakes_failed = GlobalStats().Get(stats.handshakes_failed),
        .resumed = GlobalStats().Get(stats.resumed),
    };
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    r.cpu_seconds =
        ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    for (int k = 0; k < kNumSizeClasses; ++k) {
      r.io_data_fresh_bytes += io.size_classes[k].fresh * SizeClassBytes(k);
    }
    if (spec.plugin_host) {
      for (int k = 0; k < kNumTlsHookIds; ++k) {
        r.hook_calls += GlobalStats().Get(hooks.stats(static_cast<TlsHookId>(k)).calls);
      }
    }
    (void)!write(to_parent, &r, sizeof(r));
  }
  _exit(0);  // no orderly shutdown: sessions are torn down with the process
}

class Server {
 public:
  explicit Server(Certs* certs, const ServerSpec& spec = {}) {
    int up[2], down[2];
    if (pipe2(up, O_CLOEXEC) != 0 || pipe2(down, O_CLOEXEC) != 0) Die("pipe");
    std::fflush(stdout);
    pid_ = fork();
    if (pid_ < 0) Die("fork");
    if (pid_ == 0) {
      close(up[0]);
      close(down[1]);
      ServerChild(certs, spec, up[1], down[0]);
    }
    close(up[1]);
    close(down[0]);
    from_child_ = up[0];
    to_child_ = down[1];
    if (!ReadWithDeadline(from_child_, &port_, sizeof(port_), kChildReplyMs)) {
      Die("server child did not start");
    }
  }
  ~Server() {
    close(to_child_);
    close(from_child_);
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

  // Report asks the child for its counters; false if it did not answer in time.
  bool Report(ChildReport* out) {
    char cmd = 'r';
    return write(to_child_, &cmd, 1) == 1 &&
        ReadWithDeadline(from_child_, out, sizeof(*out), kChildReplyMs);
  }

 private:
  pid_t pid_ = -1;
  int from_child_ = -1;
  int to_child_ = -1;
  uint16_t port_ = 0;
};

// ---- Load through SSLNetVConnection -------------------------------------------------------------

enum class Kind {
  kFullEcdsa,
  kFullRsa,
  kResume,
};

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kFullEcdsa:
      return "full ECDSA P-256";
    case Kind::kFullRsa:
      return "full RSA-2048";
    case Kind::kResume:
      return "resumed (PSK+X25519)";
  }
  return "?";
}

struct LoadRow {
  std::vector<double> rates;  // handshakes/s or MB/s, per run
  double median = 0;
  double server_busy = 0;  // median fraction of the server's CPU in use during the run
  double load_busy = 0;  // median fraction of the load's core this process used in the run
  double resumed_frac = 0;  // of the median run
  int64_t errors = 0;  // all runs
  std::string first_error;
  int64_t server_failed = 0;  // server-side failed handshakes over all runs
};

// EngineFor is the client engine section [2] uses for |kind|: raw for full handshakes (the
// libssl client cannot keep one server core busy), libssl for resumption (raw cannot resume).
LoadEngine EngineFor(Kind kind) {
  switch (kind) {
    case Kind::kFullEcdsa:
    case Kind::kFullRsa:
      return LoadEngine::kRaw;
    case Kind::kResume:
      return LoadEngine::kSsl;
  }
  return LoadEngine::kSsl;
}

LoadOptions OptionsFor(Kind kind, uint16_t port, LoadEngine engine) {
  LoadOptions o{.port = port,
                .engine = engine,
                .conns = kLoadConns,
                .duration = kHandshakeWindow,
                .warm_up = kWarmUp,
                .request_bytes = kRequestBytes};
  switch (kind) {
    case Kind::kFullEcdsa:
      o.mode = LoadMode::kFull;
      break;
    case Kind::kFullRsa:
      o.mode = LoadMode::kFull;
      o.rsa = true;
      o.sni = "rsa.test";
      break;
    case Kind::kResume:
      o.mode = LoadMode::kResume;
      break;
  }
  return o;
}

// SelfCpuSeconds returns this process's user + system CPU time: the load's, since the load
// runs on this process's only thread.
double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
      (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

LoadRow RunLoadRuns(Server* server, const LoadOptions& options, bool bulk) {
  LoadRow row;
  std::vector<std::pair<double, double>> runs;  // rate, resumed fraction
  std::vector<double> busy, load_busy;
  ChildReport before{};
  server->Report(&before);
  for (int r = 0; r < kRuns; ++r) {
    double cpu0 = CpuSeconds(server->pid());
    double self0 = SelfCpuSeconds();
    Clock::time_point t0 = Clock::now();
    absl::StatusOr<LoadResult> result = RunLoad(options);
    double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    double cpu1 = CpuSeconds(server->pid());
    double self1 = SelfCpuSeconds();
    if (!result.ok()) Die("RunLoad: " + result.status().ToString());
    std::printf("    run %d: %s server_cpu=%.0f%% load_cpu=%.0f%%\n", r + 1, result->Line().c_str(),
                100.0 * (cpu1 - cpu0) / wall, 100.0 * (self1 - self0) / wall);
    std::fflush(stdout);
    double rate = bulk ? result->mb_per_sec() : result->per_sec();
    double frac =
        result->completed > 0 ? static_cast<double>(result->resumed) / result->completed : 0;
    runs.push_back({rate, frac});
    row.rates.push_back(rate);
    busy.push_back((cpu1 - cpu0) / wall);
    load_busy.push_back((self1 - self0) / wall);
    row.errors += result->errors;
    if (row.first_error.empty()) row.first_error = result->first_error;
  }
  ChildReport after{};
  server->Report(&after);
  row.server_failed = after.handshakes_failed - before.handshakes_failed;
  row.median = Median(row.rates);
  row.server_busy = Median(busy);
  row.load_busy = Median(load_busy);
  std::sort(runs.begin(), runs.end());
  row.resumed_frac = runs[runs.size() / 2].second;
  return row;
}

// ---- In-process ceiling ----------------------------------------------------------------------

struct Ceiling {
  int64_t handshakes = 0;
  double both_per_sec = 0;  // client + server on one thread
  double server_per_sec = 0;  // server-side calls only
  int64_t resumed = 0;
};

bssl::UniquePtr<SSL_SESSION>* g_ceiling_session = nullptr;

int KeepSession(SSL*, SSL_SESSION* session) {
  g_ceiling_session->reset(session);
  return 1;
}

// RunCeiling completes |kind| handshakes plus a |kRequestBytes| echo, client and server over a
// BIO pair on this thread, for |window|. The server side is configured like the SSLNetVConnection
// port (TLS 1.2-1.3, groups X25519:P-256, tickets on, the same certificate); the client like
// the load tool.
Ceiling RunCeiling(Kind kind, Certs* certs, milliseconds window) {
  BenchCert& cert = kind == Kind::kFullRsa ? certs->rsa : certs->ecdsa;
  bssl::UniquePtr<SSL_CTX> sctx(SSL_CTX_new(TLS_method()));
  TlsServerSettings settings;
  if (!SSL_CTX_use_certificate(sctx.get(), cert.cert.get()) ||
      !SSL_CTX_use_PrivateKey(sctx.get(), cert.key.get()) ||
      !SSL_CTX_set_min_proto_version(sctx.get(), TLS1_2_VERSION) ||
      !SSL_CTX_set_max_proto_version(sctx.get(), TLS1_3_VERSION) ||
      !SSL_CTX_set1_curves_list(sctx.get(), settings.groups.c_str())) {
    Die("ceiling server context");
  }
  SSL_CTX_set_mode(sctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  LoadOptions lo = OptionsFor(kind, 1, LoadEngine::kSsl);
  absl::StatusOr<bssl::UniquePtr<SSL_CTX>> cctx = NewClientContext(lo);
  if (!cctx.ok()) Die(cctx.status().ToString());
  bssl::UniquePtr<SSL_SESSION> session;
  g_ceiling_session = &session;
  if (kind == Kind::kResume) {
    SSL_CTX_set_session_cache_mode(cctx->get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(cctx->get(), &KeepSession);
  }

  Ceiling out;
  std::vector<char> request(kRequestBytes, 'x');
  char buf[4096];
  Clock::duration server_time{};
  const Clock::time_point start = Clock::now();
  const Clock::time_point end = start + window;
  for (int64_t n = 0; n < 10'000'000 && Clock::now() < end; ++n) {
    BIO* cbio = nullptr;
    BIO* sbio = nullptr;
    if (!BIO_new_bio_pair(&cbio, 0, &sbio, 0)) Die("BIO_new_bio_pair");
    bssl::UniquePtr<SSL> client(SSL_new(cctx->get()));
    SSL_set_bio(client.get(), cbio, cbio);
    SSL_set_connect_state(client.get());
    SSL_set_tlsext_host_name(client.get(), lo.sni.c_str());
    if (kind == Kind::kResume && session != nullptr) SSL_set_session(client.get(), session.get());

    Clock::time_point s0 = Clock::now();
    bssl::UniquePtr<SSL> server(SSL_new(sctx.get()));
    SSL_set_bio(server.get(), sbio, sbio);
    SSL_set_accept_state(server.get());
    server_time += Clock::now() - s0;

    bool client_done = false;
    bool server_done = false;
    for (int step = 0; step < 20 && !(client_done && server_done); ++step) {
      if (!client_done) client_done = SSL_do_handshake(client.get()) == 1;
      if (!server_done) {
        s0 = Clock::now();
        server_done = SSL_do_handshake(server.get()) == 1;
        server_time += Clock::now() - s0;
      }
    }
    if (!client_done || !server_done) {
      ERR_print_errors_fp(stderr);
      Die("ceiling handshake did not complete");
    }
    if (SSL_write(client.get(), request.data(), kRequestBytes) != kRequestBytes) Die("write");
    s0 = Clock::now();
    int got = SSL_read(server.get(), buf, sizeof(buf));
    if (got != kRequestBytes || SSL_write(server.get(), buf, got) != got) Die("server echo");
    server_time += Clock::now() - s0;
    int back = 0;
    for (int i = 0; i < 10 && back < kRequestBytes; ++i) {
      int r = SSL_read(client.get(), buf, sizeof(buf));
      if (r > 0) back += r;
    }
    if (back != kRequestBytes) Die("client echo");
    if (SSL_session_reused(client.get())) ++out.resumed;
    client.reset();
    s0 = Clock::now();
    server.reset();
    server_time += Clock::now() - s0;
    ++out.handshakes;
  }
  double wall = std::chrono::duration<double>(Clock::now() - start).count();
  double server_secs = std::chrono::duration<double>(server_time).count();
  out.both_per_sec = out.handshakes / wall;
  out.server_per_sec = server_secs > 0 ? out.handshakes / server_secs : 0;
  g_ceiling_session = nullptr;
  return out;
}

struct CeilingRow {
  double both = 0;
  double server = 0;
  double resumed_frac = 0;
};

CeilingRow RunCeilingRuns(Kind kind, Certs* certs) {
  std::vector<double> both, server;
  CeilingRow row;
  for (int r = 0; r < kRuns; ++r) {
    Ceiling c = RunCeiling(kind, certs, kCeilingWindow);
    both.push_back(c.both_per_sec);
    server.push_back(c.server_per_sec);
    row.resumed_frac = c.handshakes > 0 ? static_cast<double>(c.resumed) / c.handshakes : 0;
  }
  row.both = Median(both);
  row.server = Median(server);
  std::printf("  %-22s client+server %8.0f hs/s (%6.1f us)   server only %8.0f hs/s (%6.1f us)",
              KindName(kind), row.both, 1e6 / row.both, row.server, 1e6 / row.server);
  if (kind == Kind::kResume) std::printf("  resumed %.3f", row.resumed_frac);
  std::printf("\n");
  std::fflush(stdout);
  return row;
}

// ---- Idle memory -----------------------------------------------------------------------------

struct IdleResult {
  bool ok = false;
  int established = 0;
  ChildReport before;
  ChildReport after;
  std::string line;
};

IdleResult RunIdle(Certs* certs) {
  IdleResult out;
  Server server(certs);
  if (!server.Report(&out.before)) return out;
  LoadOptions o{.port = server.port(),
                .mode = LoadMode::kIdle,
                .conns = kIdleConnections,
                .request_bytes = kRequestBytes,
                .idle_concurrency = 64};
  o.on_idle_established = [&](int established) {
    out.established = established;
    // Every client has its echo back, so the server has accepted and served each one; wait
    // (bounded) until it counts them all, then sample.
    for (int i = 0; i < 100; ++i) {
      if (!server.Report(&out.after)) return;
      if (out.after.accepted - out.before.accepted >= established) break;
      poll(nullptr, 0, 20);  // bounded back-off between samples, not a synchronisation
    }
    out.ok = established > 0;
  };
  absl::StatusOr<LoadResult> result = RunLoad(o);
  if (!result.ok()) Die("RunLoad(idle): " + result.status().ToString());
  out.line = result->Line();
  return out;
}

// ---- Hook overhead (--hooks) -----------------------------------------------------------------

struct HookConfig {
  const char* label;  // "(a)", ...
  const char* name;
  std::vector<std::string> args;  // hook_probe arguments; empty: no plugin
  const char* target_name;  // "" for the baseline
  double target = 0;  // largest allowed cost relative to the baseline
};

struct HookSample {
  double rate = 0;  // load tool: handshakes/s in its window
  double cpu_us = 0;  // server CPU microseconds per handshake the server completed
  double busy = 0;  // server CPU seconds / wall seconds
  double hook_calls = 0;  // per handshake
  int64_t errors = 0;
  int64_t server_failed = 0;  // handshakes the server saw fail: those cut at the window's end
};

// RunHookSample runs one full-ECDSA load against |server| and charges the server's CPU over the
// whole run (warm-up, window, and the close of the last connections) to the handshakes the
// server completed over the same span. The CPU is the child's utime + stime, all threads: the
// child's getrusage (microsecond steps) for the figures, /proc/<pid>/stat (10 ms ticks) printed
// as a cross-check.
HookSample RunHookSample(Server* server, const LoadOptions& options, std::string* first_error) {
  HookSample out;
  ChildReport before{}, after{};
  if (!server->Report(&before)) Die("server child did not report");
  double cpu0 = CpuSeconds(server->pid());
  Clock::time_point t0 = Clock::now();
  absl::StatusOr<LoadResult> result = RunLoad(options);
  if (!result.ok()) Die("RunLoad: " + result.status().ToString());
  for (int i = 0; i < 200; ++i) {  // bounded: let the server close what the load closed
    if (!server->Report(&after)) Die("server child did not report");
    if (after.open_connections == 0) break;
    poll(nullptr, 0, 5);
  }
  double cpu1 = CpuSeconds(server->pid());
  double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!server->Report(&after)) Die("server child did not report");
  int64_t handshakes = after.handshakes_ok - before.handshakes_ok;
  double cpu = after.cpu_seconds - before.cpu_seconds;
  out.rate = result->per_sec();
  out.cpu_us = handshakes > 0 ? 1e6 * cpu / handshakes : 0;
  out.busy = cpu / wall;
  out.hook_calls =
      handshakes > 0 ? static_cast<double>(after.hook_calls - before.hook_calls) / handshakes : 0;
  out.errors = result->errors;
  out.server_failed = after.handshakes_failed - before.handshakes_failed;
  if (first_error->empty()) *first_error = result->first_error;
  std::printf(
      "%s | server: handshakes=%lld cpu=%.3fs (/proc %.2fs) busy=%.0f%% %.1f us/hs "
      "hook_calls/hs=%.2f cut=%lld\n",
      result->Line().c_str(), static_cast<long long>(handshakes), cpu, cpu1 - cpu0, 100 * out.busy,
      out.cpu_us, out.hook_calls, static_cast<long long>(out.server_failed));
  std::fflush(stdout);
  return out;
}

int RunHooks(Certs* certs, const std::string& plugin, int runs) {
  std::vector<HookConfig> configs = {
      {"(a)", "no plugin", {}, "", 0},
      {"(b)",
       "immediate START+CLIENT_HELLO+SERVERNAME+CERT",
       {"-preaccept=1", "-client_hello_imm=1", "-sni=1", "-i=1"},
       "<3%",
       0.03},
      {"(c)",
       "all four delayed 0 ms via TASK pool",
       {"-d=1", "-client_hello=1", "-sni_delay=1", "-cert=1", "-delay_ms=0", "-pool=task"},
       "<10%",
       0.10},
  };
  std::printf("  plugin: %s\n", plugin.c_str());
  for (const HookConfig& c : configs) {
    std::string args;
    for (const std::string& a : c.args) args += " " + a;
    std::printf("  %s %-46s hook_probe%s\n", c.label, c.name,
                c.args.empty() ? " not loaded" : args.c_str());
  }
  std::fflush(stdout);

  // Fork every child before this process has any other thread.
  std::vector<std::unique_ptr<Server>> servers;
  for (const HookConfig& c : configs) {
    ServerSpec spec{.task_threads = 1, .plugin_host = true};
    if (!c.args.empty()) {
      spec.plugin_path = plugin;
      spec.plugin_args = c.args;
    }
    servers.push_back(std::make_unique<Server>(certs, spec));
  }
  if (!PinToCpu(kLoadCpu)) Die("sched_setaffinity (load)");

  std::printf(
      "\n[hooks] full ECDSA P-256 via SSLNetVConnection, %d conns in flight, %lld ms window "
      "after %lld ms warm-up; order a,b,c x %d\n",
      kLoadConns, static_cast<long long>(kHandshakeWindow.count()),
      static_cast<long long>(kWarmUp.count()), runs);
  std::vector<std::vector<HookSample>> samples(configs.size());
  std::vector<std::string> first_errors(configs.size());
  for (int r = 0; r < runs; ++r) {
    for (size_t i = 0; i < configs.size(); ++i) {
      std::printf("    run %d %s ", r + 1, configs[i].label);
      samples[i].push_back(RunHookSample(
          servers[i].get(), OptionsFor(Kind::kFullEcdsa, servers[i]->port(), LoadEngine::kSsl),
          &first_errors[i]));
    }
  }
  servers.clear();  // kill and reap the children

  struct Summary {
    double rate, cpu_us, busy, hook_calls, paired_cpu, paired_rate;
    int64_t errors, failed;
  };
  std::vector<Summary> sums;
  for (size_t i = 0; i < configs.size(); ++i) {
    std::vector<double> rate, cpu, busy, calls, paired_cpu, paired_rate;
    Summary s{};
    for (int r = 0; r < runs; ++r) {
      const HookSample& x = samples[i][r];
      const HookSample& base = samples[0][r];
      rate.push_back(x.rate);
      cpu.push_back(x.cpu_us);
      busy.push_back(x.busy);
      calls.push_back(x.hook_calls);
      paired_cpu.push_back(base.cpu_us > 0 ? x.cpu_us / base.cpu_us : 0);
      paired_rate.push_back(base.rate > 0 ? x.rate / base.rate : 0);
      s.errors += x.errors;
      s.failed += x.server_failed;
    }
    s.rate = Median(rate);
    s.cpu_us = Median(cpu);
    s.busy = Median(busy);
    s.hook_calls = Median(calls);
    s.paired_cpu = Median(paired_cpu);
    s.paired_rate = Median(paired_rate);
    sums.push_back(s);
  }

  std::printf(
      "\n==== hook overhead summary (medians of %d; cost = server CPU per handshake vs (a)) "
      "====\n",
      runs);
  std::printf("%-50s %7s %7s %7s %9s %8s %8s %7s %5s %6s %4s\n", "", "hs/s", "/(a)", "paired",
              "srv us/hs", "cost", "paired", "srv cpu", "hooks", "errors", "cut");
  const Summary& a = sums[0];
  for (size_t i = 0; i < configs.size(); ++i) {
    const Summary& s = sums[i];
    double cost = a.cpu_us > 0 ? s.cpu_us / a.cpu_us - 1 : 0;
    std::printf(
        "%-3s %-46s %7.0f %6.3fx %6.3fx %9.1f %+7.1f%% %+7.1f%% %6.0f%% %5.2f %6lld %4lld\n",
        configs[i].label, configs[i].name, s.rate, a.rate > 0 ? s.rate / a.rate : 0, s.paired_rate,
        s.cpu_us, 100 * cost, 100 * (s.paired_cpu - 1), 100 * s.busy, s.hook_calls,
        static_cast<long long>(s.errors), static_cast<long long>(s.failed));
  }
  std::printf(
      "(cost: ratio of the medians; paired: median over rounds of the ratio to (a) in the same "
      "round, the verdict; cut: handshakes the server saw cut off when a window ended)\n\n");
  for (size_t i = 0; i < configs.size(); ++i) {
    const Summary& s = sums[i];
    if (!first_errors[i].empty()) {
      std::printf("first load error %s: %s\n", configs[i].label, first_errors[i].c_str());
    }
    if (i == 0) {
      std::printf(
          "%s %-46s %.0f hs/s, %.1f us of server CPU per handshake (server core %.0f%% busy)\n",
          configs[i].label, configs[i].name, s.rate, s.cpu_us, 100 * s.busy);
      continue;
    }
    double cost = s.paired_cpu - 1;
    bool calls_ok = s.hook_calls > 3.5 && s.hook_calls < 4.5;
    bool ok = cost < configs[i].target && s.errors == 0 && calls_ok;
    std::printf(
        "%s %-46s server CPU/handshake %+.1f%% vs (a) (paired median; medians %.1f vs %.1f us = "
        "%+.1f%%), hs/s x%.3f (paired x%.3f), %.2f hook calls/hs  target %s %s%s%s\n",
        configs[i].label, configs[i].name, 100 * cost, s.cpu_us, a.cpu_us,
        100 * (a.cpu_us > 0 ? s.cpu_us / a.cpu_us - 1 : 0), a.rate > 0 ? s.rate / a.rate : 0,
        s.paired_rate, s.hook_calls, configs[i].target_name, ok ? "[ok]" : "[MISSED]",
        s.errors != 0 ? " (load errors)" : "", calls_ok ? "" : " (hooks did not run 4x/hs)");
  }
  if (a.busy < 0.9) {
    std::printf(
        "note: the server core was only %.0f%% busy in (a): the load core limits hs/s, so hs/s "
        "ratios say little about the hooks; the server CPU per handshake is the measure\n",
        100 * a.busy);
  }
  return 0;
}

// ---- main ------------------------------------------------------------------------------------

// DefaultPlugin finds libhook_probe.so in the runfiles of |argv0| ("" if it is not there).
std::string DefaultPlugin(const char* argv0) {
  std::string path = std::string(argv0) + ".runfiles/tollgate/plugins/hook_probe/libhook_probe.so";
  return access(path.c_str(), R_OK) == 0 ? path : "";
}

std::string Absolute(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char cwd[4096];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) Die("getcwd");
  return std::string(cwd) + "/" + path;
}

int Main(int argc, char** argv) {
  bool hooks = false;
  int hook_runs = kRuns;
  std::string plugin;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--hooks") {
      hooks = true;
    } else if (arg.rfind("--plugin=", 0) == 0) {
      plugin = arg.substr(9);
    } else if (arg.rfind("--runs=", 0) == 0) {
      hook_runs = std::atoi(arg.c_str() + 7);
      if (hook_runs < 1 || hook_runs > 21) {
        std::fprintf(stderr, "tls_bench: --runs must be 1..21\n");
        return 2;
      }
    } else {
      std::fprintf(stderr,
                   "usage: tls_bench [--hooks [--runs=N]] [--plugin=path/libhook_probe.so]\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) Die("setrlimit");
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (hooks) {
    if (plugin.empty()) plugin = DefaultPlugin(argv[0]);
    if (plugin.empty() || access(plugin.c_str(), R_OK) != 0) {
      std::fprintf(stderr, "tls_bench: --hooks needs libhook_probe.so: --plugin=PATH ('%s')\n",
                   plugin.c_str());
      return 2;
    }
    std::printf(
        "tls_bench --hooks: cpus online %ld; servers (1 ET_NET + 1 ET_TASK thread each, plugin "
        "hosts) on CPU %d, load on CPU %d; 127.0.0.1 only\n",
        cpus, kServerCpu, kLoadCpu);
  }
  Certs certs;
  absl::StatusOr<BenchCert> ecdsa = MakeSelfSigned(BenchKeyType::kEcdsaP256, "a.test");
  absl::StatusOr<BenchCert> rsa = MakeSelfSigned(BenchKeyType::kRsa2048, "rsa.test");
  if (!ecdsa.ok() || !rsa.ok()) Die("certificate generation");
  certs.ecdsa = std::move(*ecdsa);
  certs.rsa = std::move(*rsa);
  if (hooks) return RunHooks(&certs, Absolute(plugin), hook_runs);
  std::printf(
      "tls_bench: cpus online %ld; server (1 ET_NET thread) on CPU %d, load + ceiling on "
      "CPU %d; RLIMIT_NOFILE %llu; 127.0.0.1 only\n",
      cpus, kServerCpu, kLoadCpu, static_cast<unsigned long long>(rl.rlim_cur));

  // Fork before this process has any other thread.
  auto server = std::make_unique<Server>(&certs);
  if (!PinToCpu(kLoadCpu)) Die("sched_setaffinity (load)");

  std::printf(
      "\n[1] in-process ceiling: client and server on one thread over a BIO pair, "
      "%lld ms x %d runs, medians\n",
      static_cast<long long>(kCeilingWindow.count()), kRuns);
  CeilingRow ceil_ecdsa = RunCeilingRuns(Kind::kFullEcdsa, &certs);
  CeilingRow ceil_rsa = RunCeilingRuns(Kind::kFullRsa, &certs);
  CeilingRow ceil_resume = RunCeilingRuns(Kind::kResume, &certs);

  std::printf(
      "\n[2] through SSLNetVConnection (echo, %d conns in flight, %lld ms window after "
      "%lld ms warm-up, %d runs)\n",
      kLoadConns, static_cast<long long>(kHandshakeWindow.count()),
      static_cast<long long>(kWarmUp.count()), kRuns);
  LoadRow rows[3];
  for (Kind kind : {Kind::kFullEcdsa, Kind::kFullRsa, Kind::kResume}) {
    std::printf("  %s (%s engine)\n", KindName(kind), LoadEngineName(EngineFor(kind)));
    rows[static_cast<int>(kind)] =
        RunLoadRuns(server.get(), OptionsFor(kind, server->port(), EngineFor(kind)), false);
  }
  std::printf("  bulk echo, one connection (64 KiB writes, <= 1 MiB in flight; ssl engine)\n");
  LoadOptions bulk{
      .port = server->port(), .mode = LoadMode::kBulk, .duration = kBulkWindow, .warm_up = kWarmUp};
  LoadRow bulk_row = RunLoadRuns(server.get(), bulk, true);
  server.reset();

  std::printf(
      "\n[3] idle TLS connections: %d (handshake + one %d-byte echo each, ssl engine), fresh "
      "server child\n",
      kIdleConnections, kRequestBytes);
  std::fflush(stdout);
  IdleResult idle = RunIdle(&certs);
  std::printf("    %s\n", idle.line.c_str());
  double heap_per = 0, rss_per = 0;
  if (idle.ok) {
    heap_per =
        static_cast<double>(idle.after.heap_in_use - idle.before.heap_in_use) / idle.established;
    rss_per = static_cast<double>(idle.after.rss - idle.before.rss) / idle.established;
    std::printf(
        "    child heap in use (mallinfo2 uordblks+hblkhd) %.1f -> %.1f MiB; RSS %.1f -> "
        "%.1f MiB; open connections %lld; IOBufferData fresh %.1f MiB\n",
        idle.before.heap_in_use / 1048576.0, idle.after.heap_in_use / 1048576.0,
        idle.before.rss / 1048576.0, idle.after.rss / 1048576.0,
        static_cast<long long>(idle.after.open_connections),
        (idle.after.io_data_fresh_bytes - idle.before.io_data_fresh_bytes) / 1048576.0);
  }

  std::printf("\n==== summary (medians of %d) ====\n", kRuns);
  std::printf("%-22s %6s %14s %8s %8s %10s %10s %7s %7s %7s\n", "", "engine", "via SSLNetVC",
              "srv cpu", "load cpu", "ceil srv", "ceil c+s", "/srv", "/c+s", "errors");
  CeilingRow ceilings[3] = {ceil_ecdsa, ceil_rsa, ceil_resume};
  for (Kind kind : {Kind::kFullEcdsa, Kind::kFullRsa, Kind::kResume}) {
    const LoadRow& row = rows[static_cast<int>(kind)];
    const CeilingRow& c = ceilings[static_cast<int>(kind)];
    std::printf("%-22s %6s %9.0f hs/s %7.0f%% %7.0f%% %10.0f %10.0f %6.1f%% %6.1f%% %7lld\n",
                KindName(kind), LoadEngineName(EngineFor(kind)), row.median, 100 * row.server_busy,
                100 * row.load_busy, c.server, c.both, 100 * row.median / c.server,
                100 * row.median / c.both, static_cast<long long>(row.errors));
  }
  const LoadRow& resume = rows[static_cast<int>(Kind::kResume)];
  std::printf("resumed fraction       %.3f (load tool, median run); ceiling %.3f\n",
              resume.resumed_frac, ceil_resume.resumed_frac);
  std::printf(
      "bulk echo, 1 conn      %.1f MB/s (10^6 B/s read back, ssl engine), server cpu %.0f%%\n",
      bulk_row.median, 100 * bulk_row.server_busy);
  std::printf(
      "(engine: the load client; raw = lean TLS 1.3 client, one X25519 key pair per run, no "
      "certificate or CertificateVerify checks, server Finished verified; ssl = BoringSSL "
      "libssl. Both ceilings use the libssl client; 'ceil srv' times only the server's calls)\n");
  for (const LoadRow* r : {&rows[0], &rows[1], &rows[2], &bulk_row}) {
    if (!r->first_error.empty()) std::printf("first load error: %s\n", r->first_error.c_str());
  }
  const LoadRow& ecdsa_row = rows[static_cast<int>(Kind::kFullEcdsa)];
  double ratio = ecdsa_row.median / ceil_ecdsa.server;
  std::printf(
      "\ntarget: full ECDSA via SSLNetVConnection (%s engine) >= 60%% of the SERVER-ONLY "
      "in-process ceiling: %.1f%%  %s\n",
      LoadEngineName(EngineFor(Kind::kFullEcdsa)), 100 * ratio, ratio >= 0.6 ? "[ok]" : "[MISSED]");
  // The same comparison per unit of server CPU: what the rate would be with the server's core
  // saturated. It charges the server its kernel time (accept, TCP) too, which the ceiling lacks.
  double server_us = ecdsa_row.server_busy > 0 ? 1e6 * ecdsa_row.server_busy / ecdsa_row.median : 0;
  double normalised = server_us > 0 ? (1e6 / server_us) / ceil_ecdsa.server : 0;
  std::printf(
      "  per server-CPU second: %.1f us of server CPU per full ECDSA handshake vs %.1f us "
      "in the ceiling = %.1f%% of ceiling if the server core were saturated  %s\n",
      server_us, 1e6 / ceil_ecdsa.server, 100 * normalised,
      normalised >= 0.6 ? "[ok]" : "[MISSED]");
  if (ecdsa_row.server_busy < 0.9 && ecdsa_row.load_busy >= 0.9) {
    std::printf(
        "  note: the server core was only %.0f%% busy: the load tool (one core, %s engine, "
        "%.1f us of load CPU per handshake) limited the rate, not the server\n",
        100 * ecdsa_row.server_busy, LoadEngineName(EngineFor(Kind::kFullEcdsa)),
        1e6 * ecdsa_row.load_busy / ecdsa_row.median);
  } else if (ecdsa_row.server_busy < 0.9) {
    std::printf(
        "  note: neither core was saturated (server %.0f%%, load %.0f%% busy): other processes "
        "took CPU time from them; the hs/s ratio understates the server, the per-CPU figure "
        "above does not\n",
        100 * ecdsa_row.server_busy, 100 * ecdsa_row.load_busy);
  }
  if (idle.ok) {
    std::printf(
        "target: heap per idle TLS connection < 6 KB (6144 B): %.0f B/conn  %s   (RSS "
        "growth %.0f B/conn, for reference; %d established)\n",
        heap_per, heap_per < 6144 ? "[ok]" : "[MISSED]", rss_per, idle.established);
  } else {
    std::printf("target: heap per idle TLS connection: FAILED to measure (%d established)\n",
                idle.established);
  }
  return 0;
}

}  // namespace
}  // namespace tollgate::tls_bench

int main(int argc, char** argv) { return tollgate::tls_bench::Main(argc, argv); }
