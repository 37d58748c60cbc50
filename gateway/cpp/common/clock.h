#pragma once
// Injected time source: expiry logic never reads the wall clock directly.
#include <atomic>
#include <chrono>

namespace sandgate {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual time_point now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
};

class ManualClock final : public Clock {
 public:
  time_point now() const override { return time_point(std::chrono::nanoseconds(ticks_.load())); }
  void advance(std::chrono::nanoseconds by) { ticks_ += by.count(); }

 private:
  std::atomic<long long> ticks_{1};
};

// Calendar time, for what other parties date (a token's exp, nbf, iat): injected like the steady clock.
class WallClock {
 public:
  using time_point = std::chrono::system_clock::time_point;
  virtual ~WallClock() = default;
  virtual time_point now() const = 0;
};

class SystemWallClock final : public WallClock {
 public:
  time_point now() const override { return std::chrono::system_clock::now(); }
};

class ManualWallClock final : public WallClock {
 public:
  explicit ManualWallClock(std::chrono::seconds since_epoch) : ticks_(std::chrono::nanoseconds(since_epoch).count()) {}
  time_point now() const override {
    return time_point(std::chrono::duration_cast<time_point::duration>(std::chrono::nanoseconds(ticks_.load())));
  }
  void advance(std::chrono::nanoseconds by) { ticks_ += by.count(); }

 private:
  std::atomic<long long> ticks_;
};

}  // namespace sandgate
