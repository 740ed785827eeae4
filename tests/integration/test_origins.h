// Origins the integration tests put behind the proxy, in the test process.
//
// PatternOrigin: the project's DemoOrigin (proxy/demo_origin.h: /bytes/N, /echo, /status/NNN,
// keep-alive, pipelining) on its own event threads, for bulk and load tests.
//
// ScriptedOrigin: a blocking origin on plain threads, one per connection, whose every
// connection runs a handler the test writes: answer chunked or close-delimited, stay silent,
// reset before answering, record what the proxy forwarded.
//
//   absl::StatusOr<std::unique_ptr<ScriptedOrigin>> origin =
//       ScriptedOrigin::Start([](OriginConnection& c) {
//         if (c.ReadHead().ok()) c.Reset();   // RST before any response
//       });
//   proxy.MapPrefix("/reset/", (*origin)->port());

#ifndef TOLLGATE_TESTS_INTEGRATION_TEST_ORIGINS_H_
#define TOLLGATE_TESTS_INTEGRATION_TEST_ORIGINS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tests/integration/tollgate_process.h"

namespace tollgate {
class DemoOrigin;
class EventProcessor;
class NetProcessor;
}  // namespace tollgate

namespace tollgate::integration {

// ---- PatternOrigin
// -------------------------------------------------------------------------------

class PatternOrigin {
 public:
  // Start serves DemoOrigin on 127.0.0.1 (an ephemeral port) with |net_threads| event threads.
  static absl::StatusOr<std::unique_ptr<PatternOrigin>> Start(int net_threads = 1);
  // ~PatternOrigin stops the event threads, then frees the origin.
  ~PatternOrigin();
  PatternOrigin(const PatternOrigin&) = delete;
  PatternOrigin& operator=(const PatternOrigin&) = delete;

  uint16_t port() const { return port_; }
  // active_sessions returns the origin connections open now.
  int64_t active_sessions() const;

 private:
  PatternOrigin();
  std::unique_ptr<EventProcessor> events_;
  std::unique_ptr<NetProcessor> net_;
  std::unique_ptr<DemoOrigin> origin_;
  uint16_t port_ = 0;
};

// ---- ScriptedOrigin
// ------------------------------------------------------------------------------

// OriginConnection: one accepted connection, as its handler sees it. Reads and writes are
// blocking and bounded by kIoTimeout-style socket timeouts.
class OriginConnection {
 public:
  // |release| closes |fd| (the origin keeps the list of open connections in step with it);
  // |record_head| gets each head ReadHead returns.
  OriginConnection(int fd, std::function<void(int)> release,
                   std::function<void(const std::string&)> record_head);
  ~OriginConnection();
  OriginConnection(const OriginConnection&) = delete;
  OriginConnection& operator=(const OriginConnection&) = delete;

  // ReadHead returns the next request head through its empty line; the bytes after it stay
  // buffered for ReadExactly. OutOfRange when the peer closed first.
  absl::StatusOr<std::string> ReadHead();
  // ReadExactly returns the next |n| bytes.
  absl::StatusOr<std::string> ReadExactly(size_t n);
  // ReadChunkedBody returns a chunked body, decoded, through its last chunk and trailers.
  absl::StatusOr<std::string> ReadChunkedBody();
  // Write sends all of |bytes|.
  absl::Status Write(absl::string_view bytes);
  // WaitForPeerClose returns true when the proxy closes the connection (EOF or reset) within
  // |timeout|, discarding what it sends meanwhile.
  bool WaitForPeerClose(Duration timeout);
  // Reset closes the connection with a TCP RST (SO_LINGER 0).
  void Reset();
  // Close closes the connection normally (FIN).
  void Close();

 private:
  absl::Status Fill();

  int fd_;
  std::string buffer_;
  std::function<void(int)> release_;
  std::function<void(const std::string&)> record_head_;
};

class ScriptedOrigin {
 public:
  using Handler = std::function<void(OriginConnection&)>;

  // Start listens on 127.0.0.1 (an ephemeral port) and runs |handler| on its own thread for
  // each connection; the connection is closed when the handler returns.
  static absl::StatusOr<std::unique_ptr<ScriptedOrigin>> Start(Handler handler);
  // ~ScriptedOrigin stops accepting, shuts every open connection down (so that blocked handlers
  // return) and joins the threads.
  ~ScriptedOrigin();
  ScriptedOrigin(const ScriptedOrigin&) = delete;
  ScriptedOrigin& operator=(const ScriptedOrigin&) = delete;

  uint16_t port() const { return port_; }
  // accepted returns the connections accepted so far.
  int accepted() const { return accepted_.load(); }
  // heads returns every request head the handlers read, in the order read.
  std::vector<std::string> heads() const;

 private:
  ScriptedOrigin() = default;
  void AcceptLoop();

  Handler handler_;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<std::thread> workers_;  // guarded by mu_
  std::vector<int> open_fds_;  // guarded by mu_
  std::vector<std::string> heads_;  // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
};

}  // namespace tollgate::integration

#endif  // TOLLGATE_TESTS_INTEGRATION_TEST_ORIGINS_H_
