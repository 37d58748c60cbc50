#include "jwt/jws.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include <memory>
#include <string>

#include "jwt/base64url.h"
#include "jwt/claims.h"

namespace sandgate::jwt {
namespace {

using Key = std::shared_ptr<EVP_PKEY>;

Key generate(const char* type, const char* parameter = nullptr) {
  EVP_PKEY* key = parameter == nullptr ? EVP_PKEY_Q_keygen(nullptr, nullptr, type)
                  : std::string_view(type) == "RSA" ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, static_cast<size_t>(2048))
                                                    : EVP_PKEY_Q_keygen(nullptr, nullptr, type, parameter);
  return Key(key, EVP_PKEY_free);
}

Key rsa() { return generate("RSA", "2048"); }

std::string bn_bytes(EVP_PKEY* key, const char* name, int size = 0) {
  BIGNUM* n = nullptr;
  EVP_PKEY_get_bn_param(key, name, &n);
  std::string out(size ? static_cast<std::size_t>(size) : static_cast<std::size_t>(BN_num_bytes(n)), '\0');
  if (size) BN_bn2binpad(n, reinterpret_cast<unsigned char*>(out.data()), size);
  else BN_bn2bin(n, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(n);
  return out;
}

// The public JWK of `key`, as an issuer publishes it.
std::string jwk_of(EVP_PKEY* key, std::string_view kid, std::string_view alg = "") {
  std::string members = R"("kid":")" + std::string(kid) + "\"";
  if (!alg.empty()) members += R"(,"alg":")" + std::string(alg) + "\"";
  if (EVP_PKEY_is_a(key, "RSA")) {
    return R"({"kty":"RSA","n":")" + encode_base64url(bn_bytes(key, OSSL_PKEY_PARAM_RSA_N)) + R"(","e":")" +
           encode_base64url(bn_bytes(key, OSSL_PKEY_PARAM_RSA_E)) + "\"," + members + "}";
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    const int size = (EVP_PKEY_get_bits(key) + 7) / 8;
    const char* crv = size == 32 ? "P-256" : size == 48 ? "P-384" : "P-521";
    return R"({"kty":"EC","crv":")" + std::string(crv) + R"(","x":")" +
           encode_base64url(bn_bytes(key, OSSL_PKEY_PARAM_EC_PUB_X, size)) + R"(","y":")" +
           encode_base64url(bn_bytes(key, OSSL_PKEY_PARAM_EC_PUB_Y, size)) + "\"," + members + "}";
  }
  std::string raw(32, '\0');
  std::size_t length = raw.size();
  EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &length);
  return R"({"kty":"OKP","crv":"Ed25519","x":")" + encode_base64url(raw) + "\"," + members + "}";
}

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

const EVP_MD* md(std::string_view alg) {
  return alg.ends_with("256") ? EVP_sha256() : alg.ends_with("384") ? EVP_sha384() : EVP_sha512();
}

std::string sign(std::string_view alg, EVP_PKEY* key, std::string_view input) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* key_context = nullptr;
  EVP_DigestSignInit(context.get(), &key_context, alg == "EdDSA" ? nullptr : md(alg), nullptr, key);
  if (alg.starts_with("PS")) {
    EVP_PKEY_CTX_set_rsa_padding(key_context, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(key_context, RSA_PSS_SALTLEN_DIGEST);
  }
  std::size_t size = 0;
  EVP_DigestSign(context.get(), nullptr, &size, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  std::string signature(size, '\0');
  EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  signature.resize(size);
  if (!alg.starts_with("ES")) return signature;
  // DER to the r||s of JWS.
  const unsigned char* der = reinterpret_cast<const unsigned char*>(signature.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(signature.size()));
  const int half = (EVP_PKEY_get_bits(key) + 7) / 8;
  std::string raw(static_cast<std::size_t>(2 * half), '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), half);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + half, half);
  ECDSA_SIG_free(sig);
  return raw;
}

std::string hmac(std::string_view alg, std::string_view secret, std::string_view input) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(md(alg), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(input.data()),
       input.size(), mac, &size);
  return std::string(reinterpret_cast<const char*>(mac), size);
}

std::string unsigned_token(std::string_view header, std::string_view payload) {
  return encode_base64url(header) + "." + encode_base64url(payload);
}

std::string token(std::string_view alg, EVP_PKEY* key, std::string_view kid, std::string_view payload = R"({"sub":"alice"})",
                  std::string_view extra_header = "") {
  const std::string header = R"({"alg":")" + std::string(alg) + R"(","kid":")" + std::string(kid) + "\"" +
                             std::string(extra_header) + "}";
  const std::string input = unsigned_token(header, payload);
  return input + "." + encode_base64url(sign(alg, key, input));
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
