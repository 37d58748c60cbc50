#pragma once
// Why a bearer token was refused: stable reason codes for the client's error, the audit log and the tests.
#include <string_view>

namespace sandgate::jwt {

enum class JwtError {
  kMalformed,             // not a compact JWS: three strict base64url parts, a JSON object header
  kTooLarge,              // longer than the configured bound, refused before any decoding
  kBadHeader,             // header names repeated, alg or kid of the wrong type, a nested token (cty JWT)
  kUnsupportedAlgorithm,  // "none", an unknown name, or one the configuration does not allow
  kUnsupportedCritical,   // `crit` lists an extension this verifier does not implement
  kUnknownKey,            // no key of the issuer's set serves this kid and algorithm
  kBadSignature,
  kBadClaims,             // the payload is not a JSON object, names a claim twice, or a claim has the wrong type
  kMissingClaim,          // a required claim (exp, by default) is absent
  kExpired,
  kNotYetValid,           // nbf in the future, beyond the leeway
  kIssuedInFuture,        // iat in the future, beyond the leeway
  kWrongIssuer,
  kWrongAudience,
};

// snake_case: "bad_signature", "expired", ...
std::string_view jwt_error_code(JwtError error);

}  // namespace sandgate::jwt
