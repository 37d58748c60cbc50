#include "sandbox/namespaces.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace sandgate::sandbox {
namespace {

constexpr int kZygoteNamespaces = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
constexpr std::size_t kMaxIdMapBytes = 4096;  // the kernel takes one write of at most a page
constexpr std::size_t kMaxHostnameBytes = 64;

// Entries of /proc/self/task, or -1 when /proc is not mounted (e.g. after setup_filesystem).
int count_threads() {
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return -1;
  int threads = 0;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++threads;
  }
  closedir(dir);
  return threads;
}

Status write_file(const char* path, std::string_view content) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status::Errno("open", path);
  ssize_t written = write(fd, content.data(), content.size());
  Status status = written == static_cast<ssize_t>(content.size()) ? Status::Ok() : Status::Errno("write", path);
  close(fd);
  return status;
}

}  // namespace

Status check_single_threaded() {
  int threads = count_threads();
  if (threads > 1) {
    return {Code::kNotSingleThreaded, EINVAL,
            "process has " + std::to_string(threads) + " threads; namespaces and fork need exactly one"};
  }
  // The kernel's own test: unshare(CLONE_VM) succeeds only when no other thread shares the memory.
  if (unshare(CLONE_VM) != 0) {
    return {Code::kNotSingleThreaded, errno, "process is multi-threaded; namespaces and fork need one thread"};
  }
  return Status::Ok();
}

Status unshare_namespaces(bool user, bool pid) {
  Status status = check_single_threaded();
  if (!status.ok()) return status;
  if (user) setgroups(0, nullptr);  // EPERM when unprivileged: then there was nothing to drop
  if (unshare(kZygoteNamespaces | (user ? CLONE_NEWUSER : 0) | (pid ? CLONE_NEWPID : 0)) != 0) {
    return Status::Errno("unshare");
  }
  return Status::Ok();
}

Status enter_user_namespace() {
  Status status = check_single_threaded();
  if (!status.ok()) return status;
  setgroups(0, nullptr);  // supplementary host groups would stay attached, unmapped, inside
  if (unshare(CLONE_NEWUSER) != 0) return Status::Errno("unshare", "user namespace");
  return Status::Ok();
}

Status write_own_id_maps(std::string_view uid_map, std::string_view gid_map) {
  if (uid_map.empty() || gid_map.empty() || uid_map.size() > kMaxIdMapBytes || gid_map.size() > kMaxIdMapBytes) {
    return Status::Invalid("uid_map and gid_map must both be given, at most 4096 bytes each");
  }
  // Must precede gid_map for an unprivileged writer; ENOENT only on kernels before 3.19.
  Status status = write_file("/proc/self/setgroups", "deny");
  if (!status.ok() && status.err != ENOENT) return status;
  status = write_file("/proc/self/gid_map", gid_map);
  if (status.ok()) status = write_file("/proc/self/uid_map", uid_map);
  return status;
}

Status set_hostname(std::string_view hostname) {
  if (hostname.empty() || hostname.size() > kMaxHostnameBytes) return Status::Invalid("hostname must be 1..64 bytes");
  if (sethostname(hostname.data(), hostname.size()) != 0) return Status::Errno("sethostname");
  return Status::Ok();
}

}  // namespace sandgate::sandbox
