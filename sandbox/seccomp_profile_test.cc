#include "sandbox/seccomp_profile.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <ostream>
#include <string>

#include "sandbox/child_steps.h"
#include "sandbox/test_probe.h"

namespace sandgate::sandbox {
namespace {

using testing::ProbeResult;
using testing::report;
using testing::run_in_child;

constexpr unsigned long long kHighBits = 0xffffffff00000000ULL;

std::string default_profile() {
  std::string bpf;
  Status status = compile_seccomp_profile(kProfileDefault, &bpf);
  EXPECT_TRUE(status.ok()) << status.what;
  return bpf;
}

// Exit code of a probe whose SIGSYS handler saw a trap (the filter said SECCOMP_RET_TRAP).
constexpr int kTrappedExit = 77;
constexpr int kSeccompSigsysCode = 1;  // SYS_SECCOMP, the si_code of a trap
// A signal handler takes no context argument: where it reports has to be a global.
int trap_report_fd = -1;

void report_trap(int, siginfo_t* info, void*) {
  report(trap_report_fd, "si_code", info->si_code);
  report(trap_report_fd, "syscall", info->si_syscall);
  report(trap_report_fd, "arch", info->si_arch);
  _exit(kTrappedExit);
}

enum class Sigsys { kDefault, kReportTrap };

// Runs `body` in a child under the default profile; exit code 90/91: the filter did not install.
template <class Body>
ProbeResult under_default_profile(const std::string& bpf, Body body, Sigsys sigsys = Sigsys::kDefault) {
  return run_in_child([&](int fd) {
    if (sigsys == Sigsys::kReportTrap) {
      trap_report_fd = fd;
      struct sigaction action {};
      action.sa_sigaction = report_trap;
      action.sa_flags = SA_SIGINFO;
      if (sigaction(SIGSYS, &action, nullptr) != 0) return 89;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 90;
    const auto* filter = reinterpret_cast<const sock_filter*>(bpf.data());
    if (!install_seccomp_filter(filter, static_cast<unsigned short>(bpf.size() / sizeof(sock_filter)))) return 91;
    return body(fd);
  });
}

// A probe body that makes one forbidden call: "armed" first, "returned" only if the process survives it.
auto arm_then(long (*call)()) {
  return [call](int fd) {
    report(fd, "armed", 1);
    report(fd, "returned", call());
    return 0;
  };
}

TEST(SeccompProfile, DefaultIsWholeInstructionsWithinTheKernelLimit) {
  std::string bpf = default_profile();
  EXPECT_GT(bpf.size(), 0u);
  EXPECT_EQ(bpf.size() % sizeof(sock_filter), 0u);
  EXPECT_LE(bpf.size() / sizeof(sock_filter), static_cast<std::size_t>(BPF_MAXINSNS));
}

TEST(SeccompProfile, NoneIsEmptyAndUnknownIsInvalid) {
  std::string bpf = "stale";
  EXPECT_TRUE(compile_seccomp_profile(kProfileNone, &bpf).ok());
  EXPECT_TRUE(bpf.empty());
  EXPECT_EQ(compile_seccomp_profile("defaults", &bpf).code, Code::kInvalidArgument);
}

TEST(SeccompProfile, SyscallNames) {
  EXPECT_EQ(syscall_name(SYS_execve), "execve");
  EXPECT_EQ(syscall_name(SYS_clone3), "clone3");
#if defined(__x86_64__)
  EXPECT_EQ(syscall_name(59), "execve");
#endif
  EXPECT_EQ(syscall_name(-7), "");
  EXPECT_EQ(syscall_name(100000), "");
}

struct Attempt {
  const char* name;
  long (*call)();
  int expected_errno = 0;  // 0: the process must die of SIGSYS
};

// A syscall the filter traps: SIGSYS to the process, which must report `nr` before it dies.
struct Violation {
  const char* name;
  long (*call)();
  long nr;
};

template <class Case>
std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.name;
}

// Names the case in test listings instead of dumping its bytes.
void PrintTo(const Attempt& attempt, std::ostream* out) { *out << attempt.name; }
void PrintTo(const Violation& violation, std::ostream* out) { *out << violation.name; }

#if defined(__x86_64__)
long i386_getpid() {
  long result;
  asm volatile("int $0x80" : "=a"(result) : "a"(20L) : "memory", "r8", "r9", "r10", "r11");
  return result;
}
#endif

const char* const kArgv[] = {"true", nullptr};

const Violation kTrapped[] = {
    {"execve", [] { return syscall(SYS_execve, "/bin/true", kArgv, nullptr); }, SYS_execve},
    {"execveat", [] { return syscall(SYS_execveat, AT_FDCWD, "/bin/true", kArgv, nullptr, 0); }, SYS_execveat},
    {"ptrace", [] { return syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0); }, SYS_ptrace},
    {"process_vm_readv", [] { return syscall(SYS_process_vm_readv, getppid(), nullptr, 0, nullptr, 0, 0); },
     SYS_process_vm_readv},
    {"pidfd_getfd", [] { return syscall(SYS_pidfd_getfd, -1, 0, 0); }, SYS_pidfd_getfd},
    {"unshare_net", [] { return syscall(SYS_unshare, CLONE_NEWNET); }, SYS_unshare},
    {"setns", [] { return syscall(SYS_setns, -1, 0); }, SYS_setns},
    {"mount", [] { return syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, nullptr); }, SYS_mount},
    {"umount2", [] { return syscall(SYS_umount2, "/tmp", MNT_DETACH); }, SYS_umount2},
    {"pivot_root", [] { return syscall(SYS_pivot_root, ".", "."); }, SYS_pivot_root},
    {"chroot", [] { return syscall(SYS_chroot, "/"); }, SYS_chroot},
    {"fsopen", [] { return syscall(SYS_fsopen, "tmpfs", 0); }, SYS_fsopen},
    {"clone_newnet", [] { return syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0); }, SYS_clone},
    {"clone_newpid", [] { return syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0); }, SYS_clone},
    {"clone_newuser_high_bits", [] { return syscall(SYS_clone, kHighBits | CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0); },
     SYS_clone},
    {"bpf", [] { return syscall(SYS_bpf, 0, nullptr, 0); }, SYS_bpf},
    {"perf_event_open", [] { return syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0); }, SYS_perf_event_open},
    {"io_uring_setup", [] { return syscall(SYS_io_uring_setup, 1, nullptr); }, SYS_io_uring_setup},
    {"userfaultfd", [] { return syscall(SYS_userfaultfd, 0); }, SYS_userfaultfd},
    {"keyctl", [] { return syscall(SYS_keyctl, 0, 0, 0, 0, 0); }, SYS_keyctl},
    {"add_key", [] { return syscall(SYS_add_key, "user", "x", "", 0, 0); }, SYS_add_key},
    {"init_module", [] { return syscall(SYS_init_module, nullptr, 0, ""); }, SYS_init_module},
    {"kexec_load", [] { return syscall(SYS_kexec_load, 0, 0, nullptr, 0); }, SYS_kexec_load},
    {"reboot", [] { return syscall(SYS_reboot, 0, 0, 0, nullptr); }, SYS_reboot},
    {"swapon", [] { return syscall(SYS_swapon, "/nonexistent", 0); }, SYS_swapon},
    {"acct", [] { return syscall(SYS_acct, nullptr); }, SYS_acct},
    {"ioctl_tiocsti", [] { return syscall(SYS_ioctl, 0, TIOCSTI, "x"); }, SYS_ioctl},
    {"ioctl_tiocsti_high_bits", [] { return syscall(SYS_ioctl, 0, kHighBits | TIOCSTI, "x"); }, SYS_ioctl},
    {"ioctl_tioclinux", [] { return syscall(SYS_ioctl, 0, TIOCLINUX, "\x0b"); }, SYS_ioctl},
};

// No handler runs: a foreign ABI's numbers mean other syscalls, and the reporting handler is untouchable.
const Attempt kKilledOutright[] = {
    {"rt_sigaction_query_sigsys", [] {
       char old_action[64];
       return syscall(SYS_rt_sigaction, SIGSYS, nullptr, old_action, 8);
     }},
    {"rt_sigaction_ignore_sigsys", [] { return reinterpret_cast<long>(signal(SIGSYS, SIG_IGN)); }},
    {"rt_sigaction_sigsys_high_bits",
     [] { return syscall(SYS_rt_sigaction, kHighBits | SIGSYS, nullptr, nullptr, 8); }},
#if defined(__x86_64__)
    {"i386_int80", [] { return i386_getpid(); }},
    {"x32_abi", [] { return syscall(0x40000000 | SYS_getpid); }},
#endif
};

const Attempt kRefused[] = {
    {"socket_inet", [] { return static_cast<long>(socket(AF_INET, SOCK_STREAM, 0)); }, EPERM},
    {"socket_inet6", [] { return static_cast<long>(socket(AF_INET6, SOCK_DGRAM, 0)); }, EPERM},
    {"socket_netlink", [] { return static_cast<long>(socket(AF_NETLINK, SOCK_RAW, 0)); }, EPERM},
    {"socket_packet", [] { return static_cast<long>(socket(AF_PACKET, SOCK_RAW, 0)); }, EPERM},
    {"socket_inet_high_bits", [] { return syscall(SYS_socket, kHighBits | AF_INET, SOCK_STREAM, 0); }, EPERM},
    {"socketpair_inet", [] {
       int pair[2];
       return static_cast<long>(socketpair(AF_INET, SOCK_STREAM, 0, pair));
     }, EPERM},
    {"setuid", [] { return syscall(SYS_setuid, 0); }, EPERM},
    {"setresgid", [] { return syscall(SYS_setresgid, 0, 0, 0); }, EPERM},
    {"setgroups", [] { return syscall(SYS_setgroups, 0, nullptr); }, EPERM},
    {"seccomp", [] { return syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, nullptr); }, EPERM},
    {"prctl_set_dumpable", [] { return syscall(SYS_prctl, PR_SET_DUMPABLE, 1, 0, 0, 0); }, EPERM},
    {"prctl_set_dumpable_high_bits", [] { return syscall(SYS_prctl, kHighBits | PR_SET_DUMPABLE, 1, 0, 0, 0); }, EPERM},
    {"prctl_set_mm", [] { return syscall(SYS_prctl, PR_SET_MM, PR_SET_MM_START_CODE, 0, 0, 0); }, EPERM},
    {"clone3", [] {
       clone_args args{};
       args.exit_signal = SIGCHLD;
       long pid = syscall(SYS_clone3, &args, sizeof args);
       if (pid == 0) _exit(0);  // should the filter ever let it through
       return pid;
     }, ENOSYS},
    {"unlisted_personality", [] { return syscall(SYS_personality, 0xffffffffUL); }, ENOSYS},
    {"unlisted_shmget", [] { return syscall(SYS_shmget, IPC_PRIVATE, 4096, 0600); }, ENOSYS},
};

class Trapped : public ::testing::TestWithParam<Violation> {};

TEST_P(Trapped, ReportsTheSyscallToItsHandler) {
  std::string bpf = default_profile();
  Violation violation = GetParam();
  ProbeResult result = under_default_profile(bpf, arm_then(violation.call), Sigsys::kReportTrap);
  EXPECT_EQ(result.at("armed"), 1);
  ASSERT_TRUE(result.exited_with(kTrappedExit)) << result.describe();
  EXPECT_EQ(result.at("si_code"), kSeccompSigsysCode);
  EXPECT_EQ(result.at("syscall"), violation.nr);
  EXPECT_EQ(result.at("arch"), static_cast<long long>(native_audit_arch()));
}

TEST_P(Trapped, KillsWithoutAHandler) {
  std::string bpf = default_profile();
  Violation violation = GetParam();
  ProbeResult result = under_default_profile(bpf, arm_then(violation.call));
  EXPECT_EQ(result.at("armed"), 1);
  EXPECT_TRUE(result.killed_by(SIGSYS)) << result.describe();
}

INSTANTIATE_TEST_SUITE_P(SeccompDefault, Trapped, ::testing::ValuesIn(kTrapped), case_name<Violation>);

class KilledOutright : public ::testing::TestWithParam<Attempt> {};

TEST_P(KilledOutright, BySigsysWithoutReachingTheHandler) {
  std::string bpf = default_profile();
  Attempt attempt = GetParam();
  ProbeResult result = under_default_profile(bpf, arm_then(attempt.call), Sigsys::kReportTrap);
  EXPECT_EQ(result.at("armed"), 1);
  EXPECT_TRUE(result.killed_by(SIGSYS)) << result.describe();
  EXPECT_FALSE(result.has("si_code")) << result.describe();
}

INSTANTIATE_TEST_SUITE_P(SeccompDefault, KilledOutright, ::testing::ValuesIn(kKilledOutright), case_name<Attempt>);

class Refused : public ::testing::TestWithParam<Attempt> {};

TEST_P(Refused, WithErrno) {
  std::string bpf = default_profile();
  Attempt attempt = GetParam();
  ProbeResult result = under_default_profile(bpf, [&](int fd) {
    long rc = attempt.call();
    report(fd, "returned", rc);
    report(fd, "errno", rc < 0 ? errno : 0);
    return 0;
  });
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  EXPECT_EQ(result.at("returned"), -1);
  EXPECT_EQ(result.at("errno"), attempt.expected_errno) << result.describe();
}

INSTANTIATE_TEST_SUITE_P(SeccompDefault, Refused, ::testing::ValuesIn(kRefused), case_name<Attempt>);

// Each check reports 0 on success, else the errno (or -1) it met.
int everyday_calls(int fd) {
  int pipe_fds[2];
  char byte = 'x';
  report(fd, "pipe", pipe(pipe_fds) == 0 ? 0 : errno);
  report(fd, "write", write(pipe_fds[1], &byte, 1) == 1 ? 0 : errno);
  int pending = -1;
  report(fd, "ioctl_fionread", ioctl(pipe_fds[0], FIONREAD, &pending) == 0 && pending == 1 ? 0 : -1);
  report(fd, "read", read(pipe_fds[0], &byte, 1) == 1 ? 0 : errno);

  void* page = mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  report(fd, "mmap", page != MAP_FAILED ? 0 : errno);
  report(fd, "munmap", munmap(page, 1 << 20) == 0 ? 0 : errno);
  int futex_word = 0;
  report(fd, "futex", syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0) >= 0 ? 0 : errno);

  int pair[2];
  report(fd, "socketpair_unix", socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0 ? 0 : errno);
  int unix_socket = socket(AF_UNIX, SOCK_DGRAM, 0);
  report(fd, "socket_unix", unix_socket >= 0 ? 0 : errno);
  long high = syscall(SYS_socket, kHighBits | AF_UNIX, SOCK_STREAM, 0);
  report(fd, "socket_unix_high_bits", high >= 0 ? 0 : errno);

  pid_t child = fork();  // clone without namespace flags
  if (child == 0) _exit(7);
  int status = 0;
  report(fd, "fork", child > 0 && waitpid(child, &status, 0) == child && WEXITSTATUS(status) == 7 ? 0 : errno);

  pthread_t thread;  // clone3 is ENOSYS, so glibc falls back to clone with thread flags
  int thread_rc = pthread_create(&thread, nullptr, [](void*) -> void* { return nullptr; }, nullptr);
  report(fd, "pthread_create", thread_rc == 0 && pthread_join(thread, nullptr) == 0 ? 0 : thread_rc);

  report(fd, "prctl_set_name", prctl(PR_SET_NAME, "probe", 0, 0, 0) == 0 ? 0 : errno);
  char random[8];
  report(fd, "getrandom", getrandom(random, sizeof random, 0) == sizeof random ? 0 : errno);
  report(fd, "kill_self_0", kill(getpid(), 0) == 0 ? 0 : errno);

  struct sigaction action {};  // signals other than SIGSYS keep rt_sigaction
  action.sa_handler = SIG_IGN;
  struct sigaction previous {};
  report(fd, "sigaction_sigusr1", sigaction(SIGUSR1, &action, &previous) == 0 ? 0 : errno);
  report(fd, "sigaction_query_sigterm", sigaction(SIGTERM, nullptr, &previous) == 0 ? 0 : errno);
  return 0;
}

TEST(SeccompDefault, EverydayCallsStillWork) {
  std::string bpf = default_profile();
  ProbeResult result = under_default_profile(bpf, everyday_calls);
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  for (const char* key : {"pipe", "write", "ioctl_fionread", "read", "mmap", "munmap", "futex", "socketpair_unix",
                          "socket_unix", "socket_unix_high_bits", "fork", "pthread_create", "prctl_set_name",
                          "getrandom", "kill_self_0", "sigaction_sigusr1", "sigaction_query_sigterm"}) {
    EXPECT_EQ(result.at(key), 0) << key << ": " << result.describe();
  }
}

}  // namespace
}  // namespace sandgate::sandbox
