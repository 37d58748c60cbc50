#include "mcp/in_flight.h"

namespace sandgate::mcp {

std::string InFlight::key_of(std::string_view scope, const json::value& id) {
  // The id's JSON text tells 1 from "1"; the newline cannot occur in a scope.
  std::string key(scope);
  key.push_back('\n');
  key.append(json::serialize(id));
  return key;
}

InFlight::Entry InFlight::start(std::string_view scope, const json::value& id, const std::shared_ptr<CancelToken>& token) {
  Entry entry{key_of(scope, id), token};
  std::lock_guard lock(mutex_);
  running_[entry.key] = token;
  return entry;
}

void InFlight::finish(const Entry& entry) {
  const std::shared_ptr<CancelToken> mine = entry.token.lock();
  std::lock_guard lock(mutex_);
  auto it = running_.find(entry.key);
  if (it == running_.end()) return;
  const std::shared_ptr<CancelToken> current = it->second.lock();
  // Expired entries go too: their request is over whoever it was.
  if (current == nullptr || current == mine) running_.erase(it);
}

bool InFlight::cancel(std::string_view scope, const json::value& id) {
  std::shared_ptr<CancelToken> token;
  {
    std::lock_guard lock(mutex_);
    auto it = running_.find(key_of(scope, id));
    if (it != running_.end()) token = it->second.lock();
  }
  if (token == nullptr) return false;
  token->cancel();
  return true;
}

std::size_t InFlight::size() const {
  std::lock_guard lock(mutex_);
  return running_.size();
}

}  // namespace sandgate::mcp
