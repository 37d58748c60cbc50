#include "policy/policy_gate.h"

#include <gtest/gtest.h>

#include "jwt/test_tokens.h"

namespace sandgate::policy {
namespace {

// sha256("k")
constexpr std::string_view kKeyDigest = "8254c329a92850f6d539dd376f4816ee2764517da5e0235514af433164480d7a";

std::shared_ptr<const ToolPolicy> compile(std::string_view rules, std::string_view anonymous = "allow") {
  const std::string text = std::string(R"({"name":"t","revision":"1","selectors":{"eng":{"anyGroup":["eng"]}},)") +
                           R"("rateLimits":{"two":{"key":["principal"],"count":2,"periodNs":60000000000,"burst":2},)" +
                           R"("lists":{"key":["client"],"count":1,"periodNs":1000000000,"burst":1}},)" +
                           R"("defaults":{"rateLimit":"lists"},"auth":{"anonymous":")" + std::string(anonymous) +
                           R"(","apiKeys":[{"name":"k","sha256":")" + std::string(kKeyDigest) +
                           R"(","principal":"alice","groups":["eng"]}]},"rules":)" + std::string(rules) + "}";
  auto compiled = ToolPolicy::compile(text);
  if (auto* errors = std::get_if<std::vector<PolicyCompileError>>(&compiled)) {
    ADD_FAILURE() << (*errors)[0].where << ": " << (*errors)[0].message;
    return nullptr;
  }
  return std::get<std::shared_ptr<const ToolPolicy>>(compiled);
}

constexpr std::string_view kRules = R"([
  {"id":"eng-read","effect":"allow","principals":["eng"],"tools":["read"],"args":{"path":{"glob":["/srv/**"]}},
   "rateLimit":"two"},
  {"id":"anyone-add","effect":"allow","principals":["*"],"tools":["add"]}])";

mcp::Message call(std::string_view params) {
  const std::string text = R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":)" + std::string(params) + "}";
  return std::get<mcp::Message>(mcp::decode_message(json::parse(text), text));
}

mcp::RequestContext as(auth::Principal principal) {
  mcp::RequestContext context;
  context.principal = std::move(principal);
  context.peer = "127.0.0.1:9";
  return context;
}

auth::Principal alice() { return auth::Principal{.kind = auth::Principal::Kind::kApiKey, .name = "alice", .groups = {"eng"}}; }

TEST(PolicyGateTest, AnAllowedCallCarriesItsGrantRateLimitAndSnapshot) {
  auto gate = std::make_shared<PolicyGate>(compile(kRules));
  GateAuthorizer authorize(gate, std::make_shared<metrics::Counters>());
  mcp::RequestContext context = as(alice());
  EXPECT_EQ(authorize.authorize(context, call(R"({"name":"read","arguments":{"path":"/srv/x"}})")), std::nullopt);
  ASSERT_NE(context.admission.grant, nullptr);
  EXPECT_EQ(context.admission.grant->id, "eng-read");
  EXPECT_EQ(context.admission.rate_limit->name, "two");
  EXPECT_EQ(context.admission.tool, "read");
  EXPECT_EQ(context.admission.policy, gate->current());
}

TEST(PolicyGateTest, ADeniedCallIsForbiddenAndAnInvisibleToolIsUnknown) {
  auto gate = std::make_shared<PolicyGate>(compile(kRules));
  GateAuthorizer authorize(gate, std::make_shared<metrics::Counters>());
  mcp::RequestContext context = as(alice());
  const auto refused = authorize.authorize(context, call(R"({"name":"read","arguments":{"path":"/etc/shadow"}})"));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->error, PolicyError::kDenied);
  EXPECT_EQ(refused->reason, "argument_not_allowed");
  EXPECT_EQ(to_fault(*refused).kind, mcp::Failure::kForbidden);

  mcp::RequestContext stranger = as(auth::Principal{});
  const auto hidden = authorize.authorize(stranger, call(R"({"name":"read","arguments":{"path":"/srv/x"}})"));
  ASSERT_TRUE(hidden.has_value());
  EXPECT_EQ(hidden->error, PolicyError::kHidden);
  const mcp::Fault unknown = to_fault(*hidden);
  EXPECT_EQ(unknown.kind, mcp::Failure::kInvalidParams);
  EXPECT_EQ(unknown.message, "Unknown tool: read");
  EXPECT_EQ(unknown.data_json, R"({"name":"read"})");
  EXPECT_EQ(to_fault(*authorize.authorize(stranger, call(R"({"name":"nonexistent"})"))).message,
            "Unknown tool: nonexistent");
}

TEST(PolicyGateTest, OtherRequestsPassWithTheDefaultRateLimit) {
  auto gate = std::make_shared<PolicyGate>(compile(kRules));
  GateAuthorizer authorize(gate, std::make_shared<metrics::Counters>());
  mcp::RequestContext context = as(auth::Principal{});
  const std::string text = R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})";
  EXPECT_EQ(authorize.authorize(context, std::get<mcp::Message>(mcp::decode_message(json::parse(text), text))),
            std::nullopt);
  EXPECT_EQ(context.admission.rate_limit->name, "lists");
  EXPECT_EQ(authorize.authorize(context, call(R"({"arguments":{}})")), std::nullopt);  // the engine refuses it
}

TEST(PolicyGateTest, ASwapServesNewRequestsWhileOldOnesKeepTheirSnapshot) {
  auto gate = std::make_shared<PolicyGate>(compile(kRules));
  GateAuthorizer authorize(gate, std::make_shared<metrics::Counters>());
  mcp::RequestContext before = as(auth::Principal{});
  EXPECT_EQ(authorize.authorize(before, call(R"({"name":"add"})")), std::nullopt);
  const auto old_policy = before.admission.policy;
  gate->swap(compile(R"([{"id":"nothing","effect":"deny","principals":["*"],"tools":["add"]}])"));
  EXPECT_EQ(before.admission.policy, old_policy);  // the request in flight still holds its rules
  EXPECT_EQ(before.admission.grant->id, "anyone-add");
  mcp::RequestContext after = as(auth::Principal{});
  EXPECT_EQ(authorize.authorize(after, call(R"({"name":"add"})"))->reason, "denied_by_rule");
}

TEST(PolicyGateTest, TheRateLimiterSpendsFromTheLimitTheAuthorizerChose) {
  ManualClock clock;
  auto gate = std::make_shared<PolicyGate>(compile(kRules));
  GateAuthorizer authorize(gate, std::make_shared<metrics::Counters>());
  GateRateLimiter limit(std::make_unique<ratelimit::PolicyLimiter>(clock, 1024, std::make_shared<metrics::Counters>()));
  const mcp::Message read = call(R"({"name":"read","arguments":{"path":"/srv/x"}})");
  int admitted = 0;
  std::optional<ratelimit::Limited> refused;
  for (int i = 0; i < 5 && !refused; ++i) {
    mcp::RequestContext context = as(alice());
    ASSERT_EQ(authorize.authorize(context, read), std::nullopt);
    refused = limit.admit(context, read);
    if (!refused) ++admitted;
  }
  EXPECT_EQ(admitted, 2);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->policy, "two");
  mcp::RequestContext unlimited;  // no admission: nothing to spend
  EXPECT_EQ(limit.admit(unlimited, read), std::nullopt);
}

TEST(PolicyGateTest, AuthenticationFollowsTheCurrentSnapshot) {
  auto gate = std::make_shared<PolicyGate>(compile(kRules, "deny"));
  GateAuthenticator authenticate(gate);
  mcp::RequestContext context = as(auth::Principal{});
  auto headers = std::make_shared<mcp::Headers>();
  headers->add("Authorization", "Bearer k");
  context.headers = headers;
  EXPECT_EQ(std::get<auth::Principal>(authenticate.authenticate(context)).name, "alice");
  context.headers = std::make_shared<mcp::Headers>();
  EXPECT_TRUE(std::holds_alternative<auth::AuthFailure>(authenticate.authenticate(context)));
  gate->swap(compile(kRules, "allow"));
  EXPECT_TRUE(std::holds_alternative<auth::Principal>(authenticate.authenticate(context)));
}

SandboxLimits limits_with_wall_time(double wall_time) {
  return SandboxLimits{wall_time, 10, 512u << 20, 4u << 20, 64, 256, 64u << 20, 64u << 20};
}

TEST(PolicyGateTest, ACallRunsUnderTheModulePlansOfThePolicyThatAdmittedIt) {
  const std::string_view requests = R"({"tools":{"add":{"sandbox":{"cpu_time":2}}}})";
  auto before = std::make_shared<const SandboxGrant>(
      requests, SandboxSettings{limits_with_wall_time(30), limits_with_wall_time(300), false, Isolation::kPerCall});
  auto gate = std::make_shared<PolicyGate>(compile(kRules), before);
  GateAuthorizer authorize(gate, std::make_shared<metrics::Counters>());
  mcp::RequestContext held = as(alice());
  ASSERT_EQ(authorize.authorize(held, call(R"({"name":"add"})")), std::nullopt);

  gate->swap(compile(kRules), std::make_shared<const SandboxGrant>(
                                  requests, SandboxSettings{limits_with_wall_time(7), limits_with_wall_time(300), false,
                                                            Isolation::kPerSession}));
  before.reset();  // the held request keeps its snapshot alive
  mcp::RequestContext later = as(alice());
  ASSERT_EQ(authorize.authorize(later, call(R"({"name":"add"})")), std::nullopt);
  ASSERT_NE(held.admission.sandbox, nullptr);
  ASSERT_NE(later.admission.sandbox, nullptr);
  EXPECT_EQ(held.admission.sandbox->tool("add"),
            (SandboxPlan{Isolation::kPerCall, [] { auto l = limits_with_wall_time(30); l.cpu_time = 2; return l; }()}));
  EXPECT_EQ(later.admission.sandbox->tool("add").limits.wall_time, 7.0);
  EXPECT_EQ(later.admission.sandbox->tool("add").isolation, Isolation::kPerSession);
  EXPECT_NE(held.admission.policy, later.admission.policy);

  gate->swap(compile(kRules));  // a policy without plans: the engine's own grant serves
  mcp::RequestContext bare = as(alice());
  ASSERT_EQ(authorize.authorize(bare, call(R"({"name":"add"})")), std::nullopt);
  EXPECT_EQ(bare.admission.sandbox, nullptr);
}

TEST(PolicyGateTest, AShadowRuleThatWouldDecideOtherwiseIsCountedNotEnforced) {
  auto gate = std::make_shared<PolicyGate>(compile(R"([
    {"id":"anyone-add","effect":"allow","principals":["*"],"tools":["add"]},
    {"id":"trial-deny","effect":"deny","shadow":true,"principals":["*"],"tools":["add"],"args":{"a":{"const":1}}}])"));
  auto counters = std::make_shared<metrics::Counters>();
  GateAuthorizer authorize(gate, counters);
  mcp::RequestContext agreed = as(alice());
  EXPECT_EQ(authorize.authorize(agreed, call(R"({"name":"add","arguments":{"a":2}})")), std::nullopt);
  EXPECT_EQ(counters->get(metrics::Counter::kPolicyShadowDisagreements), 0u);
  mcp::RequestContext disagreed = as(alice());
  EXPECT_EQ(authorize.authorize(disagreed, call(R"({"name":"add","arguments":{"a":1}})")), std::nullopt);
  EXPECT_EQ(counters->get(metrics::Counter::kPolicyShadowDisagreements), 1u);
}

TEST(PolicyGateTest, TokensFromThePolicysIssuersAreVerifiedAndTheirClaimsSelectRules) {
  const std::string document = R"({"name":"t","selectors":{"callers":{"issuer":"https://idp","requireScopes":["tools:call"]},)"
                               R"("ops":{"issuer":"https://idp","anyGroup":["ops"]}},)"
                               R"("auth":{"anonymous":"deny","apiKeys":[],"jwt":[{"name":"idp","issuer":"https://idp",)"
                               R"("audiences":["https://mcp"],"algorithms":["ES256"],"leewaySeconds":60,)"
                               R"("groupsClaims":["roles"],"requiredClaims":["exp"]}]},)"
                               R"("rules":[{"id":"callers-add","effect":"allow","principals":["callers"],"tools":["add"]},)"
                               R"({"id":"ops-all","effect":"allow","principals":["ops"],"tools":["*"]}]})";
  auto policy = std::get<std::shared_ptr<const ToolPolicy>>(ToolPolicy::compile(document));
  auto counters = std::make_shared<metrics::Counters>();
  auto tokens = std::make_shared<TokenServices>(std::make_shared<SystemWallClock>(), 100, counters);
  auto gate = std::make_shared<PolicyGate>(policy, nullptr, tokens);
  jwt::testing::Key key = jwt::testing::generate("EC", "P-256");
  EXPECT_NE(tokens->set_keys("https://idp", R"({"keys":[{"kty":"oct","k":"AAAA"}]})", false), std::nullopt);
  ASSERT_EQ(tokens->set_keys("https://idp", "{\"keys\":[" + jwt::testing::jwk_of(key.get(), "e1") + "]}", false), std::nullopt);

  GateAuthenticator authenticate(gate);
  GateAuthorizer authorize(gate, counters);
  auto as_bearer = [&](const std::string& claims) {
    mcp::RequestContext context;
    auto headers = std::make_shared<mcp::Headers>();
    headers->add("Authorization", "Bearer " + jwt::testing::token("ES256", key.get(), "e1", claims));
    context.headers = headers;
    context.peer = "192.0.2.7:1";
    return context;
  };
  const std::string exp = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                             std::chrono::system_clock::now().time_since_epoch()).count() + 300);
  mcp::RequestContext caller = as_bearer(R"({"iss":"https://idp","aud":"https://mcp","sub":"alice","scope":"tools:call","exp":)" + exp + "}");
  auto who = authenticate.authenticate(caller);
  ASSERT_TRUE(std::holds_alternative<auth::Principal>(who));
  caller.principal = std::get<auth::Principal>(who);
  EXPECT_EQ(authorize.authorize(caller, call(R"({"name":"add"})")), std::nullopt);
  mcp::RequestContext denied = caller;
  EXPECT_EQ(authorize.authorize(denied, call(R"({"name":"read","arguments":{"path":"/srv/x"}})"))->error, PolicyError::kHidden);

  mcp::RequestContext operator_ = as_bearer(R"({"iss":"https://idp","aud":"https://mcp","sub":"root","roles":["ops"],"exp":)" + exp + "}");
  operator_.principal = std::get<auth::Principal>(authenticate.authenticate(operator_));
  EXPECT_EQ(authorize.authorize(operator_, call(R"({"name":"read","arguments":{"path":"/srv/x"}})")), std::nullopt);
  EXPECT_EQ(counters->get(metrics::Counter::kTokensVerified), 2u);

  // An API key's principal of the same name is not the token's subject: issuer selectors need a token.
  mcp::RequestContext impostor = as(auth::Principal{.kind = auth::Principal::Kind::kApiKey, .name = "alice",
                                                    .groups = {"ops"}});
  EXPECT_NE(authorize.authorize(impostor, call(R"({"name":"add"})")), std::nullopt);
}

}  // namespace
}  // namespace sandgate::policy

namespace sandgate::policy {
namespace {

TEST(PolicyGateTest, OnlyAMissingScopeAnswersWithAStepUpChallenge) {
  const std::string text = std::string(R"({"name":"t","revision":"1",)") +
      R"("selectors":{"callers":{"issuer":"https://idp","requireScopes":["tools:call"]}},)" +
      R"("auth":{"anonymous":"deny","jwt":[{"name":"idp","issuer":"https://idp","audiences":["https://mcp.test/mcp"],"leewaySeconds":60}],)" +
      R"("oauth":{"resource":"https://mcp.test/mcp","authorizationServers":["https://idp"]}},)" +
      R"("rules":[{"id":"call","effect":"allow","principals":["callers"],"tools":["add"]},)" +
      R"({"id":"no-big","effect":"deny","principals":["*"],"tools":["add"],"args":{"a":{"min":100}}}]})";
  auto compiled = ToolPolicy::compile(text);
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const ToolPolicy>>(compiled))
      << std::get<std::vector<PolicyCompileError>>(compiled)[0].message;
  auto gate = std::make_shared<PolicyGate>(std::get<std::shared_ptr<const ToolPolicy>>(compiled));
  GateAuthorizer authorize(gate, std::make_shared<metrics::Counters>());
  mcp::RequestContext unscoped = as(auth::Principal{.kind = auth::Principal::Kind::kToken, .name = "alice",
                                                    .issuer = "https://idp", .subject = "alice"});
  const auto refused = authorize.authorize(unscoped, call(R"({"name":"add","arguments":{"a":1}})"));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->reason, "insufficient_scope");
  const mcp::WireError wire = mcp::to_wire(to_fault(*refused), mcp::Era::kModern);
  EXPECT_EQ(wire.http_status, 403);
  ASSERT_EQ(wire.headers.size(), 1u);
  EXPECT_EQ(wire.headers[0].second,
            R"(Bearer resource_metadata="https://mcp.test/.well-known/oauth-protected-resource/mcp", )"
            R"(error="insufficient_scope", scope="tools:call", error_description="the token lacks a scope this call needs")");

  // Refused by a deny whatever the scopes: a plain 403 with no challenge a client could act on.
  const auto denied = authorize.authorize(unscoped, call(R"({"name":"add","arguments":{"a":500}})"));
  ASSERT_TRUE(denied.has_value());
  EXPECT_EQ(denied->reason, "denied_by_rule");
  EXPECT_TRUE(mcp::to_wire(to_fault(*denied), mcp::Era::kModern).headers.empty());
}

}  // namespace
}  // namespace sandgate::policy
