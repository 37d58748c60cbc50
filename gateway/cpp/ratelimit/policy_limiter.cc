#include "ratelimit/policy_limiter.h"

namespace sandgate::ratelimit {
namespace {

std::int64_t ceil_seconds(std::chrono::nanoseconds span) {
  return (std::max<std::int64_t>(0, span.count()) + 999'999'999) / 1'000'000'000;
}

}  // namespace

PolicyLimiter::PolicyLimiter(const Clock& clock, std::size_t max_keys, std::shared_ptr<metrics::Counters> counters)
    : table_(clock, max_keys, counters), counters_(std::move(counters)) {}

std::string PolicyLimiter::bucket_key(const policy::RateLimitSpec& limit, const auth::Principal& principal,
                                      std::string_view tool, std::string_view peer) {
  std::string key = limit.name;
  for (policy::RateKeyPart part : limit.key) {
    key += '\0';
    switch (part) {
      case policy::RateKeyPart::kPrincipal:
        // Anonymous callers share one bucket unless the key also names the client.
        key += principal.kind == auth::Principal::Kind::kAnonymous ? std::string_view("\x01" "anonymous")
                                                                   : std::string_view(principal.name);
        break;
      case policy::RateKeyPart::kTool: key += tool; break;
      case policy::RateKeyPart::kGroup: key += principal.groups.empty() ? std::string_view() : principal.groups.front(); break;
      case policy::RateKeyPart::kClient: key += mcp::peer_address(peer); break;
    }
  }
  return key;
}

std::optional<Limited> PolicyLimiter::admit(const policy::RateLimitSpec& limit, const auth::Principal& principal,
                                            std::string_view tool, std::string_view peer) {
  const GcraDecision decision = table_.take(bucket_key(limit, principal, tool, peer), limit.rate);
  metrics::Families& families = counters_->families();
  families.rate_decisions.add(families.rate_results.find(decision.admitted ? "allowed" : "limited"),
                              families.rate_limits.add(limit.name));  // names come from the policy file
  if (decision.admitted) return std::nullopt;
  Limited limited;
  limited.retry_after = std::chrono::ceil<std::chrono::milliseconds>(decision.retry_after);
  limited.policy = limit.name;
  limited.quota = limit.rate.count;
  limited.window_s = std::max<std::int64_t>(1, ceil_seconds(limit.rate.period));
  limited.remaining = decision.remaining;
  limited.reset_s = ceil_seconds(decision.reset);
  return limited;
}

}  // namespace sandgate::ratelimit
