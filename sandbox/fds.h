#pragma once
// Descriptor hygiene for the call child: only the descriptors the parent names survive.
#include <span>

#include "sandbox/status.h"

namespace sandgate::sandbox {

// Sorted, de-duplicated descriptors to keep; fixed-size so the child reads it without allocating.
struct FdPlan {
  static constexpr int kMaxKept = 64;
  int kept[kMaxKept + 1];  // one slot spare for close_stray_fds' extra descriptor
  int count = 0;
};

// Rejects negative, closed (EBADF) or too many descriptors.
Status plan_fds(std::span<const int> keep, FdPlan* plan);

// Async-signal-safe; `spare_fd` survives too. Unkept 0-2 go to /dev/null. False, errno set.
bool close_stray_fds(const FdPlan& plan, int spare_fd = -1) noexcept;

}  // namespace sandgate::sandbox
