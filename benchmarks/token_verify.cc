// By hand, not a test: what verifying a bearer token costs in the core (targets: a cached token at most
// 1 us, an uncached RS256 token at most 50 us). Built with the C++ tests (`make cpp-tests`), run as
//
//   build/cpp/token_verify_bench [iterations]
//
// For RS256 (2048-bit), ES256 and EdDSA tokens with realistic claims, prints the median over 15 batches of
// ns per TokenAuthenticator::verify with no cache (signature, claims and principal every time) and with the
// token cached (a SHA-256 of the token and a lookup).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "median_ns.h"
#include "auth/api_keys.h"
#include "auth/token_authenticator.h"
#include "jwt/test_tokens.h"

namespace {

using sandgate::bench::median_ns;

using namespace sandgate;

}  // namespace

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? std::atol(argv[1]) : 2000;
  SystemWallClock clock;
  auto counters = std::make_shared<metrics::Counters>();
  const long exp = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() + 3600;
  const std::string claims = R"({"iss":"https://idp.example","aud":"https://mcp.example/mcp","sub":"alice",)"
                             R"("client_id":"agent","scope":"tools:call tools:list","groups":["eng","ops"],)"
                             R"("iat":1700000000,"exp":)" + std::to_string(exp) + "}";
  struct Case {
    const char* alg;
    jwt::testing::Key key;
  };
  std::vector<Case> cases;
  cases.push_back({"RS256", jwt::testing::rsa()});
  cases.push_back({"ES256", jwt::testing::generate("EC", "P-256")});
  cases.push_back({"EdDSA", jwt::testing::generate("ED25519")});
  auto otherwise = std::make_shared<const auth::ApiKeyAuthenticator>(std::vector<auth::ApiKey>{}, auth::AnonymousAccess::kDeny);
  for (const Case& c : cases) {
    auto slot = std::make_shared<jwt::KeySlot>();
    slot->set(std::get<std::shared_ptr<const jwt::Jwks>>(
        jwt::Jwks::parse("{\"keys\":[" + jwt::testing::jwk_of(c.key.get(), "k1") + "]}")));
    jwt::ProviderConfig config{"idp", jwt::ClaimRules{"https://idp.example", {"https://mcp.example/mcp"}}, {}, {"groups"}};
    std::vector<std::shared_ptr<const jwt::Provider>> providers{std::make_shared<const jwt::Provider>(config, slot)};
    const std::string token = jwt::testing::token(c.alg, c.key.get(), "k1", claims);
    auth::TokenAuthenticator uncached(providers, std::make_shared<jwt::TokenCache>(clock, 0, counters), clock, counters,
                                      otherwise);
    auth::TokenAuthenticator cached(providers, std::make_shared<jwt::TokenCache>(clock, 1000, counters), clock, counters,
                                    otherwise);
    if (!std::holds_alternative<auth::Principal>(uncached.verify(token))) {
      std::fprintf(stderr, "%s: the token was refused\n", c.alg);
      return 1;
    }
    const double cold = median_ns(iterations, [&] { (void)uncached.verify(token); });
    const double warm = median_ns(iterations * 20, [&] { (void)cached.verify(token); });
    std::printf("%s (%zu-byte token): uncached %.0f ns, cached %.0f ns\n", c.alg, token.size(), cold, warm);
  }
  return 0;
}
