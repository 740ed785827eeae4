#include "proxy/server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "iocore/eventsystem/diags.h"
#include "iocore/eventsystem/event_processor.h"
#include "iocore/net/net_processor.h"
#include "iocore/tls/ssl_net_vconnection.h"
#include "iocore/tls/tls_hooks.h"
#include "plugin_api/plugin_loader.h"
#include "plugin_api/ts_runtime.h"
#include "proxy/access_log.h"
#include "proxy/admin_server.h"
#include "proxy/demo_origin.h"
#include "proxy/http/http_proxy.h"
#include "proxy/resolver.h"
#include "proxy/stats_json.h"
#include "proxy/tunnel.h"
#include "ts/apidefs.h"

namespace tollgate {
namespace {

Nanoseconds Seconds(int s) { return std::chrono::seconds(s); }

HttpProxySettings HttpSettings(const RecordsConfig& r) {
  HttpProxySettings settings;
  auto or_day = [](int s) { return s > 0 ? Seconds(s) : Nanoseconds(std::chrono::hours(24)); };
  settings.keep_alive_in = or_day(r.http_keep_alive_no_activity_timeout_in);
  settings.transaction_in = or_day(r.http_transaction_no_activity_timeout_in);
  settings.transaction_out = or_day(r.http_transaction_no_activity_timeout_out);
  settings.connect_timeout = or_day(r.http_connect_attempts_timeout);
  settings.pool.idle_timeout = or_day(r.http_keep_alive_no_activity_timeout_out);
  return settings;
}

absl::StatusOr<std::shared_ptr<TlsClientContext>> OriginTls(const RecordsConfig& r,
                                                            const TlsHookRegistry* hooks) {
  TlsClientSettings settings;
  switch (r.ssl_client_verify_server_policy) {
    case VerifyServerPolicy::kDisabled:
      settings.verify_policy = TlsClientSettings::VerifyPolicy::kDisabled;
      break;
    case VerifyServerPolicy::kPermissive:
      settings.verify_policy = TlsClientSettings::VerifyPolicy::kPermissive;
      break;
    case VerifyServerPolicy::kEnforced:
      settings.verify_policy = TlsClientSettings::VerifyPolicy::kEnforced;
      break;
  }
  settings.ca_file = r.ssl_client_ca_cert_filename;
  return TlsClientContext::Make(settings, hooks);
}

// The embedded defaults' remap: every listener's address, by IP and as localhost, to the demo
// origin.
std::string DemoRemap(const std::vector<ServerPort>& ports, const IpEndpoint& demo) {
  std::string text = "# generated: every listener to the built-in demo origin\n";
  for (const ServerPort& port : ports) {
    const char* scheme = port.tls ? "https" : "http";
    for (const std::string& host : {port.bind.AddressString(), std::string("localhost")}) {
      absl::StrAppend(&text, "map ", scheme, "://", host, ":", port.bind.port(), "/ http://",
                      demo.ToString(), "/\n");
    }
  }
  return text;
}

}  // namespace

struct Server::Impl {
  // The event threads stop first, so that no session, listener or server below runs while it
  // is destroyed (also when Start fails half-way).
  ~Impl() {
    events.Shutdown();
    SetTsRuntime(nullptr);
  }

  ServerOptions options;
  ConfigSet config;
  EventProcessor events;
  std::unique_ptr<NetProcessor> net;
  TlsHookRegistry hooks;
  TsRuntime runtime;
  PluginLoader plugins;
  std::unique_ptr<HostResolver> resolver;
  std::unique_ptr<AccessLog> access_log;
  std::unique_ptr<HttpProxy> http;
  std::unique_ptr<TunnelAcceptor> tunnels;
  std::unique_ptr<DemoOrigin> demo;
  std::unique_ptr<AdminServer> admin;
  std::vector<std::pair<ServerPort, std::unique_ptr<TlsPort>>> tls_ports;
  IpEndpoint demo_addr;
  bool stopped = false;

  std::shared_ptr<const CertTable> current_certs() {
    MutexGuard lock(&certs_mu);
    return certs;
  }
  Mutex certs_mu;
  std::shared_ptr<const CertTable> certs ABSL_GUARDED_BY(certs_mu);

  absl::StatusOr<std::shared_ptr<const TlsPortConfig>> MakePortConfig(const ConfigSet& set) {
    TlsPortSpec spec;
    spec.certs = set.certs;
    spec.settings = ServerTlsSettings(set);
    spec.hooks = &hooks;
    spec.acceptor = http->acceptor(HttpScheme::kHttps);
    spec.protocols = {{"http/1.1", http->acceptor(HttpScheme::kHttps)}};
    spec.tunnel_acceptor = tunnels.get();
    spec.sni = set.sni;
    spec.forward_acceptor = tunnels.get();
    return MakeTlsPortConfig(std::move(spec));
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Stop(); }

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  absl::StatusOr<ConfigSet> config =
      options.config_dir.empty() ? EmbeddedConfig() : LoadConfigDir(options.config_dir);
  if (!config.ok()) return config.status();
  impl->config = *std::move(config);
  ConfigSet& set = impl->config;
  for (const std::string& warning : set.warnings) Diag(DiagLevel::kWarning, "config", warning);
  const RecordsConfig& records = set.records;
  if (absl::Status s = SetDebugTags(records.diags_debug_enabled, records.diags_debug_tags);
      !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(records.source.empty() ? "records" : records.source,
                     ": proxy.config.diags.debug.tags: ", s.message()));
  }
  {
    MutexGuard lock(&impl->certs_mu);
    impl->certs = set.certs;
  }

  NetConfig net_config;
  net_config.connections_throttle = records.net_connections_throttle;
  if (records.net_default_inactivity_timeout > 0) {
    net_config.default_inactivity_timeout = Seconds(records.net_default_inactivity_timeout);
  }
  impl->net = std::make_unique<NetProcessor>(net_config);
  const int cpus = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int net_threads = records.exec_thread_autoconfig ? cpus : records.exec_thread_limit;
  Impl* raw = impl.get();
  if (absl::Status s =
          impl->events.Start({.net_threads = net_threads,
                              .task_threads = records.task_threads,
                              .net_thread_init = [raw](EThread& t) { raw->net->InitThread(t); }});
      !s.ok()) {
    return s;
  }

  // Plugins register their hooks before any port opens.
  impl->runtime.events = &impl->events;
  impl->runtime.tls_hooks = &impl->hooks;
  impl->runtime.certs = [raw] { return raw->current_certs(); };
  SetTsRuntime(&impl->runtime);
  for (const ConfigPlugin& plugin : set.plugins) {
    const std::string where = absl::StrCat(set.config_dir, "/plugin.config:", plugin.line.line);
    PluginConfigLine line = plugin.line;
    line.path = plugin.resolved;
    if (absl::Status s = impl->plugins.Load(line, where, set.config_dir, set.config_dir); !s.ok()) {
      return s;
    }
    Diag(DiagLevel::kNote, "plugin", absl::StrCat("loaded ", plugin.resolved));
  }

  impl->resolver = std::make_unique<HostResolver>(&impl->events);
  impl->access_log = std::make_unique<AccessLog>(STDOUT_FILENO);
  AccessLog* log = impl->access_log.get();
  impl->http = std::make_unique<HttpProxy>(
      impl->net.get(), impl->resolver.get(), HttpSettings(records),
      [log](const AccessLogEntry& entry) { log->Append(FormatAccessLogLine(entry)); });
  absl::StatusOr<std::shared_ptr<TlsClientContext>> origin_tls = OriginTls(records, &impl->hooks);
  if (!origin_tls.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        records.source.empty() ? "records" : records.source,
        ": proxy.config.ssl.client.CA.cert.filename: ", origin_tls.status().message()));
  }
  impl->http->SetOriginTls(*origin_tls);
  impl->tunnels = std::make_unique<TunnelAcceptor>(impl->net.get(), impl->resolver.get());

  if (options.config_dir.empty()) {
    impl->demo = std::make_unique<DemoOrigin>();
    absl::StatusOr<IpEndpoint> demo =
        impl->demo->Listen(*impl->net, IpEndpoint::Loopback(AF_INET, 0));
    if (!demo.ok()) return demo.status();
    impl->demo_addr = *demo;
    absl::StatusOr<std::shared_ptr<const RemapConfig>> remap =
        RemapConfig::Parse(DemoRemap(set.ports, *demo), "remap.config (embedded)", nullptr);
    if (!remap.ok()) return remap.status();
    set.remap = *remap;
  }
  impl->http->SetRemap(set.remap);

  std::vector<std::string> lines;
  for (const ServerPort& port : set.ports) {
    absl::StatusOr<IpEndpoint> bound;
    if (port.tls) {
      absl::StatusOr<std::shared_ptr<const TlsPortConfig>> port_config = impl->MakePortConfig(set);
      if (!port_config.ok()) return port_config.status();
      auto tls_port = std::make_unique<TlsPort>(*port_config);
      bound = tls_port->Listen(*impl->net, port.bind);
      impl->tls_ports.emplace_back(port, std::move(tls_port));
    } else {
      bound = impl->net->Accept(impl->http->acceptor(HttpScheme::kHttp), port.bind);
    }
    if (!bound.ok()) return bound.status();
    lines.push_back(absl::StrCat("tollgate: listening on ", port.tls ? "https" : "http", "://",
                                 bound->ToString(), port.tls ? " (TLS)" : ""));
  }
  if (records.admin_port > 0) {
    impl->admin = std::make_unique<AdminServer>(AdminServer::Handlers{
        .stats_json = [] { return BuildStatsJson(); },
        .healthy = [raw] { return !raw->http->draining(); },
    });
    absl::StatusOr<IpEndpoint> admin = impl->admin->Listen(
        *impl->net, IpEndpoint::Loopback(AF_INET, static_cast<uint16_t>(records.admin_port)));
    if (!admin.ok()) return admin.status();
    lines.push_back(
        absl::StrCat("tollgate: admin on http://", admin->ToString(), " (/stats, /healthz)"));
  }
  if (impl->demo != nullptr) {
    lines.push_back(absl::StrCat("tollgate: demo origin on http://", impl->demo_addr.ToString(),
                                 " (/, /echo, /bytes/N)"));
  }
  for (const ServerPort& port : set.ports) {
    if (port.tls) {
      lines.push_back(absl::StrCat("try: curl -k https://", port.bind.ToString(), "/"));
      break;
    }
  }
  if (lines.back().rfind("try:", 0) != 0) {
    for (const ServerPort& port : set.ports) {
      lines.push_back(absl::StrCat("try: curl http://", port.bind.ToString(), "/"));
      break;
    }
  }
  for (const std::string& line : lines) std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  FireLifecycleHook(TS_LIFECYCLE_PORTS_READY_HOOK);
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

absl::Status Server::Reload() {
  Impl& impl = *impl_;
  if (impl.options.config_dir.empty()) {
    return absl::FailedPreconditionError(
        "running on the embedded defaults (no --config-dir): nothing to reload");
  }
  absl::StatusOr<ConfigSet> loaded = LoadConfigDir(impl.options.config_dir);
  if (!loaded.ok()) return loaded.status();
  ConfigSet& next = *loaded;
  // Build everything first: a failure leaves the running configuration untouched.
  std::vector<std::shared_ptr<const TlsPortConfig>> port_configs;
  for (size_t i = 0; i < impl.tls_ports.size(); ++i) {
    absl::StatusOr<std::shared_ptr<const TlsPortConfig>> config = impl.MakePortConfig(next);
    if (!config.ok()) return config.status();
    port_configs.push_back(*std::move(config));
  }
  absl::StatusOr<std::shared_ptr<TlsClientContext>> origin_tls =
      OriginTls(next.records, &impl.hooks);
  if (!origin_tls.ok()) return origin_tls.status();
  const RecordsConfig& old_records = impl.config.records;
  std::vector<std::string> restart_only;
  if (next.records.http_server_ports != old_records.http_server_ports) {
    restart_only.push_back("proxy.config.http.server_ports");
  }
  if (next.records.exec_thread_limit != old_records.exec_thread_limit ||
      next.records.exec_thread_autoconfig != old_records.exec_thread_autoconfig) {
    restart_only.push_back("proxy.config.exec_thread.*");
  }
  if (next.records.admin_port != old_records.admin_port) {
    restart_only.push_back("proxy.config.admin.port");
  }
  if (next.plugins.size() != impl.config.plugins.size()) restart_only.push_back("plugin.config");
  for (const std::string& warning : next.warnings) Diag(DiagLevel::kWarning, "config", warning);
  if (!restart_only.empty()) {
    Diag(DiagLevel::kWarning, "config",
         absl::StrCat("reload: changes to ", absl::StrJoin(restart_only, ", "),
                      " take effect after a restart"));
  }

  for (size_t i = 0; i < impl.tls_ports.size(); ++i) {
    impl.tls_ports[i].second->SwapConfig(port_configs[i]);
  }
  impl.http->SetRemap(next.remap);
  impl.http->SetOriginTls(*origin_tls);
  {
    MutexGuard lock(&impl.certs_mu);
    impl.certs = next.certs;
  }
  if (absl::Status s =
          SetDebugTags(next.records.diags_debug_enabled, next.records.diags_debug_tags);
      !s.ok()) {
    Diag(DiagLevel::kWarning, "config", absl::StrCat("reload: debug tags kept: ", s.message()));
  }
  Diag(DiagLevel::kNote, "config",
       absl::StrCat("reloaded ", impl.options.config_dir, ": ", next.certs->size(),
                    " certificate entries, ", next.sni->size(), " sni rules, ", next.remap->size(),
                    " remap rules"));
  impl.config = std::move(next);
  return absl::OkStatus();
}

void Server::BeginDrain() {
  Impl& impl = *impl_;
  Diag(DiagLevel::kNote, "server",
       absl::StrCat("draining: ", impl.http->active_sessions(),
                    " client sessions open; no new connections"));
  impl.http->BeginDrain();
  impl.net->StopAccepting();
  impl.net->CloseIdleKeepAlive();
}

bool Server::DrainDone() {
  Impl& impl = *impl_;
  if (impl.http->active_sessions() == 0) return true;
  impl.net->CloseIdleKeepAlive();
  return false;
}

Nanoseconds Server::shutdown_timeout() const {
  return Seconds(impl_->config.records.stop_shutdown_timeout);
}

void Server::Stop() {
  Impl& impl = *impl_;
  if (impl.stopped) return;
  impl.stopped = true;
  impl.events.Shutdown();
  SetTsRuntime(nullptr);
  impl.access_log->Flush();
}

void Server::FlushAccessLog() { impl_->access_log->Flush(); }

}  // namespace tollgate
