#include "auth/authenticate.h"

namespace sandgate::auth {

mcp::Fault to_fault(const AuthFailure& failure) {
  mcp::Fault fault{mcp::Failure::kUnauthenticated, failure.message};
  fault.detail.challenge = failure.challenge;
  return fault;
}

std::string_view auth_error_name(AuthError error) {
  switch (error) {
    case AuthError::kMissingCredentials: return "missing_credentials";
    case AuthError::kInvalidCredentials: return "invalid_credentials";
  }
  return "unknown";
}

}  // namespace sandgate::auth
