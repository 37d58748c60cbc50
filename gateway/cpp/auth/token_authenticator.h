#pragma once
// Bearer tokens from the configured issuers, verified in the core: a JWT-shaped bearer credential (two dots or
// more) is a token and nothing else; any other request is left to `otherwise` (API keys and the
// anonymous rule). The token's unverified `iss` only chooses whose keys and rules verify it.
#include <memory>
#include <string_view>
#include <variant>
#include <vector>

#include "auth/authenticate.h"
#include "common/clock.h"
#include "jwt/jws.h"
#include "jwt/provider.h"
#include "jwt/token_cache.h"
#include "metrics/counters.h"

namespace sandgate::auth {

class TokenAuthenticator final : public Authenticator {
 public:
  TokenAuthenticator(std::vector<std::shared_ptr<const jwt::Provider>> providers, std::shared_ptr<jwt::TokenCache> cache,
                     const WallClock& clock, std::shared_ptr<metrics::Counters> counters,
                     std::shared_ptr<const Authenticator> otherwise, jwt::JwsLimits limits = {});

  AuthOutcome authenticate(const mcp::RequestContext& context) const override;

  // Why `token` is refused, or the principal it stands for; what authenticate() does for one bearer token.
  std::variant<Principal, jwt::JwtError> verify(std::string_view token) const;

 private:
  const jwt::Provider* provider_for(const json::object& claims) const;

  std::vector<std::shared_ptr<const jwt::Provider>> providers_;
  std::shared_ptr<jwt::TokenCache> cache_;
  const WallClock& clock_;
  std::shared_ptr<metrics::Counters> counters_;
  std::shared_ptr<const Authenticator> otherwise_;
  jwt::JwsLimits limits_;
};

// Whether a bearer credential is meant as a token (a compact JWS has two dots; more is a malformed token, not a key).
bool looks_like_token(std::string_view credential);

}  // namespace sandgate::auth
