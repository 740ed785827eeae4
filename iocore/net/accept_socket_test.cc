// What an accepted connection looks like to its acceptor: TCP_NODELAY is on, and local_addr()
// is the address the client connected to, both for a listener on a specific address (taken from
// the listener) and on a wildcard one (asked of the kernel per connection).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <mutex>
#include <vector>

#include "gtest/gtest.h"
#include "iocore/eventsystem/event_processor.h"
#include "iocore/net/net_processor.h"
#include "iocore/net/unix_net_vconnection.h"
#include "tests/util/wait.h"

namespace tollgate {
namespace {

using test_util::kTestDeadline;
using test_util::WaitCounter;

struct Seen {
  int nodelay = -1;
  IpEndpoint local;
};

// Records each accepted connection's TCP_NODELAY and local address, then closes it.
class RecordingAcceptor : public Continuation {
 public:
  void HandleEvent(EventCode code, void* data) override {
    if (code != EventCode::kNetAccept) return;
    auto* vc = static_cast<UnixNetVConnection*>(static_cast<NetVConnection*>(data));
    Seen seen;
    socklen_t len = sizeof(seen.nodelay);
    if (getsockopt(vc->fd(), IPPROTO_TCP, TCP_NODELAY, &seen.nodelay, &len) != 0) {
      seen.nodelay = -1;
    }
    seen.local = vc->local_addr();
    vc->DoIoClose();
    {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back(seen);
    }
    accepted_.Increment();
  }

  bool WaitAccepted(int n) { return accepted_.WaitAtLeast(n, kTestDeadline); }
  std::vector<Seen> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  WaitCounter accepted_;
  std::mutex mu_;
  std::vector<Seen> seen_;
};

class AcceptSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ep_.Start({.net_threads = 1,
                           .task_threads = 0,
                           .net_thread_init = [this](EThread& t) { net_.InitThread(t); }})
                    .ok());
  }
  void TearDown() override { ep_.Shutdown(); }

  // Connects to 127.0.0.1:|port| |n| times, closing each once the server has seen it.
  void ConnectLoopback(uint16_t port, int n) {
    for (int i = 0; i < n; ++i) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      ASSERT_GE(fd, 0);
      IpEndpoint to = IpEndpoint::Loopback(AF_INET, port);
      ASSERT_EQ(connect(fd, to.sockaddr(), to.socklen()), 0);
      ASSERT_TRUE(acceptor_.WaitAccepted(i + 1));
      close(fd);
    }
  }

  NetProcessor net_;
  EventProcessor ep_;
  RecordingAcceptor acceptor_;
};

TEST_F(AcceptSocketTest, SpecificAddressListenerGivesNoDelayAndItsOwnAddress) {
  absl::StatusOr<IpEndpoint> bound = net_.Accept(&acceptor_, IpEndpoint::Loopback(AF_INET, 0));
  ASSERT_TRUE(bound.ok()) << bound.status();
  ConnectLoopback(bound->port(), 3);
  std::vector<Seen> seen = acceptor_.seen();
  ASSERT_EQ(seen.size(), 3u);
  for (const Seen& s : seen) {
    EXPECT_EQ(s.nodelay, 1);
    EXPECT_EQ(s.local, *bound) << s.local.ToString();
  }
}

TEST_F(AcceptSocketTest, WildcardListenerGivesNoDelayAndTheConnectedAddress) {
  absl::StatusOr<IpEndpoint> any = IpEndpoint::Parse("0.0.0.0:0");
  ASSERT_TRUE(any.ok());
  absl::StatusOr<IpEndpoint> bound = net_.Accept(&acceptor_, *any);
  ASSERT_TRUE(bound.ok()) << bound.status();
  ConnectLoopback(bound->port(), 2);
  std::vector<Seen> seen = acceptor_.seen();
  ASSERT_EQ(seen.size(), 2u);
  for (const Seen& s : seen) {
    EXPECT_EQ(s.nodelay, 1);
    EXPECT_EQ(s.local, IpEndpoint::Loopback(AF_INET, bound->port())) << s.local.ToString();
  }
}

}  // namespace
}  // namespace tollgate
