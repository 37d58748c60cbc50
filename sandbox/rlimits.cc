#include "sandbox/rlimits.h"

#include <sys/resource.h>

#include <algorithm>
#include <string>

namespace sandgate::sandbox {
namespace {

Status add(RlimitPlan* plan, int resource, const char* name, std::int64_t soft, std::int64_t extra_hard) {
  if (soft < 0) return Status::Invalid(std::string("limit must be >= 0: ") + name);
  if (soft == 0) return Status::Ok();
  rlimit current{};
  if (getrlimit(resource, &current) != 0) return Status::Errno("getrlimit", name);
  rlim_t hard = static_cast<rlim_t>(soft) + static_cast<rlim_t>(extra_hard);
  if (current.rlim_max != RLIM_INFINITY) hard = std::min(hard, current.rlim_max);
  rlim_t cur = std::min(static_cast<rlim_t>(soft), hard);
  plan->entries[plan->count++] = {resource, {cur, hard}};
  return Status::Ok();
}

}  // namespace

Status plan_rlimits(const ResourceLimits& limits, RlimitPlan* plan) {
  *plan = RlimitPlan{};
  const struct {
    int resource;
    const char* name;
    std::int64_t value;
    std::int64_t extra_hard;
  } wanted[] = {
      {RLIMIT_AS, "address_space", limits.address_space, 0},
      // Soft below hard: SIGXCPU first (catchable, reportable), SIGKILL a second later.
      {RLIMIT_CPU, "cpu_seconds", limits.cpu_seconds, 1},
      {RLIMIT_NOFILE, "open_files", limits.open_files, 0},
      {RLIMIT_NPROC, "processes", limits.processes, 0},
      {RLIMIT_FSIZE, "file_size", limits.file_size, 0},
  };
  for (const auto& w : wanted) {
    Status status = add(plan, w.resource, w.name, w.value, w.extra_hard);
    if (!status.ok()) return status;
  }
  plan->entries[plan->count++] = {RLIMIT_CORE, {0, 0}};
  return Status::Ok();
}

bool apply_rlimits(const RlimitPlan& plan) noexcept {
  for (int i = 0; i < plan.count; ++i) {
    if (setrlimit(plan.entries[i].resource, &plan.entries[i].value) != 0) return false;
  }
  return true;
}

}  // namespace sandgate::sandbox
