/* preaccept_acl: refuses TLS connections from clients outside the CIDR blocks given as
 * arguments, before a byte is read (TS_VCONN_START_HOOK). See README.md. */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <ts/ts.h>

#define PLUGIN_NAME "preaccept_acl"
#define STAT_NAME "plugin.preaccept_acl.rejected"

/* One allowed block: |family| AF_INET (4 address bytes) or AF_INET6 (16). */
typedef struct {
  int family;
  unsigned char addr[16];
  int prefix;
} Cidr;

static Cidr* allowed = NULL;
static int allowed_count = 0;
static int rejected_stat = -1;

/* parse_cidr reads "ADDR/PREFIX" (or a bare ADDR: a single host) into |out|. It returns 1 on
 * success and 0 for anything else. */
static int parse_cidr(const char* arg, Cidr* out) {
  char buf[INET6_ADDRSTRLEN + 8];
  const char* slash = strchr(arg, '/');
  size_t addr_len = slash != NULL ? (size_t)(slash - arg) : strlen(arg);
  int max_prefix;
  if (addr_len == 0 || addr_len >= sizeof(buf)) return 0;
  memcpy(buf, arg, addr_len);
  buf[addr_len] = '\0';
  memset(out, 0, sizeof(*out));
  if (inet_pton(AF_INET, buf, out->addr) == 1) {
    out->family = AF_INET;
    max_prefix = 32;
  } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
    out->family = AF_INET6;
    max_prefix = 128;
  } else {
    return 0;
  }
  out->prefix = max_prefix;
  if (slash != NULL) {
    const char* digits = slash + 1;
    char* end = NULL;
    long prefix;
    if (*digits < '0' || *digits > '9') return 0;
    prefix = strtol(digits, &end, 10);
    if (*end != '\0' || prefix < 0 || prefix > max_prefix) return 0;
    out->prefix = (int)prefix;
  }
  return 1;
}

static int prefix_matches(const unsigned char* a, const unsigned char* b, int prefix) {
  int full = prefix / 8;
  int rest = prefix % 8;
  if (memcmp(a, b, (size_t)full) != 0) return 0;
  if (rest == 0) return 1;
  return ((a[full] ^ b[full]) & (unsigned char)(0xff << (8 - rest))) == 0;
}

/* is_allowed returns 1 if |sa| lies in an allowed block. An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) is also checked as the IPv4 address. */
static int is_allowed(struct sockaddr const* sa) {
  unsigned char v4[4];
  const unsigned char* v6 = NULL;
  int has_v4 = 0;
  int i;
  if (sa->sa_family == AF_INET) {
    memcpy(v4, &((const struct sockaddr_in*)(const void*)sa)->sin_addr, 4);
    has_v4 = 1;
  } else if (sa->sa_family == AF_INET6) {
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    v6 = (const unsigned char*)&((const struct sockaddr_in6*)(const void*)sa)->sin6_addr;
    if (memcmp(v6, kMapped, sizeof(kMapped)) == 0) {
      memcpy(v4, v6 + 12, 4);
      has_v4 = 1;
    }
  }
  for (i = 0; i < allowed_count; ++i) {
    const Cidr* c = &allowed[i];
    if (c->family == AF_INET && has_v4 && prefix_matches(c->addr, v4, c->prefix)) return 1;
    if (c->family == AF_INET6 && v6 != NULL && prefix_matches(c->addr, v6, c->prefix)) return 1;
  }
  return 0;
}

static int on_vconn_start(TSCont contp, TSEvent event, void* edata) {
  TSVConn vc = (TSVConn)edata;
  struct sockaddr const* remote = TSNetVConnRemoteAddrGet(vc);
  (void)contp;
  (void)event;
  if (remote != NULL && !is_allowed(remote)) {
    char text[INET6_ADDRSTRLEN] = "?";
    if (remote->sa_family == AF_INET) {
      inet_ntop(AF_INET, &((const struct sockaddr_in*)(const void*)remote)->sin_addr, text,
                sizeof(text));
    } else if (remote->sa_family == AF_INET6) {
      inet_ntop(AF_INET6, &((const struct sockaddr_in6*)(const void*)remote)->sin6_addr, text,
                sizeof(text));
    }
    TSDebug(PLUGIN_NAME, "rejecting %s: outside every allowed block", text);
    TSStatIntIncrement(rejected_stat, 1);
    TSVConnReenableEx(vc, TS_EVENT_ERROR);
    return 0;
  }
  TSVConnReenable(vc);
  return 0;
}

void TSPluginInit(int argc, const char* argv[]) {
  TSPluginRegistrationInfo info;
  int i;
  info.plugin_name = PLUGIN_NAME;
  info.vendor_name = "Tollgate";
  info.support_email = "ops@example.com";
  if (TSPluginRegister(&info) != TS_SUCCESS) {
    TSError("[" PLUGIN_NAME "] registration failed");
    return;
  }
  /* A host that loads the plugin again (tests do) calls TSPluginInit again: start afresh. */
  free(allowed);
  allowed = NULL;
  allowed_count = 0;
  if (argc > 1) allowed = (Cidr*)calloc((size_t)(argc - 1), sizeof(Cidr));
  for (i = 1; i < argc && allowed != NULL; ++i) {
    if (parse_cidr(argv[i], &allowed[allowed_count])) {
      ++allowed_count;
    } else {
      TSError("[" PLUGIN_NAME "] argument %d '%s' is not a CIDR block (ADDR/PREFIX); ignored", i,
              argv[i]);
    }
  }
  if (allowed_count == 0) {
    TSError("[" PLUGIN_NAME "] no valid CIDR block given; the plugin rejects nothing");
    return;
  }
  if (TSStatFindName(STAT_NAME, &rejected_stat) != TS_SUCCESS) {
    rejected_stat =
        TSStatCreate(STAT_NAME, TS_RECORDDATATYPE_INT, TS_STAT_NON_PERSISTENT, TS_STAT_SYNC_COUNT);
  }
  if (rejected_stat < 0) {
    TSError("[" PLUGIN_NAME "] cannot create the stat " STAT_NAME "; the plugin rejects nothing");
    return;
  }
  TSHttpHookAdd(TS_VCONN_START_HOOK, TSContCreate(on_vconn_start, NULL));
}
