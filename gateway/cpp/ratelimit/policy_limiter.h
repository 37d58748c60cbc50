#pragma once
// The policy file's rate limits over one bounded GCRA table: each limit's bucket keyed by the parts its
// `key:` names (principal, tool, the principal's first group, the client's address).
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "auth/principal.h"
#include "policy/tool_policy.h"
#include "ratelimit/gcra.h"
#include "ratelimit/rate_limit.h"

namespace sandgate::ratelimit {

class PolicyLimiter {
 public:
  PolicyLimiter(const Clock& clock, std::size_t max_keys, std::shared_ptr<metrics::Counters> counters);

  // Thread-safe; nullopt admits and spends one request of `limit`'s bucket for this caller.
  std::optional<Limited> admit(const policy::RateLimitSpec& limit, const auth::Principal& principal,
                               std::string_view tool, std::string_view peer);

  // The bucket's key: the limit's name, then each part, NUL-separated (no part can hold a NUL); clients
  // are counted by address, not by connection.
  static std::string bucket_key(const policy::RateLimitSpec& limit, const auth::Principal& principal,
                                std::string_view tool, std::string_view peer);

 private:
  GcraTable table_;
  std::shared_ptr<metrics::Counters> counters_;
};

}  // namespace sandgate::ratelimit
