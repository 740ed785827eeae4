// Pins every numeric value, type and signature of <ts/ts.h> to ATS 9.2's, so that a plugin
// built against ATS 9.2's own headers keeps working against Tollgate. The numbers were taken
// from Debian's trafficserver-dev 9.2 headers; if one of these asserts fires, the header is
// wrong, not the test.

#include <ts/ts.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "gtest/gtest.h"

namespace {

// TSReturnCode
static_assert(TS_ERROR == -1, "TS_ERROR");
static_assert(TS_SUCCESS == 0, "TS_SUCCESS");
static_assert(sizeof(TSReturnCode) == sizeof(int), "TSReturnCode is int-sized in the C ABI");

// TSHttpHookID
static_assert(TS_HTTP_READ_REQUEST_HDR_HOOK == 0, "TS_HTTP_READ_REQUEST_HDR_HOOK");
static_assert(TS_HTTP_OS_DNS_HOOK == 1, "TS_HTTP_OS_DNS_HOOK");
static_assert(TS_HTTP_SEND_REQUEST_HDR_HOOK == 2, "TS_HTTP_SEND_REQUEST_HDR_HOOK");
static_assert(TS_HTTP_READ_CACHE_HDR_HOOK == 3, "TS_HTTP_READ_CACHE_HDR_HOOK");
static_assert(TS_HTTP_READ_RESPONSE_HDR_HOOK == 4, "TS_HTTP_READ_RESPONSE_HDR_HOOK");
static_assert(TS_HTTP_SEND_RESPONSE_HDR_HOOK == 5, "TS_HTTP_SEND_RESPONSE_HDR_HOOK");
static_assert(TS_HTTP_REQUEST_TRANSFORM_HOOK == 6, "TS_HTTP_REQUEST_TRANSFORM_HOOK");
static_assert(TS_HTTP_RESPONSE_TRANSFORM_HOOK == 7, "TS_HTTP_RESPONSE_TRANSFORM_HOOK");
static_assert(TS_HTTP_SELECT_ALT_HOOK == 8, "TS_HTTP_SELECT_ALT_HOOK");
static_assert(TS_HTTP_TXN_START_HOOK == 9, "TS_HTTP_TXN_START_HOOK");
static_assert(TS_HTTP_TXN_CLOSE_HOOK == 10, "TS_HTTP_TXN_CLOSE_HOOK");
static_assert(TS_HTTP_SSN_START_HOOK == 11, "TS_HTTP_SSN_START_HOOK");
static_assert(TS_HTTP_SSN_CLOSE_HOOK == 12, "TS_HTTP_SSN_CLOSE_HOOK");
static_assert(TS_HTTP_CACHE_LOOKUP_COMPLETE_HOOK == 13, "TS_HTTP_CACHE_LOOKUP_COMPLETE_HOOK");
static_assert(TS_HTTP_PRE_REMAP_HOOK == 14, "TS_HTTP_PRE_REMAP_HOOK");
static_assert(TS_HTTP_POST_REMAP_HOOK == 15, "TS_HTTP_POST_REMAP_HOOK");
static_assert(TS_HTTP_RESPONSE_CLIENT_HOOK == 16, "TS_HTTP_RESPONSE_CLIENT_HOOK");
static_assert(TS_SSL_FIRST_HOOK == 17, "TS_SSL_FIRST_HOOK");
static_assert(TS_VCONN_START_HOOK == 17, "TS_VCONN_START_HOOK");
static_assert(TS_VCONN_PRE_ACCEPT_HOOK == 17, "TS_VCONN_PRE_ACCEPT_HOOK");
static_assert(TS_VCONN_CLOSE_HOOK == 18, "TS_VCONN_CLOSE_HOOK");
static_assert(TS_SSL_CLIENT_HELLO_HOOK == 19, "TS_SSL_CLIENT_HELLO_HOOK");
static_assert(TS_SSL_SNI_HOOK == 20, "TS_SSL_SNI_HOOK");
static_assert(TS_SSL_CERT_HOOK == 20, "TS_SSL_CERT_HOOK");
static_assert(TS_SSL_SERVERNAME_HOOK == 21, "TS_SSL_SERVERNAME_HOOK");
static_assert(TS_SSL_SERVER_VERIFY_HOOK == 22, "TS_SSL_SERVER_VERIFY_HOOK");
static_assert(TS_SSL_VERIFY_SERVER_HOOK == 22, "TS_SSL_VERIFY_SERVER_HOOK");
static_assert(TS_SSL_VERIFY_CLIENT_HOOK == 23, "TS_SSL_VERIFY_CLIENT_HOOK");
static_assert(TS_SSL_SESSION_HOOK == 24, "TS_SSL_SESSION_HOOK");
static_assert(TS_VCONN_OUTBOUND_START_HOOK == 25, "TS_VCONN_OUTBOUND_START_HOOK");
static_assert(TS_VCONN_OUTBOUND_CLOSE_HOOK == 26, "TS_VCONN_OUTBOUND_CLOSE_HOOK");
static_assert(TS_SSL_LAST_HOOK == 26, "TS_SSL_LAST_HOOK");
static_assert(TS_HTTP_REQUEST_BUFFER_READ_COMPLETE_HOOK == 27,
              "TS_HTTP_REQUEST_BUFFER_READ_COMPLETE_HOOK");
static_assert(TS_HTTP_LAST_HOOK == 28, "TS_HTTP_LAST_HOOK");
static_assert(sizeof(TSHttpHookID) == sizeof(int), "TSHttpHookID is int-sized in the C ABI");

// TSLifecycleHookID
static_assert(TS_LIFECYCLE_PORTS_INITIALIZED_HOOK == 0, "TS_LIFECYCLE_PORTS_INITIALIZED_HOOK");
static_assert(TS_LIFECYCLE_PORTS_READY_HOOK == 1, "TS_LIFECYCLE_PORTS_READY_HOOK");
static_assert(TS_LIFECYCLE_CACHE_READY_HOOK == 2, "TS_LIFECYCLE_CACHE_READY_HOOK");
static_assert(TS_LIFECYCLE_SERVER_SSL_CTX_INITIALIZED_HOOK == 3,
              "TS_LIFECYCLE_SERVER_SSL_CTX_INITIALIZED_HOOK");
static_assert(TS_LIFECYCLE_CLIENT_SSL_CTX_INITIALIZED_HOOK == 4,
              "TS_LIFECYCLE_CLIENT_SSL_CTX_INITIALIZED_HOOK");
static_assert(TS_LIFECYCLE_MSG_HOOK == 5, "TS_LIFECYCLE_MSG_HOOK");
static_assert(TS_LIFECYCLE_TASK_THREADS_READY_HOOK == 6, "TS_LIFECYCLE_TASK_THREADS_READY_HOOK");
static_assert(TS_LIFECYCLE_SHUTDOWN_HOOK == 7, "TS_LIFECYCLE_SHUTDOWN_HOOK");
static_assert(TS_LIFECYCLE_LAST_HOOK == 9, "TS_LIFECYCLE_LAST_HOOK");
static_assert(sizeof(TSLifecycleHookID) == sizeof(int),
              "TSLifecycleHookID is int-sized in the C ABI");

// TSEvent
static_assert(TS_EVENT_NONE == 0, "TS_EVENT_NONE");
static_assert(TS_EVENT_IMMEDIATE == 1, "TS_EVENT_IMMEDIATE");
static_assert(TS_EVENT_TIMEOUT == 2, "TS_EVENT_TIMEOUT");
static_assert(TS_EVENT_ERROR == 3, "TS_EVENT_ERROR");
static_assert(TS_EVENT_CONTINUE == 4, "TS_EVENT_CONTINUE");
static_assert(TS_EVENT_VCONN_READ_READY == 100, "TS_EVENT_VCONN_READ_READY");
static_assert(TS_EVENT_VCONN_WRITE_READY == 101, "TS_EVENT_VCONN_WRITE_READY");
static_assert(TS_EVENT_VCONN_READ_COMPLETE == 102, "TS_EVENT_VCONN_READ_COMPLETE");
static_assert(TS_EVENT_VCONN_WRITE_COMPLETE == 103, "TS_EVENT_VCONN_WRITE_COMPLETE");
static_assert(TS_EVENT_VCONN_EOS == 104, "TS_EVENT_VCONN_EOS");
static_assert(TS_EVENT_VCONN_INACTIVITY_TIMEOUT == 105, "TS_EVENT_VCONN_INACTIVITY_TIMEOUT");
static_assert(TS_EVENT_VCONN_ACTIVE_TIMEOUT == 106, "TS_EVENT_VCONN_ACTIVE_TIMEOUT");
static_assert(TS_EVENT_VCONN_START == 107, "TS_EVENT_VCONN_START");
static_assert(TS_EVENT_VCONN_CLOSE == 108, "TS_EVENT_VCONN_CLOSE");
static_assert(TS_EVENT_VCONN_OUTBOUND_START == 109, "TS_EVENT_VCONN_OUTBOUND_START");
static_assert(TS_EVENT_VCONN_OUTBOUND_CLOSE == 110, "TS_EVENT_VCONN_OUTBOUND_CLOSE");
static_assert(TS_EVENT_VCONN_PRE_ACCEPT == 107, "TS_EVENT_VCONN_PRE_ACCEPT");
static_assert(TS_EVENT_NET_CONNECT == 200, "TS_EVENT_NET_CONNECT");
static_assert(TS_EVENT_NET_CONNECT_FAILED == 201, "TS_EVENT_NET_CONNECT_FAILED");
static_assert(TS_EVENT_NET_ACCEPT == 202, "TS_EVENT_NET_ACCEPT");
static_assert(TS_EVENT_NET_ACCEPT_FAILED == 204, "TS_EVENT_NET_ACCEPT_FAILED");
static_assert(TS_EVENT_INTERNAL_206 == 206, "TS_EVENT_INTERNAL_206");
static_assert(TS_EVENT_INTERNAL_207 == 207, "TS_EVENT_INTERNAL_207");
static_assert(TS_EVENT_INTERNAL_208 == 208, "TS_EVENT_INTERNAL_208");
static_assert(TS_EVENT_INTERNAL_209 == 209, "TS_EVENT_INTERNAL_209");
static_assert(TS_EVENT_INTERNAL_210 == 210, "TS_EVENT_INTERNAL_210");
static_assert(TS_EVENT_INTERNAL_211 == 211, "TS_EVENT_INTERNAL_211");
static_assert(TS_EVENT_INTERNAL_212 == 212, "TS_EVENT_INTERNAL_212");
static_assert(TS_EVENT_HOST_LOOKUP == 500, "TS_EVENT_HOST_LOOKUP");
static_assert(TS_EVENT_CACHE_OPEN_READ == 1102, "TS_EVENT_CACHE_OPEN_READ");
static_assert(TS_EVENT_CACHE_OPEN_READ_FAILED == 1103, "TS_EVENT_CACHE_OPEN_READ_FAILED");
static_assert(TS_EVENT_CACHE_OPEN_WRITE == 1108, "TS_EVENT_CACHE_OPEN_WRITE");
static_assert(TS_EVENT_CACHE_OPEN_WRITE_FAILED == 1109, "TS_EVENT_CACHE_OPEN_WRITE_FAILED");
static_assert(TS_EVENT_CACHE_REMOVE == 1112, "TS_EVENT_CACHE_REMOVE");
static_assert(TS_EVENT_CACHE_REMOVE_FAILED == 1113, "TS_EVENT_CACHE_REMOVE_FAILED");
static_assert(TS_EVENT_CACHE_SCAN == 1120, "TS_EVENT_CACHE_SCAN");
static_assert(TS_EVENT_CACHE_SCAN_FAILED == 1121, "TS_EVENT_CACHE_SCAN_FAILED");
static_assert(TS_EVENT_CACHE_SCAN_OBJECT == 1122, "TS_EVENT_CACHE_SCAN_OBJECT");
static_assert(TS_EVENT_CACHE_SCAN_OPERATION_BLOCKED == 1123,
              "TS_EVENT_CACHE_SCAN_OPERATION_BLOCKED");
static_assert(TS_EVENT_CACHE_SCAN_OPERATION_FAILED == 1124, "TS_EVENT_CACHE_SCAN_OPERATION_FAILED");
static_assert(TS_EVENT_CACHE_SCAN_DONE == 1125, "TS_EVENT_CACHE_SCAN_DONE");
static_assert(TS_EVENT_CACHE_LOOKUP == 1126, "TS_EVENT_CACHE_LOOKUP");
static_assert(TS_EVENT_CACHE_READ == 1127, "TS_EVENT_CACHE_READ");
static_assert(TS_EVENT_CACHE_DELETE == 1128, "TS_EVENT_CACHE_DELETE");
static_assert(TS_EVENT_CACHE_WRITE == 1129, "TS_EVENT_CACHE_WRITE");
static_assert(TS_EVENT_CACHE_WRITE_HEADER == 1130, "TS_EVENT_CACHE_WRITE_HEADER");
static_assert(TS_EVENT_CACHE_CLOSE == 1131, "TS_EVENT_CACHE_CLOSE");
static_assert(TS_EVENT_CACHE_LOOKUP_READY == 1132, "TS_EVENT_CACHE_LOOKUP_READY");
static_assert(TS_EVENT_CACHE_LOOKUP_COMPLETE == 1133, "TS_EVENT_CACHE_LOOKUP_COMPLETE");
static_assert(TS_EVENT_CACHE_READ_READY == 1134, "TS_EVENT_CACHE_READ_READY");
static_assert(TS_EVENT_CACHE_READ_COMPLETE == 1135, "TS_EVENT_CACHE_READ_COMPLETE");
static_assert(TS_EVENT_INTERNAL_1200 == 1200, "TS_EVENT_INTERNAL_1200");
static_assert(TS_EVENT_SSL_SESSION_GET == 2000, "TS_EVENT_SSL_SESSION_GET");
static_assert(TS_EVENT_SSL_SESSION_NEW == 2001, "TS_EVENT_SSL_SESSION_NEW");
static_assert(TS_EVENT_SSL_SESSION_REMOVE == 2002, "TS_EVENT_SSL_SESSION_REMOVE");
static_assert(TS_EVENT_AIO_DONE == 3900, "TS_EVENT_AIO_DONE");
static_assert(TS_EVENT_HTTP_CONTINUE == 60000, "TS_EVENT_HTTP_CONTINUE");
static_assert(TS_EVENT_HTTP_ERROR == 60001, "TS_EVENT_HTTP_ERROR");
static_assert(TS_EVENT_HTTP_READ_REQUEST_HDR == 60002, "TS_EVENT_HTTP_READ_REQUEST_HDR");
static_assert(TS_EVENT_HTTP_OS_DNS == 60003, "TS_EVENT_HTTP_OS_DNS");
static_assert(TS_EVENT_HTTP_SEND_REQUEST_HDR == 60004, "TS_EVENT_HTTP_SEND_REQUEST_HDR");
static_assert(TS_EVENT_HTTP_READ_CACHE_HDR == 60005, "TS_EVENT_HTTP_READ_CACHE_HDR");
static_assert(TS_EVENT_HTTP_READ_RESPONSE_HDR == 60006, "TS_EVENT_HTTP_READ_RESPONSE_HDR");
static_assert(TS_EVENT_HTTP_SEND_RESPONSE_HDR == 60007, "TS_EVENT_HTTP_SEND_RESPONSE_HDR");
static_assert(TS_EVENT_HTTP_REQUEST_TRANSFORM == 60008, "TS_EVENT_HTTP_REQUEST_TRANSFORM");
static_assert(TS_EVENT_HTTP_RESPONSE_TRANSFORM == 60009, "TS_EVENT_HTTP_RESPONSE_TRANSFORM");
static_assert(TS_EVENT_HTTP_SELECT_ALT == 60010, "TS_EVENT_HTTP_SELECT_ALT");
static_assert(TS_EVENT_HTTP_TXN_START == 60011, "TS_EVENT_HTTP_TXN_START");
static_assert(TS_EVENT_HTTP_TXN_CLOSE == 60012, "TS_EVENT_HTTP_TXN_CLOSE");
static_assert(TS_EVENT_HTTP_SSN_START == 60013, "TS_EVENT_HTTP_SSN_START");
static_assert(TS_EVENT_HTTP_SSN_CLOSE == 60014, "TS_EVENT_HTTP_SSN_CLOSE");
static_assert(TS_EVENT_HTTP_CACHE_LOOKUP_COMPLETE == 60015, "TS_EVENT_HTTP_CACHE_LOOKUP_COMPLETE");
static_assert(TS_EVENT_HTTP_PRE_REMAP == 60016, "TS_EVENT_HTTP_PRE_REMAP");
static_assert(TS_EVENT_HTTP_POST_REMAP == 60017, "TS_EVENT_HTTP_POST_REMAP");
static_assert(TS_EVENT_HTTP_REQUEST_BUFFER_COMPLETE == 60018,
              "TS_EVENT_HTTP_REQUEST_BUFFER_COMPLETE");
static_assert(TS_EVENT_LIFECYCLE_PORTS_INITIALIZED == 60100,
              "TS_EVENT_LIFECYCLE_PORTS_INITIALIZED");
static_assert(TS_EVENT_LIFECYCLE_PORTS_READY == 60101, "TS_EVENT_LIFECYCLE_PORTS_READY");
static_assert(TS_EVENT_LIFECYCLE_CACHE_READY == 60102, "TS_EVENT_LIFECYCLE_CACHE_READY");
static_assert(TS_EVENT_LIFECYCLE_SERVER_SSL_CTX_INITIALIZED == 60103,
              "TS_EVENT_LIFECYCLE_SERVER_SSL_CTX_INITIALIZED");
static_assert(TS_EVENT_LIFECYCLE_CLIENT_SSL_CTX_INITIALIZED == 60104,
              "TS_EVENT_LIFECYCLE_CLIENT_SSL_CTX_INITIALIZED");
static_assert(TS_EVENT_LIFECYCLE_MSG == 60105, "TS_EVENT_LIFECYCLE_MSG");
static_assert(TS_EVENT_LIFECYCLE_TASK_THREADS_READY == 60106,
              "TS_EVENT_LIFECYCLE_TASK_THREADS_READY");
static_assert(TS_EVENT_LIFECYCLE_SHUTDOWN == 60107, "TS_EVENT_LIFECYCLE_SHUTDOWN");
static_assert(TS_EVENT_INTERNAL_60200 == 60200, "TS_EVENT_INTERNAL_60200");
static_assert(TS_EVENT_INTERNAL_60201 == 60201, "TS_EVENT_INTERNAL_60201");
static_assert(TS_EVENT_INTERNAL_60202 == 60202, "TS_EVENT_INTERNAL_60202");
static_assert(TS_EVENT_SSL_CERT == 60203, "TS_EVENT_SSL_CERT");
static_assert(TS_EVENT_SSL_SERVERNAME == 60204, "TS_EVENT_SSL_SERVERNAME");
static_assert(TS_EVENT_SSL_VERIFY_SERVER == 60205, "TS_EVENT_SSL_VERIFY_SERVER");
static_assert(TS_EVENT_SSL_VERIFY_CLIENT == 60206, "TS_EVENT_SSL_VERIFY_CLIENT");
static_assert(TS_EVENT_SSL_CLIENT_HELLO == 60207, "TS_EVENT_SSL_CLIENT_HELLO");
static_assert(TS_EVENT_SSL_SECRET == 60208, "TS_EVENT_SSL_SECRET");
static_assert(TS_EVENT_MGMT_UPDATE == 60300, "TS_EVENT_MGMT_UPDATE");
static_assert(sizeof(TSEvent) == sizeof(int), "TSEvent is int-sized in the C ABI");

// TSVConnCloseFlags
static_assert(TS_VC_CLOSE_ABORT == -1, "TS_VC_CLOSE_ABORT");
static_assert(TS_VC_CLOSE_NORMAL == 1, "TS_VC_CLOSE_NORMAL");
static_assert(sizeof(TSVConnCloseFlags) == sizeof(int),
              "TSVConnCloseFlags is int-sized in the C ABI");

// TSThreadPool
static_assert(TS_THREAD_POOL_NET == 0, "TS_THREAD_POOL_NET");
static_assert(TS_THREAD_POOL_TASK == 1, "TS_THREAD_POOL_TASK");
static_assert(TS_THREAD_POOL_DNS == 2, "TS_THREAD_POOL_DNS");
static_assert(TS_THREAD_POOL_UDP == 3, "TS_THREAD_POOL_UDP");
static_assert(sizeof(TSThreadPool) == sizeof(int), "TSThreadPool is int-sized in the C ABI");

// TSRecordDataType
static_assert(TS_RECORDDATATYPE_NULL == 0, "TS_RECORDDATATYPE_NULL");
static_assert(TS_RECORDDATATYPE_INT == 1, "TS_RECORDDATATYPE_INT");
static_assert(TS_RECORDDATATYPE_FLOAT == 2, "TS_RECORDDATATYPE_FLOAT");
static_assert(TS_RECORDDATATYPE_STRING == 3, "TS_RECORDDATATYPE_STRING");
static_assert(TS_RECORDDATATYPE_COUNTER == 4, "TS_RECORDDATATYPE_COUNTER");
static_assert(TS_RECORDDATATYPE_STAT_CONST == 5, "TS_RECORDDATATYPE_STAT_CONST");
static_assert(TS_RECORDDATATYPE_STAT_FX == 6, "TS_RECORDDATATYPE_STAT_FX");
static_assert(TS_RECORDDATATYPE_MAX == 7, "TS_RECORDDATATYPE_MAX");
static_assert(sizeof(TSRecordDataType) == sizeof(int),
              "TSRecordDataType is int-sized in the C ABI");

// TSUserArgType
static_assert(TS_USER_ARGS_TXN == 0, "TS_USER_ARGS_TXN");
static_assert(TS_USER_ARGS_SSN == 1, "TS_USER_ARGS_SSN");
static_assert(TS_USER_ARGS_VCONN == 2, "TS_USER_ARGS_VCONN");
static_assert(TS_USER_ARGS_GLB == 3, "TS_USER_ARGS_GLB");
static_assert(TS_USER_ARGS_COUNT == 4, "TS_USER_ARGS_COUNT");
static_assert(sizeof(TSUserArgType) == sizeof(int), "TSUserArgType is int-sized in the C ABI");

// TSStatPersistence
static_assert(TS_STAT_PERSISTENT == 1, "TS_STAT_PERSISTENT");
static_assert(TS_STAT_NON_PERSISTENT == 2, "TS_STAT_NON_PERSISTENT");
static_assert(sizeof(TSStatPersistence) == sizeof(int),
              "TSStatPersistence is int-sized in the C ABI");

// TSStatSync
static_assert(TS_STAT_SYNC_SUM == 0, "TS_STAT_SYNC_SUM");
static_assert(TS_STAT_SYNC_COUNT == 1, "TS_STAT_SYNC_COUNT");
static_assert(TS_STAT_SYNC_AVG == 2, "TS_STAT_SYNC_AVG");
static_assert(TS_STAT_SYNC_TIMEAVG == 3, "TS_STAT_SYNC_TIMEAVG");
static_assert(sizeof(TSStatSync) == sizeof(int), "TSStatSync is int-sized in the C ABI");

// Aliases: one value, two names.
static_assert(TS_SSL_CERT_HOOK == TS_SSL_SNI_HOOK, "CERT and SNI are one hook");
static_assert(TS_VCONN_PRE_ACCEPT_HOOK == TS_VCONN_START_HOOK, "older name");
static_assert(TS_SSL_SERVER_VERIFY_HOOK == TS_SSL_VERIFY_SERVER_HOOK, "older name");
static_assert(TS_SSL_LAST_HOOK == TS_VCONN_OUTBOUND_CLOSE_HOOK, "last TLS hook");
static_assert(TS_EVENT_VCONN_PRE_ACCEPT == TS_EVENT_VCONN_START, "older name");

// Types
static_assert(std::is_same<TSCont, TSVConn>::value, "a TSVConn is a TSCont, as in ATS");
static_assert(std::is_same<TSHRTime, int64_t>::value, "TSHRTime");
static_assert(std::is_same<TSMgmtInt, int64_t>::value, "TSMgmtInt");
static_assert(std::is_same<TSEventFunc, int (*)(TSCont, TSEvent, void*)>::value, "TSEventFunc");
static_assert(std::is_pointer<TSCont>::value && sizeof(TSCont) == sizeof(void*), "TSCont");
static_assert(std::is_pointer<TSMutex>::value && sizeof(TSMutex) == sizeof(void*), "TSMutex");
static_assert(std::is_pointer<TSAction>::value && sizeof(TSAction) == sizeof(void*), "TSAction");
static_assert(std::is_pointer<TSThread>::value && sizeof(TSThread) == sizeof(void*), "TSThread");
static_assert(std::is_pointer<TSEventThread>::value && sizeof(TSEventThread) == sizeof(void*),
              "TSEventThread");
static_assert(std::is_pointer<TSSslConnection>::value && sizeof(TSSslConnection) == sizeof(void*),
              "TSSslConnection");
static_assert(std::is_pointer<TSSslContext>::value && sizeof(TSSslContext) == sizeof(void*),
              "TSSslContext");
static_assert(std::is_pointer<TSSslSession>::value && sizeof(TSSslSession) == sizeof(void*),
              "TSSslSession");
static_assert(std::is_pointer<TSSslVerifyCTX>::value && sizeof(TSSslVerifyCTX) == sizeof(void*),
              "TSSslVerifyCTX");
static_assert(std::is_pointer<TSSslX509>::value && sizeof(TSSslX509) == sizeof(void*), "TSSslX509");
static_assert(TS_SSL_MAX_SSL_SESSION_ID_LENGTH == 32, "TS_SSL_MAX_SSL_SESSION_ID_LENGTH");
static_assert(offsetof(TSSslSessionID, len) == 0, "TSSslSessionID.len");
static_assert(offsetof(TSSslSessionID, bytes) == sizeof(size_t), "TSSslSessionID.bytes");
static_assert(sizeof(TSSslSessionID) == sizeof(size_t) + 32, "TSSslSessionID");
static_assert(offsetof(TSPluginRegistrationInfo, plugin_name) == 0, "plugin_name");
static_assert(offsetof(TSPluginRegistrationInfo, vendor_name) == sizeof(void*), "vendor_name");
static_assert(offsetof(TSPluginRegistrationInfo, support_email) == 2 * sizeof(void*),
              "support_email");
static_assert(sizeof(TSPluginRegistrationInfo) == 3 * sizeof(void*), "TSPluginRegistrationInfo");
static_assert(offsetof(TSPluginMsg, tag) == 0, "TSPluginMsg.tag");
static_assert(offsetof(TSPluginMsg, data) == sizeof(void*), "TSPluginMsg.data");
static_assert(offsetof(TSPluginMsg, data_size) == 2 * sizeof(void*), "TSPluginMsg.data_size");
static_assert(TS_VERSION_MAJOR == 9 && TS_VERSION_MINOR == 2, "ATS API level 9.2");
static_assert(TS_VERSION_NUMBER ==
                  TS_VERSION_MAJOR * 1000000 + TS_VERSION_MINOR * 1000 + TS_VERSION_MICRO,
              "TS_VERSION_NUMBER");
static_assert(TS_EVENT_HTTP_READ_REQUEST_PRE_REMAP == TS_EVENT_HTTP_PRE_REMAP, "older name");

// Signatures: decltype does not odr-use the functions, so nothing here needs them defined.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
// The printf-format attribute is part of the decltype, not of the type compared.
#pragma GCC diagnostic ignored "-Wignored-attributes"
#define TG_PIN_SIGNATURE(fn, type) static_assert(std::is_same<decltype(&fn), type>::value, #fn)
TG_PIN_SIGNATURE(TSPluginInit, void (*)(int, const char**));
TG_PIN_SIGNATURE(TSPluginRegister, TSReturnCode (*)(const TSPluginRegistrationInfo*));
TG_PIN_SIGNATURE(TSTrafficServerVersionGet, const char* (*)(void));
TG_PIN_SIGNATURE(TSTrafficServerVersionGetMajor, int (*)(void));
TG_PIN_SIGNATURE(TSTrafficServerVersionGetMinor, int (*)(void));
TG_PIN_SIGNATURE(TSTrafficServerVersionGetPatch, int (*)(void));
TG_PIN_SIGNATURE(TSContCreate, TSCont (*)(TSEventFunc, TSMutex));
TG_PIN_SIGNATURE(TSContDestroy, void (*)(TSCont));
TG_PIN_SIGNATURE(TSContDataSet, void (*)(TSCont, void*));
TG_PIN_SIGNATURE(TSContDataGet, void* (*)(TSCont));
TG_PIN_SIGNATURE(TSContCall, int (*)(TSCont, TSEvent, void*));
TG_PIN_SIGNATURE(TSContMutexGet, TSMutex (*)(TSCont));
TG_PIN_SIGNATURE(TSContSchedule, TSAction (*)(TSCont, TSHRTime));
TG_PIN_SIGNATURE(TSContScheduleOnPool, TSAction (*)(TSCont, TSHRTime, TSThreadPool));
TG_PIN_SIGNATURE(TSContScheduleOnThread, TSAction (*)(TSCont, TSHRTime, TSEventThread));
TG_PIN_SIGNATURE(TSContScheduleEvery, TSAction (*)(TSCont, TSHRTime));
TG_PIN_SIGNATURE(TSContScheduleEveryOnPool, TSAction (*)(TSCont, TSHRTime, TSThreadPool));
TG_PIN_SIGNATURE(TSActionCancel, void (*)(TSAction));
TG_PIN_SIGNATURE(TSActionDone, int (*)(TSAction));
TG_PIN_SIGNATURE(TSThreadSelf, TSThread (*)(void));
TG_PIN_SIGNATURE(TSEventThreadSelf, TSEventThread (*)(void));
TG_PIN_SIGNATURE(TSMutexCreate, TSMutex (*)(void));
TG_PIN_SIGNATURE(TSMutexDestroy, void (*)(TSMutex));
TG_PIN_SIGNATURE(TSMutexLock, void (*)(TSMutex));
TG_PIN_SIGNATURE(TSMutexLockTry, TSReturnCode (*)(TSMutex));
TG_PIN_SIGNATURE(TSMutexUnlock, void (*)(TSMutex));
TG_PIN_SIGNATURE(TSHttpHookAdd, void (*)(TSHttpHookID, TSCont));
TG_PIN_SIGNATURE(TSLifecycleHookAdd, void (*)(TSLifecycleHookID, TSCont));
TG_PIN_SIGNATURE(TSVConnReenable, void (*)(TSVConn));
TG_PIN_SIGNATURE(TSVConnReenableEx, void (*)(TSVConn, TSEvent));
TG_PIN_SIGNATURE(TSVConnTunnel, TSReturnCode (*)(TSVConn));
TG_PIN_SIGNATURE(TSVConnSslConnectionGet, TSSslConnection (*)(TSVConn));
TG_PIN_SIGNATURE(TSVConnIsSsl, int (*)(TSVConn));
TG_PIN_SIGNATURE(TSVConnSslSniGet, const char* (*)(TSVConn, int*));
TG_PIN_SIGNATURE(TSVConnSslVerifyCTXGet, TSSslVerifyCTX (*)(TSVConn));
TG_PIN_SIGNATURE(TSVConnProtocolEnable, TSReturnCode (*)(TSVConn, const char*));
TG_PIN_SIGNATURE(TSVConnProtocolDisable, TSReturnCode (*)(TSVConn, const char*));
TG_PIN_SIGNATURE(TSVConnClose, void (*)(TSVConn));
TG_PIN_SIGNATURE(TSVConnAbort, void (*)(TSVConn, int));
TG_PIN_SIGNATURE(TSVConnFdGet, int (*)(TSVConn));
TG_PIN_SIGNATURE(TSVConnIsSslReused, int (*)(TSVConn));
TG_PIN_SIGNATURE(TSVConnSslCipherGet, const char* (*)(TSVConn));
TG_PIN_SIGNATURE(TSVConnSslProtocolGet, const char* (*)(TSVConn));
TG_PIN_SIGNATURE(TSVConnSslCurveGet, const char* (*)(TSVConn));
TG_PIN_SIGNATURE(TSNetVConnRemoteAddrGet, struct sockaddr const* (*)(TSVConn));
TG_PIN_SIGNATURE(TSNetVConnLocalAddrGet, struct sockaddr const* (*)(TSVConn));
TG_PIN_SIGNATURE(TSSslContextFindByName, TSSslContext (*)(const char*));
TG_PIN_SIGNATURE(TSSslContextFindByAddr, TSSslContext (*)(struct sockaddr const*));
TG_PIN_SIGNATURE(TSSslServerContextCreate, TSSslContext (*)(TSSslX509, const char*, const char*));
TG_PIN_SIGNATURE(TSSslContextDestroy, void (*)(TSSslContext));
TG_PIN_SIGNATURE(TSSslTicketKeyUpdate, TSReturnCode (*)(char*, int));
TG_PIN_SIGNATURE(TSUserArgIndexReserve,
                 TSReturnCode (*)(TSUserArgType, const char*, const char*, int*));
TG_PIN_SIGNATURE(TSUserArgIndexNameLookup,
                 TSReturnCode (*)(TSUserArgType, const char*, int*, const char**));
TG_PIN_SIGNATURE(TSUserArgIndexLookup,
                 TSReturnCode (*)(TSUserArgType, int, const char**, const char**));
TG_PIN_SIGNATURE(TSUserArgSet, void (*)(void*, int, void*));
TG_PIN_SIGNATURE(TSUserArgGet, void* (*)(void*, int));
TG_PIN_SIGNATURE(TSVConnArgIndexReserve, TSReturnCode (*)(const char*, const char*, int*));
TG_PIN_SIGNATURE(TSVConnArgIndexNameLookup, TSReturnCode (*)(const char*, int*, const char**));
TG_PIN_SIGNATURE(TSVConnArgIndexLookup, TSReturnCode (*)(int, const char**, const char**));
TG_PIN_SIGNATURE(TSVConnArgSet, void (*)(TSVConn, int, void*));
TG_PIN_SIGNATURE(TSVConnArgGet, void* (*)(TSVConn, int));
TG_PIN_SIGNATURE(TSIsDebugTagSet, int (*)(const char*));
TG_PIN_SIGNATURE(TSDebug, void (*)(const char*, const char*, ...));
TG_PIN_SIGNATURE(TSStatus, void (*)(const char*, ...));
TG_PIN_SIGNATURE(TSNote, void (*)(const char*, ...));
TG_PIN_SIGNATURE(TSWarning, void (*)(const char*, ...));
TG_PIN_SIGNATURE(TSError, void (*)(const char*, ...));
TG_PIN_SIGNATURE(TSFatal, void (*)(const char*, ...));
TG_PIN_SIGNATURE(TSEmergency, void (*)(const char*, ...));
TG_PIN_SIGNATURE(TSStatCreate,
                 int (*)(const char*, TSRecordDataType, TSStatPersistence, TSStatSync));
TG_PIN_SIGNATURE(TSStatIntIncrement, void (*)(int, TSMgmtInt));
TG_PIN_SIGNATURE(TSStatIntDecrement, void (*)(int, TSMgmtInt));
TG_PIN_SIGNATURE(TSStatIntGet, TSMgmtInt (*)(int));
TG_PIN_SIGNATURE(TSStatIntSet, void (*)(int, TSMgmtInt));
TG_PIN_SIGNATURE(TSStatFindName, TSReturnCode (*)(const char*, int*));
#undef TG_PIN_SIGNATURE
#pragma GCC diagnostic pop
static_assert(std::is_same<decltype(TS_ALPN_PROTOCOL_HTTP_1_1), const char* const>::value,
              "ALPN 1.1");
static_assert(std::is_same<decltype(TS_ALPN_PROTOCOL_HTTP_2_0), const char* const>::value,
              "ALPN 2.0");

// The hook ids and events a TLS plugin depends on, checked once more at run time so that a
// miscompiled enum (for example a build with -fshort-enums) shows up as a named failure.
TEST(HeaderValuesTest, TlsHookIdsMatchAts92Numbering) {
  EXPECT_EQ(static_cast<int>(TS_SSL_FIRST_HOOK), 17);
  EXPECT_EQ(static_cast<int>(TS_VCONN_START_HOOK), 17);
  EXPECT_EQ(static_cast<int>(TS_VCONN_CLOSE_HOOK), 18);
  EXPECT_EQ(static_cast<int>(TS_SSL_CLIENT_HELLO_HOOK), 19);
  EXPECT_EQ(static_cast<int>(TS_SSL_CERT_HOOK), static_cast<int>(TS_SSL_SNI_HOOK));
  EXPECT_EQ(static_cast<int>(TS_SSL_SERVERNAME_HOOK), 21);
  EXPECT_EQ(static_cast<int>(TS_SSL_LAST_HOOK), 26);
  EXPECT_EQ(static_cast<int>(TS_HTTP_LAST_HOOK), 28);
}

TEST(HeaderValuesTest, TlsEventsMatchAts92Numbering) {
  EXPECT_EQ(static_cast<int>(TS_EVENT_VCONN_START), 107);
  EXPECT_EQ(static_cast<int>(TS_EVENT_VCONN_CLOSE), 108);
  EXPECT_EQ(static_cast<int>(TS_EVENT_SSL_CERT), 60203);
  EXPECT_EQ(static_cast<int>(TS_EVENT_SSL_SERVERNAME), 60204);
  EXPECT_EQ(static_cast<int>(TS_EVENT_SSL_CLIENT_HELLO), 60207);
  EXPECT_EQ(static_cast<int>(TS_EVENT_ERROR), 3);
  EXPECT_EQ(static_cast<int>(TS_EVENT_CONTINUE), 4);
}

TEST(HeaderValuesTest, ResultsPoolsAndArgKindsMatchAts92Numbering) {
  EXPECT_EQ(static_cast<int>(TS_SUCCESS), 0);
  EXPECT_EQ(static_cast<int>(TS_ERROR), -1);
  EXPECT_EQ(static_cast<int>(TS_THREAD_POOL_TASK), 1);
  EXPECT_EQ(static_cast<int>(TS_USER_ARGS_VCONN), 2);
  EXPECT_EQ(static_cast<int>(TS_RECORDDATATYPE_INT), 1);
}

TEST(HeaderValuesTest, SessionIdHoldsTheLongestTlsSessionId) {
  TSSslSessionID id = {};
  EXPECT_EQ(sizeof(id.bytes), 32u);
  EXPECT_EQ(sizeof(id), sizeof(size_t) + 32u);
}

}  // namespace
