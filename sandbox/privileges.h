#pragma once
// Identity and capability drop for the call child.
#include <sys/types.h>

#include "sandbox/status.h"

namespace sandgate::sandbox {

struct PrivilegePlan {
  bool set_uid = false;
  bool set_gid = false;
  uid_t uid = 0;
  gid_t gid = 0;
  // The bounding set and securebits need CAP_SETPCAP; without it there is nothing to drop there.
  bool has_setpcap = false;
};

// -1 keeps the inherited id. Reads the parent's capabilities to decide what the child can drop.
Status plan_privileges(long long uid, long long gid, PrivilegePlan* plan);

// Async-signal-safe raw syscalls, bounding set first while CAP_SETPCAP lasts. False, errno set.
bool drop_privileges(const PrivilegePlan& plan) noexcept;

}  // namespace sandgate::sandbox
