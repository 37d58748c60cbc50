#include "mcp/log_notifications.h"

#include <array>
#include <string>
#include <utility>

namespace sandgate::mcp {
namespace {

constexpr std::array<std::string_view, 8> kLevelNames = {"debug", "info",     "notice", "warning",
                                                          "error", "critical", "alert",  "emergency"};
constexpr std::string_view kMessagePrefix = R"({"jsonrpc":"2.0","method":"notifications/message","params":)";

}  // namespace

std::optional<LogLevel> log_level_named(std::string_view name) {
  for (std::size_t i = 0; i < kLevelNames.size(); ++i) {
    if (kLevelNames[i] == name) return static_cast<LogLevel>(i);
  }
  return std::nullopt;
}

std::string_view log_level_name(LogLevel level) { return kLevelNames[static_cast<std::size_t>(level)]; }

std::optional<LogLevel> requested_log_level(const Message& request) {
  const json::object* meta = request_meta(request);
  if (meta == nullptr) return std::nullopt;
  const json::value* level = meta->if_contains(kLogLevelMetaKey);
  if (level == nullptr || !level->is_string()) return std::nullopt;
  return log_level_named(level->get_string());
}

LogReporter::LogReporter(std::shared_ptr<NotificationSink> sink, LogLevel threshold, LogLimits limits,
                         std::shared_ptr<metrics::Counters> counters)
    : sink_(std::move(sink)),
      threshold_(threshold),
      counters_(counters),
      budget_(limits.max_per_call, limits.max_params_bytes,
              {metrics::Counter::kLogMessagesSent, metrics::Counter::kLogMessagesDroppedTooLarge,
               metrics::Counter::kLogMessagesDroppedOverLimit, metrics::Counter::kLogMessagesDroppedUndeliverable},
              std::move(counters)) {}

bool LogReporter::report(std::string_view level, std::string_view params_json) {
  const std::optional<LogLevel> severity = log_level_named(level);
  if (!severity || *severity < threshold_) {
    counters_->add(metrics::Counter::kLogMessagesBelowLevel);
    return false;
  }
  if (!budget_.admit(params_json)) return false;
  std::string message;
  message.reserve(kMessagePrefix.size() + params_json.size() + 1);
  message.append(kMessagePrefix).append(params_json).push_back('}');
  return budget_.deliver(sink_.get(), std::move(message));
}

}  // namespace sandgate::mcp
