/* hook_probe: a conformance probe for Tollgate's TLS hooks, taking the arguments of ATS's
 * ssl_hook_test so the same scenarios can be written for both:
 *
 *   -preaccept=N  -p=N     N immediate VCONN_START hooks
 *   -d=N                   N delayed VCONN_START hooks
 *   -client_hello=N        N delayed CLIENT_HELLO hooks
 *   -client_hello_imm=N    N immediate CLIENT_HELLO hooks
 *   -sni=N                 N SERVERNAME hooks (immediate)
 *   -sni_delay=N           N delayed SERVERNAME hooks (Tollgate lets SERVERNAME park)
 *   -cert=N                N delayed CERT hooks
 *   -i=N                   N immediate CERT hooks
 *   -close=N               N VCONN_CLOSE hooks
 *   -out_start=N  -out_start_delay=N  -out_close=N   the client-side counterparts
 *   -delay_ms=N            how long a delayed hook waits before it reenables (default 20)
 *   -pool=net|task         the pool the delayed hooks' callbacks are scheduled on (default net)
 *
 * Hooks of each kind are registered in the order above. Every call is logged with TSDebug under
 * the tag "ssl_hook_test"; a delayed hook reenables from a callback scheduled on the chosen pool
 * (TSContScheduleOnPool(cb, delay_ms, pool)) and logs "Callback reenable ssl_vc=%p". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts/ts.h"

#define TAG "ssl_hook_test"

static int delay_ms = 20;
static TSThreadPool delay_pool = TS_THREAD_POOL_NET;

/* The event a hook expects, to log "good" or "bad" as ATS's probe does. */
static const char* EventIs(TSEvent event, TSEvent expected) {
  return event == expected ? "good" : "bad";
}

static int ReenableLater(TSCont contp, TSEvent event, void* edata) {
  TSVConn vc = (TSVConn)TSContDataGet(contp);
  (void)event;
  (void)edata;
  TSDebug(TAG, "Callback reenable ssl_vc=%p", (void*)vc);
  TSVConnReenable(vc);
  TSContDestroy(contp);
  return 0;
}

static void Delay(TSVConn vc) {
  TSCont cb = TSContCreate(&ReenableLater, TSMutexCreate());
  TSContDataSet(cb, vc);
  TSContScheduleOnPool(cb, delay_ms, delay_pool);
}

/* Each hook's continuation carries its index in the low bits of its data pointer. */
static int Index(TSCont contp) { return (int)(intptr_t)TSContDataGet(contp); }

static int PreAccept(TSCont contp, TSEvent event, void* edata) {
  TSDebug(TAG, "Pre accept callback %d %p - event is %s", Index(contp), edata,
          EventIs(event, TS_EVENT_VCONN_START));
  TSVConnReenable((TSVConn)edata);
  return 0;
}

static int PreAcceptDelay(TSCont contp, TSEvent event, void* edata) {
  TSDebug(TAG, "Pre accept delay callback %d %p - event is %s", Index(contp), edata,
          EventIs(event, TS_EVENT_VCONN_START));
  Delay((TSVConn)edata);
  return 0;
}

static int ClientHelloDelay(TSCont contp, TSEvent event, void* edata) {
  (void)event;
  TSDebug(TAG, "Client Hello callback %d ssl_vc=%p", Index(contp), edata);
  Delay((TSVConn)edata);
  return 0;
}

static int ClientHelloImm(TSCont contp, TSEvent event, void* edata) {
  (void)event;
  TSDebug(TAG, "Client Hello callback %d ssl_vc=%p", Index(contp), edata);
  TSVConnReenable((TSVConn)edata);
  return 0;
}

static int Sni(TSCont contp, TSEvent event, void* edata) {
  (void)event;
  TSDebug(TAG, "SNI callback %d %p", Index(contp), edata);
  TSVConnReenable((TSVConn)edata);
  return 0;
}

static int SniDelay(TSCont contp, TSEvent event, void* edata) {
  (void)event;
  TSDebug(TAG, "SNI callback %d %p", Index(contp), edata);
  Delay((TSVConn)edata);
  return 0;
}

static int CertDelay(TSCont contp, TSEvent event, void* edata) {
  (void)event;
  TSDebug(TAG, "Cert callback %d ssl_vc=%p", Index(contp), edata);
  Delay((TSVConn)edata);
  return 0;
}

static int CertImm(TSCont contp, TSEvent event, void* edata) {
  (void)event;
  TSDebug(TAG, "Cert callback %d ssl_vc=%p", Index(contp), edata);
  TSVConnReenable((TSVConn)edata);
  return 0;
}

static int Close(TSCont contp, TSEvent event, void* edata) {
  TSDebug(TAG, "Close callback %d %p - event is %s", Index(contp), edata,
          EventIs(event, TS_EVENT_VCONN_CLOSE));
  TSVConnReenable((TSVConn)edata);
  return 0;
}

static int OutStart(TSCont contp, TSEvent event, void* edata) {
  TSDebug(TAG, "Outbound start callback %d %p - event is %s", Index(contp), edata,
          EventIs(event, TS_EVENT_VCONN_OUTBOUND_START));
  TSVConnReenable((TSVConn)edata);
  return 0;
}

static int OutStartDelay(TSCont contp, TSEvent event, void* edata) {
  TSDebug(TAG, "Outbound delay start callback %d %p - event is %s", Index(contp), edata,
          EventIs(event, TS_EVENT_VCONN_OUTBOUND_START));
  Delay((TSVConn)edata);
  return 0;
}

static int OutClose(TSCont contp, TSEvent event, void* edata) {
  TSDebug(TAG, "Outbound close callback %d %p - event is %s", Index(contp), edata,
          EventIs(event, TS_EVENT_VCONN_OUTBOUND_CLOSE));
  TSVConnReenable((TSVConn)edata);
  return 0;
}

static void AddHooks(int count, TSHttpHookID hook, TSEventFunc func) {
  for (int i = 0; i < count; ++i) {
    TSCont cont = TSContCreate(func, TSMutexCreate());
    TSContDataSet(cont, (void*)(intptr_t)i);
    TSHttpHookAdd(hook, cont);
  }
}

/* Arg returns the value of "-name=N" in |arg|, or -1 when |arg| is another option. */
static int Arg(const char* arg, const char* name) {
  size_t len = strlen(name);
  if (strncmp(arg, name, len) != 0 || arg[len] != '=') return -1;
  return atoi(arg + len + 1);
}

/* StrArg returns the text after "-name=" in |arg|, or NULL when |arg| is another option. */
static const char* StrArg(const char* arg, const char* name) {
  size_t len = strlen(name);
  if (strncmp(arg, name, len) != 0 || arg[len] != '=') return NULL;
  return arg + len + 1;
}

void TSPluginInit(int argc, const char* argv[]) {
  TSPluginRegistrationInfo info = {"hook_probe", "Tollgate", "dev@tollgate.invalid"};
  if (TSPluginRegister(&info) != TS_SUCCESS) {
    TSError("[%s] plugin registration failed", TAG);
    return;
  }
  int preaccept = 0, delay = 0, ch = 0, ch_imm = 0, sni = 0, sni_delay = 0, cert = 0, cert_imm = 0;
  int close = 0, out_start = 0, out_start_delay = 0, out_close = 0;
  for (int i = 1; i < argc; ++i) {
    int v;
    const char* str;
    if ((v = Arg(argv[i], "-preaccept")) >= 0 || (v = Arg(argv[i], "-p")) >= 0)
      preaccept = v;
    else if ((v = Arg(argv[i], "-d")) >= 0)
      delay = v;
    else if ((v = Arg(argv[i], "-client_hello")) >= 0)
      ch = v;
    else if ((v = Arg(argv[i], "-client_hello_imm")) >= 0)
      ch_imm = v;
    else if ((v = Arg(argv[i], "-sni")) >= 0)
      sni = v;
    else if ((v = Arg(argv[i], "-sni_delay")) >= 0)
      sni_delay = v;
    else if ((v = Arg(argv[i], "-cert")) >= 0)
      cert = v;
    else if ((v = Arg(argv[i], "-i")) >= 0)
      cert_imm = v;
    else if ((v = Arg(argv[i], "-close")) >= 0)
      close = v;
    else if ((v = Arg(argv[i], "-out_start")) >= 0)
      out_start = v;
    else if ((v = Arg(argv[i], "-out_start_delay")) >= 0)
      out_start_delay = v;
    else if ((v = Arg(argv[i], "-out_close")) >= 0)
      out_close = v;
    else if ((v = Arg(argv[i], "-delay_ms")) >= 0)
      delay_ms = v;
    else if ((str = StrArg(argv[i], "-pool")) != NULL && strcmp(str, "net") == 0)
      delay_pool = TS_THREAD_POOL_NET;
    else if (str != NULL && strcmp(str, "task") == 0)
      delay_pool = TS_THREAD_POOL_TASK;
    else
      TSError("[%s] unknown argument '%s'", TAG, argv[i]);
  }
  TSDebug(TAG,
          "Setup callbacks pa=%d client_hello=%d client_hello_imm=%d sni=%d cert=%d cert_imm=%d "
          "pa_delay=%d",
          preaccept, ch, ch_imm, sni, cert, cert_imm, delay);
  AddHooks(preaccept, TS_VCONN_START_HOOK, &PreAccept);
  AddHooks(delay, TS_VCONN_START_HOOK, &PreAcceptDelay);
  AddHooks(ch, TS_SSL_CLIENT_HELLO_HOOK, &ClientHelloDelay);
  AddHooks(ch_imm, TS_SSL_CLIENT_HELLO_HOOK, &ClientHelloImm);
  AddHooks(sni, TS_SSL_SERVERNAME_HOOK, &Sni);
  AddHooks(sni_delay, TS_SSL_SERVERNAME_HOOK, &SniDelay);
  AddHooks(cert, TS_SSL_CERT_HOOK, &CertDelay);
  AddHooks(cert_imm, TS_SSL_CERT_HOOK, &CertImm);
  AddHooks(close, TS_VCONN_CLOSE_HOOK, &Close);
  AddHooks(out_start, TS_VCONN_OUTBOUND_START_HOOK, &OutStart);
  AddHooks(out_start_delay, TS_VCONN_OUTBOUND_START_HOOK, &OutStartDelay);
  AddHooks(out_close, TS_VCONN_OUTBOUND_CLOSE_HOOK, &OutClose);
}
