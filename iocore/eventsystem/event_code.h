// EventCode: the closed set of events a Continuation receives.
//
// Codes that cross the plugin C ABI keep Apache Traffic Server 9.2's numbers (TSEvent in
// ts/apidefs.h), so a plugin's handler sees the same values it would see in ATS; static_asserts
// in plugin_api pin them. Switch over EventCode without a default: label so that the compiler
// lists every case a handler forgets.

#ifndef TOLLGATE_IOCORE_EVENTSYSTEM_EVENT_CODE_H_
#define TOLLGATE_IOCORE_EVENTSYSTEM_EVENT_CODE_H_

namespace tollgate {

enum class EventCode : int {
  kNone = 0,
  kImmediate = 1,  // ScheduleImm
  kInterval = 2,  // ScheduleIn / At / Every (TS_EVENT_TIMEOUT)
  kError = 3,  // also VC_EVENT_ERROR
  kContinue = 4,

  kVcReadReady = 100,
  kVcWriteReady = 101,
  kVcReadComplete = 102,
  kVcWriteComplete = 103,
  kVcEos = 104,
  kVcInactivityTimeout = 105,
  kVcActiveTimeout = 106,
  kVconnStart = 107,
  kVconnClose = 108,
  kVconnOutboundStart = 109,
  kVconnOutboundClose = 110,

  kNetOpen = 200,  // NET_EVENT_OPEN / TS_EVENT_NET_CONNECT
  kNetOpenFailed = 201,  // NET_EVENT_OPEN_FAILED / TS_EVENT_NET_CONNECT_FAILED
  kNetAccept = 202,
  kNetAcceptFailed = 204,
};

// EventCodeName returns a stable name for logs ("VC_EVENT_READ_READY"), or "UNKNOWN_EVENT" for
// a value outside the enum (which can only come from a cast of foreign input).
const char* EventCodeName(EventCode code);

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_EVENTSYSTEM_EVENT_CODE_H_
