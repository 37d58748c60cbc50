#include "metrics/families.h"

#include <algorithm>
#include <functional>

#include "mcp/errors.h"

namespace sandgate::metrics {

void Histogram::observe(std::chrono::nanoseconds value) {
  const double seconds = std::chrono::duration<double>(value).count();
  const auto bucket = std::lower_bound(kDurationBuckets.begin(), kDurationBuckets.end(), seconds) - kDurationBuckets.begin();
  buckets_[static_cast<std::size_t>(bucket)].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(value.count(), 0)), std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snapshot;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    snapshot.cumulative[i] = running;
  }
  snapshot.sum_s = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return snapshot;
}

Labels::Labels(std::size_t capacity, std::vector<std::string_view> fixed) : slots_(capacity) {
  for (std::string_view value : fixed) add(value);
}

std::size_t Labels::home(std::string_view value) const { return std::hash<std::string_view>{}(value) % slots_.size(); }

std::size_t Labels::find(std::string_view value) const {
  const std::size_t start = home(value);
  for (std::size_t step = 0; step < slots_.size(); ++step) {
    const std::size_t index = (start + step) % slots_.size();
    const std::string* held = slots_[index].load(std::memory_order_acquire);
    if (held == nullptr) return capacity();
    if (*held == value) return index;
  }
  return capacity();
}

std::size_t Labels::add(std::string_view value) {
  if (const std::size_t found = find(value); found != capacity()) return found;
  std::lock_guard lock(adding_);
  const std::size_t start = home(value);
  for (std::size_t step = 0; step < slots_.size(); ++step) {
    const std::size_t index = (start + step) % slots_.size();
    const std::string* held = slots_[index].load(std::memory_order_acquire);
    if (held != nullptr && *held == value) return index;  // added meanwhile
    if (held == nullptr) {
      slots_[index].store(&owned_.emplace_back(value), std::memory_order_release);
      return index;
    }
  }
  return capacity();
}

std::vector<std::pair<std::size_t, std::string_view>> Labels::known() const {
  std::vector<std::pair<std::size_t, std::string_view>> values;
  for (std::size_t index = 0; index < slots_.size(); ++index) {
    if (const std::string* held = slots_[index].load(std::memory_order_acquire)) values.emplace_back(index, *held);
  }
  values.emplace_back(capacity(), kOther);
  return values;
}

Families::Families()
    : http_requests(transports.capacity() + 1, statuses.capacity() + 1),
      jsonrpc_requests(methods.capacity() + 1, outcomes.capacity() + 1),
      tool_calls(tools.capacity() + 1, tool_outcomes.capacity() + 1),
      tool_durations(tools.capacity() + 1),
      sandbox_stops(stop_reasons.capacity() + 1, 1),
      seccomp_violations(syscalls.capacity() + 1, 1),
      auth_failures(auth_reasons.capacity() + 1, 1),
      policy_decisions(decisions.capacity() + 1, decision_reasons.capacity() + 1),
      rate_decisions(rate_results.capacity() + 1, rate_limits.capacity() + 1) {
  outcomes.add("ok");
  tool_outcomes.add("ok");
  tool_outcomes.add("tool_error");
  for (const auto& [index, reason] : stop_reasons.known()) {
    if (reason != kOther) tool_outcomes.add(reason);
  }
  for (int kind = 0; kind <= static_cast<int>(mcp::kLastFailure); ++kind) {
    const std::string_view name = mcp::failure_name(static_cast<mcp::Failure>(kind));
    outcomes.add(name);
    tool_outcomes.add(name);
  }
}

}  // namespace sandgate::metrics
