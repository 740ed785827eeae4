/* sni_tunnel: turns connections whose SNI is listed in the plugin's arguments into blind
 * tunnels (TSVConnTunnel from TS_SSL_SERVERNAME_HOOK). See README.md. */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <ts/ts.h>

#define PLUGIN_NAME "sni_tunnel"

/* The names from the arguments, lower-cased. An entry "*.example.com" is kept as
 * ".example.com" with |wildcard| set: it matches exactly one label before that suffix. */
typedef struct {
  char* name;
  size_t len;
  int wildcard;
} Entry;

static Entry* entries = NULL;
static int entry_count = 0;

static int names_equal(const char* a, const char* b, size_t len) {
  size_t i;
  for (i = 0; i < len; ++i) {
    if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i])) return 0;
  }
  return 1;
}

static int matches(const Entry* e, const char* sni, size_t len) {
  size_t label;
  if (!e->wildcard) return len == e->len && names_equal(sni, e->name, len);
  /* "*.example.com" (stored ".example.com"): a non-empty first label without a dot. */
  if (len <= e->len) return 0;
  label = len - e->len;
  if (memchr(sni, '.', label) != NULL) return 0;
  return names_equal(sni + label, e->name, e->len);
}

static int on_servername(TSCont contp, TSEvent event, void* edata) {
  TSVConn vc = (TSVConn)edata;
  int len = 0;
  const char* sni = TSVConnSslSniGet(vc, &len);
  int i;
  (void)contp;
  (void)event;
  if (sni != NULL && len > 0) {
    for (i = 0; i < entry_count; ++i) {
      if (matches(&entries[i], sni, (size_t)len)) {
        if (TSVConnTunnel(vc) == TS_SUCCESS) {
          TSDebug(PLUGIN_NAME, "tunnelling SNI '%.*s' (entry %d)", len, sni, i);
        } else {
          TSError("[" PLUGIN_NAME "] TSVConnTunnel failed for SNI '%.*s'", len, sni);
        }
        break;
      }
    }
    if (i == entry_count) TSDebug(PLUGIN_NAME, "SNI '%.*s' not listed: TLS", len, sni);
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
  if (argc < 2) {
    TSError("[" PLUGIN_NAME "] no server names given; the plugin tunnels nothing");
    return;
  }
  entries = (Entry*)calloc((size_t)(argc - 1), sizeof(Entry));
  if (entries == NULL) {
    TSError("[" PLUGIN_NAME "] out of memory");
    return;
  }
  for (i = 1; i < argc; ++i) {
    const char* arg = argv[i];
    Entry* e = &entries[entry_count];
    size_t j;
    if (strncmp(arg, "*.", 2) == 0) {
      e->wildcard = 1;
      arg += 1; /* keep the dot */
    }
    e->len = strlen(arg);
    if (e->len == 0 || (e->wildcard && e->len == 1)) {
      TSError("[" PLUGIN_NAME "] empty server name argument '%s' ignored", argv[i]);
      continue;
    }
    e->name = (char*)malloc(e->len + 1);
    if (e->name == NULL) {
      TSError("[" PLUGIN_NAME "] out of memory");
      return;
    }
    for (j = 0; j <= e->len; ++j) e->name[j] = (char)tolower((unsigned char)arg[j]);
    TSDebug(PLUGIN_NAME, "tunnel %s%s", e->wildcard ? "*" : "", e->name);
    ++entry_count;
  }
  TSHttpHookAdd(TS_SSL_SERVERNAME_HOOK, TSContCreate(on_servername, NULL));
}
