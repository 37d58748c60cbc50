#include "jwt/jws.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include <memory>

#include "common/json_text.h"
#include "jwt/base64url.h"
#include "jwt/claims.h"

namespace sandgate::jwt {
namespace {

// Fetched once: OpenSSL 3 looks an algorithm up by name (under a lock) on every init otherwise.
const EVP_MD* fetched(const char* name) {
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  static EVP_MD* const sha384 = EVP_MD_fetch(nullptr, "SHA384", nullptr);
  static EVP_MD* const sha512 = EVP_MD_fetch(nullptr, "SHA512", nullptr);
  const std::string_view wanted(name);
  return wanted == "SHA256" ? sha256 : wanted == "SHA384" ? sha384 : sha512;
}

const EVP_MD* digest_of(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::kRS256: case Algorithm::kPS256: case Algorithm::kES256: case Algorithm::kHS256: return fetched("SHA256");
    case Algorithm::kRS384: case Algorithm::kPS384: case Algorithm::kES384: case Algorithm::kHS384: return fetched("SHA384");
    case Algorithm::kRS512: case Algorithm::kPS512: case Algorithm::kES512: case Algorithm::kHS512: return fetched("SHA512");
    case Algorithm::kEdDSA: return nullptr;
  }
  return nullptr;
}

bool is_pss(Algorithm a) { return a == Algorithm::kPS256 || a == Algorithm::kPS384 || a == Algorithm::kPS512; }

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct SigFree {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};

const unsigned char* bytes(std::string_view text) { return reinterpret_cast<const unsigned char*>(text.data()); }

bool verify_with_key(Algorithm algorithm, EVP_PKEY* key, std::string_view input, std::string_view signature) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> context(EVP_MD_CTX_new());
  EVP_PKEY_CTX* key_context = nullptr;
  if (!context || EVP_DigestVerifyInit(context.get(), &key_context, digest_of(algorithm), nullptr, key) <= 0) {
    return false;
  }
  if (is_pss(algorithm) && (EVP_PKEY_CTX_set_rsa_padding(key_context, RSA_PKCS1_PSS_PADDING) <= 0 ||
                            EVP_PKEY_CTX_set_rsa_pss_saltlen(key_context, RSA_PSS_SALTLEN_DIGEST) <= 0 ||
                            EVP_PKEY_CTX_set_rsa_mgf1_md(key_context, digest_of(algorithm)) <= 0)) {
    return false;
  }
  return EVP_DigestVerify(context.get(), bytes(signature), signature.size(), bytes(input), input.size()) == 1;
}

// JWS carries r||s, each the curve's size; OpenSSL verifies DER. Zero is refused before OpenSSL sees it.
bool verify_ecdsa(Algorithm algorithm, EVP_PKEY* key, std::string_view input, std::string_view signature) {
  const std::size_t half = algorithm == Algorithm::kES256 ? 32 : algorithm == Algorithm::kES384 ? 48 : 66;
  if (signature.size() != 2 * half) return false;
  BIGNUM* r = BN_bin2bn(bytes(signature), static_cast<int>(half), nullptr);
  BIGNUM* s = BN_bin2bn(bytes(signature.substr(half)), static_cast<int>(half), nullptr);
  std::unique_ptr<ECDSA_SIG, SigFree> sig(ECDSA_SIG_new());
  if (r == nullptr || s == nullptr || !sig || BN_is_zero(r) || BN_is_zero(s) || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return false;
  }
  unsigned char* der = nullptr;
  const int der_size = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_size <= 0) return false;
  const std::string encoded(reinterpret_cast<const char*>(der), static_cast<std::size_t>(der_size));
  OPENSSL_free(der);
  return verify_with_key(algorithm, key, input, encoded);
}

bool verify_hmac(Algorithm algorithm, const std::string& secret, std::string_view input, std::string_view signature) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (HMAC(digest_of(algorithm), secret.data(), static_cast<int>(secret.size()), bytes(input), input.size(), mac, &size) == nullptr) {
    return false;
  }
  // Constant time: how much of a forged tag matched must not show in the timing.
  return signature.size() == size && CRYPTO_memcmp(mac, signature.data(), size) == 0;
}

}  // namespace

std::variant<Jws, JwtError> parse_jws(std::string_view token, const JwsLimits& limits) {
  if (token.size() > limits.max_token_bytes) return JwtError::kTooLarge;
  const std::size_t first = token.find('.');
  const std::size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) return JwtError::kMalformed;
  const std::string_view header_text = token.substr(0, first);
  const std::string_view payload_text = token.substr(first + 1, second - first - 1);
  const std::string_view signature_text = token.substr(second + 1);
  if (header_text.empty() || signature_text.empty()) return JwtError::kMalformed;
  std::optional<std::string> header_json = decode_base64url(header_text);
  std::optional<std::string> payload = decode_base64url(payload_text);
  std::optional<std::string> signature = decode_base64url(signature_text);
  if (!header_json || !payload || !signature) return JwtError::kMalformed;
  std::optional<json::object> header = json_object_once(*header_json);
  if (!header) return JwtError::kBadHeader;

  Jws jws;
  const json::value* alg = header->if_contains("alg");
  if (alg == nullptr || !alg->is_string()) return JwtError::kBadHeader;
  std::optional<Algorithm> algorithm = algorithm_named(alg->get_string());
  if (!algorithm) return JwtError::kUnsupportedAlgorithm;
  jws.algorithm = *algorithm;
  if (const json::value* kid = header->if_contains("kid"); kid != nullptr) {
    if (!kid->is_string()) return JwtError::kBadHeader;
    jws.kid = std::string(kid->get_string());
  }
  // No JWS extension is implemented, so any `crit` names one this verifier cannot honour (RFC 7515 4.1.11).
  if (header->contains("crit")) return JwtError::kUnsupportedCritical;
  if (const json::value* cty = header->if_contains("cty"); cty != nullptr) {
    if (!cty->is_string()) return JwtError::kBadHeader;
    std::string type(cty->get_string());
    for (char& c : type) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (type == "jwt" || type == "application/jwt") return JwtError::kBadHeader;  // a nested token
  }
  jws.header = std::move(*header);
  jws.payload = std::move(*payload);
  jws.signature = std::move(*signature);
  jws.signing_input = token.substr(0, second);
  return jws;
}

bool verify_signature(Algorithm algorithm, const Jwk& key, std::string_view signing_input, std::string_view signature) {
  if (!key.serves(algorithm)) return false;
  switch (key.type()) {
    case KeyType::kOct: return verify_hmac(algorithm, key.secret(), signing_input, signature);
    case KeyType::kEc: return verify_ecdsa(algorithm, key.public_key(), signing_input, signature);
    case KeyType::kOkp: return signature.size() == 64 && verify_with_key(algorithm, key.public_key(), signing_input, signature);
    case KeyType::kRsa:
      // Exactly the modulus's size: a signature with leading zeros dropped or added is another spelling.
      return signature.size() == static_cast<std::size_t>(EVP_PKEY_get_size(key.public_key())) &&
             verify_with_key(algorithm, key.public_key(), signing_input, signature);
  }
  return false;
}

std::optional<JwtError> verify_parsed(const Jws& jws, const Jwks& keys) {
  const std::vector<const Jwk*> candidates = keys.candidates(jws.kid, jws.algorithm);
  if (candidates.empty()) return JwtError::kUnknownKey;
  for (const Jwk* key : candidates) {
    if (verify_signature(jws.algorithm, *key, jws.signing_input, jws.signature)) return std::nullopt;
  }
  return JwtError::kBadSignature;
}

std::variant<Jws, JwtError> verify_jws(std::string_view token, const Jwks& keys, const JwsLimits& limits) {
  auto parsed = parse_jws(token, limits);
  if (std::holds_alternative<JwtError>(parsed)) return parsed;
  if (std::optional<JwtError> refused = verify_parsed(std::get<Jws>(parsed), keys)) return *refused;
  return parsed;
}

}  // namespace sandgate::jwt
