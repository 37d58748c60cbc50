#include "jwt/test_tokens.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "jwt/base64url.h"

namespace sandgate::jwt::testing {

Key generate(const char* type, const char* parameter) {
  EVP_PKEY* key = parameter == nullptr ? EVP_PKEY_Q_keygen(nullptr, nullptr, type)
                  : std::string_view(type) == "RSA" ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, static_cast<size_t>(2048))
                                                    : EVP_PKEY_Q_keygen(nullptr, nullptr, type, parameter);
  return Key(key, EVP_PKEY_free);
}

Key rsa() { return generate("RSA", "2048"); }

std::string bn_bytes(EVP_PKEY* key, const char* name, int size) {
  BIGNUM* n = nullptr;
  EVP_PKEY_get_bn_param(key, name, &n);
  std::string out(size ? static_cast<std::size_t>(size) : static_cast<std::size_t>(BN_num_bytes(n)), '\0');
  if (size) BN_bn2binpad(n, reinterpret_cast<unsigned char*>(out.data()), size);
  else BN_bn2bin(n, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(n);
  return out;
}

// The public JWK of `key`, as an issuer publishes it.
std::string jwk_of(EVP_PKEY* key, std::string_view kid, std::string_view alg) {
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

namespace {

const EVP_MD* md(std::string_view alg) {
  return alg.ends_with("256") ? EVP_sha256() : alg.ends_with("384") ? EVP_sha384() : EVP_sha512();
}

}  // namespace

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

std::string token(std::string_view alg, EVP_PKEY* key, std::string_view kid, std::string_view payload,
                  std::string_view extra_header) {
  const std::string header = R"({"alg":")" + std::string(alg) + R"(","kid":")" + std::string(kid) + "\"" +
                             std::string(extra_header) + "}";
  const std::string input = unsigned_token(header, payload);
  return input + "." + encode_base64url(sign(alg, key, input));
}

}  // namespace sandgate::jwt::testing
