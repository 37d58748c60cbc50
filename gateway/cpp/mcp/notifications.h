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
  const ProgressLimits limits_;
  std::shared_ptr<metrics::Counters> counters_;  // shared: Python may hold a reporter past the engine
  const bool message_allowed_;
  std::atomic<std::size_t> accepted_{0};
};

// The request's `_meta.progressToken` when it is a string or an integer (the only kinds a token may be); else nullptr.
const json::value* progress_token(const Message& request);

}  // namespace sandgate::mcp
