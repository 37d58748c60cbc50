#pragma once
// A request's log messages to its client (notifications/message): the levels, the threshold the client chose,
// and the bounds. Legacy sessions choose with logging/setLevel; a 2026-07-28 request by its
// `_meta["io.modelcontextprotocol/logLevel"]`, and gets none without it.
#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

#include "mcp/jsonrpc.h"
#include "mcp/notifications.h"
#include "metrics/counters.h"

namespace sandgate::mcp {

// RFC 5424's severities as MCP names them, least severe first.
enum class LogLevel { kDebug, kInfo, kNotice, kWarning, kError, kCritical, kAlert, kEmergency };

std::optional<LogLevel> log_level_named(std::string_view name);
std::string_view log_level_name(LogLevel level);

// The `_meta` key by which a 2026-07-28 request asks for log messages at or above a level.
inline constexpr std::string_view kLogLevelMetaKey = "io.modelcontextprotocol/logLevel";

// The level a modern request asked for in its `_meta`; nullopt when it asked for none (or named no level).
std::optional<LogLevel> requested_log_level(const Message& request);

struct LogLimits {
  std::size_t max_per_call = 1000;           // notifications/message forwarded per request
  std::size_t max_params_bytes = 16 * 1024;  // one notification's params, serialized
};

// One request's log messages: filtered by the client's level, bounded, counted, handed to the sink. Thread-safe.
class LogReporter {
 public:
  // `sink` may be null: everything is then undeliverable.
  LogReporter(std::shared_ptr<NotificationSink> sink, LogLevel threshold, LogLimits limits,
              std::shared_ptr<metrics::Counters> counters);

  // `params_json` is the notifications/message params object ({level, logger?, data}) of a message at `level`
  // (a name the caller checked). True when delivered; false when below the threshold, over a bound or undeliverable.
  bool report(std::string_view level, std::string_view params_json);

 private:
  std::shared_ptr<NotificationSink> sink_;
  const LogLevel threshold_;
  std::shared_ptr<metrics::Counters> counters_;  // shared: Python may hold a reporter past the engine
  NotificationBudget budget_;
};

}  // namespace sandgate::mcp
