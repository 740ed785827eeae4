// TLS load generation on BoringSSL: one thread, epoll, non-blocking sockets, 127.0.0.1 only.
//
// The server under load is assumed to echo every byte it receives and to close its side when
// the client has shut down its sending side (EOS). Nothing else about the server is assumed, so
// the same load runs against an SSLNetVConnection echo port (tls_bench) and, later, against any
// TLS port of the `tollgate` binary that echoes.
//
//   LoadOptions options{.port = 8443, .mode = LoadMode::kFull, .conns = 64};
//   absl::StatusOr<LoadResult> result = RunLoad(options);
//   if (result.ok()) std::printf("%s\n", result->Line().c_str());
//
// Modes:
//   kFull    per connection: TCP connect, full TLS 1.3 handshake (X25519 only, no ticket
//            offered), write |request_bytes|, read them back, close_notify + SHUT_WR, wait for
//            the server's close. |conns| connections are kept in flight.
//   kResume  the same, but every connection offers the newest session ticket the tool received
//            (TLS 1.3 PSK with X25519). Tickets arrive after the handshake (new-session
//            callback); connections that start before the first one arrives are full. The
//            result counts how many were really resumed.
//   kBulk    one connection: write |bulk_chunk| bytes at a time with at most |bulk_in_flight|
//            bytes not yet echoed back, for |duration|; the result's bytes are bytes echoed back.
//   kIdle    open |conns| connections (at most |idle_concurrency| handshaking at once), each
//            with a handshake and one echo, then call |on_idle_established| with all of them
//            open and idle, then close them all.
//
// Engines:
//   kSsl     BoringSSL's libssl client (every mode). It checks the CertificateVerify signature
//            and generates a key share per connection, so per full ECDSA handshake it spends
//            more CPU than the server it measures.
//   kRaw     a minimal TLS 1.3 client on libcrypto (raw_tls13_client.h), kFull only: one X25519
//            key pair for the whole run, the certificate and CertificateVerify not checked (the
//            server Finished is), so that one load core can saturate one server core. The
//            server still does a full handshake with a fresh ECDHE share and signature.
//
// Every run ends by |duration| (kIdle: by |idle_setup_deadline|) plus a drain deadline, and
// starts at most |max_connections| connections.

#ifndef TOLLGATE_TOOLS_TLS_BENCH_TLS_LOAD_H_
#define TOLLGATE_TOOLS_TLS_BENCH_TLS_LOAD_H_

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"

namespace tollgate::tls_bench {

enum class LoadMode {
  kFull,
  kResume,
  kBulk,
  kIdle,
};

// LoadModeName returns "full", "resume", "bulk" or "idle".
const char* LoadModeName(LoadMode mode);

// ParseLoadMode maps a LoadModeName back; false for anything else.
bool ParseLoadMode(const std::string& name, LoadMode* mode);

enum class LoadEngine {
  kSsl,
  kRaw,
};

// LoadEngineName returns "ssl" or "raw".
const char* LoadEngineName(LoadEngine engine);

// ParseLoadEngine maps a LoadEngineName back; false for anything else.
bool ParseLoadEngine(const std::string& name, LoadEngine* engine);

struct LoadOptions {
  // The server's port on 127.0.0.1.
  uint16_t port = 0;
  LoadMode mode = LoadMode::kFull;
  // The client engine. kSsl by default, which runs every mode; kRaw runs kFull only.
  LoadEngine engine = LoadEngine::kSsl;
  // Connections in flight (kFull, kResume) or to hold open (kIdle). kBulk uses one.
  int conns = 32;
  // Measurement window (kFull, kResume, kBulk), after |warm_up|.
  std::chrono::milliseconds duration{3000};
  // Time before the window during which completions are not counted (lets a resume run collect
  // its first ticket and the server warm its caches).
  std::chrono::milliseconds warm_up{300};
  // Hard cap on connections started, whatever the duration.
  int64_t max_connections = 10'000'000;
  // Server name sent in the ClientHello ("" sends none).
  std::string sni = "a.test";
  // Offer only RSA-PSS signature algorithms, so that the server must use an RSA certificate.
  bool rsa = false;
  // Bytes written and read back per connection (kFull, kResume, kIdle).
  int request_bytes = 64;
  // kBulk: bytes per SSL_write and the most written but not yet echoed back.
  int bulk_chunk = 64 * 1024;
  int bulk_in_flight = 1024 * 1024;
  // kIdle: handshakes in flight while opening, and the time allowed to open all |conns|.
  int idle_concurrency = 64;
  std::chrono::milliseconds idle_setup_deadline{60000};
  // kIdle: called once every connection is established and idle (or the set-up deadline
  // passed), with the number established. The connections stay open until it returns.
  std::function<void(int established)> on_idle_established;
  // A connection that has not finished within this time is closed and counted as an error.
  std::chrono::milliseconds connection_deadline{5000};
};

struct LoadResult {
  LoadMode mode = LoadMode::kFull;
  LoadEngine engine = LoadEngine::kSsl;
  int conns = 0;
  double secs = 0;  // length of the counted window
  int64_t completed = 0;  // connections that finished their whole exchange in the window
  int64_t errors = 0;  // in the whole run, warm-up included
  int64_t resumed = 0;  // of |completed|, resumed handshakes
  int64_t bytes = 0;  // application bytes read back in the window
  int64_t established = 0;  // kIdle: connections established and idle
  std::string first_error;

  // per_sec returns completed / secs (0 for an empty window).
  double per_sec() const { return secs > 0 ? completed / secs : 0; }
  // mb_per_sec returns bytes / secs / 10^6.
  double mb_per_sec() const { return secs > 0 ? bytes / secs / 1e6 : 0; }
  // Line returns the one-line machine-readable form, e.g.
  // "mode=full engine=raw conns=64 secs=3.00 handshakes=31234 per_sec=10411.3 resumed=0 ...".
  std::string Line() const;
};

// NewClientContext returns the client context the load uses for |options| (TLS 1.3 only, X25519
// only, no chain verification, RSA-PSS-only signature algorithms when |options.rsa|), without
// session caching or callbacks. InternalError if BoringSSL refuses a setting. Any thread.
absl::StatusOr<bssl::UniquePtr<SSL_CTX>> NewClientContext(const LoadOptions& options);

// RunLoad runs one load against 127.0.0.1:|options.port| on the calling thread and returns what
// it measured. Errors of single connections are counted in the result; the run itself fails
// (InvalidArgument / Internal) only for bad options (among them LoadEngine::kRaw with a mode
// other than kFull) or when BoringSSL or epoll cannot be set up. Not thread-safe with respect to
// |options|; any thread otherwise.
absl::StatusOr<LoadResult> RunLoad(const LoadOptions& options);

}  // namespace tollgate::tls_bench

#endif  // TOLLGATE_TOOLS_TLS_BENCH_TLS_LOAD_H_
