#include "jwt/errors.h"

namespace sandgate::jwt {

std::string_view jwt_error_code(JwtError error) {
  switch (error) {
    case JwtError::kMalformed: return "malformed";
    case JwtError::kTooLarge: return "too_large";
    case JwtError::kBadHeader: return "bad_header";
    case JwtError::kUnsupportedAlgorithm: return "unsupported_algorithm";
    case JwtError::kUnsupportedCritical: return "unsupported_critical_header";
    case JwtError::kUnknownKey: return "unknown_key";
    case JwtError::kBadSignature: return "bad_signature";
    case JwtError::kBadClaims: return "bad_claims";
    case JwtError::kMissingClaim: return "missing_claim";
    case JwtError::kExpired: return "expired";
    case JwtError::kNotYetValid: return "not_yet_valid";
    case JwtError::kIssuedInFuture: return "issued_in_future";
    case JwtError::kWrongIssuer: return "wrong_issuer";
    case JwtError::kWrongAudience: return "wrong_audience";
  }
  return "malformed";
}

}  // namespace sandgate::jwt
