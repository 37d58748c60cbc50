#pragma once
// Tokens already verified, keyed by the SHA-256 of the token: a token seen again costs a hash and a lookup
// until its `exp`. Bounded (the least recently used entry makes room), counted, time from an injected clock.
// Cleared whenever keys or providers change, so a removed key stops admitting at once.
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/principal.h"
#include "common/clock.h"
#include "metrics/counters.h"

namespace sandgate::jwt {

class TokenCache {
 public:
  TokenCache(const WallClock& clock, std::size_t max_entries, std::shared_ptr<metrics::Counters> counters);

  // The principal a still-valid cached token stands for; null when absent or expired.
  std::shared_ptr<const auth::Principal> find(std::string_view token);
  void insert(std::string_view token, std::shared_ptr<const auth::Principal> principal, WallClock::time_point expires_at);
  void clear();
  std::size_t size() const;

 private:
  struct Entry {
    std::string digest;
    std::shared_ptr<const auth::Principal> principal;
    WallClock::time_point expires_at;
  };

  const WallClock& clock_;
  const std::size_t max_entries_;
  std::shared_ptr<metrics::Counters> counters_;
  mutable std::mutex mutex_;
  std::list<Entry> recency_;  // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> by_digest_;
};

}  // namespace sandgate::jwt
