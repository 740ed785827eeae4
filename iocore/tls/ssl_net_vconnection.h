// SSLNetVConnection: a TLS connection (server side) that upper layers use exactly like a TCP one.
//
// From accept until established, the connection runs its handshake by itself; nobody above it
// sees the connection until then. One driver, Drive(), is called from read and write readiness
// and from hook resumption; it returns what the handshake waits for (Wait), and only Apply()
// turns that into net-layer changes. Phases, in order:
//
//   1. VCONN_START hooks, before a byte is read. A tunnel decided here is handed over once the
//      ClientHello is in, so that its SNI (or sni.yaml's tunnel_route) names the destination;
//      the ClientHello is replayed and no other handshake hook runs.
//   2. ClientHello: every byte read from the socket is recorded, in this object only, until
//      the certificate is chosen, so that a tunnel decision can replay it byte-exact.
//   3. In BoringSSL's select-certificate callback: CLIENT_HELLO hooks, SERVERNAME hooks (also
//      without SNI), then the certificate lookup (exact SNI, wildcard, dest_ip:port, dest_ip,
//      default; ECDSA or RSA by the client's signature algorithms). A parked hook returns
//      ssl_select_cert_retry; BoringSSL calls back on resume and a cursor skips what ran.
//   4. In the cert callback: CERT hooks; a parked one returns -1 so the ServerHello waits.
//      Recording stops once they are through.
//   5. Established: the connection is handed to the port's acceptor (NET_EVENT_ACCEPT), and its
//      read and write sides switch once to SSL_read / SSL_write.
//
// A tunnel (TSVConnTunnel from a hook, or an `action=tunnel` certificate entry) instead hands the
// connection to the port's tunnel acceptor as a plain byte stream, with the recorded ClientHello
// available from TakeRecordedBytes().
//
// Every connection whose VCONN_START hooks ran gets its VCONN_CLOSE hooks exactly once, also
// when it closes while parked, times out or fails. proxy.config.ssl.handshake_timeout_in covers
// the whole handshake including time parked in hooks.
//
// The TLS bytes go through the connection's socket, or through a TlsTransport given at Adopt
// (tests run the whole driver over in-memory BIO pairs that way: see tls_transport.h).

#ifndef TOLLGATE_IOCORE_TLS_SSL_NET_VCONNECTION_H_
#define TOLLGATE_IOCORE_TLS_SSL_NET_VCONNECTION_H_

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "iocore/net/net_processor.h"
#include "iocore/net/unix_net_vconnection.h"
#include "iocore/tls/cert_table.h"
#include "iocore/tls/sni_config.h"
#include "iocore/tls/ticket_keys.h"
#include "iocore/tls/tls_hooks.h"
#include "iocore/tls/tls_transport.h"

namespace tollgate {

class TlsClientContext;

struct TlsServerSettings {
  bool tls12 = true;  // proxy.config.ssl.TLSv1_2
  bool tls13 = true;  // proxy.config.ssl.TLSv1_3
  // Key-exchange groups, BoringSSL names. CECPQ2 is the X25519 + HRSS post-quantum hybrid of this
  // BoringSSL (TLS 1.3 only); clients that do not offer it are not affected.
  std::string groups = "X25519:P-256:CECPQ2";
  // TLS 1.2 cipher suites, BoringSSL cipher-list syntax; empty keeps BoringSSL's default. (TLS 1.3
  // suites are fixed by BoringSSL.)
  std::string cipher_suites;
  // proxy.config.ssl.handshake_timeout_in: the whole handshake, time parked in hooks included.
  Nanoseconds handshake_timeout = std::chrono::seconds(30);
  // Handshakes parked in hooks at once, process-wide; a handshake that would park beyond it is
  // refused (closed and counted).
  int64_t max_parked_handshakes = 10000;
  // Session tickets, TLS 1.2 and 1.3 (proxy.config.ssl.server.ticket_key.filename). Null: a
  // random ring is made with the port configuration.
  std::shared_ptr<const TicketKeyRing> ticket_keys;
  // TLS 1.2 session-ID cache entries per port configuration; 0 turns the cache off.
  int64_t session_cache_size = 10240;
  // proxy.config.ssl.max_record_size: 0 full records; N > 0 records of at most N bytes (512 ..
  // 16384); -1 records that fit one TCP segment for about the first megabyte, full records
  // after, and small ones again after a second without writes.
  int max_record_size = 0;
  // proxy.config.ssl.client.certification_level (0 NONE, 1 MODERATE, 2 STRICT): whether a client
  // certificate is requested and required, unless sni.yaml says otherwise for the name.
  SniPolicy::VerifyClient verify_client = SniPolicy::VerifyClient::kNone;
  // proxy.config.ssl.CA.cert.filename / .path: trust anchors for client certificates.
  std::string client_ca_file;
  std::string client_ca_dir;
};

// Everything a TLS port's connections share. Immutable once built; a reload builds a new one.
struct TlsPortConfig {
  std::shared_ptr<const CertTable> certs;
  TlsServerSettings settings;
  // The context each connection starts on: versions, groups and the callbacks below. The
  // certificate comes from |certs| during the handshake.
  bssl::UniquePtr<SSL_CTX> base_ctx;
  // Hook lists (null: no hooks).
  const TlsHookRegistry* hooks = nullptr;
  // Receives NET_EVENT_ACCEPT with the established connection (NetVConnection*) when no ALPN
  // protocol below was agreed.
  Continuation* acceptor = nullptr;
  // ALPN protocols offered, in server preference order, each with the acceptor that receives
  // connections that agreed on it. Empty: no ALPN.
  std::vector<std::pair<std::string, Continuation*>> protocols;
  // Receives NET_EVENT_ACCEPT with a connection to tunnel blind (SSLNetVConnection*), its
  // recorded bytes in TakeRecordedBytes(). Null: tunnel requests close the connection.
  Continuation* tunnel_acceptor = nullptr;
  // sni.yaml policies (null: none), and what they need built once: client-certificate trust
  // stores, one per policy (null where the policy names none).
  std::shared_ptr<const SniConfig> sni;
  std::vector<bssl::UniquePtr<X509_STORE>> sni_client_ca;
  bssl::UniquePtr<X509_STORE> default_client_ca;
  // Receives NET_EVENT_ACCEPT with an established connection whose sni.yaml policy has a
  // forward_route (its destination in forward_destination()). Null: such connections close.
  Continuation* forward_acceptor = nullptr;
};

// ConfigureServerContext applies |settings| to |ctx| and installs the handshake callbacks every
// server context of Tollgate needs (use it as CertTableOptions::configure_ctx).
absl::Status ConfigureServerContext(SSL_CTX* ctx, const TlsServerSettings& settings);

// TlsPortSpec: what a port configuration is made of.
struct TlsPortSpec {
  std::shared_ptr<const CertTable> certs;
  TlsServerSettings settings;
  const TlsHookRegistry* hooks = nullptr;
  Continuation* acceptor = nullptr;
  std::vector<std::pair<std::string, Continuation*>> protocols;
  Continuation* tunnel_acceptor = nullptr;
  std::shared_ptr<const SniConfig> sni;
  Continuation* forward_acceptor = nullptr;
};

// MakeTlsPortConfig builds a port configuration: its base context (versions, groups,
// callbacks, session cache, ticket keys), client-certificate trust stores and the acceptors.
// InvalidArgument for bad settings (both versions off, an unknown group, an ALPN name longer
// than 255 bytes, a CA file or directory that cannot be loaded, naming the sni.yaml line).
absl::StatusOr<std::shared_ptr<const TlsPortConfig>> MakeTlsPortConfig(TlsPortSpec spec);

// A shorthand without ALPN.
absl::StatusOr<std::shared_ptr<const TlsPortConfig>> MakeTlsPortConfig(
    std::shared_ptr<const CertTable> certs, const TlsServerSettings& settings,
    const TlsHookRegistry* hooks, Continuation* acceptor, Continuation* tunnel_acceptor);

// ---- Client side (connections to origins) ------------------------------------------------------

// TlsClientSettings: how Tollgate speaks TLS to origins.
struct TlsClientSettings {
  // proxy.config.ssl.client.verify.server.policy.
  enum class VerifyPolicy : uint8_t {
    kEnforced,  // a certificate that fails verification (chain or name) fails the connection
    kPermissive,  // failures are logged (tag "ssl") and the connection goes on
    kDisabled,  // no verification
  };
  VerifyPolicy verify_policy = VerifyPolicy::kEnforced;
  // proxy.config.ssl.client.CA.cert.filename / .path: trust anchors for origin certificates.
  std::string ca_file;
  std::string ca_dir;
  bool tls12 = true;
  bool tls13 = true;
  std::string groups = "X25519:P-256";
  Nanoseconds handshake_timeout = std::chrono::seconds(30);
  // Sessions kept for reuse, one per origin address and name.
  size_t session_cache_size = 1024;
};

// TlsClientContext: the client SSL_CTX, the hooks (OUTBOUND_START, VERIFY_SERVER,
// OUTBOUND_CLOSE) and a bounded session cache, shared by every origin connection made with it.
class TlsClientContext {
 public:
  // Make returns a context, or InvalidArgument for settings that cannot be applied (a CA file that
  // cannot be loaded, no TLS version, an unknown group).
  static absl::StatusOr<std::shared_ptr<TlsClientContext>> Make(const TlsClientSettings& settings,
                                                                const TlsHookRegistry* hooks);

  SSL_CTX* ctx() const { return ctx_.get(); }
  const TlsClientSettings& settings() const { return settings_; }
  const TlsHookRegistry* hooks() const { return hooks_; }

  // FindSession returns a new reference to the session kept under |key|, or null. Any thread.
  bssl::UniquePtr<SSL_SESSION> FindSession(const std::string& key) const;
  // StoreSession keeps |session| under |key|, dropping the oldest key beyond the cache size.
  void StoreSession(const std::string& key, bssl::UniquePtr<SSL_SESSION> session);

 private:
  TlsClientContext() = default;

  TlsClientSettings settings_;
  const TlsHookRegistry* hooks_ = nullptr;
  bssl::UniquePtr<SSL_CTX> ctx_;
  mutable Mutex mu_;
  std::vector<std::pair<std::string, bssl::UniquePtr<SSL_SESSION>>> sessions_ ABSL_GUARDED_BY(mu_);
};

// TlsConnect opens a TLS connection to |to| with SNI |sni| (also the name verified; empty: no
// SNI and no name check) on a net thread. |cont| then receives, under its mutex, NET_EVENT_OPEN
// with the established NetVConnection*, or NET_EVENT_OPEN_FAILED with -errno cast to void*
// (-ECONNREFUSED, -ETIMEDOUT for the connect or the handshake, -EPROTO for a TLS failure,
// verification included). Any thread.
void TlsConnect(NetProcessor& net, Continuation* cont, const IpEndpoint& to, const std::string& sni,
                std::shared_ptr<TlsClientContext> client, ConnectOptions options = {});

// Process-wide TLS counters.
struct TlsStats {
  StatId handshakes_started;
  StatId handshakes_ok;
  StatId handshakes_failed;  // alert, protocol error, garbage input, peer reset
  StatId handshakes_timed_out;
  StatId no_certificate;  // no certificate for the name and no default
  StatId tunnels;
  StatId hook_aborts;  // TSVConnReenableEx(TS_EVENT_ERROR)
  StatId park_refused;  // max_parked_handshakes reached
  StatId resumed;  // established by session resumption

  static const TlsStats& Get();
};

class SSLNetVConnection final : public UnixNetVConnection {
 public:
  // Verdict of a hook at reenable time (TS_EVENT_CONTINUE / TS_EVENT_ERROR).
  enum class HookVerdict : uint8_t {
    kContinue,
    kError,
  };

  // Adopt wraps an accepted socket on the calling net thread. Null (fd closed) on failure. With
  // a |transport|, the TLS bytes move through it instead of the socket (see tls_transport.h).
  static SSLNetVConnection* Adopt(int fd, NetHandler* nh, const IpEndpoint& local,
                                  const IpEndpoint& remote,
                                  std::shared_ptr<const TlsPortConfig> config,
                                  std::unique_ptr<TlsTransport> transport = nullptr);

  // StartHandshake begins with the VCONN_START hooks. Own thread, once.
  void StartHandshake();

  // AdoptClient wraps a connecting socket for a TLS connection to an origin named |sni|.
  static SSLNetVConnection* AdoptClient(int fd, NetHandler* nh, const IpEndpoint& local,
                                        const IpEndpoint& remote,
                                        std::shared_ptr<TlsClientContext> client,
                                        const std::string& sni);
  // StartClientHandshake begins with the OUTBOUND_START hooks; |connector| gets the outcome as a
  // scheduled NET_EVENT_OPEN (cookie: this connection) or NET_EVENT_OPEN_FAILED (cookie: -errno).
  // Own thread, once, after the TCP connection is open.
  void StartClientHandshake(Continuation* connector);

  // Reenable resumes the hook that |handle|'s connection waits on. Any thread. A handle whose
  // connection is gone, or that has no hook waiting, is a no-op (a debug line under tag "ssl").
  static void Reenable(uint64_t handle, HookVerdict verdict);

  // ---- For hooks (own thread, while a hook of this connection runs) ---------------------------

  // handle returns this connection's generation-checked handle.
  uint64_t handle() const { return handle_; }
  // ssl returns the live SSL object (a CERT hook may SSL_set_SSL_CTX it).
  SSL* ssl() const { return ssl_.get(); }
  // sni returns the server name the client sent ("" if none or not yet known).
  const std::string& sni() const { return sni_; }
  // RequestTunnel turns the connection into a blind tunnel once the running hook reenables.
  // Returns false (nothing changes) when the certificate was already sent.
  bool RequestTunnel();
  // client_hello returns the parsed ClientHello during CLIENT_HELLO and later hooks (null
  // before, and after the certificate was chosen).
  const SSL_CLIENT_HELLO* client_hello() const { return client_hello_; }
  // client_hello_bytes returns a copy of the ClientHello message body (SSL_CLIENT_HELLO's
  // client_hello: no record or handshake header), kept from the select-certificate callback
  // through the CLIENT_HELLO, SERVERNAME and CERT hooks; empty before it was read and once the
  // certificate is sent, the handshake failed or the connection became a tunnel
  // (TSVConnClientHelloGet).
  absl::string_view client_hello_bytes() const { return client_hello_bytes_; }
  // current_hook returns the hook kind running or parked now.
  TlsHookId current_hook() const { return cursor_.id; }

  // verify_ctx returns the certificate chain being verified while a VERIFY_CLIENT hook runs,
  // else null (TSVConnSslVerifyCTXGet).
  X509_STORE_CTX* verify_ctx() const { return verify_ctx_; }
  // sni_policy returns the sni.yaml policy that matched this connection's name, or null.
  const SniPolicy* sni_policy() const {
    return sni_match_.has_value() ? sni_match_->policy : nullptr;
  }

  // ---- After the handshake -------------------------------------------------------------------

  // TunnelDestination returns where a blind tunnel should go: the sni.yaml tunnel_route for the
  // name, else the SNI name and the port the client connected to; nullopt without either.
  std::optional<SniRoute> TunnelDestination() const;
  // forward_destination returns the sni.yaml forward_route of the name, if any.
  const std::optional<SniRoute>& forward_destination() const { return forward_destination_; }

  // is_tunnel returns whether the connection was handed over as a blind tunnel.
  bool is_tunnel() const { return phase_ == Phase::kTunnel; }
  // TakeRecordedBytes returns (and forgets) the raw bytes read from the client before the tunnel
  // decision: the ClientHello, byte-exact, to replay to the tunnel's destination.
  std::string TakeRecordedBytes() { return std::move(recorded_); }

  // session_reused returns whether the handshake resumed a session.
  bool session_reused() const;

  // Plugin slots (TSUserArgSet / Get with a TSVConn). Own thread.
  static constexpr int kUserArgSlots = 16;
  void* user_arg(int index) const {
    return index >= 0 && index < kUserArgSlots ? user_args_[index] : nullptr;
  }
  void set_user_arg(int index, void* value) {
    if (index >= 0 && index < kUserArgSlots) user_args_[index] = value;
  }
  // alpn returns the protocol agreed by ALPN ("" if none).
  absl::string_view alpn() const;

  // OnEpollEvent (EpollTarget): as a TCP connection; in addition, a peer that hangs up while a
  // hook holds the handshake ends the handshake at once (close hooks run, the hook's late
  // reenable is a no-op) instead of at the reenable or the handshake timeout.
  void OnEpollEvent(uint32_t epoll_events) override;

  // DoIoShutdown ends an established connection's writing with a TLS close_notify alert before
  // the TCP shutdown (kWrite, kReadWrite), as DoIoClose does, so the peer can tell the end of
  // the data from a truncation. Own thread.
  void DoIoShutdown(ShutdownHow how) override;

  // SetProtocolEnabled allows or forbids offering ALPN protocol |name| on this connection
  // (TSVConnProtocolEnable / Disable; sni.yaml `http2: off`). Before the ClientHello is
  // processed only: own thread, from a VCONN_START, CLIENT_HELLO or SERVERNAME hook.
  void SetProtocolEnabled(absl::string_view name, bool enabled);

 private:
  friend absl::Status ConfigureServerContext(SSL_CTX* ctx, const TlsServerSettings& settings);
  class ReenableDispatcher;

  enum class Phase : uint8_t {
    kNew,
    kStartHooks,
    kHandshake,
    kEstablished,
    kTunnel,
    kFailed,
    kClosing,  // running VCONN_CLOSE hooks
  };
  // What the handshake waits for; Drive's only result.
  enum class Wait : uint8_t {
    kRead,
    kWrite,
    kParked,
    kDone,
    kFailed,
    kTunnel,
  };
  enum class HookRun : uint8_t {
    kDone,
    kParked,
  };

  SSLNetVConnection(int fd, NetHandler* nh, const IpEndpoint& local, const IpEndpoint& remote,
                    std::shared_ptr<const TlsPortConfig> config);
  ~SSLNetVConnection() override;

  // UnixNetVConnection.
  void NetRead() override;
  void NetWrite() override;
  IoResult ReadIntoBuffer(MIOBuffer* buf, int64_t max) override;
  IoResult WriteFromReader(IOBufferReader* reader, int64_t max) override;
  void CloseOnThread() override;
  void TimeOutNow(EventCode code) override;
  void OnResume() override;

  Wait Drive();
  void Apply(Wait wait);
  Wait ClassifyHandshakeError(int ret);
  void Fail(const char* reason, StatId counter);
  HookRun RunHooks(TlsHookId id);
  void OnHookReenabled(HookVerdict verdict);
  void ContinueClose();
  void StopRecording();
  void HandshakeStep();
  void DataRead() { UnixNetVConnection::NetRead(); }
  void DataWrite() { UnixNetVConnection::NetWrite(); }
  IoResult TlsRead(MIOBuffer* buf, int64_t max);
  IoResult TlsWrite(IOBufferReader* reader, int64_t max);
  IoResult TlsWriteRecords(IOBufferReader* reader, int64_t max);
  IoResult RawRead(MIOBuffer* buf, int64_t max) { return RawReadIntoBuffer(buf, max); }
  IoResult RawWrite(IOBufferReader* reader, int64_t max) { return RawWriteFromReader(reader, max); }

  // BoringSSL callbacks and the socket BIO.
  static enum ssl_select_cert_result_t SelectCertificateCallback(const SSL_CLIENT_HELLO* hello);
  static int CertCallback(SSL* ssl, void* arg);
  enum ssl_select_cert_result_t OnSelectCertificate(const SSL_CLIENT_HELLO* hello);
  int OnCert();
  static int VerifyClientCallback(int preverify_ok, X509_STORE_CTX* store_ctx);
  static int VerifyServerCallback(int preverify_ok, X509_STORE_CTX* store_ctx);
  int OnVerifyServer(int preverify_ok, X509_STORE_CTX* store_ctx);
  static int NewClientSessionCallback(SSL* ssl, SSL_SESSION* session);
  int RunVerdictHooks(TlsHookId id, X509_STORE_CTX* store_ctx);
  void NotifyConnector(EventCode code, void* cookie);
  friend class TlsClientContext;
  int OnVerifyClient(int preverify_ok, X509_STORE_CTX* store_ctx);
  // ApplySniPolicy runs sni.yaml's actions for the name; false when the connection must fail.
  bool ApplySniPolicy();
  void ApplyClientVerification();
  static int AlpnSelectCallback(SSL* ssl, const uint8_t** out, uint8_t* out_len, const uint8_t* in,
                                unsigned in_len, void* arg);
  void ApplyRecordSize();
  void SendCloseNotify();
  // FlushTickets sends the TLS 1.3 session tickets BoringSSL holds back until a write (a
  // zero-byte SSL_write). False while the socket cannot take them; the same zero-byte write must
  // then be retried before any data is written.
  bool FlushTickets();
  static int BioRead(BIO* bio, char* out, int len);
  static int BioWrite(BIO* bio, const char* in, int len);
  static long BioCtrl(BIO* bio, int cmd, long larg, void* parg);
  // The socket, or transport_ when there is one: what the BIO moves bytes with.
  TlsTransport::Io RecvBytes(char* out, size_t len);
  TlsTransport::Io SendBytes(const char* in, size_t len, bool more);
  static const BIO_METHOD* SocketBioMethod();
  static SSLNetVConnection* FromSsl(const SSL* ssl);

  // Switched once: handshake until established, then the data path (TLS, or raw for a tunnel).
  void (SSLNetVConnection::*on_read_)() = &SSLNetVConnection::HandshakeStep;
  void (SSLNetVConnection::*on_write_)() = &SSLNetVConnection::HandshakeStep;
  IoResult (SSLNetVConnection::*read_io_)(MIOBuffer*, int64_t) = &SSLNetVConnection::TlsRead;
  IoResult (SSLNetVConnection::*write_io_)(IOBufferReader*, int64_t) = &SSLNetVConnection::TlsWrite;

  std::shared_ptr<const TlsPortConfig> config_;  // server side
  std::shared_ptr<TlsClientContext> client_;  // client side
  std::shared_ptr<const TlsHookLists> hooks_;
  const TlsHookRegistry* hook_registry_ = nullptr;
  int64_t max_parked_ = 0;
  Nanoseconds handshake_timeout_{0};
  int max_record_size_ = 0;
  TlsHookId start_hook_id_ = TlsHookId::kVconnStart;
  TlsHookId close_hook_id_ = TlsHookId::kVconnClose;
  bool is_client_ = false;
  // Client side: who learns the outcome of the handshake (NET_EVENT_OPEN / OPEN_FAILED).
  Continuation* connector_ = nullptr;
  std::string session_key_;
  bssl::UniquePtr<SSL> ssl_;
  uint64_t handle_ = 0;
  Phase phase_ = Phase::kNew;
  std::string sni_;
  const SSL_CLIENT_HELLO* client_hello_ = nullptr;
  // The ClientHello body, copied once from the first select-certificate callback: BoringSSL's
  // SSL_CLIENT_HELLO lives only for that call, but the CERT hooks run later.
  std::string client_hello_bytes_;

  // Raw bytes read while recording (the ClientHello), until the certificate is chosen.
  bool recording_ = true;
  std::string recorded_;
  int last_errno_ = 0;
  // Read-ahead on the established data path (see BioRead): bytes received beyond what
  // BoringSSL asked for, consumed from read_ahead_off_; empty (no memory) otherwise.
  static constexpr size_t kReadAheadBytes = 16 * 1024 + 512;
  static constexpr size_t kCoalesceBytes = 16 * 1024;
  static constexpr int kMaxRecordPlaintext = 16 * 1024;
  // Set around an SSL_write after which more records follow in the same pass (MSG_MORE).
  bool send_more_ = false;
  bool close_notify_sent_ = false;
  // TLS 1.3 session tickets not sent yet (server side).
  enum class Tickets : uint8_t {
    kSent,  // or none to send
    kHeld,  // held by BoringSSL: the first data write carries them, or FlushTickets
    kRetry,  // a zero-byte write blocked: retry it before any data
  };
  Tickets tickets_ = Tickets::kSent;
  bool read_ahead_enabled_ = false;
  bool last_recv_short_ = false;
  std::string read_ahead_;
  size_t read_ahead_off_ = 0;
  // Null: the TLS bytes go through the socket.
  std::unique_ptr<TlsTransport> transport_;

  struct Cursor {
    TlsHookId id = TlsHookId::kVconnStart;
    size_t next = 0;  // index of the next hook to call in |id|'s list
    bool awaiting = false;  // a called hook has not reenabled yet
  };
  Cursor cursor_;
  bool in_hook_call_ = false;
  bool parked_ = false;
  int64_t park_start_ns_ = 0;
  bool start_hooks_ran_ = false;
  bool client_hello_hooks_done_ = false;
  bool servername_hooks_done_ = false;
  bool certificate_chosen_ = false;
  bool cert_hooks_done_ = false;
  bool tunnel_requested_ = false;
  bool tunnel_after_client_hello_ = false;  // TSVConnTunnel from a VCONN_START hook
  bool abort_requested_ = false;
  bool no_certificate_ = false;
  const char* abort_reason_ = "aborted by a hook";
  StatId abort_counter_;
  bool close_hooks_done_ = false;
  // Reenables still owed by a hook that was parked when the connection began closing; the first
  // that arrive outside a hook call are not taken for the close hooks'.
  int abandoned_reenables_ = 0;

  std::optional<SniMatch> sni_match_;
  bool sni_actions_done_ = false;
  std::optional<SniRoute> tunnel_destination_;
  std::optional<SniRoute> forward_destination_;
  X509_STORE_CTX* verify_ctx_ = nullptr;

  void* user_args_[kUserArgSlots] = {};

  // ALPN protocols this connection must not offer.
  std::vector<std::string> disabled_protocols_;
  // Dynamic record sizing (max_record_size -1).
  int64_t bytes_since_idle_ = 0;
  int64_t last_write_ns_ = 0;
  size_t send_fragment_ = 0;
};

// ListenTls accepts TLS on |addr| for |config| (see NetProcessor::Accept). The port keeps using
// |config| until SwapConfig is called on the returned port.
class TlsPort {
 public:
  explicit TlsPort(std::shared_ptr<const TlsPortConfig> config);
  ~TlsPort();
  TlsPort(const TlsPort&) = delete;
  TlsPort& operator=(const TlsPort&) = delete;

  // Listen starts accepting on |addr| and returns the bound address.
  absl::StatusOr<IpEndpoint> Listen(NetProcessor& net, const IpEndpoint& addr,
                                    AcceptOptions options = {});

  // SwapConfig makes new connections use |config|; connections in flight keep theirs.
  void SwapConfig(std::shared_ptr<const TlsPortConfig> config);
  std::shared_ptr<const TlsPortConfig> config() const;

 private:
  class Starter;

  mutable Mutex mu_;
  std::shared_ptr<const TlsPortConfig> config_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Starter> starter_;
};

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_TLS_SSL_NET_VCONNECTION_H_
