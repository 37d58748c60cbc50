#include "jwt/provider.h"

#include <algorithm>

namespace sandgate::jwt {
namespace {

const json::value* at_path(const json::object& claims, std::string_view path) {
  const json::object* object = &claims;
  const json::value* value = nullptr;
  while (object != nullptr) {
    const std::size_t dot = path.find('.');
    value = object->if_contains(path.substr(0, dot));
    if (value == nullptr || dot == std::string_view::npos) return value;
    object = value->if_object();
    path.remove_prefix(dot + 1);
  }
  return nullptr;
}

void add_unique(std::vector<std::string>& out, std::string_view value) {
  if (!value.empty() && std::find(out.begin(), out.end(), value) == out.end()) out.emplace_back(value);
}

void add_strings(std::vector<std::string>& out, const json::value* value) {
  if (value == nullptr) return;
  if (const json::string* one = value->if_string()) return add_unique(out, *one);
  if (const json::array* many = value->if_array()) {
    for (const json::value& item : *many) {
      if (const json::string* text = item.if_string()) add_unique(out, *text);
    }
  }
}

}  // namespace

bool Provider::allows(Algorithm algorithm) const {
  return config_.algorithms.empty() ||
         std::find(config_.algorithms.begin(), config_.algorithms.end(), algorithm) != config_.algorithms.end();
}

auth::Principal Provider::principal(const Claims& claims) const { return principal_of(config_, claims); }

auth::Principal principal_of(const ProviderConfig& config, const Claims& claims) {
  auth::Principal principal;
  principal.kind = auth::Principal::Kind::kToken;
  principal.issuer = claims.issuer;
  principal.subject = claims.subject;
  for (std::string_view name : {"client_id", "azp"}) {
    const json::value* client = claims.all.if_contains(name);
    if (principal.client_id.empty() && client != nullptr && client->is_string()) principal.client_id = client->get_string();
  }
  principal.name = !claims.subject.empty() ? claims.subject : principal.client_id;
  for (const std::string& path : config.group_claims) add_strings(principal.groups, at_path(claims.all, path));
  if (const json::value* scope = claims.all.if_contains("scope"); scope != nullptr && scope->is_string()) {
    std::string_view text = scope->get_string();
    while (!text.empty()) {
      const std::size_t space = text.find(' ');
      add_unique(principal.scopes, text.substr(0, space));
      text.remove_prefix(space == std::string_view::npos ? text.size() : space + 1);
    }
  }
  add_strings(principal.scopes, claims.all.if_contains("scp"));
  return principal;
}

}  // namespace sandgate::jwt
