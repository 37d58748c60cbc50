#pragma once
// For tests: a notification sink that keeps what it was given, or refuses everything (a client that takes no
// event stream).
#include <mutex>
#include <string>
#include <vector>

#include "mcp/notifications.h"

namespace sandgate::mcp {

class RecordingSink final : public NotificationSink {
 public:
  explicit RecordingSink(bool accept = true) : accept_(accept) {}
  bool deliver(std::string json_message) override {
    std::lock_guard lock(mutex_);
    if (!accept_) return false;
    messages_.push_back(std::move(json_message));
    return true;
  }
  std::vector<std::string> messages() {
    std::lock_guard lock(mutex_);
    return messages_;
  }

 private:
  std::mutex mutex_;
  const bool accept_;
  std::vector<std::string> messages_;
};

}  // namespace sandgate::mcp
