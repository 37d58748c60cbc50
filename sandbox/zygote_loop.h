#pragma once
// The zygote's per-call loop: call messages in, sandboxed children out, their exits reported back.
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/control_protocol.h"
#include "sandbox/status.h"

namespace sandgate::sandbox {

// Calls run as the gateway's uid_base + slot (a zygote started as root); a slot is free again once reaped.
inline constexpr int kCallUidSlots = 1024;

struct ZygoteLoopConfig {
  int control_fd = -1;            // SOCK_SEQPACKET to the gateway; borrowed, never closed here
  std::string_view seccomp_bpf;   // installed in every child; must outlive the loop
  long long uid_base = -1;        // < 0: children keep the zygote's uid
  std::uint64_t baseline_address_space = 0;  // the zygote's own mappings, which every child starts with
  int call_slots = kCallUidSlots;  // live calls at most; one uid each when uid_base >= 0
  // Directories under /tmp holding read-only paths (a module checked out under /tmp): the call's
  // private /tmp would hide them, so each child binds them again, read-only (at most kMaxScratchRebinds).
  std::vector<std::string> scratch_rebinds;
};

// Bookkeeping the embedding runtime needs around fork (the module: PyOS_BeforeFork and friends).
class ForkHooks {
 public:
  virtual ~ForkHooks() = default;
  virtual void before_fork() {}
  virtual void after_fork_in_parent() {}
  virtual void after_fork_in_child() {}
};

struct LoopCounters {
  std::uint64_t spawned = 0;
  std::uint64_t spawn_failed = 0;
  std::uint64_t exited = 0;
  std::uint64_t rejected_messages = 0;  // malformed, oversized, unknown op or wrong fd count
};

// How run() ended when it returned Ok.
struct LoopExit {
  bool in_call_child = false;  // false: the gateway closed the control socket
  int call_fd = -1;            // in the child: its end of the call socketpair, the only fd besides 0-2
  bool persistent = false;     // in the child: a per_session worker
};

// Single-threaded. Every fd the loop holds is gone in a child: the child steps close all but call_fd.
class ZygoteLoop {
 public:
  ZygoteLoop(const ZygoteLoopConfig& config, ForkHooks& hooks);
  ~ZygoteLoop();
  ZygoteLoop(const ZygoteLoop&) = delete;
  ZygoteLoop& operator=(const ZygoteLoop&) = delete;

  // Serves until the control socket closes (Ok, !in_call_child) or, in a new call child, returns at
  // once (Ok, in_call_child). An error means the loop cannot go on (epoll or the socket failed).
  Status run(LoopExit* exit);

  const LoopCounters& counters() const { return counters_; }

 private:
  struct Child {
    std::uint64_t id = 0;
    pid_t pid = -1;
    int pidfd = -1;
  };
  Status on_control(LoopExit* exit, bool peer_hung_up);
  Status on_call(const control::CallMessage& call, int call_fd, LoopExit* exit);
  Status on_child_exit(int slot);
  Status watch_child(int slot, std::uint64_t id, pid_t pid);
  Status report_spawn_failure(std::uint64_t id, int error, std::string_view what);
  // A gateway that is gone (EPIPE) ends the loop like EOF does; other failures are errors.
  Status send(const void* message, std::size_t size, int fd = -1);
  void forget_fds_in_child();

  ZygoteLoopConfig config_;
  ForkHooks& hooks_;
  int epoll_fd_ = -1;
  bool control_closed_ = false;
  std::vector<Child> children_;  // by slot
  std::vector<int> free_slots_;  // the next slot to use at the back
  std::vector<const char*> scratch_rebinds_;  // into config_.scratch_rebinds, for the child's plan
  LoopCounters counters_;
};

}  // namespace sandgate::sandbox
