#include "mcp/notifications.h"

#include <utility>

namespace sandgate::mcp {
namespace {

constexpr std::string_view kProgressPrefix = R"({"jsonrpc":"2.0","method":"notifications/progress","params":)";

}  // namespace

NotificationBudget::NotificationBudget(std::size_t max_per_call, std::size_t max_params_bytes,
                                       NotificationCounters ids, std::shared_ptr<metrics::Counters> counters)
    : max_per_call_(max_per_call), max_params_bytes_(max_params_bytes), ids_(ids), counters_(std::move(counters)) {}

bool NotificationBudget::admit(std::string_view params_json) {
  if (params_json.size() > max_params_bytes_) {
    counters_->add(ids_.too_large);
    return false;
  }
  if (accepted_.fetch_add(1) >= max_per_call_) {
    counters_->add(ids_.over_limit);
    return false;
  }
  return true;
}

bool NotificationBudget::deliver(NotificationSink* sink, std::string message) {
  if (sink == nullptr || !sink->deliver(std::move(message))) {
    undeliverable();
    return false;
  }
  counters_->add(ids_.sent);
  return true;
}

void NotificationBudget::undeliverable() { counters_->add(ids_.undeliverable); }

ProgressReporter::ProgressReporter(std::shared_ptr<NotificationSink> sink, ProgressLimits limits,
                                   std::shared_ptr<metrics::Counters> counters, bool message_allowed)
    : sink_(std::move(sink)),
      budget_(limits.max_per_call, limits.max_params_bytes,
              {metrics::Counter::kProgressSent, metrics::Counter::kProgressDroppedTooLarge,
               metrics::Counter::kProgressDroppedOverLimit, metrics::Counter::kProgressDroppedUndeliverable},
              std::move(counters)),
      message_allowed_(message_allowed) {}

bool ProgressReporter::report(std::string_view params_json) {
  if (!budget_.admit(params_json)) return false;
  std::string message;
  message.reserve(kProgressPrefix.size() + params_json.size() + 1);
  message.append(kProgressPrefix);
  if (message_allowed_) {
    message.append(params_json);
  } else {
    // Only 2024-11-05 sessions pay for a parse: their revision's params have no `message`.
    const JsonLimits limits;
    if (validate_json_text(params_json, limits) || trim_json(params_json).substr(0, 1) != "{") {
      budget_.undeliverable();
      return false;
    }
    std::string params = "{";
    for (const RawMember& member : raw_members(params_json)) {
      if (!raw_key_equals(member.key, "message")) append_raw_member(params, member.key, member.value);
    }
    params.push_back('}');
    message.append(params);
  }
  message.push_back('}');
  return budget_.deliver(sink_.get(), std::move(message));
}

const json::value* progress_token(const Message& request) {
  const json::object* meta = request_meta(request);
  if (meta == nullptr) return nullptr;
  const json::value* token = meta->if_contains("progressToken");
  if (token == nullptr || !(token->is_string() || token->is_int64() || token->is_uint64())) return nullptr;
  return token;
}

}  // namespace sandgate::mcp
