#include "sandbox/mount_tree.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string_view>

namespace sandgate::sandbox {
namespace {

// Where the host root hangs between pivot_root and its detachment.
constexpr std::string_view kOldRoot = "/.sandgate-old-root";
constexpr std::size_t kRootTmpfsBytes = 1 << 20;  // only mount points live there
constexpr std::size_t kMinScratchBytes = 4096;
// Inodes cost kernel memory outside the size= budget: one per page of scratch, plus a margin.
constexpr std::size_t kScratchBytesPerInode = 4096;
constexpr std::size_t kScratchExtraInodes = 256;
constexpr const char* kDeviceNodes[] = {"null", "zero", "full", "random", "urandom"};

constexpr std::uint64_t kReadonlyAttrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
// Device binds must stay openable (no NODEV); read-only still refuses chmod/chown of host nodes.
constexpr std::uint64_t kDeviceAttrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC;

struct Bind {
  std::string target;  // path inside the sandbox, as the caller wrote it
  std::string source;  // host path with symlinks resolved
  bool directory;
};

bool is_reserved(std::string_view path) {
  return path == "/" || path == "/tmp" || path == "/dev" || path == kOldRoot ||
         path.starts_with(std::string(kOldRoot) + "/");
}

bool is_normalized_absolute(std::string_view path) {
  if (path.empty() || path.front() != '/' || path.back() == '/') return path == "/";
  std::size_t start = 1;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

bool is_under(std::string_view path, std::string_view ancestor) {
  return path.size() > ancestor.size() && path.starts_with(ancestor) && path[ancestor.size()] == '/';
}

// Validates every path and resolves it on the host before anything is mounted.
Status plan_binds(const std::vector<std::string>& paths, std::vector<Bind>* binds) {
  std::vector<std::string> sorted(paths);
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  for (const std::string& path : sorted) {
    if (!is_normalized_absolute(path) || path.find('\0') != std::string::npos) {
      return Status::Invalid("readonly path must be absolute and normalized: " + path);
    }
    if (is_reserved(path)) return Status::Invalid("readonly path is built by the sandbox itself: " + path);
    char resolved[PATH_MAX];
    if (realpath(path.c_str(), resolved) == nullptr) return Status::Errno("readonly path", path);
    struct stat info{};
    if (stat(resolved, &info) != 0) return Status::Errno("stat", resolved);
    Bind bind{path, resolved, S_ISDIR(info.st_mode)};
    // Already visible through an earlier, enclosing bind of the same host tree.
    bool covered = std::any_of(binds->begin(), binds->end(), [&](const Bind& outer) {
      return is_under(bind.target, outer.target) &&
             bind.source == outer.source + bind.target.substr(outer.target.size());
    });
    if (!covered) binds->push_back(std::move(bind));
  }
  return Status::Ok();
}

Status set_attrs(const std::string& path, std::uint64_t attrs, bool recursive) {
  mount_attr attr{};
  attr.attr_set = attrs;
  if (syscall(SYS_mount_setattr, AT_FDCWD, path.c_str(), recursive ? AT_RECURSIVE : 0, &attr, sizeof attr) != 0) {
    return Status::Errno("mount_setattr", path);
  }
  return Status::Ok();
}

// mkdir -p of the parents, then the mount point itself: a directory, or an empty file.
Status make_mount_point(const std::string& path, bool directory) {
  for (std::size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    std::string parent = path.substr(0, slash);
    if (mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST) return Status::Errno("mkdir", parent);
  }
  if (directory) {
    if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return Status::Errno("mkdir", path);
    return Status::Ok();
  }
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Errno("create mount point", path);
  close(fd);
  return Status::Ok();
}

Status bind(const std::string& source, const std::string& target, bool directory, std::uint64_t attrs) {
  Status status = make_mount_point(target, directory);
  if (!status.ok()) return status;
  std::string from = std::string(kOldRoot) + source;
  // Recursive: a user namespace may not bind a tree without the mounts locked beneath it.
  if (mount(from.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    return Status::Errno("bind", source);
  }
  return set_attrs(target, attrs, /*recursive=*/true);
}

Status mount_tmpfs(const char* target, std::size_t bytes, std::size_t inodes, const char* mode) {
  std::string options = "size=" + std::to_string(bytes) + ",mode=" + mode;
  if (inodes > 0) options += ",nr_inodes=" + std::to_string(inodes);
  if (mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
    return Status::Errno("mount tmpfs", target);
  }
  return Status::Ok();
}

// A fresh tmpfs becomes "/", with the host root hanging at kOldRoot until detached.
Status pivot_to_empty_root() {
  // Any existing directory serves as the mount point: pivot_root moves the tmpfs away from it.
  Status status = mount_tmpfs("/tmp", kRootTmpfsBytes, 0, "0755");
  if (!status.ok()) return status;
  if (chdir("/tmp") != 0) return Status::Errno("chdir", "/tmp");
  std::string old_root(kOldRoot.substr(1));
  if (mkdir(old_root.c_str(), 0700) != 0) return Status::Errno("mkdir", kOldRoot);
  if (syscall(SYS_pivot_root, ".", old_root.c_str()) != 0) return Status::Errno("pivot_root");
  if (chdir("/") != 0) return Status::Errno("chdir", "/");
  return Status::Ok();
}

Status populate_dev() {
  if (mkdir("/dev", 0755) != 0) return Status::Errno("mkdir", "/dev");
  for (const char* node : kDeviceNodes) {
    std::string path = std::string("/dev/") + node;
    Status status = bind(path, path, /*directory=*/false, kDeviceAttrs);
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

}  // namespace

Status setup_filesystem(const FilesystemPlan& plan) {
  if (plan.scratch_bytes < kMinScratchBytes) return Status::Invalid("scratch_size_bytes must be at least 4096");
  std::vector<Bind> binds;
  Status status = plan_binds(plan.readonly_paths, &binds);
  if (!status.ok()) return status;

  // 1. Nothing mounted from here on may propagate back to the host.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return Status::Errno("make / rprivate");
  // 2. An empty root.
  status = pivot_to_empty_root();
  // 3. Scratch space first, so readonly paths under /tmp land on top of it rather than under it.
  if (status.ok() && mkdir("/tmp", 0755) != 0) status = Status::Errno("mkdir", "/tmp");
  if (status.ok()) {
    std::size_t inodes = plan.scratch_bytes / kScratchBytesPerInode + kScratchExtraInodes;
    status = mount_tmpfs("/tmp", plan.scratch_bytes, inodes, "1777");
  }
  // 4. The five harmless devices.
  if (status.ok()) status = populate_dev();
  // 5. What Python and the tools read.
  for (const Bind& b : binds) {
    if (!status.ok()) break;
    status = bind(b.source, b.target, b.directory, kReadonlyAttrs);
  }
  if (!status.ok()) return status;
  // 6. The host is gone from view.
  std::string old_root(kOldRoot);
  if (umount2(old_root.c_str(), MNT_DETACH) != 0) return Status::Errno("detach old root");
  if (rmdir(old_root.c_str()) != 0) return Status::Errno("rmdir", kOldRoot);
  // 7. Nothing new at the top level: only the mounts below "/" accept writes (/tmp).
  status = set_attrs("/", kReadonlyAttrs, /*recursive=*/false);
  if (!status.ok()) return status;
  if (chdir("/tmp") != 0) return Status::Errno("chdir", "/tmp");
  return Status::Ok();
}

}  // namespace sandgate::sandbox
