// Server: the running proxy. It puts a ConfigSet to work: event threads, plugins, listeners
// (plain HTTP, TLS with SNI certificate selection, tunnels), the HTTP sessions, the admin
// endpoint and, on the embedded defaults, the demo origin. It also reloads and drains.
//
//   absl::StatusOr<std::unique_ptr<Server>> server = Server::Start({.config_dir = dir});
//   ... SIGHUP: (*server)->Reload();   SIGTERM: (*server)->BeginDrain(); ... DrainStep() ...
//
// Start-up prints one line per listener to standard output, then a curl command to try. The
// access log goes to standard output as well; diagnostics go to standard error.
//
// Threads: Start, Reload, BeginDrain, DrainDone and Stop are called from the main thread only.

#ifndef TOLLGATE_PROXY_SERVER_H_
#define TOLLGATE_PROXY_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "iocore/eventsystem/clock.h"
#include "proxy/config/config_set.h"

namespace tollgate {

struct ServerOptions {
  // Empty: the embedded defaults (EmbeddedConfig) and the demo origin.
  std::string config_dir;
};

class Server {
 public:
  // Start loads the configuration, loads the plugins, opens every listener and returns the
  // running server, or the first error (a configuration error names the file and line; a port
  // that cannot be bound names the address and the reason).
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options);

  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Reload rereads the configuration directory and, if every file is valid, installs the new
  // certificates, ticket keys, sni.yaml and remap.config for connections accepted from now on;
  // connections in flight keep what they started with. On any error the running configuration
  // stays and the error is returned. Records that need a restart (ports, threads, plugins) are
  // reported as warnings and not applied.
  absl::Status Reload();

  // BeginDrain stops accepting, asks idle keep-alive connections to close and lets requests in
  // flight finish (their responses carry "Connection: close").
  void BeginDrain();
  // DrainDone returns whether no client session is left. Call it after BeginDrain, repeatedly;
  // each call also closes connections that became idle since the last.
  bool DrainDone();
  // shutdown_timeout is proxy.config.stop.shutdown_timeout.
  Nanoseconds shutdown_timeout() const;
  // Stop ends the event threads (closing whatever is still open) and flushes the access log.
  void Stop();

  // FlushAccessLog writes the buffered access-log lines.
  void FlushAccessLog();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tollgate

#endif  // TOLLGATE_PROXY_SERVER_H_
