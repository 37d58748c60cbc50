#include "jwt/token_cache.h"

#include "common/digest.h"

namespace sandgate::jwt {

TokenCache::TokenCache(const WallClock& clock, std::size_t max_entries, std::shared_ptr<metrics::Counters> counters)
    : clock_(clock), max_entries_(max_entries), counters_(std::move(counters)) {}

std::shared_ptr<const auth::Principal> TokenCache::find(std::string_view token) {
  if (max_entries_ == 0) return nullptr;
  const std::string digest = sha256_digest(token);
  std::lock_guard lock(mutex_);
  auto found = by_digest_.find(digest);
  if (found == by_digest_.end()) return nullptr;
  if (clock_.now() >= found->second->expires_at) {
    recency_.erase(found->second);
    by_digest_.erase(found);
    return nullptr;
  }
  recency_.splice(recency_.begin(), recency_, found->second);
  counters_->add(metrics::Counter::kTokenCacheHits);
  return found->second->principal;
}

void TokenCache::insert(std::string_view token, std::shared_ptr<const auth::Principal> principal,
                        WallClock::time_point expires_at) {
  if (max_entries_ == 0 || clock_.now() >= expires_at) return;
  std::string digest = sha256_digest(token);
  std::lock_guard lock(mutex_);
  if (auto found = by_digest_.find(digest); found != by_digest_.end()) {
    recency_.erase(found->second);
    by_digest_.erase(found);
  }
  while (by_digest_.size() >= max_entries_) {
    by_digest_.erase(recency_.back().digest);
    recency_.pop_back();
    counters_->add(metrics::Counter::kTokenCacheEvictions);
  }
  recency_.push_front(Entry{digest, std::move(principal), expires_at});
  by_digest_.emplace(std::move(digest), recency_.begin());
}

void TokenCache::clear() {
  std::lock_guard lock(mutex_);
  by_digest_.clear();
  recency_.clear();
}

std::size_t TokenCache::size() const {
  std::lock_guard lock(mutex_);
  return by_digest_.size();
}

}  // namespace sandgate::jwt
