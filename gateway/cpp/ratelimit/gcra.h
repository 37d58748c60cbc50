#pragma once
// Generic cell rate algorithm over a bounded table of keys: exact under concurrency, time from an injected clock.
// A rate of `count` per `period` with `burst` admits the burst at once, then one request every period/count.
#include <array>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"
#include "metrics/counters.h"

namespace sandgate::ratelimit {

// 128 bits: a tat scaled by a rate's count cannot overflow for any configurable rate.
__extension__ using Uint128 = unsigned __int128;

struct Rate {
  std::uint64_t count = 1;                 // requests...
  std::chrono::nanoseconds period{std::chrono::seconds(1)};  // ...per this long
  std::uint64_t burst = 1;                 // admitted at once from a full bucket; at least 1
};

struct GcraDecision {
  bool admitted = false;
  std::chrono::nanoseconds retry_after{0};  // refused: exactly when the next request would be admitted
  std::uint64_t remaining = 0;              // requests that would still be admitted now, after this one
  std::chrono::nanoseconds reset{0};        // until the bucket is full again
};

class GcraTable {
 public:
  // At most `max_keys` keys are remembered; the least recently used goes first (counted: a key forgotten before
  // its bucket refilled gets a fresh burst, so the bound is a memory bound that errs towards admitting).
  GcraTable(const Clock& clock, std::size_t max_keys, std::shared_ptr<metrics::Counters> counters);

  // Thread-safe; an admitted request is spent.
  GcraDecision take(std::string_view key, const Rate& rate);
  std::size_t size() const;

 private:
  static constexpr std::size_t kShards = 16;
  struct Entry {
    Uint128 tat;  // theoretical arrival time, in ns since the table's start, scaled by the rate's count
    std::uint64_t count;    // the scale `tat` is in: a changed rate starts the key afresh
    std::list<std::string>::iterator lru;
  };
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Entry, NameHash, std::equal_to<>> entries;
    std::list<std::string> lru;  // most recently used first
  };
  std::uint64_t now_ns() const;

  const Clock& clock_;
  const Clock::time_point start_;
  const std::size_t max_per_shard_;
  std::shared_ptr<metrics::Counters> counters_;
  std::array<Shard, kShards> shards_;
};

}  // namespace sandgate::ratelimit
