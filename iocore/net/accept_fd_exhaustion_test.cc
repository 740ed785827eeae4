// File-descriptor exhaustion: a server process limited to a few descriptors gets more
// connections than it can hold. Accepts must pause (logged once per episode) without spinning,
// and resume once descriptors are free, until every connection was accepted.
//
// The server runs in a child process forked before any thread exists, so that lowering
// RLIMIT_NOFILE affects only it. It reports over a pipe: one byte 'a' per accepted connection,
// 'x' when the exhaustion episode began, then "loops N\n" with the number of event-loop passes
// in the 300 ms that followed.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "iocore/eventsystem/event_processor.h"
#include "iocore/eventsystem/io_buffer.h"
#include "iocore/net/net_processor.h"

namespace tollgate {
namespace {

constexpr int kFdLimit = 48;
constexpr int kClients = 100;

void WriteAll(int fd, const std::string& s) {
  for (size_t off = 0; off < s.size();) {
    ssize_t w = write(fd, s.data() + off, s.size() - off);
    if (w <= 0) return;
    off += w;
  }
}

// ---- child: the server ---------------------------------------------------------------------

class CloseOnEos : public Continuation {
 public:
  explicit CloseOnEos(NetVConnection* vc) : Continuation(NewProxyMutex()), vc_(vc) {
    MutexLock lock(mutex().get());
    vc_->DoIoRead(this, INT64_MAX, &buf_);
  }
  void HandleEvent(EventCode code, void*) override {
    if (code == EventCode::kVcReadReady) return;
    vc_->DoIoClose();
    delete this;
  }

 private:
  NetVConnection* vc_;
  MIOBuffer buf_;
};

class ReportingAcceptor : public Continuation {
 public:
  explicit ReportingAcceptor(int report_fd) : report_fd_(report_fd) {}
  void HandleEvent(EventCode code, void* data) override {
    if (code != EventCode::kNetAccept) return;
    new CloseOnEos(static_cast<NetVConnection*>(data));
    WriteAll(report_fd_, "a");
  }

 private:
  int report_fd_;
};

// Watches the exhaustion counter on the net thread; reports the episode and the loop passes
// made during the 300 ms after it.
class ExhaustionWatch : public Continuation {
 public:
  ExhaustionWatch(int report_fd, EThread* thread) : report_fd_(report_fd), thread_(thread) {}
  void HandleEvent(EventCode code, void*) override {
    if (code == EventCode::kImmediate) {  // the 300 ms window is over
      WriteAll(report_fd_,
               "loops " + std::to_string(thread_->stats().loops - loops_at_start_) + "\n");
      return;
    }
    if (seen_ || GlobalStats().Get(NetStats::Get().accept_fd_exhausted) == 0) return;
    seen_ = true;
    loops_at_start_ = thread_->stats().loops;
    WriteAll(report_fd_, "x");
    thread_->ScheduleIn(this, std::chrono::milliseconds(300), EventCode::kImmediate);
  }

 private:
  int report_fd_;
  EThread* thread_;
  bool seen_ = false;
  uint64_t loops_at_start_ = 0;
};

[[noreturn]] void RunServer(int report_fd, int port_fd) {
  rlimit limit{kFdLimit, kFdLimit};
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) _exit(2);
  NetProcessor net({.accept_backoff = std::chrono::milliseconds(20)});
  EventProcessor ep;
  if (!ep.Start({.net_threads = 1,
                 .task_threads = 0,
                 .net_thread_init = [&](EThread& t) { net.InitThread(t); }})
           .ok()) {
    _exit(3);
  }
  ReportingAcceptor acceptor(report_fd);
  absl::StatusOr<IpEndpoint> bound = net.Accept(&acceptor, IpEndpoint::Loopback(AF_INET, 0));
  if (!bound.ok()) _exit(4);
  ExhaustionWatch watch(report_fd, ep.thread(ThreadGroup::kNet, 0));
  ep.thread(ThreadGroup::kNet, 0)->ScheduleEvery(&watch, std::chrono::milliseconds(2));
  WriteAll(port_fd, std::to_string(bound->port()) + "\n");
  // Runs until the parent kills it (SIGKILL after the test, bounded by the parent).
  for (;;) pause();
}

// ---- parent: the clients -------------------------------------------------------------------

// Reads from |fd| until |done| says so or 20 s pass. Returns false on timeout or EOF.
template <typename Done>
bool ReadUntil(int fd, std::string* out, Done done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done(*out)) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, left) <= 0) return false;
    char buf[512];
    ssize_t r = read(fd, buf, sizeof(buf));
    if (r <= 0) return false;
    out->append(buf, r);
  }
  return true;
}

int Count(const std::string& s, char c) {
  return static_cast<int>(std::count(s.begin(), s.end(), c));
}

TEST(AcceptFdExhaustionTest, AcceptsPauseWithoutSpinningAndResumeWhenDescriptorsFree) {
#ifdef __SANITIZE_ADDRESS__
  // UBSan's vptr check probes memory through a pipe(2); with every descriptor in use that probe
  // fails and it reports a false "invalid vptr". The default and TSan builds run this test.
  GTEST_SKIP() << "sanitizer runtime needs free file descriptors";
#endif
  int report[2], port_pipe[2], err_pipe[2];
  ASSERT_EQ(pipe2(report, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(port_pipe, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(err_pipe, O_CLOEXEC), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    dup2(err_pipe[1], STDERR_FILENO);
    // Close everything the child does not need, so the limit counts only its own descriptors.
    for (int fd = 3; fd < 1024; ++fd) {
      if (fd != report[1] && fd != port_pipe[1]) close(fd);
    }
    RunServer(report[1], port_pipe[1]);
  }
  close(report[1]);
  close(port_pipe[1]);
  close(err_pipe[1]);
  // On any early return: stop the child and show what it printed.
  struct ChildGuard {
    pid_t pid;
    int err_fd;
    bool reaped = false;
    ~ChildGuard() {
      if (reaped) return;
      kill(pid, SIGKILL);
      int status = 0;
      waitpid(pid, &status, 0);
      std::string err;
      ReadUntil(err_fd, &err, [](const std::string&) { return false; });
      ADD_FAILURE() << "server child (status " << status << ") printed:\n" << err;
    }
  } guard{child, err_pipe[0]};

  std::string port_line;
  ASSERT_TRUE(ReadUntil(port_pipe[0], &port_line,
                        [](const std::string& s) { return s.find('\n') != std::string::npos; }));
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(port_line), &port));
  IpEndpoint server = IpEndpoint::Loopback(AF_INET, static_cast<uint16_t>(port));

  std::vector<int> clients;
  for (int i = 0; i < kClients; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_EQ(connect(fd, server.sockaddr(), server.socklen()), 0) << strerror(errno);
    clients.push_back(fd);
  }

  // The server runs out of descriptors, reports the episode, then how busy it was meanwhile.
  std::string reports;
  ASSERT_TRUE(ReadUntil(report[0], &reports, [](const std::string& s) {
    size_t loops = s.find("loops ");
    return loops != std::string::npos && s.find('\n', loops) != std::string::npos;
  })) << reports;
  int accepted_before = Count(reports.substr(0, reports.find('x')), 'a');
  EXPECT_GT(accepted_before, 0);
  EXPECT_LT(accepted_before, kClients);
  size_t at = reports.find("loops ") + 6;
  int64_t loops = 0;
  ASSERT_TRUE(absl::SimpleAtoi(reports.substr(at, reports.find('\n', at) - at), &loops));
  // 300 ms with a 20 ms back-off and a 2 ms watcher: a few hundred passes at most. A spinning
  // accept loop would make hundreds of thousands.
  EXPECT_LT(loops, 2000) << "the accept loop spins while out of descriptors";

  // Free descriptors: accepted clients hang up (the accept queue is FIFO, so the first n
  // connected are the n accepted), the server closes its ends and accepts more. Repeat until
  // all were accepted; each round may be a new exhaustion episode.
  int closed = 0;
  for (int round = 0; round < kClients && Count(reports, 'a') < kClients; ++round) {
    int accepted = Count(reports, 'a');
    for (; closed < accepted; ++closed) close(clients[closed]);
    ASSERT_TRUE(ReadUntil(report[0], &reports,
                          [&](const std::string& s) { return Count(s, 'a') > accepted; }))
        << "accepted " << Count(reports, 'a') << " of " << kClients;
  }
  EXPECT_EQ(Count(reports, 'a'), kClients);
  for (int i = closed; i < kClients; ++i) close(clients[i]);
  guard.reaped = true;
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  std::string err;
  ReadUntil(err_pipe[0], &err, [](const std::string&) { return false; });  // reads to EOF
  // Once per episode: every "pausing" line is followed by a "resumed" line before the next.
  int pauses = 0;
  int resumes = 0;
  bool alternates = true;
  for (absl::string_view line : absl::StrSplit(err, '\n')) {
    if (absl::StrContains(line, "pausing accepts")) {
      EXPECT_TRUE(absl::StrContains(line, "WARNING: (net) accept on 127.0.0.1:")) << line;
      alternates &= pauses == resumes;
      ++pauses;
    } else if (absl::StrContains(line, "resumed")) {
      alternates &= pauses == resumes + 1;
      ++resumes;
    }
  }
  EXPECT_GE(pauses, 1) << err;
  EXPECT_TRUE(alternates) << "logged more than once per episode:\n" << err;
  close(report[0]);
  close(port_pipe[0]);
  close(err_pipe[0]);
}

}  // namespace
}  // namespace tollgate
