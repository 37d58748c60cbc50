#include "policy/token_services.h"

#include "auth/token_authenticator.h"

namespace sandgate::policy {
namespace {

// `stage`, kept alive together with the services whose clock and caches it reads.
template <typename Stage>
std::shared_ptr<const auth::Authenticator> held_with(std::shared_ptr<TokenServices> services, Stage stage) {
  struct Held {
    std::shared_ptr<TokenServices> services;
    Stage stage;
  };
  auto held = std::make_shared<const Held>(Held{std::move(services), std::move(stage)});
  return std::shared_ptr<const auth::Authenticator>(held, &held->stage);
}

}  // namespace

TokenServices::TokenServices(std::shared_ptr<const WallClock> clock, std::size_t max_cached_tokens,
                             std::shared_ptr<metrics::Counters> counters, jwt::JwsLimits limits,
                             std::size_t max_pending_introspections, std::size_t max_introspections_per_client)
    : clock_(std::move(clock)), counters_(counters), limits_(limits), cache_(*clock_, max_cached_tokens, counters),
      opaque_(std::make_shared<auth::OpaqueTokens>(*clock_, max_cached_tokens, max_pending_introspections, counters,
                                                   max_introspections_per_client)) {}

std::shared_ptr<jwt::KeySlot> TokenServices::slot(const std::string& issuer) {
  std::lock_guard lock(mutex_);
  std::shared_ptr<jwt::KeySlot>& slot = slots_[issuer];
  if (!slot) slot = std::make_shared<jwt::KeySlot>();
  return slot;
}

std::optional<std::string> TokenServices::set_keys(const std::string& issuer, std::string_view jwks_json, bool symmetric) {
  jwt::JwksOptions options;
  options.allow_symmetric = symmetric;
  auto parsed = jwt::Jwks::parse(jwks_json, options);
  if (auto* refusal = std::get_if<std::string>(&parsed)) return *refusal;
  slot(issuer)->set(std::get<std::shared_ptr<const jwt::Jwks>>(std::move(parsed)));
  cache_.clear();
  return std::nullopt;
}

std::shared_ptr<const auth::Authenticator> TokenServices::authenticator_for(const std::shared_ptr<const ToolPolicy>& policy) {
  // Aliasing: the API-key stage lives as long as its policy.
  std::shared_ptr<const auth::Authenticator> api_keys(policy, &policy->authenticator());
  // The policy served last decides how opaque tokens are judged; a request parked under an older one is
  // judged by it when it resumes.
  opaque_->configure(policy->introspection());
  if (policy->introspection()) {
    api_keys = held_with(shared_from_this(), auth::IntrospectionAuthenticator(opaque_, api_keys, limits_.max_token_bytes));
  }
  if (policy->token_providers().empty()) return api_keys;
  std::vector<std::shared_ptr<const jwt::Provider>> providers;
  for (const jwt::ProviderConfig& config : policy->token_providers()) {
    providers.push_back(std::make_shared<const jwt::Provider>(config, slot(config.rules.issuer)));
  }
  std::shared_ptr<TokenServices> self = shared_from_this();
  return held_with(self, auth::TokenAuthenticator(std::move(providers), std::shared_ptr<jwt::TokenCache>(self, &cache_),
                                                  *clock_, counters_, api_keys, limits_));
}

}  // namespace sandgate::policy
