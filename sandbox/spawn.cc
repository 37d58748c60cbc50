#include "sandbox/spawn.h"

#include <linux/filter.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "sandbox/fds.h"
#include "sandbox/namespaces.h"
#include "sandbox/privileges.h"

#if !defined(__x86_64__) && !defined(__aarch64__) && !(defined(__riscv) && __riscv_xlen == 64)
#error "raw clone(2) argument order: check this architecture (CLONE_BACKWARDS*) before adding it"
#endif

namespace sandgate::sandbox {
namespace {

constexpr std::size_t kMaxFilterBytes = BPF_MAXINSNS * sizeof(sock_filter);
constexpr int kFirstNonStdioFd = 3;

Status plan_filter(std::string_view bpf, ChildPlan* plan) {
  if (bpf.size() % sizeof(sock_filter) != 0 || bpf.size() > kMaxFilterBytes) {
    return Status::Invalid("seccomp_bpf is not a BPF program of at most 4096 instructions");
  }
  plan->filter = reinterpret_cast<const sock_filter*>(bpf.data());
  plan->filter_len = static_cast<unsigned short>(bpf.size() / sizeof(sock_filter));
  return Status::Ok();
}

}  // namespace

PreparedSpawn::~PreparedSpawn() { close_pidfd(); }

void PreparedSpawn::close_pidfd() noexcept {
  if (plan_.parent_pidfd >= 0) close(plan_.parent_pidfd);
  plan_.parent_pidfd = -1;
}

Status PreparedSpawn::prepare(const SpawnRequest& request) {
  close_pidfd();
  plan_ = ChildPlan{};
  Status status = check_single_threaded();
  if (status.ok()) status = plan_fds(request.keep_fds, &plan_.fds);
  if (status.ok()) status = plan_rlimits(request.limits, &plan_.rlimits);
  if (status.ok()) status = plan_privileges(request.uid, request.gid, &plan_.privileges);
  if (status.ok()) status = plan_filter(request.seccomp_bpf, &plan_);
  if (!status.ok()) return status;

  plan_.new_pid_namespace = request.new_pid_namespace;
  // The caller's order, not the plan's sorted one: the first kept descriptor is the call socket.
  if (!request.keep_fds.empty()) plan_.violation_report_fd = request.keep_fds.front();
  if (request.private_scratch_bytes > 0) {
    plan_.private_scratch = true;
    // One inode per 4 KiB of scratch (at least 64): a flood of empty files is bounded too.
    const unsigned long long inodes = std::max(64ULL, request.private_scratch_bytes / 4096);
    std::snprintf(plan_.scratch_options, sizeof plan_.scratch_options, "size=%llu,nr_inodes=%llu,mode=1777",
                  request.private_scratch_bytes, inodes);
    if (request.scratch_rebinds.size() > kMaxScratchRebinds) {
      return Status::Invalid("more directories under /tmp to bind again than kMaxScratchRebinds");
    }
    plan_.scratch_rebinds = request.scratch_rebinds.data();
    plan_.scratch_rebind_count = static_cast<int>(request.scratch_rebinds.size());
  }
  plan_.parent_pid = getpid();
  // A pidfd tells the child whether the parent is still alive, across PID namespaces (Linux 5.3).
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, plan_.parent_pid, 0));
  if (pidfd >= kFirstNonStdioFd) {
    plan_.parent_pidfd = pidfd;
  } else if (pidfd >= 0) {
    close(pidfd);  // would sit where stdio belongs; fall back to getppid()
  }

  tid_address_ = nullptr;
  pid_t* address = nullptr;
  // Trust the address only if it holds our tid, i.e. it is glibc's field (needs CHECKPOINT_RESTORE).
  if (prctl(PR_GET_TID_ADDRESS, &address, 0, 0, 0) == 0 && address != nullptr &&
      *address == static_cast<pid_t>(syscall(SYS_gettid))) {
    tid_address_ = address;
  }
  robust_list_head_ = nullptr;
  robust_list_len_ = 0;
  if (syscall(SYS_get_robust_list, 0, &robust_list_head_, &robust_list_len_) != 0) robust_list_head_ = nullptr;
  return Status::Ok();
}

pid_t PreparedSpawn::spawn() noexcept {
  pid_t pid;
  if (plan_.new_pid_namespace) {
    // glibc has no fork into a new PID namespace: clone directly, redoing what its fork() does.
    unsigned long flags = CLONE_NEWPID | SIGCHLD;
    if (plan_.private_scratch) flags |= CLONE_NEWNS;
    if (tid_address_ != nullptr) flags |= CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
    pid = static_cast<pid_t>(syscall(SYS_clone, flags, nullptr, nullptr, tid_address_, nullptr));
    if (pid == 0 && robust_list_head_ != nullptr) {
      syscall(SYS_set_robust_list, robust_list_head_, robust_list_len_);  // cleared by the kernel on clone
    }
  } else {
    pid = fork();
  }
  if (pid != 0) return pid;
  run_child_steps(plan_);
  plan_.parent_pidfd = -1;  // closed by step 5; the number may be reused already
  return 0;
}

}  // namespace sandgate::sandbox
