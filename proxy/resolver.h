// HostResolver: host names to IpEndpoints, without blocking a net thread.
//
// Routes (sni.yaml tunnel_route / forward_route, remap.config origins) name their destination by
// host name or address. An address literal needs no lookup (Literal). A name is looked up with
// getaddrinfo(3) on an ET_TASK thread, and the answer is handed back to the caller's
// continuation on the thread it asks for, as an event, never inline. Answers are cached: found
// addresses for |ttl|, failures for |negative_ttl|, at most |max_entries| names.
//
//   HostResolver resolver(&event_processor);
//   ...
//   // In a session, under its mutex, on its net thread:
//   if (std::optional<IpEndpoint> to = resolver.Cached(host, port)) return Connect(*to);
//   lookup_ = resolver.Resolve(host, port, this, vc->thread(), &resolved_);
//   ...
//   // HandleEvent(EventCode::kImmediate, ...) on vc->thread():
//   if (!resolved_.endpoint.ok()) return Fail(resolved_.endpoint.status());
//   Connect(*resolved_.endpoint);
//
// Names under the special-use top-level domain "invalid" (RFC 6761 section 6.4) fail at once
// with NotFound, without a query leaving the host. Anything else that is not an address literal
// must be a syntactically valid host name (labels of letters, digits, '-' and '_', 1 to 63
// bytes each, 253 bytes in all, an optional final dot), or the answer is InvalidArgument: names
// that reach the resolver may come from a client's SNI.
//
// Threads: every method may be called from any thread. Lookups of the same name that overlap
// are not merged; each runs getaddrinfo (the cache answers the ones that come after).

#ifndef TOLLGATE_PROXY_RESOLVER_H_
#define TOLLGATE_PROXY_RESOLVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "iocore/eventsystem/clock.h"
#include "iocore/eventsystem/continuation.h"
#include "iocore/eventsystem/ethread.h"
#include "iocore/eventsystem/event_processor.h"
#include "iocore/eventsystem/mutex.h"
#include "iocore/net/ip_endpoint.h"

namespace tollgate {

namespace resolver_internal {
struct Request;
class Lookup;
}  // namespace resolver_internal

// ResolveResult is where HostResolver::Resolve puts its answer, before calling back.
struct ResolveResult {
  // The first address found, an IPv4 one when there is one, with the port asked for. On failure:
  // NotFound naming the host and the reason ("cannot resolve 'x.test': Name or service not
  // known"), also for names under ".invalid"; InvalidArgument naming the host when it is not a
  // valid host name; FailedPrecondition when the EventProcessor has no ET_TASK thread.
  absl::StatusOr<IpEndpoint> endpoint;
};

// ResolveAction is the handle of one Resolve call: it cancels the callback. Copyable; a
// default-constructed one cancels nothing.
class ResolveAction {
 public:
  ResolveAction() = default;

  // Cancel makes sure the lookup neither writes its ResolveResult nor calls its continuation
  // after Cancel returns; the lookup itself may still run and fill the cache. Call it with the
  // continuation's mutex held (as from its own handler); then, once Cancel returns, the
  // continuation and the ResolveResult may be destroyed. Harmless after the callback ran, and
  // when called twice.
  void Cancel();

  // empty returns whether this handle belongs to no Resolve call.
  bool empty() const { return request_ == nullptr; }

 private:
  friend class HostResolver;
  explicit ResolveAction(std::shared_ptr<resolver_internal::Request> request)
      : request_(std::move(request)) {}

  std::shared_ptr<resolver_internal::Request> request_;
};

class HostResolver {
 public:
  static constexpr Nanoseconds kDefaultTtl = std::chrono::seconds(60);
  static constexpr size_t kDefaultMaxEntries = 4096;
  static constexpr Nanoseconds kDefaultNegativeTtl = std::chrono::seconds(5);

  // LookupFn returns every address of |host| (ports unset), or an error whose message says why
  // there is none. The default runs getaddrinfo(3). It is called on an ET_TASK thread and may
  // block.
  using LookupFn = std::function<absl::StatusOr<std::vector<IpEndpoint>>(const std::string& host)>;

  // HostResolver looks names up on |events|' ET_TASK threads (not owned; it must outlive every
  // Resolve call's callback). Found addresses are cached for |ttl| and failures for
  // |negative_ttl|; zero or less caches nothing of that kind. The cache holds at most
  // |max_entries| names (0: no cache); when full, expired names go first, then the one closest
  // to expiry.
  explicit HostResolver(EventProcessor* events, Nanoseconds ttl = kDefaultTtl,
                        size_t max_entries = kDefaultMaxEntries,
                        Nanoseconds negative_ttl = kDefaultNegativeTtl);

  // ~HostResolver frees lookups whose events were dropped by EventProcessor::Shutdown without
  // running. Destroy the resolver after EventProcessor::Shutdown, or when no Resolve call is in
  // flight.
  ~HostResolver();

  HostResolver(const HostResolver&) = delete;
  HostResolver& operator=(const HostResolver&) = delete;

  // Literal returns |host| as an address with |port| when it is an IPv4 address ("10.1.2.3") or
  // an IPv6 address, with or without brackets ("::1", "[::1]"); nullopt for anything else
  // (names, zone ids, malformed addresses). No lookup, no allocation.
  static std::optional<IpEndpoint> Literal(absl::string_view host, uint16_t port);

  // Cached returns Literal(host, port), else the cached address of |host| (case-insensitive,
  // final dot ignored) with |port| if it has not expired; nullopt otherwise, also for a cached
  // failure. It never looks anything up.
  std::optional<IpEndpoint> Cached(absl::string_view host, uint16_t port) const;

  // Resolve finds |host|'s address and reports it: it fills |*out| and then schedules |cont| on
  // |reply_thread| with EventCode::kImmediate (the Event's cookie is |out|), so |cont| runs
  // under its own mutex, taken by the event system, and never inside this call. A literal, a
  // fresh cache entry (found or failed), a name under ".invalid" and an invalid name are
  // answered at once, without a task thread; anything else is looked up on an ET_TASK thread.
  // |reply_thread| null means the next ET_NET thread.
  //
  // The caller keeps |cont| and |out| alive until the callback ran, or until it called Cancel on
  // the returned action (with |cont|'s mutex held). It must not read |*out| before the callback.
  ResolveAction Resolve(const std::string& host, uint16_t port, Continuation* cont,
                        EThread* reply_thread, ResolveResult* out);

  // SetLookupForTesting replaces getaddrinfo for this resolver's lookups (tests use it to fake
  // answers and failures and to count lookups). Call it before the first Resolve.
  void SetLookupForTesting(LookupFn lookup);

  // cache_size returns the number of names cached now, expired ones included.
  size_t cache_size() const;

 private:
  friend class resolver_internal::Lookup;

  struct Entry {
    // The address (port 0) or the failure (NotFound).
    absl::StatusOr<IpEndpoint> address;
    int64_t expires_ns = 0;
  };

  // Answers |key| from the cache if it is there and fresh. |port| is applied to an address.
  std::optional<absl::StatusOr<IpEndpoint>> Find(const std::string& key, uint16_t port) const;
  // Runs the lookup (on a task thread), caches and returns the answer with |port|.
  absl::StatusOr<IpEndpoint> LookUp(const std::string& key, uint16_t port);
  void Store(const std::string& key, const absl::StatusOr<IpEndpoint>& address);
  void Forget(resolver_internal::Lookup* lookup);
  // Fills |*out| and schedules the callback now (an answer known without a lookup).
  ResolveAction AnswerNow(absl::StatusOr<IpEndpoint> answer, Continuation* cont,
                          EThread* reply_thread, ResolveResult* out);

  EventProcessor* const events_;
  const int64_t ttl_ns_;
  const int64_t negative_ttl_ns_;
  const size_t max_entries_;
  LookupFn lookup_;

  mutable Mutex mu_;
  absl::flat_hash_map<std::string, Entry> cache_ ABSL_GUARDED_BY(mu_);
  // Lookups scheduled on a task thread that have not started: if the EventProcessor drops them
  // at shutdown, the destructor frees them.
  absl::flat_hash_set<resolver_internal::Lookup*> queued_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tollgate

#endif  // TOLLGATE_PROXY_RESOLVER_H_
