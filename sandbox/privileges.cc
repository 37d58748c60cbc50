#include "sandbox/privileges.h"

#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace sandgate::sandbox {
namespace {

// Root gets no implicit capabilities, set*id never keeps them, ambient ones cannot come back.
constexpr unsigned long kLockedSecurebits =
    SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
    SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;

constexpr long long kMaxId = 0xfffffffeLL;  // (uid_t)-1 means "unchanged" to the kernel

bool capget_self(__user_cap_data_struct (&data)[_LINUX_CAPABILITY_U32S_3]) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  return syscall(SYS_capget, &header, data) == 0;
}

bool empty_bounding_set() noexcept {
  for (unsigned long cap = 0;; ++cap) {
    int present = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (present < 0) return errno == EINVAL;  // past the kernel's last capability
    if (present == 1 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) return false;
  }
}

}  // namespace

Status plan_privileges(long long uid, long long gid, PrivilegePlan* plan) {
  *plan = PrivilegePlan{};
  if (uid < -1 || uid > kMaxId) return Status::Invalid("uid must be -1 or a valid uid");
  if (gid < -1 || gid > kMaxId) return Status::Invalid("gid must be -1 or a valid gid");
  plan->set_uid = uid >= 0;
  plan->set_gid = gid >= 0;
  plan->uid = plan->set_uid ? static_cast<uid_t>(uid) : 0;
  plan->gid = plan->set_gid ? static_cast<gid_t>(gid) : 0;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (!capget_self(data)) return Status::Errno("capget");
  plan->has_setpcap = (data[CAP_TO_INDEX(CAP_SETPCAP)].effective & CAP_TO_MASK(CAP_SETPCAP)) != 0;
  return Status::Ok();
}

bool drop_privileges(const PrivilegePlan& plan) noexcept {
  if (plan.has_setpcap) {
    if (!empty_bounding_set()) return false;
    if (prctl(PR_SET_SECUREBITS, kLockedSecurebits, 0, 0, 0) != 0) return false;
  }
  // EINVAL: a kernel older than ambient capabilities, so there are none to clear.
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return false;
  if (plan.set_gid) {
    if (syscall(SYS_setgroups, 0, nullptr) != 0) return false;
    if (syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0) return false;
  }
  if (plan.set_uid && syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0) return false;
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = {};
  return syscall(SYS_capset, &header, none) == 0;
}

}  // namespace sandgate::sandbox
