#pragma once
// Requests running under a scope (a legacy session, a stdio connection), by id, for `notifications/cancelled`.
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/json.h"
#include "mcp/dispatcher.h"

namespace sandgate::mcp {

class InFlight {
 public:
  // What `finish` needs to forget exactly this request.
  struct Entry {
    std::string key;
    std::weak_ptr<CancelToken> token;
  };

  // A reused id is taken over by the newest request: only it can be cancelled by that id from then on.
  Entry start(std::string_view scope, const json::value& id, const std::shared_ptr<CancelToken>& token);
  // Forgets the entry unless a newer request with the same id took it over.
  void finish(const Entry& entry);
  // Cancels the request running under `scope` with `id`; false when there is none.
  bool cancel(std::string_view scope, const json::value& id);
  std::size_t size() const;

 private:
  static std::string key_of(std::string_view scope, const json::value& id);
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::weak_ptr<CancelToken>> running_;
};

}  // namespace sandgate::mcp
