#include "jwt/jws.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <memory>
#include <string>

#include "jwt/base64url.h"
#include "jwt/claims.h"
#include "jwt/test_tokens.h"

namespace sandgate::jwt {
namespace {

using namespace testing;

std::shared_ptr<const Jwks> keys(const std::string& set, JwksOptions options = {}) {
  auto parsed = Jwks::parse(set, options);
  if (auto* error = std::get_if<std::string>(&parsed)) {
    ADD_FAILURE() << *error;
    return nullptr;
  }
  return std::get<std::shared_ptr<const Jwks>>(parsed);
}

std::string refusal(const std::string& set, JwksOptions options = {}) {
  auto parsed = Jwks::parse(set, options);
  return std::holds_alternative<std::string>(parsed) ? std::get<std::string>(parsed) : "";
}

JwtError refused(const std::variant<Jws, JwtError>& outcome) {
  EXPECT_TRUE(std::holds_alternative<JwtError>(outcome)) << "accepted";
  return std::holds_alternative<JwtError>(outcome) ? std::get<JwtError>(outcome) : JwtError::kMalformed;
}

TEST(JwsTest, EachAlgorithmVerifiesWithItsKey) {
  struct Case {
    const char* alg;
    Key key;
  };
  const Case cases[] = {{"RS256", rsa()}, {"RS512", rsa()}, {"PS256", rsa()}, {"PS384", rsa()},
                        {"ES256", generate("EC", "P-256")}, {"ES384", generate("EC", "P-384")},
                        {"ES512", generate("EC", "P-521")}, {"EdDSA", generate("ED25519")}};
  for (const Case& c : cases) {
    auto set = keys(R"({"keys":[)" + jwk_of(c.key.get(), "k1") + "]}");
    ASSERT_NE(set, nullptr) << c.alg;
    auto outcome = verify_jws(token(c.alg, c.key.get(), "k1"), *set);
    ASSERT_TRUE(std::holds_alternative<Jws>(outcome)) << c.alg << ": " << jwt_error_code(std::get<JwtError>(outcome));
    EXPECT_EQ(std::get<Jws>(outcome).payload, R"({"sub":"alice"})");
  }
}

TEST(JwsTest, HmacNeedsAnExplicitSymmetricKeyAndComparesTheWholeTag) {
  const std::string secret(32, 'k');
  const std::string set = R"({"keys":[{"kty":"oct","kid":"s","k":")" + encode_base64url(secret) + "\"}]}";
  EXPECT_NE(refusal(set).find("symmetric key"), std::string::npos);  // never from a published set
  auto symmetric = keys(set, JwksOptions{.allow_symmetric = true});
  const std::string input = unsigned_token(R"({"alg":"HS256","kid":"s"})", "{}");
  const std::string tag = hmac("HS256", secret, input);
  EXPECT_TRUE(std::holds_alternative<Jws>(verify_jws(input + "." + encode_base64url(tag), *symmetric)));
  EXPECT_EQ(refused(verify_jws(input + "." + encode_base64url(tag.substr(0, 16)), *symmetric)), JwtError::kBadSignature);
  // HS512 needs a 64-octet key: this one serves no HS512 token.
  const std::string input512 = unsigned_token(R"({"alg":"HS512","kid":"s"})", "{}");
  EXPECT_EQ(refused(verify_jws(input512 + "." + encode_base64url(hmac("HS512", secret, input512)), *symmetric)),
            JwtError::kUnknownKey);
  // A key whose own alg needs more octets than it has is refused by name, not as "does not fit its key type".
  const std::string short512 = R"({"keys":[{"kty":"oct","alg":"HS512","k":")" + encode_base64url(secret) + "\"}]}";
  EXPECT_NE(refusal(short512, JwksOptions{.allow_symmetric = true}).find("shorter than the 64 octets its alg HS512 needs"),
            std::string::npos)
      << refusal(short512, JwksOptions{.allow_symmetric = true});
}

TEST(JwsTest, ForgedAndMangledTokensAreRefusedWithTheirReason) {
  Key issuer = rsa();
  Key attacker = rsa();
  Key ec = generate("EC", "P-256");
  auto set = keys(R"({"keys":[)" + jwk_of(issuer.get(), "k1", "RS256") + "," + jwk_of(ec.get(), "e1") + "]}");
  const std::string good = token("RS256", issuer.get(), "k1");
  ASSERT_TRUE(std::holds_alternative<Jws>(verify_jws(good, *set)));

  const std::string none = unsigned_token(R"({"alg":"none","kid":"k1"})", R"({"sub":"alice"})");
  EXPECT_EQ(refused(verify_jws(none + ".", *set)), JwtError::kMalformed);
  EXPECT_EQ(refused(verify_jws(none + ".AAAA", *set)), JwtError::kUnsupportedAlgorithm);
  // HS256 keyed with the issuer's public key: the set holds no symmetric key, so no HMAC is even computed.
  const std::string confused_input = unsigned_token(R"({"alg":"HS256","kid":"k1"})", R"({"sub":"alice"})");
  const std::string public_n = bn_bytes(issuer.get(), OSSL_PKEY_PARAM_RSA_N);
  EXPECT_EQ(refused(verify_jws(confused_input + "." + encode_base64url(hmac("HS256", public_n, confused_input)), *set)),
            JwtError::kUnknownKey);
  // A key that names RS256 verifies nothing else, PS256 included.
  EXPECT_EQ(refused(verify_jws(token("PS256", issuer.get(), "k1"), *set)), JwtError::kUnknownKey);
  EXPECT_EQ(refused(verify_jws(good.substr(0, good.rfind('.') + 1), *set)), JwtError::kMalformed);
  EXPECT_EQ(refused(verify_jws(good.substr(0, good.rfind('.')), *set)), JwtError::kMalformed);
  EXPECT_EQ(refused(verify_jws(token("RS256", attacker.get(), "k1"), *set)), JwtError::kBadSignature);
  EXPECT_EQ(refused(verify_jws(token("RS256", issuer.get(), "k2"), *set)), JwtError::kUnknownKey);
  EXPECT_EQ(refused(verify_jws(token("RS256", issuer.get(), "../../keys/k1"), *set)), JwtError::kUnknownKey);
  // Keys offered by the token itself are never used.
  const std::string offered = R"(,"jwk":)" + jwk_of(attacker.get(), "k1") + R"(,"jku":"http://evil/jwks","x5u":"http://evil/c")";
  EXPECT_EQ(refused(verify_jws(token("RS256", attacker.get(), "k1", R"({"sub":"alice"})", offered), *set)),
            JwtError::kBadSignature);
  EXPECT_EQ(refused(verify_jws(good + ".", *set)), JwtError::kMalformed);
  EXPECT_EQ(refused(verify_jws(good + "A", *set)), JwtError::kBadSignature);  // one more octet's worth: wrong size
  EXPECT_EQ(refused(verify_jws(good + "=", *set)), JwtError::kMalformed);
  EXPECT_EQ(refused(verify_jws(" " + good, *set)), JwtError::kMalformed);
  std::string plus = good;
  plus[plus.find('_') != std::string::npos ? plus.find('_') : plus.find('-')] = '/';
  EXPECT_EQ(refused(verify_jws(plus, *set)), JwtError::kMalformed);
  // The psychic signature: r = s = 0.
  const std::string ec_input = unsigned_token(R"({"alg":"ES256","kid":"e1"})", R"({"sub":"alice"})");
  EXPECT_EQ(refused(verify_jws(ec_input + "." + encode_base64url(std::string(64, '\0')), *set)), JwtError::kBadSignature);
  EXPECT_EQ(refused(verify_jws(token("RS256", issuer.get(), "k1", "{}", R"(,"crit":["exp"],"exp":1)"), *set)),
            JwtError::kUnsupportedCritical);
  EXPECT_EQ(refused(verify_jws(token("RS256", issuer.get(), "k1", good, R"(,"cty":"JWT")"), *set)), JwtError::kBadHeader);
  EXPECT_EQ(refused(verify_jws(token("RS256", issuer.get(), "k1", "{}", R"(,"alg":"RS256")"), *set)), JwtError::kBadHeader);
  EXPECT_EQ(refused(verify_jws(token("RS256", issuer.get(), "k1", "{}", R"(,"kid":7)"), *set)), JwtError::kBadHeader);
  EXPECT_EQ(refused(verify_jws(std::string(16 * 1024 + 1, 'a'), *set)), JwtError::kTooLarge);
}

TEST(JwsTest, AKeySetIsRefusedWholeWhenAnythingInItIsDoubtful) {
  Key a = rsa();
  Key b = generate("EC", "P-256");
  EXPECT_NE(refusal(R"({"keys":[)" + jwk_of(a.get(), "x") + "," + jwk_of(b.get(), "x") + "]}").find("share the kid"),
            std::string::npos);
  std::string with_private = jwk_of(b.get(), "p");
  with_private.insert(with_private.size() - 1, R"(,"d":"AAAA")");
  EXPECT_NE(refusal(with_private).find("private key"), std::string::npos);
  const std::string oct = R"({"kty":"oct","kid":"s","k":")" + encode_base64url(std::string(32, 'k')) + "\"}";
  EXPECT_NE(refusal(R"({"keys":[)" + jwk_of(a.get(), "r") + "," + oct + "]}", JwksOptions{.allow_symmetric = true})
                .find("mixes"),
            std::string::npos);
  Key small(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024)), EVP_PKEY_free);
  EXPECT_NE(refusal(jwk_of(small.get(), "s")).find("under the minimum"), std::string::npos);
  std::string encryption = jwk_of(a.get(), "enc");
  encryption.insert(encryption.size() - 1, R"(,"use":"enc")");
  EXPECT_NE(refusal(encryption).find("no key for verifying"), std::string::npos);
  std::string bad_point = jwk_of(b.get(), "bad");
  bad_point.replace(bad_point.find(R"("y":")") + 5, 4, "AAAA");
  EXPECT_NE(refusal(bad_point).find("not a valid EC public key"), std::string::npos);
  // The key set's own alg must fit its type.
  EXPECT_NE(refusal(jwk_of(b.get(), "e", "RS256")).find("does not fit"), std::string::npos);
}

std::chrono::system_clock::time_point at(std::int64_t seconds) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
}

TEST(ClaimsTest, TimeIssuerAndAudienceAreCheckedWithTheLeeway) {
  ClaimRules rules{"https://idp", {"https://mcp.example/mcp"}, std::chrono::seconds(60), {"exp"}};
  const std::string good = R"({"iss":"https://idp","sub":"alice","aud":["x","https://mcp.example/mcp"],"exp":1000,"nbf":500,"iat":500})";
  auto claims = check_claims(good, rules, at(900));
  ASSERT_TRUE(std::holds_alternative<Claims>(claims));
  EXPECT_EQ(std::get<Claims>(claims).subject, "alice");
  EXPECT_EQ(std::get<Claims>(claims).expires_at, 1000);
  EXPECT_TRUE(std::holds_alternative<Claims>(check_claims(good, rules, at(1059))));  // within the leeway
  auto refused_at = [&](std::string_view payload, std::int64_t now) {
    auto outcome = check_claims(payload, rules, at(now));
    return std::holds_alternative<JwtError>(outcome) ? std::get<JwtError>(outcome) : JwtError::kMalformed;
  };
  EXPECT_EQ(refused_at(good, 1060), JwtError::kExpired);
  EXPECT_EQ(refused_at(good, 439), JwtError::kNotYetValid);
  EXPECT_EQ(refused_at(R"({"iss":"https://idp","aud":"https://mcp.example/mcp","exp":9999,"iat":2000})", 900),
            JwtError::kIssuedInFuture);
  EXPECT_EQ(refused_at(R"({"iss":"https://evil","aud":"https://mcp.example/mcp","exp":9999})", 900), JwtError::kWrongIssuer);
  EXPECT_EQ(refused_at(R"({"iss":"https://idp","aud":"https://other/mcp","exp":9999})", 900), JwtError::kWrongAudience);
  EXPECT_EQ(refused_at(R"({"iss":"https://idp","aud":["a","b"],"exp":9999})", 900), JwtError::kWrongAudience);
  EXPECT_EQ(refused_at(R"({"iss":"https://idp","aud":"https://mcp.example/mcp"})", 900), JwtError::kMissingClaim);
  EXPECT_EQ(refused_at(R"({"iss":"https://idp","aud":"https://mcp.example/mcp","exp":"9999"})", 900), JwtError::kBadClaims);
  EXPECT_EQ(refused_at(R"({"iss":"https://idp","aud":"https://mcp.example/mcp","exp":9999,"sub":"a","sub":"admin"})", 900),
            JwtError::kBadClaims);
  EXPECT_EQ(refused_at(R"(["not","an","object"])", 900), JwtError::kBadClaims);
}

}  // namespace
}  // namespace sandgate::jwt
