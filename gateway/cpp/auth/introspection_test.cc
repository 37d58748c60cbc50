#include "auth/introspection.h"

#include <poll.h>

#include <gtest/gtest.h>

#include "auth/api_keys.h"

namespace sandgate::auth {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kNow = 1'800'000'000;

IntrospectionConfig config(std::chrono::seconds cache_for = 60s) {
  IntrospectionConfig introspection;
  introspection.provider = jwt::ProviderConfig{
      "idp", jwt::ClaimRules{"https://idp.example", {"https://mcp.example/mcp"}, 60s, {"exp"}}, {}, {"groups"}};
  introspection.cache_for = cache_for;
  return introspection;
}

std::string answer(std::string_view extra = "", std::int64_t exp = kNow + 3600) {
  return R"({"active":true,"aud":"https://mcp.example/mcp","sub":"alice","client_id":"app","scope":"tools:call a",)"
         R"("groups":["eng"],"exp":)" + std::to_string(exp) + std::string(extra) + "}";
}

bool readable(int fd) {
  pollfd poll_fd{fd, POLLIN, 0};
  return poll(&poll_fd, 1, 0) == 1;
}

struct Fixture {
  ManualWallClock clock{std::chrono::seconds(kNow)};
  std::shared_ptr<metrics::Counters> counters = std::make_shared<metrics::Counters>();
  std::shared_ptr<OpaqueTokens> tokens = std::make_shared<OpaqueTokens>(clock, 100, 3, counters, 2);
  IntrospectionAuthenticator authenticator{
      tokens, std::make_shared<const ApiKeyAuthenticator>(std::vector<ApiKey>{}, AnonymousAccess::kDeny), 64};

  Fixture() { tokens->configure(config()); }

  AuthOutcome present(std::string_view authorization, std::string_view api_key = "",
                      std::string_view peer = "192.0.2.1:4000") {
    auto headers = std::make_shared<mcp::Headers>();
    if (!authorization.empty()) headers->add("Authorization", std::string(authorization));
    if (!api_key.empty()) headers->add("X-API-Key", std::string(api_key));
    mcp::RequestContext context;
    context.headers = headers;
    context.peer = peer;
    return authenticator.authenticate(context);
  }

  // The verdict once the endpoint said `response` (answered) about `token`.
  AuthOutcome asked(std::string_view token, std::string_view response, bool answered = true) {
    auto first = present("Bearer " + std::string(token));
    if (!std::holds_alternative<AuthPending>(first)) return first;
    int resumed = 0;
    EXPECT_TRUE(std::get<AuthPending>(first).wait([&resumed] { ++resumed; }));
    tokens->take_wanted();
    tokens->complete(token, answered, response);
    EXPECT_EQ(resumed, 1);
    return present("Bearer " + std::string(token));
  }

  std::string refusal(std::string_view token, std::string_view response, bool answered = true) {
    auto outcome = asked(token, response, answered);
    if (!std::holds_alternative<AuthFailure>(outcome)) return "not refused";
    return std::get<AuthFailure>(outcome).challenge;
  }
};

TEST(IntrospectionTest, AnOpaqueTokenWaitsForItsAnswerWhichIsHeldAndSelectsLikeAJwtsClaims) {
  Fixture f;
  auto first = f.present("Bearer opaque-1");
  ASSERT_TRUE(std::holds_alternative<AuthPending>(first));
  EXPECT_FALSE(readable(f.tokens->wake_fd()));
  int resumed = 0;
  ASSERT_TRUE(std::get<AuthPending>(first).wait([&resumed] { ++resumed; }));
  ASSERT_TRUE(readable(f.tokens->wake_fd()));  // the client is woken to ask
  // A second request with the same token waits for the same answer: the issuer is asked once.
  ASSERT_TRUE(std::get<AuthPending>(f.present("Bearer opaque-1")).wait([&resumed] { ++resumed; }));
  EXPECT_EQ(f.tokens->take_wanted(), std::vector<std::string>{"opaque-1"});
  EXPECT_FALSE(readable(f.tokens->wake_fd()));
  EXPECT_TRUE(f.tokens->take_wanted().empty());
  f.tokens->complete("opaque-1", true, answer());
  EXPECT_EQ(resumed, 2);
  auto known = f.present("Bearer opaque-1");
  ASSERT_TRUE(std::holds_alternative<Principal>(known));
  const Principal& alice = std::get<Principal>(known);
  EXPECT_EQ(alice.kind, Principal::Kind::kToken);
  EXPECT_EQ(alice.issuer, "https://idp.example");  // the endpoint speaks for its issuer
  EXPECT_EQ(alice.subject, "alice");
  EXPECT_EQ(alice.client_id, "app");
  EXPECT_EQ(alice.scopes, (std::vector<std::string>{"tools:call", "a"}));
  EXPECT_EQ(alice.groups, std::vector<std::string>{"eng"});
  EXPECT_EQ(f.counters->get(metrics::Counter::kTokensIntrospected), 1u);
  // Held for cacheSeconds, then asked about again.
  f.clock.advance(61s);
  EXPECT_TRUE(std::holds_alternative<AuthPending>(f.present("Bearer opaque-1")));
}

TEST(IntrospectionTest, AnswersThatDoNotVouchForTheTokenAreRefusedWithTheirReason) {
  Fixture f;
  EXPECT_NE(f.refusal("t1", R"({"active":false})").find(R"(error_description="inactive")"), std::string::npos);
  EXPECT_NE(f.refusal("t2", R"({"active":"true","aud":"https://mcp.example/mcp"})").find("inactive"), std::string::npos);
  EXPECT_NE(f.refusal("t3", answer(R"(,"aud":"https://elsewhere/mcp")")).find("bad_introspection_response"),
            std::string::npos);  // aud twice: refused as a whole
  EXPECT_NE(f.refusal("t4", R"({"active":true,"aud":"https://elsewhere","sub":"a","exp":)" + std::to_string(kNow + 60) + "}")
                .find("wrong_audience"),
            std::string::npos);
  EXPECT_NE(f.refusal("t5", answer(R"(,"iss":"https://evil.example")")).find("wrong_issuer"), std::string::npos);
  EXPECT_NE(f.refusal("t6", answer("", kNow - 3600)).find("expired"), std::string::npos);
  EXPECT_NE(f.refusal("t7", "not json").find("bad_introspection_response"), std::string::npos);
  // An active token's answer is held no longer than the token lives.
  ASSERT_TRUE(std::holds_alternative<Principal>(f.asked("t8", answer("", kNow + 10))));
  f.clock.advance(11s);
  EXPECT_TRUE(std::holds_alternative<AuthPending>(f.present("Bearer t8")));
}

TEST(IntrospectionTest, AnIssuerThatCannotBeAskedIsA503NotARefusal) {
  Fixture f;
  auto outcome = f.asked("t1", "", false);
  ASSERT_TRUE(std::holds_alternative<AuthFailure>(outcome));
  const mcp::Fault fault = to_fault(std::get<AuthFailure>(outcome));
  EXPECT_EQ(fault.kind, mcp::Failure::kServerBusy);
  EXPECT_EQ(fault.detail.retry_after_s, 1);
  EXPECT_EQ(f.counters->get(metrics::Counter::kTokenIntrospectionFailures), 1u);
  f.clock.advance(2s);  // held only for the waiting requests: the next one asks again
  EXPECT_TRUE(std::holds_alternative<AuthPending>(f.present("Bearer t1")));
}

TEST(IntrospectionTest, WaitingRequestsAreBoundedAndCounted) {
  Fixture f;  // max_pending 3, two asks per client
  auto wait = [&](std::string_view token, std::string_view peer) {
    return std::get<AuthPending>(f.present("Bearer " + std::string(token), "", peer)).wait([] {});
  };
  EXPECT_TRUE(wait("t0", "192.0.2.1:1"));
  EXPECT_TRUE(wait("t1", "192.0.2.1:2"));  // the same address from another port: the same client
  EXPECT_FALSE(wait("t2", "192.0.2.1:3"));  // a third token being asked about for it: refused
  EXPECT_TRUE(wait("t0", "192.0.2.1:4"));  // waiting for a token already asked about costs no ask
  EXPECT_FALSE(wait("t2", "198.51.100.7:1"));  // another client, but max_pending requests wait already
  EXPECT_EQ(f.counters->get(metrics::Counter::kTokenIntrospectionsBusy), 2u);
  f.tokens->complete("t0", true, answer());  // an answer frees its waiters' places and its client's ask
  EXPECT_TRUE(wait("t2", "198.51.100.7:1"));
  EXPECT_TRUE(wait("t3", "192.0.2.1:5"));
  EXPECT_EQ(f.tokens->take_wanted().size(), 4u);
}

TEST(IntrospectionTest, OnlyABearerCredentialNoOtherStageKnowsIsAskedAbout) {
  Fixture f;
  EXPECT_TRUE(std::holds_alternative<AuthFailure>(f.present("")));  // no credentials: anonymous deny
  EXPECT_TRUE(std::holds_alternative<AuthFailure>(f.present("", "some-key")));  // an unknown X-API-Key
  EXPECT_TRUE(std::holds_alternative<AuthFailure>(f.present("Bearer t", "some-key")));  // both at once
  EXPECT_TRUE(std::holds_alternative<AuthFailure>(f.present("Basic dXNlcjpwYXNz")));
  EXPECT_NE(std::get<AuthFailure>(f.present("Bearer " + std::string(65, 'x'))).challenge.find("too_large"),
            std::string::npos);
  EXPECT_TRUE(f.tokens->take_wanted().empty());
  // A new configuration forgets the answers held under the old one.
  ASSERT_TRUE(std::holds_alternative<Principal>(f.asked("t1", answer())));
  f.tokens->configure(config(30s));
  EXPECT_TRUE(std::holds_alternative<AuthPending>(f.present("Bearer t1")));
}

}  // namespace
}  // namespace sandgate::auth
