// TunnelRelay: for tests, relays a connection handed over as a blind tunnel to a fixed far end,
// replaying the recorded ClientHello first, until either side closes. Deletes itself.

#ifndef TOLLGATE_TESTS_UTIL_TUNNEL_RELAY_H_
#define TOLLGATE_TESTS_UTIL_TUNNEL_RELAY_H_

#include <string>

#include "iocore/eventsystem/io_buffer.h"
#include "iocore/net/net_processor.h"
#include "iocore/tls/ssl_net_vconnection.h"

namespace tollgate::test_util {

class TunnelRelay : public Continuation {
 public:
  TunnelRelay(SSLNetVConnection* client, NetProcessor* net, const IpEndpoint& far)
      : Continuation(NewProxyMutex()), client_(client) {
    replay_ = client_->TakeRecordedBytes();
    net->Connect(this, far);
  }

  void HandleEvent(EventCode code, void* data) override {
    switch (code) {
      case EventCode::kNetOpen: {
        origin_ = static_cast<NetVConnection*>(data);
        up_.Write(replay_);
        up_reader_ = up_.AllocReader();
        down_reader_ = down_.AllocReader();
        client_read_ = client_->DoIoRead(this, INT64_MAX, &up_);
        origin_write_ = origin_->DoIoWrite(this, INT64_MAX, up_reader_);
        origin_read_ = origin_->DoIoRead(this, INT64_MAX, &down_);
        client_write_ = client_->DoIoWrite(this, INT64_MAX, down_reader_);
        return;
      }
      case EventCode::kNetOpenFailed:
        client_->DoIoClose();
        delete this;
        return;
      case EventCode::kVcReadReady: {
        VIO* vio = static_cast<VIO*>(data);
        (vio == client_read_ ? origin_write_ : client_write_)->Reenable();
        return;
      }
      case EventCode::kVcWriteReady: {
        VIO* vio = static_cast<VIO*>(data);
        (vio == origin_write_ ? client_read_ : origin_read_)->Reenable();
        return;
      }
      default:  // EOS, errors, timeouts: tear both down
        client_->DoIoClose();
        origin_->DoIoClose();
        delete this;
        return;
    }
  }

 private:
  SSLNetVConnection* client_;
  NetVConnection* origin_ = nullptr;
  std::string replay_;
  MIOBuffer up_;
  MIOBuffer down_;
  IOBufferReader* up_reader_ = nullptr;
  IOBufferReader* down_reader_ = nullptr;
  VIO* client_read_ = nullptr;
  VIO* client_write_ = nullptr;
  VIO* origin_read_ = nullptr;
  VIO* origin_write_ = nullptr;
};

}  // namespace tollgate::test_util

#endif  // TOLLGATE_TESTS_UTIL_TUNNEL_RELAY_H_
