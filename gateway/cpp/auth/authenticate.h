#pragma once
// The authenticate stage: who sent a delivery. Everyone is anonymous until API keys and tokens fill it.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "auth/principal.h"
#include "mcp/errors.h"
#include "mcp/request_context.h"

namespace sandgate::auth {

enum class AuthError {
  kMissingCredentials,
  kInvalidCredentials,
  kUnavailable,  // the credential's issuer could not be asked: 503, the client may retry
};

struct AuthFailure {
  AuthError error;
  std::string message;    // for the client: never a credential or a key's name
  std::string challenge;  // WWW-Authenticate auth-params, e.g. error="invalid_token"
  std::string_view reason{};  // a stable code for metrics and the audit log (a literal); empty: the error's name
};

// The credential can only be judged with an answer from elsewhere (an opaque token's introspection): `wait`
// registers `resume`, called once that answer is known (then authenticating again decides at once), on the thread
// that learned it; false when too many lookups are already waiting (answer 503, nothing was registered).
struct AuthPending {
  std::function<bool(std::function<void()> resume)> wait;
};

using AuthOutcome = std::variant<Principal, AuthFailure, AuthPending>;

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // Thread-safe; reads only the context's transport facts (headers, peer), never its principal.
  virtual AuthOutcome authenticate(const mcp::RequestContext& context) const = 0;
};

class AnonymousAuthenticator final : public Authenticator {
 public:
  AuthOutcome authenticate(const mcp::RequestContext&) const override { return Principal{}; }
};

mcp::Fault to_fault(const AuthFailure& failure);

// The credential of `Authorization: Bearer <credential>` (scheme case-insensitive): nullopt without the header,
// an empty view for a header that holds no Bearer credential (refused as invalid, never read as anonymous).
std::optional<std::string_view> bearer_credential(const mcp::Headers& headers);
// `text` without leading and trailing spaces and tabs (HTTP's optional whitespace).
std::string_view trim_ows(std::string_view text);
std::string_view auth_error_name(AuthError error);

}  // namespace sandgate::auth
