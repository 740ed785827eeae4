#include "iocore/tls/ssl_net_vconnection.h"

#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "iocore/eventsystem/diags.h"
#include "iocore/tls/vc_handle.h"

namespace tollgate {
namespace {

constexpr int kMaxIov = 16;

std::atomic<int64_t> g_parked_handshakes{0};

int SslExIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

void DebugSsl(absl::string_view message) {
  if (IsDebugTagSet("ssl")) Diag(DiagLevel::kDebug, "ssl", message);
}

// ParseSni returns the host_name entry of the server_name extension, or "" when absent or
// malformed. Bounds-checked: the bytes come straight from the client.
std::string ParseSni(const SSL_CLIENT_HELLO* hello) {
  const uint8_t* data = nullptr;
  size_t len = 0;
  if (!SSL_early_callback_ctx_extension_get(hello, TLSEXT_TYPE_server_name, &data, &len) ||
      len < 2) {
    return "";
  }
  size_t list_len = (static_cast<size_t>(data[0]) << 8) | data[1];
  if (list_len + 2 > len) return "";
  size_t pos = 2;
  while (pos + 3 <= 2 + list_len) {
    uint8_t type = data[pos];
    size_t name_len = (static_cast<size_t>(data[pos + 1]) << 8) | data[pos + 2];
    pos += 3;
    if (pos + name_len > 2 + list_len) return "";
    if (type == TLSEXT_NAMETYPE_host_name) {
      std::string name(reinterpret_cast<const char*>(data + pos), name_len);
      for (char& c : name) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
      return name;
    }
    pos += name_len;
  }
  return "";
}

std::string SslErrorString() {
  uint32_t err = ERR_get_error();
  if (err == 0) return "no library error";
  char buf[256];
  ERR_error_string_n(err, buf, sizeof(buf));
  ERR_clear_error();
  return buf;
}

// LoadTrustStore returns a store with the certificates of |file| and/or |dir|, or an error naming
// |what| and the path.
absl::StatusOr<bssl::UniquePtr<X509_STORE>> LoadTrustStore(const std::string& file,
                                                           const std::string& dir,
                                                           absl::string_view what) {
  bssl::UniquePtr<X509_STORE> store(X509_STORE_new());
  if (store == nullptr) return absl::InternalError("X509_STORE_new failed");
  if (!X509_STORE_load_locations(store.get(), file.empty() ? nullptr : file.c_str(),
                                 dir.empty() ? nullptr : dir.c_str())) {
    std::string reason = SslErrorString();
    return absl::InvalidArgumentError(absl::StrCat(what, ": cannot load CA certificates from '",
                                                   file.empty() ? dir : file, "': ", reason));
  }
  return store;
}

// TLS version bits of sni.yaml, as a (min, max) range BoringSSL can apply; nullopt when none of
// the versions Tollgate speaks (1.2, 1.3) is allowed.
std::optional<std::pair<uint16_t, uint16_t>> VersionRange(uint32_t mask) {
  bool v12 = (mask & kTlsVersion1_2) != 0;
  bool v13 = (mask & kTlsVersion1_3) != 0;
  if (!v12 && !v13) return std::nullopt;
  return std::make_pair<uint16_t, uint16_t>(v12 ? TLS1_2_VERSION : TLS1_3_VERSION,
                                            v13 ? TLS1_3_VERSION : TLS1_2_VERSION);
}

}  // namespace

const TlsStats& TlsStats::Get() {
  static const TlsStats* stats = new TlsStats{
      RegisterFixedStat("proxy.process.ssl.handshakes_started", StatKind::kCounter),
      RegisterFixedStat("proxy.process.ssl.handshakes_ok", StatKind::kCounter),
      RegisterFixedStat("proxy.process.ssl.handshakes_failed", StatKind::kCounter),
      RegisterFixedStat("proxy.process.ssl.handshakes_timed_out", StatKind::kCounter),
      RegisterFixedStat("proxy.process.ssl.no_certificate", StatKind::kCounter),
      RegisterFixedStat("proxy.process.ssl.tunnels", StatKind::kCounter),
      RegisterFixedStat("proxy.process.ssl.hook_aborts", StatKind::kCounter),
      RegisterFixedStat("proxy.process.ssl.park_refused", StatKind::kCounter),
      RegisterFixedStat("proxy.process.ssl.resumed", StatKind::kCounter),
  };
  return *stats;
}

absl::Status ConfigureServerContext(SSL_CTX* ctx, const TlsServerSettings& settings) {
  if (!settings.tls12 && !settings.tls13) {
    return absl::InvalidArgumentError("TLS: both TLSv1_2 and TLSv1_3 are disabled");
  }
  uint16_t min = settings.tls12 ? TLS1_2_VERSION : TLS1_3_VERSION;
  uint16_t max = settings.tls13 ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (!SSL_CTX_set_min_proto_version(ctx, min) || !SSL_CTX_set_max_proto_version(ctx, max)) {
    return absl::InternalError("TLS: cannot set protocol versions");
  }
  if (!settings.cipher_suites.empty() &&
      !SSL_CTX_set_strict_cipher_list(ctx, settings.cipher_suites.c_str())) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("TLS: bad cipher list '", settings.cipher_suites, "'"));
  }
  if (!SSL_CTX_set1_curves_list(ctx, settings.groups.c_str())) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("TLS: unknown key-exchange group in '", settings.groups, "'"));
  }
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_select_certificate_cb(ctx, &SSLNetVConnection::SelectCertificateCallback);
  SSL_CTX_set_cert_cb(ctx, &SSLNetVConnection::CertCallback, nullptr);
  // BoringSSL asks the context current at ClientHello time, which may already be a
  // certificate's: every server context carries the same ALPN callback and session context.
  SSL_CTX_set_alpn_select_cb(ctx, &SSLNetVConnection::AlpnSelectCallback, nullptr);
  static constexpr uint8_t kSessionContext[] = "tollgate";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const TlsPortConfig>> MakeTlsPortConfig(TlsPortSpec spec) {
  auto config = std::make_shared<TlsPortConfig>();
  config->certs = std::move(spec.certs);
  config->settings = std::move(spec.settings);
  if (config->settings.ticket_keys == nullptr) {
    config->settings.ticket_keys = TicketKeyRing::Random();
  }
  for (const auto& [name, acceptor] : spec.protocols) {
    if (name.empty() || name.size() > 255) {
      return absl::InvalidArgumentError(
          absl::StrCat("TLS: ALPN protocol name '", name, "' must be 1 to 255 bytes"));
    }
  }
  config->base_ctx.reset(SSL_CTX_new(TLS_method()));
  if (config->base_ctx == nullptr) return absl::InternalError("TLS: SSL_CTX_new failed");
  SSL_CTX* ctx = config->base_ctx.get();
  if (absl::Status s = ConfigureServerContext(ctx, config->settings); !s.ok()) return s;
  InstallTicketKeyCallback(ctx);
  if (config->settings.session_cache_size > 0) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx,
                                static_cast<unsigned long>(config->settings.session_cache_size));
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  }
  config->hooks = spec.hooks;
  config->acceptor = spec.acceptor;
  config->protocols = std::move(spec.protocols);
  config->tunnel_acceptor = spec.tunnel_acceptor;
  config->forward_acceptor = spec.forward_acceptor;
  const TlsServerSettings& settings = config->settings;
  if (!settings.client_ca_file.empty() || !settings.client_ca_dir.empty()) {
    absl::StatusOr<bssl::UniquePtr<X509_STORE>> store =
        LoadTrustStore(settings.client_ca_file, settings.client_ca_dir, "proxy.config.ssl.CA.cert");
    if (!store.ok()) return store.status();
    config->default_client_ca = std::move(*store);
  }
  config->sni = std::move(spec.sni);
  if (config->sni != nullptr) {
    for (const SniPolicy& policy : config->sni->policies()) {
      std::string file = !policy.verify_client_ca_file.empty() ? policy.verify_client_ca_file
                                                               : policy.verify_client_ca_certs;
      std::string dir = policy.verify_client_ca_dir;
      // A single path may name a directory.
      if (policy.verify_client_ca_file.empty() && !file.empty() && file.back() == '/') {
        dir = file;
        file.clear();
      }
      if (file.empty() && dir.empty()) {
        config->sni_client_ca.emplace_back();
        continue;
      }
      absl::StatusOr<bssl::UniquePtr<X509_STORE>> store = LoadTrustStore(
          file, dir, absl::StrCat("sni.yaml:", policy.line, ": verify_client_ca_certs"));
      if (!store.ok()) return store.status();
      config->sni_client_ca.push_back(std::move(*store));
    }
  }
  return std::shared_ptr<const TlsPortConfig>(std::move(config));
}

absl::StatusOr<std::shared_ptr<const TlsPortConfig>> MakeTlsPortConfig(
    std::shared_ptr<const CertTable> certs, const TlsServerSettings& settings,
    const TlsHookRegistry* hooks, Continuation* acceptor, Continuation* tunnel_acceptor) {
  return MakeTlsPortConfig(TlsPortSpec{.certs = std::move(certs),
                                       .settings = settings,
                                       .hooks = hooks,
                                       .acceptor = acceptor,
                                       .tunnel_acceptor = tunnel_acceptor});
}

// ---- Connection set-up ------------------------------------------------------------------------

SSLNetVConnection* SSLNetVConnection::Adopt(int fd, NetHandler* nh, const IpEndpoint& local,
                                            const IpEndpoint& remote,
                                            std::shared_ptr<const TlsPortConfig> config,
                                            std::unique_ptr<TlsTransport> transport) {
  auto* vc = new SSLNetVConnection(fd, nh, local, remote, std::move(config));
  vc->transport_ = std::move(transport);
  if (vc->ssl_ == nullptr || !nh->Attach(vc)) {
    delete vc;  // closes fd
    return nullptr;
  }
  vc->handle_ = VcHandleTable::Get().Allocate(vc, nh->thread());
  return vc;
}

SSLNetVConnection::SSLNetVConnection(int fd, NetHandler* nh, const IpEndpoint& local,
                                     const IpEndpoint& remote,
                                     std::shared_ptr<const TlsPortConfig> config)
    : UnixNetVConnection(fd, nh, local, remote), config_(std::move(config)) {
  if (config_ == nullptr) return;  // client side: AdoptClient sets it up
  hook_registry_ = config_->hooks;
  hooks_ = hook_registry_ != nullptr ? hook_registry_->Snapshot() : nullptr;
  max_parked_ = config_->settings.max_parked_handshakes;
  handshake_timeout_ = config_->settings.handshake_timeout;
  max_record_size_ = config_->settings.max_record_size;
  ssl_.reset(SSL_new(config_->base_ctx.get()));
  if (ssl_ == nullptr) return;
  SSL_set_ex_data(ssl_.get(), SslExIndex(), this);
  BIO* bio = BIO_new(SocketBioMethod());
  if (bio == nullptr) {
    ssl_.reset();
    return;
  }
  BIO_set_data(bio, this);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_.get(), bio, bio);  // one reference, owned by the SSL
  SSL_set_accept_state(ssl_.get());
  AttachTicketKeys(ssl_.get(), config_->settings.ticket_keys.get());
  // The handshake-only configuration (certificates, ALPN and verify settings) is released once
  // the handshake is done: established connections keep only what the data path needs.
  SSL_set_shed_handshake_config(ssl_.get(), 1);
  if (config_->settings.max_record_size > 0) {
    SSL_set_max_send_fragment(ssl_.get(),
                              std::clamp<size_t>(config_->settings.max_record_size, 512, 16384));
  }
}

SSLNetVConnection::~SSLNetVConnection() {
  if (handle_ != 0) VcHandleTable::Get().Release(handle_);
  if (parked_) g_parked_handshakes.fetch_sub(1, std::memory_order_relaxed);
}

SSLNetVConnection* SSLNetVConnection::FromSsl(const SSL* ssl) {
  return static_cast<SSLNetVConnection*>(SSL_get_ex_data(ssl, SslExIndex()));
}

void SSLNetVConnection::StartHandshake() {
  if (phase_ != Phase::kNew) return;
  phase_ = Phase::kStartHooks;
  GlobalStats().Increment(TlsStats::Get().handshakes_started);
  SetActiveTimeout(handshake_timeout_);
  Apply(Drive());
}

bool SSLNetVConnection::session_reused() const {
  return ssl_ != nullptr && SSL_session_reused(ssl_.get());
}

absl::string_view SSLNetVConnection::alpn() const {
  const uint8_t* data = nullptr;
  unsigned len = 0;
  if (ssl_ != nullptr) SSL_get0_alpn_selected(ssl_.get(), &data, &len);
  return absl::string_view(reinterpret_cast<const char*>(data), len);
}

void SSLNetVConnection::SetProtocolEnabled(absl::string_view name, bool enabled) {
  auto it = std::find(disabled_protocols_.begin(), disabled_protocols_.end(), name);
  if (enabled && it != disabled_protocols_.end()) disabled_protocols_.erase(it);
  if (!enabled && it == disabled_protocols_.end()) disabled_protocols_.emplace_back(name);
}

// Server preference: the first protocol of the port's list that the client offers and that
// this connection has not disabled. No overlap: continue without ALPN.
int SSLNetVConnection::AlpnSelectCallback(SSL* ssl, const uint8_t** out, uint8_t* out_len,
                                          const uint8_t* in, unsigned in_len, void*) {
  SSLNetVConnection* vc = FromSsl(ssl);
  if (vc == nullptr) return SSL_TLSEXT_ERR_NOACK;
  for (const auto& [name, acceptor] : vc->config_->protocols) {
    if (std::find(vc->disabled_protocols_.begin(), vc->disabled_protocols_.end(), name) !=
        vc->disabled_protocols_.end()) {
      continue;
    }
    // The client's list: length-prefixed names; bounds-checked, it comes from the peer.
    for (unsigned pos = 0; pos < in_len;) {
      unsigned len = in[pos];
      if (len == 0 || pos + 1 + len > in_len) break;
      if (len == name.size() && memcmp(in + pos + 1, name.data(), len) == 0) {
        *out = in + pos + 1;
        *out_len = static_cast<uint8_t>(len);
        return SSL_TLSEXT_ERR_OK;
      }
      pos += 1 + len;
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

// ---- The handshake driver -------------------------------------------------------------------

void SSLNetVConnection::NetRead() { (this->*on_read_)(); }
void SSLNetVConnection::NetWrite() { (this->*on_write_)(); }

void SSLNetVConnection::HandshakeStep() {
  if (phase_ == Phase::kStartHooks || phase_ == Phase::kHandshake) Apply(Drive());
}

SSLNetVConnection::Wait SSLNetVConnection::Drive() {
  if (phase_ == Phase::kStartHooks) {
    start_hooks_ran_ = true;
    if (abort_counter_ == StatId()) abort_counter_ = TlsStats::Get().hook_aborts;
    if (RunHooks(start_hook_id_) == HookRun::kParked) return Wait::kParked;
    if (abort_requested_) {
      Fail(abort_reason_, abort_counter_);
      return Wait::kFailed;
    }
    // A tunnel asked for here has no destination yet: it is handed over once the ClientHello
    // is in (its SNI, or sni.yaml's tunnel_route, names where to go), the ClientHello replayed,
    // and no other handshake hook runs.
    tunnel_after_client_hello_ = tunnel_requested_;
    tunnel_requested_ = false;
    phase_ = Phase::kHandshake;
  }
  if (phase_ != Phase::kHandshake) return Wait::kParked;
  int ret = SSL_do_handshake(ssl_.get());
  if (ret == 1) return Wait::kDone;
  return ClassifyHandshakeError(ret);
}

// The one place where BoringSSL's results become Tollgate's.
SSLNetVConnection::Wait SSLNetVConnection::ClassifyHandshakeError(int ret) {
  int err = SSL_get_error(ssl_.get(), ret);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      return Wait::kRead;
    case SSL_ERROR_WANT_WRITE:
      return Wait::kWrite;
    case SSL_ERROR_PENDING_CERTIFICATE:
    case SSL_ERROR_WANT_X509_LOOKUP:
      if (abort_requested_) break;
      if (tunnel_requested_) return Wait::kTunnel;
      if (parked_) return Wait::kParked;
      Fail("handshake paused with no hook waiting", TlsStats::Get().handshakes_failed);
      return Wait::kFailed;
    default:
      break;
  }
  if (abort_requested_) {
    Fail(abort_reason_, abort_counter_);
  } else if (no_certificate_) {
    Fail(absl::StrCat("no certificate for '", sni_, "'").c_str(), TlsStats::Get().no_certificate);
  } else if (err == SSL_ERROR_SSL) {
    std::string reason = SslErrorString();
    Fail(reason.c_str(), TlsStats::Get().handshakes_failed);
  } else if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && last_errno_ == 0)) {
    Fail("client closed during the handshake", TlsStats::Get().handshakes_failed);
  } else {
    std::string reason = absl::StrCat("socket error: ", strerror(last_errno_));
    Fail(reason.c_str(), TlsStats::Get().handshakes_failed);
  }
  return Wait::kFailed;
}

// The net layer's side of the driver: turn what the handshake waits for into side flags, or
// hand the connection over.
void SSLNetVConnection::Apply(Wait wait) {
  switch (wait) {
    case Wait::kRead:
      read_.enabled = true;
      write_.enabled = false;
      nh_->MarkReady(this, NetSide::kRead);
      return;
    case Wait::kWrite:
      write_.enabled = true;
      read_.enabled = false;
      nh_->MarkReady(this, NetSide::kWrite);
      return;
    case Wait::kParked:
    case Wait::kFailed:
      read_.enabled = false;
      write_.enabled = false;
      return;
    case Wait::kDone: {
      phase_ = Phase::kEstablished;
      StopRecording();
      read_ahead_enabled_ = true;
      on_read_ = &SSLNetVConnection::DataRead;
      on_write_ = &SSLNetVConnection::DataWrite;
      read_.enabled = false;
      write_.enabled = false;
      CancelActiveTimeout();
      const TlsStats& stats = TlsStats::Get();
      GlobalStats().Increment(stats.handshakes_ok);
      if (SSL_session_reused(ssl_.get())) GlobalStats().Increment(stats.resumed);
      if (is_client_) {
        NotifyConnector(EventCode::kNetOpen, static_cast<NetVConnection*>(this));
        return;
      }
      // BoringSSL holds a TLS 1.3 server's NewSessionTickets until the first write. Usually the
      // request is already here and the response carries them, in the same segment; a client
      // that sends nothing yet gets them when a read finds nothing (TlsRead), so that it can
      // still resume.
      if (SSL_version(ssl_.get()) == TLS1_3_VERSION) tickets_ = Tickets::kHeld;
      // Straight to the acceptor of the agreed protocol (or of sni.yaml's forward_route): no
      // probe, no copy.
      Continuation* acceptor = config_->acceptor;
      absl::string_view agreed = alpn();
      for (const auto& [name, protocol_acceptor] : config_->protocols) {
        if (name == agreed) acceptor = protocol_acceptor;
      }
      if (forward_destination_.has_value()) acceptor = config_->forward_acceptor;
      if (acceptor == nullptr) {
        DoIoClose();
        return;
      }
      MutexTryLock lock(acceptor->mutex().get());
      if (!lock.locked()) {
        DoIoClose();
        return;
      }
      acceptor->HandleEvent(EventCode::kNetAccept, static_cast<NetVConnection*>(this));
      return;
    }
    case Wait::kTunnel: {
      phase_ = Phase::kTunnel;
      recording_ = false;  // keep what was recorded: it is the replay
      std::string().swap(client_hello_bytes_);
      on_read_ = &SSLNetVConnection::DataRead;
      on_write_ = &SSLNetVConnection::DataWrite;
      read_io_ = &SSLNetVConnection::RawRead;
      write_io_ = &SSLNetVConnection::RawWrite;
      read_.enabled = false;
      write_.enabled = false;
      CancelActiveTimeout();
      GlobalStats().Increment(TlsStats::Get().tunnels);
      DebugSsl(absl::StrCat("blind tunnel for '", sni_, "' from ", remote_addr().ToString(),
                            ", replaying ", recorded_.size(), " bytes"));
      Continuation* acceptor = config_->tunnel_acceptor;
      if (acceptor == nullptr) {
        DoIoClose();
        return;
      }
      MutexTryLock lock(acceptor->mutex().get());
      if (!lock.locked()) {
        DoIoClose();
        return;
      }
      acceptor->HandleEvent(EventCode::kNetAccept, static_cast<NetVConnection*>(this));
      return;
    }
  }
}

void SSLNetVConnection::Fail(const char* reason, StatId counter) {
  if (phase_ == Phase::kFailed || phase_ == Phase::kClosing) return;
  phase_ = Phase::kFailed;
  std::string().swap(client_hello_bytes_);
  GlobalStats().Increment(counter);
  if (counter != TlsStats::Get().handshakes_failed) {
    GlobalStats().Increment(TlsStats::Get().handshakes_failed);
  }
  DebugSsl(absl::StrCat("handshake with ", remote_addr().ToString(), " failed: ", reason));
  if (is_client_) {
    int err = counter == TlsStats::Get().handshakes_timed_out ? ETIMEDOUT : EPROTO;
    NotifyConnector(EventCode::kNetOpenFailed,
                    reinterpret_cast<void*>(static_cast<intptr_t>(-err)));
  }
  // A fatal alert, if BoringSSL has one queued, goes out before the FIN.
  DoIoClose();
}

void SSLNetVConnection::TimeOutNow(EventCode code) {
  switch (phase_) {
    case Phase::kNew:
    case Phase::kStartHooks:
    case Phase::kHandshake:
      Fail("handshake timeout", TlsStats::Get().handshakes_timed_out);
      return;
    case Phase::kClosing:
      // Close hooks that never reenable do not keep the connection forever.
      DebugSsl("close hooks timed out; closing");
      close_hooks_done_ = true;
      UnixNetVConnection::CloseOnThread();
      return;
    case Phase::kEstablished:
    case Phase::kTunnel:
    case Phase::kFailed:
      UnixNetVConnection::TimeOutNow(code);
      return;
  }
}

// ---- Hooks ----------------------------------------------------------------------------------

SSLNetVConnection::HookRun SSLNetVConnection::RunHooks(TlsHookId id) {
  if (cursor_.id != id) cursor_ = Cursor{id, 0, false};
  if (hooks_ == nullptr) return HookRun::kDone;
  const std::vector<TlsHookCallback*>& list = hooks_->of(id);
  while (cursor_.next < list.size()) {
    if (cursor_.awaiting) return HookRun::kParked;
    cursor_.awaiting = true;
    const TlsHookStats& stats = hook_registry_->stats(id);
    GlobalStats().Increment(stats.calls);
    in_hook_call_ = true;
    list[cursor_.next]->Invoke(id, this);
    in_hook_call_ = false;
    // A CERT hook may have installed another SSL_CTX, which brings its own cert callback (or
    // none): keep ours so the remaining hooks still run.
    if (id == TlsHookId::kCert && ssl_ != nullptr) {
      SSL_set_cert_cb(ssl_.get(), &SSLNetVConnection::CertCallback, nullptr);
    }
    if (cursor_.awaiting) {
      if (g_parked_handshakes.load(std::memory_order_relaxed) >= max_parked_ &&
          id != close_hook_id_) {
        // Refuse rather than hold one more connection's memory for an unbounded time.
        abort_requested_ = true;
        abort_reason_ = "too many handshakes parked in hooks";
        abort_counter_ = TlsStats::Get().park_refused;
        abandoned_reenables_ = 1;
        return HookRun::kDone;
      }
      parked_ = true;
      park_start_ns_ = MonotonicNowNs();
      g_parked_handshakes.fetch_add(1, std::memory_order_relaxed);
      GlobalStats().Increment(stats.parked_now);
      return HookRun::kParked;
    }
    // An abort or a tunnel stops the handshake hooks; close hooks all run, whatever came before.
    if (id != close_hook_id_ && (abort_requested_ || tunnel_requested_)) break;
  }
  return HookRun::kDone;
}

class SSLNetVConnection::ReenableDispatcher : public Continuation {
 public:
  // Runs on the connection's thread: the handle travels in the cookie, the verdict in the code.
  void HandleEvent(EventCode code, void* data) override {
    uint64_t handle = reinterpret_cast<uintptr_t>(static_cast<Event*>(data)->cookie());
    auto* vc = static_cast<SSLNetVConnection*>(VcHandleTable::Get().Resolve(handle));
    if (vc == nullptr) {
      DebugSsl("reenable for a connection that is gone: ignored");
      return;
    }
    vc->OnHookReenabled(code == EventCode::kError ? HookVerdict::kError : HookVerdict::kContinue);
  }
};

void SSLNetVConnection::Reenable(uint64_t handle, HookVerdict verdict) {
  static ReenableDispatcher* dispatcher = new ReenableDispatcher;
  EThread* thread = VcHandleTable::Get().ThreadOf(handle);
  if (thread == nullptr) {
    DebugSsl("reenable for a connection that is gone: ignored");
    return;
  }
  if (this_ethread() == thread) {
    auto* vc = static_cast<SSLNetVConnection*>(VcHandleTable::Get().Resolve(handle));
    if (vc != nullptr) vc->OnHookReenabled(verdict);
    return;
  }
  thread->ScheduleImm(dispatcher,
                      verdict == HookVerdict::kError ? EventCode::kError : EventCode::kContinue,
                      reinterpret_cast<void*>(static_cast<uintptr_t>(handle)));
}

void SSLNetVConnection::OnHookReenabled(HookVerdict verdict) {
  if (!in_hook_call_ && abandoned_reenables_ > 0) {
    --abandoned_reenables_;
    DebugSsl("late reenable of a hook abandoned by close: ignored");
    return;
  }
  if (!cursor_.awaiting) {
    DebugSsl(absl::StrCat("second reenable for ", TlsHookIdName(cursor_.id), " hook ", cursor_.next,
                          ": ignored"));
    return;
  }
  cursor_.awaiting = false;
  ++cursor_.next;
  // A parked CERT hook may have installed another SSL_CTX (SSL_set_SSL_CTX) meanwhile, which
  // brings that context's cert callback, or none: put ours back so the remaining CERT hooks run.
  if (cursor_.id == TlsHookId::kCert && ssl_ != nullptr) {
    SSL_set_cert_cb(ssl_.get(), &SSLNetVConnection::CertCallback, nullptr);
  }
  if (verdict == HookVerdict::kError && cursor_.id != close_hook_id_) {
    abort_requested_ = true;
    abort_reason_ = "aborted by a hook (TS_EVENT_ERROR)";
    abort_counter_ = TlsStats::Get().hook_aborts;
  }
  if (in_hook_call_) return;  // inline: RunHooks goes on by itself
  if (parked_) {
    parked_ = false;
    g_parked_handshakes.fetch_sub(1, std::memory_order_relaxed);
    if (hook_registry_ != nullptr) {
      GlobalStats().Decrement(hook_registry_->stats(cursor_.id).parked_now);
      hook_registry_->RecordParkTime(cursor_.id, MonotonicNowNs() - park_start_ns_);
    }
  }
  switch (phase_) {
    case Phase::kClosing:
      ContinueClose();
      return;
    case Phase::kStartHooks:
    case Phase::kHandshake:
      Apply(Drive());
      return;
    case Phase::kNew:
    case Phase::kEstablished:
    case Phase::kTunnel:
    case Phase::kFailed:
      return;
  }
}

bool SSLNetVConnection::RequestTunnel() {
  if (cert_hooks_done_ || phase_ == Phase::kEstablished) return false;
  tunnel_requested_ = true;
  return true;
}

void SSLNetVConnection::StopRecording() {
  recording_ = false;
  std::string().swap(recorded_);
  std::string().swap(client_hello_bytes_);
}

// ---- Closing --------------------------------------------------------------------------------

void SSLNetVConnection::CloseOnThread() {
  if (phase_ == Phase::kClosing || released_) return;
  if (close_error_ == 0) SendCloseNotify();
  if (!start_hooks_ran_ || close_hooks_done_) {
    UnixNetVConnection::CloseOnThread();
    return;
  }
  // Every connection whose VCONN_START hooks ran gets its close hooks, parked or not.
  if (parked_) {
    parked_ = false;
    g_parked_handshakes.fetch_sub(1, std::memory_order_relaxed);
    if (hook_registry_ != nullptr) {
      GlobalStats().Decrement(hook_registry_->stats(cursor_.id).parked_now);
    }
  }
  if (cursor_.awaiting) abandoned_reenables_ = 1;
  phase_ = Phase::kClosing;
  read_.enabled = false;
  write_.enabled = false;
  SetActiveTimeout(handshake_timeout_);
  cursor_ = Cursor{close_hook_id_, 0, false};
  ContinueClose();
}

void SSLNetVConnection::OnEpollEvent(uint32_t epoll_events) {
  UnixNetVConnection::OnEpollEvent(epoll_events);
  // Nothing reads the socket while a hook holds the handshake, so without this a client that
  // gave up would keep its slot among the parked handshakes until the reenable or the timeout.
  // A peer that stopped sending can never finish a handshake: end it now.
  if (parked_ && (phase_ == Phase::kStartHooks || phase_ == Phase::kHandshake) &&
      (epoll_events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
    Fail("peer closed the connection while a hook held the handshake",
         TlsStats::Get().handshakes_failed);
  }
}

void SSLNetVConnection::DoIoShutdown(ShutdownHow how) {
  if (how != ShutdownHow::kRead) SendCloseNotify();
  UnixNetVConnection::DoIoShutdown(how);
}

// RFC 8446 6.1: the sender of the last data says so with close_notify; without it a peer cannot
// tell a complete close-delimited body from a truncated one (OpenSSL 3 clients report "unexpected
// eof"). Best effort and never blocking: a full socket drops the alert, as a reset peer does.
void SSLNetVConnection::SendCloseNotify() {
  if (phase_ != Phase::kEstablished || close_notify_sent_ || write_.shut || ssl_ == nullptr) {
    return;
  }
  close_notify_sent_ = true;
  SSL_shutdown(ssl_.get());
  ERR_clear_error();
}

void SSLNetVConnection::ContinueClose() {
  if (RunHooks(close_hook_id_) == HookRun::kParked) return;
  close_hooks_done_ = true;
  UnixNetVConnection::CloseOnThread();
}

void SSLNetVConnection::OnResume() {}

// ---- BoringSSL callbacks --------------------------------------------------------------------

enum ssl_select_cert_result_t SSLNetVConnection::SelectCertificateCallback(
    const SSL_CLIENT_HELLO* hello) {
  SSLNetVConnection* vc = FromSsl(hello->ssl);
  if (vc == nullptr) return ssl_select_cert_error;
  vc->client_hello_ = hello;
  enum ssl_select_cert_result_t result = vc->OnSelectCertificate(hello);
  vc->client_hello_ = nullptr;  // BoringSSL's struct lives only for this call
  return result;
}

enum ssl_select_cert_result_t SSLNetVConnection::OnSelectCertificate(
    const SSL_CLIENT_HELLO* hello) {
  if (!sni_actions_done_) {
    sni_actions_done_ = true;
    sni_ = ParseSni(hello);
    client_hello_bytes_.assign(reinterpret_cast<const char*>(hello->client_hello),
                               hello->client_hello_len);
    if (!ApplySniPolicy()) return ssl_select_cert_error;
    if (tunnel_after_client_hello_) tunnel_requested_ = true;
    if (tunnel_requested_) return ssl_select_cert_retry;
  }
  if (!client_hello_hooks_done_) {
    if (RunHooks(TlsHookId::kClientHello) == HookRun::kParked) return ssl_select_cert_retry;
    client_hello_hooks_done_ = true;
  }
  if (abort_requested_) return ssl_select_cert_error;
  if (tunnel_requested_) return ssl_select_cert_retry;
  if (!servername_hooks_done_) {
    if (RunHooks(TlsHookId::kServername) == HookRun::kParked) return ssl_select_cert_retry;
    servername_hooks_done_ = true;
  }
  if (abort_requested_) return ssl_select_cert_error;
  if (tunnel_requested_) return ssl_select_cert_retry;
  if (!certificate_chosen_) {
    std::optional<CertMatch> match =
        config_->certs != nullptr ? config_->certs->Lookup(sni_, local_addr()) : std::nullopt;
    if (!match.has_value()) {
      no_certificate_ = true;
      return ssl_select_cert_error;
    }
    if (match->entry->tunnel) {
      tunnel_requested_ = true;
      return ssl_select_cert_retry;
    }
    SSL_CTX* ctx = match->entry->ChooseContext(ClientAcceptsEcdsa(hello));
    if (ctx == nullptr || SSL_set_SSL_CTX(ssl_.get(), ctx) == nullptr) return ssl_select_cert_error;
    certificate_chosen_ = true;
    ApplyClientVerification();
  }
  return ssl_select_cert_success;
}

bool SSLNetVConnection::ApplySniPolicy() {
  if (config_->sni == nullptr) return true;
  sni_match_ = config_->sni->Match(sni_);
  if (!sni_match_.has_value()) return true;
  const SniPolicy& policy = *sni_match_->policy;
  if (!policy.ip_allow.empty() && !IpAllowed(policy.ip_allow, remote_addr())) {
    abort_requested_ = true;
    abort_reason_ = "client address not in sni.yaml ip_allow";
    abort_counter_ = TlsStats::Get().handshakes_failed;
    return false;
  }
  if (policy.tunnel_route.has_value()) {
    absl::StatusOr<SniRoute> route = sni_match_->TunnelDestination();
    if (!route.ok()) {
      abort_requested_ = true;
      abort_reason_ = "sni.yaml tunnel_route gives no valid destination for this name";
      abort_counter_ = TlsStats::Get().handshakes_failed;
      return false;
    }
    tunnel_destination_ = *route;
    tunnel_requested_ = true;
    return true;
  }
  if (policy.forward_route.has_value()) {
    absl::StatusOr<SniRoute> route = sni_match_->ForwardDestination();
    if (!route.ok()) {
      abort_requested_ = true;
      abort_reason_ = "sni.yaml forward_route gives no valid destination for this name";
      abort_counter_ = TlsStats::Get().handshakes_failed;
      return false;
    }
    forward_destination_ = *route;
  }
  if (policy.http2.has_value() && !*policy.http2) SetProtocolEnabled("h2", false);
  if (policy.tls_versions_mask.has_value()) {
    std::optional<std::pair<uint16_t, uint16_t>> range = VersionRange(*policy.tls_versions_mask);
    // The version is chosen after this callback, so narrowing the range here applies to this
    // handshake.
    if (!range.has_value() || !SSL_set_min_proto_version(ssl_.get(), range->first) ||
        !SSL_set_max_proto_version(ssl_.get(), range->second)) {
      abort_requested_ = true;
      abort_reason_ = "sni.yaml valid_tls_versions_in allows no version Tollgate speaks";
      abort_counter_ = TlsStats::Get().handshakes_failed;
      return false;
    }
  }
  return true;
}

void SSLNetVConnection::ApplyClientVerification() {
  SniPolicy::VerifyClient level = config_->settings.verify_client;
  X509_STORE* store = config_->default_client_ca.get();
  if (sni_match_.has_value()) {
    const SniPolicy& policy = *sni_match_->policy;
    if (policy.verify_client.has_value()) level = *policy.verify_client;
    size_t index = sni_match_->policy - config_->sni->policies().data();
    if (index < config_->sni_client_ca.size() && config_->sni_client_ca[index] != nullptr) {
      store = config_->sni_client_ca[index].get();
    }
  }
  switch (level) {
    case SniPolicy::VerifyClient::kNone:
      SSL_set_verify(ssl_.get(), SSL_VERIFY_NONE, nullptr);
      return;
    case SniPolicy::VerifyClient::kModerate:
      SSL_set_verify(ssl_.get(), SSL_VERIFY_PEER, &SSLNetVConnection::VerifyClientCallback);
      break;
    case SniPolicy::VerifyClient::kStrict:
      SSL_set_verify(ssl_.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     &SSLNetVConnection::VerifyClientCallback);
      break;
  }
  if (store != nullptr) SSL_set1_verify_cert_store(ssl_.get(), store);
}

int SSLNetVConnection::VerifyClientCallback(int preverify_ok, X509_STORE_CTX* store_ctx) {
  auto* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store_ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
  SSLNetVConnection* vc = ssl != nullptr ? FromSsl(ssl) : nullptr;
  return vc == nullptr ? 0 : vc->OnVerifyClient(preverify_ok, store_ctx);
}

// Called once per certificate of the chain, leaf last (depth 0). The VERIFY_CLIENT hooks run
// once, at the leaf, with the whole chain in |store_ctx|. They give a verdict only: a hook that
// does not reenable inline cannot hold verification, and its late reenable is ignored.
int SSLNetVConnection::OnVerifyClient(int preverify_ok, X509_STORE_CTX* store_ctx) {
  if (!preverify_ok) {
    int err = X509_STORE_CTX_get_error(store_ctx);
    DebugSsl(absl::StrCat("client certificate from ", remote_addr().ToString(),
                          " rejected: ", X509_verify_cert_error_string(err)));
    return 0;
  }
  if (X509_STORE_CTX_get_error_depth(store_ctx) != 0) return 1;
  return RunVerdictHooks(TlsHookId::kVerifyClient, store_ctx);
}

// Verdict hooks (VERIFY_CLIENT, VERIFY_SERVER) run inside X.509 verification and cannot park: a
// hook that does not reenable inline counts as "continue", and its late reenable is ignored.
// Returns 1 to accept, 0 when a hook gave TS_EVENT_ERROR.
int SSLNetVConnection::RunVerdictHooks(TlsHookId id, X509_STORE_CTX* store_ctx) {
  verify_ctx_ = store_ctx;
  cursor_ = Cursor{id, 0, false};
  if (RunHooks(id) == HookRun::kParked) {
    parked_ = false;
    g_parked_handshakes.fetch_sub(1, std::memory_order_relaxed);
    if (hook_registry_ != nullptr) {
      GlobalStats().Decrement(hook_registry_->stats(cursor_.id).parked_now);
    }
    cursor_.awaiting = false;
    ++abandoned_reenables_;
    DebugSsl(
        absl::StrCat(TlsHookIdName(id), " hook did not reenable inline; verification goes on"));
  }
  verify_ctx_ = nullptr;
  return abort_requested_ ? 0 : 1;
}

std::optional<SniRoute> SSLNetVConnection::TunnelDestination() const {
  if (tunnel_destination_.has_value()) return tunnel_destination_;
  if (sni_.empty()) return std::nullopt;
  return SniRoute{sni_, local_addr().port()};
}

int SSLNetVConnection::CertCallback(SSL* ssl, void*) {
  SSLNetVConnection* vc = FromSsl(ssl);
  return vc == nullptr ? 0 : vc->OnCert();
}

int SSLNetVConnection::OnCert() {
  if (tunnel_requested_) return -1;
  if (abort_requested_) return 0;
  if (!cert_hooks_done_) {
    if (RunHooks(TlsHookId::kCert) == HookRun::kParked) return -1;
    if (tunnel_requested_) return -1;
    cert_hooks_done_ = true;
  }
  if (abort_requested_) return 0;
  // The certificate is chosen and about to be sent: a tunnel is no longer possible, so the
  // recorded ClientHello is no longer needed.
  StopRecording();
  return 1;
}

// ---- Socket BIO: reads record while the ClientHello may still need replaying ------------------

const BIO_METHOD* SSLNetVConnection::SocketBioMethod() {
  static const BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tollgate socket");
    BIO_meth_set_read(m, &SSLNetVConnection::BioRead);
    BIO_meth_set_write(m, &SSLNetVConnection::BioWrite);
    BIO_meth_set_ctrl(m, &SSLNetVConnection::BioCtrl);
    return m;
  }();
  return method;
}

TlsTransport::Io SSLNetVConnection::RecvBytes(char* out, size_t len) {
  using Io = TlsTransport::Io;
  if (transport_ != nullptr) return transport_->Recv(out, len);
  ssize_t n;
  do {
    n = recv(fd_, out, len, 0);
  } while (n < 0 && errno == EINTR);
  if (n > 0) return {Io::Status::kOk, static_cast<size_t>(n)};
  if (n == 0) return {Io::Status::kEof};
  if (errno == EAGAIN || errno == EWOULDBLOCK) return {Io::Status::kWouldBlock};
  return {Io::Status::kError, 0, errno};
}

TlsTransport::Io SSLNetVConnection::SendBytes(const char* in, size_t len, bool more) {
  using Io = TlsTransport::Io;
  if (transport_ != nullptr) return transport_->Send(in, len, more);
  ssize_t n;
  do {
    n = send(fd_, in, len, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
  } while (n < 0 && errno == EINTR);
  if (n >= 0) return {Io::Status::kOk, static_cast<size_t>(n)};
  if (errno == EAGAIN || errno == EWOULDBLOCK) return {Io::Status::kWouldBlock};
  return {Io::Status::kError, 0, errno};
}

int SSLNetVConnection::BioRead(BIO* bio, char* out, int len) {
  using Io = TlsTransport::Io;
  auto* vc = static_cast<SSLNetVConnection*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (len <= 0) return 0;
  // Read-ahead on the data path: BoringSSL asks for a record's 5-byte header, then for its
  // body; one recv into a scratch buffer serves both (and the records after them), and only
  // what is left over is kept, in a buffer freed as soon as it is consumed.
  if (vc->read_ahead_off_ < vc->read_ahead_.size()) {
    const size_t n =
        std::min(static_cast<size_t>(len), vc->read_ahead_.size() - vc->read_ahead_off_);
    std::memcpy(out, vc->read_ahead_.data() + vc->read_ahead_off_, n);
    vc->read_ahead_off_ += n;
    if (vc->read_ahead_off_ == vc->read_ahead_.size()) {
      std::string().swap(vc->read_ahead_);
      vc->read_ahead_off_ = 0;
    }
    return static_cast<int>(n);
  }
  Io io;
  if (vc->read_ahead_enabled_ && static_cast<size_t>(len) < kReadAheadBytes) {
    thread_local char scratch[kReadAheadBytes];
    io = vc->RecvBytes(scratch, kReadAheadBytes);
    if (io.status == Io::Status::kOk) {
      vc->last_recv_short_ = io.bytes < kReadAheadBytes;
      const size_t give = std::min(io.bytes, static_cast<size_t>(len));
      std::memcpy(out, scratch, give);
      if (give < io.bytes) vc->read_ahead_.assign(scratch + give, io.bytes - give);
      return static_cast<int>(give);
    }
  } else {
    io = vc->RecvBytes(out, static_cast<size_t>(len));
    if (io.status == Io::Status::kOk) {
      vc->last_recv_short_ = io.bytes < static_cast<size_t>(len);
      if (vc->recording_) vc->recorded_.append(out, io.bytes);
      return static_cast<int>(io.bytes);
    }
  }
  switch (io.status) {
    case Io::Status::kOk:
      break;
    case Io::Status::kEof:
      vc->last_errno_ = 0;
      return 0;
    case Io::Status::kWouldBlock:
      vc->read_.triggered = false;
      BIO_set_retry_read(bio);
      return -1;
    case Io::Status::kError:
      vc->last_errno_ = io.error;
      return -1;
  }
  return -1;
}

int SSLNetVConnection::BioWrite(BIO* bio, const char* in, int len) {
  using Io = TlsTransport::Io;
  auto* vc = static_cast<SSLNetVConnection*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (len <= 0) return 0;
  Io io = vc->SendBytes(in, static_cast<size_t>(len), vc->send_more_);
  switch (io.status) {
    case Io::Status::kOk:
      return static_cast<int>(io.bytes);
    case Io::Status::kWouldBlock:
      vc->write_.triggered = false;
      BIO_set_retry_write(bio);
      return -1;
    case Io::Status::kEof:
    case Io::Status::kError:
      vc->last_errno_ = io.error != 0 ? io.error : EPIPE;
      return -1;
  }
  return -1;
}

long SSLNetVConnection::BioCtrl(BIO*, int cmd, long, void*) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

// ---- Data path ------------------------------------------------------------------------------

IoResult SSLNetVConnection::ReadIntoBuffer(MIOBuffer* buf, int64_t max) {
  return (this->*read_io_)(buf, max);
}

IoResult SSLNetVConnection::WriteFromReader(IOBufferReader* reader, int64_t max) {
  return (this->*write_io_)(reader, max);
}

IoResult SSLNetVConnection::TlsRead(MIOBuffer* buf, int64_t max) {
  iovec iov[kMaxIov];
  int niov = buf->FillIovecs(iov, kMaxIov, max);
  int64_t total = 0;
  bool drained = false;
  IoResult::Status end = IoResult::Status::kOk;
  int error = 0;
  // A short recv during this call means the socket had nothing more: edge-triggered epoll
  // reports the next arrival, so no recv is spent to learn EAGAIN. (Only a recv made in this
  // call counts: an earlier one says nothing about bytes whose edge was consumed since.)
  last_recv_short_ = false;
  for (int i = 0; i < niov && end == IoResult::Status::kOk && !drained; ++i) {
    size_t off = 0;
    while (off < iov[i].iov_len) {
      int want = static_cast<int>(std::min<size_t>(iov[i].iov_len - off, 1 << 30));
      int r = SSL_read(ssl_.get(), static_cast<char*>(iov[i].iov_base) + off, want);
      if (r > 0) {
        off += r;
        total += r;
        if (last_recv_short_ && read_ahead_off_ >= read_ahead_.size() &&
            SSL_pending(ssl_.get()) == 0) {
          drained = true;
          break;
        }
        continue;
      }
      int err = SSL_get_error(ssl_.get(), r);
      if (err == SSL_ERROR_WANT_READ) {
        drained = true;
        // The client waits for us: send the tickets now rather than with a response that may
        // never come.
        if (tickets_ == Tickets::kHeld) FlushTickets();
      } else if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && last_errno_ == 0)) {
        end = IoResult::Status::kEof;
      } else {
        end = IoResult::Status::kError;
        error = last_errno_ != 0 ? last_errno_ : EPROTO;
        DebugSsl(absl::StrCat("read from ", remote_addr().ToString(), ": ", SslErrorString()));
      }
      break;
    }
  }
  buf->Fill(total);
  if (total > 0) return {IoResult::Status::kOk, total, drained};
  if (end != IoResult::Status::kOk) return {end, 0, false, error};
  return {IoResult::Status::kWouldBlock};
}

// Dynamic record sizing: small records (one TCP segment each) while a response starts, so the
// client can decrypt the first bytes as they arrive; full records for bulk; small again after
// an idle second.
void SSLNetVConnection::ApplyRecordSize() {
  // A TCP segment on a 1500-byte MTU carries about 1448 bytes of payload with timestamps; minus
  // TLS 1.3 overhead (5-byte header, content type, 16-byte tag) and room for options.
  static constexpr size_t kSmallRecord = 1300;
  static constexpr int64_t kSmallRecordBytes = 1 << 20;
  static constexpr int64_t kIdleNs = 1000000000;
  int64_t now = MonotonicNowNs();
  if (now - last_write_ns_ > kIdleNs) bytes_since_idle_ = 0;
  last_write_ns_ = now;
  size_t fragment = bytes_since_idle_ < kSmallRecordBytes ? kSmallRecord : 16384;
  if (fragment != send_fragment_) {
    SSL_set_max_send_fragment(ssl_.get(), fragment);
    send_fragment_ = fragment;
  }
}

IoResult SSLNetVConnection::TlsWrite(IOBufferReader* reader, int64_t max) {
  if (max_record_size_ < 0) {
    ApplyRecordSize();
    // Switch to full records at the megabyte mark rather than after this whole pass.
    if (bytes_since_idle_ < (1 << 20)) max = std::min<int64_t>(max, (1 << 20) - bytes_since_idle_);
  }
  IoResult result = TlsWriteRecords(reader, max);
  if (result.status == IoResult::Status::kOk) bytes_since_idle_ += result.bytes;
  return result;
}

bool SSLNetVConnection::FlushTickets() {
  static constexpr char kNothing[1] = {0};
  int r = SSL_write(ssl_.get(), kNothing, 0);
  if (r < 0 && SSL_get_error(ssl_.get(), r) == SSL_ERROR_WANT_WRITE) {
    tickets_ = Tickets::kRetry;
    return false;
  }
  ERR_clear_error();
  tickets_ = Tickets::kSent;
  return true;
}

IoResult SSLNetVConnection::TlsWriteRecords(IOBufferReader* reader, int64_t max) {
  switch (tickets_) {
    case Tickets::kSent:
      break;
    case Tickets::kHeld:
      tickets_ = Tickets::kSent;  // this write carries them
      break;
    case Tickets::kRetry:
      if (!FlushTickets()) return {IoResult::Status::kWouldBlock};
      break;
  }
  int64_t total = 0;
  while (total < max) {
    iovec iov[1];
    if (reader->FillIovecs(iov, 1, max - total) == 0) break;
    const void* data = iov[0].iov_base;
    int len = static_cast<int>(std::min<size_t>(iov[0].iov_len, 1 << 30));
    // Small pieces in several blocks (a response head, then its body) go out as one record and
    // one send instead of one each. A retry after WANT_WRITE copies the same leading bytes, at
    // least as many, which is what BoringSSL asks of a retried write.
    thread_local char coalesced[kCoalesceBytes];
    const int64_t want = std::min(max - total, reader->ReadAvail());
    if (static_cast<size_t>(len) < kCoalesceBytes && want > len) {
      len = static_cast<int>(reader->CopyOut(
          coalesced, std::min<int64_t>(want, static_cast<int64_t>(kCoalesceBytes))));
      data = coalesced;
    }
    // One record per SSL_write, sent with MSG_MORE while more records follow in this pass: the
    // kernel packs the records into full segments and pushes them with the last one, so the
    // peer wakes once per batch instead of once per record.
    len = std::min(len, kMaxRecordPlaintext);
    send_more_ = want > len;
    int r = SSL_write(ssl_.get(), data, len);
    send_more_ = false;
    if (r > 0) {
      // With SSL_MODE_ENABLE_PARTIAL_WRITE a short count means one record went out, not that
      // the socket is full; only WANT_WRITE says that.
      reader->Consume(r);
      total += r;
      continue;
    }
    int err = SSL_get_error(ssl_.get(), r);
    if (err == SSL_ERROR_WANT_WRITE) {
      if (total > 0) return {IoResult::Status::kOk, total, true};
      return {IoResult::Status::kWouldBlock};
    }
    if (total > 0) return {IoResult::Status::kOk, total, false};
    return {IoResult::Status::kError, 0, false, last_errno_ != 0 ? last_errno_ : EPROTO};
  }
  return {IoResult::Status::kOk, total, false};
}

// ---- Client side --------------------------------------------------------------------------------

absl::StatusOr<std::shared_ptr<TlsClientContext>> TlsClientContext::Make(
    const TlsClientSettings& settings, const TlsHookRegistry* hooks) {
  std::shared_ptr<TlsClientContext> client(new TlsClientContext);
  client->settings_ = settings;
  client->hooks_ = hooks;
  client->ctx_.reset(SSL_CTX_new(TLS_method()));
  SSL_CTX* ctx = client->ctx_.get();
  if (ctx == nullptr) return absl::InternalError("TLS client: SSL_CTX_new failed");
  if (!settings.tls12 && !settings.tls13) {
    return absl::InvalidArgumentError("TLS client: both TLSv1_2 and TLSv1_3 are disabled");
  }
  SSL_CTX_set_min_proto_version(ctx, settings.tls12 ? TLS1_2_VERSION : TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx, settings.tls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
  if (!SSL_CTX_set1_curves_list(ctx, settings.groups.c_str())) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("TLS client: unknown key-exchange group in '", settings.groups, "'"));
  }
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (!settings.ca_file.empty() || !settings.ca_dir.empty()) {
    absl::StatusOr<bssl::UniquePtr<X509_STORE>> store =
        LoadTrustStore(settings.ca_file, settings.ca_dir, "proxy.config.ssl.client.CA.cert");
    if (!store.ok()) return store.status();
    SSL_CTX_set_cert_store(ctx, store->release());
  }
  if (settings.verify_policy != TlsClientSettings::VerifyPolicy::kDisabled) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, &SSLNetVConnection::VerifyServerCallback);
  }
  // Sessions are kept per origin in our cache (BoringSSL's internal client cache is keyed by
  // nothing useful to us); TLS 1.3 tickets arrive through the new-session callback.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
  SSL_CTX_sess_set_new_cb(ctx, &SSLNetVConnection::NewClientSessionCallback);
  return client;
}

bssl::UniquePtr<SSL_SESSION> TlsClientContext::FindSession(const std::string& key) const {
  MutexGuard lock(&mu_);
  for (const auto& [k, session] : sessions_) {
    if (k == key) {
      SSL_SESSION_up_ref(session.get());
      return bssl::UniquePtr<SSL_SESSION>(session.get());
    }
  }
  return nullptr;
}

void TlsClientContext::StoreSession(const std::string& key, bssl::UniquePtr<SSL_SESSION> session) {
  MutexGuard lock(&mu_);
  for (auto& [k, s] : sessions_) {
    if (k == key) {
      s = std::move(session);
      return;
    }
  }
  if (settings_.session_cache_size == 0) return;
  if (sessions_.size() >= settings_.session_cache_size) sessions_.erase(sessions_.begin());
  sessions_.emplace_back(key, std::move(session));
}

SSLNetVConnection* SSLNetVConnection::AdoptClient(int fd, NetHandler* nh, const IpEndpoint& local,
                                                  const IpEndpoint& remote,
                                                  std::shared_ptr<TlsClientContext> client,
                                                  const std::string& sni) {
  auto* vc = new SSLNetVConnection(fd, nh, local, remote, nullptr);
  vc->is_client_ = true;
  vc->client_ = std::move(client);
  vc->hook_registry_ = vc->client_->hooks();
  vc->hooks_ = vc->hook_registry_ != nullptr ? vc->hook_registry_->Snapshot() : nullptr;
  vc->max_parked_ = INT64_MAX;
  vc->handshake_timeout_ = vc->client_->settings().handshake_timeout;
  vc->start_hook_id_ = TlsHookId::kOutboundStart;
  vc->close_hook_id_ = TlsHookId::kOutboundClose;
  vc->sni_ = sni;
  vc->session_key_ = absl::StrCat(remote.ToString(), "/", sni);
  vc->ssl_.reset(SSL_new(vc->client_->ctx()));
  if (vc->ssl_ == nullptr || !nh->Attach(vc)) {
    delete vc;
    return nullptr;
  }
  SSL* ssl = vc->ssl_.get();
  SSL_set_ex_data(ssl, SslExIndex(), vc);
  BIO* bio = BIO_new(SocketBioMethod());
  BIO_set_data(bio, vc);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl, bio, bio);
  SSL_set_connect_state(ssl);
  vc->recording_ = false;
  // Until the TCP connect completes, write readiness belongs to the base connection, which
  // reports the connect's outcome; StartClientHandshake switches to the handshake.
  vc->on_write_ = &SSLNetVConnection::DataWrite;
  if (!sni.empty()) {
    SSL_set_tlsext_host_name(ssl, sni.c_str());
    X509_VERIFY_PARAM_set1_host(SSL_get0_param(ssl), sni.data(), sni.size());
  }
  if (bssl::UniquePtr<SSL_SESSION> session = vc->client_->FindSession(vc->session_key_)) {
    SSL_set_session(ssl, session.get());
  }
  vc->handle_ = VcHandleTable::Get().Allocate(vc, nh->thread());
  return vc;
}

void SSLNetVConnection::StartClientHandshake(Continuation* connector) {
  connector_ = connector;
  on_write_ = &SSLNetVConnection::HandshakeStep;
  StartHandshake();
}

void SSLNetVConnection::NotifyConnector(EventCode code, void* cookie) {
  Continuation* connector = std::exchange(connector_, nullptr);
  if (connector != nullptr) thread()->ScheduleImm(connector, code, cookie);
}

int SSLNetVConnection::VerifyServerCallback(int preverify_ok, X509_STORE_CTX* store_ctx) {
  auto* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store_ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
  SSLNetVConnection* vc = ssl != nullptr ? FromSsl(ssl) : nullptr;
  return vc == nullptr ? 0 : vc->OnVerifyServer(preverify_ok, store_ctx);
}

int SSLNetVConnection::OnVerifyServer(int preverify_ok, X509_STORE_CTX* store_ctx) {
  bool enforced = client_->settings().verify_policy == TlsClientSettings::VerifyPolicy::kEnforced;
  if (!preverify_ok) {
    std::string reason = X509_verify_cert_error_string(X509_STORE_CTX_get_error(store_ctx));
    Diag(enforced ? DiagLevel::kWarning : DiagLevel::kNote, "ssl",
         absl::StrCat("origin certificate check failed for ", remote_addr().ToString(),
                      " SNI=", sni_.empty() ? "-" : sni_, ": ", reason,
                      enforced ? ". Action=Terminate" : ". Action=Continue"));
    if (enforced) return 0;
    X509_STORE_CTX_set_error(store_ctx, X509_V_OK);
  }
  if (X509_STORE_CTX_get_error_depth(store_ctx) != 0) return 1;
  if (RunVerdictHooks(TlsHookId::kVerifyServer, store_ctx) == 1) return 1;
  Diag(enforced ? DiagLevel::kWarning : DiagLevel::kNote, "ssl",
       absl::StrCat("SSL_VERIFY_SERVER hook failed the origin certificate check for ",
                    remote_addr().ToString(), " SNI=", sni_.empty() ? "-" : sni_,
                    enforced ? ". Action=Terminate" : ". Action=Continue"));
  if (enforced) return 0;
  abort_requested_ = false;  // permissive: the verdict is logged, not enforced
  return 1;
}

int SSLNetVConnection::NewClientSessionCallback(SSL* ssl, SSL_SESSION* session) {
  SSLNetVConnection* vc = FromSsl(ssl);
  if (vc == nullptr || vc->client_ == nullptr) return 0;
  vc->client_->StoreSession(vc->session_key_, bssl::UniquePtr<SSL_SESSION>(session));
  return 1;  // we keep the reference
}

namespace {

// Connects, then runs the client handshake, then tells the caller; deletes itself when done.
class TlsConnector : public Continuation {
 public:
  TlsConnector(Continuation* cont, std::shared_ptr<TlsClientContext> client, std::string sni)
      : Continuation(cont->mutex()),
        cont_(cont),
        client_(std::move(client)),
        sni_(std::move(sni)) {}

  void HandleEvent(EventCode code, void* data) override {
    if (!connected_) {
      // From NetProcessor::Connect: data is the connection or -errno.
      if (code == EventCode::kNetOpen) {
        connected_ = true;
        static_cast<SSLNetVConnection*>(static_cast<NetVConnection*>(data))
            ->StartClientHandshake(this);
        return;
      }
      Finish(EventCode::kNetOpenFailed, data);
      return;
    }
    // From the connection, scheduled: the outcome travels in the cookie.
    Finish(code, static_cast<Event*>(data)->cookie());
  }

 private:
  void Finish(EventCode code, void* data) {
    cont_->HandleEvent(
        code == EventCode::kNetOpen ? EventCode::kNetOpen : EventCode::kNetOpenFailed, data);
    delete this;
  }

  Continuation* const cont_;
  std::shared_ptr<TlsClientContext> client_;
  std::string sni_;
  bool connected_ = false;
};

}  // namespace

void TlsConnect(NetProcessor& net, Continuation* cont, const IpEndpoint& to, const std::string& sni,
                std::shared_ptr<TlsClientContext> client, ConnectOptions options) {
  auto* connector = new TlsConnector(cont, client, sni);
  options.make_vc = [client, sni](int fd, NetHandler* nh, const IpEndpoint& local,
                                  const IpEndpoint& remote) -> UnixNetVConnection* {
    return SSLNetVConnection::AdoptClient(fd, nh, local, remote, client, sni);
  };
  net.Connect(connector, to, options);
}

// ---- TlsPort --------------------------------------------------------------------------------

// Starts the handshake of each accepted connection, on its net thread.
class TlsPort::Starter : public Continuation {
 public:
  void HandleEvent(EventCode code, void* data) override {
    if (code != EventCode::kNetAccept) return;
    auto* vc = static_cast<SSLNetVConnection*>(static_cast<NetVConnection*>(data));
    vc->StartHandshake();
  }
};

TlsPort::TlsPort(std::shared_ptr<const TlsPortConfig> config)
    : config_(std::move(config)), starter_(std::make_unique<Starter>()) {}

TlsPort::~TlsPort() = default;

absl::StatusOr<IpEndpoint> TlsPort::Listen(NetProcessor& net, const IpEndpoint& addr,
                                           AcceptOptions options) {
  options.make_vc = [this](int fd, NetHandler* nh, const IpEndpoint& local,
                           const IpEndpoint& remote) -> UnixNetVConnection* {
    return SSLNetVConnection::Adopt(fd, nh, local, remote, config());
  };
  return net.Accept(starter_.get(), addr, options);
}

void TlsPort::SwapConfig(std::shared_ptr<const TlsPortConfig> config) {
  MutexGuard lock(&mu_);
  config_ = std::move(config);
}

std::shared_ptr<const TlsPortConfig> TlsPort::config() const {
  MutexGuard lock(&mu_);
  return config_;
}

}  // namespace tollgate
