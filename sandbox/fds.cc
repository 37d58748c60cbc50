#include "sandbox/fds.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

namespace sandgate::sandbox {
namespace {

constexpr int kStdioCount = 3;

bool is_kept(const FdPlan& plan, int fd) noexcept {
  for (int i = 0; i < plan.count; ++i) {
    if (plan.kept[i] == fd) return true;
  }
  return false;
}

// Upper bound of the fallback loop when RLIMIT_NOFILE is unlimited or huge.
constexpr rlim_t kMaxFallbackFd = 1u << 20;

// close_range needs Linux 5.9; older kernels get a loop bounded by RLIMIT_NOFILE.
bool close_between(unsigned first, unsigned last) noexcept {
  if (first > last) return true;
  if (syscall(SYS_close_range, first, last, 0) == 0) return true;
  if (errno != ENOSYS) return false;
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) != 0) return false;
  unsigned end = static_cast<unsigned>(std::min(nofile.rlim_cur, kMaxFallbackFd));
  for (unsigned fd = first; fd <= last && fd < end; ++fd) close(static_cast<int>(fd));
  return true;
}

// Adds `fd` in sorted position; the plan has one slot spare for it.
void insert_sorted(FdPlan& plan, int fd) noexcept {
  if (fd < 0 || is_kept(plan, fd)) return;
  int i = plan.count++;
  for (; i > 0 && plan.kept[i - 1] > fd; --i) plan.kept[i] = plan.kept[i - 1];
  plan.kept[i] = fd;
}

}  // namespace

Status plan_fds(std::span<const int> keep, FdPlan* plan) {
  *plan = FdPlan{};
  for (int fd : keep) {
    if (fd < 0) return Status::Invalid("keep_fds holds a negative descriptor");
    if (fcntl(fd, F_GETFD) < 0) return Status::Errno("keep_fds", std::to_string(fd));
    if (is_kept(*plan, fd)) continue;
    if (plan->count == FdPlan::kMaxKept) return Status::Invalid("keep_fds holds more than 64 descriptors");
    plan->kept[plan->count++] = fd;
  }
  std::sort(plan->kept, plan->kept + plan->count);
  return Status::Ok();
}

bool close_stray_fds(const FdPlan& requested, int spare_fd) noexcept {
  FdPlan plan = requested;  // a stack copy: the child must not allocate
  insert_sorted(plan, spare_fd);
  unsigned next = kStdioCount;
  for (int i = 0; i < plan.count; ++i) {
    unsigned fd = static_cast<unsigned>(plan.kept[i]);
    if (fd < kStdioCount) continue;
    if (fd > next && !close_between(next, fd - 1)) return false;
    next = fd + 1;
  }
  if (!close_between(next, ~0u)) return false;

  int null_fd = open("/dev/null", O_RDWR);
  if (null_fd < 0) return false;
  for (int fd = 0; fd < kStdioCount; ++fd) {
    if (!is_kept(plan, fd) && fd != null_fd && dup2(null_fd, fd) < 0) return false;
  }
  if (null_fd >= kStdioCount) close(null_fd);
  return true;
}

}  // namespace sandgate::sandbox
