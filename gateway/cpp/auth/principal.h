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

}  // namespace sandgate::auth
