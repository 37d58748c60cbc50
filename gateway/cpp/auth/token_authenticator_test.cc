#include "auth/token_authenticator.h"

#include <gtest/gtest.h>

#include "auth/api_keys.h"
#include "jwt/test_tokens.h"

namespace sandgate::auth {
namespace {

using namespace std::chrono_literals;
using jwt::testing::jwk_of;
using jwt::testing::token;

constexpr std::int64_t kNow = 1'800'000'000;
constexpr std::string_view kIssuer = "https://idp.example";
constexpr std::string_view kAudience = "https://mcp.example/mcp";

std::shared_ptr<const jwt::Jwks> key_set(const std::string& keys) {
  return std::get<std::shared_ptr<const jwt::Jwks>>(jwt::Jwks::parse(R"({"keys":[)" + keys + "]}"));
}

std::string claims(std::int64_t exp, std::string_view extra = "", std::string_view issuer = kIssuer) {
  return R"({"iss":")" + std::string(issuer) + R"(","aud":")" + std::string(kAudience) + R"(","sub":"alice","exp":)" +
         std::to_string(exp) + std::string(extra) + "}";
}

struct Fixture {
  ManualWallClock clock{std::chrono::seconds(kNow)};
  std::shared_ptr<metrics::Counters> counters = std::make_shared<metrics::Counters>();
  jwt::testing::Key issuer_key = jwt::testing::rsa();
  std::shared_ptr<jwt::KeySlot> slot = std::make_shared<jwt::KeySlot>();
  std::shared_ptr<jwt::TokenCache> cache = std::make_shared<jwt::TokenCache>(clock, 100, counters);
  std::unique_ptr<TokenAuthenticator> authenticator;

  explicit Fixture(std::vector<jwt::Algorithm> algorithms = {}) {
    slot->set(key_set(jwk_of(issuer_key.get(), "k1")));
    jwt::ProviderConfig config{"idp", jwt::ClaimRules{std::string(kIssuer), {std::string(kAudience)}, 60s, {"exp"}},
                               std::move(algorithms), {"groups", "realm_access.roles"}};
    auto provider = std::make_shared<const jwt::Provider>(config, slot);
    auto otherwise = std::make_shared<const ApiKeyAuthenticator>(std::vector<ApiKey>{}, AnonymousAccess::kDeny);
    authenticator = std::make_unique<TokenAuthenticator>(std::vector<std::shared_ptr<const jwt::Provider>>{provider},
                                                         cache, clock, counters, otherwise);
  }

  AuthOutcome present(std::string_view bearer, std::string_view api_key = "") {
    auto headers = std::make_shared<mcp::Headers>();
    headers->add("Authorization", "Bearer " + std::string(bearer));
    if (!api_key.empty()) headers->add("X-API-Key", api_key);
    mcp::RequestContext context;
    context.headers = headers;
    context.peer = "192.0.2.1:4000";
    return authenticator->authenticate(context);
  }

  std::string refusal(std::string_view bearer) {
    auto outcome = present(bearer);
    if (!std::holds_alternative<AuthFailure>(outcome)) return "accepted";
    return std::get<AuthFailure>(outcome).challenge;
  }
};

TEST(TokenAuthenticatorTest, AVerifiedTokenIsItsSubjectWithGroupsAndScopes) {
  Fixture f;
  const std::string bearer = token("RS256", f.issuer_key.get(), "k1",
                                   claims(kNow + 300, R"(,"groups":["eng"],"realm_access":{"roles":["admin","eng"]},)"
                                                      R"("scope":"tools:call  tools:list","scp":["extra"],"client_id":"cli")"));
  auto outcome = f.present(bearer);
  ASSERT_TRUE(std::holds_alternative<Principal>(outcome)) << std::get<AuthFailure>(outcome).challenge;
  const Principal& who = std::get<Principal>(outcome);
  EXPECT_EQ(who.kind, Principal::Kind::kToken);
  EXPECT_EQ(who.name, "alice");
  EXPECT_EQ(who.issuer, kIssuer);
  EXPECT_EQ(who.client_id, "cli");
  EXPECT_EQ(who.groups, (std::vector<std::string>{"eng", "admin"}));
  EXPECT_EQ(who.scopes, (std::vector<std::string>{"tools:call", "tools:list", "extra"}));
  EXPECT_EQ(f.counters->get(metrics::Counter::kTokensVerified), 1u);
}

TEST(TokenAuthenticatorTest, ARepeatedTokenComesFromTheCacheUntilItsExpiry) {
  Fixture f;
  const std::string bearer = token("RS256", f.issuer_key.get(), "k1", claims(kNow + 100));
  ASSERT_TRUE(std::holds_alternative<Principal>(f.present(bearer)));
  ASSERT_TRUE(std::holds_alternative<Principal>(f.present(bearer)));
  EXPECT_EQ(f.counters->get(metrics::Counter::kTokenCacheHits), 1u);
  f.clock.advance(100s);  // exp reached: the cache forgets it, the verifier allows only the leeway
  ASSERT_TRUE(std::holds_alternative<Principal>(f.present(bearer)));
  EXPECT_EQ(f.counters->get(metrics::Counter::kTokenCacheHits), 1u);
  f.clock.advance(60s);
  EXPECT_NE(f.refusal(bearer).find(R"(error_description="expired")"), std::string::npos);
}

TEST(TokenAuthenticatorTest, RefusalsNameTheirReasonAndCountIt) {
  Fixture f;
  auto stranger = jwt::testing::rsa();
  EXPECT_NE(f.refusal(token("RS256", f.issuer_key.get(), "k1", claims(kNow + 60, "", "https://evil"))).find("wrong_issuer"),
            std::string::npos);
  EXPECT_NE(f.refusal(token("RS256", stranger.get(), "k1", claims(kNow + 60))).find("bad_signature"), std::string::npos);
  EXPECT_NE(f.refusal(token("RS256", f.issuer_key.get(), "k9", claims(kNow + 60))).find("unknown_key"), std::string::npos);
  EXPECT_NE(f.refusal(token("RS256", f.issuer_key.get(), "k1", R"({"iss":"https://idp.example","aud":"x","exp":1900000000})"))
                .find("wrong_audience"),
            std::string::npos);
  EXPECT_NE(f.refusal("a.b.c").find(R"(error="invalid_token")"), std::string::npos);
  EXPECT_NE(f.refusal("a.b.c.d").find(R"(error_description="malformed")"), std::string::npos);
  const std::string good = token("RS256", f.issuer_key.get(), "k1", claims(kNow + 60));
  auto both = f.present(good, "some-api-key");
  EXPECT_TRUE(std::holds_alternative<AuthFailure>(both));  // a token and a key: neither is picked
  EXPECT_EQ(f.counters->get(metrics::Counter::kTokensRefused), 7u);
  // Not token-shaped: API keys and the anonymous rule decide (here: deny).
  EXPECT_EQ(std::get<AuthFailure>(f.present("not-a-token")).error, AuthError::kInvalidCredentials);
}

TEST(TokenAuthenticatorTest, RotatedKeysTakeEffectAtOnceAndMissingKeysFailClosed) {
  Fixture f;
  auto next_key = jwt::testing::rsa();
  const std::string old_token = token("RS256", f.issuer_key.get(), "k1", claims(kNow + 300));
  const std::string new_token = token("RS256", next_key.get(), "k2", claims(kNow + 300));
  ASSERT_TRUE(std::holds_alternative<Principal>(f.present(old_token)));
  EXPECT_NE(f.refusal(new_token).find("unknown_key"), std::string::npos);
  f.slot->set(key_set(jwk_of(next_key.get(), "k2")));
  f.cache->clear();  // keys changed: what was verified with the old ones is verified again
  EXPECT_TRUE(std::holds_alternative<Principal>(f.present(new_token)));
  EXPECT_NE(f.refusal(old_token).find("unknown_key"), std::string::npos);
  f.slot->set(nullptr);
  f.cache->clear();
  EXPECT_NE(f.refusal(new_token).find("unknown_key"), std::string::npos);
}

TEST(TokenAuthenticatorTest, AProviderAcceptsOnlyItsAlgorithms) {
  Fixture f({jwt::Algorithm::kPS256});
  EXPECT_NE(f.refusal(token("RS256", f.issuer_key.get(), "k1", claims(kNow + 60))).find("unsupported_algorithm"),
            std::string::npos);
  EXPECT_TRUE(std::holds_alternative<Principal>(f.present(token("PS256", f.issuer_key.get(), "k1", claims(kNow + 60)))));
}

TEST(TokenCacheTest, TheCacheIsBoundedAndCountsWhatItForgets) {
  ManualWallClock clock{std::chrono::seconds(kNow)};
  auto counters = std::make_shared<metrics::Counters>();
  jwt::TokenCache cache(clock, 2, counters);
  const auto later = clock.now() + 60s;
  cache.insert("a", std::make_shared<const Principal>(), later);
  cache.insert("b", std::make_shared<const Principal>(), later);
  ASSERT_NE(cache.find("a"), nullptr);  // "a" is now the most recent
  cache.insert("c", std::make_shared<const Principal>(), later);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.find("b"), nullptr);
  EXPECT_NE(cache.find("a"), nullptr);
  EXPECT_EQ(counters->get(metrics::Counter::kTokenCacheEvictions), 1u);
  cache.insert("expired", std::make_shared<const Principal>(), clock.now());
  EXPECT_EQ(cache.find("expired"), nullptr);
}

}  // namespace
}  // namespace sandgate::auth
