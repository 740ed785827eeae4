#include "iocore/eventsystem/event_code.h"

namespace tollgate {

const char* EventCodeName(EventCode code) {
  switch (code) {
    case EventCode::kNone:
      return "EVENT_NONE";
    case EventCode::kImmediate:
      return "EVENT_IMMEDIATE";
    case EventCode::kInterval:
      return "EVENT_INTERVAL";
    case EventCode::kError:
      return "EVENT_ERROR";
    case EventCode::kContinue:
      return "EVENT_CONTINUE";
    case EventCode::kVcReadReady:
      return "VC_EVENT_READ_READY";
    case EventCode::kVcWriteReady:
      return "VC_EVENT_WRITE_READY";
    case EventCode::kVcReadComplete:
      return "VC_EVENT_READ_COMPLETE";
    case EventCode::kVcWriteComplete:
      return "VC_EVENT_WRITE_COMPLETE";
    case EventCode::kVcEos:
      return "VC_EVENT_EOS";
    case EventCode::kVcInactivityTimeout:
      return "VC_EVENT_INACTIVITY_TIMEOUT";
    case EventCode::kVcActiveTimeout:
      return "VC_EVENT_ACTIVE_TIMEOUT";
    case EventCode::kVconnStart:
      return "VCONN_START";
    case EventCode::kVconnClose:
      return "VCONN_CLOSE";
    case EventCode::kVconnOutboundStart:
      return "VCONN_OUTBOUND_START";
    case EventCode::kVconnOutboundClose:
      return "VCONN_OUTBOUND_CLOSE";
    case EventCode::kNetOpen:
      return "NET_EVENT_OPEN";
    case EventCode::kNetOpenFailed:
      return "NET_EVENT_OPEN_FAILED";
    case EventCode::kNetAccept:
      return "NET_EVENT_ACCEPT";
    case EventCode::kNetAcceptFailed:
      return "NET_EVENT_ACCEPT_FAILED";
  }
  return "UNKNOWN_EVENT";
}

}  // namespace tollgate
