#pragma once
// The per-call fork: the parent prepares a ChildPlan, the child runs the steps before anything else.
#include <sys/types.h>

#include <span>
#include <string_view>

#include "sandbox/child_steps.h"
#include "sandbox/rlimits.h"
#include "sandbox/status.h"

namespace sandgate::sandbox {

struct SpawnRequest {
  ResourceLimits limits;
  std::span<const int> keep_fds;  // the first is the call socket, where a seccomp violation is reported
  std::string_view seccomp_bpf;  // raw struct sock_filter array; empty installs no filter
  bool new_pid_namespace = true;
  long long uid = -1;  // -1 keeps the zygote's
  long long gid = -1;
  unsigned long long private_scratch_bytes = 0;  // 0: the call shares the zygote's /tmp
  std::span<const char* const> scratch_rebinds;  // absolute directories under /tmp, alive across fork
};

// One call child. A new PID namespace means a raw clone: C pthread_atfork handlers do not run.
class PreparedSpawn {
 public:
  PreparedSpawn() = default;
  ~PreparedSpawn();
  PreparedSpawn(const PreparedSpawn&) = delete;
  PreparedSpawn& operator=(const PreparedSpawn&) = delete;

  // Fails with kNotSingleThreaded when another thread exists: fork would copy its locks mid-use.
  Status prepare(const SpawnRequest& request);

  // The child's pid, or -1 with errno; in the child 0, only once every step passed.
  pid_t spawn() noexcept;

  const ChildPlan& plan() const { return plan_; }

 private:
  void close_pidfd() noexcept;

  ChildPlan plan_;
  // glibc's own copy of the thread id; the raw clone updates it the way fork() would.
  pid_t* tid_address_ = nullptr;
  void* robust_list_head_ = nullptr;
  size_t robust_list_len_ = 0;
};

}  // namespace sandgate::sandbox
