#pragma once
// Server-to-client notifications of one request in flight: the transport's sink, and progress with its bounds.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/json.h"
#include "mcp/jsonrpc.h"
#include "metrics/counters.h"

namespace sandgate::mcp {

// What a transport offers one request: delivery of notifications before its final reply.
class NotificationSink {
 public:
  virtual ~NotificationSink() = default;
  // Thread-safe. False when nothing could be delivered: no stream the client accepts, or the reply already went.
  virtual bool deliver(std::string json_message) = 0;
};

struct ProgressLimits {
  std::size_t max_per_call = 1000;           // notifications/progress forwarded per request
  std::size_t max_params_bytes = 16 * 1024;  // one notification's params, serialized
};

// The counters of one kind of notification: what was sent, and what each bound dropped.
struct NotificationCounters {
  metrics::Counter sent, too_large, over_limit, undeliverable;
};

// One request's allowance of one kind of notification (progress, log messages): at most `max_per_call`, each
// at most `max_params_bytes`, every refusal counted. Thread-safe.
class NotificationBudget {
 public:
  NotificationBudget(std::size_t max_per_call, std::size_t max_params_bytes, NotificationCounters ids,
                     std::shared_ptr<metrics::Counters> counters);
  // Whether params of this size may go out as one more of the call's notifications.
  bool admit(std::string_view params_json);
  // Hands `message` to `sink` (may be null); true when delivered.
  bool deliver(NotificationSink* sink, std::string message);
  // An admitted notification that cannot be sent after all.
  void undeliverable();

 private:
  const std::size_t max_per_call_;
  const std::size_t max_params_bytes_;
  const NotificationCounters ids_;
  const std::shared_ptr<metrics::Counters> counters_;  // shared: Python may hold a reporter past the engine
  std::atomic<std::size_t> accepted_{0};
};

// One request's progress: bounded, counted, handed to the transport's sink. Thread-safe.
class ProgressReporter {
 public:
  // `sink` may be null (a batch item): everything reported is then undeliverable.
  // `message_allowed` is false for 2024-11-05, whose progress params have no `message`.
  ProgressReporter(std::shared_ptr<NotificationSink> sink, ProgressLimits limits,
                   std::shared_ptr<metrics::Counters> counters, bool message_allowed);

  // `params_json` is the notifications/progress params object, token included; true when delivered.
  bool report(std::string_view params_json);

 private:
  std::shared_ptr<NotificationSink> sink_;
  NotificationBudget budget_;
  const bool message_allowed_;
};

// The request's `_meta.progressToken` when it is a string or an integer (the only kinds a token may be); else nullptr.
const json::value* progress_token(const Message& request);

}  // namespace sandgate::mcp
