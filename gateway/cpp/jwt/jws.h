#pragma once
// A compact JWS (RFC 7515) taken apart and checked before any key is touched: size bound first, exactly three
// strict base64url parts, a JSON object header with each name once, a supported `alg`, `crit` honoured.
// Header fields that point at keys (`jku`, `x5u`, `jwk`, `x5c`) are never followed: keys come from configuration.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/json.h"
#include "jwt/errors.h"
#include "jwt/jwk.h"

namespace sandgate::jwt {

struct JwsLimits {
  std::size_t max_token_bytes = 16 * 1024;
};

struct Jws {
  Algorithm algorithm = Algorithm::kRS256;
  std::optional<std::string> kid;
  json::object header;
  std::string payload;             // decoded bytes (a JWT's claims, when it is one)
  std::string signature;           // decoded bytes
  std::string_view signing_input;  // `header.payload` as sent: a view into the token
};

std::variant<Jws, JwtError> parse_jws(std::string_view token, const JwsLimits& limits = {});

// Whether `signature` is `key`'s signature of `signing_input` under `algorithm`; false when the key does not
// serve the algorithm. ECDSA signatures are the fixed-size r||s of RFC 7518 3.4, nothing else.
bool verify_signature(Algorithm algorithm, const Jwk& key, std::string_view signing_input, std::string_view signature);

// The signature of a parsed token by one of `keys`' candidates; why not, when it is not.
std::optional<JwtError> verify_parsed(const Jws& jws, const Jwks& keys);
// parse_jws, then verify_parsed: the token, or why it was refused.
std::variant<Jws, JwtError> verify_jws(std::string_view token, const Jwks& keys, const JwsLimits& limits = {});

}  // namespace sandgate::jwt
