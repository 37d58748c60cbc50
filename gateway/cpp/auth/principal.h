#pragma once
// Who sent a request, as the authenticate stage established it; policy rules select on this.
#include <string>
#include <vector>

namespace sandgate::auth {

struct Principal {
  enum class Kind { kAnonymous, kApiKey, kToken };
  Kind kind = Kind::kAnonymous;
  std::string name = "anonymous";
  std::vector<std::string> groups;
};

}  // namespace sandgate::auth
