#include "proxy/resolver.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tollgate {

namespace resolver_internal {

// The state a Resolve call shares with its ResolveAction: whether the caller cancelled, and the
// reply event once it is scheduled. Shared (by the handle and the lookup) because either may
// be the last to let go of it.
struct Request {
  Mutex mu;
  bool cancelled ABSL_GUARDED_BY(mu) = false;
  Action reply ABSL_GUARDED_BY(mu);
};

// One lookup on an ET_TASK thread. It has no mutex: it touches only its own fields, the
// resolver's cache (under the resolver's mutex) and the request (under the request's).
class Lookup final : public Continuation {
 public:
  Lookup(HostResolver* resolver, std::string key, uint16_t port, Continuation* cont,
         EThread* reply_thread, ResolveResult* out, std::shared_ptr<Request> request)
      : resolver_(resolver),
        key_(std::move(key)),
        port_(port),
        cont_(cont),
        reply_thread_(reply_thread),
        out_(out),
        request_(std::move(request)) {}

  void HandleEvent(EventCode, void*) override {
    resolver_->Forget(this);
    bool cancelled;
    {
      MutexGuard lock(&request_->mu);
      cancelled = request_->cancelled;
    }
    if (!cancelled) {
      // The lookup may block for seconds: no lock is held across it.
      absl::StatusOr<IpEndpoint> answer = resolver_->LookUp(key_, port_);
      MutexGuard lock(&request_->mu);
      if (!request_->cancelled) {
        out_->endpoint = std::move(answer);
        request_->reply = reply_thread_->ScheduleImm(cont_, EventCode::kImmediate, out_);
      }
    }
    delete this;
  }

 private:
  HostResolver* const resolver_;
  const std::string key_;
  const uint16_t port_;
  Continuation* const cont_;
  EThread* const reply_thread_;
  ResolveResult* const out_;
  const std::shared_ptr<Request> request_;
};

}  // namespace resolver_internal

namespace {

using resolver_internal::Lookup;
using resolver_internal::Request;

// Normalize returns the cache key of |host|: lowercased, without a final dot.
std::string Normalize(absl::string_view host) {
  if (absl::EndsWith(host, ".")) host.remove_suffix(1);
  return absl::AsciiStrToLower(host);
}

// ValidHostName returns whether |name| (normalized) is a host name getaddrinfo may be asked
// about: RFC 1123 labels, plus '_' which real DNS names carry.
bool ValidHostName(absl::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (absl::string_view label : absl::StrSplit(name, '.')) {
    if (label.empty() || label.size() > 63) return false;
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
        return false;
      }
    }
  }
  return true;
}

// UnderInvalidTld returns whether |name| (normalized) is "invalid" or ends in ".invalid".
bool UnderInvalidTld(absl::string_view name) {
  return name == "invalid" || absl::EndsWith(name, ".invalid");
}

// Printable returns |host| quoted for a message, escaped: it may come from a client.
std::string Printable(absl::string_view host) {
  return absl::StrCat("'", absl::CHexEscape(host), "'");
}

absl::StatusOr<std::vector<IpEndpoint>> SystemLookup(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0) {
    return absl::NotFoundError(rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
  }
  std::vector<IpEndpoint> addresses;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    IpEndpoint ep = IpEndpoint::FromSockaddr(ai->ai_addr, ai->ai_addrlen);
    if (ep.valid()) addresses.push_back(ep);
  }
  freeaddrinfo(found);
  return addresses;
}

}  // namespace

void ResolveAction::Cancel() {
  if (request_ == nullptr) return;
  MutexGuard lock(&request_->mu);
  request_->cancelled = true;
  // The caller holds the continuation's mutex, so a reply already scheduled cannot run after
  // this (Action::Cancel's guarantee).
  request_->reply.Cancel();
}

HostResolver::HostResolver(EventProcessor* events, Nanoseconds ttl, size_t max_entries,
                           Nanoseconds negative_ttl)
    : events_(events),
      ttl_ns_(ttl.count()),
      negative_ttl_ns_(negative_ttl.count()),
      max_entries_(max_entries),
      lookup_(&SystemLookup) {}

HostResolver::~HostResolver() {
  MutexGuard lock(&mu_);
  for (Lookup* lookup : queued_) delete lookup;
  queued_.clear();
}

std::optional<IpEndpoint> HostResolver::Literal(absl::string_view host, uint16_t port) {
  int family = AF_INET;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    family = AF_INET6;
  } else if (absl::StrContains(host, ':')) {
    family = AF_INET6;
  }
  char text[INET6_ADDRSTRLEN];
  if (host.empty() || host.size() >= sizeof(text)) return std::nullopt;
  memcpy(text, host.data(), host.size());
  text[host.size()] = '\0';
  if (family == AF_INET) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    if (inet_pton(AF_INET, text, &sin.sin_addr) != 1) return std::nullopt;
    return IpEndpoint::FromSockaddr(reinterpret_cast<sockaddr*>(&sin), sizeof(sin));
  }
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  if (inet_pton(AF_INET6, text, &sin6.sin6_addr) != 1) return std::nullopt;
  return IpEndpoint::FromSockaddr(reinterpret_cast<sockaddr*>(&sin6), sizeof(sin6));
}

std::optional<IpEndpoint> HostResolver::Cached(absl::string_view host, uint16_t port) const {
  if (std::optional<IpEndpoint> literal = Literal(host, port)) return literal;
  std::optional<absl::StatusOr<IpEndpoint>> hit = Find(Normalize(host), port);
  if (!hit.has_value() || !hit->ok()) return std::nullopt;
  return **hit;
}

ResolveAction HostResolver::Resolve(const std::string& host, uint16_t port, Continuation* cont,
                                    EThread* reply_thread, ResolveResult* out) {
  if (reply_thread == nullptr) reply_thread = events_->NextThread(ThreadGroup::kNet);
  if (std::optional<IpEndpoint> literal = Literal(host, port)) {
    return AnswerNow(*literal, cont, reply_thread, out);
  }
  std::string key = Normalize(host);
  if (!ValidHostName(key)) {
    return AnswerNow(
        absl::InvalidArgumentError(absl::StrCat(Printable(host), " is not a valid host name")),
        cont, reply_thread, out);
  }
  if (UnderInvalidTld(key)) {
    return AnswerNow(absl::NotFoundError(absl::StrCat("cannot resolve ", Printable(host),
                                                      ": names under .invalid never resolve")),
                     cont, reply_thread, out);
  }
  if (std::optional<absl::StatusOr<IpEndpoint>> hit = Find(key, port)) {
    return AnswerNow(std::move(*hit), cont, reply_thread, out);
  }
  if (events_->thread_count(ThreadGroup::kTask) == 0) {
    // Never fall back to a blocking lookup on the caller's (net) thread.
    return AnswerNow(absl::FailedPreconditionError(absl::StrCat(
                         "cannot resolve ", Printable(host), ": no ET_TASK thread to look it up")),
                     cont, reply_thread, out);
  }
  auto request = std::make_shared<Request>();
  auto* lookup = new Lookup(this, std::move(key), port, cont, reply_thread, out, request);
  {
    MutexGuard lock(&mu_);
    queued_.insert(lookup);
  }
  events_->ScheduleImm(lookup, ThreadGroup::kTask);
  return ResolveAction(std::move(request));
}

void HostResolver::SetLookupForTesting(LookupFn lookup) { lookup_ = std::move(lookup); }

size_t HostResolver::cache_size() const {
  MutexGuard lock(&mu_);
  return cache_.size();
}

std::optional<absl::StatusOr<IpEndpoint>> HostResolver::Find(const std::string& key,
                                                             uint16_t port) const {
  MutexGuard lock(&mu_);
  auto it = cache_.find(key);
  if (it == cache_.end() || it->second.expires_ns <= MonotonicNowNs()) return std::nullopt;
  if (!it->second.address.ok()) return absl::StatusOr<IpEndpoint>(it->second.address.status());
  IpEndpoint ep = *it->second.address;
  ep.set_port(port);
  return absl::StatusOr<IpEndpoint>(ep);
}

absl::StatusOr<IpEndpoint> HostResolver::LookUp(const std::string& key, uint16_t port) {
  absl::StatusOr<std::vector<IpEndpoint>> found = lookup_(key);
  absl::StatusOr<IpEndpoint> address;
  if (!found.ok()) {
    address = absl::NotFoundError(
        absl::StrCat("cannot resolve ", Printable(key), ": ", found.status().message()));
  } else if (found->empty()) {
    address = absl::NotFoundError(absl::StrCat("cannot resolve ", Printable(key), ": no address"));
  } else {
    // IPv4 first: an IPv6 address is often listed but not routed.
    address = found->front();
    for (const IpEndpoint& ep : *found) {
      if (ep.family() == AF_INET) {
        address = ep;
        break;
      }
    }
    address->set_port(0);
  }
  Store(key, address);
  if (address.ok()) address->set_port(port);
  return address;
}

void HostResolver::Store(const std::string& key, const absl::StatusOr<IpEndpoint>& address) {
  int64_t ttl = address.ok() ? ttl_ns_ : negative_ttl_ns_;
  MutexGuard lock(&mu_);
  if (max_entries_ == 0 || ttl <= 0) {
    cache_.erase(key);
    return;
  }
  int64_t now = MonotonicNowNs();
  if (!cache_.contains(key) && cache_.size() >= max_entries_) {
    for (auto it = cache_.begin(); it != cache_.end();) {
      if (it->second.expires_ns <= now) {
        cache_.erase(it++);
      } else {
        ++it;
      }
    }
    if (cache_.size() >= max_entries_) {
      auto soonest = cache_.begin();
      for (auto it = cache_.begin(); it != cache_.end(); ++it) {
        if (it->second.expires_ns < soonest->second.expires_ns) soonest = it;
      }
      cache_.erase(soonest);
    }
  }
  cache_.insert_or_assign(key, Entry{address, now + ttl});
}

void HostResolver::Forget(Lookup* lookup) {
  MutexGuard lock(&mu_);
  queued_.erase(lookup);
}

ResolveAction HostResolver::AnswerNow(absl::StatusOr<IpEndpoint> answer, Continuation* cont,
                                      EThread* reply_thread, ResolveResult* out) {
  out->endpoint = std::move(answer);
  auto request = std::make_shared<Request>();
  MutexGuard lock(&request->mu);
  request->reply = reply_thread->ScheduleImm(cont, EventCode::kImmediate, out);
  return ResolveAction(request);
}

}  // namespace tollgate
