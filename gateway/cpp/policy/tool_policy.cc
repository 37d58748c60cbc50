#include "policy/tool_policy.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <tuple>
#include <unordered_map>

#include "common/json_text.h"

namespace sandgate::policy {
namespace {

// Compiling collects every problem instead of stopping at the first.
class Reader {
 public:
  std::vector<PolicyCompileError> errors;

  void fail(std::string where, std::string code, std::string message) {
    errors.push_back({std::move(where), std::move(code), std::move(message)});
  }
  const json::object* object(const json::value* value, const std::string& where) {
    if (value != nullptr && value->is_object()) return &value->get_object();
    fail(where, "bad_document", "expected an object");
    return nullptr;
  }
  std::vector<std::string> strings(const json::object& owner, std::string_view key, const std::string& where) {
    std::vector<std::string> out;
    const json::value* value = owner.if_contains(key);
    if (value == nullptr) return out;
    if (!value->is_array()) {
      fail(where + "." + std::string(key), "bad_document", "expected an array of strings");
      return out;
    }
    for (const json::value& item : value->get_array()) {
      if (!item.is_string()) {
        fail(where + "." + std::string(key), "bad_document", "expected an array of strings");
        return {};
      }
      out.emplace_back(item.get_string());
    }
    return out;
  }
  std::string text(const json::object& owner, std::string_view key, const std::string& where, bool required) {
    const json::value* value = owner.if_contains(key);
    if (value == nullptr || value->is_null()) {
      if (required) fail(where + "." + std::string(key), "bad_document", "required");
      return {};
    }
    if (!value->is_string()) {
      fail(where + "." + std::string(key), "bad_document", "expected a string");
      return {};
    }
    return std::string(value->get_string());
  }
  bool flag(const json::object& owner, std::string_view key, const std::string& where) {
    const json::value* value = owner.if_contains(key);
    if (value == nullptr || value->is_null()) return false;
    if (!value->is_bool()) fail(where + "." + std::string(key), "bad_document", "expected true or false");
    return value->is_bool() && value->get_bool();
  }
};

// RFC 9728 3.1: the well-known segment goes between the authority and the resource's path.
std::optional<ResourceMetadata> resource_metadata_of(const std::string& resource, const std::vector<std::string>& servers,
                                                     const std::vector<std::string>& scopes) {
  const std::size_t scheme_end = resource.find("://");
  if (scheme_end == std::string::npos) return std::nullopt;
  const std::string_view scheme = std::string_view(resource).substr(0, scheme_end);
  if (scheme != "https" && scheme != "http") return std::nullopt;
  if (resource.find_first_of("?#") != std::string::npos) return std::nullopt;
  const std::size_t path_start = resource.find('/', scheme_end + 3);
  const std::string origin = resource.substr(0, path_start);
  if (origin.size() <= scheme_end + 3) return std::nullopt;
  std::string path = path_start == std::string::npos ? "" : resource.substr(path_start);
  while (!path.empty() && path.back() == '/') path.pop_back();
  ResourceMetadata metadata;
  metadata.resource = resource;
  metadata.path = "/.well-known/oauth-protected-resource" + path;
  metadata.url = origin + metadata.path;
  json::object document;
  document["resource"] = resource;
  json::array authorization_servers;
  for (const std::string& server : servers) authorization_servers.emplace_back(server);
  document["authorization_servers"] = std::move(authorization_servers);
  if (!scopes.empty()) {
    json::array supported;
    for (const std::string& scope : scopes) supported.emplace_back(scope);
    document["scopes_supported"] = std::move(supported);
  }
  document["bearer_methods_supported"] = json::array{"header"};
  metadata.document_json = json::serialize(document);
  return metadata;
}

bool contains(const std::vector<std::string>& values, std::string_view value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

}  // namespace

SandboxPlan granted_plan(const SandboxPlan& module_plan, const Rule& rule) {
  SandboxPlan plan = module_plan;
  if (plan.isolation == Isolation::kNone) return plan;
  if (rule.isolation && *rule.isolation != Isolation::kNone) plan.isolation = *rule.isolation;
  const LimitsRequest& set = rule.sandbox;
  SandboxLimits& limits = plan.limits;
  if (set.wall_time) limits.wall_time = *set.wall_time;
  if (set.cpu_time) limits.cpu_time = *set.cpu_time;
  if (set.memory) limits.memory = *set.memory;
  if (set.max_output) limits.max_output = *set.max_output;
  if (set.max_processes) limits.max_processes = *set.max_processes;
  if (set.max_open_files) limits.max_open_files = *set.max_open_files;
  if (set.max_file_size) limits.max_file_size = *set.max_file_size;
  if (set.scratch) limits.scratch = *set.scratch;
  return plan;
}

long tool_pattern_rank(std::string_view pattern, std::string_view tool) {
  if (pattern == "*") return 0;
  if (!pattern.empty() && pattern.back() == '*') {
    const std::string_view prefix = pattern.substr(0, pattern.size() - 1);
    return tool.substr(0, prefix.size()) == prefix ? 1 + static_cast<long>(prefix.size()) : -1;
  }
  return pattern == tool ? kExactNameRank : -1;
}

bool Selector::matches(const auth::Principal& principal) const {
  if (!matches_but_scopes(principal)) return false;
  const bool is_token = principal.kind == auth::Principal::Kind::kToken;
  return std::all_of(require_scopes.begin(), require_scopes.end(),
                     [&](const std::string& scope) { return is_token && contains(principal.scopes, scope); });
}

bool Selector::matches_but_scopes(const auth::Principal& principal) const {
  const bool is_anonymous = principal.kind == auth::Principal::Kind::kAnonymous;
  if (anonymous && *anonymous != is_anonymous) return false;
  if (!names.empty() && (is_anonymous || !contains(names, principal.name))) return false;
  if (!any_group.empty() && std::none_of(any_group.begin(), any_group.end(),
                                         [&](const std::string& group) { return contains(principal.groups, group); })) {
    return false;
  }
  if (!std::all_of(all_groups.begin(), all_groups.end(),
                   [&](const std::string& group) { return contains(principal.groups, group); })) {
    return false;
  }
  const bool is_token = principal.kind == auth::Principal::Kind::kToken;
  if (!issuer.empty() && (!is_token || principal.issuer != issuer)) return false;
  if (!subjects.empty() && (!is_token || !contains(subjects, principal.subject))) return false;
  if (!client_ids.empty() && (!is_token || !contains(client_ids, principal.client_id))) return false;
  return require_scopes.empty() || is_token;  // only a token carries scopes
}

std::variant<std::shared_ptr<const ToolPolicy>, std::vector<PolicyCompileError>> ToolPolicy::compile(
    std::string_view compiled_json) {
  Reader read;
  auto parsed = parse_json_text(compiled_json, JsonLimits{});
  if (const auto* error = std::get_if<JsonParseError>(&parsed)) {
    return std::vector<PolicyCompileError>{{"", "bad_document", error->message}};
  }
  const json::value document = std::move(std::get<json::value>(parsed));
  const json::object* root = read.object(&document, "policy");
  if (root == nullptr) return read.errors;

  std::shared_ptr<ToolPolicy> policy(new ToolPolicy());
  policy->name_ = read.text(*root, "name", "policy", true);
  policy->revision_ = read.text(*root, "revision", "policy", false);

  std::unordered_map<std::string, std::size_t> selector_index;
  if (const json::value* selectors = root->if_contains("selectors")) {
    if (const json::object* entries = read.object(selectors, "selectors")) {
      for (const auto& [key, value] : *entries) {
        const std::string where = "selectors." + std::string(key);
        const json::object* entry = read.object(&value, where);
        if (entry == nullptr) continue;
        Selector selector;
        selector.names = read.strings(*entry, "names", where);
        selector.any_group = read.strings(*entry, "anyGroup", where);
        selector.all_groups = read.strings(*entry, "allGroups", where);
        if (const json::value* anonymous = entry->if_contains("anonymous"); anonymous && !anonymous->is_null()) {
          selector.anonymous = read.flag(*entry, "anonymous", where);
        }
        selector.issuer = read.text(*entry, "issuer", where, false);
        selector.subjects = read.strings(*entry, "subject", where);
        selector.client_ids = read.strings(*entry, "clientId", where);
        selector.require_scopes = read.strings(*entry, "requireScopes", where);
        // Named people beat groups beat anonymity; a subject or client is a name.
        const bool named = !selector.names.empty() || !selector.subjects.empty() || !selector.client_ids.empty();
        selector.rank = (named ? 4 : 0) + (selector.all_groups.empty() ? 0 : 2) + (selector.any_group.empty() ? 0 : 1);
        selector_index.emplace(std::string(key), policy->selectors_.size());
        policy->selectors_.push_back(std::move(selector));
      }
    }
  }

  std::unordered_map<std::string, const RateLimitSpec*> rate_index;
  if (const json::value* limits = root->if_contains("rateLimits"); limits != nullptr && !limits->is_null()) {
    if (const json::object* entries = read.object(limits, "rateLimits")) {
      for (const auto& [key, value] : *entries) {
        const std::string where = "rateLimits." + std::string(key);
        const json::object* entry = read.object(&value, where);
        if (entry == nullptr) continue;
        auto spec = std::make_unique<RateLimitSpec>();
        spec->name = std::string(key);
        for (const std::string& part : read.strings(*entry, "key", where)) {
          if (part == "principal") spec->key.push_back(RateKeyPart::kPrincipal);
          else if (part == "tool") spec->key.push_back(RateKeyPart::kTool);
          else if (part == "group") spec->key.push_back(RateKeyPart::kGroup);
          else if (part == "client") spec->key.push_back(RateKeyPart::kClient);
          else read.fail(where + ".key", "bad_document", "unknown key part '" + part + "'");
        }
        auto positive = [&](std::string_view field) -> std::uint64_t {
          const json::value* number = entry->if_contains(field);
          if (number != nullptr && number->is_uint64() && number->get_uint64() > 0) return number->get_uint64();
          if (number != nullptr && number->is_int64() && number->get_int64() > 0) return static_cast<std::uint64_t>(number->get_int64());
          read.fail(where + "." + std::string(field), "bad_document", "expected a positive integer");
          return 1;
        };
        spec->rate = ratelimit::Rate{positive("count"), std::chrono::nanoseconds(static_cast<std::int64_t>(
                                                            std::min<std::uint64_t>(positive("periodNs"), INT64_MAX))),
                                     positive("burst")};
        rate_index.emplace(spec->name, spec.get());
        policy->rate_limits_.push_back(std::move(spec));
      }
    }
  }
  auto rate_named = [&](const std::string& name, const std::string& where) -> const RateLimitSpec* {
    if (name.empty()) return nullptr;
    auto found = rate_index.find(name);
    if (found != rate_index.end()) return found->second;
    read.fail(where, "unknown_rate_limit", "no rate limit named '" + name + "'");
    return nullptr;
  };
  if (const json::value* defaults = root->if_contains("defaults"); defaults != nullptr && defaults->is_object()) {
    const json::object& section = defaults->get_object();
    policy->default_rate_limit_ = rate_named(read.text(section, "rateLimit", "defaults", false), "defaults.rateLimit");
    const json::value* sandbox = section.if_contains("sandbox");
    const json::value* ceiling = section.if_contains("maxSandbox");
    if (sandbox != nullptr && ceiling != nullptr) {
      try {
        SandboxSettings settings{parse_limits(json::serialize(*sandbox), "defaults.sandbox"),
                                 parse_limits(json::serialize(*ceiling), "defaults.maxSandbox"),
                                 read.flag(section, "trustModules", "defaults"), Isolation::kPerCall};
        if (std::string isolation = read.text(section, "isolation", "defaults", false); !isolation.empty()) {
          std::optional<Isolation> parsed = parse_isolation(isolation);
          if (!parsed || *parsed == Isolation::kNone) {
            read.fail("defaults.isolation", "bad_document", "expected per_call or per_session");
          } else {
            settings.isolation = *parsed;
          }
        }
        policy->sandbox_settings_ = settings;
      } catch (const std::invalid_argument& error) {
        read.fail("defaults.sandbox", "bad_document", error.what());
      }
    }
  }

  auth::AnonymousAccess anonymous = auth::AnonymousAccess::kLoopbackOnly;
  std::vector<auth::ApiKey> keys;
  if (const json::value* auth_value = root->if_contains("auth"); auth_value != nullptr && !auth_value->is_null()) {
    if (const json::object* section = read.object(auth_value, "auth")) {
      if (std::string name = read.text(*section, "anonymous", "auth", false); !name.empty()) {
        if (auto parsed = auth::parse_anonymous_access(name)) {
          anonymous = *parsed;
        } else {
          read.fail("auth.anonymous", "bad_document", "expected loopback-only, allow or deny");
        }
      }
      if (const json::value* list = section->if_contains("apiKeys"); list != nullptr && list->is_array()) {
        std::size_t position = 0;
        for (const json::value& item : list->get_array()) {
          const std::string where = "auth.apiKeys[" + std::to_string(position++) + "]";
          if (const json::object* key = read.object(&item, where)) {
            keys.push_back({read.text(*key, "name", where, true), read.text(*key, "sha256", where, true),
                            read.text(*key, "principal", where, true), read.strings(*key, "groups", where)});
          }
        }
      } else if (list != nullptr) {
        read.fail("auth.apiKeys", "bad_document", "expected an array");
      }
      // What an auth.jwt entry and auth.introspection say alike: whose tokens, for whom, and where groups live.
      auto read_issuer = [&read](const json::object& entry, const std::string& where) {
        jwt::ProviderConfig provider;
        provider.name = read.text(entry, "name", where, true);
        provider.rules.issuer = read.text(entry, "issuer", where, true);
        provider.rules.audiences = read.strings(entry, "audiences", where);
        provider.rules.required = read.strings(entry, "requiredClaims", where);
        provider.group_claims = read.strings(entry, "groupsClaims", where);
        if (const json::value* leeway = entry.if_contains("leewaySeconds"); leeway != nullptr && leeway->is_int64() &&
                                                                             leeway->get_int64() >= 0) {
          provider.rules.leeway = std::chrono::seconds(leeway->get_int64());
        } else {
          read.fail(where + ".leewaySeconds", "bad_document", "expected a whole number of seconds");
        }
        if (provider.rules.issuer.empty() || provider.rules.audiences.empty()) {
          read.fail(where, "bad_document", "a token issuer needs its issuer and audiences");
        }
        return provider;
      };
      if (const json::value* list = section->if_contains("jwt"); list != nullptr && list->is_array()) {
        std::size_t position = 0;
        for (const json::value& item : list->get_array()) {
          const std::string where = "auth.jwt[" + std::to_string(position++) + "]";
          const json::object* entry = read.object(&item, where);
          if (entry == nullptr) continue;
          jwt::ProviderConfig provider = read_issuer(*entry, where);
          for (const std::string& name : read.strings(*entry, "algorithms", where)) {
            std::optional<jwt::Algorithm> algorithm = jwt::algorithm_named(name);
            if (!algorithm) read.fail(where + ".algorithms", "bad_document", "unsupported algorithm '" + name + "'");
            else provider.algorithms.push_back(*algorithm);
          }
          for (const jwt::ProviderConfig& earlier : policy->token_providers_) {
            if (earlier.rules.issuer == provider.rules.issuer) {
              read.fail(where + ".issuer", "duplicate_issuer", "the issuer '" + provider.rules.issuer + "' is listed twice");
            }
          }
          policy->token_providers_.push_back(std::move(provider));
        }
      } else if (list != nullptr) {
        read.fail("auth.jwt", "bad_document", "expected an array");
      }
      if (const json::value* entry = section->if_contains("introspection"); entry != nullptr && !entry->is_null()) {
        if (const json::object* object = read.object(entry, "auth.introspection")) {
          auth::IntrospectionConfig config;
          config.provider = read_issuer(*object, "auth.introspection");
          const json::value* cache = object->if_contains("cacheSeconds");
          if (cache != nullptr && cache->is_int64() && cache->get_int64() >= 0) {
            config.cache_for = std::chrono::seconds(cache->get_int64());
          } else {
            read.fail("auth.introspection.cacheSeconds", "bad_document", "expected a whole number of seconds");
          }
          policy->introspection_ = std::move(config);
        }
      }
      if (const json::value* oauth = section->if_contains("oauth"); oauth != nullptr && !oauth->is_null()) {
        if (const json::object* entry = read.object(oauth, "auth.oauth")) {
          std::string resource = read.text(*entry, "resource", "auth.oauth", true);
          std::vector<std::string> servers = read.strings(*entry, "authorizationServers", "auth.oauth");
          std::vector<std::string> scopes = read.strings(*entry, "scopesSupported", "auth.oauth");
          if (std::optional<ResourceMetadata> metadata = resource_metadata_of(resource, servers, scopes)) {
            policy->resource_metadata_ = std::move(metadata);
          } else {
            read.fail("auth.oauth.resource", "bad_document", "expected an absolute https:// or http:// URI without query or fragment");
          }
        }
      }
    }
  }
  try {
    policy->authenticator_ = std::make_unique<const auth::ApiKeyAuthenticator>(keys, anonymous);
  } catch (const std::invalid_argument& error) {
    read.fail("auth.apiKeys", "bad_api_key", error.what());
  }

  const json::value* rules = root->if_contains("rules");
  if (rules == nullptr || !rules->is_array()) {
    read.fail("rules", "bad_document", "expected an array");
    return read.errors;
  }
  std::size_t index = 0;
  for (const json::value& value : rules->get_array()) {
    const std::string where = "rules[" + std::to_string(index++) + "]";
    const json::object* entry = read.object(&value, where);
    if (entry == nullptr) continue;
    Rule rule;
    rule.id = read.text(*entry, "id", where, true);
    const std::string effect = read.text(*entry, "effect", where, true);
    if (effect == "allow") {
      rule.effect = Effect::kAllow;
    } else if (effect == "deny") {
      rule.effect = Effect::kDeny;
    } else if (!effect.empty()) {
      read.fail(where + ".effect", "bad_document", "expected allow or deny");
    }
    rule.shadow = read.flag(*entry, "shadow", where);
    for (const std::string& name : read.strings(*entry, "principals", where)) {
      if (name == "*") {
        rule.everyone = true;
      } else if (auto found = selector_index.find(name); found != selector_index.end()) {
        rule.selectors.push_back(found->second);
      } else {
        read.fail(where + ".principals", "unknown_principal", "no principal named '" + name + "'");
      }
    }
    rule.tools = read.strings(*entry, "tools", where);
    if (rule.tools.empty()) read.fail(where + ".tools", "bad_document", "a rule names at least one tool");
    if (const json::value* args = entry->if_contains("args"); args != nullptr && !args->is_null()) {
      if (const json::object* spec = read.object(args, where + ".args")) {
        auto compiled = ArgConstraints::compile(*spec);
        if (auto* error = std::get_if<CompileError>(&compiled)) {
          read.fail(where + ".args." + error->field, error->code, error->message);
        } else {
          rule.args = std::move(std::get<ArgConstraints>(compiled));
          rule.constrained_args = spec->size();
        }
      }
    }
    if (std::string isolation = read.text(*entry, "isolation", where, false); !isolation.empty()) {
      rule.isolation = parse_isolation(isolation);
      if (!rule.isolation) read.fail(where + ".isolation", "bad_document", "unknown isolation '" + isolation + "'");
    }
    if (const json::value* sandbox = entry->if_contains("sandbox"); sandbox != nullptr && !sandbox->is_null()) {
      try {
        rule.sandbox = parse_limits_request(json::serialize(*sandbox), where + ".sandbox");
      } catch (const std::invalid_argument& error) {
        read.fail(where + ".sandbox", "bad_document", error.what());
      }
    }
    rule.rate_limit = rate_named(read.text(*entry, "rateLimit", where, false), where + ".rateLimit");
    rule.audit_full_arguments = read.text(*entry, "auditArguments", where, false) == "full";
    policy->rules_.push_back(std::move(rule));
  }
  for (const auto& [name, index] : selector_index) {
    const std::string& issuer = policy->selectors_[index].issuer;
    if (issuer.empty()) continue;
    const auto& providers = policy->token_providers_;
    const bool introspected = policy->introspection_ && policy->introspection_->provider.rules.issuer == issuer;
    if (!introspected &&
        std::none_of(providers.begin(), providers.end(), [&](const jwt::ProviderConfig& p) { return p.rules.issuer == issuer; })) {
      read.fail("selectors." + name + ".issuer", "unknown_issuer",
                "no auth.jwt entry or auth.introspection has the issuer '" + issuer + "'");
    }
  }
  if (!read.errors.empty()) return read.errors;
  for (std::size_t rule = 0; rule < policy->rules_.size(); ++rule) {
    bool has_glob = false;
    for (const std::string& pattern : policy->rules_[rule].tools) {
      if (!pattern.empty() && pattern.back() == '*') {
        has_glob = true;
      } else {
        auto& named = policy->rules_by_name_[pattern];
        if (named.empty() || named.back() != rule) named.push_back(rule);
      }
    }
    if (has_glob) policy->rules_with_globs_.push_back(rule);
  }
  return std::shared_ptr<const ToolPolicy>(std::move(policy));
}

const RateLimitSpec* ToolPolicy::rate_limit(const Decision& decision) const {
  if (decision.grant != nullptr && decision.grant->rate_limit != nullptr) return decision.grant->rate_limit;
  return default_rate_limit_;
}

namespace {

long best_tool_rank(const Rule& rule, std::string_view tool) {
  long rank = -1;
  for (const std::string& pattern : rule.tools) rank = std::max(rank, tool_pattern_rank(pattern, tool));
  return rank;
}

}  // namespace

template <typename Visit>
void ToolPolicy::for_each_candidate(std::string_view tool, Visit visit) const {
  static const std::vector<std::size_t> kNone;
  auto named = rules_by_name_.find(tool);
  const std::vector<std::size_t>& exact = named == rules_by_name_.end() ? kNone : named->second;
  // Both lists ascend: merge them so rules are seen in file order, each once.
  auto a = exact.begin();
  auto b = rules_with_globs_.begin();
  while (a != exact.end() || b != rules_with_globs_.end()) {
    if (b == rules_with_globs_.end() || (a != exact.end() && *a <= *b)) {
      const std::size_t next = *a++;
      if (b != rules_with_globs_.end() && *b == next) ++b;
      visit(rules_[next], kExactNameRank);
    } else {
      // A rule seen only for its globs: skip it here unless one matches, before any per-rule work.
      const Rule& rule = rules_[*b++];
      const long rank = best_tool_rank(rule, tool);
      if (rank >= 0) visit(rule, rank);
    }
  }
}

bool ToolPolicy::principal_matches(const Rule& rule, const auth::Principal& principal) const {
  if (rule.everyone) return true;
  return std::any_of(rule.selectors.begin(), rule.selectors.end(),
                     [&](std::size_t index) { return selectors_[index].matches(principal); });
}

bool ToolPolicy::principal_could_match(const Rule& rule, const auth::Principal& principal) const {
  if (rule.everyone) return true;
  return std::any_of(rule.selectors.begin(), rule.selectors.end(),
                     [&](std::size_t index) { return selectors_[index].matches_but_scopes(principal); });
}

int ToolPolicy::principal_rank(const Rule& rule, const auth::Principal& principal) const {
  int rank = -1;
  if (rule.everyone) rank = 0;
  for (std::size_t index : rule.selectors) {
    if (selectors_[index].matches(principal)) rank = std::max(rank, 1 + selectors_[index].rank);
  }
  return rank;
}

Decision ToolPolicy::decide(const auth::Principal& principal, std::string_view tool, const json::value& arguments,
                            std::vector<RuleTrace>* trace) const {
  Decision decision;
  const Rule* best_allow = nullptr;
  std::tuple<long, int, std::size_t> best_rank{-1, -1, 0};
  const Rule* matched_deny = nullptr;
  const Rule* shadow_deny = nullptr;
  const Rule* shadow_allow = nullptr;
  bool argument_refused = false;
  auto consider = [&](const Rule& rule, long tool_rank) {
    RuleTrace step;
    step.rule = &rule;
    step.tool_matched = tool_rank >= 0;
    step.principal_matched = step.tool_matched && principal_matches(rule, principal);
    if (step.principal_matched) {
      try {
        ArgCheck check = rule.args.check(arguments);
        step.args_satisfied = check.satisfied;
        step.field = std::move(check.field);
        step.reason = std::move(check.reason);
      } catch (const std::exception&) {
        // Fail closed: an erring deny matches, an erring allow does not.
        step.args_satisfied = rule.effect == Effect::kDeny;
        step.reason = "rule_error";
      }
    }
    if (step.principal_matched && !step.args_satisfied && rule.effect == Effect::kAllow && !rule.shadow) {
      argument_refused = true;
    }
    if (step.matched()) {
      if (rule.effect == Effect::kDeny) {
        if (rule.shadow) {
          if (shadow_deny == nullptr) shadow_deny = &rule;
        } else if (matched_deny == nullptr) {
          matched_deny = &rule;
        }
      } else if (rule.shadow) {
        if (shadow_allow == nullptr) shadow_allow = &rule;
      } else {
        std::tuple<long, int, std::size_t> rank{tool_rank, principal_rank(rule, principal), rule.constrained_args};
        if (best_allow == nullptr || rank > best_rank) {  // ties keep the earlier rule
          best_allow = &rule;
          best_rank = rank;
        }
      }
    }
    if (trace != nullptr) trace->push_back(std::move(step));
  };
  if (trace != nullptr) {
    for (const Rule& rule : rules_) consider(rule, best_tool_rank(rule, tool));  // explain reports every rule
  } else {
    for_each_candidate(tool, consider);
  }
  if (matched_deny != nullptr) {
    decision.rule = matched_deny->id;
    decision.reason = kDeniedByRule;
  } else if (best_allow != nullptr) {
    decision.allowed = true;
    decision.rule = best_allow->id;
    decision.reason = kAllowed;
    decision.grant = best_allow;
  } else {
    decision.reason = argument_refused ? kArgumentNotAllowed : kNoMatchingRule;
  }
  if (decision.allowed && shadow_deny != nullptr) {
    decision.shadow_rule = shadow_deny->id;
  } else if (!decision.allowed && shadow_allow != nullptr && matched_deny == nullptr) {
    decision.shadow_rule = shadow_allow->id;
    decision.shadow_would_allow = true;
  }
  return decision;
}

bool ToolPolicy::visible(const auth::Principal& principal, std::string_view tool) const {
  bool allowed = false;
  bool denied = false;
  for_each_candidate(tool, [&](const Rule& rule, long) {  // only rules naming the tool, exactly or by a glob
    if (rule.shadow || denied) return;
    if (rule.effect == Effect::kDeny && rule.args.empty() && principal_matches(rule, principal)) denied = true;
    if (rule.effect == Effect::kAllow && principal_could_match(rule, principal)) allowed = true;
  });
  return allowed && !denied;
}

std::vector<std::string> ToolPolicy::step_up_scopes(const auth::Principal& principal, std::string_view tool,
                                                    const json::value& arguments) const {
  std::vector<std::string> needed;
  if (principal.kind != auth::Principal::Kind::kToken) return needed;
  for_each_candidate(tool, [&](const Rule& rule, long) {
    if (!needed.empty() || rule.effect != Effect::kAllow || rule.shadow) return;
    for (std::size_t index : rule.selectors) {
      const Selector& selector = selectors_[index];
      if (selector.require_scopes.empty() || !selector.matches_but_scopes(principal)) continue;
      auth::Principal raised = principal;
      for (const std::string& scope : selector.require_scopes) {
        if (!contains(raised.scopes, scope)) raised.scopes.push_back(scope);
      }
      if (raised.scopes.size() == principal.scopes.size()) continue;  // it holds them all: scopes are not why
      // Only a scope that would change the answer is asked for: a deny or an argument refusal stays one.
      if (decide(raised, tool, arguments).allowed) {
        needed = selector.require_scopes;
        return;
      }
    }
  });
  return needed;
}

}  // namespace sandgate::policy
