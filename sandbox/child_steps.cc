#include "sandbox/child_steps.h"

#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace sandgate::sandbox {
namespace {

constexpr const char* kStepNames[kStepCount] = {
    "new_session", "parent_death_signal", "close_fds", "resource_limits",
    "drop_privileges", "not_dumpable", "no_new_privs", "seccomp", "private_scratch",
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
  return mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, plan.scratch_options) == 0;
}

bool not_dumpable() noexcept { return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0; }

bool no_new_privs() noexcept { return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0; }

}  // namespace

const char* child_step_name(int step) {
  return step >= 1 && step <= kStepCount ? kStepNames[step - 1] : nullptr;
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
  // 8. Last: the filter would refuse the set*id and prctl calls above.
  if (plan.filter_len > 0 && !install_seccomp_filter(plan.filter, plan.filter_len)) fail(ChildStep::kSeccomp);
}

}  // namespace sandgate::sandbox
