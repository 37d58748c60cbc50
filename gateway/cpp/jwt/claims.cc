#include "jwt/claims.h"

#include <cmath>

#include "common/json_text.h"

namespace sandgate::jwt {
namespace {

// A NumericDate (RFC 7519 2): seconds since the epoch, possibly fractional; nullopt for anything else.
std::optional<double> numeric_date(const json::value& value) {
  if (value.is_int64()) return static_cast<double>(value.get_int64());
  if (value.is_uint64()) return static_cast<double>(value.get_uint64());
  if (value.is_double() && std::isfinite(value.get_double())) return value.get_double();
  return std::nullopt;
}

}  // namespace

std::optional<json::object> json_object_once(std::string_view text) {
  JsonLimits limits;
  limits.max_depth = 16;
  limits.max_string_bytes = 16 * 1024;
  limits.max_members = 1000;
  auto parsed = parse_json_text(text, limits);
  if (std::holds_alternative<JsonParseError>(parsed)) return std::nullopt;
  json::object* object = std::get<json::value>(parsed).if_object();
  if (object == nullptr) return std::nullopt;
  // The tree keeps the last of a repeated name: fewer members than written means a name came twice.
  if (raw_members(trim_json(text)).size() != object->size()) return std::nullopt;
  return std::move(*object);
}

std::variant<Claims, JwtError> check_claims(std::string_view payload, const ClaimRules& rules,
                                            std::chrono::system_clock::time_point now) {
  std::optional<json::object> object = json_object_once(payload);
  if (!object) return JwtError::kBadClaims;
  for (const std::string& name : rules.required) {
    if (!object->contains(name)) return JwtError::kMissingClaim;
  }
  Claims claims;
  const double at = std::chrono::duration<double>(now.time_since_epoch()).count();
  const double leeway = static_cast<double>(rules.leeway.count());
  std::optional<double> expires, not_before, issued;
  for (auto [name, target] : {std::pair{"exp", &expires}, {"nbf", &not_before}, {"iat", &issued}}) {
    if (const json::value* value = object->if_contains(name)) {
      *target = numeric_date(*value);
      if (!*target) return JwtError::kBadClaims;
    }
  }
  if (expires && at >= *expires + leeway) return JwtError::kExpired;
  if (not_before && at + leeway < *not_before) return JwtError::kNotYetValid;
  if (issued && at + leeway < *issued) return JwtError::kIssuedInFuture;
  if (expires) claims.expires_at = static_cast<std::int64_t>(std::floor(*expires));

  if (const json::value* iss = object->if_contains("iss")) {
    if (!iss->is_string()) return JwtError::kBadClaims;
    claims.issuer = std::string(iss->get_string());
  }
  if (!rules.issuer.empty() && claims.issuer != rules.issuer) return JwtError::kWrongIssuer;
  if (const json::value* sub = object->if_contains("sub")) {
    if (!sub->is_string()) return JwtError::kBadClaims;
    claims.subject = std::string(sub->get_string());
  }
  if (const json::value* aud = object->if_contains("aud")) {
    if (aud->is_string()) {
      claims.audiences.emplace_back(aud->get_string());
    } else if (const json::array* list = aud->if_array()) {
      for (const json::value& item : *list) {
        if (!item.is_string()) return JwtError::kBadClaims;
        claims.audiences.emplace_back(item.get_string());
      }
    } else {
      return JwtError::kBadClaims;
    }
  }
  if (!rules.audiences.empty()) {
    bool ours = false;
    for (const std::string& audience : claims.audiences) {
      for (const std::string& wanted : rules.audiences) ours = ours || audience == wanted;
    }
    if (!ours) return JwtError::kWrongAudience;
  }
  claims.all = std::move(*object);
  return claims;
}

}  // namespace sandgate::jwt
