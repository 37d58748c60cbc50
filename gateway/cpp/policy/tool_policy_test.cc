#include "policy/tool_policy.h"

#include <gtest/gtest.h>

#include "common/json_text.h"

namespace sandgate::policy {
namespace {

auth::Principal anonymous() { return auth::Principal{}; }
auth::Principal key(std::string name, std::vector<std::string> groups = {}) {
  return auth::Principal{.kind = auth::Principal::Kind::kApiKey, .name = std::move(name), .groups = std::move(groups)};
}

std::shared_ptr<const ToolPolicy> compile_ok(std::string_view rules, std::string_view selectors = "{}",
                                             std::string_view rate_limits = "{}") {
  const std::string text = R"({"name":"t","revision":"1","rateLimits":)" + std::string(rate_limits) +
                           R"(,"selectors":)" + std::string(selectors) +
                           R"(,"rules":)" + std::string(rules) + "}";
  auto compiled = ToolPolicy::compile(text);
  if (auto* errors = std::get_if<std::vector<PolicyCompileError>>(&compiled)) {
    ADD_FAILURE() << (*errors)[0].where << ": " << (*errors)[0].message;
    return nullptr;
  }
  return std::get<std::shared_ptr<const ToolPolicy>>(compiled);
}

std::vector<PolicyCompileError> compile_errors(std::string_view text) {
  auto compiled = ToolPolicy::compile(text);
  if (auto* errors = std::get_if<std::vector<PolicyCompileError>>(&compiled)) return *errors;
  ADD_FAILURE() << "compiled: " << text;
  return {};
}

json::value args(std::string_view text) { return json::parse(text); }

constexpr std::string_view kSelectors =
    R"({"eng":{"anyGroup":["eng","sre"]},"alice":{"names":["alice"]},"both":{"allGroups":["eng","sre"]},)"
    R"("anon":{"anonymous":true},"authenticated":{"anonymous":false}})";

TEST(ToolPolicyTest, DefaultDenyNamesNoRule) {
  auto policy = compile_ok(R"([{"id":"a","effect":"allow","principals":["alice"],"tools":["add"]}])", kSelectors);
  const Decision decision = policy->decide(key("bob"), "add", args("{}"));
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.rule, kDefaultRule);
  EXPECT_EQ(decision.reason, kNoMatchingRule);
  EXPECT_EQ(decision.grant, nullptr);
}

TEST(ToolPolicyTest, AMatchingDenyWinsOverAnyAllow) {
  auto policy = compile_ok(R"([{"id":"exact-allow","effect":"allow","principals":["alice"],"tools":["shell.exec"]},
                               {"id":"no-shell","effect":"deny","principals":["*"],"tools":["shell.*"]}])",
                           kSelectors);
  const Decision decision = policy->decide(key("alice"), "shell.exec", args("{}"));
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.rule, "no-shell");
  EXPECT_EQ(decision.reason, kDeniedByRule);
}

TEST(ToolPolicyTest, TheMostSpecificAllowGrants) {
  auto policy = compile_ok(R"([{"id":"everything","effect":"allow","principals":["*"],"tools":["*"]},
                               {"id":"fs","effect":"allow","principals":["*"],"tools":["fs.*"]},
                               {"id":"fs-read","effect":"allow","principals":["*"],"tools":["fs.read*"]},
                               {"id":"exact","effect":"allow","principals":["*"],"tools":["fs.read_file"]},
                               {"id":"exact-for-eng","effect":"allow","principals":["eng"],"tools":["fs.read_file"]},
                               {"id":"exact-for-alice","effect":"allow","principals":["alice"],"tools":["fs.read_file"]},
                               {"id":"alice-constrained","effect":"allow","principals":["alice"],"tools":["fs.read_file"],
                                "args":{"path":{"prefix":["/srv/"]}}}])",
                           kSelectors);
  EXPECT_EQ(policy->decide(anonymous(), "add", args("{}")).rule, "everything");
  EXPECT_EQ(policy->decide(anonymous(), "fs.list", args("{}")).rule, "fs");
  EXPECT_EQ(policy->decide(anonymous(), "fs.readlink", args("{}")).rule, "fs-read");
  EXPECT_EQ(policy->decide(anonymous(), "fs.read_file", args("{}")).rule, "exact");
  EXPECT_EQ(policy->decide(key("sam", {"sre"}), "fs.read_file", args("{}")).rule, "exact-for-eng");
  EXPECT_EQ(policy->decide(key("alice", {"sre"}), "fs.read_file", args(R"({"path":"/etc/x"})")).rule,
            "exact-for-alice");
  const Decision most = policy->decide(key("alice", {"sre"}), "fs.read_file", args(R"({"path":"/srv/x"})"));
  EXPECT_TRUE(most.allowed);
  EXPECT_EQ(most.rule, "alice-constrained");
  ASSERT_NE(most.grant, nullptr);
  EXPECT_EQ(most.grant->id, "alice-constrained");
}

TEST(ToolPolicyTest, EqualSpecificityKeepsFileOrder) {
  auto policy = compile_ok(R"([{"id":"first","effect":"allow","principals":["*"],"tools":["add"]},
                               {"id":"second","effect":"allow","principals":["*"],"tools":["add"]}])");
  EXPECT_EQ(policy->decide(anonymous(), "add", args("{}")).rule, "first");
}

TEST(ToolPolicyTest, ArgumentsThatNoAllowAcceptsDenyWithTheirOwnReason) {
  auto policy = compile_ok(R"([{"id":"small","effect":"allow","principals":["*"],"tools":["add"],
                                "args":{"a":{"max":10}}}])");
  EXPECT_TRUE(policy->decide(anonymous(), "add", args(R"({"a":3})")).allowed);
  for (std::string_view refused : {R"({"a":11})", R"({"a":"3"})", R"({"b":1})", "null", "[1]"}) {
    const Decision decision = policy->decide(anonymous(), "add", args(refused));
    EXPECT_FALSE(decision.allowed) << refused;
    EXPECT_EQ(decision.reason, kArgumentNotAllowed) << refused;
    EXPECT_EQ(decision.rule, kDefaultRule) << refused;
  }
}

TEST(ToolPolicyTest, ADuplicatedArgumentIsJudgedByTheValueTheToolReceives) {
  // Python's json (the tool's side) keeps the last of duplicate keys; the policy must judge that one too.
  auto policy = compile_ok(R"([{"id":"srv","effect":"allow","principals":["*"],"tools":["read"],
                                "args":{"path":{"glob":["/srv/**"]}}}])");
  auto parsed = [](std::string_view text) { return std::get<json::value>(parse_json_text(text, JsonLimits{})); };
  EXPECT_FALSE(policy->decide(anonymous(), "read", parsed(R"({"path":"/srv/ok","path":"/etc/shadow"})")).allowed);
  EXPECT_TRUE(policy->decide(anonymous(), "read", parsed(R"({"path":"/etc/shadow","path":"/srv/ok"})")).allowed);
  EXPECT_FALSE(policy->decide(anonymous(), "read", parsed(R"({"path":"/srv/ok","pa\u0074h":"/etc/shadow"})")).allowed);
}

TEST(ToolPolicyTest, AConditionalDenyDeniesOnlyWhatItsArgumentsMatch) {
  auto policy = compile_ok(R"([{"id":"all","effect":"allow","principals":["*"],"tools":["fetch"]},
                               {"id":"no-internal","effect":"deny","principals":["*"],"tools":["fetch"],
                                "args":{"url":{"prefix":["http://10."]}}}])");
  EXPECT_TRUE(policy->decide(anonymous(), "fetch", args(R"({"url":"https://example.com/"})")).allowed);
  EXPECT_EQ(policy->decide(anonymous(), "fetch", args(R"({"url":"http://10.0.0.1/"})")).rule, "no-internal");
  EXPECT_TRUE(policy->visible(anonymous(), "fetch"));
}

TEST(ToolPolicyTest, ShadowRulesAreReportedNeverEnforced) {
  auto policy = compile_ok(R"([{"id":"allow-add","effect":"allow","principals":["*"],"tools":["add"]},
                               {"id":"would-deny-add","effect":"deny","shadow":true,"principals":["*"],"tools":["add"]},
                               {"id":"would-allow-mul","effect":"allow","shadow":true,"principals":["*"],"tools":["mul"]}])");
  const Decision add = policy->decide(anonymous(), "add", args("{}"));
  EXPECT_TRUE(add.allowed);
  EXPECT_EQ(add.shadow_rule, "would-deny-add");
  EXPECT_FALSE(add.shadow_would_allow);
  const Decision mul = policy->decide(anonymous(), "mul", args("{}"));
  EXPECT_FALSE(mul.allowed);
  EXPECT_EQ(mul.shadow_rule, "would-allow-mul");
  EXPECT_TRUE(mul.shadow_would_allow);
  EXPECT_FALSE(policy->visible(anonymous(), "mul"));
}

TEST(ToolPolicyTest, SelectorsMatchNamesGroupsAndAnonymity) {
  auto policy = compile_ok(R"([{"id":"eng","effect":"allow","principals":["eng"],"tools":["eng"]},
                               {"id":"both","effect":"allow","principals":["both"],"tools":["both"]},
                               {"id":"alice","effect":"allow","principals":["alice"],"tools":["alice"]},
                               {"id":"anon","effect":"allow","principals":["anon"],"tools":["anon"]},
                               {"id":"authenticated","effect":"allow","principals":["authenticated"],"tools":["authenticated"]}])",
                           kSelectors);
  auto allowed = [&](const auth::Principal& who, std::string_view tool) {
    return policy->decide(who, tool, args("{}")).allowed;
  };
  EXPECT_TRUE(allowed(key("x", {"sre"}), "eng"));
  EXPECT_FALSE(allowed(key("x", {"ops"}), "eng"));
  EXPECT_FALSE(allowed(key("x", {"sre"}), "both"));
  EXPECT_TRUE(allowed(key("x", {"sre", "eng"}), "both"));
  EXPECT_TRUE(allowed(key("alice"), "alice"));
  auth::Principal anonymous_named_alice = anonymous();
  anonymous_named_alice.name = "alice";
  EXPECT_FALSE(allowed(anonymous_named_alice, "alice"));  // a name is an authenticated principal's only
  EXPECT_TRUE(allowed(anonymous(), "anon"));
  EXPECT_FALSE(allowed(key("alice"), "anon"));
  EXPECT_FALSE(allowed(anonymous(), "authenticated"));
  EXPECT_TRUE(allowed(key("alice"), "authenticated"));
}

TEST(ToolPolicyTest, ListsShowOnlyWhatSomeAllowCouldGrant) {
  auto policy = compile_ok(R"([{"id":"eng-fs","effect":"allow","principals":["eng"],"tools":["fs.*"]},
                               {"id":"no-write","effect":"deny","principals":["*"],"tools":["fs.write"]},
                               {"id":"constrained","effect":"allow","principals":["*"],"tools":["fetch"],
                                "args":{"url":{"prefix":["https://"]}}}])",
                           kSelectors);
  EXPECT_TRUE(policy->visible(key("x", {"eng"}), "fs.read"));
  EXPECT_FALSE(policy->visible(key("x", {"eng"}), "fs.write"));
  EXPECT_FALSE(policy->visible(anonymous(), "fs.read"));
  EXPECT_TRUE(policy->visible(anonymous(), "fetch"));
  EXPECT_FALSE(policy->visible(anonymous(), "unknown"));
}

TEST(ToolPolicyTest, TheTraceSaysWhichClauseOfEachRuleFailed) {
  auto policy = compile_ok(R"([{"id":"other-tool","effect":"allow","principals":["*"],"tools":["mul"]},
                               {"id":"other-person","effect":"allow","principals":["alice"],"tools":["add"]},
                               {"id":"small","effect":"allow","principals":["*"],"tools":["add"],"args":{"a":{"max":1}}}])",
                           kSelectors);
  std::vector<RuleTrace> trace;
  policy->decide(key("bob"), "add", args(R"({"a":5})"), &trace);
  ASSERT_EQ(trace.size(), 3u);
  EXPECT_FALSE(trace[0].tool_matched);
  EXPECT_TRUE(trace[1].tool_matched);
  EXPECT_FALSE(trace[1].principal_matched);
  EXPECT_TRUE(trace[2].principal_matched);
  EXPECT_FALSE(trace[2].args_satisfied);
  EXPECT_EQ(trace[2].field, "a");
  EXPECT_EQ(trace[2].reason, "above_max");
}

TEST(ToolPolicyTest, ThePolicyKnowsItsKeysAndItsRuleForAnonymousCallers) {
  // sha256("k") = 8254c329a92850f6d539dd376f4816ee2764517da5e0235514af433164480d7a
  auto compiled = ToolPolicy::compile(R"({"name":"t","rules":[],"auth":{"anonymous":"deny","apiKeys":[
      {"name":"k","sha256":"8254c329a92850f6d539dd376f4816ee2764517da5e0235514af433164480d7a","principal":"alice",
       "groups":["eng"]}]}})");
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const ToolPolicy>>(compiled));
  const auto& keys = std::get<std::shared_ptr<const ToolPolicy>>(compiled)->authenticator();
  mcp::RequestContext context;
  auto headers = std::make_shared<mcp::Headers>();
  headers->add("X-API-Key", "k");
  context.headers = headers;
  context.peer = "127.0.0.1:1";
  auto who = keys.authenticate(context);
  ASSERT_TRUE(std::holds_alternative<auth::Principal>(who));
  EXPECT_EQ(std::get<auth::Principal>(who).name, "alice");
  context.headers = std::make_shared<mcp::Headers>();
  EXPECT_TRUE(std::holds_alternative<auth::AuthFailure>(keys.authenticate(context)));  // anonymous: deny

  auto defaults = std::get<std::shared_ptr<const ToolPolicy>>(ToolPolicy::compile(R"({"name":"t","rules":[]})"));
  EXPECT_TRUE(std::holds_alternative<auth::Principal>(defaults->authenticator().authenticate(context)));  // loopback

  auto errors = compile_errors(R"({"name":"t","rules":[],"auth":{"anonymous":"maybe","apiKeys":[
      {"name":"k","sha256":"nothex","principal":"p"}]}})");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].where, "auth.anonymous");
  EXPECT_EQ(errors[1].code, "bad_api_key");
}

TEST(ToolPolicyTest, ToolPatternsAreExactNamesOrTrailingGlobs) {
  EXPECT_EQ(tool_pattern_rank("*", "anything"), 0);
  EXPECT_EQ(tool_pattern_rank("fs.*", "fs.read"), 4);
  EXPECT_EQ(tool_pattern_rank("fs.*", "fs"), -1);
  EXPECT_EQ(tool_pattern_rank("fs.*", "fsx.read"), -1);
  EXPECT_GT(tool_pattern_rank("fs.read", "fs.read"), tool_pattern_rank("fs.rea*", "fs.read"));
  EXPECT_EQ(tool_pattern_rank("fs.read", "fs.read2"), -1);
}

TEST(ToolPolicyTest, CompileErrorsNameWhereAndWhy) {
  auto unknown = compile_errors(R"({"name":"t","selectors":{},"rules":[{"id":"a","effect":"allow","principals":["ghost"],"tools":["x"]}]})");
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_EQ(unknown[0].where, "rules[0].principals");
  EXPECT_EQ(unknown[0].code, "unknown_principal");

  auto several = compile_errors(R"({"name":"t","rules":[{"id":"a","effect":"maybe","principals":["*"],"tools":[]},
                                    {"id":"b","effect":"allow","principals":["*"],"tools":["x"],"isolation":"chroot",
                                     "sandbox":{"wall_time":"long"}}]})");
  ASSERT_EQ(several.size(), 4u);
  EXPECT_EQ(several[0].where, "rules[0].effect");
  EXPECT_EQ(several[1].where, "rules[0].tools");
  EXPECT_EQ(several[2].where, "rules[1].isolation");
  EXPECT_EQ(several[3].where, "rules[1].sandbox");

  EXPECT_EQ(compile_errors("[]")[0].code, "bad_document");
  EXPECT_EQ(compile_errors("{")[0].code, "bad_document");
  EXPECT_EQ(compile_errors(R"({"name":"t"})")[0].where, "rules");
}

TEST(ToolPolicyTest, ARuleKeepsItsGrant) {
  auto policy = compile_ok(R"([{"id":"slow","effect":"allow","principals":["*"],"tools":["build"],
                                "isolation":"per_session","sandbox":{"wall_time":120,"memory":1073741824},
                                "rateLimit":"builds"}])",
                           "{}", R"({"builds":{"key":["tool"],"count":1,"periodNs":1000000000,"burst":1}})");
  const Decision decision = policy->decide(anonymous(), "build", args("{}"));
  ASSERT_NE(decision.grant, nullptr);
  EXPECT_EQ(decision.grant->isolation, Isolation::kPerSession);
  EXPECT_EQ(decision.grant->sandbox.wall_time, 120.0);
  EXPECT_EQ(decision.grant->sandbox.memory, 1073741824u);
  EXPECT_FALSE(decision.grant->sandbox.cpu_time.has_value());
  ASSERT_NE(decision.grant->rate_limit, nullptr);
  EXPECT_EQ(decision.grant->rate_limit->name, "builds");
  EXPECT_EQ(policy->rate_limit(decision), decision.grant->rate_limit);
}

TEST(ToolPolicyTest, RateLimitsResolveByNameWithTheDefaultForEverythingElse) {
  auto compiled = ToolPolicy::compile(R"({"name":"t","selectors":{},
      "rateLimits":{"per-user":{"key":["principal"],"count":60,"periodNs":60000000000,"burst":20},
                    "ci":{"key":["principal","tool"],"count":10,"periodNs":1000000000,"burst":20}},
      "defaults":{"rateLimit":"per-user"},
      "rules":[{"id":"ci","effect":"allow","principals":["*"],"tools":["build"],"rateLimit":"ci"},
               {"id":"rest","effect":"allow","principals":["*"],"tools":["*"]}]})");
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const ToolPolicy>>(compiled));
  auto policy = std::get<std::shared_ptr<const ToolPolicy>>(compiled);
  const RateLimitSpec* build = policy->rate_limit(policy->decide(anonymous(), "build", args("{}")));
  ASSERT_NE(build, nullptr);
  EXPECT_EQ(build->name, "ci");
  EXPECT_EQ(build->key, (std::vector<RateKeyPart>{RateKeyPart::kPrincipal, RateKeyPart::kTool}));
  EXPECT_EQ(build->rate.count, 10u);
  EXPECT_EQ(build->rate.burst, 20u);
  EXPECT_EQ(policy->rate_limit(policy->decide(anonymous(), "add", args("{}")))->name, "per-user");
  EXPECT_EQ(policy->default_rate_limit()->rate.period, std::chrono::seconds(60));

  auto errors = compile_errors(R"({"name":"t","rateLimits":{"r":{"key":["ip"],"count":0,"periodNs":1,"burst":1}},
      "defaults":{"rateLimit":"nope"},"rules":[{"id":"a","effect":"allow","principals":["*"],"tools":["x"],
      "rateLimit":"ghost"}]})");
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_EQ(errors[0].where, "rateLimits.r.key");
  EXPECT_EQ(errors[1].where, "rateLimits.r.count");
  EXPECT_EQ(errors[2].code, "unknown_rate_limit");
  EXPECT_EQ(errors[3].where, "rules[0].rateLimit");
}

TEST(ToolPolicyTest, TheDefaultsSayHowAModulesRequestsAreGranted) {
  const std::string limits = R"({"wall_time":10,"cpu_time":10,"memory":268435456,"max_output":4194304,)"
                             R"("max_processes":64,"max_open_files":256,"max_file_size":67108864,"scratch":67108864})";
  auto compiled = ToolPolicy::compile(R"({"name":"t","rules":[],"defaults":{"isolation":"per_session",)"
                                      R"("trustModules":true,"sandbox":)" + limits + R"(,"maxSandbox":)" + limits + "}}");
  auto policy = std::get<std::shared_ptr<const ToolPolicy>>(compiled);
  ASSERT_TRUE(policy->sandbox_settings().has_value());
  EXPECT_EQ(policy->sandbox_settings()->isolation, Isolation::kPerSession);
  EXPECT_TRUE(policy->sandbox_settings()->trust_module);
  EXPECT_EQ(policy->sandbox_settings()->defaults.memory, 268435456u);
  // A module that asks for nothing gets the policy's isolation and limits.
  SandboxGrant grant("{}", *policy->sandbox_settings());
  EXPECT_EQ(grant.tool("any").isolation, Isolation::kPerSession);
  EXPECT_EQ(grant.tool("any").limits.wall_time, 10.0);

  EXPECT_FALSE(compile_ok("[]")->sandbox_settings().has_value());  // no defaults given: none to grant with
  auto errors = compile_errors(R"({"name":"t","rules":[],"defaults":{"isolation":"none","sandbox":)" + limits +
                               R"(,"maxSandbox":{"wall_time":1}}})");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].where, "defaults.sandbox");
  errors = compile_errors(R"({"name":"t","rules":[],"defaults":{"isolation":"none","sandbox":)" + limits +
                          R"(,"maxSandbox":)" + limits + "}}");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].where, "defaults.isolation");
}

TEST(ToolPolicyTest, TheProtectedResourceMetadataLivesBetweenTheAuthorityAndThePath) {
  auto policy = std::get<std::shared_ptr<const ToolPolicy>>(ToolPolicy::compile(
      R"({"name":"t","rules":[],"auth":{"oauth":{"resource":"https://mcp.example:8443/tools/mcp/",)"
      R"("authorizationServers":["https://idp.example"],"scopesSupported":["tools:call"]}}})"));
  ASSERT_TRUE(policy->resource_metadata().has_value());
  const ResourceMetadata& metadata = *policy->resource_metadata();
  EXPECT_EQ(metadata.path, "/.well-known/oauth-protected-resource/tools/mcp");
  EXPECT_EQ(metadata.url, "https://mcp.example:8443/.well-known/oauth-protected-resource/tools/mcp");
  EXPECT_EQ(json::parse(metadata.document_json),
            json::parse(R"({"resource":"https://mcp.example:8443/tools/mcp/","authorization_servers":["https://idp.example"],)"
                        R"("scopes_supported":["tools:call"],"bearer_methods_supported":["header"]})"));
  auto root = std::get<std::shared_ptr<const ToolPolicy>>(ToolPolicy::compile(
      R"({"name":"t","rules":[],"auth":{"oauth":{"resource":"https://mcp.example","authorizationServers":[]}}})"));
  EXPECT_EQ(root->resource_metadata()->url, "https://mcp.example/.well-known/oauth-protected-resource");
  for (std::string_view bad : {"mcp.example/mcp", "ftp://mcp.example/mcp", "https:///mcp", "https://mcp.example/mcp?x=1"}) {
    auto errors = compile_errors(R"({"name":"t","rules":[],"auth":{"oauth":{"resource":")" + std::string(bad) + R"("}}})");
    ASSERT_EQ(errors.size(), 1u) << bad;
    EXPECT_EQ(errors[0].where, "auth.oauth.resource");
  }
  EXPECT_FALSE(compile_ok("[]")->resource_metadata().has_value());
}

}  // namespace
}  // namespace sandgate::policy

namespace sandgate::policy {
namespace {

auth::Principal token(std::vector<std::string> scopes, std::vector<std::string> groups = {}) {
  return auth::Principal{.kind = auth::Principal::Kind::kToken, .name = "alice", .groups = std::move(groups),
                         .issuer = "https://idp", .subject = "alice", .client_id = "app", .scopes = std::move(scopes)};
}

constexpr std::string_view kScopedSelectors =
    R"({"callers":{"issuer":"https://idp","requireScopes":["tools:call"]},)"
    R"("admins":{"issuer":"https://idp","anyGroup":["ops"],"requireScopes":["tools:call","tools:admin"]}})";

TEST(ToolPolicyTest, ATokenLackingOnlyAScopeSeesTheToolAndIsToldWhichScopes) {
  const std::string text = std::string(R"({"name":"t","selectors":)") + std::string(kScopedSelectors) +
      R"(,"auth":{"anonymous":"deny","jwt":[{"name":"idp","issuer":"https://idp","audiences":["https://mcp"],"leewaySeconds":60}]},)"
      R"("rules":[{"id":"call","effect":"allow","principals":["callers"],"tools":["add"]},)"
      R"({"id":"admin","effect":"allow","principals":["admins"],"tools":["drop"]},)"
      R"({"id":"no-prod","effect":"deny","principals":["*"],"tools":["drop"],"args":{"db":{"prefix":["prod"]}}}]})";
  auto compiled = ToolPolicy::compile(text);
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const ToolPolicy>>(compiled))
      << std::get<std::vector<PolicyCompileError>>(compiled)[0].message;
  const auto policy = std::get<std::shared_ptr<const ToolPolicy>>(compiled);
  const json::value none = args("{}");
  EXPECT_TRUE(policy->visible(token({}), "add"));
  EXPECT_FALSE(policy->decide(token({}), "add", none).allowed);
  EXPECT_EQ(policy->step_up_scopes(token({}), "add", none), std::vector<std::string>{"tools:call"});
  EXPECT_TRUE(policy->step_up_scopes(token({"tools:call"}), "add", none).empty());  // allowed already

  // Every scope the selector requires is named, the held ones too; a group the token lacks is no scope's fault.
  EXPECT_EQ(policy->step_up_scopes(token({"tools:call"}, {"ops"}), "drop", args(R"({"db":"dev"})")),
            (std::vector<std::string>{"tools:call", "tools:admin"}));
  EXPECT_TRUE(policy->step_up_scopes(token({"tools:call"}), "drop", args(R"({"db":"dev"})")).empty());
  EXPECT_FALSE(policy->visible(token({"tools:call"}), "drop"));
  // A call a deny refuses whatever the scopes: asking for more would not help.
  EXPECT_TRUE(policy->step_up_scopes(token({}, {"ops"}), "drop", args(R"({"db":"prod"})")).empty());
  // API keys and anonymous callers carry no scopes: they are never asked for one, and stay hidden.
  EXPECT_TRUE(policy->step_up_scopes(key("alice", {"ops"}), "add", none).empty());
  EXPECT_FALSE(policy->visible(key("alice", {"ops"}), "add"));
  EXPECT_FALSE(policy->visible(anonymous(), "add"));
}

}  // namespace
}  // namespace sandgate::policy
