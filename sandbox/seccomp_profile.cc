#include "sandbox/seccomp_profile.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <memory>

namespace sandgate::sandbox {
namespace {

constexpr std::uint32_t kAllow = SCMP_ACT_ALLOW;
// SIGSYS: the child's handler (child step violation_report) names the syscall, then dies by kKill.
constexpr std::uint32_t kTrap = SCMP_ACT_TRAP;
// Dies at once, no handler: what a handler could not report truthfully, or must not survive.
constexpr std::uint32_t kKill = SCMP_ACT_KILL_PROCESS;
constexpr std::uint32_t kDeny = SCMP_ACT_ERRNO(EPERM);
// Unlisted calls look unimplemented, so libraries take their fallback path (clone3 -> clone).
constexpr std::uint32_t kAbsent = SCMP_ACT_ERRNO(ENOSYS);

// The kernel reads these arguments as 32-bit ints: junk in the high half must not dodge a rule.
constexpr std::uint64_t kLow32 = 0xffffffffu;
// Namespace flags clone(2) accepts (CLONE_NEWTIME shares its bit with the exit signal there).
constexpr std::uint64_t kCloneNamespaceFlags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                                               CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

// What CPython and tool code need; namespaces, mount tree and dropped capabilities bound their reach.
constexpr const char* kAllowed[] = {
    // memory
    "brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "msync", "mincore", "membarrier",
    "memfd_create",
    // descriptors and I/O
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
    "pwritev2", "lseek", "close", "close_range", "dup", "dup2", "dup3", "pipe", "pipe2", "fcntl",
    "flock", "fsync", "fdatasync", "ftruncate", "truncate", "fallocate", "fadvise64", "readahead",
    "sendfile", "copy_file_range", "splice", "tee", "eventfd", "eventfd2", "timerfd_create",
    "timerfd_settime", "timerfd_gettime", "signalfd", "signalfd4", "inotify_init", "inotify_init1",
    "inotify_add_watch", "inotify_rm_watch",
    // paths: what is visible and writable is the mount tree's business
    "open", "openat", "creat", "stat", "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs",
    "access", "faccessat", "faccessat2", "readlink", "readlinkat", "getdents", "getdents64",
    "getcwd", "chdir", "fchdir", "rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir",
    "unlink", "unlinkat", "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat",
    "chown", "fchown", "lchown", "fchownat", "utime", "utimes", "utimensat", "futimesat", "umask",
    "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr", "setxattr",
    "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
    // waiting
    "select", "pselect6", "poll", "ppoll", "epoll_create", "epoll_create1", "epoll_ctl",
    "epoll_wait", "epoll_pwait", "epoll_pwait2",
    // sockets: only socketpair(AF_UNIX) makes one and setsockopt is checked (below); see kIslands
    "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown", "getsockname",
    "getpeername", "getsockopt",
    // processes and threads: clone is checked below; kill reaches only the call's PID namespace
    "fork", "vfork", "exit", "exit_group", "wait4", "waitid", "kill", "tkill", "tgkill", "getpid",
    "getppid", "gettid", "getpgid", "getpgrp", "setpgid", "getsid", "setsid", "set_tid_address",
    "set_robust_list", "rseq", "arch_prctl", "futex", "futex_waitv", "sched_yield",
    "sched_getaffinity", "sched_getparam", "sched_getscheduler", "sched_get_priority_max",
    "sched_get_priority_min", "getpriority", "setpriority", "pidfd_open", "pidfd_send_signal",
    "restart_syscall",
    // signals (rt_sigaction is checked below)
    "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait",
    "rt_sigsuspend", "sigaltstack", "pause",
    // time
    "nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres", "gettimeofday", "time",
    "alarm", "getitimer", "setitimer", "timer_create", "timer_settime", "timer_gettime",
    "timer_getoverrun", "timer_delete",
    // identity and limits: without capabilities a limit can only go down
    "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups", "getrlimit",
    "setrlimit", "prlimit64", "getrusage", "times", "capget",
    // system information
    "uname", "sysinfo", "getrandom", "getcpu",
};

// Refused with EPERM: a policy "no" that callers should see as such, not as a missing feature.
// The zygote changes ids only through setres*id and setgroups (kPrivilegeDrop), so it is refused these too.
constexpr const char* kDenied[] = {
    "setuid", "setgid", "setreuid", "setregid", "setfsuid", "setfsgid",
};

// What the child steps drop ids and capabilities with: allowed for the zygote, EPERM for a call.
constexpr const char* kPrivilegeDrop[] = {"setresuid", "setresgid", "setgroups", "capset"};

// Calls are islands. Every call of a zygote shares its network and IPC namespaces, so whatever could
// name a rendezvous point is refused, in both profiles, with EPERM (libraries fail cleanly): an
// abstract Unix address (socket() of any family, and bind/connect/listen/accept, since a socketpair
// datagram socket disconnected with connect(AF_UNSPEC) could be bound to one; SO_PASSCRED, below), a
// SysV IPC key, a POSIX message queue name. socketpair(AF_UNIX) stays: asyncio and multiprocessing use it.
constexpr const char* kIslands[] = {
    "socket", "bind", "connect", "listen", "accept", "accept4",
    "shmget", "shmat", "shmdt", "shmctl", "msgget", "msgsnd", "msgrcv", "msgctl",
    "semget", "semop", "semtimedop", "semctl",
    "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
};

// The process dies on the first attempt, reporting the syscall: no legitimate tool does these.
// The same action in both profiles: with the two filters stacked, a call's violation stays a
// reported TRAP (the most restrictive action wins); the zygote has no SIGSYS handler, so it just dies.
constexpr const char* kKilled[] = {
    // program execution and other processes' memory
    "execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
    // namespaces and mounts beyond what kMountCalls and the unshare/clone rules below let the zygote do
    "setns", "umount", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount", "fspick",
    "open_by_handle_at",
    // large kernel attack surfaces
    "bpf", "perf_event_open", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "userfaultfd", "keyctl", "add_key", "request_key",
    // the machine itself
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "swapon", "swapoff", "acct", "quotactl", "quotactl_fd",
};

// SO_PASSPIDFD from asm-generic/socket.h (Linux 6.5), which the C library's headers may predate.
constexpr std::uint64_t kSoPassPidfd = 76;

// Killed in a call; the zygote needs them: a child mounts its private /tmp, and paths may be re-bound.
constexpr const char* kMountCalls[] = {"mount", "umount2", "mount_setattr", "open_tree", "move_mount"};

// prctl options a tool may use; every other option is EPERM (PR_SET_DUMPABLE, PR_SET_MM, ...).
constexpr std::uint64_t kPrctlAllowed[] = {
    PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_GET_KEEPCAPS, PR_SET_NAME, PR_GET_NAME,
    PR_GET_SECCOMP, PR_CAPBSET_READ, PR_GET_SECUREBITS, PR_SET_TIMERSLACK, PR_GET_TIMERSLACK,
    PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS,
    0x53564d41,  // PR_SET_VMA: glibc names anonymous mappings with it
};

// prctl options of the zygote alone (besides PR_SET_DUMPABLE 0 and PR_CAP_AMBIENT clear-all, below).
constexpr std::uint64_t kPrctlZygoteAllowed[] = {
    PR_CAPBSET_DROP,     // drop_privileges empties the bounding set
    PR_SET_SECUREBITS,   // drop_privileges locks the securebits
    PR_GET_TID_ADDRESS,  // PreparedSpawn::prepare: glibc's tid field, kept right across the raw clone
};

// Namespaces a per-call clone creates (spawn.cc): the call's PID 1 and its private /tmp.
constexpr std::uint64_t kZygoteCloneNamespaces = CLONE_NEWPID | CLONE_NEWNS;

// libseccomp ignores conditional rules beside an unconditional one: "the rest" is an always-true test.
constexpr scmp_arg_cmp always(unsigned arg) { return {arg, SCMP_CMP_GE, 0, 0}; }
constexpr scmp_arg_cmp low32_is(unsigned arg, std::uint64_t value) {
  return {arg, SCMP_CMP_MASKED_EQ, kLow32, value};
}

struct FilterDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Filter = std::unique_ptr<void, FilterDeleter>;

class RuleSet {
 public:
  explicit RuleSet(scmp_filter_ctx ctx) : ctx_(ctx) {}

  void add(std::uint32_t action, const char* name, std::initializer_list<scmp_arg_cmp> args = {}) {
    if (!status_.ok()) return;
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) {
      status_ = Status::Invalid(std::string("seccomp profile names an unknown syscall: ") + name);
      return;
    }
    if (nr < 0) return;  // a syscall of other architectures only
    int rc = seccomp_rule_add_array(ctx_, action, nr, static_cast<unsigned>(args.size()), args.begin());
    if (rc < 0) {
      errno = -rc;
      status_ = Status::Errno("seccomp_rule_add", name);
    }
  }

  const Status& status() const { return status_; }

 private:
  scmp_filter_ctx ctx_;
  Status status_;
};

// Threads and fork pass, and the namespaces in `permitted`; any other namespace flag traps.
// Together the rules cover every flag value.
void add_clone_rules(RuleSet& rules, std::uint64_t permitted) {
  const std::uint64_t trapped = kCloneNamespaceFlags & ~permitted;
  rules.add(kAllow, "clone", {{0, SCMP_CMP_MASKED_EQ, trapped, 0}});
  for (std::uint64_t bit = 1; bit <= kLow32; bit <<= 1) {
    if (bit & trapped) rules.add(kTrap, "clone", {{0, SCMP_CMP_MASKED_EQ, bit, bit}});
  }
  // clone3 stays unlisted (ENOSYS): its flags are in memory a filter cannot read; glibc falls back.
}

// What both profiles say alike. Everything a call may do, the zygote may too: stacked, it must not
// refuse what the call's own filter allows.
void add_common_rules(RuleSet& rules) {
  for (const char* name : kAllowed) rules.add(kAllow, name);
  for (const char* name : kDenied) rules.add(kDeny, name);
  for (const char* name : kIslands) rules.add(kDeny, name);
  for (const char* name : kKilled) rules.add(kTrap, name);

  // TIOCSTI/TIOCLINUX push keystrokes into a terminal; every other request is the driver's call.
  rules.add(kTrap, "ioctl", {low32_is(1, TIOCSTI)});
  rules.add(kTrap, "ioctl", {low32_is(1, TIOCLINUX)});
  rules.add(kAllow, "ioctl", {always(1)});

  // A connected pair only; EPERM, not a kill, so import-time IPv6 probes survive and errors read clearly.
  rules.add(kAllow, "socketpair", {low32_is(0, AF_UNIX)});
  rules.add(kDeny, "socketpair", {always(0)});

  // Islands again: with credential passing on, a datagram socket's next send gives it an abstract name
  // (autobind); once its pair's other end is closed, any call could reach it there (a 2^20 name scan).
  rules.add(kDeny, "setsockopt", {low32_is(2, SO_PASSCRED)});
  rules.add(kDeny, "setsockopt", {low32_is(2, kSoPassPidfd)});
  rules.add(kAllow, "setsockopt", {always(2)});
}

void add_call_rules(RuleSet& rules) {
  for (const char* name : kPrivilegeDrop) rules.add(kDeny, name);
  for (const char* name : kMountCalls) rules.add(kTrap, name);
  rules.add(kTrap, "unshare");
  // A tool's own filters could add user-notification listeners: nothing to gain, surface to lose.
  rules.add(kDeny, "seccomp");

  // The violation handler is the only SIGSYS handler: replacing or even querying it kills outright.
  rules.add(kKill, "rt_sigaction", {low32_is(0, SIGSYS)});
  rules.add(kAllow, "rt_sigaction", {always(0)});

  add_clone_rules(rules, 0);

  for (std::uint64_t option : kPrctlAllowed) rules.add(kAllow, "prctl", {low32_is(0, option)});
  rules.add(kDeny, "prctl", {always(0)});
}

// The zygote loop (zygote_loop.cc, spawn.cc) and the child steps before the call's own filter
// (child_steps.cc, fds.cc, rlimits.cc, privileges.cc); each addition to the call profile says why.
void add_zygote_rules(RuleSet& rules) {
  // drop_privileges: setgroups, setresgid, setresuid to the call's uid, then capset to nothing.
  for (const char* name : kPrivilegeDrop) rules.add(kAllow, name);
  // private_scratch mounts the call's tmpfs on /tmp; the zygote may re-bind paths (open_tree + move_mount).
  for (const char* name : kMountCalls) rules.add(kAllow, name);

  // private_scratch without a PID namespace needs a mount namespace of its own; check_single_threaded
  // probes with unshare(CLONE_VM). Any other flag (user, net, ...) traps. The kernel reads all 64 bits.
  rules.add(kAllow, "unshare", {{0, SCMP_CMP_EQ, CLONE_NEWNS, 0}});
  rules.add(kAllow, "unshare", {{0, SCMP_CMP_EQ, CLONE_VM, 0}});
  rules.add(kTrap, "unshare", {always(0)});

  // The call's filter, installed by the child (step 8); no flags: no TSYNC, no notification listener.
  rules.add(kAllow, "seccomp", {low32_is(0, SECCOMP_SET_MODE_FILTER), low32_is(1, 0)});
  rules.add(kDeny, "seccomp", {always(0)});

  // The child installs its SIGSYS report handler (step 7b) before the call's filter forbids that.
  rules.add(kAllow, "rt_sigaction");

  // PreparedSpawn::prepare reads its own robust-list head to restore it after the raw clone.
  rules.add(kAllow, "get_robust_list", {low32_is(0, 0)});
  rules.add(kDeny, "get_robust_list", {always(0)});

  // The per-call clone: a PID namespace, and with it a mount namespace for the private /tmp.
  add_clone_rules(rules, kZygoteCloneNamespaces);

  for (std::uint64_t option : kPrctlAllowed) rules.add(kAllow, "prctl", {low32_is(0, option)});
  for (std::uint64_t option : kPrctlZygoteAllowed) rules.add(kAllow, "prctl", {low32_is(0, option)});
  // not_dumpable switches dumping off, never on; drop_privileges clears ambient capabilities, raises none.
  rules.add(kAllow, "prctl", {low32_is(0, PR_SET_DUMPABLE), {1, SCMP_CMP_EQ, 0, 0}});
  rules.add(kAllow, "prctl", {low32_is(0, PR_CAP_AMBIENT), {1, SCMP_CMP_EQ, PR_CAP_AMBIENT_CLEAR_ALL, 0}});
  rules.add(kDeny, "prctl", {always(0)});
}

Status export_bpf(scmp_filter_ctx ctx, std::string* bpf) {
  int fd = memfd_create("sandgate-seccomp", MFD_CLOEXEC);
  if (fd < 0) return Status::Errno("memfd_create");
  Status status;
  int rc = seccomp_export_bpf(ctx, fd);
  if (rc < 0) {
    errno = -rc;
    status = Status::Errno("seccomp_export_bpf");
  } else {
    off_t size = lseek(fd, 0, SEEK_END);
    bpf->resize(size > 0 ? static_cast<std::size_t>(size) : 0);
    if (size < 0 || pread(fd, bpf->data(), bpf->size(), 0) != size) status = Status::Errno("read exported bpf");
  }
  close(fd);
  return status;
}

}  // namespace

Status compile_seccomp_profile(std::string_view profile, std::string* bpf) {
  bpf->clear();
  if (profile == kProfileNone) return Status::Ok();
  const bool zygote = profile == kProfileZygote;
  if (!zygote && profile != kProfileDefault) {
    return Status::Invalid("unknown seccomp profile: " + std::string(profile));
  }

  Filter filter(seccomp_init(kAbsent));
  if (!filter) return Status::Invalid("seccomp_init failed");
  // A foreign ABI (i386 int 0x80, x32) gets its own syscall numbers: kill, neither translate nor report.
  int rc = seccomp_attr_set(filter.get(), SCMP_FLTATR_ACT_BADARCH, kKill);
  // Binary search over syscall numbers instead of a linear chain of ~200 comparisons.
  if (rc == 0) rc = seccomp_attr_set(filter.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
  if (rc < 0) {
    errno = -rc;
    return Status::Errno("seccomp_attr_set");
  }
  RuleSet rules(filter.get());
  add_common_rules(rules);
  if (zygote) {
    add_zygote_rules(rules);
  } else {
    add_call_rules(rules);
  }
  if (!rules.status().ok()) return rules.status();
  return export_bpf(filter.get(), bpf);
}

std::uint32_t native_audit_arch() { return seccomp_arch_native(); }

std::string syscall_name(int nr) {
  char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
  if (name == nullptr) return {};
  std::string result(name);
  std::free(name);
  return result;
}

}  // namespace sandgate::sandbox
