#include "sandbox/child_steps.h"

#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "sandbox/scratch_rebind.h"

namespace sandgate::sandbox {
namespace {

constexpr const char* kStepNames[kStepCount] = {
    "new_session", "parent_death_signal", "close_fds", "resource_limits",
    "drop_privileges", "not_dumpable", "no_new_privs", "seccomp", "private_scratch",
    "violation_report",
};

[[noreturn]] void fail(ChildStep step) noexcept { _exit(kStepExitBase + static_cast<int>(step)); }

// Own session and process group: the gateway signals the group, and no terminal is inherited.
bool new_session() noexcept { return setsid() >= 0; }

// Die with the parent. Checking afterwards closes the race where the parent exited first.
bool parent_death_signal(const ChildPlan& plan) noexcept {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) return false;
  if (plan.parent_pidfd >= 0) {
    pollfd exited{plan.parent_pidfd, POLLIN, 0};
    return poll(&exited, 1, 0) == 0;
  }
  // Inside a new PID namespace the parent's pid reads as 0 whether or not it is alive.
  return plan.new_pid_namespace || getppid() == plan.parent_pid;
}

// The clone already gave a new mount namespace when it made a PID namespace; fork needs its own.
bool private_scratch(const ChildPlan& plan) noexcept {
  if (!plan.new_pid_namespace && unshare(CLONE_NEWNS) != 0) return false;
  // What the zygote sees under /tmp (a module checked out there) is taken before the tmpfs hides it.
  int trees[kMaxScratchRebinds];
  if (!take_scratch_trees(plan.scratch_rebinds, plan.scratch_rebind_count, trees)) return false;
  if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, plan.scratch_options) != 0) return false;
  if (!attach_scratch_trees(plan.scratch_rebinds, plan.scratch_rebind_count, trees)) return false;
  // The inherited cwd is the zygote's shared /tmp, now hidden below the mount: relative paths must
  // land in the call's own scratch, not where the next call of another session would find them.
  return chdir("/tmp") == 0;
}

bool not_dumpable() noexcept { return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0; }

bool no_new_privs() noexcept { return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0; }

// si_code of a SIGSYS raised by a seccomp trap (SYS_SECCOMP: only the kernel's asm-generic headers name it).
constexpr int kSeccompSigsysCode = 1;
// The kernel's sigset_t: 64 signals.
constexpr unsigned long kKernelSigsetBytes = 8;

// A signal handler takes no context argument, so where it reports must be a global. Set once in the
// child before the handler exists, only read afterwards; forked children inherit it with the handler.
volatile sig_atomic_t violation_report_fd = -1;

// Decimal digits of `value` from `out` on; returns the end. snprintf is not async-signal-safe.
char* append_decimal(char* out, long long value) noexcept {
  unsigned long long magnitude = value < 0 ? 0ULL - static_cast<unsigned long long>(value) : value;
  if (value < 0) *out++ = '-';
  char digits[20];
  int count = 0;
  do {
    digits[count++] = static_cast<char>('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude != 0);
  while (count > 0) *out++ = digits[--count];
  return out;
}

char* append_text(char* out, const char* text) noexcept {
  while (*text != '\0') *out++ = *text++;
  return out;
}

// One write for the whole frame, so another thread's output cannot land inside it; EINTR retries.
void write_fully(int fd, const char* data, std::size_t size) noexcept {
  while (size > 0) {
    ssize_t written = write(fd, data, size);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return;  // nowhere to report (closed, full and non-blocking): die unreported
    data += written;
    size -= static_cast<std::size_t>(written);
  }
}

// Runs in the violating thread, with every signal blocked and SIGSYS already reset to SIG_DFL.
void report_violation(int, siginfo_t* info, void*) noexcept {
  if (info->si_code == kSeccompSigsysCode) {
    constexpr std::size_t kHeaderBytes = 4;
    char frame[96];
    char* end = append_text(frame + kHeaderBytes, R"({"violation":{"syscall":)");
    end = append_decimal(end, info->si_syscall);
    end = append_text(end, R"(,"arch":)");
    end = append_decimal(end, info->si_arch);
    end = append_text(end, "}}");
    auto length = static_cast<std::uint32_t>(end - frame - kHeaderBytes);
    for (std::size_t i = 0; i < kHeaderBytes; ++i) frame[i] = static_cast<char>(length >> (8 * (3 - i)));
    write_fully(violation_report_fd, frame, static_cast<std::size_t>(end - frame));
  }
  // Killed by the filter, not raise(): PID 1 of a PID namespace ignores its own default-action signals.
  syscall(SYS_rt_sigaction, SIGSYS, nullptr, nullptr, kKernelSigsetBytes);
  _exit(128 + SIGSYS);  // a filter that allowed it: still never resume the trapped syscall
}

}  // namespace

const char* child_step_name(int step) {
  return step >= 1 && step <= kStepCount ? kStepNames[step - 1] : nullptr;
}

bool install_violation_report(int fd) noexcept {
  violation_report_fd = fd;
  struct sigaction action {};
  action.sa_sigaction = report_violation;
  // Reset on entry: a second violation, in any thread, meets SIG_DFL and the kernel kills outright.
  action.sa_flags = SA_SIGINFO | SA_RESETHAND;
  sigfillset(&action.sa_mask);  // no other handler runs in this thread before the report is out
  return sigaction(SIGSYS, &action, nullptr) == 0;
}

bool install_seccomp_filter(const sock_filter* filter, unsigned short len) noexcept {
  sock_fprog program{len, const_cast<sock_filter*>(filter)};
  return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) == 0;
}

void run_child_steps(const ChildPlan& plan) noexcept {
  // 1. A session of its own, so a group kill reaches the whole call and nothing else.
  if (!new_session()) fail(ChildStep::kNewSession);
  // 2. SIGKILL when the zygote goes away; a parent already gone ends the child here.
  if (!parent_death_signal(plan)) fail(ChildStep::kParentDeathSignal);
  // 3. Only the named descriptors survive (the parent pidfd until step 5 has used it).
  if (!close_stray_fds(plan.fds, plan.parent_pidfd)) fail(ChildStep::kCloseFds);
  // 3b. Scratch of its own, mounted while the mount capability is still held.
  if (plan.private_scratch && !private_scratch(plan)) fail(ChildStep::kPrivateScratch);
  // 4. Limits before privileges go: lowering a hard limit needs no capability anyway.
  if (!apply_rlimits(plan.rlimits)) fail(ChildStep::kResourceLimits);
  // 5. Ids and capabilities. A uid/gid change clears the parent-death signal: arm it again.
  if (!drop_privileges(plan.privileges)) fail(ChildStep::kDropPrivileges);
  if ((plan.privileges.set_uid || plan.privileges.set_gid) && !parent_death_signal(plan)) {
    fail(ChildStep::kParentDeathSignal);
  }
  if (plan.parent_pidfd >= 0) close(plan.parent_pidfd);
  // 6. After the credential change, which resets dumpability: no ptrace, no core, no /proc peeking.
  if (!not_dumpable()) fail(ChildStep::kNotDumpable);
  // 7. Required for an unprivileged seccomp filter, and no exec could gain privileges anyway.
  if (!no_new_privs()) fail(ChildStep::kNoNewPrivs);
  // 7b. A trapped syscall's name reaches the gateway: only the dying process is told which it was.
  if (plan.filter_len > 0 && plan.violation_report_fd >= 0 && !install_violation_report(plan.violation_report_fd)) {
    fail(ChildStep::kViolationReport);
  }
  // 8. Last: the filter would refuse the set*id and prctl calls and the SIGSYS handler above.
  if (plan.filter_len > 0 && !install_seccomp_filter(plan.filter, plan.filter_len)) fail(ChildStep::kSeccomp);
}

}  // namespace sandgate::sandbox
