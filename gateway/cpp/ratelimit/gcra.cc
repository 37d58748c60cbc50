#include "ratelimit/gcra.h"

#include <algorithm>

namespace sandgate::ratelimit {
namespace {

using u128 = Uint128;

std::chrono::nanoseconds ceil_div(u128 scaled, std::uint64_t count) {
  return std::chrono::nanoseconds(static_cast<std::int64_t>((scaled + count - 1) / count));
}

}  // namespace

GcraTable::GcraTable(const Clock& clock, std::size_t max_keys, std::shared_ptr<metrics::Counters> counters)
    : clock_(clock),
      start_(clock.now()),
      max_per_shard_(std::max<std::size_t>(1, (max_keys + kShards - 1) / kShards)),
      counters_(std::move(counters)) {}

std::uint64_t GcraTable::now_ns() const {
  const auto elapsed = clock_.now() - start_;
  return static_cast<std::uint64_t>(std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()));
}

GcraDecision GcraTable::take(std::string_view key, const Rate& rate) {
  const std::uint64_t count = std::max<std::uint64_t>(1, rate.count);
  const std::uint64_t burst = std::max<std::uint64_t>(1, rate.burst);
  // Everything in ns scaled by `count`: one emission interval is exactly `period`, with no rounding.
  const u128 interval = static_cast<u128>(std::max<std::int64_t>(1, rate.period.count()));
  const u128 tolerance = interval * (burst - 1);
  Shard& shard = shards_[NameHash{}(key) % kShards];
  std::lock_guard lock(shard.mutex);
  const u128 now = static_cast<u128>(now_ns()) * count;

  auto found = shard.entries.find(key);
  if (found == shard.entries.end() || found->second.count != count) {
    if (found == shard.entries.end()) {
      if (shard.entries.size() >= max_per_shard_) {
        auto oldest = shard.entries.find(shard.lru.back());
        // Scaled by its own count: compare against now in that scale.
        if (oldest->second.tat > static_cast<u128>(now_ns()) * oldest->second.count) {
          counters_->add(metrics::Counter::kRateLimitKeysEvictedEarly);
        }
        counters_->add(metrics::Counter::kRateLimitKeysEvicted);
        shard.entries.erase(oldest);
        shard.lru.pop_back();
      }
      shard.lru.emplace_front(key);
      found = shard.entries.emplace(std::string(key), Entry{now, count, shard.lru.begin()}).first;
    } else {
      found->second = Entry{now, count, found->second.lru};
    }
  }
  Entry& entry = found->second;
  shard.lru.splice(shard.lru.begin(), shard.lru, entry.lru);

  const u128 tat = std::max(entry.tat, now);
  GcraDecision decision;
  if (tat - now > tolerance) {
    decision.retry_after = ceil_div(tat - now - tolerance, count);
    decision.reset = ceil_div(tat - now, count);
    return decision;
  }
  entry.tat = tat + interval;
  decision.admitted = true;
  const u128 used = entry.tat - now;  // of the bucket's capacity, tolerance + interval
  decision.remaining = static_cast<std::uint64_t>((tolerance + interval - used) / interval);
  decision.reset = ceil_div(used, count);
  return decision;
}

std::size_t GcraTable::size() const {
  std::size_t total = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total += shard.entries.size();
  }
  return total;
}

}  // namespace sandgate::ratelimit
