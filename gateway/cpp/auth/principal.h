#pragma once
// Who sent a request, as the authenticate stage established it; policy rules select on this.
#include <string>
#include <vector>

namespace sandgate::auth {

struct Principal {
  enum class Kind { kAnonymous, kApiKey, kToken };
  Kind kind = Kind::kAnonymous;
  std::string name = "anonymous";
  std::vector<std::string> groups{};
  // A verified token's: who issued it, its subject and client, and its scopes (`scope` and `scp` as one list).
  std::string issuer{};
  std::string subject{};
  std::string client_id{};
  std::vector<std::string> scopes{};
};

// Who a principal is, as one string: equal for two requests of the same caller, whatever the credential's copy
// (a refreshed token, the same API key). Anonymous callers are all one. What a legacy session is bound to.
inline std::string identity_of(const Principal& principal) {
  switch (principal.kind) {
    case Principal::Kind::kToken:
      return "token\n" + principal.issuer + "\n" + principal.subject + "\n" + principal.client_id + "\n" + principal.name;
    case Principal::Kind::kApiKey: return "key\n" + principal.name;
    case Principal::Kind::kAnonymous: break;
  }
  return "anonymous";
}

}  // namespace sandgate::auth
