#pragma once
// One trusted token issuer: its claim rules, the algorithms it may use, where groups live in its tokens, and
// its key set, swapped whole when the gateway refetches it (rotation without a restart).
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "auth/principal.h"
#include "jwt/claims.h"
#include "jwt/jwk.h"

namespace sandgate::jwt {

struct ProviderConfig {
  std::string name;  // names the provider in logs and errors
  ClaimRules rules;  // `rules.issuer` selects this provider for a token
  std::vector<Algorithm> algorithms;  // the only algorithms accepted from this issuer; empty: any its keys serve
  // Dotted paths to string-or-array claims whose values become the principal's groups: "groups", "roles",
  // "realm_access.roles".
  std::vector<std::string> group_claims{"groups"};
};

class KeySlot {
 public:
  std::shared_ptr<const Jwks> get() const { return keys_.load(); }
  void set(std::shared_ptr<const Jwks> keys) { keys_.store(std::move(keys)); }
  // A token named a key the set lacks: whoever fetches the keys may fetch them again (rotation).
  void want() { wanted_.store(true, std::memory_order_relaxed); }
  bool take_wanted() { return wanted_.exchange(false, std::memory_order_relaxed); }

 private:
  std::atomic<std::shared_ptr<const Jwks>> keys_;
  std::atomic<bool> wanted_{false};
};

class Provider {
 public:
  Provider(ProviderConfig config, std::shared_ptr<KeySlot> keys) : config_(std::move(config)), keys_(std::move(keys)) {}

  const ProviderConfig& config() const { return config_; }
  std::shared_ptr<const Jwks> keys() const { return keys_->get(); }
  void want_keys() const { keys_->want(); }
  bool allows(Algorithm algorithm) const;
  // The principal verified claims stand for: named by `sub` (a client-credentials token's `client_id` when it has
  // none), groups from the configured claims, scopes from `scope` (space-separated) and `scp` (an array).
  auth::Principal principal(const Claims& claims) const;

 private:
  ProviderConfig config_;
  std::shared_ptr<KeySlot> keys_;
};

// What Provider::principal does, for claims verified some other way (an introspection endpoint's answer).
auth::Principal principal_of(const ProviderConfig& config, const Claims& claims);

}  // namespace sandgate::jwt
