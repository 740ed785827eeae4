/* Tollgate plugin API.
 *
 * A plugin is a shared object listed in plugin.config. At start-up Tollgate loads it with
 * dlopen and calls its TSPluginInit once, on the main thread, before any port accepts a
 * connection. There the plugin registers itself (TSPluginRegister), creates continuations
 * (TSContCreate) and adds them to hooks (TSHttpHookAdd, TSLifecycleHookAdd). From then on the
 * core calls a continuation's TSEventFunc each time its hook point is reached.
 *
 * Compatibility. Each function here has the name, signature and numeric constants of Apache
 * Traffic Server 9.2. A TLS-hook plugin written for ATS compiles against this header unchanged,
 * and a plugin built against ATS 9.2's headers runs against the Tollgate binary. Tollgate
 * offers the subset of the ATS API that concerns connections, TLS, scheduling, diagnostics and
 * stats; it has no HTTP transaction API.
 *
 * Threads. Each connection belongs to one net thread, and its hooks run there, one at a time.
 * A hook must not block: no disk, no sleeping, no waiting on a lock held for long. Blocking work
 * goes to a task thread with TSContScheduleOnPool(..., TS_THREAD_POOL_TASK); that work reenables
 * the connection when it is done. A continuation created with a mutex is always called with
 * that mutex held; one created without a mutex gets no locking from the core.
 *
 * The hook contract. For each connection and each hook point:
 *   - the continuations added to that hook run in the order they were added, across plugins
 *     in plugin.config order;
 *   - each hook callback that receives a TSVConn must call TSVConnReenable or
 *     TSVConnReenableEx exactly once for that invocation. It may do so before returning
 *     (inline) or later, from any thread. Until it does, the connection stays parked: the next
 *     continuation on that hook and the rest of the handshake wait. The handshake timeout
 *     (proxy.config.ssl.handshake_timeout_in) counts the time spent parked;
 *   - TSVConnReenableEx(vc, TS_EVENT_ERROR) ends the connection: a fatal alert, the close,
 *     then the close hooks;
 *   - every connection whose TS_VCONN_START_HOOK callbacks ran gets its TS_VCONN_CLOSE_HOOK
 *     callbacks exactly once, however it ends: normally, on error, on timeout, on peer reset,
 *     or while parked in a hook.
 * A TSVConn handle stays safe to pass to the calls below after its connection has closed: a
 * late TSVConnReenable, for example from a task thread that finished after the client went
 * away, does nothing. Calls that return data about a closed connection return NULL, 0 or
 * TS_ERROR. Plugins still drop their own per-connection state in TS_VCONN_CLOSE_HOOK.
 *
 * Example: a plugin that logs the SNI of every inbound TLS connection.
 *
 *   #include <ts/ts.h>
 *
 *   static int on_servername(TSCont contp, TSEvent event, void *edata) {
 *     TSVConn vc = (TSVConn)edata;
 *     int len = 0;
 *     const char *sni = TSVConnSslSniGet(vc, &len);
 *     (void)contp;
 *     (void)event;
 *     TSDebug("sni_log", "SNI '%.*s'", len, sni != NULL ? sni : "");
 *     TSVConnReenable(vc);
 *     return 0;
 *   }
 *
 *   void TSPluginInit(int argc, const char *argv[]) {
 *     TSPluginRegistrationInfo info = {"sni_log", "Example Inc.", "ops@example.com"};
 *     (void)argc;
 *     (void)argv;
 *     if (TSPluginRegister(&info) != TS_SUCCESS) {
 *       TSError("[sni_log] registration failed");
 *       return;
 *     }
 *     TSHttpHookAdd(TS_SSL_SERVERNAME_HOOK, TSContCreate(on_servername, NULL));
 *   }
 *
 * The header is plain C99 and also compiles as C++. */

#ifndef TOLLGATE_PLUGIN_API_TS_TS_H_
#define TOLLGATE_PLUGIN_API_TS_TS_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <ts/apidefs.h>

#ifdef __cplusplus
extern "C" {
#endif

/* =============================================================================================
 * Plugin registration */

/* TSPluginInit is defined by the plugin, not by Tollgate. The core calls it once, on the main
 * thread, right after loading the plugin and before any connection is accepted. |argc| counts
 * |argv|; argv[0] is the plugin's path as written in plugin.config and the remaining entries
 * are the words that follow it on that line. The strings belong to the core and stay valid
 * only during the call; copy what is needed later. A plugin that cannot start logs the reason
 * with TSError and returns without adding hooks. */
extern tsapi void TSPluginInit(int argc, const char* argv[]);

/* TSPluginRegister records the plugin's name, vendor and support address, copying the
 * strings. It returns TS_SUCCESS, or TS_ERROR if |plugin_info| or its |plugin_name| is NULL or
 * the call is not made from inside TSPluginInit. Call it first thing in TSPluginInit. */
tsapi TSReturnCode TSPluginRegister(const TSPluginRegistrationInfo* plugin_info);

/* TSTrafficServerVersionGet returns the ATS API version the running binary implements, as
 * "MAJOR.MINOR.PATCH" (9.2.x). The string is static: never free or modify it. Any thread. */
tsapi const char* TSTrafficServerVersionGet(void);

/* TSTrafficServerVersionGetMajor returns the first number of TSTrafficServerVersionGet's
 * string (9). Any thread. */
tsapi int TSTrafficServerVersionGetMajor(void);

/* TSTrafficServerVersionGetMinor returns the second number of TSTrafficServerVersionGet's
 * string (2). Any thread. */
tsapi int TSTrafficServerVersionGetMinor(void);

/* TSTrafficServerVersionGetPatch returns the third number of TSTrafficServerVersionGet's
 * string. Any thread. */
tsapi int TSTrafficServerVersionGetPatch(void);

/* =============================================================================================
 * Continuations
 *
 * A continuation (TSCont) is a callback (TSEventFunc), a data pointer the core never reads, and
 * an optional mutex. The core calls it for the hooks it was added to and for the work scheduled
 * on it. */

/* TSContCreate returns a new continuation that runs |funcp|. If |mutexp| is not NULL the core
 * holds it during every call of |funcp|; several continuations may share one mutex, which
 * then stays alive as long as any of them does. With a NULL |mutexp| the core calls |funcp|
 * without locking. The caller owns the result and frees it with TSContDestroy. Any thread. */
tsapi TSCont TSContCreate(TSEventFunc funcp, TSMutex mutexp);

/* TSContDestroy frees |contp|. Cancel its scheduled actions first (TSActionCancel) and remove
 * it from use: a continuation still added to a hook must not be destroyed. It may be called
 * from |contp|'s own callback; the memory is then released after the callback returns. */
tsapi void TSContDestroy(TSCont contp);

/* TSContDataSet stores |data| in |contp|. The core never reads or frees it; the plugin owns
 * it. Any thread, but plugins usually set it once, before the continuation can run. */
tsapi void TSContDataSet(TSCont contp, void* data);

/* TSContDataGet returns the pointer last stored with TSContDataSet, or NULL if none was. Any
 * thread. */
tsapi void* TSContDataGet(TSCont contp);

/* TSContCall runs |contp|'s callback now, on the calling thread, with |event| and |edata|, and
 * returns what the callback returns. If |contp| has a mutex, the calling thread takes it for
 * the call (it may already hold it; the mutex is recursive). */
tsapi int TSContCall(TSCont contp, TSEvent event, void* edata);

/* TSContMutexGet returns the mutex given to TSContCreate, or NULL if there was none. The
 * continuation keeps ownership. Any thread. */
tsapi TSMutex TSContMutexGet(TSCont contp);

/* TSContSchedule arranges for |contp| to run once, |timeout| milliseconds from now, on the
 * calling event thread (TSEventThreadSelf). The event is TS_EVENT_IMMEDIATE if |timeout| is 0
 * and TS_EVENT_TIMEOUT otherwise; edata is NULL. It returns an action that TSActionCancel can
 * cancel until the call starts, or NULL if the calling thread is not an event thread (use
 * TSContScheduleOnPool there). */
tsapi TSAction TSContSchedule(TSCont contp, TSHRTime timeout);

/* TSContScheduleOnPool arranges for |contp| to run once, |timeout| milliseconds from now, on a
 * thread of pool |tp|: TS_THREAD_POOL_TASK for blocking work, TS_THREAD_POOL_NET otherwise.
 * The event is TS_EVENT_IMMEDIATE if |timeout| is 0 and TS_EVENT_TIMEOUT otherwise; edata is
 * NULL. It returns an action for TSActionCancel. Any thread; this is how a hook hands work to a
 * task thread, which then calls TSVConnReenable. */
tsapi TSAction TSContScheduleOnPool(TSCont contp, TSHRTime timeout, TSThreadPool tp);

/* TSContScheduleOnThread is TSContScheduleOnPool on the one event thread |ethread| (from
 * TSEventThreadSelf). It returns an action for TSActionCancel, or NULL if |ethread| is NULL.
 * Any thread. */
tsapi TSAction TSContScheduleOnThread(TSCont contp, TSHRTime timeout, TSEventThread ethread);

/* TSContScheduleEvery arranges for |contp| to run every |every| milliseconds, with
 * TS_EVENT_TIMEOUT, on the calling event thread, until the returned action is cancelled with
 * TSActionCancel. It returns NULL if the calling thread is not an event thread. */
tsapi TSAction TSContScheduleEvery(TSCont contp, TSHRTime every);

/* TSContScheduleEveryOnPool is TSContScheduleEvery on threads of pool |tp|. Any thread. */
tsapi TSAction TSContScheduleEveryOnPool(TSCont contp, TSHRTime every, TSThreadPool tp);

/* TSActionCancel cancels the scheduled work |actionp|. For one-shot work it must be called
 * before the continuation runs; for periodic work (TSContScheduleEvery*) it stops the next
 * runs. After the call the handle is invalid. Call it with the continuation's mutex held (for
 * example from the continuation's own callback or from a callback sharing its mutex), so that
 * it cannot race the run it cancels. */
tsapi void TSActionCancel(TSAction actionp);

/* TSActionDone returns 1 if |actionp| stands for work that finished synchronously, so there is
 * nothing to cancel, and 0 otherwise. The actions returned by the scheduling calls above are
 * never done at return: for them it returns 0. */
tsapi int TSActionDone(TSAction actionp);

/* TSThreadSelf returns the calling thread's handle, or NULL if the core did not create the
 * thread. The handle belongs to the core. */
tsapi TSThread TSThreadSelf(void);

/* TSEventThreadSelf returns the calling event thread (a net or task thread), or NULL when
 * called from any other thread, for example during TSPluginInit on the main thread. The
 * handle belongs to the core and is valid for the life of the process. */
tsapi TSEventThread TSEventThreadSelf(void);

/* =============================================================================================
 * Mutexes
 *
 * A TSMutex is recursive: the thread that holds it may lock it again, and must unlock it as
 * many times. */

/* TSMutexCreate returns a new, unlocked mutex. Give it to TSContCreate, which shares ownership
 * with the continuation, or free it with TSMutexDestroy. Any thread. */
tsapi TSMutex TSMutexCreate(void);

/* TSMutexDestroy frees a mutex from TSMutexCreate that no thread holds and that was never
 * given to TSContCreate (the continuations free those). */
tsapi void TSMutexDestroy(TSMutex mutexp);

/* TSMutexLock locks |mutexp|, waiting if another thread holds it. On a net thread, wait only
 * for a mutex that is held briefly; otherwise use TSMutexLockTry. */
tsapi void TSMutexLock(TSMutex mutexp);

/* TSMutexLockTry locks |mutexp| without waiting. It returns TS_SUCCESS if the calling thread
 * now holds it, and TS_ERROR if another thread does. */
tsapi TSReturnCode TSMutexLockTry(TSMutex mutexp);

/* TSMutexUnlock releases one lock of |mutexp| that the calling thread holds. */
tsapi void TSMutexUnlock(TSMutex mutexp);

/* =============================================================================================
 * Hooks */

/* TSHttpHookAdd appends |contp| to the global hook |id|; it runs for every connection that
 * reaches that hook point after the call (see the hook contract at the top and TSHttpHookID in
 * apidefs.h for each hook's event and edata). The same continuation may be added to several
 * hooks. Tollgate runs the ids from TS_SSL_FIRST_HOOK to TS_SSL_LAST_HOOK; a continuation added
 * to any other id is never called. Any thread; plugins normally call it in TSPluginInit. */
tsapi void TSHttpHookAdd(TSHttpHookID id, TSCont contp);

/* TSLifecycleHookAdd appends |contp| to the process lifecycle hook |id|. It is called with the
 * matching TS_EVENT_LIFECYCLE_* event; nothing needs to be reenabled. Call it in TSPluginInit,
 * so that no lifecycle event is missed. */
tsapi void TSLifecycleHookAdd(TSLifecycleHookID id, TSCont contp);

/* =============================================================================================
 * TLS connections
 *
 * These calls take the TSVConn a hook received as edata. Unless a comment says otherwise they
 * may be called from any thread, and on a connection that has closed they do nothing and
 * return NULL, 0 or TS_ERROR. */

/* TSVConnReenable resumes |sslvcp| after the hook callback that received it, exactly as
 * TSVConnReenableEx(sslvcp, TS_EVENT_CONTINUE). Call it exactly once per hook invocation,
 * inline or later, from any thread. */
tsapi void TSVConnReenable(TSVConn sslvcp);

/* TSVConnReenableEx resumes |sslvcp| after the hook callback that received it, with a verdict.
 * TS_EVENT_CONTINUE goes on with the next continuation on the hook, then the handshake.
 * TS_EVENT_ERROR ends the connection: the handshake fails with a fatal alert, the connection
 * closes and its close hooks run; in a TS_SSL_VERIFY_*_HOOK it rejects the peer's certificate.
 * Any other event acts as TS_EVENT_CONTINUE. Call it exactly once per hook invocation, inline
 * or later, from any thread. On a connection that has closed meanwhile it does nothing. */
tsapi void TSVConnReenableEx(TSVConn sslvcp, TSEvent event);

/* TSVConnTunnel turns |sslp| into a blind tunnel: Tollgate stops the TLS handshake and relays
 * the client's bytes, including the ClientHello already read, to the origin unchanged. It
 * returns TS_SUCCESS, or TS_ERROR if |sslp| is not a TLS connection or its server certificate
 * has already been sent. Call it from TS_VCONN_START_HOOK, TS_SSL_CLIENT_HELLO_HOOK,
 * TS_SSL_SERVERNAME_HOOK or TS_SSL_CERT_HOOK; it takes effect when the hook reenables, which
 * it still must. */
tsapi TSReturnCode TSVConnTunnel(TSVConn sslp);

/* TSVConnSslConnectionGet returns the connection's BoringSSL object; cast it to SSL *. It is
 * NULL if |sslp| is not a TLS connection. The connection owns it: never free it. The pointer
 * is valid until the TS_VCONN_CLOSE_HOOK (or TS_VCONN_OUTBOUND_CLOSE_HOOK) callbacks have
 * returned. A hook may read it and, in TS_SSL_CERT_HOOK, change it (for example with
 * SSL_set_SSL_CTX); touch it only from a hook callback of this connection, or while the
 * connection is parked in one. */
tsapi TSSslConnection TSVConnSslConnectionGet(TSVConn sslp);

/* TSVConnIsSsl returns 1 if |sslp| is a TLS connection and 0 otherwise. */
tsapi int TSVConnIsSsl(TSVConn sslp);

/* TSVConnSslSniGet returns the server name the client sent (SNI), as in ATS: the empty string
 * if the client sent none or the ClientHello has not been read yet, and NULL only if |sslp| is
 * not a TLS connection or has closed. If |length| is not NULL it receives the name's length in
 * bytes (0 for the empty string and for NULL). The string is NUL-terminated and owned by the
 * connection: never free it; it stays valid until the connection's close hooks have
 * returned. */
tsapi const char* TSVConnSslSniGet(TSVConn sslp, int* length);

/* TSVConnSslVerifyCTXGet returns the X509_STORE_CTX (cast it to X509_STORE_CTX *) of the
 * certificate check in progress, or NULL outside one. It is not NULL only during
 * TS_SSL_VERIFY_CLIENT_HOOK and TS_SSL_VERIFY_SERVER_HOOK callbacks, and only valid until the
 * callback returns. The connection owns it. */
tsapi TSSslVerifyCTX TSVConnSslVerifyCTXGet(TSVConn sslp);

/* TSVConnProtocolEnable adds |protocol_name| (for example TS_ALPN_PROTOCOL_HTTP_2_0) to the
 * ALPN protocols |connp| offers, if the port supports it. It returns TS_SUCCESS, or TS_ERROR if
 * the protocol is unknown to Tollgate or ALPN has already been negotiated. Call it from
 * TS_VCONN_START_HOOK, TS_SSL_CLIENT_HELLO_HOOK or TS_SSL_SERVERNAME_HOOK. */
tsapi TSReturnCode TSVConnProtocolEnable(TSVConn connp, const char* protocol_name);

/* TSVConnProtocolDisable removes |protocol_name| from the ALPN protocols |connp| offers. It
 * returns TS_SUCCESS, or TS_ERROR if the protocol is unknown to Tollgate or ALPN has already
 * been negotiated. Call it from the same hooks as TSVConnProtocolEnable. */
tsapi TSReturnCode TSVConnProtocolDisable(TSVConn connp, const char* protocol_name);

/* TSVConnClose closes |connp| normally; its close hooks run. Inside a hook callback, prefer
 * TSVConnReenableEx(connp, TS_EVENT_ERROR), which ends the handshake and also satisfies the
 * hook's duty to reenable. */
tsapi void TSVConnClose(TSVConn connp);

/* TSVConnAbort closes |connp| at once, discarding unsent data; |error| is the reason recorded
 * (TS_VC_CLOSE_ABORT, or an errno value). Its close hooks run. The advice of TSVConnClose
 * applies. */
tsapi void TSVConnAbort(TSVConn connp, int error);

/* TSVConnFdGet returns the connection's socket descriptor, or -1 if it has none. The
 * connection owns the descriptor: never close it, and never read or write it. */
tsapi int TSVConnFdGet(TSVConn sslp);

/* TSVConnIsSslReused returns 1 if |sslp|'s handshake resumed an earlier TLS session and 0
 * otherwise (also before the handshake has finished). */
tsapi int TSVConnIsSslReused(TSVConn sslp);

/* TSVConnSslCipherGet returns the name of the negotiated cipher suite, for example
 * "TLS_AES_128_GCM_SHA256", or NULL before the handshake has chosen one. The string is static:
 * never free it. */
tsapi const char* TSVConnSslCipherGet(TSVConn sslp);

/* TSVConnSslProtocolGet returns the negotiated TLS version, for example "TLSv1.3", or NULL
 * before it is known. The string is static: never free it. */
tsapi const char* TSVConnSslProtocolGet(TSVConn sslp);

/* TSVConnSslCurveGet returns the name of the negotiated key-exchange group, for example
 * "X25519", or NULL before it is known or if the handshake used none. The string is static:
 * never free it. */
tsapi const char* TSVConnSslCurveGet(TSVConn sslp);

/* =============================================================================================
 * ClientHello (beyond ATS 9.2)
 *
 * A plugin may look at the ClientHello the client sent, for example to fingerprint it or to
 * route on its extensions. TSVConnClientHelloGet, TSClientHelloDestroy and
 * TSClientHelloExtensionGet have ATS 10's names and signatures; TSClientHelloVersionGet,
 * TSClientHelloCipherSuitesGet and TSClientHelloExtensionTypesGet are Tollgate additions in C
 * for what ATS 10 offers only as C++ methods.
 *
 * Example: log the ALPN extension from a TS_SSL_CLIENT_HELLO_HOOK callback.
 *
 *   TSClientHello ch = TSVConnClientHelloGet(vc);
 *   const unsigned char *alpn;
 *   size_t alpn_len;
 *   if (ch != NULL && TSClientHelloExtensionGet(ch, 16, &alpn, &alpn_len) == TS_SUCCESS) {
 *     TSDebug("my_tag", "ALPN extension of %zu bytes", alpn_len);
 *   }
 *   TSClientHelloDestroy(ch);
 *   TSVConnReenable(vc); */

/* TSVConnClientHelloGet returns a copy of the ClientHello message |sslp| received, or NULL if
 * it has not been read yet (in TS_VCONN_START_HOOK), is no longer kept (after the certificate
 * was sent), is malformed, or |sslp| is not a TLS connection or has closed. It works in
 * TS_SSL_CLIENT_HELLO_HOOK, TS_SSL_SERVERNAME_HOOK and TS_SSL_CERT_HOOK callbacks. The caller
 * owns the result, which is independent of the connection, and frees it with
 * TSClientHelloDestroy. Call it on the connection's own thread: from the hook callback, not
 * from a task thread. */
tsapi TSClientHello TSVConnClientHelloGet(TSVConn sslp);

/* TSClientHelloDestroy frees |ch|, a result of TSVConnClientHelloGet. Pointers obtained from
 * |ch| become invalid. NULL is ignored. Any thread. */
tsapi void TSClientHelloDestroy(TSClientHello ch);

/* TSClientHelloExtensionGet finds the first extension of type |type| (for example 0 for
 * server_name, 16 for ALPN) in |ch|. If there is one it points |*out| at its data (without the
 * type and length fields), stores the data's length in |*outlen| and returns TS_SUCCESS; the
 * data is owned by |ch| and valid until TSClientHelloDestroy. It returns TS_ERROR if |ch| has no
 * such extension or an argument is NULL. Any thread. */
tsapi TSReturnCode TSClientHelloExtensionGet(TSClientHello ch, unsigned int type,
                                             const unsigned char** out, size_t* outlen);

/* TSClientHelloVersionGet returns the ClientHello's legacy_version field, for example 0x0303
 * (a TLS 1.3 client also sends 0x0303 and lists its versions in extension 43), or 0 if |ch| is
 * NULL. A Tollgate addition. Any thread. */
tsapi uint16_t TSClientHelloVersionGet(TSClientHello ch);

/* TSClientHelloCipherSuitesGet points |*out| at the ClientHello's cipher suites as sent: a
 * list of 2-byte big-endian values, |*outlen| bytes in all (an even number), owned by |ch| and
 * valid until TSClientHelloDestroy. It returns TS_SUCCESS, or TS_ERROR if an argument is NULL.
 * A Tollgate addition. Any thread. */
tsapi TSReturnCode TSClientHelloCipherSuitesGet(TSClientHello ch, const unsigned char** out,
                                                size_t* outlen);

/* TSClientHelloExtensionTypesGet stores the types of |ch|'s extensions, in the order the client
 * sent them, in |types|, at most |max_types| of them, and returns how many there are in all
 * (which may exceed |max_types|: call it with |max_types| 0 to size the array). It returns 0 if
 * |ch| is NULL. |types| may be NULL when |max_types| is 0. A Tollgate addition. Any thread. */
tsapi size_t TSClientHelloExtensionTypesGet(TSClientHello ch, uint16_t* types, size_t max_types);

/* =============================================================================================
 * Addresses */

/* TSNetVConnRemoteAddrGet returns the address of |vc|'s peer: the client for an inbound
 * connection, the origin for an outbound one. It is a struct sockaddr_in or sockaddr_in6 (see
 * sa_family), owned by the connection and valid until its close hooks have returned. It
 * returns NULL if |vc| has closed. Any thread. */
tsapi struct sockaddr const* TSNetVConnRemoteAddrGet(TSVConn vc);

/* TSNetVConnLocalAddrGet returns |vc|'s own address: for an inbound connection, the address
 * and port the client connected to. Ownership and lifetime are as for
 * TSNetVConnRemoteAddrGet. */
tsapi struct sockaddr const* TSNetVConnLocalAddrGet(TSVConn vc);

/* =============================================================================================
 * SSL contexts
 *
 * A TSSslContext is an SSL_CTX *. The server contexts Tollgate loads from ssl_multicert.config
 * belong to its certificate table. */

/* TSSslContextFindByName returns the server context whose certificate matches the host name
 * |name|, as Tollgate would choose it for that SNI, or NULL if |name| is NULL, empty or
 * matches none. The table owns the context: never free it. It stays valid until the next
 * certificate reload; a plugin that keeps it longer takes its own reference (SSL_CTX_up_ref).
 * Any thread. */
tsapi TSSslContext TSSslContextFindByName(const char* name);

/* TSSslContextFindByAddr returns the server context configured for the local address |addr|
 * (ssl_multicert dest_ip), or NULL if there is none. Ownership and lifetime are as for
 * TSSslContextFindByName. Any thread. */
tsapi TSSslContext TSSslContextFindByAddr(struct sockaddr const*);

/* TSSslServerContextCreate returns a new server context with Tollgate's TLS settings
 * (protocols, ciphers, session tickets) and no certificate: the plugin installs its
 * certificate and private key itself (SSL_CTX_use_certificate, SSL_CTX_use_PrivateKey). |cert|
 * and |certname| serve only OCSP stapling: when stapling is on and both are not NULL, the
 * context staples responses for |cert|, read from the file |rsp_file| if that is not NULL. The
 * caller keeps ownership of |cert|. It returns NULL on failure. The caller owns the result:
 * give it to a connection with SSL_set_SSL_CTX in TS_SSL_CERT_HOOK and free it with
 * TSSslContextDestroy. Any thread; it may read files, so prefer a task thread. */
tsapi TSSslContext TSSslServerContextCreate(TSSslX509 cert, const char* certname,
                                            const char* rsp_file);

/* TSSslContextDestroy releases a context from TSSslServerContextCreate. Connections already
 * using it keep it alive until they close. Never pass a context from TSSslContextFindBy*. */
tsapi void TSSslContextDestroy(TSSslContext ctx);

/* TSSslTicketKeyUpdate replaces the session ticket keys of every server context with the
 * |ticketDataLen| bytes at |ticketData|: one or more 48-byte keys, the first used to issue new
 * tickets and all of them to accept tickets. The core copies the data. It returns TS_SUCCESS, or
 * TS_ERROR if |ticketDataLen| is not a positive multiple of 48. Any thread. */
tsapi TSReturnCode TSSslTicketKeyUpdate(char* ticketData, int ticketDataLen);

/* =============================================================================================
 * User arguments
 *
 * A user argument is a void * slot that plugins attach to an object. A plugin reserves an index
 * once, during TSPluginInit, then reads and writes that slot on any object of the kind. The
 * core never reads or frees the pointers stored: a plugin frees its per-connection data in
 * TS_VCONN_CLOSE_HOOK. */

/* TSUserArgIndexReserve reserves a new slot of kind |type| and stores its index in |arg_idx|.
 * |name| identifies the slot to other plugins (TSUserArgIndexNameLookup) and must not be
 * NULL; |description| may be NULL. The core copies both. It returns TS_SUCCESS, or TS_ERROR if
 * an argument is invalid or every slot of the kind is taken. Call it from TSPluginInit. */
tsapi TSReturnCode TSUserArgIndexReserve(TSUserArgType type, const char* name,
                                         const char* description, int* arg_idx);

/* TSUserArgIndexNameLookup finds the slot of kind |type| reserved under |name|. On success it
 * stores the index in |arg_idx| and, if |description| is not NULL, the reserver's description
 * (owned by the core) in |description|, and returns TS_SUCCESS. It returns TS_ERROR if no such
 * slot exists. Any thread. */
tsapi TSReturnCode TSUserArgIndexNameLookup(TSUserArgType type, const char* name, int* arg_idx,
                                            const char** description);

/* TSUserArgIndexLookup finds the slot of kind |type| at index |arg_idx|. On success it stores
 * its name and description (owned by the core; either out pointer may be NULL) and returns
 * TS_SUCCESS. It returns TS_ERROR if the index is not reserved. Any thread. */
tsapi TSReturnCode TSUserArgIndexLookup(TSUserArgType type, int arg_idx, const char** name,
                                        const char** description);

/* TSUserArgSet stores |arg| in slot |arg_idx| of |data|: a TSVConn for a TS_USER_ARGS_VCONN
 * slot, or NULL for a TS_USER_ARGS_GLB slot. Every slot starts as NULL. Slots of one
 * connection are meant to be used from that connection's hook callbacks; the core does not
 * lock them. */
tsapi void TSUserArgSet(void* data, int arg_idx, void* arg);

/* TSUserArgGet returns the pointer last stored in slot |arg_idx| of |data| (see TSUserArgSet),
 * or NULL if none was. */
tsapi void* TSUserArgGet(void* data, int arg_idx);

/* TSVConnArgIndexReserve is TSUserArgIndexReserve(TS_USER_ARGS_VCONN, ...). Deprecated since
 * ATS 9.0. */
tsapi TS_DEPRECATED TSReturnCode TSVConnArgIndexReserve(const char* name, const char* description,
                                                        int* arg_idx);

/* TSVConnArgIndexNameLookup is TSUserArgIndexNameLookup(TS_USER_ARGS_VCONN, ...). Deprecated
 * since ATS 9.0. */
tsapi TS_DEPRECATED TSReturnCode TSVConnArgIndexNameLookup(const char* name, int* arg_idx,
                                                           const char** description);

/* TSVConnArgIndexLookup is TSUserArgIndexLookup(TS_USER_ARGS_VCONN, ...). Deprecated since
 * ATS 9.0. */
tsapi TS_DEPRECATED TSReturnCode TSVConnArgIndexLookup(int arg_idx, const char** name,
                                                       const char** description);

/* TSVConnArgSet is TSUserArgSet(connp, arg_idx, arg). Deprecated since ATS 9.0. */
tsapi TS_DEPRECATED void TSVConnArgSet(TSVConn connp, int arg_idx, void* arg);

/* TSVConnArgGet is TSUserArgGet(connp, arg_idx). Deprecated since ATS 9.0. */
tsapi TS_DEPRECATED void* TSVConnArgGet(TSVConn connp, int arg_idx);

/* =============================================================================================
 * Diagnostics
 *
 * Each call formats its arguments like printf and writes one line to Tollgate's log, prefixed
 * with the level. They may be called from any thread and never block on disk. */

/* TSIsDebugTagSet returns nonzero if debug output is on for |t| (proxy.config.diags.debug.tags
 * matches it) and 0 otherwise. Use it to skip expensive work done only for TSDebug. */
tsapi int TSIsDebugTagSet(const char* t);

/* TSDebug writes a DIAG line, "(tag) message", if debug output is on for |tag|, and does
 * nothing otherwise. */
tsapi void TSDebug(const char* tag, const char* format_str, ...) TS_PRINTFLIKE(2, 3);

/* TSStatus writes a STATUS line: routine information. */
tsapi void TSStatus(const char* fmt, ...) TS_PRINTFLIKE(1, 2);

/* TSNote writes a NOTE line: information an operator may want. */
tsapi void TSNote(const char* fmt, ...) TS_PRINTFLIKE(1, 2);

/* TSWarning writes a WARNING line: something is wrong but service continues as intended. */
tsapi void TSWarning(const char* fmt, ...) TS_PRINTFLIKE(1, 2);

/* TSError writes an ERROR line: an operation failed. */
tsapi void TSError(const char* fmt, ...) TS_PRINTFLIKE(1, 2);

/* TSFatal writes a FATAL line, then ends the process with a failure status, so that a
 * supervisor may restart it. It does not return. */
tsapi void TSFatal(const char* fmt, ...) TS_PRINTFLIKE(1, 2);

/* TSEmergency writes an EMERGENCY line, then ends the process with a failure status. Use it
 * when a restart cannot help and an operator must act. It does not return. */
tsapi void TSEmergency(const char* fmt, ...) TS_PRINTFLIKE(1, 2);

/* =============================================================================================
 * Stats
 *
 * A stat is a named 64-bit integer that Tollgate publishes with its own stats. Plugins create
 * theirs during TSPluginInit and update them from any thread. */

/* TSStatPersistence is the class ATS uses to decide whether a stat's value is saved across
 * restarts. Tollgate accepts both and keeps stats in memory: every stat starts at 0. */
typedef enum {
  TS_STAT_PERSISTENT = 1,
  TS_STAT_NON_PERSISTENT,
} TSStatPersistence;

/* TSStatSync says how the per-thread parts of a stat combine into its published value. */
typedef enum {
  TS_STAT_SYNC_SUM = 0,
  TS_STAT_SYNC_COUNT,
  TS_STAT_SYNC_AVG,
  TS_STAT_SYNC_TIMEAVG,
} TSStatSync;

/* TSStatCreate creates the stat |the_name| with value 0 and returns its id (0 or more). It
 * returns TS_ERROR (-1) if |the_name| is NULL or already names a stat, if |the_type| is not
 * TS_RECORDDATATYPE_INT, or if the stat table is full. To share a stat between plugins or
 * survive a reload, look it up first with TSStatFindName. */
tsapi int TSStatCreate(const char* the_name, TSRecordDataType the_type, TSStatPersistence persist,
                       TSStatSync sync);

/* TSStatIntIncrement adds |amount| to the stat |the_stat|. Any thread; it does not lock. */
tsapi void TSStatIntIncrement(int the_stat, TSMgmtInt amount);

/* TSStatIntDecrement subtracts |amount| from the stat |the_stat|. Any thread; it does not
 * lock. */
tsapi void TSStatIntDecrement(int the_stat, TSMgmtInt amount);

/* TSStatIntGet returns the current value of the stat |the_stat|. Any thread. */
tsapi TSMgmtInt TSStatIntGet(int the_stat);

/* TSStatIntSet sets the stat |the_stat| to |value|. Any thread. */
tsapi void TSStatIntSet(int the_stat, TSMgmtInt value);

/* TSStatFindName looks up the stat called |name|. If it exists it stores the id in |idp| and
 * returns TS_SUCCESS; otherwise it returns TS_ERROR. Any thread. */
tsapi TSReturnCode TSStatFindName(const char* name, int* idp);

#ifdef __cplusplus
}
#endif

#endif /* TOLLGATE_PLUGIN_API_TS_TS_H_ */
