#include "auth/authenticate.h"

namespace sandgate::auth {

mcp::Fault to_fault(const AuthFailure& failure) {
  if (failure.error == AuthError::kUnavailable) {
    mcp::Fault busy{mcp::Failure::kServerBusy, failure.message};
    busy.detail.retry_after_s = 1;
    return busy;
  }
  mcp::Fault fault{mcp::Failure::kUnauthenticated, failure.message};
  fault.detail.challenge = failure.challenge;
  return fault;
}

std::string_view auth_error_name(AuthError error) {
  switch (error) {
    case AuthError::kMissingCredentials: return "missing_credentials";
    case AuthError::kInvalidCredentials: return "invalid_credentials";
    case AuthError::kUnavailable: return "unavailable";
  }
  return "unknown";
}

std::string_view trim_ows(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::optional<std::string_view> bearer_credential(const mcp::Headers& headers) {
  std::optional<std::string_view> authorization = headers.find("authorization");
  if (!authorization) return std::nullopt;
  const std::string_view value = trim_ows(*authorization);
  const std::size_t space = value.find(' ');
  constexpr std::string_view kScheme = "bearer";
  if (space != kScheme.size()) return std::string_view();
  for (std::size_t i = 0; i < space; ++i) {
    const char c = value[i] >= 'A' && value[i] <= 'Z' ? static_cast<char>(value[i] + 32) : value[i];
    if (c != kScheme[i]) return std::string_view();
  }
  return trim_ows(value.substr(space + 1));
}

}  // namespace sandgate::auth
