#include "auth/api_keys.h"

#include <openssl/sha.h>

#include "common/digest.h"

#include <stdexcept>

namespace sandgate::auth {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}


AuthFailure invalid() {
  return {AuthError::kInvalidCredentials, "Unauthorized: invalid credentials", R"(error="invalid_token")",
          "invalid_credentials"};
}

}  // namespace

std::optional<AnonymousAccess> parse_anonymous_access(std::string_view name) {
  if (name == "loopback-only") return AnonymousAccess::kLoopbackOnly;
  if (name == "allow") return AnonymousAccess::kAllow;
  if (name == "deny") return AnonymousAccess::kDeny;
  return std::nullopt;
}

ApiKeyAuthenticator::ApiKeyAuthenticator(const std::vector<ApiKey>& keys, AnonymousAccess anonymous)
    : anonymous_(anonymous) {
  for (const ApiKey& key : keys) {
    if (key.sha256.size() != 2 * SHA256_DIGEST_LENGTH) {
      throw std::invalid_argument("API key " + key.name + ": sha256 must be 64 hex digits");
    }
    std::string digest(SHA256_DIGEST_LENGTH, '\0');
    for (std::size_t i = 0; i < digest.size(); ++i) {
      const int high = hex_value(key.sha256[2 * i]);
      const int low = hex_value(key.sha256[2 * i + 1]);
      if (high < 0 || low < 0) throw std::invalid_argument("API key " + key.name + ": sha256 must be lower-case hex");
      digest[i] = static_cast<char>(high * 16 + low);
    }
    Principal principal{.kind = Principal::Kind::kApiKey, .name = key.principal, .groups = key.groups};
    if (!by_digest_.emplace(std::move(digest), std::move(principal)).second) {
      throw std::invalid_argument("API key " + key.name + ": the same key is listed twice");
    }
  }
}

AuthOutcome ApiKeyAuthenticator::authenticate(const mcp::RequestContext& context) const {
  std::optional<std::string_view> credential;
  if (context.headers != nullptr) {
    if (auto bearer = bearer_credential(*context.headers)) {
      if (bearer->empty()) return invalid();
      credential = *bearer;
    }
    if (auto api_key = context.headers->find("x-api-key")) {
      // Two different credentials in one request: refuse rather than pick one.
      if (credential && *credential != trim_ows(*api_key)) return invalid();
      credential = trim_ows(*api_key);
    }
  }
  if (credential) {
    if (credential->empty()) return invalid();
    // A digest-keyed lookup: what the timing of the map reveals is about SHA-256 outputs, not the key.
    auto found = by_digest_.find(sha256_digest(*credential));
    if (found == by_digest_.end()) return invalid();
    return found->second;
  }
  const bool local = context.transport == mcp::Transport::kStdio || peer_is_local(context.peer);
  if (anonymous_ == AnonymousAccess::kAllow || (anonymous_ == AnonymousAccess::kLoopbackOnly && local)) {
    return Principal{};
  }
  return AuthFailure{AuthError::kMissingCredentials, "Unauthorized: credentials required", "", "missing_credentials"};
}

bool peer_is_local(std::string_view peer) {
  if (peer == "stdio") return true;
  std::string_view host = mcp::peer_address(peer);
  if (host == "::1") return true;
  if (host.substr(0, 7) == "::ffff:") host.remove_prefix(7);  // IPv4-mapped, from a dual-stack listener
  return host.substr(0, 4) == "127.";
}

}  // namespace sandgate::auth
