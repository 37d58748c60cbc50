#pragma once
// The policy on the request path: one snapshot, swapped whole on reload, behind the authenticate, authorize
// and rate-limit stages. A request keeps the snapshot it was authorized under (RequestContext::admission).
#include <atomic>
#include <memory>
#include <mutex>

#include "auth/authenticate.h"
#include "metrics/counters.h"
#include "policy/authorize.h"
#include "policy/tool_policy.h"
#include "ratelimit/policy_limiter.h"
#include "ratelimit/rate_limit.h"

namespace sandgate::policy {

// A policy and the module's plans under it (its defaults, maxSandbox and trust over the module's requests),
// swapped together: a call runs under the limits of the policy that admitted it.
struct ServedPolicy {
  std::shared_ptr<const ToolPolicy> policy;
  std::shared_ptr<const SandboxGrant> sandbox;  // null: the engine's own grant
};

class PolicyGate {
 public:
  explicit PolicyGate(std::shared_ptr<const ToolPolicy> initial, std::shared_ptr<const SandboxGrant> sandbox = nullptr)
      : current_(std::make_shared<const ServedPolicy>(ServedPolicy{std::move(initial), std::move(sandbox)})) {}

  std::shared_ptr<const ServedPolicy> served() const { return current_.load(); }
  // The policy alone, keeping its whole snapshot alive.
  std::shared_ptr<const ToolPolicy> current() const {
    std::shared_ptr<const ServedPolicy> served = current_.load();
    const ToolPolicy* policy = served->policy.get();
    return std::shared_ptr<const ToolPolicy>(std::move(served), policy);
  }
  // Requests already authorized finish under the snapshot they hold.
  void swap(std::shared_ptr<const ToolPolicy> next, std::shared_ptr<const SandboxGrant> sandbox = nullptr) {
    current_.store(std::make_shared<const ServedPolicy>(ServedPolicy{std::move(next), std::move(sandbox)}));
  }

 private:
  std::atomic<std::shared_ptr<const ServedPolicy>> current_;
};

// API keys and the anonymous rule of the current snapshot.
class GateAuthenticator final : public auth::Authenticator {
 public:
  explicit GateAuthenticator(std::shared_ptr<const PolicyGate> gate) : gate_(std::move(gate)) {}
  std::variant<auth::Principal, auth::AuthFailure> authenticate(const mcp::RequestContext& context) const override;

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
