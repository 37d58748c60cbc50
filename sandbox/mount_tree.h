#pragma once
// The zygote's filesystem view: a read-only root built from named host paths, a private /tmp.
#include <cstddef>
#include <string>
#include <vector>

#include "sandbox/status.h"

namespace sandgate::sandbox {

struct FilesystemPlan {
  std::size_t scratch_bytes = 0;            // size of the private tmpfs at /tmp
  std::vector<std::string> readonly_paths;  // absolute host paths, visible at the same path
};

// After unshare_namespaces and the id maps; Linux 5.12+ (mount_setattr). The steps are in the .cc.
// Paths: absolute, normalized, not "/", "/tmp" or "/dev"; symlinks are resolved on the host.
Status setup_filesystem(const FilesystemPlan& plan);

}  // namespace sandgate::sandbox
