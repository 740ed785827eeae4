// TsRuntime: what the plugin API implementation needs from the program that hosts it.
//
// The tollgate binary (and test hosts) fill one in before loading plugins:
//
//   TsRuntime runtime{.events = &event_processor, .tls_hooks = &hooks,
//                     .certs = [&] { return current_cert_table(); }};
//   SetTsRuntime(&runtime);
//   PluginLoader loader; loader.LoadConfig(...);
//   ...
//   FireLifecycleHook(TS_LIFECYCLE_PORTS_READY_HOOK);

#ifndef TOLLGATE_PLUGIN_API_TS_RUNTIME_H_
#define TOLLGATE_PLUGIN_API_TS_RUNTIME_H_

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tollgate {

class CertTable;
class EventProcessor;
class TlsHookRegistry;

struct TsRuntime {
  // Where TSContSchedule* run events. Required.
  EventProcessor* events = nullptr;
  // Where TSHttpHookAdd puts TLS hooks (server and client side). Required.
  TlsHookRegistry* tls_hooks = nullptr;
  // The current certificate table, for TSSslContextFindByName / ByAddr. May be empty.
  std::function<std::shared_ptr<const CertTable>()> certs;
  // TSSslTicketKeyUpdate: installs new ticket key bytes (ATS format). May be empty.
  std::function<absl::Status(absl::string_view key_bytes)> update_ticket_keys;
};

// SetTsRuntime makes |runtime| (kept alive by the caller) the one the TS* functions use.
void SetTsRuntime(const TsRuntime* runtime);

// FireLifecycleHook calls every continuation registered for lifecycle hook |hook_id| (a
// TSLifecycleHookID), in registration order, under its mutex, with the matching
// TS_EVENT_LIFECYCLE_* event and no data. Call it from the thread that reached the moment.
void FireLifecycleHook(int hook_id);

}  // namespace tollgate

#endif  // TOLLGATE_PLUGIN_API_TS_RUNTIME_H_
