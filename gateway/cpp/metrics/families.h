#pragma once
// The labelled metric families of the request path: fixed arrays of relaxed atomics indexed by bounded label
// values, so recording takes no lock. A label value is never raw client input: methods, statuses, reasons and
// outcomes come from fixed lists, tool names from the catalog, rate-limit names from the policy, syscall names
// from the kernel's table; anything else is counted as "other". Python's collector reads a snapshot per scrape.
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sandgate::metrics {

inline constexpr std::string_view kOther = "other";

// Upper bounds in seconds: 100 µs to 60 s, then +Inf.
inline constexpr std::array<double, 18> kDurationBuckets{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                        0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60};

class Histogram {
 public:
  void observe(std::chrono::nanoseconds value);
  struct Snapshot {
    std::array<std::uint64_t, kDurationBuckets.size() + 1> cumulative{};  // the last is +Inf: the count
    double sum_s = 0;
  };
  Snapshot snapshot() const;

 private:
  std::array<std::atomic<std::uint64_t>, kDurationBuckets.size() + 1> buckets_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

// Label values known before they are counted: a fixed list (a label's whole domain), or names added as the server
// learns them (tools at start, rate limits at each policy load), up to a capacity. Lookups take no lock; adding
// takes one. Index `capacity()` is "other".
class Labels {
 public:
  explicit Labels(std::size_t capacity, std::vector<std::string_view> fixed = {});
  Labels(const Labels&) = delete;
  Labels& operator=(const Labels&) = delete;

  std::size_t find(std::string_view value) const;  // "other" when not known
  std::size_t add(std::string_view value);           // "other" when full
  std::size_t capacity() const { return slots_.size(); }
  // The known values with their indexes, and "other" last.
  std::vector<std::pair<std::size_t, std::string_view>> known() const;

 private:
  std::size_t home(std::string_view value) const;
  std::vector<std::atomic<const std::string*>> slots_;  // open addressing; a slot once set never changes
  std::mutex adding_;
  std::deque<std::string> owned_;
};

// Counts per (row label, column label).
class CounterGrid {
 public:
  CounterGrid(std::size_t rows, std::size_t columns) : columns_(columns), cells_(rows * columns) {}
  void add(std::size_t row, std::size_t column, std::uint64_t n = 1) {
    cells_[row * columns_ + column].fetch_add(n, std::memory_order_relaxed);
  }
  std::uint64_t get(std::size_t row, std::size_t column) const {
    return cells_[row * columns_ + column].load(std::memory_order_relaxed);
  }

 private:
  std::size_t columns_;
  std::vector<std::atomic<std::uint64_t>> cells_;
};

inline constexpr std::size_t kMaxTools = 1024;
inline constexpr std::size_t kMaxRateLimits = 1024;
inline constexpr std::size_t kMaxAuthReasons = 64;
inline constexpr std::size_t kMaxSyscalls = 512;

// Every family, with its labels. Thread-safe.
class Families {
 public:
  Families();

  // Where each family's label values come from; `+ 1` columns and rows are "other".
  Labels transports{2, {"streamable_http", "stdio"}};
  Labels statuses{24, {"200", "202", "204", "400", "401", "403", "404", "405", "406", "409", "413", "415", "429", "431",
                       "499", "500", "503"}};
  Labels methods{32, {"initialize", "ping", "tools/list", "tools/call", "resources/list", "resources/templates/list",
                      "resources/read", "resources/subscribe", "resources/unsubscribe", "prompts/list", "prompts/get",
                      "completion/complete", "logging/setLevel", "server/discover", "subscriptions/listen"}};
  Labels outcomes{32};       // "ok" and every failure name (filled by the constructor)
  Labels tool_outcomes{48};  // "ok", sandbox reasons, failure names
  Labels tools{kMaxTools};
  Labels stop_reasons{16, {"timeout", "cpu_time", "memory", "output_too_large", "crashed", "seccomp",
                           "sandbox_unavailable", "cancelled", "protocol_error"}};
  Labels syscalls{kMaxSyscalls};
  Labels auth_reasons{kMaxAuthReasons};
  Labels decisions{3, {"allow", "deny", "hidden"}};
  Labels decision_reasons{8, {"allowed", "denied_by_rule", "no_matching_rule", "argument_not_allowed",
                              "insufficient_scope"}};
  Labels rate_results{2, {"allowed", "limited"}};
  Labels rate_limits{kMaxRateLimits};

  CounterGrid http_requests;      // transport × status
  CounterGrid jsonrpc_requests;   // method × outcome
  CounterGrid tool_calls;         // tool × tool outcome
  std::vector<Histogram> tool_durations;  // per tool
  Histogram spawn_duration;
  CounterGrid sandbox_stops;      // reason × 1
  CounterGrid seccomp_violations; // syscall × 1
  CounterGrid auth_failures;      // reason × 1
  CounterGrid policy_decisions;   // decision × reason
  CounterGrid rate_decisions;     // result × rate limit
};

}  // namespace sandgate::metrics
