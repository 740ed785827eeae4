/* client_hello_log: logs, for every TLS connection, the SNI, the ALPN list and a JA3-style
 * fingerprint of the ClientHello (TS_SSL_CLIENT_HELLO_HOOK, TSClientHello API). See
 * README.md. */

#include <openssl/md5.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ts/ts.h>

#define PLUGIN_NAME "client_hello_log"

enum {
  kExtAlpn = 16,
  kExtSupportedGroups = 10,
  kExtEcPointFormats = 11,
};

/* A growing string; |failed| is set once an allocation fails and the text is then unusable. */
typedef struct {
  char* data;
  size_t len;
  size_t cap;
  int failed;
} Buf;

static void buf_append(Buf* b, const char* s, size_t n) {
  if (b->failed) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap == 0 ? 256 : b->cap;
    char* grown;
    while (b->len + n + 1 > cap) cap *= 2;
    grown = (char*)realloc(b->data, cap);
    if (grown == NULL) {
      b->failed = 1;
      return;
    }
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static void buf_str(Buf* b, const char* s) { buf_append(b, s, strlen(s)); }

static void buf_uint(Buf* b, unsigned value) {
  char text[16];
  int n = snprintf(text, sizeof(text), "%u", value);
  if (n > 0) buf_append(b, text, (size_t)n);
}

/* GREASE values (RFC 8701) are 0x?a?a with both bytes equal; JA3 leaves them out. */
static int is_grease(unsigned v) { return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff); }

/* append_u16_list appends the non-GREASE big-endian 16-bit values of |p|[0..|n|) joined by
 * '-'. A trailing odd byte is ignored. */
static void append_u16_list(Buf* b, const unsigned char* p, size_t n) {
  size_t i;
  int first = 1;
  for (i = 0; i + 1 < n; i += 2) {
    unsigned v = ((unsigned)p[i] << 8) | p[i + 1];
    if (is_grease(v)) continue;
    if (!first) buf_str(b, "-");
    buf_uint(b, v);
    first = 0;
  }
}

/* append_groups appends extension 10's named groups: a 2-byte length, then the list. */
static void append_groups(Buf* b, TSClientHello ch) {
  const unsigned char* p;
  size_t n;
  size_t list;
  if (TSClientHelloExtensionGet(ch, kExtSupportedGroups, &p, &n) != TS_SUCCESS || n < 2) return;
  list = ((size_t)p[0] << 8) | p[1];
  if (list > n - 2) list = n - 2;
  append_u16_list(b, p + 2, list);
}

/* append_point_formats appends extension 11's formats: a 1-byte length, then 1-byte values. */
static void append_point_formats(Buf* b, TSClientHello ch) {
  const unsigned char* p;
  size_t n;
  size_t list;
  size_t i;
  if (TSClientHelloExtensionGet(ch, kExtEcPointFormats, &p, &n) != TS_SUCCESS || n < 1) return;
  list = p[0];
  if (list > n - 1) list = n - 1;
  for (i = 0; i < list; ++i) {
    if (i > 0) buf_str(b, "-");
    buf_uint(b, p[1 + i]);
  }
}

/* append_alpn appends the ALPN protocol names (extension 16) joined by ','; bytes outside
 * printable ASCII, and ',', become '?'. */
static void append_alpn(Buf* b, TSClientHello ch) {
  const unsigned char* p;
  size_t n;
  size_t at;
  size_t end;
  int first = 1;
  if (TSClientHelloExtensionGet(ch, kExtAlpn, &p, &n) != TS_SUCCESS || n < 2) return;
  end = 2 + (((size_t)p[0] << 8) | p[1]);
  if (end > n) end = n;
  for (at = 2; at < end;) {
    size_t len = p[at++];
    size_t i;
    if (len > end - at) len = end - at;
    if (!first) buf_str(b, ",");
    for (i = 0; i < len; ++i) {
      char c = (char)p[at + i];
      if (p[at + i] < 0x21 || p[at + i] > 0x7e || c == ',') c = '?';
      buf_append(b, &c, 1);
    }
    at += len;
    first = 0;
  }
}

/* fingerprint builds "version,ciphers,extensions,groups,ec_point_formats" into |b|. */
static void fingerprint(Buf* b, TSClientHello ch) {
  const unsigned char* suites;
  size_t suites_len;
  size_t count = TSClientHelloExtensionTypesGet(ch, NULL, 0);
  uint16_t* types = count > 0 ? (uint16_t*)calloc(count, sizeof(uint16_t)) : NULL;
  size_t i;
  int first = 1;
  buf_uint(b, TSClientHelloVersionGet(ch));
  buf_str(b, ",");
  if (TSClientHelloCipherSuitesGet(ch, &suites, &suites_len) == TS_SUCCESS) {
    append_u16_list(b, suites, suites_len);
  }
  buf_str(b, ",");
  if (count > 0 && types == NULL) b->failed = 1;
  if (types != NULL) {
    TSClientHelloExtensionTypesGet(ch, types, count);
    for (i = 0; i < count; ++i) {
      if (is_grease(types[i])) continue;
      if (!first) buf_str(b, "-");
      buf_uint(b, types[i]);
      first = 0;
    }
    free(types);
  }
  buf_str(b, ",");
  append_groups(b, ch);
  buf_str(b, ",");
  append_point_formats(b, ch);
}

static int on_client_hello(TSCont contp, TSEvent event, void* edata) {
  TSVConn vc = (TSVConn)edata;
  int sni_len = 0;
  const char* sni = TSVConnSslSniGet(vc, &sni_len);
  TSClientHello ch;
  (void)contp;
  (void)event;
  if (!TSIsDebugTagSet(PLUGIN_NAME)) {
    TSVConnReenable(vc);
    return 0;
  }
  if (sni == NULL) sni = "";
  ch = TSVConnClientHelloGet(vc);
  if (ch == NULL) {
    TSDebug(PLUGIN_NAME, "sni=%.*s no ClientHello available", sni_len, sni);
  } else {
    Buf alpn = {NULL, 0, 0, 0};
    Buf print = {NULL, 0, 0, 0};
    buf_str(&alpn, "");
    append_alpn(&alpn, ch);
    fingerprint(&print, ch);
    if (alpn.failed || print.failed) {
      TSError("[" PLUGIN_NAME "] out of memory");
    } else {
      unsigned char digest[MD5_DIGEST_LENGTH];
      char hex[2 * MD5_DIGEST_LENGTH + 1];
      int i;
      MD5((const uint8_t*)print.data, print.len, digest);
      for (i = 0; i < MD5_DIGEST_LENGTH; ++i) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
      TSDebug(PLUGIN_NAME, "sni=%.*s alpn=%s ja3=%s ja3_md5=%s", sni_len, sni, alpn.data,
              print.data, hex);
    }
    free(alpn.data);
    free(print.data);
    TSClientHelloDestroy(ch);
  }
  TSVConnReenable(vc);
  return 0;
}

void TSPluginInit(int argc, const char* argv[]) {
  TSPluginRegistrationInfo info;
  (void)argc;
  (void)argv;
  info.plugin_name = PLUGIN_NAME;
  info.vendor_name = "Tollgate";
  info.support_email = "ops@example.com";
  if (TSPluginRegister(&info) != TS_SUCCESS) {
    TSError("[" PLUGIN_NAME "] registration failed");
    return;
  }
  TSHttpHookAdd(TS_SSL_CLIENT_HELLO_HOOK, TSContCreate(on_client_hello, NULL));
}
