/* Proves that <ts/ts.h> is a C99 header: this file is compiled with -std=c99 -pedantic and
 * -Werror, and linked without any TS* definition, so it touches only types, constants and
 * sizes, never a function. */

#include <stddef.h>
#include <ts/ts.h>

/* C99 has no _Static_assert: an array of negative size fails the build instead. */
#define TG_CHECK(name, cond) typedef char tg_check_##name[(cond) ? 1 : -1]

TG_CHECK(vconn_start_hook, TS_VCONN_START_HOOK == 17);
TG_CHECK(cert_is_sni, TS_SSL_CERT_HOOK == TS_SSL_SNI_HOOK);
TG_CHECK(client_hello_event, TS_EVENT_SSL_CLIENT_HELLO == 60207);
TG_CHECK(vconn_start_event, TS_EVENT_VCONN_START == 107);
TG_CHECK(task_pool, TS_THREAD_POOL_TASK == 1);
TG_CHECK(error_code, TS_ERROR == -1);
TG_CHECK(session_id_size,
         sizeof(TSSslSessionID) == sizeof(size_t) + TS_SSL_MAX_SSL_SESSION_ID_LENGTH);
TG_CHECK(handle_size, sizeof(TSVConn) == sizeof(void*));

/* A hook callback as a plugin writes one, stored in a TSEventFunc: the typedef must accept it
 * without a cast. */
static int count_tls_events(TSCont contp, TSEvent event, void* edata) {
  (void)contp;
  (void)edata;
  switch (event) {
    case TS_EVENT_VCONN_START:
    case TS_EVENT_SSL_CLIENT_HELLO:
    case TS_EVENT_SSL_SERVERNAME:
    case TS_EVENT_SSL_CERT:
    case TS_EVENT_VCONN_CLOSE:
      return 1;
    default:
      return 0;
  }
}

int main(void) {
  TSEventFunc handler = count_tls_events;
  TSPluginRegistrationInfo info = {"header_c99_test", "Tollgate", "dev@tollgate.invalid"};
  TSSslSessionID id;
  TSHttpHookID hook = TS_SSL_SERVERNAME_HOOK;
  TSUserArgType kind = TS_USER_ARGS_VCONN;
  TSRecordDataType type = TS_RECORDDATATYPE_INT;
  TSStatPersistence persist = TS_STAT_NON_PERSISTENT;
  TSStatSync sync = TS_STAT_SYNC_SUM;
  TSHRTime delay_ms = 2000;
  TSMgmtInt value = 0;
  int failures = 0;

  id.len = sizeof(id.bytes);
  if (id.len != TS_SSL_MAX_SSL_SESSION_ID_LENGTH) ++failures;
  if (handler(NULL, TS_EVENT_SSL_CERT, NULL) != 1) ++failures;
  if (handler(NULL, TS_EVENT_TIMEOUT, NULL) != 0) ++failures;
  if (info.plugin_name == NULL) ++failures;
  if (hook < TS_SSL_FIRST_HOOK || hook > TS_SSL_LAST_HOOK) ++failures;
  if ((int)kind != 2 || (int)type != 1 || (int)persist != 2 || (int)sync != 0) ++failures;
  if (delay_ms + value != 2000) ++failures;
  return failures == 0 ? 0 : 1;
}
