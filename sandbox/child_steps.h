#pragma once
// The call child's containment, as an ordered list of named, async-signal-safe steps.
#include <linux/filter.h>
#include <sys/types.h>

#include <cstddef>

#include "sandbox/fds.h"
#include "sandbox/privileges.h"
#include "sandbox/rlimits.h"

namespace sandgate::sandbox {

// A failing step ends the child with _exit(kStepExitBase + step): 121..130.
enum class ChildStep : int {
  kNewSession = 1,
  kParentDeathSignal = 2,
  kCloseFds = 3,
  kResourceLimits = 4,
  kDropPrivileges = 5,
  kNotDumpable = 6,
  kNoNewPrivs = 7,
  kSeccomp = 8,
  kPrivateScratch = 9,   // runs between kCloseFds and kResourceLimits
  kViolationReport = 10,  // runs between kNoNewPrivs and kSeccomp
};
inline constexpr int kStepExitBase = 120;
inline constexpr std::size_t kMaxScratchRebinds = 16;
inline constexpr int kStepCount = 10;

// "close_fds" for ChildStep::kCloseFds; nullptr outside 1..kStepCount.
const char* child_step_name(int step);

// Everything the child needs, prepared by the parent: no allocation or Python object after fork.
struct ChildPlan {
  pid_t parent_pid = 0;
  int parent_pidfd = -1;  // readable once the parent exits; -1 falls back to comparing getppid()
  bool new_pid_namespace = false;
  FdPlan fds;
  RlimitPlan rlimits;
  PrivilegePlan privileges;
  // A fresh tmpfs on /tmp for this call alone: nothing one call leaves there reaches the next.
  bool private_scratch = false;
  char scratch_options[64] = {};
  // Directories under /tmp bound again, read-only, on top of the private /tmp (owned by the caller).
  const char* const* scratch_rebinds = nullptr;
  int scratch_rebind_count = 0;
  const sock_filter* filter = nullptr;  // points into the caller's buffer, alive across fork
  unsigned short filter_len = 0;        // instructions; 0 installs nothing
  // The call socket (the first kept descriptor): a trapped syscall is reported there as one frame.
  // -1, or no filter, installs no SIGSYS handler.
  int violation_report_fd = -1;
};

// Runs the steps in order. Returns only when all succeeded; otherwise _exit(kStepExitBase + step).
void run_child_steps(const ChildPlan& plan) noexcept;

// Behind step 10: the SIGSYS handler that writes {"violation":{"syscall":N,"arch":A}}, framed as
// a 4-byte big-endian length then JSON, to `fd`, then dies by the filter's kill of rt_sigaction(SIGSYS).
bool install_violation_report(int fd) noexcept;

// The raw seccomp(2) install behind step 8 (no_new_privs must already be set). False, errno set.
bool install_seccomp_filter(const sock_filter* filter, unsigned short len) noexcept;

}  // namespace sandgate::sandbox
