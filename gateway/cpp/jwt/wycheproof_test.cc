// Wycheproof vectors (../shared/testvectors/wycheproof) through the verifier: the JWS and JWK suites via
// verify_jws, the primitive suites (ECDSA P-256/P-384 in r||s form, Ed25519, RSA PKCS#1 v1.5 and PSS, HMAC)
// via verify_signature. Every "valid"/"invalid" verdict must match unless kListed names the vector with a reason,
// and every "acceptable" vector must be listed there too; a listed vector whose verdict in fact matches, or that
// no file holds, fails the test, so the table stays true.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <variant>

#include "common/json.h"
#include "jwt/base64url.h"
#include "jwt/errors.h"
#include "jwt/jwk.h"
#include "jwt/jws.h"

namespace sandgate::jwt {
namespace {

struct Listed {
  std::string_view file;
  int tc_id;
  std::string_view why;
};

constexpr std::string_view kJws = "json_web_signature_test.json";
constexpr std::string_view kHmac = "hmac_sha256_test.json";
constexpr std::string_view kRsa = "rsa_signature_2048_sha256_test.json";

// The one table: vectors whose "valid"/"invalid" verdict we differ from on purpose, and every "acceptable" vector
// with the verdict we give it.
constexpr Listed kListed[] = {
    {kJws, 372, "'?' inside the header's base64url: strict decoding (one spelling per token) refuses it"},
    {kJws, 373, "'?' inside the payload's base64url: refused by strict decoding, as tc 372"},
    {kJws, 346, "RFC 7520 Figure 20, a PS384 token, under a key whose own alg is PS256: a key serves only its alg"},
    {kJws, 350, "the same PS384 token under the PS256 key (key_ops form), as tc 346"},
    {kJws, 347, "RFC 7520 Figure 27's key names alg \"ES521\", no JOSE algorithm: the key is left out, the set is empty"},
    {kJws, 351, "the same ES512 token under the \"ES521\" key (key_ops form), as tc 347"},
    {kJws, 367, "'invalidBase64Padding' is byte for byte tc 357's valid token under the same key: no defect to refuse"},
    {kJws, 370, "'invalidBase64PaddingInPayload' is byte for byte tc 357's token too, as tc 367"},
    {kHmac, 163, "a 16-octet HS256 key: Jwks refuses secrets under JwksOptions::min_secret_bytes (32, RFC 7518 3.2)"},
    {kHmac, 164, "a 16-octet HS256 key, refused at load as tc 163"},
    {kHmac, 165, "a 16-octet HS256 key, refused at load as tc 163"},
    {kRsa, 8, "acceptable: DigestInfo without its NULL parameter; refused, OpenSSL matches the one DER encoding"},
};

const Listed* listed(std::string_view file, int tc_id) {
  for (const Listed& entry : kListed) {
    if (entry.file == file && entry.tc_id == tc_id) return &entry;
  }
  return nullptr;
}

json::value load(std::string_view file) {
  const std::string path = std::string(SANDGATE_WYCHEPROOF_DIR) + "/" + std::string(file);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

std::string from_hex(std::string_view hex) {
  auto nibble = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::invalid_argument("not hex: " + std::string(hex));
  };
  if (hex.size() % 2 != 0) throw std::invalid_argument("odd-length hex: " + std::string(hex));
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) out.push_back(static_cast<char>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  return out;
}

std::string hex_member(const json::value& test, std::string_view name) { return from_hex(test.at(name).as_string()); }

// Counts one file's verdicts against Wycheproof's and the table; report() checks the table's entries for the file.
class Verdicts {
 public:
  explicit Verdicts(std::string_view file) : file_(file) {}

  void expect(const json::value& test, bool accepted, std::string_view detail) {
    const int id = test.at("tcId").to_number<int>();
    const std::string_view result = test.at("result").as_string();
    const Listed* entry = listed(file_, id);
    if (entry != nullptr) ++seen_listed_;
    const std::string where = std::string(file_) + " tc " + std::to_string(id) + " (" +
                              std::string(test.at("comment").as_string()) + ")";
    const std::string got = std::string(accepted ? "accepted" : "refused") + " [" + std::string(detail) + "]";
    if (result == "acceptable") {
      ++acceptable_;
      std::cout << where << " acceptable: " << got << "\n";
      EXPECT_NE(entry, nullptr) << where << " is acceptable, " << got << ": list it in kListed with the reason";
      return;
    }
    ASSERT_TRUE(result == "valid" || result == "invalid") << where << ": result " << result;
    const bool matches = accepted == (result == "valid");
    if (entry != nullptr) {
      ++exceptions_;
      EXPECT_FALSE(matches) << where << " is listed (" << entry->why << ") but matches: drop it from kListed";
    } else if (matches) {
      ++matched_;
    } else {
      ADD_FAILURE() << where << ": expected " << result << ", " << got;
    }
  }

  // A group whose key did not load: its tests count as refused, and the reason is shown.
  void key_refused(const json::value& group, std::string_view why) {
    ++groups_without_key_;
    std::cout << file_ << " group of tc " << group.at("tests").as_array().front().at("tcId").to_number<int>()
              << "..: key refused (" << why << ")\n";
  }

  void report() {
    int entries = 0;
    for (const Listed& entry : kListed) entries += entry.file == file_ ? 1 : 0;
    EXPECT_EQ(seen_listed_, entries) << file_ << ": kListed names a tcId this file does not hold";
    EXPECT_GT(matched_, 0) << file_;
    std::cout << file_ << ": " << matched_ << " matched, " << exceptions_ << " exceptions, " << acceptable_
              << " acceptable; " << groups_without_key_ << " groups' keys refused at load\n";
    testing::Test::RecordProperty("matched", matched_);
    testing::Test::RecordProperty("exceptions", exceptions_);
    testing::Test::RecordProperty("acceptable", acceptable_);
  }

 private:
  std::string_view file_;
  int matched_ = 0, exceptions_ = 0, acceptable_ = 0, seen_listed_ = 0, groups_without_key_ = 0;
};

// `keys`: {"keys": [...]} or one key object, wrapped into a set; `oct` keys are allowed when the set holds one.
std::variant<std::shared_ptr<const Jwks>, std::string> key_set(const json::value& keys) {
  json::object set;
  if (keys.is_object() && keys.as_object().contains("keys")) {
    set = keys.as_object();
  } else {
    set["keys"] = json::array{keys};
  }
  JwksOptions options;
  if (const json::array* list = set["keys"].if_array()) {
    for (const json::value& key : *list) {
      const json::object* object = key.if_object();
      const json::value* kty = object ? object->if_contains("kty") : nullptr;
      options.allow_symmetric = options.allow_symmetric || (kty != nullptr && *kty == "oct");
    }
  }
  return Jwks::parse(json::serialize(set), options);
}

// JWS and JWK suites: the group's public half when it has one; groups with none (symmetric keys) carry the set
// in "private". A private asymmetric key there is refused by Jwks, as it must be.
void run_jose(std::string_view file) {
  Verdicts verdicts(file);
  const json::value document = load(file);
  for (const json::value& group : document.at("testGroups").as_array()) {
    const json::object& g = group.as_object();
    const json::value* keys = g.contains("public") ? g.if_contains("public") : g.if_contains("private");
    std::shared_ptr<const Jwks> set;
    if (keys == nullptr) {
      verdicts.key_refused(group, "the group carries no key");
    } else {
      auto loaded = key_set(*keys);
      if (auto* why = std::get_if<std::string>(&loaded)) {
        verdicts.key_refused(group, *why);
      } else {
        set = std::get<std::shared_ptr<const Jwks>>(loaded);
      }
    }
    for (const json::value& test : g.at("tests").as_array()) {
      if (set == nullptr) {
        verdicts.expect(test, false, "no key set");
        continue;
      }
      const auto outcome = verify_jws(test.at("jws").as_string(), *set);
      const JwtError* error = std::get_if<JwtError>(&outcome);
      verdicts.expect(test, error == nullptr, error ? jwt_error_code(*error) : "verified");
    }
  }
  verdicts.report();
}

// An EC public key as a JWK from Wycheproof's coordinates (hex, leading zeros dropped or a sign octet added),
// for the groups the file gives no JWK: each coordinate padded to the field's size as RFC 7518 6.2.1.2 requires.
json::value ec_jwk(const json::object& public_key) {
  const std::string_view curve = public_key.at("curve").as_string();
  const std::size_t size = curve == "secp256r1" ? 32 : curve == "secp384r1" ? 48 : 0;
  if (size == 0) throw std::invalid_argument("unexpected curve " + std::string(curve));
  auto coordinate = [&](std::string_view name) {
    std::string bytes = from_hex(public_key.at(name).as_string());
    bytes.erase(0, bytes.find_first_not_of('\0') == std::string::npos ? bytes.size() : bytes.find_first_not_of('\0'));
    if (bytes.size() > size) throw std::invalid_argument("coordinate longer than the field");
    return encode_base64url(std::string(size - bytes.size(), '\0') + bytes);
  };
  return json::object{{"kty", "EC"}, {"crv", size == 32 ? "P-256" : "P-384"}, {"x", coordinate("wx")}, {"y", coordinate("wy")}};
}

void run_primitive(std::string_view file, Algorithm algorithm, std::string_view jwk_member) {
  Verdicts verdicts(file);
  const json::value document = load(file);
  int built = 0;
  for (const json::value& group : document.at("testGroups").as_array()) {
    const json::object& g = group.as_object();
    json::value jwk;
    if (const json::value* given = g.if_contains(jwk_member)) {
      jwk = *given;
    } else {
      ASSERT_TRUE(algorithm == Algorithm::kES256 || algorithm == Algorithm::kES384) << file << ": a group without "
                                                                                      << jwk_member;
      jwk = ec_jwk(g.at("publicKey").as_object());
      built += static_cast<int>(g.at("tests").as_array().size());
    }
    auto loaded = key_set(jwk);
    const std::string* why = std::get_if<std::string>(&loaded);
    if (why != nullptr) verdicts.key_refused(group, *why);
    for (const json::value& test : g.at("tests").as_array()) {
      if (why != nullptr) {
        verdicts.expect(test, false, "no key");
        continue;
      }
      const Jwks& set = *std::get<std::shared_ptr<const Jwks>>(loaded);
      ASSERT_EQ(set.keys().size(), 1u) << file;
      const bool accepted =
          verify_signature(algorithm, set.keys().front(), hex_member(test, "msg"), hex_member(test, "sig"));
      verdicts.expect(test, accepted, accepted ? "verified" : "verify_signature false");
    }
  }
  if (built > 0) std::cout << file << ": " << built << " tests under JWKs built from publicKey (the file gives none)\n";
  verdicts.report();
}

TEST(WycheproofTest, JsonWebSignatures) { run_jose(kJws); }
TEST(WycheproofTest, JsonWebKeys) { run_jose("json_web_key_test.json"); }
TEST(WycheproofTest, EcdsaP256) { run_primitive("ecdsa_secp256r1_sha256_p1363_test.json", Algorithm::kES256, "publicKeyJwk"); }
TEST(WycheproofTest, EcdsaP384) { run_primitive("ecdsa_secp384r1_sha384_p1363_test.json", Algorithm::kES384, "publicKeyJwk"); }
TEST(WycheproofTest, Ed25519) { run_primitive("ed25519_test.json", Algorithm::kEdDSA, "publicKeyJwk"); }
TEST(WycheproofTest, RsaPkcs1) { run_primitive(kRsa, Algorithm::kRS256, "keyJwk"); }
TEST(WycheproofTest, RsaPss) { run_primitive("rsa_pss_2048_sha256_mgf1_32_test.json", Algorithm::kPS256, "publicKeyJwk"); }

TEST(WycheproofTest, HmacSha256FullTags) {
  Verdicts verdicts(kHmac);
  const json::value document = load(kHmac);
  for (const json::value& group : document.at("testGroups").as_array()) {
    // A JWS HS256 tag is the whole MAC: truncated-tag groups test nothing a token can carry.
    if (group.at("tagSize").to_number<int>() != 256) continue;
    for (const json::value& test : group.at("tests").as_array()) {
      auto loaded = key_set(json::object{{"kty", "oct"}, {"k", encode_base64url(hex_member(test, "key"))}});
      if (auto* why = std::get_if<std::string>(&loaded)) {
        verdicts.expect(test, false, *why);
        continue;
      }
      const Jwk& key = std::get<std::shared_ptr<const Jwks>>(loaded)->keys().front();
      const bool accepted = verify_signature(Algorithm::kHS256, key, hex_member(test, "msg"), hex_member(test, "tag"));
      verdicts.expect(test, accepted, accepted ? "verified" : "verify_signature false");
    }
  }
  verdicts.report();
}

}  // namespace
}  // namespace sandgate::jwt
