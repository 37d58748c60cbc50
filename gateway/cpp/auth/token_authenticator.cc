#include "auth/token_authenticator.h"

#include <algorithm>
#include <chrono>

#include "jwt/claims.h"

namespace sandgate::auth {
namespace {

AuthFailure refused(jwt::JwtError error) {
  return {AuthError::kInvalidCredentials, "Unauthorized: invalid token",
          R"(error="invalid_token", error_description=")" + std::string(jwt::jwt_error_code(error)) + "\"",
          jwt::jwt_error_code(error)};
}

}  // namespace

bool looks_like_token(std::string_view credential) { return std::count(credential.begin(), credential.end(), '.') >= 2; }

TokenAuthenticator::TokenAuthenticator(std::vector<std::shared_ptr<const jwt::Provider>> providers,
                                       std::shared_ptr<jwt::TokenCache> cache, const WallClock& clock,
                                       std::shared_ptr<metrics::Counters> counters,
                                       std::shared_ptr<const Authenticator> otherwise, jwt::JwsLimits limits)
    : providers_(std::move(providers)), cache_(std::move(cache)), clock_(clock), counters_(std::move(counters)),
      otherwise_(std::move(otherwise)), limits_(limits) {}

const jwt::Provider* TokenAuthenticator::provider_for(const json::object& claims) const {
  const json::value* issuer = claims.if_contains("iss");
  if (issuer == nullptr || !issuer->is_string()) return nullptr;
  for (const auto& provider : providers_) {
    if (provider->config().rules.issuer == issuer->get_string()) return provider.get();
  }
  return nullptr;
}

std::variant<Principal, jwt::JwtError> TokenAuthenticator::verify(std::string_view token) const {
  if (token.size() > limits_.max_token_bytes) return jwt::JwtError::kTooLarge;
  if (std::shared_ptr<const Principal> cached = cache_->find(token)) return *cached;
  auto parsed = jwt::parse_jws(token, limits_);
  if (auto* error = std::get_if<jwt::JwtError>(&parsed)) return *error;
  const jwt::Jws& jws = std::get<jwt::Jws>(parsed);
  // The unverified claims only choose whose keys and rules judge the token.
  std::optional<json::object> unverified = jwt::json_object_once(jws.payload);
  if (!unverified) return jwt::JwtError::kBadClaims;
  const jwt::Provider* provider = provider_for(*unverified);
  if (provider == nullptr) return jwt::JwtError::kWrongIssuer;
  if (!provider->allows(jws.algorithm)) return jwt::JwtError::kUnsupportedAlgorithm;
  std::shared_ptr<const jwt::Jwks> keys = provider->keys();
  if (keys == nullptr) {  // the issuer's keys could not be fetched: fail closed
    provider->want_keys();
    return jwt::JwtError::kUnknownKey;
  }
  if (std::optional<jwt::JwtError> refused = jwt::verify_parsed(jws, *keys)) {
    if (*refused == jwt::JwtError::kUnknownKey) provider->want_keys();
    return *refused;
  }
  auto checked = jwt::check_claims(jws.payload, provider->config().rules, clock_.now());
  if (auto* error = std::get_if<jwt::JwtError>(&checked)) return *error;
  const jwt::Claims& claims = std::get<jwt::Claims>(checked);
  auto principal = std::make_shared<const Principal>(provider->principal(claims));
  if (claims.expires_at) {
    cache_->insert(token, principal, WallClock::time_point(std::chrono::seconds(*claims.expires_at)));
  }
  return *principal;
}

AuthOutcome TokenAuthenticator::authenticate(const mcp::RequestContext& context) const {
  std::optional<std::string_view> bearer = context.headers ? bearer_credential(*context.headers) : std::nullopt;
  if (!bearer || !looks_like_token(*bearer)) return otherwise_->authenticate(context);
  // A token and an API key in one request: refused rather than one of them picked.
  auto outcome = context.headers->find("x-api-key") ? jwt::JwtError::kMalformed : verify(*bearer);
  if (auto* error = std::get_if<jwt::JwtError>(&outcome)) {
    counters_->add(metrics::Counter::kTokensRefused);
    return refused(*error);
  }
  counters_->add(metrics::Counter::kTokensVerified);
  return std::move(std::get<Principal>(outcome));
}

}  // namespace sandgate::auth
