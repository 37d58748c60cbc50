#include "jwt/jwk.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <array>
#include <set>
#include <utility>

#include "common/json_text.h"
#include "jwt/base64url.h"

namespace sandgate::jwt {
namespace {

struct AlgorithmName {
  Algorithm algorithm;
  std::string_view name;
};

constexpr std::array<AlgorithmName, 13> kAlgorithms{{
    {Algorithm::kRS256, "RS256"}, {Algorithm::kRS384, "RS384"}, {Algorithm::kRS512, "RS512"},
    {Algorithm::kPS256, "PS256"}, {Algorithm::kPS384, "PS384"}, {Algorithm::kPS512, "PS512"},
    {Algorithm::kES256, "ES256"}, {Algorithm::kES384, "ES384"}, {Algorithm::kES512, "ES512"},
    {Algorithm::kEdDSA, "EdDSA"}, {Algorithm::kHS256, "HS256"}, {Algorithm::kHS384, "HS384"},
    {Algorithm::kHS512, "HS512"},
}};

// Private parameters of RSA, EC and OKP keys: a key set that carries them is a leaked secret, not a set to trust.
constexpr std::array<std::string_view, 7> kPrivateMembers{"d", "p", "q", "dp", "dq", "qi", "oth"};

struct BnFree {
  void operator()(BIGNUM* n) const { BN_free(n); }
};
struct BldFree {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};

std::shared_ptr<EVP_PKEY> owned(EVP_PKEY* key) { return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free); }

const json::string* string_member(const json::object& object, std::string_view name) {
  const json::value* value = object.if_contains(name);
  return value ? value->if_string() : nullptr;
}

// A required base64url member, decoded; throws the set's error when absent or badly encoded.
std::string bytes_member(const json::object& object, std::string_view name, const std::string& owner) {
  const json::string* text = string_member(object, name);
  if (text == nullptr) throw std::invalid_argument(owner + ": '" + std::string(name) + "' is missing");
  std::optional<std::string> bytes = decode_base64url(*text);
  if (!bytes || bytes->empty()) throw std::invalid_argument(owner + ": '" + std::string(name) + "' is not base64url");
  return std::move(*bytes);
}

std::shared_ptr<EVP_PKEY> from_params(const char* type, OSSL_PARAM_BLD* builder, const std::string& owner) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(builder));
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> context(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !context || EVP_PKEY_fromdata_init(context.get()) <= 0 ||
      EVP_PKEY_fromdata(context.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0 || key == nullptr) {
    throw std::invalid_argument(owner + ": not a valid " + type + " public key");
  }
  std::shared_ptr<EVP_PKEY> result = owned(key);
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> check(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) <= 0) {
    throw std::invalid_argument(owner + ": not a valid " + type + " public key");
  }
  return result;
}

// ROCA (CVE-2017-15361): a modulus from the flawed Infineon generator is a power of 65537 modulo each of these
// primes; a sound modulus is, for all of them at once, with negligible probability.
bool roca_fingerprint(const BIGNUM* modulus) {
  static constexpr unsigned kPrimes[] = {3,  5,  7,  11, 13, 17, 19, 23,  29,  31,  37,  41,  43,  47,  53,  59,  61,  67,  71,
                                         73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167};
  for (unsigned prime : kPrimes) {
    const BN_ULONG residue = BN_mod_word(modulus, prime);
    const unsigned generator = 65537 % prime;
    unsigned power = 1;
    bool in_subgroup = false;
    do {
      in_subgroup = in_subgroup || power == residue;
      power = power * generator % prime;
    } while (power != 1);
    if (!in_subgroup) return false;
  }
  return true;
}

std::shared_ptr<EVP_PKEY> rsa_key(const json::object& object, const JwksOptions& options, const std::string& owner) {
  const std::string n = bytes_member(object, "n", owner);
  const std::string e = bytes_member(object, "e", owner);
  // RFC 7518 6.3.1: the minimum number of octets, so one modulus has one spelling.
  if (n.front() == '\0' || e.front() == '\0') throw std::invalid_argument(owner + ": n or e has a leading zero octet");
  std::unique_ptr<BIGNUM, BnFree> modulus(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()),
                                                   static_cast<int>(n.size()), nullptr));
  std::unique_ptr<BIGNUM, BnFree> exponent(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()),
                                                    static_cast<int>(e.size()), nullptr));
  if (!modulus || !exponent) throw std::invalid_argument(owner + ": n or e cannot be read");
  if (static_cast<std::size_t>(BN_num_bits(modulus.get())) < options.min_rsa_bits) {
    throw std::invalid_argument(owner + ": an RSA modulus of " + std::to_string(BN_num_bits(modulus.get())) +
                                " bits, under the minimum of " + std::to_string(options.min_rsa_bits));
  }
  if (roca_fingerprint(modulus.get())) {
    throw std::invalid_argument(owner + ": the RSA modulus has the ROCA fingerprint (CVE-2017-15361): its key is recoverable");
  }
  if (!BN_is_odd(exponent.get()) || BN_num_bits(exponent.get()) < 2 || BN_num_bits(exponent.get()) > 64) {
    throw std::invalid_argument(owner + ": the RSA public exponent must be odd, at least 3 and at most 64 bits");
  }
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> builder(OSSL_PARAM_BLD_new());
  if (!builder || !OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, modulus.get()) ||
      !OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, exponent.get())) {
    throw std::invalid_argument(owner + ": cannot build the RSA key");
  }
  return from_params("RSA", builder.get(), owner);
}

struct Curve {
  std::string_view jose;
  const char* openssl;
  std::size_t coordinate_bytes;
};
constexpr std::array<Curve, 3> kCurves{{{"P-256", "prime256v1", 32}, {"P-384", "secp384r1", 48}, {"P-521", "secp521r1", 66}}};

std::shared_ptr<EVP_PKEY> ec_key(const json::object& object, std::string_view curve_name, const std::string& owner) {
  const Curve* curve = nullptr;
  for (const Curve& known : kCurves) curve = known.jose == curve_name ? &known : curve;
  if (curve == nullptr) return nullptr;
  const std::string x = bytes_member(object, "x", owner);
  const std::string y = bytes_member(object, "y", owner);
  // RFC 7518 6.2.1.2: each coordinate is the full size of the field, leading zeros kept.
  if (x.size() != curve->coordinate_bytes || y.size() != curve->coordinate_bytes) {
    throw std::invalid_argument(owner + ": x and y must each be " + std::to_string(curve->coordinate_bytes) + " octets");
  }
  const std::string point = std::string(1, '\x04') + x + y;
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> builder(OSSL_PARAM_BLD_new());
  if (!builder || !OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve->openssl, 0) ||
      !OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size())) {
    throw std::invalid_argument(owner + ": cannot build the EC key");
  }
  return from_params("EC", builder.get(), owner);
}

std::shared_ptr<EVP_PKEY> okp_key(const json::object& object, std::string_view curve_name, const std::string& owner) {
  if (curve_name != "Ed25519") return nullptr;
  const std::string x = bytes_member(object, "x", owner);
  if (x.size() != 32) throw std::invalid_argument(owner + ": an Ed25519 key is 32 octets");
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                              reinterpret_cast<const unsigned char*>(x.data()), x.size());
  if (key == nullptr) throw std::invalid_argument(owner + ": not a valid Ed25519 public key");
  return owned(key);
}

bool is_rsa(Algorithm a) {
  return a == Algorithm::kRS256 || a == Algorithm::kRS384 || a == Algorithm::kRS512 || a == Algorithm::kPS256 ||
         a == Algorithm::kPS384 || a == Algorithm::kPS512;
}

std::size_t hmac_bytes(Algorithm a) {
  return a == Algorithm::kHS256 ? 32 : a == Algorithm::kHS384 ? 48 : a == Algorithm::kHS512 ? 64 : 0;
}

}  // namespace

std::optional<Algorithm> algorithm_named(std::string_view name) {
  for (const AlgorithmName& known : kAlgorithms) {
    if (known.name == name) return known.algorithm;
  }
  return std::nullopt;
}

std::string_view algorithm_name(Algorithm algorithm) {
  for (const AlgorithmName& known : kAlgorithms) {
    if (known.algorithm == algorithm) return known.name;
  }
  return "";
}

bool Jwk::serves(Algorithm algorithm) const {
  if (algorithm_ && *algorithm_ != algorithm) return false;
  switch (type_) {
    case KeyType::kRsa: return is_rsa(algorithm);
    case KeyType::kEc:
      return (algorithm == Algorithm::kES256 && curve_ == "P-256") ||
             (algorithm == Algorithm::kES384 && curve_ == "P-384") ||
             (algorithm == Algorithm::kES512 && curve_ == "P-521");
    case KeyType::kOkp: return algorithm == Algorithm::kEdDSA && curve_ == "Ed25519";
    case KeyType::kOct: return hmac_bytes(algorithm) != 0 && secret_.size() >= hmac_bytes(algorithm);
  }
  return false;
}

// Reads one JWK object into a Jwk; nullopt for a key that is not for verifying signatures or of a kind this
// verifier does not implement. Throws std::invalid_argument for a key that is malformed or refused.
struct JwkReader {
  static std::optional<Jwk> read(const json::object& object, const JwksOptions& options, const std::string& owner) {
    if (const json::value* use = object.if_contains("use"); use != nullptr && (!use->is_string() || use->get_string() != "sig")) {
      return std::nullopt;
    }
    if (const json::value* ops = object.if_contains("key_ops"); ops != nullptr) {
      const json::array* list = ops->if_array();
      if (list == nullptr) throw std::invalid_argument(owner + ": key_ops must be an array");
      if (std::none_of(list->begin(), list->end(), [](const json::value& op) { return op == "verify"; })) return std::nullopt;
    }
    Jwk key;
    if (const json::value* kid = object.if_contains("kid"); kid != nullptr) {
      if (!kid->is_string()) throw std::invalid_argument(owner + ": kid must be a string");
      key.kid_ = std::string(kid->get_string());
    }
    if (const json::value* alg = object.if_contains("alg"); alg != nullptr) {
      if (!alg->is_string()) throw std::invalid_argument(owner + ": alg must be a string");
      key.algorithm_ = algorithm_named(alg->get_string());
      if (!key.algorithm_) return std::nullopt;  // a key for an algorithm this verifier never accepts
    }
    const json::string* kty = string_member(object, "kty");
    if (kty == nullptr) throw std::invalid_argument(owner + ": kty is missing");
    if (*kty != "oct") {
      for (std::string_view name : kPrivateMembers) {
        if (object.contains(name)) throw std::invalid_argument(owner + ": the set holds a private key ('" + std::string(name) + "')");
      }
    }
    const json::string* curve = string_member(object, "crv");
    if (curve != nullptr) key.curve_ = std::string(*curve);
    if (*kty == "RSA") {
      key.type_ = KeyType::kRsa;
      key.key_ = rsa_key(object, options, owner);
    } else if (*kty == "EC") {
      key.type_ = KeyType::kEc;
      key.key_ = ec_key(object, key.curve_, owner);
      if (!key.key_) return std::nullopt;
    } else if (*kty == "OKP") {
      key.type_ = KeyType::kOkp;
      key.key_ = okp_key(object, key.curve_, owner);
      if (!key.key_) return std::nullopt;
    } else if (*kty == "oct") {
      if (!options.allow_symmetric) throw std::invalid_argument(owner + ": a symmetric key where only public keys are accepted");
      key.type_ = KeyType::kOct;
      key.secret_ = bytes_member(object, "k", owner);
      if (key.secret_.size() < options.min_secret_bytes) {
        throw std::invalid_argument(owner + ": a symmetric key shorter than " + std::to_string(options.min_secret_bytes) + " octets");
      }
      // RFC 7518 3.2: an HMAC key is at least as long as the hash's output.
      if (key.algorithm_ && hmac_bytes(*key.algorithm_) > key.secret_.size()) {
        throw std::invalid_argument(owner + ": a symmetric key shorter than the " +
                                    std::to_string(hmac_bytes(*key.algorithm_)) + " octets its alg " +
                                    std::string(algorithm_name(*key.algorithm_)) + " needs");
      }
    } else {
      return std::nullopt;
    }
    if (key.algorithm_ && !key.serves(*key.algorithm_)) {
      throw std::invalid_argument(owner + ": its alg " + std::string(algorithm_name(*key.algorithm_)) + " does not fit its key type");
    }
    return key;
  }
};

std::variant<std::shared_ptr<const Jwks>, std::string> Jwks::parse(std::string_view json_text, const JwksOptions& options) {
  JsonLimits limits;
  limits.max_depth = 8;
  limits.max_string_bytes = 64 * 1024;
  limits.max_members = 1000;
  auto parsed = parse_json_text(json_text, limits);
  if (auto* error = std::get_if<JsonParseError>(&parsed)) return "the key set is not JSON: " + error->message;
  const json::object* root = std::get<json::value>(parsed).if_object();
  if (root == nullptr) return std::string("the key set is not a JSON object");
  std::vector<const json::object*> entries;
  if (const json::value* keys = root->if_contains("keys")) {
    const json::array* list = keys->if_array();
    if (list == nullptr) return std::string("'keys' is not an array");
    for (const json::value& entry : *list) {
      if (!entry.is_object()) return std::string("'keys' holds something that is not a key object");
      entries.push_back(&entry.get_object());
    }
  } else {
    entries.push_back(root);
  }
  auto jwks = std::make_shared<Jwks>();
  std::set<std::string> kids;
  try {
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const std::string owner = "key " + std::to_string(i);
      std::optional<Jwk> key = JwkReader::read(*entries[i], options, owner);
      if (!key) continue;
      if (!key->kid().empty() && !kids.insert(key->kid()).second) {
        return "two keys share the kid '" + key->kid() + "'";
      }
      jwks->keys_.push_back(std::move(*key));
    }
  } catch (const std::invalid_argument& error) {
    return std::string(error.what());
  }
  if (jwks->keys_.empty()) return std::string("the set holds no key for verifying signatures");
  const bool symmetric = jwks->keys_.front().type() == KeyType::kOct;
  for (const Jwk& key : jwks->keys_) {
    if ((key.type() == KeyType::kOct) != symmetric) return std::string("the set mixes symmetric and public keys");
  }
  return std::shared_ptr<const Jwks>(std::move(jwks));
}

std::vector<const Jwk*> Jwks::candidates(const std::optional<std::string>& kid, Algorithm algorithm) const {
  std::vector<const Jwk*> found;
  for (const Jwk& key : keys_) {
    if (kid && key.kid() != *kid) continue;
    if (key.serves(algorithm)) found.push_back(&key);
  }
  return found;
}

}  // namespace sandgate::jwt
