#pragma once
// A policy file's rules, compiled once: who may call which tool with which arguments, and which rule's grant
// applies. Immutable after compile; the request path shares one snapshot and a reload swaps it whole.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "auth/api_keys.h"
#include "auth/introspection.h"
#include "auth/principal.h"
#include "common/json.h"
#include "jwt/provider.h"
#include "policy/arg_constraints.h"
#include "policy/sandbox_grant.h"
#include "ratelimit/gcra.h"

namespace sandgate::policy {

enum class Effect { kAllow, kDeny };

// Stable reason codes: what a client, the audit log and a test see; never which clause or value failed.
inline constexpr std::string_view kAllowed = "allowed";
inline constexpr std::string_view kDeniedByRule = "denied_by_rule";
inline constexpr std::string_view kNoMatchingRule = "no_matching_rule";
inline constexpr std::string_view kArgumentNotAllowed = "argument_not_allowed";
inline constexpr std::string_view kInsufficientScope = "insufficient_scope";  // a token with more scopes would be allowed
inline constexpr std::string_view kDefaultRule = "default";

struct PolicyCompileError {
  std::string where;  // e.g. "rules[3].args.path", as the compiled document names it
  std::string code;
  std::string message;
};

// What a rate limit's bucket is keyed by: the policy's `key:` list, in its order.
enum class RateKeyPart { kPrincipal, kTool, kGroup, kClient };

struct RateLimitSpec {
  std::string name;
  std::vector<RateKeyPart> key;
  ratelimit::Rate rate;
};

// Who a principal name in a rule stands for; every given field must hold.
struct Selector {
  std::vector<std::string> names;
  std::vector<std::string> any_group;
  std::vector<std::string> all_groups;
  std::optional<bool> anonymous;
  // Over a verified token's claims: its issuer, subject, client, and scopes it must all carry.
  std::string issuer;
  std::vector<std::string> subjects;
  std::vector<std::string> client_ids;
  std::vector<std::string> require_scopes;
  int rank = 0;  // how specific: names beat groups beat anonymity
  bool matches(const auth::Principal& principal) const;
  // Everything but requireScopes holds: the principal could match after a scope step-up.
  bool matches_but_scopes(const auth::Principal& principal) const;
};

struct Rule {
  std::string id;
  Effect effect = Effect::kAllow;
  bool shadow = false;  // decided and reported, never enforced
  bool everyone = false;  // principals: ["*"]
  std::vector<std::size_t> selectors;  // into ToolPolicy's selectors
  std::vector<std::string> tools;  // exact names, "prefix*" globs, or "*"
  ArgConstraints args;
  std::size_t constrained_args = 0;  // how many arguments `args` constrains: more is more specific
  std::optional<Isolation> isolation;
  LimitsRequest sandbox;  // what the rule sets; the rest comes from defaults and the module's requests
  const RateLimitSpec* rate_limit = nullptr;  // null: the policy's default
  bool audit_full_arguments = false;  // the audit line of a call it allows carries the arguments, not their hash
};

// One rule's part in a decision, for `sandgate policy explain`.
struct RuleTrace {
  const Rule* rule = nullptr;
  bool principal_matched = false;
  bool tool_matched = false;
  bool args_satisfied = false;  // meaningful when both above hold
  std::string field;            // the argument that failed, when one did
  std::string reason;           // its reason code (arg_constraints' codes)
  bool matched() const { return principal_matched && tool_matched && args_satisfied; }
};

struct Decision {
  bool allowed = false;
  std::string_view rule = kDefaultRule;  // the deciding rule's id
  std::string_view reason = kNoMatchingRule;
  const Rule* grant = nullptr;  // allowed: the rule whose isolation, limits and rate apply
  // A shadow rule that would have decided otherwise (reported and counted, not enforced); empty: none.
  std::string_view shadow_rule;
  bool shadow_would_allow = false;
};

// RFC 9728 protected-resource metadata: what a client fetches, after a 401, to find the authorization server.
struct ResourceMetadata {
  std::string resource;       // this server's canonical URI, e.g. https://mcp.example/mcp
  std::string url;            // where the document is: https://mcp.example/.well-known/oauth-protected-resource/mcp
  std::string path;           // the same, path only
  std::string document_json;  // {"resource":..., "authorization_servers":[...], ...}
};

class ToolPolicy {
 public:
  // `compiled_json` is what the Python loader emits for a checked policy file (sandgate/policy/compile.py).
  static std::variant<std::shared_ptr<const ToolPolicy>, std::vector<PolicyCompileError>> compile(std::string_view compiled_json);

  // Thread-safe. `arguments` is the call's `arguments` value as the sandbox will receive it (null when absent).
  Decision decide(const auth::Principal& principal, std::string_view tool, const json::value& arguments,
                  std::vector<RuleTrace>* trace = nullptr) const;
  // Whether `tools/list` shows the tool: some enforced allow could let this principal call it and no enforced,
  // unconditional deny forbids it. A hidden tool's call answers as an unknown tool's.
  // A token that lacks only a scope still sees the tool: its client can step up (MCP authorization, scope challenge).
  bool visible(const auth::Principal& principal, std::string_view tool) const;
  // For a denied token caller: the scopes of a selector whose requireScopes alone kept an allow rule from deciding,
  // such that a token with them would be allowed; empty when more scopes would not help.
  std::vector<std::string> step_up_scopes(const auth::Principal& principal, std::string_view tool,
                                          const json::value& arguments) const;

  const std::string& name() const { return name_; }
  const std::string& revision() const { return revision_; }
  const std::vector<Rule>& rules() const { return rules_; }
  // The rate limit a call allowed by `decision` spends from; null when none applies.
  const RateLimitSpec* rate_limit(const Decision& decision) const;
  // Who a request is: the policy's API keys and its rule for callers without credentials.
  const auth::ApiKeyAuthenticator& authenticator() const { return *authenticator_; }
  // The rate limit every other request (lists, initialize, ping, ...) spends from; null when none.
  const RateLimitSpec* default_rate_limit() const { return default_rate_limit_; }
  // The token issuers the policy trusts, as configured (their keys are fetched and held by the server).
  const std::vector<jwt::ProviderConfig>& token_providers() const { return token_providers_; }
  // auth.introspection: the issuer asked about opaque bearer tokens (RFC 7662); absent when not configured.
  const std::optional<auth::IntrospectionConfig>& introspection() const { return introspection_; }
  // auth.oauth: the metadata this server publishes and names in its 401 challenges; absent when not configured.
  const std::optional<ResourceMetadata>& resource_metadata() const { return resource_metadata_; }
  // The operator's word on a module's sandbox requests (defaults, maxSandbox, isolation, trustModules); absent
  // when the document gives no complete defaults (a bare test document).
  const std::optional<SandboxSettings>& sandbox_settings() const { return sandbox_settings_; }

 private:
  ToolPolicy() = default;
  bool principal_matches(const Rule& rule, const auth::Principal& principal) const;
  bool principal_could_match(const Rule& rule, const auth::Principal& principal) const;
  int principal_rank(const Rule& rule, const auth::Principal& principal) const;

  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
  };
  // The rules a call of `tool` can match, in file order, each with how specifically it names the tool:
  // those naming it exactly, and those whose glob matches it.
  template <typename Visit>
  void for_each_candidate(std::string_view tool, Visit visit) const;

  std::string name_;
  std::string revision_;
  std::unordered_map<std::string, std::vector<std::size_t>, NameHash, std::equal_to<>> rules_by_name_;
  std::vector<std::size_t> rules_with_globs_;
  std::vector<Selector> selectors_;
  std::vector<Rule> rules_;
  std::vector<std::unique_ptr<RateLimitSpec>> rate_limits_;  // stable addresses: rules point at them
  const RateLimitSpec* default_rate_limit_ = nullptr;
  std::optional<SandboxSettings> sandbox_settings_;
  std::vector<jwt::ProviderConfig> token_providers_;
  std::optional<ResourceMetadata> resource_metadata_;
  std::optional<auth::IntrospectionConfig> introspection_;
  std::unique_ptr<const auth::ApiKeyAuthenticator> authenticator_;
};

// The plan a call allowed by `rule` runs under: the module's plan (its requests within the operator's ceiling),
// then the rule's own isolation and limits, the operator's word and so not clamped. Code the operator runs
// in-process (isolation "none") stays there.
SandboxPlan granted_plan(const SandboxPlan& module_plan, const Rule& rule);

// Tool-name patterns: an exact name, a trailing-`*` namespace glob, or `*`. -1: no match; else how specific
// (`*` 0, a glob one more than its prefix's length, an exact name kExactNameRank, longer than any name).
inline constexpr long kExactNameRank = 1'000'000;
long tool_pattern_rank(std::string_view pattern, std::string_view tool);

}  // namespace sandgate::policy
