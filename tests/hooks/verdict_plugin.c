/* verdict_plugin: ends the handshake from one chosen hook, through the C ABI.
 *
 *   -error_at=HOOK    TSVConnReenableEx(vc, TS_EVENT_ERROR) from that hook
 *   -tunnel_at=HOOK   TSVConnTunnel(vc) then TSVConnReenable(vc) from that hook
 *   HOOK is start, client_hello, servername or cert.
 *
 * It also registers a VCONN_CLOSE hook. Every call is logged with TSDebug (tag "verdict"). */
#include <string.h>

#include "ts/ts.h"

#define TAG "verdict"

static int Error(TSCont contp, TSEvent event, void* edata) {
  (void)contp;
  TSDebug(TAG, "error at event %d", (int)event);
  TSVConnReenableEx((TSVConn)edata, TS_EVENT_ERROR);
  return 0;
}

static int Tunnel(TSCont contp, TSEvent event, void* edata) {
  (void)contp;
  TSReturnCode rc = TSVConnTunnel((TSVConn)edata);
  TSDebug(TAG, "tunnel at event %d: %s", (int)event, rc == TS_SUCCESS ? "accepted" : "refused");
  TSVConnReenable((TSVConn)edata);
  return 0;
}

static int Close(TSCont contp, TSEvent event, void* edata) {
  (void)contp;
  TSDebug(TAG, "close event %d", (int)event);
  TSVConnReenable((TSVConn)edata);
  return 0;
}

static int HookOf(const char* name, TSHttpHookID* out) {
  if (strcmp(name, "start") == 0)
    *out = TS_VCONN_START_HOOK;
  else if (strcmp(name, "client_hello") == 0)
    *out = TS_SSL_CLIENT_HELLO_HOOK;
  else if (strcmp(name, "servername") == 0)
    *out = TS_SSL_SERVERNAME_HOOK;
  else if (strcmp(name, "cert") == 0)
    *out = TS_SSL_CERT_HOOK;
  else
    return 0;
  return 1;
}

void TSPluginInit(int argc, const char* argv[]) {
  TSPluginRegistrationInfo info = {"verdict_plugin", "Tollgate tests", "dev@tollgate.invalid"};
  if (TSPluginRegister(&info) != TS_SUCCESS) return;
  for (int i = 1; i < argc; ++i) {
    TSHttpHookID hook;
    if (strncmp(argv[i], "-error_at=", 10) == 0 && HookOf(argv[i] + 10, &hook)) {
      TSHttpHookAdd(hook, TSContCreate(Error, TSMutexCreate()));
    } else if (strncmp(argv[i], "-tunnel_at=", 11) == 0 && HookOf(argv[i] + 11, &hook)) {
      TSHttpHookAdd(hook, TSContCreate(Tunnel, TSMutexCreate()));
    } else {
      TSError("verdict_plugin: bad argument '%s'", argv[i]);
    }
  }
  TSHttpHookAdd(TS_VCONN_CLOSE_HOOK, TSContCreate(Close, TSMutexCreate()));
}
