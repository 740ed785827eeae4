// The net layer over real loopback sockets: echo, half-close, reset, timeouts, close inside a
// callback, backpressure, many connections, connect success, refusal and timeout.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "iocore/eventsystem/event_processor.h"
#include "iocore/eventsystem/io_buffer.h"
#include "iocore/net/net_processor.h"
#include "iocore/net/unix_net_vconnection.h"
#include "tests/util/echo_session.h"
#include "tests/util/wait.h"

namespace tollgate {
namespace {

using std::chrono::milliseconds;
using test_util::EchoSession;
using test_util::kTestDeadline;
using test_util::SessionLog;
using test_util::WaitCounter;

// ---- Server side: sessions run by the net layer ------------------------------------------------

// What the acceptor does with each new connection.
enum class ServerMode {
  kEcho,
  kCloseOnFirstRead,  // DoIoClose inside the first READ_READY, then count any later event
  kTimeouts,  // inactivity 50 ms, or active 50 ms, reported once each
  kHoldWithoutReading,  // read VIO whose buffer nobody drains (backpressure)
  kKeepAliveIdle,  // mark idle keep-alive, close on inactivity timeout
};

class Probe : public Continuation {
 public:
  Probe(NetVConnection* vc, SessionLog* log, ServerMode mode)
      : Continuation(NewProxyMutex()), vc_(vc), log_(log), mode_(mode) {}

  void Start() {
    MutexLock lock(mutex().get());
    buf_.set_water_mark(64 * 1024);
    reader_ = buf_.AllocReader();
    read_ = vc_->DoIoRead(this, INT64_MAX, &buf_);
    if (mode_ == ServerMode::kTimeouts) {
      vc_->SetInactivityTimeout(milliseconds(50));
    }
    if (mode_ == ServerMode::kKeepAliveIdle) vc_->SetKeepAliveIdle(true);
  }

  void HandleEvent(EventCode code, void*) override {
    if (closed_) {
      log_->events_after_close.Increment();
      return;
    }
    switch (code) {
      case EventCode::kVcReadReady:
        if (mode_ == ServerMode::kCloseOnFirstRead) {
          vc_->DoIoClose();
          closed_ = true;
          log_->finished.Increment();
          // Stays allocated (owned by the test) to observe any event after close.
        }
        return;
      case EventCode::kVcInactivityTimeout:
        log_->inactivity_timeouts.Increment();
        if (mode_ == ServerMode::kKeepAliveIdle) Close();
        return;
      case EventCode::kVcActiveTimeout:
        log_->active_timeouts.Increment();
        return;
      case EventCode::kVcEos:
        log_->eos.Increment();
        Close();
        return;
      case EventCode::kError:
        log_->errors.Increment();
        Close();
        return;
      default:
        return;
    }
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    vc_->DoIoClose();
    log_->finished.Increment();
  }

  int64_t buffered() {
    MutexLock lock(mutex().get());
    return reader_->ReadAvail();
  }
  void DrainAndReenable() {
    MutexLock lock(mutex().get());
    reader_->Consume(reader_->ReadAvail());
    read_->Reenable();
  }
  void ArmActiveTimeout() {
    MutexLock lock(mutex().get());
    vc_->CancelInactivityTimeout();
    vc_->SetActiveTimeout(milliseconds(50));
  }

  NetVConnection* vc_;
  SessionLog* log_;
  ServerMode mode_;
  MIOBuffer buf_;
  IOBufferReader* reader_ = nullptr;
  VIO* read_ = nullptr;
  bool closed_ = false;
};

class Acceptor : public Continuation {
 public:
  Acceptor(SessionLog* log, ServerMode mode) : log_(log), mode_(mode) {}
  void HandleEvent(EventCode code, void* data) override {
    if (code != EventCode::kNetAccept) return;
    auto* vc = static_cast<NetVConnection*>(data);
    if (mode_ == ServerMode::kEcho) {
      (new EchoSession(vc, log_))->Start();
    } else {
      auto probe = std::make_unique<Probe>(vc, log_, mode_);
      probe->Start();
      std::lock_guard<std::mutex> lock(mu);
      probes.push_back(std::move(probe));
    }
    // Counted last: a test that saw the count may inspect |probes|.
    log_->accepted.Increment();
  }
  std::mutex mu;
  std::vector<std::unique_ptr<Probe>> probes;  // kept for inspection, freed by the test

 private:
  SessionLog* log_;
  ServerMode mode_;
};

class NetTest : public ::testing::Test {
 protected:
  void StartNet(ServerMode mode, int threads = 2, NetConfig config = {}) {
    net_ = std::make_unique<NetProcessor>(config);
    acceptor_ = std::make_unique<Acceptor>(&log_, mode);
    ASSERT_TRUE(ep_.Start({.net_threads = threads,
                           .task_threads = 0,
                           .net_thread_init = [this](EThread& t) { net_->InitThread(t); }})
                    .ok());
    absl::StatusOr<IpEndpoint> bound =
        net_->Accept(acceptor_.get(), IpEndpoint::Loopback(AF_INET, 0));
    ASSERT_TRUE(bound.ok()) << bound.status();
    addr_ = *bound;
  }
  void TearDown() override { ep_.Shutdown(); }

  // A blocking client socket connected to the server.
  int ConnectClient() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(connect(fd, addr_.sockaddr(), addr_.socklen()), 0) << strerror(errno);
    timeval tv{20, 0};  // a broken server fails the test instead of hanging it
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
  }

  // Waits (bounded) for every thread to complete a pass that starts after |delay|.
  void PassTime(Nanoseconds delay) {
    struct Mark : Continuation {
      void HandleEvent(EventCode, void*) override { runs.Increment(); }
      WaitCounter runs;
    };
    for (int i = 0; i < ep_.thread_count(ThreadGroup::kNet); ++i) {
      Mark m;
      ep_.thread(ThreadGroup::kNet, i)->ScheduleIn(&m, delay);
      ASSERT_TRUE(m.runs.WaitAtLeast(1, kTestDeadline));
    }
  }

  SessionLog log_;
  EventProcessor ep_;
  std::unique_ptr<NetProcessor> net_;
  std::unique_ptr<Acceptor> acceptor_;
  IpEndpoint addr_;
};

// Deterministic byte stream: both ends generate the same sequence from one seed.
class Stream {
 public:
  explicit Stream(uint64_t seed) : rng_(seed) {}
  void Fill(char* out, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if (left_ == 0) {
        word_ = rng_();
        left_ = 8;
      }
      out[i] = static_cast<char>(word_ & 0xff);
      word_ >>= 8;
      --left_;
    }
  }

 private:
  std::mt19937_64 rng_;
  uint64_t word_ = 0;
  int left_ = 0;
};

TEST_F(NetTest, EchoesSixtyFourMegabytesEachWayByteExactInRandomChunks) {
  StartNet(ServerMode::kEcho);
  constexpr int64_t kTotal = 64LL << 20;
  int fd = ConnectClient();
  std::atomic<bool> write_failed{false};
  std::thread writer([&] {
    Stream data(7);
    std::mt19937 sizes(11);
    std::vector<char> chunk(65536);
    for (int64_t sent = 0; sent < kTotal;) {
      size_t n = std::min<int64_t>(1 + sizes() % chunk.size(), kTotal - sent);
      data.Fill(chunk.data(), n);
      for (size_t off = 0; off < n;) {
        ssize_t w = send(fd, chunk.data() + off, n - off, MSG_NOSIGNAL);
        if (w <= 0) {
          write_failed = true;
          return;
        }
        off += w;
      }
      sent += n;
    }
    shutdown(fd, SHUT_WR);
  });
  Stream expect(7);
  std::vector<char> got(1 << 16);
  std::vector<char> want(1 << 16);
  int64_t received = 0;
  int64_t first_mismatch = -1;
  while (received < kTotal) {
    ssize_t r = recv(fd, got.data(), got.size(), 0);
    if (r <= 0) break;
    expect.Fill(want.data(), r);
    if (first_mismatch < 0 && memcmp(got.data(), want.data(), r) != 0) first_mismatch = received;
    received += r;
  }
  char extra;
  ssize_t tail = recv(fd, &extra, 1, 0);
  writer.join();
  close(fd);
  EXPECT_FALSE(write_failed.load());
  EXPECT_EQ(received, kTotal);
  EXPECT_EQ(first_mismatch, -1);
  EXPECT_EQ(tail, 0) << "server should close after echoing everything";
  EXPECT_TRUE(log_.eos.WaitAtLeast(1, kTestDeadline));
  EXPECT_TRUE(log_.finished.WaitAtLeast(1, kTestDeadline));
}

TEST_F(NetTest, HalfCloseDeliversEosAndTheServerStillSendsTheRest) {
  StartNet(ServerMode::kEcho);
  int fd = ConnectClient();
  std::string message(300000, 'h');  // more than one socket buffer's worth comes back after EOS
  ASSERT_EQ(send(fd, message.data(), message.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(message.size()));
  shutdown(fd, SHUT_WR);
  std::string echoed;
  char buf[65536];
  ssize_t r;
  while ((r = recv(fd, buf, sizeof(buf), 0)) > 0) echoed.append(buf, r);
  close(fd);
  EXPECT_EQ(r, 0);
  EXPECT_EQ(echoed, message);
  EXPECT_TRUE(log_.eos.WaitAtLeast(1, kTestDeadline));
  EXPECT_EQ(log_.errors.value(), 0);
}

TEST_F(NetTest, PeerResetGivesErrorEvent) {
  StartNet(ServerMode::kHoldWithoutReading);
  int fd = ConnectClient();
  ASSERT_TRUE(log_.accepted.WaitAtLeast(1, kTestDeadline));
  linger lin{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
  close(fd);  // RST
  ASSERT_TRUE(log_.errors.WaitAtLeast(1, kTestDeadline));
  EXPECT_EQ(log_.eos.value(), 0);
}

int64_t Stat(StatId id) { return GlobalStats().Get(id); }

TEST_F(NetTest, InactivityTimeoutFiresOnceThenStaysQuiet) {
  StartNet(ServerMode::kTimeouts, 1, {.cop_interval = milliseconds(10)});
  int64_t counted_before = Stat(NetStats::Get().inactivity_timeouts);
  int fd = ConnectClient();
  ASSERT_TRUE(log_.inactivity_timeouts.WaitAtLeast(1, kTestDeadline));
  PassTime(milliseconds(200));  // twenty more cop rounds
  EXPECT_EQ(log_.inactivity_timeouts.value(), 1);
  EXPECT_EQ(log_.active_timeouts.value(), 0);
  EXPECT_EQ(Stat(NetStats::Get().inactivity_timeouts) - counted_before, 1);
  close(fd);
  ASSERT_TRUE(log_.finished.WaitAtLeast(1, kTestDeadline));
}

TEST_F(NetTest, ActiveTimeoutFiresOnceDespiteTraffic) {
  StartNet(ServerMode::kTimeouts, 1, {.cop_interval = milliseconds(10)});
  int fd = ConnectClient();
  ASSERT_TRUE(log_.accepted.WaitAtLeast(1, kTestDeadline));
  {
    std::lock_guard<std::mutex> lock(acceptor_->mu);
    acceptor_->probes[0]->ArmActiveTimeout();
  }
  // Keep sending while waiting: activity does not postpone an active timeout.
  for (auto start = std::chrono::steady_clock::now(); log_.active_timeouts.value() == 0 &&
       std::chrono::steady_clock::now() - start < kTestDeadline;) {
    ASSERT_EQ(send(fd, "x", 1, MSG_NOSIGNAL), 1);
    log_.active_timeouts.WaitAtLeast(1, milliseconds(5));
  }
  ASSERT_EQ(log_.active_timeouts.value(), 1);
  PassTime(milliseconds(100));
  EXPECT_EQ(log_.active_timeouts.value(), 1);
  EXPECT_EQ(log_.inactivity_timeouts.value(), 0);
  close(fd);
}

TEST_F(NetTest, CloseInsideCallbackStopsAllFurtherEvents) {
  StartNet(ServerMode::kCloseOnFirstRead, 1);
  int fd = ConnectClient();
  std::string data(1 << 20, 'c');
  // The server closes on the first bytes; later sends may fail with a reset, which is fine.
  send(fd, data.data(), data.size(), MSG_NOSIGNAL);
  ASSERT_TRUE(log_.finished.WaitAtLeast(1, kTestDeadline));
  send(fd, data.data(), 4096, MSG_NOSIGNAL);
  close(fd);
  PassTime(milliseconds(20));
  EXPECT_EQ(log_.events_after_close.value(), 0);
  EXPECT_EQ(net_->open_connections(), 0);
  EXPECT_EQ(Stat(NetStats::Get().connections_open), 0);
}

TEST_F(NetTest, ReadingStopsAboveTheWaterMarkAndResumesOnReenable) {
  StartNet(ServerMode::kHoldWithoutReading, 1);
  int fd = ConnectClient();
  ASSERT_TRUE(log_.accepted.WaitAtLeast(1, kTestDeadline));
  Probe* probe;
  {
    std::lock_guard<std::mutex> lock(acceptor_->mu);
    probe = acceptor_->probes[0].get();
  }
  // 4 MiB from a writer thread: the server must stop buffering near its 64 KiB water mark.
  constexpr int64_t kTotal = 4 << 20;
  std::thread writer([&] {
    std::string chunk(65536, 'b');
    for (int64_t sent = 0; sent < kTotal; sent += chunk.size()) {
      if (send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL) <= 0) return;
    }
  });
  PassTime(milliseconds(100));
  int64_t held = probe->buffered();
  EXPECT_GT(held, 0);
  EXPECT_LE(held, 64 * 1024 + 256 * 1024) << "read past the water mark";
  // Drain and re-enable until everything arrived.
  int64_t total = 0;
  for (auto start = std::chrono::steady_clock::now();
       total < kTotal && std::chrono::steady_clock::now() - start < kTestDeadline;) {
    int64_t n = probe->buffered();
    total += n;
    probe->DrainAndReenable();
    if (n == 0) PassTime(milliseconds(1));
  }
  writer.join();
  EXPECT_EQ(total, kTotal);
  close(fd);
}

// ---- Client side through NetProcessor::Connect -------------------------------------------------

// Connects, sends |payload|, expects it echoed, closes. Reports through counters.
class EchoClient : public Continuation {
 public:
  EchoClient(std::string payload, WaitCounter* ok, WaitCounter* failed)
      : Continuation(NewProxyMutex()), payload_(std::move(payload)), ok_(ok), failed_(failed) {}

  void HandleEvent(EventCode code, void* data) override {
    switch (code) {
      case EventCode::kNetOpen:
        vc_ = static_cast<NetVConnection*>(data);
        out_.Write(payload_);
        reader_ = in_.AllocReader();
        vc_->DoIoWrite(this, payload_.size(), out_.AllocReader());
        vc_->DoIoRead(this, payload_.size(), &in_);
        return;
      case EventCode::kNetOpenFailed:
        open_error = static_cast<int>(reinterpret_cast<intptr_t>(data));
        failed_->Increment();
        return;
      case EventCode::kVcReadComplete: {
        std::string got(payload_.size(), '\0');
        reader_->CopyOut(got.data(), got.size());
        vc_->DoIoClose();
        (got == payload_ ? ok_ : failed_)->Increment();
        return;
      }
      case EventCode::kVcEos:
      case EventCode::kError:
      case EventCode::kVcInactivityTimeout:
      case EventCode::kVcActiveTimeout:
        vc_->DoIoClose();
        failed_->Increment();
        return;
      default:
        return;
    }
  }
  int open_error = 0;

 private:
  std::string payload_;
  WaitCounter* ok_;
  WaitCounter* failed_;
  NetVConnection* vc_ = nullptr;
  MIOBuffer out_;
  MIOBuffer in_;
  IOBufferReader* reader_ = nullptr;
};

TEST_F(NetTest, TwoThousandConcurrentConnectionsThroughOneThreadAllComplete) {
  StartNet(ServerMode::kEcho, 1);
  constexpr int kClients = 2000;
  WaitCounter ok, failed;
  std::vector<std::unique_ptr<EchoClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<EchoClient>(
        std::string(1024, static_cast<char>('a' + i % 26)), &ok, &failed));
    net_->Connect(clients.back().get(), addr_);
  }
  ASSERT_TRUE(ok.WaitAtLeast(kClients, kTestDeadline))
      << "ok " << ok.value() << " failed " << failed.value();
  EXPECT_EQ(failed.value(), 0);
  EXPECT_TRUE(log_.finished.WaitAtLeast(kClients, kTestDeadline));
}

TEST_F(NetTest, ConnectToAClosedPortFailsWithConnectionRefused) {
  StartNet(ServerMode::kEcho, 1);
  int probe = socket(AF_INET, SOCK_STREAM, 0);
  IpEndpoint any = IpEndpoint::Loopback(AF_INET, 0);
  ASSERT_EQ(bind(probe, any.sockaddr(), any.socklen()), 0);
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(probe, reinterpret_cast<sockaddr*>(&ss), &len);
  IpEndpoint closed_port = IpEndpoint::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  close(probe);  // bound but never listening, now released: nothing listens there

  WaitCounter ok, failed;
  EchoClient client("x", &ok, &failed);
  int64_t failures_before = Stat(NetStats::Get().connect_failures);
  net_->Connect(&client, closed_port);
  ASSERT_TRUE(failed.WaitAtLeast(1, kTestDeadline));
  MutexLock lock(client.mutex().get());
  EXPECT_EQ(client.open_error, -ECONNREFUSED);
  EXPECT_EQ(Stat(NetStats::Get().connect_failures) - failures_before, 1);
}

TEST_F(NetTest, ConnectTimesOutWhenTheListenerNeverAnswers) {
  StartNet(ServerMode::kEcho, 1);
  // A listener with a full accept queue drops further SYNs: the connect hangs (on loopback).
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  IpEndpoint any = IpEndpoint::Loopback(AF_INET, 0);
  ASSERT_EQ(bind(lfd, any.sockaddr(), any.socklen()), 0);
  ASSERT_EQ(listen(lfd, 0), 0);
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(lfd, reinterpret_cast<sockaddr*>(&ss), &len);
  IpEndpoint target = IpEndpoint::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(fd, target.sockaddr(), target.socklen());
    fillers.push_back(fd);
  }
  WaitCounter ok, failed;
  EchoClient client("x", &ok, &failed);
  net_->Connect(&client, target, {.timeout = milliseconds(200)});
  ASSERT_TRUE(failed.WaitAtLeast(1, kTestDeadline));
  {
    MutexLock lock(client.mutex().get());
    EXPECT_EQ(client.open_error, -ETIMEDOUT);
  }
  for (int fd : fillers) close(fd);
  close(lfd);
}

TEST_F(NetTest, AtTheConnectionLimitTheOldestIdleKeepAliveConnectionIsTimedOutFirst) {
  StartNet(ServerMode::kKeepAliveIdle, 1, {.connections_throttle = 2});
  int64_t closes_before = Stat(NetStats::Get().throttled_closes);
  int a = ConnectClient();
  ASSERT_TRUE(log_.accepted.WaitAtLeast(1, kTestDeadline));
  int b = ConnectClient();
  ASSERT_TRUE(log_.accepted.WaitAtLeast(2, kTestDeadline));
  int c = ConnectClient();  // over the limit: the oldest idle one (a) makes room
  ASSERT_TRUE(log_.accepted.WaitAtLeast(3, kTestDeadline));
  ASSERT_TRUE(log_.inactivity_timeouts.WaitAtLeast(1, kTestDeadline));
  char byte;
  EXPECT_EQ(recv(a, &byte, 1, 0), 0) << "the oldest idle connection should be closed";
  EXPECT_EQ(Stat(NetStats::Get().throttled_closes) - closes_before, 1);
  close(a);
  close(b);
  close(c);
}

TEST_F(NetTest, AtTheConnectionLimitWithNoIdleConnectionNewOnesAreRefused) {
  StartNet(ServerMode::kHoldWithoutReading, 1, {.connections_throttle = 1});
  int64_t refusals_before = Stat(NetStats::Get().throttled_refusals);
  int a = ConnectClient();
  ASSERT_TRUE(log_.accepted.WaitAtLeast(1, kTestDeadline));
  int b = ConnectClient();  // the kernel completes the handshake; the server then drops it
  char byte;
  EXPECT_LE(recv(b, &byte, 1, 0), 0) << "a connection over the limit should be closed";
  EXPECT_EQ(Stat(NetStats::Get().throttled_refusals) - refusals_before, 1);
  EXPECT_EQ(log_.accepted.value(), 1);
  close(a);
  close(b);
}

TEST_F(NetTest, StopAcceptingRefusesNewConnectionsAndKeepsAcceptedOnes) {
  StartNet(ServerMode::kEcho, 2);
  int kept = ConnectClient();
  ASSERT_TRUE(log_.accepted.WaitAtLeast(1, kTestDeadline));
  net_->StopAccepting();
  PassTime(milliseconds(0));  // every thread ran its listener's stop
  int fresh = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_NE(connect(fresh, addr_.sockaddr(), addr_.socklen()), 0);
  EXPECT_EQ(errno, ECONNREFUSED);
  close(fresh);
  ASSERT_EQ(send(kept, "ping", 4, 0), 4);
  char echoed[4];
  ASSERT_EQ(recv(kept, echoed, sizeof(echoed), MSG_WAITALL), 4);
  EXPECT_EQ(std::string(echoed, 4), "ping");
  close(kept);
  net_->StopAccepting();  // idempotent
  ASSERT_TRUE(log_.finished.WaitAtLeast(1, kTestDeadline));  // the echo saw EOS and is gone
}

TEST_F(NetTest, CloseIdleKeepAliveTimesOutEveryIdleConnection) {
  StartNet(ServerMode::kKeepAliveIdle, 1);
  int a = ConnectClient();
  int b = ConnectClient();
  ASSERT_TRUE(log_.accepted.WaitAtLeast(2, kTestDeadline));
  net_->CloseIdleKeepAlive();
  ASSERT_TRUE(log_.inactivity_timeouts.WaitAtLeast(2, kTestDeadline));
  char byte;
  EXPECT_EQ(recv(a, &byte, 1, 0), 0);
  EXPECT_EQ(recv(b, &byte, 1, 0), 0);
  close(a);
  close(b);
}

TEST_F(NetTest, AcceptsAndConnectsOverIpv6Loopback) {
  net_ = std::make_unique<NetProcessor>();
  acceptor_ = std::make_unique<Acceptor>(&log_, ServerMode::kEcho);
  ASSERT_TRUE(ep_.Start({.net_threads = 2,
                         .task_threads = 0,
                         .net_thread_init = [this](EThread& t) { net_->InitThread(t); }})
                  .ok());
  absl::StatusOr<IpEndpoint> bound =
      net_->Accept(acceptor_.get(), IpEndpoint::Loopback(AF_INET6, 0));
  ASSERT_TRUE(bound.ok()) << bound.status();
  EXPECT_EQ(bound->family(), AF_INET6);
  WaitCounter ok, failed;
  EchoClient client(std::string(4096, '6'), &ok, &failed);
  net_->Connect(&client, *bound);
  ASSERT_TRUE(ok.WaitAtLeast(1, kTestDeadline)) << "failed " << failed.value();
  EXPECT_TRUE(log_.finished.WaitAtLeast(1, kTestDeadline));
}

}  // namespace
}  // namespace tollgate
