#include "tests/util/plugin_host.h"

#include <unistd.h>

#include "plugin_api/plugin_loader.h"
#include "tests/util/test_certs.h"
#include "tests/util/tunnel_relay.h"

namespace tollgate::test_util {

StderrCapture::StderrCapture() {
  int fds[2];
  if (pipe(fds) != 0) abort();
  saved_ = dup(STDERR_FILENO);
  dup2(fds[1], STDERR_FILENO);
  close(fds[1]);
  read_fd_ = fds[0];
  reader_ = std::thread([this] {
    std::string partial;
    char buf[4096];
    ssize_t n;
    while ((n = read(read_fd_, buf, sizeof(buf))) > 0) {
      partial.append(buf, n);
      size_t nl;
      while ((nl = partial.find('\n')) != std::string::npos) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          lines_.push_back(partial.substr(0, nl));
        }
        partial.erase(0, nl + 1);
        count_.Increment();
      }
    }
  });
}

StderrCapture::~StderrCapture() {
  dup2(saved_, STDERR_FILENO);  // closes the pipe's write end: the reader sees EOF
  close(saved_);
  reader_.join();
  close(read_fd_);
}

std::vector<std::string> StderrCapture::Lines(const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const std::string& line : lines_) {
    size_t at = line.find(text);
    if (at != std::string::npos) out.push_back(line.substr(at + text.size()));
  }
  return out;
}

bool StderrCapture::WaitFor(const std::string& text, size_t n) {
  for (auto start = std::chrono::steady_clock::now();
       std::chrono::steady_clock::now() - start < kTestDeadline;) {
    if (Lines(text).size() >= n) return true;
    count_.WaitAtLeast(count_.value() + 1, std::chrono::milliseconds(50));
  }
  return false;
}

class PluginTlsHost::Acceptor : public Continuation {
 public:
  explicit Acceptor(SessionLog* log) : log_(log) {}
  void HandleEvent(EventCode code, void* data) override {
    if (code != EventCode::kNetAccept) return;
    (new EchoSession(static_cast<NetVConnection*>(data), log_))->Start();
    log_->accepted.Increment();
  }

 private:
  SessionLog* log_;
};

class PluginTlsHost::TunnelAcceptor : public Continuation {
 public:
  explicit TunnelAcceptor(PluginTlsHost* host) : host_(host) {}
  void HandleEvent(EventCode code, void* data) override {
    if (code != EventCode::kNetAccept) return;
    auto* vc = static_cast<SSLNetVConnection*>(static_cast<NetVConnection*>(data));
    {
      std::lock_guard<std::mutex> lock(host_->mu_);
      std::optional<SniRoute> route = vc->TunnelDestination();
      host_->tunnel_destinations_.push_back(route.has_value() ? route->ToString() : "none");
    }
    new TunnelRelay(vc, host_->net_.get(), host_->far_);
  }

 private:
  PluginTlsHost* host_;
};

PluginTlsHost::PluginTlsHost()
    : acceptor_(std::make_unique<Acceptor>(&sessions_)),
      tunnel_acceptor_(std::make_unique<TunnelAcceptor>(this)) {
  runtime_.events = &ep_;
  runtime_.tls_hooks = &hooks_;
  runtime_.certs = [this] { return certs_; };
  SetTsRuntime(&runtime_);
}

PluginTlsHost::~PluginTlsHost() {
  if (net_ != nullptr) {
    for (auto start = std::chrono::steady_clock::now(); net_->open_connections() > 0 &&
         std::chrono::steady_clock::now() - start < kTestDeadline;) {
      std::this_thread::yield();
    }
  }
  sessions_.finished.WaitAtLeast(sessions_.accepted.value(), kTestDeadline);
  ep_.Shutdown();
  SetTsRuntime(nullptr);
}

absl::Status PluginTlsHost::LoadPlugin(const std::string& path, std::vector<std::string> args) {
  std::string absolute = path;
  if (absolute.empty() || absolute[0] != '/') {
    char cwd[4096];
    absolute = std::string(getcwd(cwd, sizeof(cwd))) + "/" + path;
  }
  static PluginLoader* loader = new PluginLoader;  // plugins stay loaded for the process
  return loader->Load({.line = 1, .path = absolute, .args = std::move(args)}, "plugin.config:1",
                      "/", "");
}

absl::Status PluginTlsHost::Start(TlsServerSettings settings,
                                  std::vector<std::string> extra_names) {
  net_ = std::make_unique<NetProcessor>();
  absl::Status started =
      ep_.Start({.net_threads = 1, .task_threads = 1, .net_thread_init = [this](EThread& t) {
                   net_->InitThread(t);
                 }});
  if (!started.ok()) return started;
  CertTable::Builder builder(CertTableOptions{
      .configure_ctx = [settings](SSL_CTX* ctx) { return ConfigureServerContext(ctx, settings); }});
  auto add = [&](const std::string& name, bool is_default) -> absl::Status {
    absl::StatusOr<TestCert> cert = MakeCert({.common_name = name, .dns_names = {name}});
    if (!cert.ok()) return cert.status();
    CertTable::EntrySpec entry;
    entry.certs.push_back({.leaf = std::move(cert->cert), .key = std::move(cert->key)});
    if (is_default) entry.dest_ips.push_back(DestIp::Any());
    return builder.Add(std::move(entry));
  };
  if (absl::Status s = add("a.test", true); !s.ok()) return s;
  for (const std::string& name : extra_names) {
    if (absl::Status s = add(name, false); !s.ok()) return s;
  }
  absl::StatusOr<std::shared_ptr<const CertTable>> table = std::move(builder).Build();
  if (!table.ok()) return table.status();
  certs_ = *table;
  absl::StatusOr<std::shared_ptr<const TlsPortConfig>> config =
      MakeTlsPortConfig(certs_, settings, &hooks_, acceptor_.get(), tunnel_acceptor_.get());
  if (!config.ok()) return config.status();
  port_ = std::make_unique<TlsPort>(*config);
  absl::StatusOr<IpEndpoint> bound = port_->Listen(*net_, IpEndpoint::Loopback(AF_INET, 0));
  if (!bound.ok()) return bound.status();
  port_number_ = bound->port();
  return absl::OkStatus();
}

std::vector<std::string> PluginTlsHost::tunnel_destinations() {
  std::lock_guard<std::mutex> lock(mu_);
  return tunnel_destinations_;
}

}  // namespace tollgate::test_util
