#pragma once
// API keys: a request's `Authorization: Bearer <key>` or `X-API-Key: <key>` names a principal by the key's
// SHA-256, the only form a policy file holds; no credential, and the policy's anonymous rule decides.
#include <optional>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "auth/authenticate.h"

namespace sandgate::auth {

enum class AnonymousAccess { kLoopbackOnly, kAllow, kDeny };
std::optional<AnonymousAccess> parse_anonymous_access(std::string_view name);

struct ApiKey {
  std::string name;    // the key's name in logs, never the key
  std::string sha256;  // 64 lower-case hex digits
  std::string principal;
  std::vector<std::string> groups;
};

class ApiKeyAuthenticator final : public Authenticator {
 public:
  // Throws std::invalid_argument for a digest that is not 64 hex digits or listed twice.
  ApiKeyAuthenticator(const std::vector<ApiKey>& keys, AnonymousAccess anonymous);

  AuthOutcome authenticate(const mcp::RequestContext& context) const override;

 private:
  std::unordered_map<std::string, Principal> by_digest_;  // raw 32-byte digest → who
  AnonymousAccess anonymous_;
};

// Whether a request context's peer ("127.0.0.1:5", "[::1]:5", "[::ffff:127.0.0.1]:5", "stdio") is this machine.
bool peer_is_local(std::string_view peer);

}  // namespace sandgate::auth
