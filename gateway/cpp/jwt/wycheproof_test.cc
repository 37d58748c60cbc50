// Wycheproof vectors (../shared/testvectors/wycheproof) through the verifier: the JWS and JWK suites via
// verify_jws, the primitive suites (ECDSA P-256/P-384 in r||s form, Ed25519, RSA PKCS#1 v1.5 and PSS, HMAC)
// via verify_signature. Every "valid"/"invalid" verdict must match except the exceptions below, each with its
// reason; an exception whose verdict in fact matches fails the test, so the table stays true.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "common/json.h"
#include "jwt/base64url.h"
#include "jwt/jws.h"

namespace sandgate::jwt {
namespace {

struct Exception {
  std::string_view file;
  int tc_id;
  std::string_view why;
};

// Where our verdict differs from Wycheproof's on purpose. The one "acceptable" vector, rsa_signature_2048_sha256
// tc 8 (a PKCS#1 v1.5 DigestInfo without its NULL parameter), is refused: OpenSSL's strict encoding, which we keep.
constexpr Exception kExceptions[] = {
    {"json_web_signature_test.json", 372,
     "a '?' inside the header's base64url: our decoding is strict (one spelling per token), so it is refused"},
    {"json_web_signature_test.json", 373,
     "a '?' inside the payload's base64url: refused by strict decoding, as above"},
    {"json_web_signature_test.json", 346,
     "RFC 7520 Figure 20: a PS384 token under a key whose own alg is PS256; a key serves only its alg"},
    {"json_web_signature_test.json", 350, "the same PS384 token under the PS256 key, as tc 346"},
    {"json_web_signature_test.json", 347,
     "RFC 7520 Figure 27: the key names alg \"ES521\", no JOSE algorithm, so the key is not used"},
    {"json_web_signature_test.json", 351, "the same ES512 token under the \"ES521\" key, as tc 347"},
    {"json_web_signature_test.json", 367,
     "the token is byte for byte tc 357's (valid, same key): the padding defect is not in this copy"},
    {"json_web_signature_test.json", 370, "byte for byte tc 357's token, as tc 367"},
};

json::value load(std::string_view file) {
  std::ifstream in(std::string(SANDGATE_WYCHEPROOF_DIR) + "/" + std::string(file));
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

std::string unhex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

int tc_id(const json::value& test) {
  const json::value& id = test.at("tcId");
  return id.is_string() ? std::stoi(std::string(id.get_string())) : static_cast<int>(id.to_number<int>());
}

class Verdicts {
 public:
  explicit Verdicts(std::string_view file) : file_(file) {}

  void expect(const json::value& test, bool accepted) {
    const int id = tc_id(test);
    const std::string_view result = test.at("result").get_string();
    const bool excepted = is_exception(id);
    if (result == "acceptable") {
      ++acceptable_;
      std::cout << file_ << " tc " << id << " acceptable (" << test.at("comment").get_string() << "): "
                << (accepted ? "accepted" : "refused") << "\n";
      return;
    }
    const bool matches = accepted == (result == "valid");
    if (excepted) {
      ++exceptions_;
      EXPECT_FALSE(matches) << file_ << " tc " << id << " is listed as an exception but matches: drop it";
      return;
    }
    if (matches) {
      ++matched_;
    } else {
      ADD_FAILURE() << file_ << " tc " << id << " (" << test.at("comment").get_string() << "): expected " << result
                    << ", " << (accepted ? "accepted" : "refused");
    }
  }

  ~Verdicts() {
    std::cout << file_ << ": " << matched_ << " matched, " << exceptions_ << " exceptions, " << acceptable_
              << " acceptable\n";
    EXPECT_GT(matched_, 0) << file_;
  }

 private:
  bool is_exception(int id) const {
    for (const Exception& e : kExceptions) {
      if (e.file == file_ && e.tc_id == id) return true;
    }
    return false;
  }

  std::string_view file_;
  int matched_ = 0, exceptions_ = 0, acceptable_ = 0;
};

std::shared_ptr<const Jwks> key_set(const json::value& keys) {
  const std::string text = keys.is_object() && keys.as_object().contains("keys")
                               ? json::serialize(keys)
                               : R"({"keys":[)" + json::serialize(keys) + "]}";
  JwksOptions options;
  options.allow_symmetric = text.find(R"("oct")") != std::string::npos;
  auto parsed = Jwks::parse(text, options);
  auto* set = std::get_if<std::shared_ptr<const Jwks>>(&parsed);
  return set ? *set : nullptr;
}

void run_jose(std::string_view file) {
  Verdicts verdicts(file);
  const json::value document = load(file);  // kept: the loop reads into it
  for (const json::value& group : document.at("testGroups").as_array()) {
    const json::object& g = group.as_object();
    // The public half where there is one; symmetric groups carry only the shared secret.
    const json::value* keys = g.if_contains("public");
    if (keys == nullptr) keys = g.if_contains("private");
    std::shared_ptr<const Jwks> set = keys ? key_set(*keys) : nullptr;
    for (const json::value& test : g.at("tests").as_array()) {
      const bool accepted = set != nullptr && std::holds_alternative<Jws>(verify_jws(test.at("jws").get_string(), *set));
      verdicts.expect(test, accepted);
    }
  }
}

void run_primitive(std::string_view file, Algorithm algorithm, std::string_view jwk_member) {
  Verdicts verdicts(file);
  const json::value document = load(file);
  int without_jwk = 0;
  for (const json::value& group : document.at("testGroups").as_array()) {
    // Groups whose key has no JWK form (an encoding only DER or PEM can carry) test nothing a JWS can reach.
    if (!group.as_object().contains(jwk_member)) {
      without_jwk += static_cast<int>(group.at("tests").as_array().size());
      continue;
    }
    std::shared_ptr<const Jwks> set = key_set(group.at(jwk_member));
    ASSERT_NE(set, nullptr) << file;
    const Jwk& key = set->keys().front();
    for (const json::value& test : group.at("tests").as_array()) {
      verdicts.expect(test, verify_signature(algorithm, key, unhex(test.at("msg").get_string()),
                                             unhex(test.at("sig").get_string())));
    }
  }
  if (without_jwk > 0) std::cout << file << ": " << without_jwk << " tests of keys with no JWK form skipped\n";
}

TEST(WycheproofTest, JsonWebSignatures) { run_jose("json_web_signature_test.json"); }
TEST(WycheproofTest, JsonWebKeys) { run_jose("json_web_key_test.json"); }
TEST(WycheproofTest, EcdsaP256) { run_primitive("ecdsa_secp256r1_sha256_p1363_test.json", Algorithm::kES256, "publicKeyJwk"); }
TEST(WycheproofTest, EcdsaP384) { run_primitive("ecdsa_secp384r1_sha384_p1363_test.json", Algorithm::kES384, "publicKeyJwk"); }
TEST(WycheproofTest, Ed25519) { run_primitive("ed25519_test.json", Algorithm::kEdDSA, "publicKeyJwk"); }
TEST(WycheproofTest, RsaPkcs1) { run_primitive("rsa_signature_2048_sha256_test.json", Algorithm::kRS256, "keyJwk"); }
TEST(WycheproofTest, RsaPss) { run_primitive("rsa_pss_2048_sha256_mgf1_32_test.json", Algorithm::kPS256, "publicKeyJwk"); }

TEST(WycheproofTest, HmacSha256FullTags) {
  Verdicts verdicts("hmac_sha256_test.json");
  const json::value document = load("hmac_sha256_test.json");
  for (const json::value& group : document.at("testGroups").as_array()) {
    // A JWS HS256 tag is the whole MAC, and its key at least 32 octets: only those groups mean anything here.
    if (group.at("tagSize").to_number<int>() != 256 || group.at("keySize").to_number<int>() < 256) continue;
    for (const json::value& test : group.at("tests").as_array()) {
      const std::string secret = unhex(test.at("key").get_string());
      auto set = key_set(json::parse(R"({"kty":"oct","k":")" + encode_base64url(secret) + "\"}"));
      ASSERT_NE(set, nullptr);
      verdicts.expect(test, verify_signature(Algorithm::kHS256, set->keys().front(), unhex(test.at("msg").get_string()),
                                             unhex(test.at("tag").get_string())));
    }
  }
}

}  // namespace
}  // namespace sandgate::jwt
