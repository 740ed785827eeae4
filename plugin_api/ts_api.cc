// The TS* functions of <ts/ts.h>, on top of the event system, the net layer and the TLS layer.
//
// Handles: a TSCont is a PluginCont (a Continuation calling the plugin's TSEventFunc); a TSMutex
// is a ProxyMutex holding one reference per TSMutexCreate; a TSVConn is the connection's
// generation-checked handle from VcHandleTable cast to a pointer, so a late call on a closed
// connection finds nothing instead of freed memory; a TSAction is the ScheduledCall that
// carries the event to the plugin's continuation.

#include <openssl/ssl.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "iocore/eventsystem/diags.h"
#include "iocore/eventsystem/event_processor.h"
#include "iocore/eventsystem/stats.h"
#include "iocore/tls/ssl_net_vconnection.h"
#include "iocore/tls/tls_hooks.h"
#include "iocore/tls/vc_handle.h"
#include "plugin_api/client_hello.h"
#include "plugin_api/plugin_loader.h"
#include "plugin_api/ts_runtime.h"
#include "ts/ts.h"

using tollgate::Continuation;
using tollgate::EventCode;
using tollgate::MutexLock;
using tollgate::MutexTryLock;
using tollgate::ProxyMutex;
using tollgate::Ptr;
using tollgate::SSLNetVConnection;
using tollgate::TlsHookId;
using tollgate::VcHandleTable;

// TSCont: a continuation that calls the plugin's function.
struct tsapi_cont : public Continuation {
  tsapi_cont(TSEventFunc f, Ptr<ProxyMutex> m) : Continuation(std::move(m)), func(f) {}
  void HandleEvent(EventCode code, void* edata) override {
    func(this, static_cast<TSEvent>(code), edata);
  }
  TSEventFunc func;
  void* data = nullptr;
};

// TSAction: one scheduled call. Its mutex is the target's, so the event thread takes it before
// running; one-shot calls free themselves after the plugin's function returns, as in ATS (an
// action must not be cancelled after its event ran).
struct tsapi_action : public Continuation {
  tsapi_action(tsapi_cont* t, TSEvent e, bool p)
      : Continuation(t->mutex()), target(t), event(e), periodic(p) {}
  void HandleEvent(EventCode, void*) override {
    // The scheduling thread stores |action| after the event is queued; wait for that store.
    { std::lock_guard<std::mutex> lock(scheduling); }
    running = true;
    target->func(target, event, this);
    running = false;
    if (!periodic || cancelled) delete this;
  }
  tsapi_cont* target;
  TSEvent event;
  bool periodic;
  bool running = false;
  bool cancelled = false;
  std::mutex scheduling;  // held while |action| is being stored
  tollgate::Action action;
};

// TSClientHello: owns its bytes, so it outlives the hook and the connection. |layout| holds
// offsets into |bytes|.
struct tsapi_client_hello {
  std::string bytes;
  tollgate::ClientHelloLayout layout;

  const unsigned char* At(tollgate::ClientHelloLayout::Span span) const {
    return reinterpret_cast<const unsigned char*>(bytes.data()) + span.offset;
  }
};

namespace tollgate {
namespace {

const TsRuntime* g_runtime = nullptr;

const TsRuntime& Runtime() {
  static const TsRuntime kEmpty;
  return g_runtime != nullptr ? *g_runtime : kEmpty;
}

uint64_t HandleOf(TSVConn vconn) { return reinterpret_cast<uintptr_t>(vconn); }

TSVConn VConnOf(uint64_t handle) {
  return reinterpret_cast<TSVConn>(static_cast<uintptr_t>(handle));
}

// Resolve returns the connection named by |vconn| when the caller is on its thread and it is
// still open; null otherwise.
SSLNetVConnection* Resolve(TSVConn vconn) {
  return static_cast<SSLNetVConnection*>(VcHandleTable::Get().Resolve(HandleOf(vconn)));
}

void ApiError(const std::string& message) { Diag(DiagLevel::kError, "plugin", message); }

// ---- Hooks ------------------------------------------------------------------------------------

std::optional<TlsHookId> TlsHookOf(TSHttpHookID id) {
  switch (static_cast<int>(id)) {
    case TS_VCONN_START_HOOK:
      return TlsHookId::kVconnStart;
    case TS_VCONN_CLOSE_HOOK:
      return TlsHookId::kVconnClose;
    case TS_SSL_CLIENT_HELLO_HOOK:
      return TlsHookId::kClientHello;
    case TS_SSL_CERT_HOOK:
      return TlsHookId::kCert;
    case TS_SSL_SERVERNAME_HOOK:
      return TlsHookId::kServername;
    case TS_SSL_VERIFY_CLIENT_HOOK:
      return TlsHookId::kVerifyClient;
    case TS_SSL_VERIFY_SERVER_HOOK:
      return TlsHookId::kVerifyServer;
    case TS_VCONN_OUTBOUND_START_HOOK:
      return TlsHookId::kOutboundStart;
    case TS_VCONN_OUTBOUND_CLOSE_HOOK:
      return TlsHookId::kOutboundClose;
    default:
      return std::nullopt;
  }
}

TSEvent EventOf(TlsHookId id) {
  switch (id) {
    case TlsHookId::kVconnStart:
      return TS_EVENT_VCONN_START;
    case TlsHookId::kClientHello:
      return TS_EVENT_SSL_CLIENT_HELLO;
    case TlsHookId::kServername:
      return TS_EVENT_SSL_SERVERNAME;
    case TlsHookId::kCert:
      return TS_EVENT_SSL_CERT;
    case TlsHookId::kVerifyClient:
      return TS_EVENT_SSL_VERIFY_CLIENT;
    case TlsHookId::kVconnClose:
      return TS_EVENT_VCONN_CLOSE;
    case TlsHookId::kOutboundStart:
      return TS_EVENT_VCONN_OUTBOUND_START;
    case TlsHookId::kVerifyServer:
      return TS_EVENT_SSL_VERIFY_SERVER;
    case TlsHookId::kOutboundClose:
      return TS_EVENT_VCONN_OUTBOUND_CLOSE;
  }
  return TS_EVENT_NONE;
}

// A hook call whose continuation's mutex was busy: retried by the event thread, which takes the
// mutex for it. The handshake stays parked meanwhile, since nobody reenabled.
class DeferredHookCall : public Continuation {
 public:
  DeferredHookCall(tsapi_cont* cont, TSEvent event, uint64_t handle)
      : Continuation(cont->mutex()), cont_(cont), event_(event), handle_(handle) {}
  void HandleEvent(EventCode, void*) override {
    cont_->func(cont_, event_, VConnOf(handle_));
    delete this;
  }

 private:
  tsapi_cont* cont_;
  TSEvent event_;
  uint64_t handle_;
};

class PluginTlsHook : public TlsHookCallback {
 public:
  explicit PluginTlsHook(tsapi_cont* cont) : cont_(cont) {}
  void Invoke(TlsHookId id, SSLNetVConnection* vc) override {
    TSEvent event = EventOf(id);
    // The net thread only try-locks a plugin's mutex; if another thread holds it, the call is
    // retried from the event queue and the handshake waits for its reenable as usual.
    MutexTryLock lock(cont_->mutex().get());
    if (!lock.locked()) {
      vc->thread()->ScheduleImm(new DeferredHookCall(cont_, event, vc->handle()));
      return;
    }
    cont_->func(cont_, event, VConnOf(vc->handle()));
  }

 private:
  tsapi_cont* cont_;
};

// Plugin hook adapters and lifecycle registrations live as long as the process.
struct Registrations {
  std::mutex mu;
  std::vector<std::unique_ptr<PluginTlsHook>> tls_hooks;
  std::vector<std::vector<tsapi_cont*>> lifecycle = std::vector<std::vector<tsapi_cont*>>(8);
};

Registrations& Regs() {
  static Registrations* regs = new Registrations;
  return *regs;
}

// Marshals TSVConnTunnel from another thread onto the connection's thread, ahead of the
// reenable the caller sends next (same-source events run in order).
class TunnelDispatcher : public Continuation {
 public:
  void HandleEvent(EventCode, void* data) override {
    uint64_t handle = reinterpret_cast<uintptr_t>(static_cast<Event*>(data)->cookie());
    auto* vc = static_cast<SSLNetVConnection*>(VcHandleTable::Get().Resolve(handle));
    if (vc != nullptr) vc->RequestTunnel();
  }
};

// ---- User args --------------------------------------------------------------------------------

struct UserArgSlots {
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> names[TS_USER_ARGS_COUNT];  // name, description
  void* global[SSLNetVConnection::kUserArgSlots] = {};
};

UserArgSlots& UserArgs() {
  static UserArgSlots* slots = new UserArgSlots;
  return *slots;
}

std::string Format(const char* fmt, va_list args) {
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n < 0) return fmt;
  std::string out(static_cast<size_t>(n), '\0');
  vsnprintf(out.data(), out.size() + 1, fmt, args);
  return out;
}

}  // namespace

void SetTsRuntime(const TsRuntime* runtime) { g_runtime = runtime; }

void FireLifecycleHook(int hook_id) {
  if (hook_id < 0 || hook_id >= 8) return;
  std::vector<tsapi_cont*> conts;
  {
    std::lock_guard<std::mutex> lock(Regs().mu);
    conts = Regs().lifecycle[hook_id];
  }
  TSEvent event = static_cast<TSEvent>(TS_EVENT_LIFECYCLE_PORTS_INITIALIZED + hook_id);
  for (tsapi_cont* cont : conts) {
    MutexLock lock(cont->mutex().get());
    cont->func(cont, event, nullptr);
  }
}

}  // namespace tollgate

using tollgate::Regs;
using tollgate::Resolve;
using tollgate::Runtime;

extern "C" {

const char* const TS_ALPN_PROTOCOL_HTTP_1_1 = "http/1.1";
const char* const TS_ALPN_PROTOCOL_HTTP_2_0 = "h2";

// ---- Registration ------------------------------------------------------------------------------

TSReturnCode TSPluginRegister(const TSPluginRegistrationInfo* plugin_info) {
  if (plugin_info == nullptr) return TS_ERROR;
  return tollgate::RecordPluginRegistration(plugin_info->plugin_name) ? TS_SUCCESS : TS_ERROR;
}

const char* TSTrafficServerVersionGet(void) { return TS_VERSION_STRING; }
int TSTrafficServerVersionGetMajor(void) { return TS_VERSION_MAJOR; }
int TSTrafficServerVersionGetMinor(void) { return TS_VERSION_MINOR; }
int TSTrafficServerVersionGetPatch(void) { return TS_VERSION_MICRO; }

// ---- Continuations -----------------------------------------------------------------------------

TSCont TSContCreate(TSEventFunc funcp, TSMutex mutexp) {
  if (funcp == nullptr) return nullptr;
  Ptr<ProxyMutex> mutex(reinterpret_cast<ProxyMutex*>(mutexp));
  return new tsapi_cont(funcp, std::move(mutex));
}

void TSContDestroy(TSCont contp) { delete contp; }

void TSContDataSet(TSCont contp, void* data) {
  if (contp != nullptr) contp->data = data;
}

void* TSContDataGet(TSCont contp) { return contp != nullptr ? contp->data : nullptr; }

int TSContCall(TSCont contp, TSEvent event, void* edata) {
  if (contp == nullptr) return 0;
  MutexLock lock(contp->mutex().get());
  return contp->func(contp, event, edata);
}

TSMutex TSContMutexGet(TSCont contp) {
  return contp != nullptr ? reinterpret_cast<TSMutex>(contp->mutex().get()) : nullptr;
}

namespace {

TSAction Schedule(TSCont contp, TSHRTime ms, tollgate::EThread* thread, bool periodic) {
  if (contp == nullptr || thread == nullptr) return nullptr;
  TSEvent event = (ms == 0 && !periodic) ? TS_EVENT_IMMEDIATE : TS_EVENT_TIMEOUT;
  auto* action = new tsapi_action(contp, event, periodic);
  std::lock_guard<std::mutex> storing(action->scheduling);
  std::chrono::milliseconds delay(ms < 0 ? 0 : ms);
  if (periodic) {
    action->action = thread->ScheduleEvery(action, std::max(delay, std::chrono::milliseconds(1)));
  } else if (ms <= 0) {
    action->action = thread->ScheduleImm(action);
  } else {
    action->action = thread->ScheduleIn(action, delay);
  }
  return action;
}

tollgate::EThread* PoolThread(TSThreadPool tp) {
  tollgate::EventProcessor* events = Runtime().events;
  if (events == nullptr) return nullptr;
  tollgate::ThreadGroup group =
      tp == TS_THREAD_POOL_TASK && events->thread_count(tollgate::ThreadGroup::kTask) > 0
      ? tollgate::ThreadGroup::kTask
      : tollgate::ThreadGroup::kNet;
  return events->NextThread(group);
}

}  // namespace

TSAction TSContSchedule(TSCont contp, TSHRTime timeout) {
  return Schedule(contp, timeout, tollgate::this_ethread(), false);
}

TSAction TSContScheduleOnPool(TSCont contp, TSHRTime timeout, TSThreadPool tp) {
  return Schedule(contp, timeout, PoolThread(tp), false);
}

TSAction TSContScheduleOnThread(TSCont contp, TSHRTime timeout, TSEventThread ethread) {
  return Schedule(contp, timeout, reinterpret_cast<tollgate::EThread*>(ethread), false);
}

TSAction TSContScheduleEvery(TSCont contp, TSHRTime every) {
  return Schedule(contp, every, tollgate::this_ethread(), true);
}

TSAction TSContScheduleEveryOnPool(TSCont contp, TSHRTime every, TSThreadPool tp) {
  return Schedule(contp, every, PoolThread(tp), true);
}

void TSActionCancel(TSAction actionp) {
  if (actionp == nullptr) return;
  // As in ATS the caller holds the continuation's mutex (locking again is free then); holding it
  // guarantees the call is not running concurrently, so the action can go at once.
  MutexLock lock(actionp->mutex().get());
  actionp->action.Cancel();
  if (actionp->running) {
    actionp->cancelled = true;  // cancelled from its own callback: freed when it returns
  } else {
    delete actionp;
  }
}

int TSActionDone(TSAction) { return 0; }

TSThread TSThreadSelf(void) { return reinterpret_cast<TSThread>(tollgate::this_ethread()); }

TSEventThread TSEventThreadSelf(void) {
  return reinterpret_cast<TSEventThread>(tollgate::this_ethread());
}

// ---- Mutexes -----------------------------------------------------------------------------------

// As in ATS, a new mutex has no reference: a continuation made with it takes one and frees it
// with itself (TSContCreate(f, TSMutexCreate()) leaks nothing); TSMutexDestroy frees a mutex no
// continuation holds.
TSMutex TSMutexCreate(void) { return reinterpret_cast<TSMutex>(new ProxyMutex); }

void TSMutexDestroy(TSMutex mutexp) {
  auto* mutex = reinterpret_cast<ProxyMutex*>(mutexp);
  if (mutex == nullptr) return;
  if (mutex->refcount() != 0) {
    tollgate::ApiError("TSMutexDestroy: the mutex is still used by a continuation; not freed");
    return;
  }
  mutex->AddRef();
  mutex->Release();  // frees it
}

// TSMutexLock and TSMutexUnlock hand the lock across the C ABI: the plugin pairs them, out of
// the analysis' sight.
void TSMutexLock(TSMutex mutexp) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (mutexp != nullptr) reinterpret_cast<ProxyMutex*>(mutexp)->Lock();
}

TSReturnCode TSMutexLockTry(TSMutex mutexp) {
  if (mutexp == nullptr) return TS_ERROR;
  return reinterpret_cast<ProxyMutex*>(mutexp)->TryLock() ? TS_SUCCESS : TS_ERROR;
}

void TSMutexUnlock(TSMutex mutexp) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (mutexp != nullptr) reinterpret_cast<ProxyMutex*>(mutexp)->Unlock();
}

// ---- Hooks -------------------------------------------------------------------------------------

void TSHttpHookAdd(TSHttpHookID id, TSCont contp) {
  std::optional<TlsHookId> tls = tollgate::TlsHookOf(id);
  if (contp == nullptr || !tls.has_value() || Runtime().tls_hooks == nullptr) {
    tollgate::ApiError(absl::StrCat("TSHttpHookAdd: hook id ", static_cast<int>(id),
                                    " is not supported; the continuation will not be called"));
    return;
  }
  auto hook = std::make_unique<tollgate::PluginTlsHook>(contp);
  Runtime().tls_hooks->Add(*tls, hook.get());
  std::lock_guard<std::mutex> lock(Regs().mu);
  Regs().tls_hooks.push_back(std::move(hook));
}

void TSLifecycleHookAdd(TSLifecycleHookID id, TSCont contp) {
  int index = static_cast<int>(id);
  if (contp == nullptr || index < 0 || index >= 8) return;
  std::lock_guard<std::mutex> lock(Regs().mu);
  Regs().lifecycle[index].push_back(contp);
}

// ---- TLS connections ---------------------------------------------------------------------------

void TSVConnReenable(TSVConn sslvcp) {
  SSLNetVConnection::Reenable(tollgate::HandleOf(sslvcp),
                              SSLNetVConnection::HookVerdict::kContinue);
}

void TSVConnReenableEx(TSVConn sslvcp, TSEvent event) {
  SSLNetVConnection::Reenable(tollgate::HandleOf(sslvcp),
                              event == TS_EVENT_ERROR ? SSLNetVConnection::HookVerdict::kError
                                                      : SSLNetVConnection::HookVerdict::kContinue);
}

TSReturnCode TSVConnTunnel(TSVConn sslp) {
  if (SSLNetVConnection* vc = Resolve(sslp)) return vc->RequestTunnel() ? TS_SUCCESS : TS_ERROR;
  uint64_t handle = tollgate::HandleOf(sslp);
  tollgate::EThread* thread = VcHandleTable::Get().ThreadOf(handle);
  if (thread == nullptr) return TS_ERROR;
  static auto* dispatcher = new tollgate::TunnelDispatcher;
  thread->ScheduleImm(dispatcher, EventCode::kImmediate,
                      reinterpret_cast<void*>(static_cast<uintptr_t>(handle)));
  return TS_SUCCESS;
}

TSSslConnection TSVConnSslConnectionGet(TSVConn sslp) {
  SSLNetVConnection* vc = Resolve(sslp);
  return vc != nullptr ? reinterpret_cast<TSSslConnection>(vc->ssl()) : nullptr;
}

int TSVConnIsSsl(TSVConn sslp) {
  return VcHandleTable::Get().ThreadOf(tollgate::HandleOf(sslp)) != nullptr ? 1 : 0;
}

const char* TSVConnSslSniGet(TSVConn sslp, int* length) {
  SSLNetVConnection* vc = Resolve(sslp);
  if (vc == nullptr) {
    if (length != nullptr) *length = 0;
    return nullptr;
  }
  if (length != nullptr) *length = static_cast<int>(vc->sni().size());
  return vc->sni().c_str();
}

TSSslVerifyCTX TSVConnSslVerifyCTXGet(TSVConn sslp) {
  SSLNetVConnection* vc = Resolve(sslp);
  return vc != nullptr ? reinterpret_cast<TSSslVerifyCTX>(vc->verify_ctx()) : nullptr;
}

TSReturnCode TSVConnProtocolEnable(TSVConn connp, const char* protocol_name) {
  SSLNetVConnection* vc = Resolve(connp);
  if (vc == nullptr || protocol_name == nullptr) return TS_ERROR;
  vc->SetProtocolEnabled(protocol_name, true);
  return TS_SUCCESS;
}

TSReturnCode TSVConnProtocolDisable(TSVConn connp, const char* protocol_name) {
  SSLNetVConnection* vc = Resolve(connp);
  if (vc == nullptr || protocol_name == nullptr) return TS_ERROR;
  vc->SetProtocolEnabled(protocol_name, false);
  return TS_SUCCESS;
}

void TSVConnClose(TSVConn connp) {
  if (SSLNetVConnection* vc = Resolve(connp)) vc->DoIoClose(0);
}

void TSVConnAbort(TSVConn connp, int error) {
  if (SSLNetVConnection* vc = Resolve(connp)) vc->DoIoClose(error != 0 ? error : ECONNABORTED);
}

int TSVConnFdGet(TSVConn sslp) {
  SSLNetVConnection* vc = Resolve(sslp);
  return vc != nullptr ? vc->fd() : -1;
}

int TSVConnIsSslReused(TSVConn sslp) {
  SSLNetVConnection* vc = Resolve(sslp);
  return vc != nullptr && vc->session_reused() ? 1 : 0;
}

const char* TSVConnSslCipherGet(TSVConn sslp) {
  SSLNetVConnection* vc = Resolve(sslp);
  if (vc == nullptr || vc->ssl() == nullptr) return nullptr;
  const SSL_CIPHER* cipher = SSL_get_current_cipher(vc->ssl());
  return cipher != nullptr ? SSL_CIPHER_standard_name(cipher) : nullptr;
}

const char* TSVConnSslProtocolGet(TSVConn sslp) {
  SSLNetVConnection* vc = Resolve(sslp);
  return vc != nullptr && vc->ssl() != nullptr ? SSL_get_version(vc->ssl()) : nullptr;
}

const char* TSVConnSslCurveGet(TSVConn sslp) {
  SSLNetVConnection* vc = Resolve(sslp);
  if (vc == nullptr || vc->ssl() == nullptr) return nullptr;
  uint16_t curve = SSL_get_curve_id(vc->ssl());
  return curve != 0 ? SSL_get_curve_name(curve) : nullptr;
}

// ---- ClientHello -------------------------------------------------------------------------------

TSClientHello TSVConnClientHelloGet(TSVConn sslp) {
  SSLNetVConnection* vc = Resolve(sslp);
  if (vc == nullptr || vc->client_hello_bytes().empty()) return nullptr;
  auto ch = std::make_unique<tsapi_client_hello>();
  ch->bytes = std::string(vc->client_hello_bytes());
  std::optional<tollgate::ClientHelloLayout> layout = tollgate::ParseClientHello(ch->bytes);
  if (!layout.has_value()) return nullptr;
  ch->layout = std::move(*layout);
  return ch.release();
}

void TSClientHelloDestroy(TSClientHello ch) { delete ch; }

TSReturnCode TSClientHelloExtensionGet(TSClientHello ch, unsigned int type,
                                       const unsigned char** out, size_t* outlen) {
  if (ch == nullptr || out == nullptr || outlen == nullptr) return TS_ERROR;
  for (const tollgate::ClientHelloLayout::Extension& e : ch->layout.extensions) {
    if (e.type == type) {
      *out = ch->At(e.data);
      *outlen = e.data.length;
      return TS_SUCCESS;
    }
  }
  return TS_ERROR;
}

uint16_t TSClientHelloVersionGet(TSClientHello ch) {
  return ch != nullptr ? ch->layout.legacy_version : 0;
}

TSReturnCode TSClientHelloCipherSuitesGet(TSClientHello ch, const unsigned char** out,
                                          size_t* outlen) {
  if (ch == nullptr || out == nullptr || outlen == nullptr) return TS_ERROR;
  *out = ch->At(ch->layout.cipher_suites);
  *outlen = ch->layout.cipher_suites.length;
  return TS_SUCCESS;
}

size_t TSClientHelloExtensionTypesGet(TSClientHello ch, uint16_t* types, size_t max_types) {
  if (ch == nullptr) return 0;
  const auto& extensions = ch->layout.extensions;
  if (types != nullptr) {
    for (size_t i = 0; i < extensions.size() && i < max_types; ++i) types[i] = extensions[i].type;
  }
  return extensions.size();
}

// ---- Addresses ---------------------------------------------------------------------------------

struct sockaddr const* TSNetVConnRemoteAddrGet(TSVConn vc) {
  SSLNetVConnection* conn = Resolve(vc);
  return conn != nullptr ? conn->remote_addr().sockaddr() : nullptr;
}

struct sockaddr const* TSNetVConnLocalAddrGet(TSVConn vc) {
  SSLNetVConnection* conn = Resolve(vc);
  return conn != nullptr ? conn->local_addr().sockaddr() : nullptr;
}

// ---- SSL contexts ------------------------------------------------------------------------------

TSSslContext TSSslContextFindByName(const char* name) {
  if (name == nullptr || *name == '\0' || !Runtime().certs) return nullptr;
  std::shared_ptr<const tollgate::CertTable> table = Runtime().certs();
  return table != nullptr ? reinterpret_cast<TSSslContext>(table->FindByName(name)) : nullptr;
}

TSSslContext TSSslContextFindByAddr(struct sockaddr const* addr) {
  if (addr == nullptr || !Runtime().certs) return nullptr;
  std::shared_ptr<const tollgate::CertTable> table = Runtime().certs();
  if (table == nullptr) return nullptr;
  socklen_t len = addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  return reinterpret_cast<TSSslContext>(
      table->FindByAddr(tollgate::IpEndpoint::FromSockaddr(addr, len)));
}

TSSslContext TSSslServerContextCreate(TSSslX509, const char*, const char*) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_method());
  if (ctx == nullptr) return nullptr;
  if (!tollgate::ConfigureServerContext(ctx, tollgate::TlsServerSettings{}).ok()) {
    SSL_CTX_free(ctx);
    return nullptr;
  }
  return reinterpret_cast<TSSslContext>(ctx);
}

void TSSslContextDestroy(TSSslContext ctx) { SSL_CTX_free(reinterpret_cast<SSL_CTX*>(ctx)); }

TSReturnCode TSSslTicketKeyUpdate(char* ticketData, int ticketDataLen) {
  if (ticketData == nullptr || ticketDataLen <= 0 || !Runtime().update_ticket_keys) {
    return TS_ERROR;
  }
  absl::Status s = Runtime().update_ticket_keys(
      absl::string_view(ticketData, static_cast<size_t>(ticketDataLen)));
  if (!s.ok()) {
    tollgate::ApiError(absl::StrCat("TSSslTicketKeyUpdate: ", s.message()));
    return TS_ERROR;
  }
  return TS_SUCCESS;
}

// ---- User arguments ----------------------------------------------------------------------------

TSReturnCode TSUserArgIndexReserve(TSUserArgType type, const char* name, const char* description,
                                   int* arg_idx) {
  if (type < 0 || type >= TS_USER_ARGS_COUNT || name == nullptr || arg_idx == nullptr) {
    return TS_ERROR;
  }
  auto& slots = tollgate::UserArgs();
  std::lock_guard<std::mutex> lock(slots.mu);
  auto& names = slots.names[type];
  if (names.size() >= SSLNetVConnection::kUserArgSlots) return TS_ERROR;
  names.emplace_back(name, description != nullptr ? description : "");
  *arg_idx = static_cast<int>(names.size() - 1);
  return TS_SUCCESS;
}

TSReturnCode TSUserArgIndexNameLookup(TSUserArgType type, const char* name, int* arg_idx,
                                      const char** description) {
  if (type < 0 || type >= TS_USER_ARGS_COUNT || name == nullptr) return TS_ERROR;
  auto& slots = tollgate::UserArgs();
  std::lock_guard<std::mutex> lock(slots.mu);
  const auto& names = slots.names[type];
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].first == name) {
      if (arg_idx != nullptr) *arg_idx = static_cast<int>(i);
      if (description != nullptr) *description = names[i].second.c_str();
      return TS_SUCCESS;
    }
  }
  return TS_ERROR;
}

TSReturnCode TSUserArgIndexLookup(TSUserArgType type, int arg_idx, const char** name,
                                  const char** description) {
  if (type < 0 || type >= TS_USER_ARGS_COUNT) return TS_ERROR;
  auto& slots = tollgate::UserArgs();
  std::lock_guard<std::mutex> lock(slots.mu);
  const auto& names = slots.names[type];
  if (arg_idx < 0 || arg_idx >= static_cast<int>(names.size())) return TS_ERROR;
  if (name != nullptr) *name = names[arg_idx].first.c_str();
  if (description != nullptr) *description = names[arg_idx].second.c_str();
  return TS_SUCCESS;
}

void TSUserArgSet(void* data, int arg_idx, void* arg) {
  if (arg_idx < 0 || arg_idx >= SSLNetVConnection::kUserArgSlots) return;
  if (data == nullptr) {
    tollgate::UserArgs().global[arg_idx] = arg;
    return;
  }
  if (SSLNetVConnection* vc = Resolve(static_cast<TSVConn>(data))) vc->set_user_arg(arg_idx, arg);
}

void* TSUserArgGet(void* data, int arg_idx) {
  if (arg_idx < 0 || arg_idx >= SSLNetVConnection::kUserArgSlots) return nullptr;
  if (data == nullptr) return tollgate::UserArgs().global[arg_idx];
  SSLNetVConnection* vc = Resolve(static_cast<TSVConn>(data));
  return vc != nullptr ? vc->user_arg(arg_idx) : nullptr;
}

TSReturnCode TSVConnArgIndexReserve(const char* name, const char* description, int* arg_idx) {
  return TSUserArgIndexReserve(TS_USER_ARGS_VCONN, name, description, arg_idx);
}

TSReturnCode TSVConnArgIndexNameLookup(const char* name, int* arg_idx, const char** description) {
  return TSUserArgIndexNameLookup(TS_USER_ARGS_VCONN, name, arg_idx, description);
}

TSReturnCode TSVConnArgIndexLookup(int arg_idx, const char** name, const char** description) {
  return TSUserArgIndexLookup(TS_USER_ARGS_VCONN, arg_idx, name, description);
}

void TSVConnArgSet(TSVConn connp, int arg_idx, void* arg) { TSUserArgSet(connp, arg_idx, arg); }

void* TSVConnArgGet(TSVConn connp, int arg_idx) { return TSUserArgGet(connp, arg_idx); }

// ---- Diagnostics -------------------------------------------------------------------------------

int TSIsDebugTagSet(const char* t) { return t != nullptr && tollgate::IsDebugTagSet(t) ? 1 : 0; }

void TSDebug(const char* tag, const char* format_str, ...) {
  if (tag == nullptr || format_str == nullptr || !tollgate::IsDebugTagSet(tag)) return;
  va_list args;
  va_start(args, format_str);
  std::string message = tollgate::Format(format_str, args);
  va_end(args);
  tollgate::Diag(tollgate::DiagLevel::kDebug, tag, message);
}

#define TOLLGATE_TS_LOG(level) \
  if (fmt == nullptr) return; \
  va_list args; \
  va_start(args, fmt); \
  std::string message = tollgate::Format(fmt, args); \
  va_end(args); \
  tollgate::Diag(level, "plugin", message)

void TSStatus(const char* fmt, ...) { TOLLGATE_TS_LOG(tollgate::DiagLevel::kStatus); }
void TSNote(const char* fmt, ...) { TOLLGATE_TS_LOG(tollgate::DiagLevel::kNote); }
void TSWarning(const char* fmt, ...) { TOLLGATE_TS_LOG(tollgate::DiagLevel::kWarning); }
void TSError(const char* fmt, ...) { TOLLGATE_TS_LOG(tollgate::DiagLevel::kError); }

void TSFatal(const char* fmt, ...) {
  if (fmt != nullptr) {
    TOLLGATE_TS_LOG(tollgate::DiagLevel::kFatal);
  }
  _exit(1);
}

void TSEmergency(const char* fmt, ...) {
  if (fmt != nullptr) {
    TOLLGATE_TS_LOG(tollgate::DiagLevel::kFatal);
  }
  _exit(1);
}

#undef TOLLGATE_TS_LOG

// ---- Stats -------------------------------------------------------------------------------------

int TSStatCreate(const char* the_name, TSRecordDataType the_type, TSStatPersistence,
                 TSStatSync sync) {
  if (the_name == nullptr || the_type != TS_RECORDDATATYPE_INT) return TS_ERROR;
  tollgate::StatsRegistry& stats = tollgate::GlobalStats();
  if (stats.Find(the_name).has_value()) return TS_ERROR;
  absl::StatusOr<tollgate::StatId> id = stats.Register(
      the_name,
      sync == TS_STAT_SYNC_SUM || sync == TS_STAT_SYNC_COUNT ? tollgate::StatKind::kCounter
                                                             : tollgate::StatKind::kGauge);
  if (!id.ok()) {
    tollgate::ApiError(absl::StrCat("TSStatCreate: ", id.status().message()));
    return TS_ERROR;
  }
  return id->index();
}

void TSStatIntIncrement(int the_stat, TSMgmtInt amount) {
  tollgate::GlobalStats().Add(tollgate::StatId(the_stat), amount);
}

void TSStatIntDecrement(int the_stat, TSMgmtInt amount) {
  tollgate::GlobalStats().Add(tollgate::StatId(the_stat), -amount);
}

TSMgmtInt TSStatIntGet(int the_stat) {
  return tollgate::GlobalStats().Get(tollgate::StatId(the_stat));
}

void TSStatIntSet(int the_stat, TSMgmtInt value) {
  tollgate::GlobalStats().Set(tollgate::StatId(the_stat), value);
}

TSReturnCode TSStatFindName(const char* name, int* idp) {
  if (name == nullptr) return TS_ERROR;
  std::optional<tollgate::StatId> id = tollgate::GlobalStats().Find(name);
  if (!id.has_value()) return TS_ERROR;
  if (idp != nullptr) *idp = id->index();
  return TS_SUCCESS;
}

}  // extern "C"
