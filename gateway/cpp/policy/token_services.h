#pragma once
// What token authentication keeps across policy versions: each issuer's keys (fetched by the server and set
// here), the cache of verified tokens, and the clock token times are read on. Each policy version gets an
// authenticator over its own issuers' rules and these keys.
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "auth/authenticate.h"
#include "auth/introspection.h"
#include "common/clock.h"
#include "jwt/jws.h"
#include "jwt/provider.h"
#include "jwt/token_cache.h"
#include "metrics/counters.h"
#include "policy/tool_policy.h"

namespace sandgate::policy {

// Held by shared_ptr: each authenticator it makes keeps it (its keys, cache and clock) alive.
class TokenServices : public std::enable_shared_from_this<TokenServices> {
 public:
  TokenServices(std::shared_ptr<const WallClock> clock, std::size_t max_cached_tokens,
                std::shared_ptr<metrics::Counters> counters, jwt::JwsLimits limits = {},
                std::size_t max_pending_introspections = 1024, std::size_t max_introspections_per_client = 16);

  // Replaces the issuer's keys with the set in `jwks_json`; the refusal when the set is not acceptable (the
  // keys held before stay). Tokens verified before are verified again.
  std::optional<std::string> set_keys(const std::string& issuer, std::string_view jwks_json, bool symmetric);
  // Whether a token named a key the issuer's set lacks since the last call: time to fetch the keys again.
  bool keys_wanted(const std::string& issuer) { return slot(issuer)->take_wanted(); }
  // The authenticate stage for `policy`: its issuers' tokens, then its API keys and anonymous rule.
  std::shared_ptr<const auth::Authenticator> authenticator_for(const std::shared_ptr<const ToolPolicy>& policy);
  jwt::TokenCache& cache() { return cache_; }
  // Opaque tokens awaiting (or answered by) the introspection endpoint of the policy being served.
  auth::OpaqueTokens& opaque_tokens() { return *opaque_; }

 private:
  std::shared_ptr<jwt::KeySlot> slot(const std::string& issuer);

  std::shared_ptr<const WallClock> clock_;
  std::shared_ptr<metrics::Counters> counters_;
  jwt::JwsLimits limits_;
  jwt::TokenCache cache_;
  std::shared_ptr<auth::OpaqueTokens> opaque_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<jwt::KeySlot>> slots_;
};

}  // namespace sandgate::policy
