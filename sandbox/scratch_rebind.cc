#include "sandbox/scratch_rebind.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>

namespace sandgate::sandbox {
namespace {

// Read-only, and nothing in it runs set-id or opens devices: the zygote's own view of these paths.
constexpr std::uint64_t kReboundAttrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;

void close_all(int* fds, int count) noexcept {
  const int saved = errno;
  for (int i = 0; i < count; ++i) {
    if (fds[i] >= 0) close(fds[i]);
    fds[i] = -1;
  }
  errno = saved;
}

// mkdir -p, in place: `path` is copied into a local buffer (no allocation after fork).
bool make_directories(const char* path) noexcept {
  char buffer[PATH_MAX];
  std::size_t length = 0;
  while (path[length] != '\0') {
    if (length + 1 >= sizeof buffer) {
      errno = ENAMETOOLONG;
      return false;
    }
    buffer[length] = path[length];
    ++length;
  }
  buffer[length] = '\0';
  for (std::size_t i = 1; i <= length; ++i) {
    if (buffer[i] != '/' && buffer[i] != '\0') continue;
    const char saved = buffer[i];
    buffer[i] = '\0';
    if (mkdir(buffer, 0755) != 0 && errno != EEXIST) return false;
    buffer[i] = saved;
  }
  return true;
}

}  // namespace

bool take_scratch_trees(const char* const* paths, int count, int* trees) noexcept {
  for (int i = 0; i < count; ++i) trees[i] = -1;
  for (int i = 0; i < count; ++i) {
    trees[i] = static_cast<int>(
        syscall(SYS_open_tree, AT_FDCWD, paths[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
    mount_attr attr{};
    attr.attr_set = kReboundAttrs;
    if (trees[i] < 0 ||
        syscall(SYS_mount_setattr, trees[i], "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0) {
      close_all(trees, i + 1);
      return false;
    }
  }
  return true;
}

bool attach_scratch_trees(const char* const* paths, int count, int* trees) noexcept {
  for (int i = 0; i < count; ++i) {
    if (!make_directories(paths[i]) ||
        syscall(SYS_move_mount, trees[i], "", AT_FDCWD, paths[i], MOVE_MOUNT_F_EMPTY_PATH) != 0) {
      close_all(trees, count);
      return false;
    }
    close(trees[i]);
    trees[i] = -1;
  }
  return true;
}

}  // namespace sandgate::sandbox
