/* A plugin built against Apache Traffic Server 9.2's own headers (Debian's trafficserver-dev,
 * /usr/include/ts), not Tollgate's: it proves binary compatibility. It counts SERVERNAME hooks in
 * a stat and logs the SNI it saw under the tag "ats_abi". */
#include <ts/ts.h>

static int servername_calls = -1;

static int OnServername(TSCont contp, TSEvent event, void* edata) {
  TSVConn vc = (TSVConn)edata;
  int length = 0;
  const char* sni = TSVConnSslSniGet(vc, &length);
  (void)contp;
  TSDebug("ats_abi", "servername event=%d sni=%.*s", (int)event, length, sni != NULL ? sni : "");
  TSStatIntIncrement(servername_calls, 1);
  TSVConnReenable(vc);
  return 0;
}

static int OnLifecycle(TSCont contp, TSEvent event, void* edata) {
  (void)contp;
  (void)edata;
  TSDebug("ats_abi", "lifecycle event=%d", (int)event);
  return 0;
}

void TSPluginInit(int argc, const char* argv[]) {
  TSPluginRegistrationInfo info;
  (void)argc;
  (void)argv;
  info.plugin_name = "ats_headers_plugin";
  info.vendor_name = "Tollgate tests";
  info.support_email = "dev@tollgate.invalid";
  if (TSPluginRegister(&info) != TS_SUCCESS) {
    TSError("ats_headers_plugin: registration failed");
    return;
  }
  servername_calls = TSStatCreate("ats_abi.servername_calls", TS_RECORDDATATYPE_INT,
                                  TS_STAT_NON_PERSISTENT, TS_STAT_SYNC_COUNT);
  TSHttpHookAdd(TS_SSL_SERVERNAME_HOOK, TSContCreate(OnServername, TSMutexCreate()));
  TSLifecycleHookAdd(TS_LIFECYCLE_PORTS_READY_HOOK, TSContCreate(OnLifecycle, NULL));
}
