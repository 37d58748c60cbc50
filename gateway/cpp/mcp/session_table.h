#pragma once
// Legacy-era sessions: random ids, bounded count, idle expiry on an injected clock.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "metrics/counters.h"

namespace sandgate::mcp {

struct SessionRecord {
  std::string protocol_version;
  std::string client_capabilities_json;  // kept as text: read rarely, small when idle
  std::string log_level;
  bool initialized = false;
  // The identity (auth::identity_of) of who opened it: only they may use it (MCP security best practices).
  std::string owner = "anonymous";
};

struct SessionTableLimits {
  std::size_t max_sessions = 10000;
  std::chrono::milliseconds idle_timeout{std::chrono::hours(1)};
};

class SessionTable {
 public:
  // Counts into `counters` (its own registry when none is given).
  SessionTable(SessionTableLimits limits, const Clock& clock,
               std::shared_ptr<metrics::Counters> counters = std::make_shared<metrics::Counters>());

  // A new id (128 random bits, hex), or nullopt when the table is full of live sessions.
  std::optional<std::string> open(SessionRecord record);
  // The record of a live session, refreshing its idle timer; nullopt if unknown, closed or expired.
  std::optional<SessionRecord> touch(std::string_view id);
  bool update(std::string_view id, const SessionRecord& record);
  bool close(std::string_view id);
  bool contains(std::string_view id);
  std::size_t size() const;
  const metrics::Counters& counters() const { return *counters_; }
  std::size_t sweep_expired();
  // Told (outside the table's lock) of every session that expires, so what it owns can be released.
  void set_on_expired(std::function<void(const std::string&)> on_expired);

 private:
  struct Entry {
    SessionRecord record;
    Clock::time_point last_seen;
  };
  bool expired(const Entry& entry, Clock::time_point now) const;
  std::size_t sweep_locked(Clock::time_point now, std::vector<std::string>* gone);
  void notify_expired(const std::vector<std::string>& gone);

  const SessionTableLimits limits_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> sessions_;
  const std::shared_ptr<metrics::Counters> counters_;
  std::function<void(const std::string&)> on_expired_;
};

std::string random_session_id();

}  // namespace sandgate::mcp
