#pragma once
// Per-call resource limits: validated and clamped in the parent, applied by the child with setrlimit.
#include <sys/resource.h>

#include <cstdint>

#include "sandbox/status.h"

namespace sandgate::sandbox {

// Zero leaves the inherited limit in place; the names are the limits of a control protocol call message.
struct ResourceLimits {
  std::int64_t address_space = 0;  // bytes (RLIMIT_AS)
  std::int64_t cpu_seconds = 0;    // RLIMIT_CPU: SIGXCPU (ignored by an unhandled PID 1), SIGKILL 1 s on
  std::int64_t open_files = 0;     // RLIMIT_NOFILE
  std::int64_t processes = 0;      // RLIMIT_NPROC: counted per uid, so per-slot uids make it per call
  std::int64_t file_size = 0;      // bytes (RLIMIT_FSIZE)
};

// Ready-to-apply setrlimit arguments, RLIMIT_CORE 0 included; plain data, read without allocating.
struct RlimitPlan {
  struct Entry {
    int resource;
    rlimit value;
  };
  static constexpr int kMaxEntries = 6;
  Entry entries[kMaxEntries];
  int count = 0;
};

// Negative is invalid; above the inherited hard limit is lowered to it (never looser, never EPERM).
Status plan_rlimits(const ResourceLimits& limits, RlimitPlan* plan);

// Async-signal-safe. False (errno set) if the kernel refused one.
bool apply_rlimits(const RlimitPlan& plan) noexcept;

}  // namespace sandgate::sandbox
