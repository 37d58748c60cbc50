#include "sandbox/zygote_loop.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "sandbox/control_protocol.h"
#include "sandbox/test_probe.h"

namespace sandgate::sandbox {
namespace {

using control::CallMessage;
using control::Op;
using testing::can_create_pid_namespace;
using testing::collect;
using testing::ProbeResult;
using testing::report;
using testing::run_in_child;

constexpr int kReportTimeoutMs = 10000;
constexpr std::int64_t kMiB = 1 << 20;

// Counts its calls; the zygote process reports the parent's counts, a call child its own copy's.
class CountingHooks final : public ForkHooks {
 public:
  void before_fork() override { ++before; }
  void after_fork_in_parent() override { ++in_parent; }
  void after_fork_in_child() override { ++in_child; }
  int before = 0;
  int in_parent = 0;
  int in_child = 0;
};

// The call child's body: one-byte commands on its call socket, "key=value\n" answers.
[[noreturn]] void serve_test_call(const LoopExit& exit, const CountingHooks& hooks) {
  alarm(testing::kDefaultTimeoutSeconds + 2);
  const int fd = exit.call_fd;
  for (;;) {
    char command[2];
    if (read(fd, command, 1) != 1) _exit(0);
    switch (command[0]) {
      case 'x':  // exit with the next byte as status
        if (read(fd, command + 1, 1) != 1) _exit(98);
        _exit(static_cast<unsigned char>(command[1]));
      case 'f': {  // descriptors open besides stdio and the call socket
        int stray = 0;
        for (int other = 3; other < 4096; ++other) {
          if (other != fd && fcntl(other, F_GETFD) >= 0) ++stray;
        }
        report(fd, "stray_fds", stray);
        break;
      }
      case 'p':
        report(fd, "persistent", exit.persistent);
        break;
      case 'u':
        report(fd, "uid", getuid());
        break;
      case 'h':
        report(fd, "hooks", hooks.before * 100 + hooks.in_child * 10 + hooks.in_parent);
        break;
      case 'a': {
        rlimit limit{};
        getrlimit(RLIMIT_AS, &limit);
        report(fd, "as", static_cast<long long>(limit.rlim_cur));
        getrlimit(RLIMIT_NOFILE, &limit);
        report(fd, "nofile", static_cast<long long>(limit.rlim_cur));
        break;
      }
      default:
        _exit(97);
    }
  }
}

struct Received {
  std::vector<unsigned char> bytes;
  std::vector<int> fds;
  bool arrived = false;

  Op op() const { return bytes.size() >= sizeof(control::Header) ? static_cast<Op>(bytes[5]) : Op{}; }
  template <class Report>
  Report as() const {
    Report report{};
    EXPECT_EQ(bytes.size(), sizeof report);
    std::memcpy(&report, bytes.data(), std::min(bytes.size(), sizeof report));
    EXPECT_TRUE(control::is_valid_header(report.header));
    return report;
  }
  void close_fds() {
    for (int fd : fds) close(fd);
    fds.clear();
  }
};

CallMessage make_call(std::uint64_t id) {
  CallMessage call{};
  call.header = control::make_header(Op::kCall);
  call.id = id;
  return call;
}

void set_limit(CallMessage* call, control::LimitIndex index, std::int64_t value) {
  call->limits_present |= 1u << index;
  call->limits[index] = value;
}

bool send_message(int socket_fd, const void* data, std::size_t size, const std::vector<int>& fds) {
  iovec payload{const_cast<void*>(data), size};
  std::vector<char> ancillary(CMSG_SPACE(sizeof(int) * fds.size()));
  msghdr message{};
  message.msg_iov = &payload;
  message.msg_iovlen = 1;
  if (!fds.empty()) {
    message.msg_control = ancillary.data();
    message.msg_controllen = ancillary.size();
    cmsghdr* rights = CMSG_FIRSTHDR(&message);
    rights->cmsg_level = SOL_SOCKET;
    rights->cmsg_type = SCM_RIGHTS;
    rights->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(rights), fds.data(), sizeof(int) * fds.size());
  }
  return sendmsg(socket_fd, &message, MSG_NOSIGNAL) == static_cast<ssize_t>(size);
}

bool readable_within(int fd, int timeout_ms) {
  pollfd readable{fd, POLLIN, 0};
  return poll(&readable, 1, timeout_ms) == 1;
}

// Reads one "key=value\n" line, bounded in time.
std::string read_line(int fd) {
  std::string line;
  char byte;
  while (readable_within(fd, kReportTimeoutMs) && read(fd, &byte, 1) == 1 && byte != '\n') line += byte;
  return line;
}

std::string ask(int call_fd, char command) {
  if (write(call_fd, &command, 1) != 1) return "write failed";
  return read_line(call_fd);
}

// EOF on `fd` within the timeout: every other copy of the peer descriptor was closed.
bool sees_eof(int fd) {
  char byte;
  return readable_within(fd, kReportTimeoutMs) && read(fd, &byte, 1) == 0;
}

// A zygote process running the loop on one end of a SEQPACKET pair; the test plays the gateway.
class ZygoteProcess {
 public:
  explicit ZygoteProcess(ZygoteLoopConfig config) {
    int pair[2];
    int counters[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0 || pipe2(counters, O_CLOEXEC) != 0) {
      std::abort();
    }
    pid_ = fork();
    if (pid_ == 0) {
      close(pair[0]);
      close(counters[0]);
      alarm(testing::kDefaultTimeoutSeconds * 3);
      config.control_fd = pair[1];
      _exit(serve(config, counters[1]));
    }
    close(pair[1]);
    close(counters[1]);
    gateway_ = pair[0];
    counters_ = counters[0];
  }

  ~ZygoteProcess() {
    if (gateway_ >= 0) finish();
  }

  int gateway() const { return gateway_; }

  bool send_call(const CallMessage& call, int child_end) {
    return send_message(gateway_, &call, sizeof call, {child_end});
  }

  // A call and its socket: the gateway's end is returned, the child's is sent and closed here.
  int start_call(const CallMessage& call) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) std::abort();
    EXPECT_TRUE(send_call(call, pair[1]));
    close(pair[1]);
    return pair[0];
  }

  Received next_report() {
    Received received;
    if (!readable_within(gateway_, kReportTimeoutMs)) return received;
    unsigned char buffer[control::kMaxMessageBytes];
    iovec payload{buffer, sizeof buffer};
    alignas(cmsghdr) char ancillary[CMSG_SPACE(sizeof(int) * 4)];
    msghdr message{};
    message.msg_iov = &payload;
    message.msg_iovlen = 1;
    message.msg_control = ancillary;
    message.msg_controllen = sizeof ancillary;
    ssize_t size = recvmsg(gateway_, &message, MSG_CMSG_CLOEXEC);
    if (size <= 0) return received;
    received.arrived = true;
    received.bytes.assign(buffer, buffer + size);
    for (cmsghdr* h = CMSG_FIRSTHDR(&message); h != nullptr; h = CMSG_NXTHDR(&message, h)) {
      std::size_t count = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
        received.fds.push_back(fd);
      }
    }
    return received;
  }

  // Closes the gateway's end (EOF for the loop) and collects the zygote's exit and counters.
  ProbeResult finish() {
    close(gateway_);
    gateway_ = -1;
    return collect(pid_, counters_);
  }

 private:
  static int serve(const ZygoteLoopConfig& config, int counters_fd) {
    CountingHooks hooks;
    ZygoteLoop loop(config, hooks);
    LoopExit exit;
    Status status = loop.run(&exit);
    if (status.ok() && exit.in_call_child) serve_test_call(exit, hooks);
    report(counters_fd, "spawned", static_cast<long long>(loop.counters().spawned));
    report(counters_fd, "spawn_failed", static_cast<long long>(loop.counters().spawn_failed));
    report(counters_fd, "exited", static_cast<long long>(loop.counters().exited));
    report(counters_fd, "rejected", static_cast<long long>(loop.counters().rejected_messages));
    report(counters_fd, "hooks_before", hooks.before);
    report(counters_fd, "hooks_in_parent", hooks.in_parent);
    report(counters_fd, "hooks_in_child", hooks.in_child);
    report(counters_fd, "errno", status.err);
    return status.ok() ? 0 : 90;
  }

  pid_t pid_ = -1;
  int gateway_ = -1;
  int counters_ = -1;
};

// Expects a spawned report for `id`; returns its pidfd (or -1).
int expect_spawned(ZygoteProcess& zygote, std::uint64_t id) {
  Received received = zygote.next_report();
  EXPECT_TRUE(received.arrived);
  EXPECT_EQ(received.op(), Op::kSpawned);
  if (received.op() != Op::kSpawned) {
    received.close_fds();
    return -1;
  }
  auto spawned = received.as<control::SpawnedReport>();
  EXPECT_EQ(spawned.id, id);
  EXPECT_GT(spawned.pid, 0);
  EXPECT_EQ(received.fds.size(), 1u);
  return received.fds.empty() ? -1 : received.fds[0];
}

control::ExitedReport expect_exited(ZygoteProcess& zygote, std::uint64_t id) {
  Received received = zygote.next_report();
  EXPECT_EQ(received.op(), Op::kExited);
  EXPECT_TRUE(received.fds.empty());
  received.close_fds();
  auto exited = received.as<control::ExitedReport>();
  EXPECT_EQ(exited.id, id);
  return exited;
}

control::SpawnFailedReport expect_spawn_failed(ZygoteProcess& zygote, std::uint64_t id) {
  Received received = zygote.next_report();
  EXPECT_EQ(received.op(), Op::kSpawnFailed);
  received.close_fds();
  auto failed = received.as<control::SpawnFailedReport>();
  EXPECT_EQ(failed.id, id);
  return failed;
}

void end_call(int call_fd, unsigned char code) {
  const char command[2] = {'x', static_cast<char>(code)};
  EXPECT_EQ(write(call_fd, command, 2), 2);
  close(call_fd);
}

class ZygoteLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!can_create_pid_namespace()) GTEST_SKIP() << "creating a PID namespace is not permitted here";
  }
};

TEST_F(ZygoteLoopTest, SpawnsACallAndReportsItsExit) {
  ZygoteProcess zygote({});
  int call_fd = zygote.start_call(make_call(7));
  int pidfd = expect_spawned(zygote, 7);
  EXPECT_EQ(ask(call_fd, 'f'), "stray_fds=0");  // no control socket, epoll fd or pidfd of the loop
  EXPECT_EQ(ask(call_fd, 'p'), "persistent=0");
  EXPECT_EQ(ask(call_fd, 'h'), "hooks=110");  // before and in-child ran; in-parent not in this copy
  end_call(call_fd, 3);
  control::ExitedReport exited = expect_exited(zygote, 7);
  EXPECT_EQ(exited.exit_code, 3);
  EXPECT_EQ(exited.signal, control::kNone);
  EXPECT_GT(exited.maxrss_kib, 0u);
  EXPECT_GT(exited.minor_faults, 0u);
  EXPECT_LT(exited.cpu_microseconds, 10'000'000u);
  if (pidfd >= 0) close(pidfd);

  ProbeResult result = zygote.finish();
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  EXPECT_EQ(result.at("spawned"), 1);
  EXPECT_EQ(result.at("exited"), 1);
  EXPECT_EQ(result.at("rejected"), 0);
  EXPECT_EQ(result.at("hooks_before"), 1);
  EXPECT_EQ(result.at("hooks_in_parent"), 1);
  EXPECT_EQ(result.at("hooks_in_child"), 0);
}

TEST_F(ZygoteLoopTest, AKilledCallReportsItsSignal) {
  ZygoteProcess zygote({});
  int call_fd = zygote.start_call(make_call(8));
  int pidfd = expect_spawned(zygote, 8);
  ASSERT_GE(pidfd, 0);
  ASSERT_EQ(syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0), 0);
  control::ExitedReport exited = expect_exited(zygote, 8);
  EXPECT_EQ(exited.signal, SIGKILL);
  EXPECT_EQ(exited.exit_code, control::kNone);
  close(pidfd);
  close(call_fd);
}

TEST_F(ZygoteLoopTest, PersistentFlagReachesTheChild) {
  ZygoteProcess zygote({});
  CallMessage call = make_call(9);
  call.flags = control::kCallPersistent;
  int call_fd = zygote.start_call(call);
  int pidfd = expect_spawned(zygote, 9);
  EXPECT_EQ(ask(call_fd, 'p'), "persistent=1");
  end_call(call_fd, 0);
  EXPECT_EQ(expect_exited(zygote, 9).exit_code, 0);
  if (pidfd >= 0) close(pidfd);
}

TEST_F(ZygoteLoopTest, LimitsApplyWithTheZygotesMappingsAddedToAddressSpace) {
  ZygoteLoopConfig config;
  config.baseline_address_space = 64 * kMiB;
  ZygoteProcess zygote(config);
  CallMessage limited = make_call(10);
  set_limit(&limited, control::kAddressSpace, 256 * kMiB);
  set_limit(&limited, control::kOpenFiles, 40);
  int call_fd = zygote.start_call(limited);
  int pidfd = expect_spawned(zygote, 10);
  EXPECT_EQ(ask(call_fd, 'a'), "as=" + std::to_string(320 * kMiB));
  EXPECT_EQ(read_line(call_fd), "nofile=40");
  end_call(call_fd, 0);
  expect_exited(zygote, 10);
  if (pidfd >= 0) close(pidfd);

  // Absent limits keep the zygote's own (this process's, inherited by fork).
  rlimit own_as{};
  rlimit own_nofile{};
  getrlimit(RLIMIT_AS, &own_as);
  getrlimit(RLIMIT_NOFILE, &own_nofile);
  call_fd = zygote.start_call(make_call(11));
  pidfd = expect_spawned(zygote, 11);
  EXPECT_EQ(ask(call_fd, 'a'), "as=" + std::to_string(static_cast<long long>(own_as.rlim_cur)));
  EXPECT_EQ(read_line(call_fd), "nofile=" + std::to_string(static_cast<long long>(own_nofile.rlim_cur)));
  end_call(call_fd, 0);
  expect_exited(zygote, 11);
  if (pidfd >= 0) close(pidfd);
}

TEST_F(ZygoteLoopTest, UnusableLimitsAreReportedAsSpawnFailures) {
  ZygoteProcess zygote({});
  struct {
    control::LimitIndex index;
    std::int64_t value;
    const char* name;
  } cases[] = {{control::kOpenFiles, -1, "open_files"}, {control::kFileSize, 0, "file_size"}};
  std::uint64_t id = 20;
  for (const auto& bad : cases) {
    CallMessage call = make_call(id);
    set_limit(&call, bad.index, bad.value);
    int call_fd = zygote.start_call(call);
    control::SpawnFailedReport failed = expect_spawn_failed(zygote, id);
    EXPECT_EQ(failed.error, EINVAL);
    std::string text(failed.text, strnlen(failed.text, sizeof failed.text));
    EXPECT_NE(text.find(bad.name), std::string::npos) << text;
    EXPECT_TRUE(sees_eof(call_fd)) << "the zygote kept the child's end of call " << id;
    close(call_fd);
    ++id;
  }
  ProbeResult result = zygote.finish();
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  EXPECT_EQ(result.at("spawn_failed"), 2);
  EXPECT_EQ(result.at("spawned"), 0);
  EXPECT_EQ(result.at("hooks_before"), 0);  // refused before any fork
}

TEST_F(ZygoteLoopTest, MalformedMessagesAreDroppedWithTheirDescriptorsClosed) {
  ZygoteProcess zygote({});
  struct Variant {
    std::string name;
    std::vector<unsigned char> bytes;
    int fd_count;
  };
  auto bytes_of = [](const CallMessage& call) {
    const auto* begin = reinterpret_cast<const unsigned char*>(&call);
    return std::vector<unsigned char>(begin, begin + sizeof call);
  };
  std::vector<Variant> variants;
  CallMessage call = make_call(30);
  variants.push_back({"valid call, two fds", bytes_of(call), 2});
  variants.push_back({"valid call, more fds than a message may carry", bytes_of(call), 6});
  variants.push_back({"valid call, no fd", bytes_of(call), 0});
  call.header.magic ^= 1;
  variants.push_back({"bad magic", bytes_of(call), 1});
  call = make_call(30);
  call.header.version = control::kVersion + 1;
  variants.push_back({"other version", bytes_of(call), 1});
  call = make_call(30);
  call.header.op = static_cast<Op>(99);
  variants.push_back({"unknown op", bytes_of(call), 1});
  call.header.op = Op::kSpawned;
  variants.push_back({"a report sent to the zygote", bytes_of(call), 1});
  call = make_call(30);
  call.flags = 2;
  variants.push_back({"unknown flag", bytes_of(call), 1});
  call = make_call(30);
  call.limits_present = 1u << control::kLimitCount;
  variants.push_back({"unknown limit", bytes_of(call), 1});
  std::vector<unsigned char> truncated = bytes_of(make_call(30));
  truncated.pop_back();
  variants.push_back({"one byte short", truncated, 1});
  std::vector<unsigned char> oversized = bytes_of(make_call(30));
  oversized.resize(control::kMaxMessageBytes * 4);
  variants.push_back({"oversized", oversized, 1});
  variants.push_back({"JSON", std::vector<unsigned char>{'{', '"', 'o', 'p', '"', ':', '1', '}'}, 1});
  variants.push_back({"empty", {}, 1});

  for (const Variant& variant : variants) {
    std::vector<int> read_ends;
    std::vector<int> write_ends;
    for (int i = 0; i < variant.fd_count; ++i) {
      int pipe_fds[2];
      ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
      read_ends.push_back(pipe_fds[0]);
      write_ends.push_back(pipe_fds[1]);
    }
    ASSERT_TRUE(send_message(zygote.gateway(), variant.bytes.data(), variant.bytes.size(), write_ends))
        << variant.name;
    for (int fd : write_ends) close(fd);
    for (int fd : read_ends) {
      EXPECT_TRUE(sees_eof(fd)) << variant.name << ": a descriptor stayed open in the zygote";
      close(fd);
    }
  }
  // Nothing was answered to any of them: the first report is the valid call's.
  int call_fd = zygote.start_call(make_call(31));
  int pidfd = expect_spawned(zygote, 31);
  end_call(call_fd, 0);
  expect_exited(zygote, 31);
  if (pidfd >= 0) close(pidfd);

  ProbeResult result = zygote.finish();
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  EXPECT_EQ(result.at("rejected"), static_cast<long long>(variants.size()));
  EXPECT_EQ(result.at("spawned"), 1);
}

TEST_F(ZygoteLoopTest, EndOfTheControlSocketEndsTheLoopAndItsCalls) {
  ZygoteProcess zygote({});
  int call_fd = zygote.start_call(make_call(40));
  int pidfd = expect_spawned(zygote, 40);
  ASSERT_GE(pidfd, 0);
  ProbeResult result = zygote.finish();
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  EXPECT_EQ(result.at("errno"), 0);
  // The live call dies with its zygote (parent-death signal): its pidfd turns readable.
  EXPECT_TRUE(readable_within(pidfd, kReportTimeoutMs));
  close(pidfd);
  close(call_fd);
}

TEST_F(ZygoteLoopTest, CallSlotsBoundLiveCallsAndAreFreedOnExit) {
  ZygoteLoopConfig config;
  config.call_slots = 1;
  ZygoteProcess zygote(config);
  int first = zygote.start_call(make_call(50));
  int first_pidfd = expect_spawned(zygote, 50);
  int refused = zygote.start_call(make_call(51));
  EXPECT_EQ(expect_spawn_failed(zygote, 51).error, EAGAIN);
  EXPECT_TRUE(sees_eof(refused));
  close(refused);
  end_call(first, 0);
  expect_exited(zygote, 50);
  int second = zygote.start_call(make_call(52));
  int second_pidfd = expect_spawned(zygote, 52);
  end_call(second, 0);
  expect_exited(zygote, 52);
  for (int fd : {first_pidfd, second_pidfd}) {
    if (fd >= 0) close(fd);
  }
}

class ZygoteLoopAsRoot : public ZygoteLoopTest {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "switching uid needs root";
    ZygoteLoopTest::SetUp();
  }
};

TEST_F(ZygoteLoopAsRoot, EachLiveCallHasItsOwnUidAndReapedSlotsAreReused) {
  constexpr long long kUidBase = 200000;
  ZygoteLoopConfig config;
  config.uid_base = kUidBase;
  ZygoteProcess zygote(config);
  const std::string first_uid = "uid=" + std::to_string(kUidBase);
  const std::string second_uid = "uid=" + std::to_string(kUidBase + 1);

  int a = zygote.start_call(make_call(60));
  int a_pidfd = expect_spawned(zygote, 60);
  EXPECT_EQ(ask(a, 'u'), first_uid);
  int b = zygote.start_call(make_call(61));
  int b_pidfd = expect_spawned(zygote, 61);
  EXPECT_EQ(ask(b, 'u'), second_uid);  // a is still alive: b gets the next slot
  end_call(a, 0);
  expect_exited(zygote, 60);
  int c = zygote.start_call(make_call(62));
  int c_pidfd = expect_spawned(zygote, 62);
  EXPECT_EQ(ask(c, 'u'), first_uid);  // a's slot, free again once reaped
  end_call(b, 0);
  expect_exited(zygote, 61);
  end_call(c, 0);
  expect_exited(zygote, 62);
  for (int fd : {a_pidfd, b_pidfd, c_pidfd}) {
    if (fd >= 0) close(fd);
  }
}

}  // namespace
}  // namespace sandgate::sandbox
