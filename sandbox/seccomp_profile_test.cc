// Over 600 lines: one table of real system calls per action and profile, all run by the same probes.
#include "sandbox/seccomp_profile.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/child_steps.h"
#include "sandbox/test_probe.h"

namespace sandgate::sandbox {
namespace {

using testing::ProbeResult;
using testing::report;
using testing::run_in_child;

constexpr unsigned long long kHighBits = 0xffffffff00000000ULL;

std::string compiled(std::string_view profile) {
  std::string bpf;
  Status status = compile_seccomp_profile(profile, &bpf);
  EXPECT_TRUE(status.ok()) << profile << ": " << status.what;
  return bpf;
}

// The filters a probe runs under: a call's alone, the zygote's alone, or both as a call child has
// them (the zygote's inherited, the call's installed on top).
enum class Under { kCall, kZygote, kZygoteThenCall };

std::vector<std::string> filters(Under under) {
  switch (under) {
    case Under::kCall:
      return {compiled(kProfileDefault)};
    case Under::kZygote:
      return {compiled(kProfileZygote)};
    case Under::kZygoteThenCall:
      return {compiled(kProfileZygote), compiled(kProfileDefault)};
  }
  return {};
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

// Runs `body` in a child under the compiled `bpfs`, oldest first; exit code 90/91: a filter did not install.
template <class Body>
ProbeResult under_filters(const std::vector<std::string>& bpfs, Body body, Sigsys sigsys = Sigsys::kDefault) {
  return run_in_child([&](int fd) {
    if (sigsys == Sigsys::kReportTrap) {
      trap_report_fd = fd;
      struct sigaction action {};
      action.sa_sigaction = report_trap;
      action.sa_flags = SA_SIGINFO;
      if (sigaction(SIGSYS, &action, nullptr) != 0) return 89;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 90;
    for (const std::string& bpf : bpfs) {
      const auto* filter = reinterpret_cast<const sock_filter*>(bpf.data());
      if (!install_seccomp_filter(filter, static_cast<unsigned short>(bpf.size() / sizeof(sock_filter)))) return 91;
    }
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

TEST(SeccompProfile, ProfilesAreWholeInstructionsWithinTheKernelLimit) {
  for (std::string_view profile : {kProfileDefault, kProfileZygote}) {
    std::string bpf = compiled(profile);
    EXPECT_GT(bpf.size(), 0u) << profile;
    EXPECT_EQ(bpf.size() % sizeof(sock_filter), 0u) << profile;
    EXPECT_LE(bpf.size() / sizeof(sock_filter), static_cast<std::size_t>(BPF_MAXINSNS)) << profile;
  }
}

TEST(SeccompProfile, NoneIsEmptyAndUnknownIsInvalid) {
  std::string bpf = "stale";
  EXPECT_TRUE(compile_seccomp_profile(kProfileNone, &bpf).ok());
  EXPECT_TRUE(bpf.empty());
  EXPECT_EQ(compile_seccomp_profile("defaults", &bpf).code, Code::kInvalidArgument);
  EXPECT_EQ(compile_seccomp_profile("zygotes", &bpf).code, Code::kInvalidArgument);
}

TEST(SeccompProfile, ZygoteIsItsOwnProgram) {
  EXPECT_NE(compiled(kProfileZygote), compiled(kProfileDefault));
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

// One case under one set of filters.
template <class Case>
struct Profiled {
  Under under;
  Case item;
};

template <class Case>
std::vector<Profiled<Case>> cases(Under under, std::initializer_list<std::span<const Case>> lists) {
  std::vector<Profiled<Case>> all;
  for (std::span<const Case> list : lists) {
    for (const Case& item : list) all.push_back({under, item});
  }
  return all;
}

template <class Case>
std::string case_name(const ::testing::TestParamInfo<Profiled<Case>>& info) {
  return info.param.item.name;
}

// Names the case in test listings instead of dumping its bytes.
template <class Case>
void PrintTo(const Profiled<Case>& param, std::ostream* out) {
  *out << param.item.name;
}

#if defined(__x86_64__)
long i386_getpid() {
  long result;
  asm volatile("int $0x80" : "=a"(result) : "a"(20L) : "memory", "r8", "r9", "r10", "r11");
  return result;
}
#endif

const char* const kArgv[] = {"true", nullptr};

// A clone the filter should stop; should it ever pass, its child leaves at once.
long clone_with(unsigned long long flags) {
  long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) _exit(0);
  return pid;
}

// Trapped by both profiles, and so by both stacked.
const Violation kTrappedEverywhere[] = {
    {"execve", [] { return syscall(SYS_execve, "/bin/true", kArgv, nullptr); }, SYS_execve},
    {"execveat", [] { return syscall(SYS_execveat, AT_FDCWD, "/bin/true", kArgv, nullptr, 0); }, SYS_execveat},
    {"ptrace", [] { return syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0); }, SYS_ptrace},
    {"process_vm_readv", [] { return syscall(SYS_process_vm_readv, getppid(), nullptr, 0, nullptr, 0, 0); },
     SYS_process_vm_readv},
    {"pidfd_getfd", [] { return syscall(SYS_pidfd_getfd, -1, 0, 0); }, SYS_pidfd_getfd},
    {"unshare_net", [] { return syscall(SYS_unshare, CLONE_NEWNET); }, SYS_unshare},
    {"unshare_user", [] { return syscall(SYS_unshare, CLONE_NEWUSER); }, SYS_unshare},
    {"unshare_newns_and_net", [] { return syscall(SYS_unshare, CLONE_NEWNS | CLONE_NEWNET); }, SYS_unshare},
    {"unshare_newns_high_bits", [] { return syscall(SYS_unshare, kHighBits | CLONE_NEWNS); }, SYS_unshare},
    {"setns", [] { return syscall(SYS_setns, -1, 0); }, SYS_setns},
    {"pivot_root", [] { return syscall(SYS_pivot_root, ".", "."); }, SYS_pivot_root},
    {"chroot", [] { return syscall(SYS_chroot, "/"); }, SYS_chroot},
    {"fsopen", [] { return syscall(SYS_fsopen, "tmpfs", 0); }, SYS_fsopen},
    {"clone_newnet", [] { return clone_with(CLONE_NEWNET); }, SYS_clone},
    {"clone_newuser", [] { return clone_with(CLONE_NEWUSER); }, SYS_clone},
    {"clone_newuts", [] { return clone_with(CLONE_NEWUTS); }, SYS_clone},
    {"clone_newcgroup", [] { return clone_with(CLONE_NEWCGROUP); }, SYS_clone},
    {"clone_newipc", [] { return clone_with(CLONE_NEWIPC); }, SYS_clone},
    {"clone_newpid_and_net", [] { return clone_with(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET); }, SYS_clone},
    {"clone_newuser_high_bits", [] { return clone_with(kHighBits | CLONE_NEWUSER); }, SYS_clone},
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

// What the zygote does for its calls, and a call must not do itself.
const Violation kTrappedInCalls[] = {
    {"mount", [] { return syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, nullptr); }, SYS_mount},
    {"umount2", [] { return syscall(SYS_umount2, "/tmp", MNT_DETACH); }, SYS_umount2},
    {"open_tree", [] { return syscall(SYS_open_tree, AT_FDCWD, "/tmp", 0); }, SYS_open_tree},
    {"move_mount", [] { return syscall(SYS_move_mount, -1, "", AT_FDCWD, "/tmp", 0); }, SYS_move_mount},
    {"mount_setattr", [] { return syscall(SYS_mount_setattr, AT_FDCWD, "/tmp", 0, nullptr, 0); }, SYS_mount_setattr},
    {"unshare_newns", [] { return syscall(SYS_unshare, CLONE_NEWNS); }, SYS_unshare},
    {"unshare_vm", [] { return syscall(SYS_unshare, CLONE_VM); }, SYS_unshare},
    {"clone_newpid", [] { return clone_with(CLONE_NEWPID); }, SYS_clone},
    {"clone_newpid_newns", [] { return clone_with(CLONE_NEWPID | CLONE_NEWNS); }, SYS_clone},
};

// No handler runs: the reporting handler is untouchable in a call.
const Attempt kKilledInCalls[] = {
    {"rt_sigaction_query_sigsys", [] {
       char old_action[64];
       return syscall(SYS_rt_sigaction, SIGSYS, nullptr, old_action, 8);
     }},
    {"rt_sigaction_ignore_sigsys", [] { return reinterpret_cast<long>(signal(SIGSYS, SIG_IGN)); }},
    {"rt_sigaction_sigsys_high_bits",
     [] { return syscall(SYS_rt_sigaction, kHighBits | SIGSYS, nullptr, nullptr, 8); }},
};

// No handler runs: a foreign ABI's numbers mean other syscalls.
const std::vector<Attempt> kKilledEverywhere = {
#if defined(__x86_64__)
    {"i386_int80", [] { return i386_getpid(); }},
    {"x32_abi", [] { return syscall(0x40000000 | SYS_getpid); }},
#endif
};

constexpr int kSoPassPidfd = 76;  // asm-generic/socket.h, Linux 6.5; the C library's headers may predate it

constexpr key_t kNoSuchKey = 0x5a6e0001;  // IPC_CREAT is never passed: a leaked object is impossible

// The island rules: nothing two calls could meet at. EPERM in both profiles, whatever the family.
const Attempt kIslands[] = {
    {"socket_inet", [] { return static_cast<long>(socket(AF_INET, SOCK_STREAM, 0)); }, EPERM},
    {"socket_inet6", [] { return static_cast<long>(socket(AF_INET6, SOCK_DGRAM, 0)); }, EPERM},
    {"socket_netlink", [] { return static_cast<long>(socket(AF_NETLINK, SOCK_RAW, 0)); }, EPERM},
    {"socket_packet", [] { return static_cast<long>(socket(AF_PACKET, SOCK_RAW, 0)); }, EPERM},
    {"socket_inet_high_bits", [] { return syscall(SYS_socket, kHighBits | AF_INET, SOCK_STREAM, 0); }, EPERM},
    {"socket_unix_stream", [] { return static_cast<long>(socket(AF_UNIX, SOCK_STREAM, 0)); }, EPERM},
    {"socket_unix_dgram", [] { return static_cast<long>(socket(AF_UNIX, SOCK_DGRAM, 0)); }, EPERM},
    {"socket_unix_high_bits", [] { return syscall(SYS_socket, kHighBits | AF_UNIX, SOCK_STREAM, 0); }, EPERM},
    {"socketpair_inet", [] {
       int pair[2];
       return static_cast<long>(socketpair(AF_INET, SOCK_STREAM, 0, pair));
     }, EPERM},
    // A socketpair's socket exists: without the rule each of these would succeed.
    {"bind_abstract", [] {
       int pair[2];
       if (socketpair(AF_UNIX, SOCK_DGRAM, 0, pair) != 0) return -2L;
       sockaddr_un address{};
       address.sun_family = AF_UNIX;
       std::memcpy(address.sun_path, "\0sandgate-island", 16);
       return static_cast<long>(bind(pair[0], reinterpret_cast<sockaddr*>(&address),
                                     offsetof(sockaddr_un, sun_path) + 16));
     }, EPERM},
    {"connect_unspec", [] {
       int pair[2];
       if (socketpair(AF_UNIX, SOCK_DGRAM, 0, pair) != 0) return -2L;
       sockaddr unspecified{};
       unspecified.sa_family = AF_UNSPEC;
       return static_cast<long>(connect(pair[0], &unspecified, sizeof unspecified));
     }, EPERM},
    {"listen", [] {
       int pair[2];
       if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) return -2L;
       return static_cast<long>(listen(pair[0], 1));
     }, EPERM},
    {"accept", [] { return static_cast<long>(accept(-1, nullptr, nullptr)); }, EPERM},
    // Credential passing would autobind an abstract name on the next send (see the next case).
    {"setsockopt_passcred", [] {
       int pair[2];
       if (socketpair(AF_UNIX, SOCK_DGRAM, 0, pair) != 0) return -2L;
       int on = 1;
       return static_cast<long>(setsockopt(pair[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
     }, EPERM},
    {"setsockopt_passpidfd", [] {
       int pair[2];
       if (socketpair(AF_UNIX, SOCK_DGRAM, 0, pair) != 0) return -2L;
       int on = 1;
       return static_cast<long>(setsockopt(pair[0], SOL_SOCKET, kSoPassPidfd, &on, sizeof on));
     }, EPERM},
    {"setsockopt_passcred_high_bits", [] {
       int pair[2];
       if (socketpair(AF_UNIX, SOCK_DGRAM, 0, pair) != 0) return -2L;
       int on = 1;
       return syscall(SYS_setsockopt, pair[0], SOL_SOCKET, kHighBits | SO_PASSCRED, &on, sizeof on);
     }, EPERM},
    // The whole trick: the pair's other end closed, a send resets the peer; getsockname then shows
    // whether a name was autobound (-1 with EADDRNOTAVAIL standing for "unnamed, so unreachable").
    {"autobind_after_peer_closed", [] {
       int pair[2];
       if (socketpair(AF_UNIX, SOCK_DGRAM, 0, pair) != 0) return -2L;
       close(pair[1]);
       int on = 1;
       setsockopt(pair[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
       send(pair[0], "x", 1, MSG_DONTWAIT);  // ECONNREFUSED: and the socket is unconnected now
       sockaddr_un name{};
       socklen_t length = sizeof name;
       if (getsockname(pair[0], reinterpret_cast<sockaddr*>(&name), &length) != 0) return -3L;
       if (length > offsetof(sockaddr_un, sun_path)) return static_cast<long>(length);  // named: reachable
       errno = EADDRNOTAVAIL;
       return -1L;
     }, EADDRNOTAVAIL},
    {"accept4", [] { return static_cast<long>(accept4(-1, nullptr, nullptr, 0)); }, EPERM},
    {"shmget", [] {
       long id = syscall(SYS_shmget, IPC_PRIVATE, 4096, IPC_CREAT | 0600);
       if (id >= 0) shmctl(static_cast<int>(id), IPC_RMID, nullptr);  // escaped: leave nothing behind
       return id;
     }, EPERM},
    {"shmget_existing", [] { return syscall(SYS_shmget, kNoSuchKey, 0, 0); }, EPERM},
    {"shmat", [] { return syscall(SYS_shmat, 0, nullptr, 0); }, EPERM},
    {"shmdt", [] { return syscall(SYS_shmdt, nullptr); }, EPERM},
    {"shmctl", [] { return syscall(SYS_shmctl, 0, IPC_STAT, nullptr); }, EPERM},
    {"msgget", [] {
       long id = syscall(SYS_msgget, IPC_PRIVATE, IPC_CREAT | 0600);
       if (id >= 0) msgctl(static_cast<int>(id), IPC_RMID, nullptr);
       return id;
     }, EPERM},
    {"msgsnd", [] { return syscall(SYS_msgsnd, 0, nullptr, 0, IPC_NOWAIT); }, EPERM},
    {"msgrcv", [] { return syscall(SYS_msgrcv, 0, nullptr, 0, 0, IPC_NOWAIT); }, EPERM},
    {"msgctl", [] { return syscall(SYS_msgctl, 0, IPC_STAT, nullptr); }, EPERM},
    {"semget", [] {
       long id = syscall(SYS_semget, IPC_PRIVATE, 1, IPC_CREAT | 0600);
       if (id >= 0) semctl(static_cast<int>(id), 0, IPC_RMID);
       return id;
     }, EPERM},
    {"semop", [] { return syscall(SYS_semop, 0, nullptr, 0); }, EPERM},
    {"semtimedop", [] { return syscall(SYS_semtimedop, 0, nullptr, 0, nullptr); }, EPERM},
    {"semctl", [] { return syscall(SYS_semctl, 0, 0, IPC_STAT, nullptr); }, EPERM},
    {"mq_open", [] {
       long mq = syscall(SYS_mq_open, "sandgate-island", O_CREAT | O_RDWR, 0600, nullptr);
       if (mq >= 0) syscall(SYS_mq_unlink, "sandgate-island");
       return mq;
     }, EPERM},
    {"mq_unlink", [] { return syscall(SYS_mq_unlink, "sandgate-island"); }, EPERM},
    {"mq_timedsend", [] { return syscall(SYS_mq_timedsend, -1, "", 0, 0, nullptr); }, EPERM},
    {"mq_timedreceive", [] { return syscall(SYS_mq_timedreceive, -1, nullptr, 0, nullptr, nullptr); }, EPERM},
    {"mq_notify", [] { return syscall(SYS_mq_notify, -1, nullptr); }, EPERM},
    {"mq_getsetattr", [] { return syscall(SYS_mq_getsetattr, -1, nullptr, nullptr); }, EPERM},
};

// Refused alike by both profiles, and so by both stacked.
const Attempt kRefusedEverywhere[] = {
    {"setuid", [] { return syscall(SYS_setuid, 0); }, EPERM},
    {"setreuid", [] { return syscall(SYS_setreuid, -1, -1); }, EPERM},
    {"setfsgid", [] { return syscall(SYS_setfsgid, 0); }, EPERM},
    {"prctl_set_dumpable_1", [] { return syscall(SYS_prctl, PR_SET_DUMPABLE, 1, 0, 0, 0); }, EPERM},
    {"prctl_set_dumpable_high_bits", [] { return syscall(SYS_prctl, kHighBits | PR_SET_DUMPABLE, 1, 0, 0, 0); }, EPERM},
    {"prctl_set_mm", [] { return syscall(SYS_prctl, PR_SET_MM, PR_SET_MM_START_CODE, 0, 0, 0); }, EPERM},
    {"prctl_cap_ambient_raise",
     [] { return syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0); }, EPERM},
    {"seccomp_strict", [] { return syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, nullptr); }, EPERM},
    {"seccomp_listener", [] {
       return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, nullptr);
     }, EPERM},
    {"seccomp_tsync", [] {
       sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
       sock_fprog program{1, &allow};
       return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &program);
     }, EPERM},
    {"clone3", [] {
       clone_args args{};
       args.exit_signal = SIGCHLD;
       long pid = syscall(SYS_clone3, &args, sizeof args);
       if (pid == 0) _exit(0);  // should the filter ever let it through
       return pid;
     }, ENOSYS},
    {"unlisted_personality", [] { return syscall(SYS_personality, 0xffffffffUL); }, ENOSYS},
};

// What the child steps do under the zygote's filter, refused to a call.
const Attempt kRefusedInCalls[] = {
    {"setresgid", [] { return syscall(SYS_setresgid, 0, 0, 0); }, EPERM},
    {"setresuid", [] { return syscall(SYS_setresuid, -1, -1, -1); }, EPERM},
    {"setgroups", [] { return syscall(SYS_setgroups, 0, nullptr); }, EPERM},
    {"capset", [] {
       __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
       __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
       return syscall(SYS_capset, &header, data);
     }, EPERM},
    {"seccomp_filter", [] {
       sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
       sock_fprog program{1, &allow};
       return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program);
     }, EPERM},
    {"prctl_set_dumpable_0", [] { return syscall(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0); }, EPERM},
    {"prctl_set_securebits", [] { return syscall(SYS_prctl, PR_SET_SECUREBITS, 0, 0, 0, 0); }, EPERM},
    {"prctl_get_tid_address", [] {
       pid_t* address = nullptr;
       return syscall(SYS_prctl, PR_GET_TID_ADDRESS, &address, 0, 0, 0);
     }, EPERM},
    {"unlisted_get_robust_list", [] {
       void* head = nullptr;
       size_t length = 0;
       return syscall(SYS_get_robust_list, 0, &head, &length);
     }, ENOSYS},
};

// The zygote's own limits on what it may do for its calls.
const Attempt kRefusedInTheZygote[] = {
    {"get_robust_list_of_another", [] {
       void* head = nullptr;
       size_t length = 0;
       return syscall(SYS_get_robust_list, getppid(), &head, &length);
     }, EPERM},
};

class Trapped : public ::testing::TestWithParam<Profiled<Violation>> {};

TEST_P(Trapped, ReportsTheSyscallToItsHandler) {
  Violation violation = GetParam().item;
  ProbeResult result = under_filters(filters(GetParam().under), arm_then(violation.call), Sigsys::kReportTrap);
  EXPECT_EQ(result.at("armed"), 1);
  ASSERT_TRUE(result.exited_with(kTrappedExit)) << result.describe();
  EXPECT_EQ(result.at("si_code"), kSeccompSigsysCode);
  EXPECT_EQ(result.at("syscall"), violation.nr);
  EXPECT_EQ(result.at("arch"), static_cast<long long>(native_audit_arch()));
}

TEST_P(Trapped, KillsWithoutAHandler) {
  Violation violation = GetParam().item;
  ProbeResult result = under_filters(filters(GetParam().under), arm_then(violation.call));
  EXPECT_EQ(result.at("armed"), 1);
  EXPECT_TRUE(result.killed_by(SIGSYS)) << result.describe();
}

INSTANTIATE_TEST_SUITE_P(SeccompDefault, Trapped,
                         ::testing::ValuesIn(cases<Violation>(Under::kCall, {kTrappedEverywhere, kTrappedInCalls})),
                         case_name<Violation>);
INSTANTIATE_TEST_SUITE_P(SeccompZygote, Trapped,
                         ::testing::ValuesIn(cases<Violation>(Under::kZygote, {kTrappedEverywhere})),
                         case_name<Violation>);
INSTANTIATE_TEST_SUITE_P(SeccompStacked, Trapped,
                         ::testing::ValuesIn(cases<Violation>(Under::kZygoteThenCall,
                                                              {kTrappedEverywhere, kTrappedInCalls})),
                         case_name<Violation>);

class KilledOutright : public ::testing::TestWithParam<Profiled<Attempt>> {};

TEST_P(KilledOutright, BySigsysWithoutReachingTheHandler) {
  Attempt attempt = GetParam().item;
  ProbeResult result = under_filters(filters(GetParam().under), arm_then(attempt.call), Sigsys::kReportTrap);
  EXPECT_EQ(result.at("armed"), 1);
  EXPECT_TRUE(result.killed_by(SIGSYS)) << result.describe();
  EXPECT_FALSE(result.has("si_code")) << result.describe();
}

INSTANTIATE_TEST_SUITE_P(SeccompDefault, KilledOutright,
                         ::testing::ValuesIn(cases<Attempt>(Under::kCall, {kKilledEverywhere, kKilledInCalls})),
                         case_name<Attempt>);
INSTANTIATE_TEST_SUITE_P(SeccompZygote, KilledOutright,
                         ::testing::ValuesIn(cases<Attempt>(Under::kZygote, {kKilledEverywhere})),
                         case_name<Attempt>);
INSTANTIATE_TEST_SUITE_P(SeccompStacked, KilledOutright,
                         ::testing::ValuesIn(cases<Attempt>(Under::kZygoteThenCall,
                                                            {kKilledEverywhere, kKilledInCalls})),
                         case_name<Attempt>);

class Refused : public ::testing::TestWithParam<Profiled<Attempt>> {};

TEST_P(Refused, WithErrno) {
  Attempt attempt = GetParam().item;
  ProbeResult result = under_filters(filters(GetParam().under), [&](int fd) {
    long rc = attempt.call();
    report(fd, "returned", rc);
    report(fd, "errno", rc < 0 ? errno : 0);
    return 0;
  });
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  EXPECT_EQ(result.at("returned"), -1);
  EXPECT_EQ(result.at("errno"), attempt.expected_errno) << result.describe();
}

INSTANTIATE_TEST_SUITE_P(SeccompDefault, Refused,
                         ::testing::ValuesIn(cases<Attempt>(Under::kCall,
                                                            {kIslands, kRefusedEverywhere, kRefusedInCalls})),
                         case_name<Attempt>);
INSTANTIATE_TEST_SUITE_P(SeccompZygote, Refused,
                         ::testing::ValuesIn(cases<Attempt>(Under::kZygote,
                                                            {kIslands, kRefusedEverywhere, kRefusedInTheZygote})),
                         case_name<Attempt>);
INSTANTIATE_TEST_SUITE_P(SeccompStacked, Refused,
                         ::testing::ValuesIn(cases<Attempt>(Under::kZygoteThenCall,
                                                            {kIslands, kRefusedEverywhere, kRefusedInCalls})),
                         case_name<Attempt>);

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

  // What asyncio's self-pipe and multiprocessing build on: a connected pair, written both ways.
  int pair[2];
  report(fd, "socketpair_unix", socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0 ? 0 : errno);
  report(fd, "socketpair_send", send(pair[0], &byte, 1, 0) == 1 && recv(pair[1], &byte, 1, 0) == 1 ? 0 : errno);
  int datagrams[2];
  report(fd, "socketpair_dgram", socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, datagrams) == 0 ? 0 : errno);
  iovec data{&byte, 1};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  report(fd, "sendmsg_recvmsg",
         sendmsg(datagrams[0], &message, 0) == 1 && recvmsg(datagrams[1], &message, 0) == 1 ? 0 : errno);
  int buffer_bytes = 1 << 16;  // every other socket option still works
  report(fd, "setsockopt_rcvbuf",
         setsockopt(datagrams[0], SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof buffer_bytes) == 0 ? 0 : errno);
  sockaddr_un name{};
  socklen_t name_length = sizeof name;
  report(fd, "getsockname", getsockname(pair[0], reinterpret_cast<sockaddr*>(&name), &name_length) == 0 ? 0 : errno);

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

constexpr const char* kEverydayChecks[] = {
    "pipe", "write", "ioctl_fionread", "read", "mmap", "munmap", "futex", "socketpair_unix", "socketpair_send",
    "socketpair_dgram", "sendmsg_recvmsg", "setsockopt_rcvbuf", "getsockname", "fork", "pthread_create",
    "prctl_set_name", "getrandom", "kill_self_0", "sigaction_sigusr1", "sigaction_query_sigterm"};

std::string under_name(Under under) {
  return under == Under::kCall ? "Default" : under == Under::kZygote ? "Zygote" : "Stacked";
}

void PrintTo(Under under, std::ostream* out) { *out << under_name(under); }

class Everyday : public ::testing::TestWithParam<Under> {};

TEST_P(Everyday, CallsStillWork) {
  ProbeResult result = under_filters(filters(GetParam()), everyday_calls);
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  for (const char* key : kEverydayChecks) EXPECT_EQ(result.at(key), 0) << key << ": " << result.describe();
}

INSTANTIATE_TEST_SUITE_P(Seccomp, Everyday,
                         ::testing::Values(Under::kCall, Under::kZygote, Under::kZygoteThenCall),
                         [](const ::testing::TestParamInfo<Under>& info) { return under_name(info.param); });

// What the zygote loop and the child steps do before a call's filter; 0 for success, else errno.
// Mounts happen only in a mount namespace of the probe's own, made private first: never on the host.
int zygote_setup_calls(int fd) {
  report(fd, "unshare_vm", syscall(SYS_unshare, CLONE_VM) == 0 ? 0 : errno);
  void* head = nullptr;
  size_t length = 0;
  report(fd, "get_robust_list", syscall(SYS_get_robust_list, 0, &head, &length) == 0 ? 0 : errno);
  pid_t* tid_address = nullptr;
  report(fd, "prctl_get_tid_address", prctl(PR_GET_TID_ADDRESS, &tid_address, 0, 0, 0) == 0 ? 0 : errno);
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0));
  report(fd, "pidfd_open", pidfd >= 0 ? 0 : errno);

  pid_t child = static_cast<pid_t>(syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0));
  if (child == 0) _exit(getpid() == 1 ? 7 : 8);
  int status = 0;
  report(fd, "clone_newpid_newns",
         child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 7 ? 0
         : child < 0                                                                                     ? errno
                                                                                                         : -1);

  bool private_mounts = syscall(SYS_unshare, CLONE_NEWNS) == 0;
  report(fd, "unshare_newns", private_mounts ? 0 : errno);
  private_mounts = private_mounts && mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
  report(fd, "mount_private", private_mounts ? 0 : errno);
  if (private_mounts) {
    report(fd, "mount_tmpfs", mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=65536") == 0 ? 0 : errno);
    int tree = static_cast<int>(syscall(SYS_open_tree, AT_FDCWD, "/tmp", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
    report(fd, "open_tree", tree >= 0 ? 0 : errno);
    report(fd, "move_mount",
           syscall(SYS_move_mount, tree, "", AT_FDCWD, "/tmp", MOVE_MOUNT_F_EMPTY_PATH) == 0 ? 0 : errno);
    mount_attr read_only{};
    read_only.attr_set = MOUNT_ATTR_RDONLY;
    report(fd, "mount_setattr",
           syscall(SYS_mount_setattr, AT_FDCWD, "/tmp", 0, &read_only, sizeof read_only) == 0 ? 0 : errno);
    report(fd, "umount2", umount2("/tmp", MNT_DETACH) == 0 ? 0 : errno);
  }

  report(fd, "setsid", setsid() >= 0 ? 0 : errno);
  report(fd, "prctl_pdeathsig", prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == 0 ? 0 : errno);
  report(fd, "prctl_capbset_drop", prctl(PR_CAPBSET_DROP, CAP_SYS_BOOT, 0, 0, 0) == 0 ? 0 : errno);
  int securebits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
  report(fd, "prctl_set_securebits", prctl(PR_SET_SECUREBITS, securebits, 0, 0, 0) == 0 ? 0 : errno);
  report(fd, "prctl_cap_ambient_clear",
         prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == 0 ? 0 : errno);
  report(fd, "setgroups", syscall(SYS_setgroups, 0, nullptr) == 0 ? 0 : errno);
  report(fd, "setresgid", syscall(SYS_setresgid, -1, -1, -1) == 0 ? 0 : errno);
  report(fd, "setresuid", syscall(SYS_setresuid, -1, -1, -1) == 0 ? 0 : errno);
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3] = {};
  report(fd, "capget", syscall(SYS_capget, &header, caps) == 0 ? 0 : errno);
  report(fd, "capset", syscall(SYS_capset, &header, caps) == 0 ? 0 : errno);
  report(fd, "prctl_set_dumpable_0", prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 ? 0 : errno);

  struct sigaction handler {};  // the violation report's handler, before the call's filter
  handler.sa_handler = SIG_DFL;
  report(fd, "sigaction_sigsys", sigaction(SIGSYS, &handler, nullptr) == 0 ? 0 : errno);
  sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  report(fd, "seccomp_filter", install_seccomp_filter(&allow, 1) ? 0 : errno);
  return 0;
}

constexpr const char* kZygoteSetupChecks[] = {
    "unshare_vm", "get_robust_list", "prctl_get_tid_address", "pidfd_open", "clone_newpid_newns", "unshare_newns",
    "mount_private", "mount_tmpfs", "open_tree", "move_mount", "mount_setattr", "umount2", "setsid",
    "prctl_pdeathsig", "prctl_capbset_drop", "prctl_set_securebits", "prctl_cap_ambient_clear", "setgroups",
    "setresgid", "setresuid", "capget", "capset", "prctl_set_dumpable_0", "sigaction_sigsys", "seccomp_filter"};

TEST(SeccompZygote, SetupCallsOfTheLoopAndTheChildStepsWork) {
  if (!testing::can_create_pid_namespace()) GTEST_SKIP() << "namespaces and mounts need root here";
  ProbeResult result = under_filters(filters(Under::kZygote), zygote_setup_calls);
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  for (const char* key : kZygoteSetupChecks) EXPECT_EQ(result.at(key), 0) << key << ": " << result.describe();
}

}  // namespace
}  // namespace sandgate::sandbox
