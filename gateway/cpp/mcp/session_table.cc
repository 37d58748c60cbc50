#include "mcp/session_table.h"

#include <openssl/rand.h>

#include <array>
#include <stdexcept>

#include "common/digest.h"

namespace sandgate::mcp {

std::string random_session_id() {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return to_hex(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

SessionTable::SessionTable(SessionTableLimits limits, const Clock& clock, std::shared_ptr<metrics::Counters> counters)
    : limits_(limits), clock_(clock), counters_(std::move(counters)) {}

bool SessionTable::expired(const Entry& entry, Clock::time_point now) const {
  return now - entry.last_seen > limits_.idle_timeout;
}

std::size_t SessionTable::sweep_locked(Clock::time_point now, std::vector<std::string>* gone) {
  std::size_t removed = 0;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (expired(it->second, now)) {
      gone->push_back(it->first);
      it = sessions_.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  counters_->add(metrics::Counter::kSessionsExpired, removed);
  return removed;
}

std::optional<std::string> SessionTable::open(SessionRecord record) {
  const auto now = clock_.now();
  std::vector<std::string> gone;
  std::optional<std::string> id;
  {
    std::lock_guard lock(mutex_);
    if (sessions_.size() >= limits_.max_sessions && sweep_locked(now, &gone) == 0) {
      counters_->add(metrics::Counter::kSessionsRejectedFull);
    } else {
      id = random_session_id();
      sessions_.emplace(*id, Entry{std::move(record), now});
      counters_->add(metrics::Counter::kSessionsOpened);
    }
  }
  notify_expired(gone);
  return id;
}

std::optional<SessionRecord> SessionTable::touch(std::string_view id) {
  const auto now = clock_.now();
  {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(std::string(id));
    if (it == sessions_.end()) return std::nullopt;
    if (!expired(it->second, now)) {
      it->second.last_seen = now;
      return it->second.record;
    }
    sessions_.erase(it);
    counters_->add(metrics::Counter::kSessionsExpired);
  }
  notify_expired({std::string(id)});
  return std::nullopt;
}

bool SessionTable::update(std::string_view id, const SessionRecord& record) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(std::string(id));
  if (it == sessions_.end()) return false;
  it->second.record = record;
  return true;
}

bool SessionTable::close(std::string_view id) {
  std::lock_guard lock(mutex_);
  if (sessions_.erase(std::string(id)) == 0) return false;
  counters_->add(metrics::Counter::kSessionsClosed);
  return true;
}

bool SessionTable::contains(std::string_view id) {
  return touch(id).has_value();
}

std::size_t SessionTable::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

std::size_t SessionTable::sweep_expired() {
  const auto now = clock_.now();
  std::vector<std::string> gone;
  {
    std::lock_guard lock(mutex_);
    sweep_locked(now, &gone);
  }
  notify_expired(gone);
  return gone.size();
}

void SessionTable::set_on_expired(std::function<void(const std::string&)> on_expired) {
  std::lock_guard lock(mutex_);
  on_expired_ = std::move(on_expired);
}

void SessionTable::notify_expired(const std::vector<std::string>& gone) {
  if (gone.empty()) return;
  std::function<void(const std::string&)> notify;
  {
    std::lock_guard lock(mutex_);
    notify = on_expired_;
  }
  if (!notify) return;
  for (const std::string& id : gone) notify(id);
}

}  // namespace sandgate::mcp
