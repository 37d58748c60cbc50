#pragma once
// The zygote's namespaces, entered once so that no call pays for them.
#include <string_view>

#include "sandbox/status.h"

namespace sandgate::sandbox {

// kNotSingleThreaded unless exactly one thread: /proc/self/task while visible, then the kernel.
Status check_single_threaded();

// Mount, network (lo down), IPC, UTS (+ user, + PID for the next child) namespaces; groups dropped
// first (denied inside).
Status unshare_namespaces(bool user, bool pid = false);

// A user namespace entered last, after the mount tree was built with host privileges: the caller
// keeps capabilities only inside it, and the mounts made before are locked.
Status enter_user_namespace();

// From inside, only a one-line map of the caller's own id; wider maps need a privileged parent.
Status write_own_id_maps(std::string_view uid_map, std::string_view gid_map);

// sethostname in the zygote's UTS namespace; at most 64 bytes.
Status set_hostname(std::string_view hostname);

}  // namespace sandgate::sandbox
