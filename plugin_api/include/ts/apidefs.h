/* Tollgate plugin ABI: types, handles and enumerations.
 *
 * Plugins include <ts/ts.h>, which includes this file; nothing else should include it directly.
 *
 * Every name, typedef and numeric value here equals Apache Traffic Server 9.2's, so that:
 *   - a plugin written for ATS's TLS hooks compiles against this header unchanged, and
 *   - a plugin built against ATS 9.2's own headers runs against the Tollgate binary.
 * For that second promise the numbers are the contract. Enumerations whose values ATS leaves
 * implicit list every enumerator that precedes the ones Tollgate uses, in ATS's order, and
 * plugin_api/header_values_test.cc pins each value. Never insert, remove or reorder an
 * enumerator here; new values only ever go where ATS 9.2 has them.
 *
 * The header is plain C99 and also compiles as C++. */

#ifndef TOLLGATE_PLUGIN_API_TS_APIDEFS_H_
#define TOLLGATE_PLUGIN_API_TS_APIDEFS_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* tsapi marks every symbol the Tollgate binary exports to plugins. Plugins resolve these
 * symbols against the host binary when it loads them. */
#ifndef tsapi
#define tsapi __attribute__((visibility("default")))
#endif

/* TS_DEPRECATED marks calls that ATS 9.2 deprecates. They still work in Tollgate; new plugins
 * should use the replacement named in the call's comment. */
#ifndef TS_DEPRECATED
#define TS_DEPRECATED __attribute__((deprecated))
#endif

/* TS_PRINTFLIKE(fmt, first) asks the compiler to check printf-style arguments. |fmt| is the
 * 1-based position of the format string and |first| the position of the first argument it
 * formats. */
#ifndef TS_PRINTFLIKE
#if defined(__GNUC__) || defined(__clang__)
#define TS_PRINTFLIKE(fmt, first) __attribute__((format(printf, fmt, first)))
#else
#define TS_PRINTFLIKE(fmt, first)
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The ATS plugin API level this header reproduces. A plugin can test these at compile time;
 * TSTrafficServerVersionGet reports the running binary at run time. */
#define TS_VERSION_STRING "9.2.9"
#define TS_VERSION_NUMBER 9002009
#define TS_VERSION_MAJOR 9
#define TS_VERSION_MINOR 2
#define TS_VERSION_MICRO 9

/* ---------------------------------------------------------------------------------------------
 * Results */

/* TSReturnCode is the result of calls that can fail. */
typedef enum {
  TS_ERROR = -1,
  TS_SUCCESS = 0,
} TSReturnCode;

/* ---------------------------------------------------------------------------------------------
 * Plugin registration */

/* TSPluginRegistrationInfo names a plugin for TSPluginRegister, which copies the strings. */
typedef struct {
  const char* plugin_name;
  const char* vendor_name;
  const char* support_email;
} TSPluginRegistrationInfo;

/* TSPluginMsg is the event data of TS_EVENT_LIFECYCLE_MSG: a message an operator sent to
 * plugins. |tag| is NUL-terminated; |data| holds |data_size| bytes. Both belong to the core and
 * are valid only during the callback. */
typedef struct {
  const char* tag;
  void const* data;
  size_t data_size;
} TSPluginMsg;

/* ---------------------------------------------------------------------------------------------
 * Hooks
 *
 * TSHttpHookID is one numbering shared by the HTTP transaction hooks and the connection (TLS)
 * hooks, so that TSHttpHookAdd accepts both. Tollgate has no HTTP state machine: it runs only
 * the ids from TS_SSL_FIRST_HOOK to TS_SSL_LAST_HOOK. The HTTP ids are listed because their
 * positions fix the numbers of the TLS ids.
 *
 * The TLS hooks, their events and their event data (edata):
 *   TS_VCONN_START_HOOK           TS_EVENT_VCONN_START           TSVConn, inbound connection
 *       accepted; no byte read yet. May pause.
 *   TS_VCONN_CLOSE_HOOK           TS_EVENT_VCONN_CLOSE           TSVConn, inbound connection
 *       closing; runs once for every connection whose VCONN_START hooks ran.
 *   TS_SSL_CLIENT_HELLO_HOOK      TS_EVENT_SSL_CLIENT_HELLO      TSVConn, ClientHello read.
 *       May pause.
 *   TS_SSL_SNI_HOOK / TS_SSL_CERT_HOOK (one id)
 *                                 TS_EVENT_SSL_CERT              TSVConn, the certificate is
 *       being chosen; the hook may switch the connection's SSL_CTX. May pause. Not run when
 *       a session is resumed.
 *   TS_SSL_SERVERNAME_HOOK        TS_EVENT_SSL_SERVERNAME        TSVConn, runs for every
 *       ClientHello, with or without SNI.
 *   TS_SSL_VERIFY_SERVER_HOOK     TS_EVENT_SSL_VERIFY_SERVER     TSVConn, outbound connection;
 *       the origin's certificate is being checked (see TSVConnSslVerifyCTXGet).
 *   TS_SSL_VERIFY_CLIENT_HOOK     TS_EVENT_SSL_VERIFY_CLIENT     TSVConn, inbound connection;
 *       the client's certificate is being checked.
 *   TS_SSL_SESSION_HOOK           TS_EVENT_SSL_SESSION_GET/NEW/REMOVE
 *                                                                const TSSslSessionID *, not
 *       a connection; nothing to reenable.
 *   TS_VCONN_OUTBOUND_START_HOOK  TS_EVENT_VCONN_OUTBOUND_START  TSVConn, connection to an
 *       origin, before its handshake. May pause.
 *   TS_VCONN_OUTBOUND_CLOSE_HOOK  TS_EVENT_VCONN_OUTBOUND_CLOSE  TSVConn, origin connection
 *       closing. */
typedef enum {
  TS_HTTP_READ_REQUEST_HDR_HOOK,
  TS_HTTP_OS_DNS_HOOK,
  TS_HTTP_SEND_REQUEST_HDR_HOOK,
  TS_HTTP_READ_CACHE_HDR_HOOK,
  TS_HTTP_READ_RESPONSE_HDR_HOOK,
  TS_HTTP_SEND_RESPONSE_HDR_HOOK,
  TS_HTTP_REQUEST_TRANSFORM_HOOK,
  TS_HTTP_RESPONSE_TRANSFORM_HOOK,
  TS_HTTP_SELECT_ALT_HOOK,
  TS_HTTP_TXN_START_HOOK,
  TS_HTTP_TXN_CLOSE_HOOK,
  TS_HTTP_SSN_START_HOOK,
  TS_HTTP_SSN_CLOSE_HOOK,
  TS_HTTP_CACHE_LOOKUP_COMPLETE_HOOK,
  TS_HTTP_PRE_REMAP_HOOK,
  TS_HTTP_POST_REMAP_HOOK,
  TS_HTTP_RESPONSE_CLIENT_HOOK,
  TS_SSL_FIRST_HOOK,
  TS_VCONN_START_HOOK = TS_SSL_FIRST_HOOK,
  TS_VCONN_PRE_ACCEPT_HOOK = TS_VCONN_START_HOOK, /* older name of TS_VCONN_START_HOOK */
  TS_VCONN_CLOSE_HOOK,
  TS_SSL_CLIENT_HELLO_HOOK,
  TS_SSL_SNI_HOOK,
  TS_SSL_CERT_HOOK = TS_SSL_SNI_HOOK,
  TS_SSL_SERVERNAME_HOOK,
  TS_SSL_SERVER_VERIFY_HOOK,
  TS_SSL_VERIFY_SERVER_HOOK = TS_SSL_SERVER_VERIFY_HOOK,
  TS_SSL_VERIFY_CLIENT_HOOK,
  TS_SSL_SESSION_HOOK,
  TS_VCONN_OUTBOUND_START_HOOK,
  TS_VCONN_OUTBOUND_CLOSE_HOOK,
  TS_SSL_LAST_HOOK = TS_VCONN_OUTBOUND_CLOSE_HOOK,
  TS_HTTP_REQUEST_BUFFER_READ_COMPLETE_HOOK,
  TS_HTTP_LAST_HOOK
} TSHttpHookID;

/* TSLifecycleHookID names process-wide moments (TSLifecycleHookAdd). Each is delivered as the
 * TS_EVENT_LIFECYCLE_* event of the same name with NULL edata, except TS_LIFECYCLE_MSG_HOOK
 * (edata is a TSPluginMsg *) and the two SSL_CTX hooks (edata is the SSL_CTX *). Of their
 * order only this is promised: PORTS_INITIALIZED runs before PORTS_READY. */
typedef enum {
  TS_LIFECYCLE_PORTS_INITIALIZED_HOOK,
  TS_LIFECYCLE_PORTS_READY_HOOK,
  TS_LIFECYCLE_CACHE_READY_HOOK,
  TS_LIFECYCLE_SERVER_SSL_CTX_INITIALIZED_HOOK,
  TS_LIFECYCLE_CLIENT_SSL_CTX_INITIALIZED_HOOK,
  TS_LIFECYCLE_MSG_HOOK,
  TS_LIFECYCLE_TASK_THREADS_READY_HOOK,
  TS_LIFECYCLE_SHUTDOWN_HOOK,
  /* ATS 9.2 keeps one slot free here, so its end marker is SHUTDOWN + 2. */
  TS_LIFECYCLE_LAST_HOOK = TS_LIFECYCLE_SHUTDOWN_HOOK + 2
} TSLifecycleHookID;

/* ---------------------------------------------------------------------------------------------
 * Events
 *
 * TSEvent is the second argument of every TSEventFunc. Every value is explicit, as in ATS;
 * Tollgate sends the TLS, VCONN, lifecycle, timer and SSL session events, and the rest are
 * here so that plugin code naming them compiles. */
typedef enum {
  TS_EVENT_NONE = 0,
  TS_EVENT_IMMEDIATE = 1,
  TS_EVENT_TIMEOUT = 2,
  TS_EVENT_ERROR = 3,
  TS_EVENT_CONTINUE = 4,

  TS_EVENT_VCONN_READ_READY = 100,
  TS_EVENT_VCONN_WRITE_READY = 101,
  TS_EVENT_VCONN_READ_COMPLETE = 102,
  TS_EVENT_VCONN_WRITE_COMPLETE = 103,
  TS_EVENT_VCONN_EOS = 104,
  TS_EVENT_VCONN_INACTIVITY_TIMEOUT = 105,
  TS_EVENT_VCONN_ACTIVE_TIMEOUT = 106,
  TS_EVENT_VCONN_START = 107,
  TS_EVENT_VCONN_CLOSE = 108,
  TS_EVENT_VCONN_OUTBOUND_START = 109,
  TS_EVENT_VCONN_OUTBOUND_CLOSE = 110,
  TS_EVENT_VCONN_PRE_ACCEPT = TS_EVENT_VCONN_START, /* older name of TS_EVENT_VCONN_START */

  TS_EVENT_NET_CONNECT = 200,
  TS_EVENT_NET_CONNECT_FAILED = 201,
  TS_EVENT_NET_ACCEPT = 202,
  TS_EVENT_NET_ACCEPT_FAILED = 204,

  TS_EVENT_INTERNAL_206 = 206,
  TS_EVENT_INTERNAL_207 = 207,
  TS_EVENT_INTERNAL_208 = 208,
  TS_EVENT_INTERNAL_209 = 209,
  TS_EVENT_INTERNAL_210 = 210,
  TS_EVENT_INTERNAL_211 = 211,
  TS_EVENT_INTERNAL_212 = 212,

  TS_EVENT_HOST_LOOKUP = 500,

  TS_EVENT_CACHE_OPEN_READ = 1102,
  TS_EVENT_CACHE_OPEN_READ_FAILED = 1103,
  TS_EVENT_CACHE_OPEN_WRITE = 1108,
  TS_EVENT_CACHE_OPEN_WRITE_FAILED = 1109,
  TS_EVENT_CACHE_REMOVE = 1112,
  TS_EVENT_CACHE_REMOVE_FAILED = 1113,
  TS_EVENT_CACHE_SCAN = 1120,
  TS_EVENT_CACHE_SCAN_FAILED = 1121,
  TS_EVENT_CACHE_SCAN_OBJECT = 1122,
  TS_EVENT_CACHE_SCAN_OPERATION_BLOCKED = 1123,
  TS_EVENT_CACHE_SCAN_OPERATION_FAILED = 1124,
  TS_EVENT_CACHE_SCAN_DONE = 1125,
  TS_EVENT_CACHE_LOOKUP = 1126,
  TS_EVENT_CACHE_READ = 1127,
  TS_EVENT_CACHE_DELETE = 1128,
  TS_EVENT_CACHE_WRITE = 1129,
  TS_EVENT_CACHE_WRITE_HEADER = 1130,
  TS_EVENT_CACHE_CLOSE = 1131,
  TS_EVENT_CACHE_LOOKUP_READY = 1132,
  TS_EVENT_CACHE_LOOKUP_COMPLETE = 1133,
  TS_EVENT_CACHE_READ_READY = 1134,
  TS_EVENT_CACHE_READ_COMPLETE = 1135,

  TS_EVENT_INTERNAL_1200 = 1200,

  TS_EVENT_SSL_SESSION_GET = 2000,
  TS_EVENT_SSL_SESSION_NEW = 2001,
  TS_EVENT_SSL_SESSION_REMOVE = 2002,

  TS_EVENT_AIO_DONE = 3900,

  TS_EVENT_HTTP_CONTINUE = 60000,
  TS_EVENT_HTTP_ERROR = 60001,
  TS_EVENT_HTTP_READ_REQUEST_HDR = 60002,
  TS_EVENT_HTTP_OS_DNS = 60003,
  TS_EVENT_HTTP_SEND_REQUEST_HDR = 60004,
  TS_EVENT_HTTP_READ_CACHE_HDR = 60005,
  TS_EVENT_HTTP_READ_RESPONSE_HDR = 60006,
  TS_EVENT_HTTP_SEND_RESPONSE_HDR = 60007,
  TS_EVENT_HTTP_REQUEST_TRANSFORM = 60008,
  TS_EVENT_HTTP_RESPONSE_TRANSFORM = 60009,
  TS_EVENT_HTTP_SELECT_ALT = 60010,
  TS_EVENT_HTTP_TXN_START = 60011,
  TS_EVENT_HTTP_TXN_CLOSE = 60012,
  TS_EVENT_HTTP_SSN_START = 60013,
  TS_EVENT_HTTP_SSN_CLOSE = 60014,
  TS_EVENT_HTTP_CACHE_LOOKUP_COMPLETE = 60015,
  TS_EVENT_HTTP_PRE_REMAP = 60016,
  TS_EVENT_HTTP_POST_REMAP = 60017,
  TS_EVENT_HTTP_REQUEST_BUFFER_COMPLETE = 60018,

  TS_EVENT_LIFECYCLE_PORTS_INITIALIZED = 60100,
  TS_EVENT_LIFECYCLE_PORTS_READY = 60101,
  TS_EVENT_LIFECYCLE_CACHE_READY = 60102,
  TS_EVENT_LIFECYCLE_SERVER_SSL_CTX_INITIALIZED = 60103,
  TS_EVENT_LIFECYCLE_CLIENT_SSL_CTX_INITIALIZED = 60104,
  TS_EVENT_LIFECYCLE_MSG = 60105,
  TS_EVENT_LIFECYCLE_TASK_THREADS_READY = 60106,
  TS_EVENT_LIFECYCLE_SHUTDOWN = 60107,

  TS_EVENT_INTERNAL_60200 = 60200,
  TS_EVENT_INTERNAL_60201 = 60201,
  TS_EVENT_INTERNAL_60202 = 60202,
  TS_EVENT_SSL_CERT = 60203,
  TS_EVENT_SSL_SERVERNAME = 60204,
  TS_EVENT_SSL_VERIFY_SERVER = 60205,
  TS_EVENT_SSL_VERIFY_CLIENT = 60206,
  TS_EVENT_SSL_CLIENT_HELLO = 60207,
  TS_EVENT_SSL_SECRET = 60208,

  TS_EVENT_MGMT_UPDATE = 60300
} TSEvent;

/* An older name of TS_EVENT_HTTP_PRE_REMAP. */
#define TS_EVENT_HTTP_READ_REQUEST_PRE_REMAP TS_EVENT_HTTP_PRE_REMAP

/* TSVConnCloseFlags are the two ways a connection ends; TS_VC_CLOSE_ABORT is also the usual
 * |error| argument of TSVConnAbort. */
typedef enum {
  TS_VC_CLOSE_ABORT = -1,
  TS_VC_CLOSE_NORMAL = 1,
} TSVConnCloseFlags;

/* ---------------------------------------------------------------------------------------------
 * Threads and time */

/* TSThreadPool chooses where scheduled work runs (TSContScheduleOnPool).
 * TS_THREAD_POOL_NET runs it on a net thread, the threads that drive connections and run
 * hooks; work there must never block. TS_THREAD_POOL_TASK runs it on a task thread, where
 * blocking work (files, slow computation) belongs. TS_THREAD_POOL_DNS and TS_THREAD_POOL_UDP
 * hold their ATS numbers only; plugins schedule on NET or TASK. */
typedef enum {
  TS_THREAD_POOL_NET,
  TS_THREAD_POOL_TASK,
  TS_THREAD_POOL_DNS,
  TS_THREAD_POOL_UDP
} TSThreadPool;

/* TSHRTime is a time interval. Scheduling calls take it in milliseconds. */
typedef int64_t TSHRTime;

/* ---------------------------------------------------------------------------------------------
 * Records and stats */

/* TSRecordDataType is the type of a record's value. TSStatCreate accepts only
 * TS_RECORDDATATYPE_INT. */
typedef enum {
  TS_RECORDDATATYPE_NULL = 0,
  TS_RECORDDATATYPE_INT,
  TS_RECORDDATATYPE_FLOAT,
  TS_RECORDDATATYPE_STRING,
  TS_RECORDDATATYPE_COUNTER,
  TS_RECORDDATATYPE_STAT_CONST,
  TS_RECORDDATATYPE_STAT_FX,
  TS_RECORDDATATYPE_MAX
} TSRecordDataType;

/* TSMgmtInt is the value of an integer record or stat. */
typedef int64_t TSMgmtInt;

/* ---------------------------------------------------------------------------------------------
 * User arguments */

/* TSUserArgType names the kind of object a user-argument slot belongs to
 * (TSUserArgIndexReserve). Through the calls in ts.h a plugin reaches TS_USER_ARGS_VCONN slots
 * (one set per connection) and TS_USER_ARGS_GLB slots (one set per process); the TXN and SSN
 * kinds hold their ATS numbers. TS_USER_ARGS_COUNT is the number of kinds, not a kind. */
typedef enum {
  TS_USER_ARGS_TXN,
  TS_USER_ARGS_SSN,
  TS_USER_ARGS_VCONN,
  TS_USER_ARGS_GLB,
  TS_USER_ARGS_COUNT
} TSUserArgType;

/* ---------------------------------------------------------------------------------------------
 * Handles
 *
 * Every handle is a pointer to a struct the plugin never sees. The struct tags are ATS's, so
 * plugin code that converts or forward-declares them keeps compiling. */

/* TSCont is a continuation: a callback with optional data and an optional mutex. */
typedef struct tsapi_cont* TSCont;
/* TSVConn is a connection. It shares TSCont's struct tag, as in ATS: a connection is a kind of
 * continuation, and hook callbacks receive it as their edata. */
typedef struct tsapi_cont* TSVConn;
/* TSMutex is a recursive mutex shared by continuations (TSMutexCreate). */
typedef struct tsapi_mutex* TSMutex;
/* TSAction is scheduled work that can still be cancelled (TSActionCancel). */
typedef struct tsapi_action* TSAction;
/* TSThread is any thread known to the core; TSEventThread is a thread that runs an event
 * loop (a net or task thread). */
typedef struct tsapi_thread* TSThread;
typedef struct tsapi_event_thread* TSEventThread;
/* TSSslConnection is a connection's BoringSSL object: cast it to SSL *. */
typedef struct tsapi_ssl_obj* TSSslConnection;
/* TSSslContext is an SSL_CTX *. */
typedef struct tsapi_ssl_context* TSSslContext;
/* TSSslSession is an SSL_SESSION *. */
typedef struct tsapi_ssl_session* TSSslSession;
/* TSSslVerifyCTX is the X509_STORE_CTX * of a certificate check in progress. */
typedef struct tsapi_x509_store_ctx* TSSslVerifyCTX;
/* TSSslX509 is an X509 *. */
typedef struct tsapi_x509* TSSslX509;
/* TSClientHello is a copy of a connection's ClientHello with its fields located
 * (TSVConnClientHelloGet). Beyond ATS 9.2: the name and struct tag are ATS 10's. */
typedef struct tsapi_client_hello* TSClientHello;

/* TSEventFunc is a continuation's callback. |contp| is the continuation, |event| why it runs
 * and |edata| the event's data (for hooks, usually the TSVConn). The return value is ignored
 * by the TLS hooks; return 0. */
typedef int (*TSEventFunc)(TSCont contp, TSEvent event, void* edata);

/* ---------------------------------------------------------------------------------------------
 * TLS sessions */

/* TS_SSL_MAX_SSL_SESSION_ID_LENGTH is the longest TLS session id, in bytes. */
#define TS_SSL_MAX_SSL_SESSION_ID_LENGTH 32

/* TSSslSessionID is the event data of TS_SSL_SESSION_HOOK: the first |len| bytes of |bytes|
 * are a session id. */
typedef struct TSSslSessionID_s {
  size_t len;
  char bytes[TS_SSL_MAX_SSL_SESSION_ID_LENGTH];
} TSSslSessionID;

/* ---------------------------------------------------------------------------------------------
 * ALPN protocol names
 *
 * NUL-terminated protocol ids as they appear on the wire, defined by the Tollgate binary. Pass
 * them to TSVConnProtocolEnable and TSVConnProtocolDisable. */
extern tsapi const char* const TS_ALPN_PROTOCOL_HTTP_1_1; /* "http/1.1" */
extern tsapi const char* const TS_ALPN_PROTOCOL_HTTP_2_0; /* "h2" */

#ifdef __cplusplus
}
#endif

#endif /* TOLLGATE_PLUGIN_API_TS_APIDEFS_H_ */
