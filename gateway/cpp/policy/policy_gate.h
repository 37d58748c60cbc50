#pragma once
// The policy on the request path: one snapshot, swapped whole on reload, behind the authenticate, authorize
// and rate-limit stages. A request keeps the snapshot it was authorized under (RequestContext::admission).
#include <atomic>
#include <memory>
#include <mutex>

#include "auth/authenticate.h"
#include "metrics/counters.h"
#include "policy/authorize.h"
#include "policy/token_services.h"
#include "policy/tool_policy.h"
#include "ratelimit/policy_limiter.h"
#include "ratelimit/rate_limit.h"

namespace sandgate::policy {

// A policy and the module's plans under it (its defaults, maxSandbox and trust over the module's requests),
// swapped together: a call runs under the limits of the policy that admitted it.
struct ServedPolicy {
  std::shared_ptr<const ToolPolicy> policy;
  std::shared_ptr<const SandboxGrant> sandbox;  // null: the engine's own grant
  std::shared_ptr<const auth::Authenticator> authenticator;  // the policy's issuers and API keys
};

class PolicyGate {
 public:
  // `tokens`: the server's token keys and cache; null serves API keys only (what `policy test` needs).
  explicit PolicyGate(std::shared_ptr<const ToolPolicy> initial, std::shared_ptr<const SandboxGrant> sandbox = nullptr,
                      std::shared_ptr<TokenServices> tokens = nullptr)
      : tokens_(std::move(tokens)), current_(serve(std::move(initial), std::move(sandbox))) {}

  std::shared_ptr<const ServedPolicy> served() const { return current_.load(); }
  // The policy alone, keeping its whole snapshot alive.
  std::shared_ptr<const ToolPolicy> current() const {
    std::shared_ptr<const ServedPolicy> served = current_.load();
    const ToolPolicy* policy = served->policy.get();
    return std::shared_ptr<const ToolPolicy>(std::move(served), policy);
  }
  // Requests already authorized finish under the snapshot they hold.
  void swap(std::shared_ptr<const ToolPolicy> next, std::shared_ptr<const SandboxGrant> sandbox = nullptr) {
    current_.store(serve(std::move(next), std::move(sandbox)));
    if (tokens_) tokens_->cache().clear();  // issuers' rules may have changed: verify again
  }
  TokenServices* tokens() const { return tokens_.get(); }

 private:
  std::shared_ptr<const ServedPolicy> serve(std::shared_ptr<const ToolPolicy> policy,
                                            std::shared_ptr<const SandboxGrant> sandbox) const {
    std::shared_ptr<const auth::Authenticator> authenticator =
        tokens_ ? tokens_->authenticator_for(policy) : std::shared_ptr<const auth::Authenticator>(policy, &policy->authenticator());
    return std::make_shared<const ServedPolicy>(ServedPolicy{std::move(policy), std::move(sandbox), std::move(authenticator)});
  }

  std::shared_ptr<TokenServices> tokens_;
  std::atomic<std::shared_ptr<const ServedPolicy>> current_;
};

// API keys and the anonymous rule of the current snapshot.
class GateAuthenticator final : public auth::Authenticator {
 public:
  explicit GateAuthenticator(std::shared_ptr<const PolicyGate> gate) : gate_(std::move(gate)) {}
  auth::AuthOutcome authenticate(const mcp::RequestContext& context) const override;

 private:
  std::shared_ptr<const PolicyGate> gate_;
};

// tools/call by the rules (a tool the caller may not see answers as unknown); every other request is let
// through to the engine, spending from the policy's default rate limit.
class GateAuthorizer final : public Authorizer {
 public:
  GateAuthorizer(std::shared_ptr<const PolicyGate> gate, std::shared_ptr<metrics::Counters> counters)
      : gate_(std::move(gate)), counters_(std::move(counters)) {}
  std::optional<Denial> authorize(mcp::RequestContext& context, const mcp::Message& request) const override;

 private:
  std::shared_ptr<const PolicyGate> gate_;
  std::shared_ptr<metrics::Counters> counters_;
};

// The rate limit the authorize stage chose, from one bounded table shared across reloads.
class GateRateLimiter final : public ratelimit::RateLimiter {
 public:
  explicit GateRateLimiter(std::unique_ptr<ratelimit::PolicyLimiter> limiter) : limiter_(std::move(limiter)) {}
  std::optional<ratelimit::Limited> admit(const mcp::RequestContext& context, const mcp::Message& request) override;

 private:
  std::unique_ptr<ratelimit::PolicyLimiter> limiter_;
};

}  // namespace sandgate::policy
