#include "metrics/counters.h"

namespace sandgate::metrics {

std::string_view counter_name(Counter counter) {
  switch (counter) {
    case Counter::kDeliveries: return "deliveries";
    case Counter::kRequests: return "requests";
    case Counter::kRequestsFailed: return "requests_failed";
    case Counter::kRequestsCancelled: return "requests_cancelled";
    case Counter::kAuthFailures: return "auth_failures";
    case Counter::kPolicyDenials: return "policy_denials";
    case Counter::kRateLimited: return "rate_limited";
    case Counter::kCount: break;
  }
  return "unknown";
}

std::vector<std::pair<std::string_view, std::uint64_t>> Counters::snapshot() const {
  std::vector<std::pair<std::string_view, std::uint64_t>> out;
  out.reserve(values_.size());
  for (std::size_t i = 0; i < values_.size(); ++i) {
    out.emplace_back(counter_name(static_cast<Counter>(i)), values_[i].load(std::memory_order_relaxed));
  }
  return out;
}

}  // namespace sandgate::metrics
