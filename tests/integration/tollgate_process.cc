#include "tests/integration/tollgate_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace tollgate::integration {
namespace {

// A listening-capable socket bound to 127.0.0.1:|port| (0: any free port), or -1. SO_REUSEADDR
// as servers set it: connections in TIME_WAIT on the port do not make it "taken".
int BindLoopback(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

uint16_t BoundPort(int fd) {
  sockaddr_in sin{};
  socklen_t len = sizeof(sin);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len) != 0) return 0;
  return ntohs(sin.sin_port);
}

}  // namespace

std::string TestTmpDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

std::string MakeTempDir(absl::string_view prefix) {
  std::string templ = absl::StrCat(TestTmpDir(), "/", prefix, ".XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) return "";
  return templ;
}

absl::Status WriteFile(const std::string& path, absl::string_view content) {
  std::ofstream out(path, std::ios::trunc | std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out.good()) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

std::string TollgatePath() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  return absl::StrCat(srcdir != nullptr ? srcdir : ".", "/tollgate/proxy/tollgate");
}

std::vector<uint16_t> PickFreePorts(int n) {
  std::vector<int> fds;
  std::vector<uint16_t> ports;
  for (int i = 0; i < n; ++i) {
    const int fd = BindLoopback(0);
    if (fd < 0) break;
    fds.push_back(fd);
    ports.push_back(BoundPort(fd));
  }
  for (int fd : fds) close(fd);
  return ports;
}

bool PortIsFree(uint16_t port) {
  const int fd = BindLoopback(port);
  if (fd < 0) return false;
  close(fd);
  return true;
}

uint64_t RaiseFileLimit(uint64_t want) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < want) {
    limit.rlim_cur = std::min<rlim_t>(want, limit.rlim_max);
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

// ---- Subprocess
// ----------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Spawn(const std::vector<std::string>& argv,
                                                              const std::string& stdout_file) {
  if (argv.empty()) return absl::InvalidArgumentError("no program");
  // A test writing to a connection the proxy closed must see EPIPE, not die.
  signal(SIGPIPE, SIG_IGN);
  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  // O_CLOEXEC: children spawned concurrently (curl) must not hold our pipes open.
  if (stdout_file.empty() && pipe2(out_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", strerror(errno)));
  }
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  if (stdout_file.empty()) {
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_file.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
  }
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigset_t no_mask;
  sigemptyset(&no_mask);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &no_mask);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int spawn_error = posix_spawn(&pid, argv[0].c_str(), &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (out_pipe[1] >= 0) close(out_pipe[1]);
  close(err_pipe[1]);
  if (spawn_error != 0) {
    if (out_pipe[0] >= 0) close(out_pipe[0]);
    close(err_pipe[0]);
    return absl::InternalError(absl::StrCat("cannot run ", argv[0], ": ", strerror(spawn_error)));
  }

  std::unique_ptr<Subprocess> child(new Subprocess());
  child->pid_ = pid;
  Subprocess* raw = child.get();
  {
    std::lock_guard<std::mutex> lock(child->mu_);
    child->open_streams_ = out_pipe[0] >= 0 ? 2 : 1;
  }
  if (out_pipe[0] >= 0) {
    child->threads_.emplace_back([raw, fd = out_pipe[0]] { raw->ReadLoop(fd, &raw->stdout_); });
  }
  child->threads_.emplace_back([raw, fd = err_pipe[0]] { raw->ReadLoop(fd, &raw->stderr_); });
  // The waiter learns of the exit without reaping (WNOWAIT) and reaps under mu_, so Signal,
  // which checks exit_code_ under mu_, never signals a pid that was reused.
  child->threads_.emplace_back([raw] {
    siginfo_t info{};
    while (waitid(P_PID, static_cast<id_t>(raw->pid_), &info, WEXITED | WNOWAIT) != 0 &&
           errno == EINTR) {
    }
    std::lock_guard<std::mutex> lock(raw->mu_);
    int status = 0;
    while (waitpid(raw->pid_, &status, 0) < 0 && errno == EINTR) {
    }
    raw->exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status)
        : WIFSIGNALED(status)           ? -WTERMSIG(status)
                                        : -1000;
    raw->cv_.notify_all();
  });
  return child;
}

Subprocess::~Subprocess() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!exit_code_.has_value()) kill(pid_, SIGKILL);
  }
  for (std::thread& t : threads_) t.join();
}

void Subprocess::ReadLoop(int fd, std::string* out) {
  char buf[64 * 1024];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::lock_guard<std::mutex> lock(mu_);
    out->append(buf, static_cast<size_t>(n));
    cv_.notify_all();
  }
  close(fd);
  std::lock_guard<std::mutex> lock(mu_);
  --open_streams_;
  cv_.notify_all();
}

std::string Subprocess::Stdout() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stdout_;
}

std::string Subprocess::Stderr() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stderr_;
}

bool Subprocess::WaitFor(const std::string* stream,
                         const std::function<bool(const std::string&)>& pred, Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  bool matched = false;
  cv_.wait_for(lock, timeout, [&] {
    matched = pred(*stream);
    // Both streams at their end: nothing more will come on either.
    return matched || open_streams_ == 0;
  });
  return matched;
}

bool Subprocess::WaitForStdout(const std::function<bool(const std::string&)>& pred,
                               Duration timeout) {
  return WaitFor(&stdout_, pred, timeout);
}

bool Subprocess::WaitForStderr(const std::function<bool(const std::string&)>& pred,
                               Duration timeout) {
  return WaitFor(&stderr_, pred, timeout);
}

bool Subprocess::WaitForStdoutText(absl::string_view text, Duration timeout) {
  return WaitForStdout([text](const std::string& s) { return absl::StrContains(s, text); },
                       timeout);
}

bool Subprocess::WaitForStderrText(absl::string_view text, Duration timeout) {
  return WaitForStderr([text](const std::string& s) { return absl::StrContains(s, text); },
                       timeout);
}

bool Subprocess::Signal(int sig) {
  std::lock_guard<std::mutex> lock(mu_);
  if (exit_code_.has_value()) return false;
  return kill(pid_, sig) == 0;
}

std::optional<int> Subprocess::WaitForExit(Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return exit_code_.has_value() && open_streams_ == 0; })) {
    return std::nullopt;
  }
  return exit_code_;
}

bool Subprocess::Exited() const {
  std::lock_guard<std::mutex> lock(mu_);
  return exit_code_.has_value();
}

void Subprocess::KillAndWait() {
  Signal(SIGKILL);
  WaitForExit(kExitDeadline);
}

RunResult RunProgram(const std::vector<std::string>& argv, Duration timeout,
                     const std::string& stdout_file) {
  RunResult result;
  absl::StatusOr<std::unique_ptr<Subprocess>> child = Subprocess::Spawn(argv, stdout_file);
  if (!child.ok()) {
    result.err = std::string(child.status().message());
    return result;
  }
  std::optional<int> code = (*child)->WaitForExit(timeout);
  if (!code.has_value()) {
    (*child)->KillAndWait();
    result.err = absl::StrCat(argv[0], " did not finish within ", timeout.count(), " ms\n");
  }
  result.exit_code = code.value_or(-1);
  result.out = (*child)->Stdout();
  result.err += (*child)->Stderr();
  return result;
}

absl::StatusOr<std::unique_ptr<Subprocess>> StartTollgate(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {TollgatePath()};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<std::unique_ptr<Subprocess>> child = Subprocess::Spawn(argv);
  if (!child.ok()) return child.status();
  // The "try: curl ..." line is the last of the start-up lines.
  const bool ready = (*child)->WaitForStdout(
      [](const std::string& out) {
        const size_t at = out.rfind("try: ");
        return at != std::string::npos && (at == 0 || out[at - 1] == '\n') &&
            out.find('\n', at) != std::string::npos;
      },
      kStartDeadline);
  if (!ready) {
    std::optional<int> code = (*child)->WaitForExit(std::chrono::seconds(2));
    if (!code.has_value()) (*child)->KillAndWait();
    return absl::UnavailableError(absl::StrCat(
        "tollgate did not start (", code.has_value() ? absl::StrCat("exit ", *code) : "no exit",
        ")\nstdout:\n", (*child)->Stdout(), "\nstderr:\n", (*child)->Stderr()));
  }
  return child;
}

// ---- TestProxy
// -----------------------------------------------------------------------------------

CertOptions TestProxy::DefaultCert() {
  return CertOptions{.common_name = "tollgate-test-1",
                     .dns_names = {"localhost", "a.test"},
                     .ip_addresses = {"127.0.0.1"}};
}

TestProxy::TestProxy() : dir_(MakeTempDir("proxy")) {
  PickPorts();
  (void)WriteCert(DefaultCert());
  (void)WriteFile(dir_ + "/ssl_multicert.config",
                  "dest_ip=* ssl_cert_name=server.pem ssl_key_name=server.key\n");
}

TestProxy::~TestProxy() {
  if (process_ != nullptr && !process_->Exited()) process_->KillAndWait();
}

void TestProxy::PickPorts() {
  std::vector<uint16_t> ports = PickFreePorts(3);
  if (ports.size() != 3) return;
  http_port_ = ports[0];
  tls_port_ = ports[1];
  admin_port_ = ports[2];
}

void TestProxy::AddRecord(const std::string& key, const std::string& value) {
  records_.emplace_back(key, value);
}

void TestProxy::MapPrefix(const std::string& prefix, uint16_t origin_port) {
  maps_.emplace_back(prefix, origin_port);
}

absl::Status TestProxy::WriteCert(const CertOptions& options) {
  absl::StatusOr<GeneratedCert> cert = MakeCert(options);
  if (!cert.ok()) return cert.status();
  // Key first, then certificate, each replaced by rename: a reload never reads half a file.
  for (const auto& [path, content] :
       {std::pair{key_path(), cert->KeyPem()}, std::pair{cert_path(), cert->CertPem()}}) {
    const std::string tmp = path + ".tmp";
    if (absl::Status s = WriteFile(tmp, content); !s.ok()) return s;
    if (rename(tmp.c_str(), path.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("rename ", tmp, ": ", strerror(errno)));
    }
  }
  return absl::OkStatus();
}

absl::Status TestProxy::WriteRecords() {
  std::string yaml =
      absl::StrCat("ts:\n  http.server_ports: \"", http_port_, ":ip-in=127.0.0.1 ", tls_port_,
                   ":ssl:ip-in=127.0.0.1\"\n", "  admin.port: ", admin_port_, "\n");
  for (const auto& [key, value] : records_) absl::StrAppend(&yaml, "  ", key, ": ", value, "\n");
  return WriteFile(dir_ + "/records.yaml", yaml);
}

absl::Status TestProxy::WriteRemap(const std::string& extra_lines) {
  std::string remap;
  for (const auto& [prefix, origin_port] : maps_) {
    for (const char* host : {"127.0.0.1", "localhost", "a.test"}) {
      absl::StrAppend(&remap, "map http://", host, ":", http_port_, prefix,
                      " http://127.0.0.1:", origin_port, "/\n");
      absl::StrAppend(&remap, "map https://", host, ":", tls_port_, prefix,
                      " http://127.0.0.1:", origin_port, "/\n");
    }
  }
  remap += extra_lines;
  return WriteFile(dir_ + "/remap.config", remap);
}

absl::Status TestProxy::Start() {
  if (dir_.empty()) return absl::InternalError("no config directory");
  absl::Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (http_port_ == 0) return absl::InternalError("no free ports");
    if (absl::Status s = WriteRecords(); !s.ok()) return s;
    if (absl::Status s = WriteRemap(); !s.ok()) return s;
    absl::StatusOr<std::unique_ptr<Subprocess>> started = StartTollgate({"--config-dir", dir_});
    if (started.ok()) {
      process_ = *std::move(started);
      return absl::OkStatus();
    }
    last = started.status();
    if (!absl::StrContains(last.message(), "in use")) return last;
    PickPorts();  // someone took a port between PickFreePorts and the bind
  }
  return last;
}

}  // namespace tollgate::integration
