#pragma once
// A verified JWS payload read as JWT claims (RFC 7519) and checked against one issuer's rules: the issuer,
// the audience (this server's resource URI, RFC 8707), the time claims with a leeway, and required claims.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/json.h"
#include "jwt/errors.h"

namespace sandgate::jwt {

struct ClaimRules {
  std::string issuer;                  // `iss` must equal it; empty: not checked
  std::vector<std::string> audiences;  // `aud` (a string or an array) must name one of them; empty: not checked
  std::chrono::seconds leeway{60};     // for exp, nbf and iat: clocks of issuer and gateway disagree a little
  std::vector<std::string> required{"exp"};
};

struct Claims {
  std::string issuer;
  std::string subject;
  std::vector<std::string> audiences;
  std::optional<std::int64_t> expires_at;  // seconds since the epoch, rounded down
  json::object all;                        // every claim, for selectors over groups, roles and scopes
};

// `payload` is the verified JWS's payload; `now` the injected clock's reading.
std::variant<Claims, JwtError> check_claims(std::string_view payload, const ClaimRules& rules,
                                            std::chrono::system_clock::time_point now);

// The payload as a JSON object with each claim once; nullopt otherwise. Shared with the header's check.
std::optional<json::object> json_object_once(std::string_view text);

}  // namespace sandgate::jwt
