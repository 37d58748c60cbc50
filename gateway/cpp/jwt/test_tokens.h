#pragma once
// Test-only: keys generated on the spot, their public JWKs, and tokens signed with them, for the verifier's and
// the authenticator's tests. The gateway itself never signs.
#include <memory>
#include <string>
#include <string_view>

typedef struct evp_pkey_st EVP_PKEY;

namespace sandgate::jwt::testing {

using Key = std::shared_ptr<EVP_PKEY>;

// `type` "RSA" (2048 bits), "EC" with a curve ("P-256"), "ED25519".
Key generate(const char* type, const char* parameter = nullptr);
Key rsa();
// A big-endian parameter of `key` (OSSL_PKEY_PARAM_*), padded to `size` octets when given.
std::string bn_bytes(EVP_PKEY* key, const char* name, int size = 0);
// The public JWK of `key`, as an issuer publishes it.
std::string jwk_of(EVP_PKEY* key, std::string_view kid, std::string_view alg = "");
// The JWS signature of `input` (r||s for ECDSA).
std::string sign(std::string_view alg, EVP_PKEY* key, std::string_view input);
std::string hmac(std::string_view alg, std::string_view secret, std::string_view input);
std::string unsigned_token(std::string_view header, std::string_view payload);
std::string token(std::string_view alg, EVP_PKEY* key, std::string_view kid,
                  std::string_view payload = R"({"sub":"alice"})", std::string_view extra_header = "");

}  // namespace sandgate::jwt::testing
