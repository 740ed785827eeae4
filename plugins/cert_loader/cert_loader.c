/* cert_loader: serves certificates from a directory, chosen by the client's server name (SNI),
 * loaded on demand off the net threads and cached.
 *
 *   plugin.config:  cert_loader.so /path/to/certs [--max-entries=N] [--negative-ttl-ms=N]
 *
 * For a connection whose SNI is NAME, the TS_SSL_CERT_HOOK installs the SSL_CTX built from
 * /path/to/certs/NAME.pem (certificate chain, leaf first) and /path/to/certs/NAME.key. Without
 * SNI, or when the files are missing or broken, the connection keeps Tollgate's default
 * certificate.
 *
 * Threads and the order of events for one name:
 *   1. CERT hook (the connection's net thread): cache hit -> install, reenable inline; negative
 *      hit -> reenable inline; miss -> park the handshake on the name's load, starting that load
 *      on the TASK pool if none is in flight (single-flight: one disk read per name at a time).
 *   2. Load (a task thread): all disk I/O; builds the SSL_CTX or records a negative entry, then
 *      hands each parked connection back to its own net thread.
 *   3. Install (each parked connection's net thread): SSL_set_SSL_CTX, then TSVConnReenable.
 *
 * The cache (entries, LRU order, loads in flight) is guarded by one pthread mutex, held only for
 * memory operations, never across disk I/O or calls into the core: the hook on a net thread
 * waits for it at most that long.
 *
 * Stats (plugin.cert_loader.*): loads, load_failures, cache_hits, negative_hits, refused,
 * evictions. Debug tag "cert_loader". */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ts/ts.h"

#define TAG "cert_loader"

/* The longest DNS name; longer SNI values are refused. */
#define kMaxNameLength 253

/* A cached result for one name: a context, or the fact that there was none (negative). */
typedef struct Entry {
  char* name;
  SSL_CTX* ctx; /* owned (one reference); NULL for a negative entry */
  int64_t expires_ms; /* negative entries: monotonic time at which they lapse */
  struct Entry* hash_next; /* bucket chain */
  struct Entry* newer; /* LRU list: head is the most recently used */
  struct Entry* older;
} Entry;

/* A connection parked in the CERT hook, waiting for a load. */
typedef struct Waiter {
  TSVConn vc; /* generation-checked handle: safe to keep after the VC closes */
  TSEventThread thread; /* the VC's net thread: its SSL may only be touched there */
  struct Waiter* next;
} Waiter;

/* One load in flight: the name and the connections waiting for it. */
typedef struct Load {
  char* name;
  Waiter* waiters;
  struct Load* next;
} Load;

/* The work of installing a loaded context on one parked connection. */
typedef struct Install {
  TSVConn vc;
  SSL_CTX* ctx; /* one reference, dropped after the install */
} Install;

static struct {
  char* dir;
  size_t max_entries;
  int64_t negative_ttl_ms;

  pthread_mutex_t mu;
  /* Guarded by mu: */
  Entry** buckets;
  size_t bucket_count; /* a power of two */
  Entry* newest;
  Entry* oldest;
  size_t entry_count;
  Load* loads;

  int stat_loads;
  int stat_load_failures;
  int stat_cache_hits;
  int stat_negative_hits;
  int stat_refused;
  int stat_evictions;
} g = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int64_t NowMs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Names -------------------------------------------------------------------------------- */

/* NormalizeName copies the SNI |sni| (|length| bytes) into |out| in lower case (DNS names are
 * case-insensitive, so Example.test and example.test share one entry and one file) and returns
 * 1, or returns 0 if the name may not become a file name: empty, too long, starting with '.'
 * (hidden files, "..") or holding anything but letters, digits, '-', '_' and '.' (so never '/',
 * and the lookup stays inside the directory). */
static int NormalizeName(const char* sni, int length, char out[kMaxNameLength + 1]) {
  if (length <= 0 || length > kMaxNameLength || sni[0] == '.') return 0;
  for (int i = 0; i < length; ++i) {
    char c = sni[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
      return 0;
    }
    out[i] = c;
  }
  out[length] = '\0';
  return 1;
}

/* Printable copies |sni| for a log line, with anything unprintable as '?'. */
static void Printable(const char* sni, int length, char out[kMaxNameLength + 1]) {
  if (length > kMaxNameLength) length = kMaxNameLength;
  for (int i = 0; i < length; ++i) out[i] = (sni[i] >= 0x20 && sni[i] < 0x7f) ? sni[i] : '?';
  out[length < 0 ? 0 : length] = '\0';
}

/* ---- Cache (all with g.mu held) ----------------------------------------------------------- */

static size_t Bucket(const char* name) {
  uint64_t h = 14695981039346656037ull; /* FNV-1a */
  for (const unsigned char* p = (const unsigned char*)name; *p != '\0'; ++p) {
    h = (h ^ *p) * 1099511628211ull;
  }
  return (size_t)(h & (g.bucket_count - 1));
}

static Entry* FindEntry(const char* name) {
  for (Entry* e = g.buckets[Bucket(name)]; e != NULL; e = e->hash_next) {
    if (strcmp(e->name, name) == 0) return e;
  }
  return NULL;
}

static void LruUnlink(Entry* e) {
  if (e->newer != NULL) {
    e->newer->older = e->older;
  } else {
    g.newest = e->older;
  }
  if (e->older != NULL) {
    e->older->newer = e->newer;
  } else {
    g.oldest = e->newer;
  }
  e->newer = e->older = NULL;
}

static void LruPushNewest(Entry* e) {
  e->newer = NULL;
  e->older = g.newest;
  if (g.newest != NULL) {
    g.newest->newer = e;
  } else {
    g.oldest = e;
  }
  g.newest = e;
}

/* RemoveEntry unlinks |e| and returns it; the caller frees it (FreeEntry) after unlocking. */
static Entry* RemoveEntry(Entry* e) {
  for (Entry** link = &g.buckets[Bucket(e->name)]; *link != NULL; link = &(*link)->hash_next) {
    if (*link == e) {
      *link = e->hash_next;
      break;
    }
  }
  LruUnlink(e);
  --g.entry_count;
  return e;
}

/* FreeEntry drops the cache's reference to the context. Connections that installed it hold
 * their own (SSL_set_SSL_CTX takes one), so evicting never pulls a context from under them. */
static void FreeEntry(Entry* e) {
  if (e == NULL) return;
  SSL_CTX_free(e->ctx);
  free(e->name);
  free(e);
}

static Load* FindLoad(const char* name) {
  for (Load* l = g.loads; l != NULL; l = l->next) {
    if (strcmp(l->name, name) == 0) return l;
  }
  return NULL;
}

static void UnlinkLoad(Load* load) {
  for (Load** link = &g.loads; *link != NULL; link = &(*link)->next) {
    if (*link == load) {
      *link = load->next;
      return;
    }
  }
}

/* ---- Scheduling ------------------------------------------------------------------------------ */

/* NewCont returns a continuation running |func| with |data|, with a mutex of its own. */
static TSCont NewCont(TSEventFunc func, void* data) {
  TSCont cont = TSContCreate(func, TSMutexCreate());
  if (cont != NULL) TSContDataSet(cont, data);
  return cont;
}

/* ScheduleHeld schedules |cont| to run at once on |thread|, or on a task thread if |thread| is
 * NULL, and returns 1, or 0 if the core refused. It holds the continuation's mutex across the
 * call: when the target is another thread, the core's one-shot action can otherwise run, and
 * free itself, before the scheduling call has finished storing into it (seen with ASan: a
 * heap-use-after-free in Schedule of plugin_api/ts_api.cc). Holding the mutex makes the target
 * thread retry until the call has returned. The returned TSAction is never kept: it is freed by
 * the core when the call runs. */
static int ScheduleHeld(TSCont cont, TSEventThread thread) {
  TSMutex mutex = TSContMutexGet(cont);
  TSMutexLock(mutex);
  TSAction action = thread != NULL ? TSContScheduleOnThread(cont, 0, thread)
                                   : TSContScheduleOnPool(cont, 0, TS_THREAD_POOL_TASK);
  TSMutexUnlock(mutex);
  return action != NULL;
}

/* ---- Loading (task thread) ---------------------------------------------------------------- */

static void LogSslErrors(const char* what, const char* path) {
  char buf[256];
  uint32_t err = ERR_get_error();
  if (err == 0) {
    snprintf(buf, sizeof(buf), "unknown error");
  } else {
    ERR_error_string_n(err, buf, sizeof(buf));
  }
  ERR_clear_error();
  TSError("[%s] %s %s: %s", TAG, what, path, buf);
}

/* BuildContext reads DIR/NAME.pem and DIR/NAME.key and returns a new SSL_CTX serving them (one
 * reference, the caller's), or NULL if the files are missing (logged with TSDebug) or unusable
 * (logged with TSError). Blocks on disk: task threads only. */
static SSL_CTX* BuildContext(const char* name) {
  size_t size = strlen(g.dir) + strlen(name) + sizeof("/.pem");
  char* cert_path = malloc(size);
  char* key_path = malloc(size);
  SSL_CTX* ctx = NULL;
  if (cert_path == NULL || key_path == NULL) {
    TSError("[%s] out of memory loading %s", TAG, name);
    goto done;
  }
  snprintf(cert_path, size, "%s/%s.pem", g.dir, name);
  snprintf(key_path, size, "%s/%s.key", g.dir, name);
  struct stat st;
  if (stat(cert_path, &st) != 0) {
    if (errno == ENOENT) {
      TSDebug(TAG, "no certificate for %s", name);
    } else {
      TSError("[%s] cannot read %s: %s", TAG, cert_path, strerror(errno));
    }
    goto done;
  }
  ctx = SSL_CTX_new(TLS_method());
  if (ctx == NULL) {
    LogSslErrors("cannot create a context for", cert_path);
  } else if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
    LogSslErrors("cannot load the certificate chain", cert_path);
  } else if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1) {
    LogSslErrors("cannot load the private key", key_path);
  } else if (SSL_CTX_check_private_key(ctx) != 1) {
    LogSslErrors("the private key does not match the certificate of", cert_path);
  } else {
    goto done; /* success */
  }
  SSL_CTX_free(ctx);
  ctx = NULL;
done:
  free(cert_path);
  free(key_path);
  return ctx;
}

/* InstallHandler runs on the parked connection's own net thread. The SSL object belongs to that
 * thread: SSL_set_SSL_CTX from the task thread would race the handshake code (a reenable from
 * another thread, or a timeout or close, runs there concurrently). TSVConnReenable alone would
 * be safe from any thread, but it must come after the install, so both happen here.
 * TSVConnSslConnectionGet returns NULL if the connection closed while parked (its handle is
 * generation-checked): then there is nothing to install nor to reenable. */
static int InstallHandler(TSCont contp, TSEvent event, void* edata) {
  (void)event;
  (void)edata;
  Install* install = (Install*)TSContDataGet(contp);
  SSL* ssl = (SSL*)TSVConnSslConnectionGet(install->vc);
  if (ssl == NULL) {
    TSDebug(TAG, "connection closed while waiting for its certificate");
  } else {
    if (SSL_set_SSL_CTX(ssl, install->ctx) == NULL) {
      TSError("[%s] SSL_set_SSL_CTX failed; keeping the default certificate", TAG);
    }
    TSVConnReenable(install->vc);
  }
  SSL_CTX_free(install->ctx);
  free(install);
  TSContDestroy(contp);
  return 0;
}

/* Resume hands |waiter| back: with |ctx| (not NULL) it schedules the install on the waiter's
 * net thread and gives it its own reference to |ctx|; without, or if that fails, it reenables
 * from here (TSVConnReenable may be called from any thread) and the default certificate stays. */
static void Resume(const Waiter* waiter, SSL_CTX* ctx) {
  if (ctx != NULL) {
    Install* install = malloc(sizeof(*install));
    TSCont cont = install != NULL ? NewCont(&InstallHandler, install) : NULL;
    if (cont != NULL && waiter->thread != NULL) {
      install->vc = waiter->vc;
      install->ctx = ctx;
      SSL_CTX_up_ref(ctx);
      if (ScheduleHeld(cont, waiter->thread)) return;
      SSL_CTX_free(ctx);
    }
    if (cont != NULL) TSContDestroy(cont);
    free(install);
    TSError("[%s] cannot schedule the install; keeping the default certificate", TAG);
  }
  TSVConnReenable(waiter->vc);
}

/* FinishLoad stores the result of |load| (|ctx|, owned, or NULL for a negative entry) in the
 * cache, evicting the least recently used entries beyond max-entries, and resumes the waiters.
 * Any thread; takes g.mu. */
static void FinishLoad(Load* load, SSL_CTX* ctx) {
  Entry* entry = calloc(1, sizeof(*entry));
  if (entry != NULL) {
    entry->name = load->name; /* moves to the entry */
    load->name = NULL;
    entry->ctx = ctx;
    entry->expires_ms = ctx == NULL ? NowMs() + g.negative_ttl_ms : 0;
  }
  Entry* evicted = NULL; /* chained through hash_next, freed after unlocking */
  pthread_mutex_lock(&g.mu);
  UnlinkLoad(load);
  Waiter* waiters = load->waiters; /* no hook can add to it any more */
  if (entry != NULL) {
    Entry* old = FindEntry(entry->name);
    if (old != NULL) {
      RemoveEntry(old);
      old->hash_next = evicted;
      evicted = old;
    }
    size_t b = Bucket(entry->name);
    entry->hash_next = g.buckets[b];
    g.buckets[b] = entry;
    LruPushNewest(entry);
    ++g.entry_count;
    while (g.entry_count > g.max_entries) {
      Entry* victim = RemoveEntry(g.oldest);
      victim->hash_next = evicted;
      evicted = victim;
      TSStatIntIncrement(g.stat_evictions, 1);
    }
  }
  /* Take the waiters' references now: once g.mu is released the entry may be evicted. */
  if (ctx != NULL) {
    for (Waiter* w = waiters; w != NULL; w = w->next) SSL_CTX_up_ref(ctx);
  }
  pthread_mutex_unlock(&g.mu);

  for (Waiter *w = waiters, *next; w != NULL; w = next) {
    next = w->next;
    Resume(w, ctx);
    SSL_CTX_free(ctx); /* the reference taken above; Resume took its own */
    free(w);
  }
  if (entry == NULL) SSL_CTX_free(ctx); /* could not cache it */
  while (evicted != NULL) {
    Entry* next = evicted->hash_next;
    TSDebug(TAG, "evicted %s", evicted->name);
    FreeEntry(evicted);
    evicted = next;
  }
  free(load->name);
  free(load);
}

static int LoadHandler(TSCont contp, TSEvent event, void* edata) {
  (void)event;
  (void)edata;
  Load* load = (Load*)TSContDataGet(contp);
  /* load->name is fixed at creation: reading it without g.mu is safe. */
  SSL_CTX* ctx = BuildContext(load->name);
  if (ctx != NULL) {
    TSStatIntIncrement(g.stat_loads, 1);
    TSDebug(TAG, "loaded %s", load->name);
  } else {
    TSStatIntIncrement(g.stat_load_failures, 1);
    TSDebug(TAG, "negative entry for %s", load->name);
  }
  FinishLoad(load, ctx);
  TSContDestroy(contp);
  return 0;
}

/* ---- CERT hook (net thread) ---------------------------------------------------------------- */

static int OnCert(TSCont contp, TSEvent event, void* edata) {
  (void)contp;
  (void)event;
  TSVConn vc = (TSVConn)edata;
  int length = 0;
  const char* sni = TSVConnSslSniGet(vc, &length);
  if (sni == NULL || length == 0) {
    TSVConnReenable(vc); /* no SNI: the default certificate */
    return 0;
  }
  char name[kMaxNameLength + 1];
  if ((int)strlen(sni) != length || !NormalizeName(sni, length, name)) {
    Printable(sni, length, name);
    TSError("[%s] refused server name \"%s\": not a plain host name", TAG, name);
    TSStatIntIncrement(g.stat_refused, 1);
    TSVConnReenable(vc);
    return 0;
  }

  /* What the lookup found; acted on after g.mu is released. */
  enum { kHit, kNegativeHit, kJoined, kStarted, kNoMemory } outcome = kNoMemory;
  Entry* expired = NULL;
  SSL_CTX* ctx = NULL;
  Load* load = NULL;
  Waiter* waiter = malloc(sizeof(*waiter));
  pthread_mutex_lock(&g.mu);
  Entry* entry = FindEntry(name);
  if (entry != NULL && entry->ctx == NULL && NowMs() >= entry->expires_ms) {
    expired = RemoveEntry(entry);
    entry = NULL;
  }
  if (entry != NULL) {
    LruUnlink(entry);
    LruPushNewest(entry);
    ctx = entry->ctx;
    /* Our own reference: the entry may be evicted as soon as g.mu is released. */
    if (ctx != NULL) SSL_CTX_up_ref(ctx);
    outcome = ctx != NULL ? kHit : kNegativeHit;
  } else if (waiter != NULL) {
    load = FindLoad(name);
    if (load != NULL) {
      outcome = kJoined;
    } else if ((load = calloc(1, sizeof(*load))) != NULL && (load->name = strdup(name)) != NULL) {
      load->next = g.loads;
      g.loads = load;
      outcome = kStarted;
    } else {
      free(load);
      load = NULL;
    }
    if (load != NULL) {
      waiter->vc = vc;
      waiter->thread = TSEventThreadSelf();
      waiter->next = load->waiters;
      load->waiters = waiter;
      waiter = NULL; /* now the load's */
    }
  }
  pthread_mutex_unlock(&g.mu);
  free(waiter); /* unused unless parked */
  FreeEntry(expired);

  switch (outcome) {
    case kHit: {
      SSL* ssl = (SSL*)TSVConnSslConnectionGet(vc);
      if (ssl == NULL || SSL_set_SSL_CTX(ssl, ctx) == NULL) {
        TSError("[%s] cannot install the certificate for %s; keeping the default", TAG, name);
      }
      SSL_CTX_free(ctx);
      TSStatIntIncrement(g.stat_cache_hits, 1);
      TSDebug(TAG, "cache hit %s", name);
      TSVConnReenable(vc);
      return 0;
    }
    case kNegativeHit:
      TSStatIntIncrement(g.stat_negative_hits, 1);
      TSDebug(TAG, "negative cache hit %s", name);
      TSVConnReenable(vc);
      return 0;
    case kJoined:
      /* |load| may already be finished and freed: not touched again. The loader resumes us. */
      TSDebug(TAG, "waiting for the load of %s", name);
      return 0;
    case kStarted: {
      TSDebug(TAG, "loading %s", name);
      TSCont cont = NewCont(&LoadHandler, load);
      if (cont != NULL) {
        if (ScheduleHeld(cont, NULL)) return 0; /* parked */
        TSContDestroy(cont);
      }
      TSError("[%s] cannot schedule the load of %s; keeping the default certificate", TAG, name);
      FinishLoad(load, NULL); /* resumes every waiter, this connection included */
      return 0;
    }
    case kNoMemory:
      TSError("[%s] out of memory looking up %s; keeping the default certificate", TAG, name);
      TSVConnReenable(vc);
      return 0;
  }
  return 0;
}

/* ---- Start-up ------------------------------------------------------------------------------ */

/* ParseCount parses the decimal "N" of "--name=N" in |arg| into |out| and returns 1; it returns
 * 0 if |arg| is another option and -1 if N is malformed or below |min|. */
static int ParseCount(const char* arg, const char* name, int64_t min, int64_t* out) {
  size_t len = strlen(name);
  if (strncmp(arg, name, len) != 0 || arg[len] != '=') return 0;
  char* end = NULL;
  errno = 0;
  long long value = strtoll(arg + len + 1, &end, 10);
  if (errno != 0 || end == arg + len + 1 || *end != '\0' || value < min) return -1;
  *out = value;
  return 1;
}

static int StatId(const char* name) {
  int id = -1;
  if (TSStatFindName(name, &id) == TS_SUCCESS) return id; /* loaded before: share it */
  return TSStatCreate(name, TS_RECORDDATATYPE_INT, TS_STAT_NON_PERSISTENT, TS_STAT_SYNC_SUM);
}

void TSPluginInit(int argc, const char* argv[]) {
  TSPluginRegistrationInfo info = {"cert_loader", "Tollgate", "dev@tollgate.invalid"};
  if (TSPluginRegister(&info) != TS_SUCCESS) {
    TSError("[%s] plugin registration failed", TAG);
    return;
  }
  if (g.dir != NULL) {
    TSError("[%s] loaded twice; the second instance does nothing", TAG);
    return;
  }
  int64_t max_entries = 1000;
  int64_t negative_ttl_ms = 5000;
  const char* dir = NULL;
  for (int i = 1; i < argc; ++i) {
    int r;
    if ((r = ParseCount(argv[i], "--max-entries", 1, &max_entries)) != 0 ||
        (r = ParseCount(argv[i], "--negative-ttl-ms", 0, &negative_ttl_ms)) != 0) {
      if (r < 0) {
        TSError("[%s] bad option %s; not enabled", TAG, argv[i]);
        return;
      }
    } else if (argv[i][0] != '-' && dir == NULL) {
      dir = argv[i];
    } else {
      TSError(
          "[%s] unknown argument %s; usage: %s /path/to/certs [--max-entries=N] "
          "[--negative-ttl-ms=N]; not enabled",
          TAG, argv[i], argv[0]);
      return;
    }
  }
  struct stat st;
  if (dir == NULL || dir[0] != '/' || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    TSError(
        "[%s] usage: %s /path/to/certs [--max-entries=N] [--negative-ttl-ms=N]: the "
        "certificate directory must be an absolute path to a directory (got %s); not enabled",
        TAG, argc > 0 ? argv[0] : "cert_loader.so", dir != NULL ? dir : "none");
    return;
  }

  size_t buckets = 16;
  while (buckets < (size_t)max_entries && buckets < ((size_t)1 << 20)) buckets <<= 1;
  g.buckets = calloc(buckets, sizeof(Entry*));
  g.dir = strdup(dir);
  if (g.buckets == NULL || g.dir == NULL) {
    TSError("[%s] out of memory; not enabled", TAG);
    free(g.buckets);
    free(g.dir);
    g.dir = NULL;
    return;
  }
  size_t dir_len = strlen(g.dir);
  while (dir_len > 1 && g.dir[dir_len - 1] == '/') g.dir[--dir_len] = '\0';
  g.bucket_count = buckets;
  g.max_entries = (size_t)max_entries;
  g.negative_ttl_ms = negative_ttl_ms;

  g.stat_loads = StatId("plugin.cert_loader.loads");
  g.stat_load_failures = StatId("plugin.cert_loader.load_failures");
  g.stat_cache_hits = StatId("plugin.cert_loader.cache_hits");
  g.stat_negative_hits = StatId("plugin.cert_loader.negative_hits");
  g.stat_refused = StatId("plugin.cert_loader.refused");
  g.stat_evictions = StatId("plugin.cert_loader.evictions");

  /* No mutex on the hook: the core only try-locks a hook's mutex on the net thread, and the
   * cache has its own lock. */
  TSCont cont = TSContCreate(&OnCert, NULL);
  if (cont == NULL) {
    TSError("[%s] cannot create the hook continuation; not enabled", TAG);
    return;
  }
  TSHttpHookAdd(TS_SSL_CERT_HOOK, cont);
  TSDebug(TAG, "serving certificates from %s (max %lld entries, negative TTL %lld ms)", g.dir,
          (long long)max_entries, (long long)negative_ttl_ms);
}
