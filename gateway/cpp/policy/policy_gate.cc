#include "policy/policy_gate.h"

namespace sandgate::policy {

auth::AuthOutcome GateAuthenticator::authenticate(
    const mcp::RequestContext& context) const {
  std::shared_ptr<const ServedPolicy> served = gate_->served();
  auto outcome = served->authenticator->authenticate(context);
  // Every 401 names where the client finds the authorization server (RFC 9728 5.1, MCP authorization).
  if (auto* failure = std::get_if<auth::AuthFailure>(&outcome); failure != nullptr && served->policy->resource_metadata()) {
    const std::string named = "resource_metadata=\"" + served->policy->resource_metadata()->url + "\"";
    failure->challenge = failure->challenge.empty() ? named : named + ", " + failure->challenge;
  }
  return outcome;
}

namespace {

// RFC 6750 3.1 and the MCP authorization's scope challenge: the client re-authorizes for `scope`, then retries.
std::string step_up_challenge(const ToolPolicy& policy, const std::vector<std::string>& scopes) {
  std::string challenge;
  if (policy.resource_metadata()) challenge = "resource_metadata=\"" + policy.resource_metadata()->url + "\", ";
  challenge += R"(error="insufficient_scope", scope=")";
  for (std::size_t i = 0; i < scopes.size(); ++i) challenge += (i == 0 ? "" : " ") + scopes[i];
  return challenge + R"(", error_description="the token lacks a scope this call needs")";
}

}  // namespace

std::optional<Denial> GateAuthorizer::authorize(mcp::RequestContext& context, const mcp::Message& request) const {
  std::shared_ptr<const ServedPolicy> served = gate_->served();
  const ToolPolicy* policy = served->policy.get();
  mcp::Admission& admission = context.admission;
  admission.rate_limit = policy->default_rate_limit();
  admission.sandbox = served->sandbox.get();
  admission.policy = std::shared_ptr<const ToolPolicy>(std::move(served), policy);
  if (request.method != "tools/call") return std::nullopt;
  const json::value* name = request.params.if_contains("name");
  // No tool named: nothing runs, and the engine answers the malformed call as it always has.
  if (name == nullptr || !name->is_string()) return std::nullopt;
  admission.tool = std::string(name->get_string());
  static const json::value kAbsent;  // null: every constrained argument is missing
  const json::value* arguments = request.params.if_contains("arguments");
  const Decision decision = policy->decide(context.principal, admission.tool, arguments ? *arguments : kAbsent);
  if (!decision.shadow_rule.empty()) counters_->add(metrics::Counter::kPolicyShadowDisagreements);
  metrics::Families& families = counters_->families();
  admission.rule = decision.rule;
  admission.reason = decision.reason;
  if (!decision.allowed) {
    if (!policy->visible(context.principal, admission.tool)) {
      admission.decision = "hidden";
      families.policy_decisions.add(families.decisions.find("hidden"), families.decision_reasons.find(decision.reason));
      return Denial{PolicyError::kHidden, std::string(decision.reason), admission.tool};
    }
    const std::vector<std::string> scopes = policy->step_up_scopes(context.principal, admission.tool,
                                                                   arguments ? *arguments : kAbsent);
    const std::string_view reason = scopes.empty() ? decision.reason : kInsufficientScope;
    admission.decision = "deny";
    admission.reason = reason;
    families.policy_decisions.add(families.decisions.find("deny"), families.decision_reasons.find(reason));
    if (scopes.empty()) return Denial{PolicyError::kDenied, std::string(reason), admission.tool, {}};
    return Denial{PolicyError::kDenied, std::string(reason), admission.tool, step_up_challenge(*policy, scopes)};
  }
  admission.decision = "allow";
  families.policy_decisions.add(families.decisions.find("allow"), families.decision_reasons.find(kAllowed));
  admission.grant = decision.grant;
  admission.rate_limit = policy->rate_limit(decision);
  return std::nullopt;
}

std::optional<ratelimit::Limited> GateRateLimiter::admit(const mcp::RequestContext& context, const mcp::Message&) {
  if (context.admission.rate_limit == nullptr) return std::nullopt;
  return limiter_->admit(*context.admission.rate_limit, context.principal, context.admission.tool, context.peer);
}

}  // namespace sandgate::policy
