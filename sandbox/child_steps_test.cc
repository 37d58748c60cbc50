// Over 600 lines: every step is checked in a real call child, each probe with its own setup.
#include "sandbox/child_steps.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "sandbox/seccomp_profile.h"
#include "sandbox/spawn.h"
#include "sandbox/test_probe.h"

namespace sandgate::sandbox {
namespace {

using testing::can_create_pid_namespace;
using testing::collect;
using testing::ParkedThread;
using testing::ProbeResult;
using testing::report;
using testing::run_in_child;

constexpr int kNobody = 65534;

// Spawns a call child with `request` (plus the report pipe in keep_fds) and runs `probe` in it.
template <class Probe>
ProbeResult spawn_probe(SpawnRequest request, std::vector<int> keep, Probe probe) {
  int fds[2];
  if (pipe(fds) != 0) std::abort();
  keep.push_back(fds[1]);
  request.keep_fds = keep;
  PreparedSpawn spawn;
  Status status = spawn.prepare(request);
  if (!status.ok()) {
    close(fds[0]);
    close(fds[1]);
    ADD_FAILURE() << "prepare: " << status.what << " errno " << status.err;
    return {};
  }
  pid_t pid = spawn.spawn();
  if (pid == 0) {
    alarm(testing::kDefaultTimeoutSeconds + 2);
    _exit(probe(fds[1]));
  }
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    ADD_FAILURE() << "spawn: errno " << errno;
    return {};
  }
  return collect(pid, fds[0]);
}

// What a probe wrote to its call socket (the first kept descriptor) before it died.
struct ViolationProbe {
  ProbeResult result;
  std::string frames;
};

// spawn_probe with a call socket in front of the report pipe, read to EOF once the child is gone.
// Everything written to `fd` until its writers are gone (or 5 s pass without a byte).
std::string drain(int fd) {
  std::string out;
  for (;;) {
    pollfd readable{fd, POLLIN, 0};
    if (poll(&readable, 1, 5000) != 1) break;
    char buffer[256];
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

template <class Probe>
ViolationProbe spawn_violation_probe(SpawnRequest request, Probe probe) {
  int call[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, call) != 0) std::abort();
  ViolationProbe probed;
  probed.result = spawn_probe(request, {call[1]}, probe);
  close(call[1]);
  probed.frames = drain(call[0]);
  close(call[0]);
  return probed;
}

// The gateway's framing: a 4-byte big-endian length, then the JSON body.
std::string violation_frame(long nr) {
  std::string body = R"({"violation":{"syscall":)" + std::to_string(nr) + R"(,"arch":)" +
                     std::to_string(native_audit_arch()) + "}}";
  std::string frame(4, '\0');
  for (int i = 0; i < 4; ++i) frame[i] = static_cast<char>((body.size() >> (8 * (3 - i))) & 0xff);
  return frame + body;
}

std::string default_profile() {
  std::string bpf;
  EXPECT_TRUE(compile_seccomp_profile(kProfileDefault, &bpf).ok());
  return bpf;
}

// Lets every syscall through, so a probe can look at its SIGSYS disposition under "a filter".
const sock_filter kAllowAll[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
const std::string_view kAllowAllBpf(reinterpret_cast<const char*>(kAllowAll), sizeof kAllowAll);

// A call child with no report pipe at all (nothing kept unless `request` says so); its wait status.
template <class Probe>
int spawn_and_wait(SpawnRequest request, Probe probe) {
  PreparedSpawn spawn;
  Status status = spawn.prepare(request);
  if (!status.ok()) {
    ADD_FAILURE() << "prepare: " << status.what << " errno " << status.err;
    return -1;
  }
  pid_t pid = spawn.spawn();
  if (pid == 0) _exit(probe());
  int wait_status = -1;
  if (pid < 0 || waitpid(pid, &wait_status, 0) != pid) ADD_FAILURE() << "spawn/wait: errno " << errno;
  return wait_status;
}

// Exit code of a probe whose SIGSYS disposition was what the test expected.
constexpr int kDispositionAsExpected = 0;

void report_limit(int fd, const char* name, int resource) {
  rlimit limit{};
  getrlimit(resource, &limit);
  report(fd, (std::string(name) + ".soft").c_str(), static_cast<long long>(limit.rlim_cur));
  report(fd, (std::string(name) + ".hard").c_str(), static_cast<long long>(limit.rlim_max));
}

bool is_dev_null(int fd) {
  struct stat info{};
  return fstat(fd, &info) == 0 && S_ISCHR(info.st_mode) && info.st_rdev == makedev(1, 3);
}

class ChildSteps : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!can_create_pid_namespace()) GTEST_SKIP() << "creating a PID namespace is not permitted here";
  }
};

TEST(ChildStepCodes, StepNamesMatchTheirExitCodes) {
  EXPECT_STREQ(child_step_name(static_cast<int>(ChildStep::kNewSession)), "new_session");
  EXPECT_STREQ(child_step_name(static_cast<int>(ChildStep::kSeccomp)), "seccomp");
  EXPECT_EQ(child_step_name(0), nullptr);
  EXPECT_EQ(child_step_name(kStepCount + 1), nullptr);
  EXPECT_EQ(kStepExitBase + static_cast<int>(ChildStep::kSeccomp), 128);
  EXPECT_STREQ(child_step_name(static_cast<int>(ChildStep::kViolationReport)), "violation_report");
  EXPECT_EQ(kStepExitBase + static_cast<int>(ChildStep::kViolationReport), 130);
}

TEST_F(ChildSteps, ResourceLimitsAreVisibleInTheChild) {
  SpawnRequest request;
  request.limits = {.address_space = 1LL << 30, .cpu_seconds = 7, .open_files = 40, .processes = 50,
                    .file_size = 1 << 20};
  ProbeResult result = spawn_probe(request, {}, [](int fd) {
    report_limit(fd, "as", RLIMIT_AS);
    report_limit(fd, "cpu", RLIMIT_CPU);
    report_limit(fd, "nofile", RLIMIT_NOFILE);
    report_limit(fd, "nproc", RLIMIT_NPROC);
    report_limit(fd, "fsize", RLIMIT_FSIZE);
    report_limit(fd, "core", RLIMIT_CORE);
    return 0;
  });
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  EXPECT_EQ(result.at("as.soft"), 1LL << 30);
  EXPECT_EQ(result.at("as.hard"), 1LL << 30);
  EXPECT_EQ(result.at("cpu.soft"), 7);
  EXPECT_EQ(result.at("cpu.hard"), 8);  // SIGXCPU first, SIGKILL a second later
  EXPECT_EQ(result.at("nofile.soft"), 40);
  EXPECT_EQ(result.at("nofile.hard"), 40);
  EXPECT_EQ(result.at("nproc.soft"), 50);
  EXPECT_EQ(result.at("fsize.soft"), 1 << 20);
  EXPECT_EQ(result.at("core.soft"), 0);
  EXPECT_EQ(result.at("core.hard"), 0);
}

TEST_F(ChildSteps, AddressSpaceLimitRefusesABiggerMapping) {
  SpawnRequest request;
  request.limits.address_space = 1LL << 30;
  ProbeResult result = spawn_probe(request, {}, [](int fd) {
    void* big = mmap(nullptr, 2UL << 30, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    report(fd, "mmap_errno", big == MAP_FAILED ? errno : 0);
    return 0;
  });
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  EXPECT_EQ(result.at("mmap_errno"), ENOMEM);
}

TEST_F(ChildSteps, LimitAboveTheInheritedHardLimitIsLowered) {
  ProbeResult outer = run_in_child([](int fd) {
    rlimit low{64, 64};
    if (setrlimit(RLIMIT_NOFILE, &low) != 0) return 1;
    SpawnRequest request;
    request.limits.open_files = 1000;
    ProbeResult inner = spawn_probe(request, {}, [](int inner_fd) {
      report_limit(inner_fd, "nofile", RLIMIT_NOFILE);
      return 0;
    });
    report(fd, "inner_ok", inner.exited_with(0));
    report(fd, "soft", inner.at("nofile.soft"));
    report(fd, "hard", inner.at("nofile.hard"));
    return 0;
  });
  ASSERT_TRUE(outer.exited_with(0)) << outer.describe();
  EXPECT_EQ(outer.at("inner_ok"), 1);
  EXPECT_EQ(outer.at("soft"), 64);
  EXPECT_EQ(outer.at("hard"), 64);
}

TEST(SpawnPrepare, BadRequestsAreRefusedBeforeForking) {
  PreparedSpawn spawn;
  SpawnRequest request;
  request.limits.cpu_seconds = -1;
  EXPECT_EQ(spawn.prepare(request).code, Code::kInvalidArgument);

  request = SpawnRequest{};
  int closed_fd = 987;
  request.keep_fds = std::span<const int>(&closed_fd, 1);
  Status status = spawn.prepare(request);
  EXPECT_EQ(status.code, Code::kSystem);
  EXPECT_EQ(status.err, EBADF);

  request = SpawnRequest{};
  std::string odd_filter(12, '\0');  // not a whole number of instructions
  request.seccomp_bpf = odd_filter;
  EXPECT_EQ(spawn.prepare(request).code, Code::kInvalidArgument);

  request = SpawnRequest{};
  request.uid = -2;
  EXPECT_EQ(spawn.prepare(request).code, Code::kInvalidArgument);
}

TEST(SpawnPrepare, TooManyKeptDescriptorsAreRefused) {
  std::vector<int> many;
  for (int fd = 0; fd < 3; ++fd) many.push_back(fd);
  while (many.size() <= static_cast<std::size_t>(FdPlan::kMaxKept)) many.push_back(dup(0));
  SpawnRequest request;
  request.keep_fds = many;
  PreparedSpawn spawn;
  EXPECT_EQ(spawn.prepare(request).code, Code::kInvalidArgument);
  for (std::size_t i = 3; i < many.size(); ++i) close(many[i]);
}

// Enough for a few small files; a private tmpfs of its own, never the host's /tmp.
constexpr unsigned long long kScratchBytes = 1 << 20;
constexpr const char kRelativeFile[] = "sandgate-relative-write";

TEST_F(ChildSteps, PrivateScratchIsAlsoTheWorkingDirectory) {
  // Stands in for the zygote's shared scratch, its working directory while it forks calls.
  char shared[] = "/tmp/sandgate-shared-XXXXXX";
  ASSERT_NE(mkdtemp(shared), nullptr);
  const std::string leaked = std::string(shared) + "/" + kRelativeFile;
  ProbeResult outer = run_in_child([&](int fd) {
    if (chdir(shared) != 0) return 1;
    SpawnRequest request;
    request.private_scratch_bytes = kScratchBytes;
    ProbeResult inner = spawn_probe(request, {}, [](int inner_fd) {
      int file = open(kRelativeFile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      report(inner_fd, "created", file >= 0);
      struct stat info {};
      report(inner_fd, "in_private_tmp", stat((std::string("/tmp/") + kRelativeFile).c_str(), &info) == 0);
      char cwd[64] = {};
      report(inner_fd, "cwd_is_tmp", getcwd(cwd, sizeof cwd) != nullptr && std::string(cwd) == "/tmp");
      return 0;
    });
    report(fd, "inner_exited_0", inner.exited_with(0));
    for (const char* key : {"created", "in_private_tmp", "cwd_is_tmp"}) report(fd, key, inner.at(key));
    return 0;
  });
  const bool reached_shared = access(leaked.c_str(), F_OK) == 0;
  unlink(leaked.c_str());
  rmdir(shared);
  ASSERT_TRUE(outer.exited_with(0)) << outer.describe();
  EXPECT_EQ(outer.at("inner_exited_0"), 1) << outer.describe();
  EXPECT_EQ(outer.at("created"), 1);
  EXPECT_EQ(outer.at("in_private_tmp"), 1);
  EXPECT_EQ(outer.at("cwd_is_tmp"), 1);
  EXPECT_FALSE(reached_shared) << "a relative path of the call landed in the zygote's shared scratch";
}

TEST_F(ChildSteps, ChildIsContainedBeforeItRuns) {
  std::string bpf;
  ASSERT_TRUE(compile_seccomp_profile(kProfileDefault, &bpf).ok());
  SpawnRequest request;
  request.seccomp_bpf = bpf;
  ProbeResult result = spawn_probe(request, {}, [](int fd) {
    report(fd, "pid", getpid());
    report(fd, "own_session", getsid(0) == getpid() && getpgrp() == getpid());
    int signal = 0;
    prctl(PR_GET_PDEATHSIG, &signal, 0, 0, 0);
    report(fd, "pdeathsig", signal);
    report(fd, "dumpable", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
    report(fd, "no_new_privs", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    report(fd, "seccomp_mode", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
    return 0;
  });
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  EXPECT_EQ(result.at("pid"), 1);  // PID 1 of its own PID namespace
  EXPECT_EQ(result.at("own_session"), 1);
  EXPECT_EQ(result.at("pdeathsig"), SIGKILL);
  EXPECT_EQ(result.at("dumpable"), 0);
  EXPECT_EQ(result.at("no_new_privs"), 1);
  EXPECT_EQ(result.at("seccomp_mode"), SECCOMP_MODE_FILTER);
}

TEST(SpawnWithoutPidNamespace, ParentIsVisible) {
  SpawnRequest request;
  request.new_pid_namespace = false;
  ProbeResult result = spawn_probe(request, {}, [](int fd) {
    report(fd, "pid", getpid());
    report(fd, "ppid", getppid());
    return 0;
  });
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  EXPECT_NE(result.at("pid"), 1);
  EXPECT_EQ(result.at("ppid"), getpid());
}

TEST_F(ChildSteps, OnlyKeptDescriptorsSurviveAndStdioIsDevNull) {
  int stray = open("/dev/zero", O_RDONLY);  // no O_CLOEXEC: only the child steps can close it
  int kept = open("/dev/zero", O_RDONLY);
  ASSERT_GE(stray, 3);
  ASSERT_GE(kept, 3);
  ProbeResult result = spawn_probe(SpawnRequest{}, {kept}, [&](int fd) {
    report(fd, "stray_open", fcntl(stray, F_GETFD) >= 0);
    report(fd, "kept_open", fcntl(kept, F_GETFD) >= 0);
    report(fd, "high_fds_closed", fcntl(fd + 1, F_GETFD) < 0 && fcntl(fd + 100, F_GETFD) < 0);
    report(fd, "stdio_dev_null", is_dev_null(0) && is_dev_null(1) && is_dev_null(2));
    return 0;
  });
  close(stray);
  close(kept);
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  EXPECT_EQ(result.at("stray_open"), 0);
  EXPECT_EQ(result.at("kept_open"), 1);
  EXPECT_EQ(result.at("high_fds_closed"), 1);
  EXPECT_EQ(result.at("stdio_dev_null"), 1);
}

TEST_F(ChildSteps, NamedStdioIsKept) {
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  int saved_stdout = dup(1);
  ASSERT_EQ(dup2(out[1], 1), 1);
  ProbeResult result = spawn_probe(SpawnRequest{}, {1}, [](int fd) {
    report(fd, "stdout_dev_null", is_dev_null(1));
    report(fd, "stdin_dev_null", is_dev_null(0));
    return 0;
  });
  dup2(saved_stdout, 1);
  close(saved_stdout);
  close(out[0]);
  close(out[1]);
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  EXPECT_EQ(result.at("stdout_dev_null"), 0);
  EXPECT_EQ(result.at("stdin_dev_null"), 1);
}

TEST_F(ChildSteps, EverythingTheCallStartsDiesWithIt) {
  int daemon_pipe[2];
  ASSERT_EQ(pipe(daemon_pipe), 0);
  ProbeResult result = spawn_probe(SpawnRequest{}, {daemon_pipe[1]}, [&](int fd) {
    // A double-forked daemon in a new session, holding the pipe open for a minute.
    pid_t first = fork();
    if (first == 0) {
      setsid();
      if (fork() == 0) {
        sleep(60);
        _exit(0);
      }
      _exit(0);
    }
    waitpid(first, nullptr, 0);
    report(fd, "forked", first > 0);
    return 0;
  });
  close(daemon_pipe[1]);
  pollfd closed{daemon_pipe[0], POLLIN, 0};
  int ready = poll(&closed, 1, 5000);  // EOF once the daemon is gone
  char byte;
  bool eof = ready == 1 && read(daemon_pipe[0], &byte, 1) == 0;
  close(daemon_pipe[0]);
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  EXPECT_EQ(result.at("forked"), 1);
  EXPECT_TRUE(eof) << "the daemon outlived PID 1 of its namespace";
}

TEST_F(ChildSteps, CallDiesWithItsParent) {
  int held[2];
  ASSERT_EQ(pipe(held), 0);
  ProbeResult helper = run_in_child([&](int) {
    SpawnRequest request;
    request.keep_fds = std::span<const int>(&held[1], 1);
    PreparedSpawn spawn;
    if (!spawn.prepare(request).ok()) return 1;
    if (spawn.spawn() == 0) {
      sleep(60);  // holds held[1] until PDEATHSIG ends it
      _exit(0);
    }
    return 0;  // the parent leaves at once
  });
  close(held[1]);
  pollfd closed{held[0], POLLIN, 0};
  int ready = poll(&closed, 1, 5000);
  char byte;
  bool eof = ready == 1 && read(held[0], &byte, 1) == 0;
  close(held[0]);
  ASSERT_TRUE(helper.exited_with(0)) << helper.describe();
  EXPECT_TRUE(eof) << "the call outlived its parent";
}

TEST_F(ChildSteps, FailingStepExitsWithItsCode) {
  // A lone "load A" instruction: not a valid program, so step 8 fails.
  const sock_filter invalid[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0)};
  SpawnRequest request;
  request.seccomp_bpf = std::string_view(reinterpret_cast<const char*>(invalid), sizeof invalid);
  ProbeResult result = spawn_probe(request, {}, [](int fd) {
    report(fd, "ran", 1);
    return 0;
  });
  EXPECT_TRUE(result.exited_with(kStepExitBase + static_cast<int>(ChildStep::kSeccomp))) << result.describe();
  EXPECT_FALSE(result.has("ran"));
}

TEST_F(ChildSteps, ViolationIsReportedThenKillsPidOne) {
  std::string bpf = default_profile();
  SpawnRequest request;
  request.seccomp_bpf = bpf;
  ViolationProbe probed = spawn_violation_probe(request, [](int fd) {
    report(fd, "pid", getpid());
    const char* argv[] = {"true", nullptr};
    syscall(SYS_execve, "/bin/true", argv, nullptr);
    report(fd, "survived", 1);
    return 0;
  });
  EXPECT_EQ(probed.result.at("pid"), 1);
  EXPECT_TRUE(probed.result.killed_by(SIGSYS)) << probed.result.describe();
  EXPECT_FALSE(probed.result.has("survived"));
  EXPECT_EQ(probed.frames, violation_frame(SYS_execve));
}

TEST(SpawnWithoutPidNamespace, ViolationIsReportedThenKills) {
  std::string bpf = default_profile();
  SpawnRequest request;
  request.seccomp_bpf = bpf;
  request.new_pid_namespace = false;
  ViolationProbe probed = spawn_violation_probe(request, [](int fd) {
    report(fd, "pid", getpid());
    syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
    report(fd, "survived", 1);
    return 0;
  });
  EXPECT_NE(probed.result.at("pid"), 1);
  EXPECT_TRUE(probed.result.killed_by(SIGSYS)) << probed.result.describe();
  EXPECT_FALSE(probed.result.has("survived"));
  EXPECT_EQ(probed.frames, violation_frame(SYS_ptrace));
}

TEST_F(ChildSteps, ViolationInAnotherThreadIsReportedThenKillsTheProcess) {
  std::string bpf = default_profile();
  SpawnRequest request;
  request.seccomp_bpf = bpf;
  ViolationProbe probed = spawn_violation_probe(request, [](int fd) {
    pthread_t thread;
    int rc = pthread_create(&thread, nullptr, [](void*) -> void* {
      syscall(SYS_bpf, 0, nullptr, 0);
      return nullptr;
    }, nullptr);
    report(fd, "thread", rc == 0);
    if (rc == 0) pthread_join(thread, nullptr);
    report(fd, "survived", 1);
    return 0;
  });
  EXPECT_EQ(probed.result.at("thread"), 1);
  EXPECT_TRUE(probed.result.killed_by(SIGSYS)) << probed.result.describe();
  EXPECT_FALSE(probed.result.has("survived"));
  EXPECT_EQ(probed.frames, violation_frame(SYS_bpf));
}

TEST_F(ChildSteps, BlockedSigsysStillKillsUnreported) {
  std::string bpf = default_profile();
  SpawnRequest request;
  request.seccomp_bpf = bpf;
  ViolationProbe probed = spawn_violation_probe(request, [](int fd) {
    sigset_t sigsys;
    sigemptyset(&sigsys);
    sigaddset(&sigsys, SIGSYS);
    report(fd, "blocked", sigprocmask(SIG_BLOCK, &sigsys, nullptr) == 0);
    syscall(SYS_unshare, CLONE_NEWNET);  // the kernel unblocks a forced SIGSYS and resets it to SIG_DFL
    report(fd, "survived", 1);
    return 0;
  });
  EXPECT_EQ(probed.result.at("blocked"), 1);
  EXPECT_TRUE(probed.result.killed_by(SIGSYS)) << probed.result.describe();
  EXPECT_FALSE(probed.result.has("survived"));
  EXPECT_EQ(probed.frames, "");
}

TEST_F(ChildSteps, ReplacingOrQueryingTheReportHandlerKillsUnreported) {
  std::string bpf = default_profile();
  SpawnRequest request;
  request.seccomp_bpf = bpf;
  for (bool query : {false, true}) {
    ViolationProbe probed = spawn_violation_probe(request, [&](int fd) {
      report(fd, "armed", 1);
      struct sigaction current {};
      if (query) {
        sigaction(SIGSYS, nullptr, &current);
      } else {
        signal(SIGSYS, SIG_IGN);
      }
      report(fd, "survived", 1);
      return 0;
    });
    EXPECT_EQ(probed.result.at("armed"), 1);
    EXPECT_TRUE(probed.result.killed_by(SIGSYS)) << (query ? "query: " : "replace: ") << probed.result.describe();
    EXPECT_FALSE(probed.result.has("survived"));
    EXPECT_EQ(probed.frames, "");
  }
}

TEST_F(ChildSteps, SelfSentSigsysKillsUnreported) {
  std::string bpf = default_profile();
  SpawnRequest request;
  request.seccomp_bpf = bpf;
  ViolationProbe probed = spawn_violation_probe(request, [](int fd) {
    report(fd, "armed", 1);
    kill(getpid(), SIGSYS);  // si_code SI_USER: nothing the kernel said about a syscall
    report(fd, "survived", 1);
    return 0;
  });
  EXPECT_EQ(probed.result.at("armed"), 1);
  EXPECT_TRUE(probed.result.killed_by(SIGSYS)) << probed.result.describe();
  EXPECT_EQ(probed.frames, "");
}

// Why the handler ends the process through the filter: PID 1 survives its own raise(SIGSYS).
TEST_F(ChildSteps, PidOneSurvivesRaisingSigsys) {
  ProbeResult result = spawn_probe(SpawnRequest{}, {}, [](int fd) {
    report(fd, "pid", getpid());
    report(fd, "raised", raise(SIGSYS) == 0);
    report(fd, "survived", 1);
    return 0;
  });
  EXPECT_EQ(result.at("pid"), 1);
  EXPECT_TRUE(result.exited_with(0)) << result.describe();
  EXPECT_EQ(result.at("raised"), 1);
  EXPECT_EQ(result.at("survived"), 1);
}

TEST_F(ChildSteps, TrapWithoutAHandlerKillsPidOne) {
  std::string bpf = default_profile();
  SpawnRequest request;
  request.seccomp_bpf = bpf;  // nothing kept: no call socket, so no handler
  int status = spawn_and_wait(request, [] {
    if (getpid() != 1) return 3;
    syscall(SYS_keyctl, 0, 0, 0, 0, 0);
    return 0;
  });
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) << "wait status " << status;
}

TEST_F(ChildSteps, ReportHandlerNeedsAFilterAndACallSocket) {
  int call[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, call), 0);
  auto sigsys_is_default = [] {
    struct sigaction current {};
    if (sigaction(SIGSYS, nullptr, &current) != 0) return 2;
    return current.sa_handler == SIG_DFL ? kDispositionAsExpected : 1;
  };
  auto sigsys_reports = [] {
    struct sigaction current {};
    if (sigaction(SIGSYS, nullptr, &current) != 0) return 2;
    bool flags = (current.sa_flags & (SA_SIGINFO | SA_RESETHAND)) == (SA_SIGINFO | SA_RESETHAND) &&
                 (current.sa_flags & SA_NODEFER) == 0;
    bool handler = current.sa_handler != SIG_DFL && current.sa_handler != SIG_IGN;
    return flags && handler && sigismember(&current.sa_mask, SIGTERM) == 1 ? kDispositionAsExpected : 1;
  };
  SpawnRequest request;
  request.seccomp_bpf = kAllowAllBpf;  // nothing kept
  int without_socket = spawn_and_wait(request, sigsys_is_default);
  EXPECT_TRUE(WIFEXITED(without_socket) && WEXITSTATUS(without_socket) == kDispositionAsExpected) << without_socket;

  request.keep_fds = std::span<const int>(&call[1], 1);
  int with_socket = spawn_and_wait(request, sigsys_reports);
  EXPECT_TRUE(WIFEXITED(with_socket) && WEXITSTATUS(with_socket) == kDispositionAsExpected) << with_socket;

  request.seccomp_bpf = {};  // a call socket but no filter
  int without_filter = spawn_and_wait(request, sigsys_is_default);
  EXPECT_TRUE(WIFEXITED(without_filter) && WEXITSTATUS(without_filter) == kDispositionAsExpected) << without_filter;
  close(call[0]);
  close(call[1]);
}

TEST_F(ChildSteps, CpuLimitEndsPidOne) {
  SpawnRequest request;
  request.limits.cpu_seconds = 1;
  ProbeResult result = spawn_probe(request, {}, [](int fd) {
    report(fd, "pid", getpid());
    volatile unsigned long spin = 0;
    for (;;) spin = spin + 1;
    return 0;
  });
  EXPECT_EQ(result.at("pid"), 1);
  // PID 1 of a namespace ignores SIGXCPU without a handler; the hard limit's SIGKILL ends it.
  EXPECT_TRUE(result.killed_by(SIGKILL)) << result.describe();
}

TEST_F(ChildSteps, GlibcStateFollowsTheRawClone) {
  ProbeResult result = spawn_probe(SpawnRequest{}, {}, [](int fd) {
    pid_t* tid_address = nullptr;
    prctl(PR_GET_TID_ADDRESS, &tid_address, 0, 0, 0);
    report(fd, "glibc_tid", tid_address != nullptr ? *tid_address : -1);
    void* head = nullptr;
    size_t length = 0;
    syscall(SYS_get_robust_list, 0, &head, &length);
    report(fd, "robust_list", head != nullptr);
    pthread_t thread;
    int rc = pthread_create(&thread, nullptr, [](void*) -> void* { return nullptr; }, nullptr);
    report(fd, "thread", rc == 0 && pthread_join(thread, nullptr) == 0);
    return 0;
  });
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  EXPECT_EQ(result.at("glibc_tid"), 1);
  EXPECT_EQ(result.at("robust_list"), 1);
  EXPECT_EQ(result.at("thread"), 1);
}

TEST(SpawnPrepare, RefusesAMultiThreadedParent) {
  ProbeResult result = run_in_child([](int fd) {
    ParkedThread parked;
    if (!parked.started()) return 1;
    PreparedSpawn spawn;
    report(fd, "code", static_cast<int>(spawn.prepare(SpawnRequest{}).code));
    return 0;
  });
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  EXPECT_EQ(result.at("code"), static_cast<int>(Code::kNotSingleThreaded));
}

class AsRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "switching uid needs root";
  }
};

TEST_F(AsRoot, DropsToTheGivenIdsWithNoCapabilities) {
  SpawnRequest request;
  request.uid = kNobody;
  request.gid = kNobody;
  ProbeResult result = spawn_probe(request, {}, [](int fd) {
    uid_t ruid, euid, suid;
    getresuid(&ruid, &euid, &suid);
    report(fd, "uids", ruid == kNobody && euid == kNobody && suid == kNobody);
    gid_t rgid, egid, sgid;
    getresgid(&rgid, &egid, &sgid);
    report(fd, "gids", rgid == kNobody && egid == kNobody && sgid == kNobody);
    report(fd, "groups", getgroups(0, nullptr));
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    syscall(SYS_capget, &header, data);
    report(fd, "caps", data[0].effective | data[0].permitted | data[0].inheritable | data[1].effective |
                           data[1].permitted | data[1].inheritable);
    report(fd, "bounding_sys_admin", prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0));
    report(fd, "noroot_locked", (prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) & (SECBIT_NOROOT | SECBIT_NOROOT_LOCKED)) ==
                                    (SECBIT_NOROOT | SECBIT_NOROOT_LOCKED));
    int signal = 0;
    prctl(PR_GET_PDEATHSIG, &signal, 0, 0, 0);
    report(fd, "pdeathsig", signal);  // cleared by the uid change, armed again
    report(fd, "dumpable", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
    return 0;
  });
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  EXPECT_EQ(result.at("uids"), 1);
  EXPECT_EQ(result.at("gids"), 1);
  EXPECT_EQ(result.at("groups"), 0);
  EXPECT_EQ(result.at("caps"), 0);
  EXPECT_EQ(result.at("bounding_sys_admin"), 0);
  EXPECT_EQ(result.at("noroot_locked"), 1);
  EXPECT_EQ(result.at("pdeathsig"), SIGKILL);
  EXPECT_EQ(result.at("dumpable"), 0);
}

TEST_F(AsRoot, ProcessLimitBoundsForksOfAnUnprivilegedUid) {
  SpawnRequest request;
  request.uid = kNobody;
  request.gid = kNobody;
  request.limits.processes = 4;
  ProbeResult result = spawn_probe(request, {}, [](int fd) {
    int forks = 0;
    int error = 0;
    for (int i = 0; i < 20; ++i) {
      pid_t pid = fork();
      if (pid == 0) {
        pause();  // killed with the PID namespace when PID 1 exits
        _exit(0);
      }
      if (pid < 0) {
        error = errno;
        break;
      }
      ++forks;
    }
    report(fd, "forks", forks);
    report(fd, "errno", error);
    return 0;
  });
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  EXPECT_LE(result.at("forks"), 3);  // the call itself is the fourth process of the uid
  EXPECT_EQ(result.at("errno"), EAGAIN);
}

// As the zygote runs it: no_new_privs and the "zygote" profile, inherited by every call it forks.
bool confine_like_the_zygote() {
  std::string bpf;
  if (!compile_seccomp_profile(kProfileZygote, &bpf).ok()) return false;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
  // Deliberately leaked: the process lives only as long as the probe, and the kernel copied the program.
  return install_seccomp_filter(reinterpret_cast<const sock_filter*>(bpf.data()),
                                static_cast<unsigned short>(bpf.size() / sizeof(sock_filter)));
}

TEST_F(AsRoot, EveryStepPassesUnderTheZygoteProfile) {
  ProbeResult outer = run_in_child([](int fd) {
    if (!confine_like_the_zygote()) return 1;
    std::string bpf;
    if (!compile_seccomp_profile(kProfileDefault, &bpf).ok()) return 2;
    SpawnRequest request;  // everything the zygote loop asks for
    request.seccomp_bpf = bpf;
    request.uid = kNobody;
    request.gid = kNobody;
    request.private_scratch_bytes = kScratchBytes;
    request.limits.open_files = 64;
    ProbeResult inner = spawn_probe(request, {}, [](int inner_fd) {
      report(inner_fd, "pid", getpid());
      report(inner_fd, "uid", getuid());
      report(inner_fd, "seccomp_mode", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
      report(inner_fd, "scratch_writable", access("/tmp", W_OK) == 0);
      return 0;
    });
    report(fd, "inner_exited_0", inner.exited_with(0));
    report(fd, "inner_status", inner.status);
    for (const char* key : {"pid", "uid", "seccomp_mode", "scratch_writable"}) report(fd, key, inner.at(key));
    return 0;
  });
  ASSERT_TRUE(outer.exited_with(0)) << outer.describe();
  EXPECT_EQ(outer.at("inner_exited_0"), 1) << outer.describe();  // exit 120+n: step n was refused
  EXPECT_EQ(outer.at("pid"), 1);
  EXPECT_EQ(outer.at("uid"), kNobody);
  EXPECT_EQ(outer.at("seccomp_mode"), SECCOMP_MODE_FILTER);
  EXPECT_EQ(outer.at("scratch_writable"), 1);
}

// Stacked filters: the zygote's TRAP equals the call's, so the call's handler still names the syscall.
TEST_F(AsRoot, ViolationUnderBothProfilesIsReported) {
  int call[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, call), 0);
  ProbeResult outer = run_in_child([&](int fd) {
    close(call[0]);
    if (!confine_like_the_zygote()) return 1;
    std::string bpf;
    if (!compile_seccomp_profile(kProfileDefault, &bpf).ok()) return 2;
    SpawnRequest request;
    request.seccomp_bpf = bpf;
    request.private_scratch_bytes = kScratchBytes;
    ProbeResult inner = spawn_probe(request, {call[1]}, [](int inner_fd) {
      report(inner_fd, "armed", 1);
      syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
      report(inner_fd, "survived", 1);
      return 0;
    });
    report(fd, "killed_by_sigsys", inner.killed_by(SIGSYS));
    report(fd, "armed", inner.at("armed"));
    report(fd, "survived", inner.has("survived"));
    return 0;
  });
  close(call[1]);
  const std::string frames = drain(call[0]);
  close(call[0]);
  ASSERT_TRUE(outer.exited_with(0)) << outer.describe();
  EXPECT_EQ(outer.at("armed"), 1);
  EXPECT_EQ(outer.at("killed_by_sigsys"), 1) << outer.describe();
  EXPECT_EQ(outer.at("survived"), 0);
  EXPECT_EQ(frames, violation_frame(SYS_ptrace));
}

}  // namespace
}  // namespace sandgate::sandbox
