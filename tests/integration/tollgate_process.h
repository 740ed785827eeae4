// The real `tollgate` binary (and other programs: curl, openssl) as child processes of a test,
// plus the configuration directory a test gives the proxy.
//
//   TestProxy proxy;                            // a config dir under TEST_TMPDIR, free ports,
//   proxy.AddRecord("stop.shutdown_timeout", "60");   // a certificate for localhost/a.test
//   proxy.MapPrefix("/", origin_port);          // both listeners -> http://127.0.0.1:origin/
//   ASSERT_TRUE(proxy.Start().ok());            // waits (bounded) for the "listening" lines
//   ... talk to proxy.http_port() / proxy.tls_port() / proxy.admin_port() ...
//   proxy.process().Signal(SIGTERM);
//   EXPECT_EQ(proxy.process().WaitForExit(kExitDeadline), 0);
//
// Every wait here is bounded; a child still running when its Subprocess is destroyed is killed
// (SIGKILL) and reaped, so a failing test never leaves a proxy behind.

#ifndef TOLLGATE_TESTS_INTEGRATION_TOLLGATE_PROCESS_H_
#define TOLLGATE_TESTS_INTEGRATION_TOLLGATE_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "iocore/tls/cert_gen.h"

namespace tollgate::integration {

using Duration = std::chrono::milliseconds;

// How long the proxy may take to print its listening lines. Generous for sanitizer builds.
inline constexpr Duration kStartDeadline{std::chrono::seconds(30)};
// How long a drained proxy may take to exit once nothing is in flight.
inline constexpr Duration kExitDeadline{std::chrono::seconds(30)};
// How long the proxy may take to show an effect (a reload, a flushed log line, a closed
// connection). Only a broken build takes this long.
inline constexpr Duration kEffectDeadline{std::chrono::seconds(20)};

// TestTmpDir returns TEST_TMPDIR (or /tmp outside Bazel).
std::string TestTmpDir();
// MakeTempDir returns a new empty directory under TestTmpDir().
std::string MakeTempDir(absl::string_view prefix);
// WriteFile replaces |path|'s content with |content|; it returns the write error.
absl::Status WriteFile(const std::string& path, absl::string_view content);
// TollgatePath returns the runfiles path of //proxy:tollgate.
std::string TollgatePath();

// PickFreePorts returns |n| distinct loopback TCP ports that were free a moment ago: each is
// bound to 127.0.0.1:0 at the same time, read back and released. Another process may take one
// in the meantime; TestProxy::Start retries with new ports when a bind fails.
std::vector<uint16_t> PickFreePorts(int n);
// PortIsFree returns whether 127.0.0.1:|port| can be bound now.
bool PortIsFree(uint16_t port);

// RaiseFileLimit raises RLIMIT_NOFILE's soft limit to at least |want| (up to the hard limit) for
// this process and the children it starts from now on. It returns the soft limit in force.
uint64_t RaiseFileLimit(uint64_t want);

// Subprocess: one child program with its standard output and error read by two threads, so that
// neither pipe can fill up and block the child.
class Subprocess {
 public:
  // Spawn starts argv[0] (a path; no PATH search) with |argv|. Standard output goes to
  // |stdout_file| when it is not empty (for large outputs), else it is captured in memory.
  // Standard input is /dev/null. It returns the spawn error.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Spawn(const std::vector<std::string>& argv,
                                                           const std::string& stdout_file = "");

  // ~Subprocess kills the child (SIGKILL) if it is still running, reaps it and joins the
  // reader threads.
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }

  // Stdout and Stderr return everything read so far.
  std::string Stdout() const;
  std::string Stderr() const;

  // WaitForStdout / WaitForStderr return true once |pred| holds for everything read so far on
  // that stream, false when |timeout| passes first or the stream ends without it holding.
  bool WaitForStdout(const std::function<bool(const std::string&)>& pred, Duration timeout);
  bool WaitForStderr(const std::function<bool(const std::string&)>& pred, Duration timeout);
  // Contains-text shorthands for the above.
  bool WaitForStdoutText(absl::string_view text, Duration timeout);
  bool WaitForStderrText(absl::string_view text, Duration timeout);

  // Signal sends |sig| to the child; false if it has already been reaped.
  bool Signal(int sig);

  // WaitForExit returns the exit code (0..255), or -N when signal N killed the child, once the
  // child has exited and both streams reached their end; nullopt if |timeout| passes first (the
  // child keeps running).
  std::optional<int> WaitForExit(Duration timeout);
  // Exited returns whether the child has been reaped.
  bool Exited() const;
  // KillAndWait sends SIGKILL and waits for the child (bounded by kExitDeadline).
  void KillAndWait();

 private:
  Subprocess() = default;
  void ReadLoop(int fd, std::string* out);
  bool WaitFor(const std::string* stream, const std::function<bool(const std::string&)>& pred,
               Duration timeout);

  pid_t pid_ = -1;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string stdout_;  // guarded by mu_
  std::string stderr_;  // guarded by mu_
  int open_streams_ = 0;  // guarded by mu_: reader threads that have not reached EOF
  std::optional<int> exit_code_;  // guarded by mu_
  std::vector<std::thread> threads_;
};

// RunResult is what a program that ran to completion printed and returned.
struct RunResult {
  int exit_code = -1;  // -1: did not finish in time (it was killed)
  std::string out;  // empty when stdout went to a file
  std::string err;
};

// RunProgram runs |argv| to completion, bounded by |timeout| (then SIGKILL, exit_code -1).
RunResult RunProgram(const std::vector<std::string>& argv, Duration timeout,
                     const std::string& stdout_file = "");

// StartTollgate runs the binary with |args| and waits (up to kStartDeadline) until it has
// printed its start-up lines (the "try: curl" line ends them). It returns an error with the
// binary's stderr if it exits or stays silent instead.
absl::StatusOr<std::unique_ptr<Subprocess>> StartTollgate(const std::vector<std::string>& args);

// TestProxy: a configuration directory for the binary, with three free loopback ports (plain
// HTTP, TLS, admin), one certificate, records and remap rules, and the running process.
class TestProxy {
 public:
  // The default certificate: CN "tollgate-test-1", for localhost, a.test and 127.0.0.1.
  static CertOptions DefaultCert();

  TestProxy();
  ~TestProxy();
  TestProxy(const TestProxy&) = delete;
  TestProxy& operator=(const TestProxy&) = delete;

  // AddRecord adds `ts: KEY: VALUE` to records.yaml (a dotted key below ts:, e.g.
  // "http.transaction_no_activity_timeout_out"). Call before Start.
  void AddRecord(const std::string& key, const std::string& value);
  // MapPrefix adds remap rules sending |prefix| (which starts and ends with '/') on both
  // listeners, for the Hosts 127.0.0.1:PORT, localhost:PORT and a.test:PORT, to
  // http://127.0.0.1:|origin_port|/ (the rest of the path follows). Call before Start.
  void MapPrefix(const std::string& prefix, uint16_t origin_port);

  // WriteCert replaces the certificate and key files with a new self-signed certificate. The
  // running proxy serves it after a SIGHUP.
  absl::Status WriteCert(const CertOptions& options);
  // WriteRemap writes remap.config from the rules added so far plus |extra_lines|.
  absl::Status WriteRemap(const std::string& extra_lines = "");

  // Start writes the files and starts the binary on them, waiting for its start-up lines. A
  // port taken meanwhile by another process: new ports, up to three attempts.
  absl::Status Start();

  Subprocess& process() { return *process_; }
  const std::string& dir() const { return dir_; }
  uint16_t http_port() const { return http_port_; }
  uint16_t tls_port() const { return tls_port_; }
  uint16_t admin_port() const { return admin_port_; }
  std::string cert_path() const { return dir_ + "/server.pem"; }
  std::string key_path() const { return dir_ + "/server.key"; }

 private:
  void PickPorts();
  absl::Status WriteRecords();

  std::string dir_;
  uint16_t http_port_ = 0;
  uint16_t tls_port_ = 0;
  uint16_t admin_port_ = 0;
  std::vector<std::pair<std::string, std::string>> records_;
  std::vector<std::pair<std::string, uint16_t>> maps_;
  std::unique_ptr<Subprocess> process_;
};

}  // namespace tollgate::integration

#endif  // TOLLGATE_TESTS_INTEGRATION_TOLLGATE_PROCESS_H_
