#include "mcp/notifications.h"

#include <utility>

namespace sandgate::mcp {
namespace {

constexpr std::string_view kProgressPrefix = R"({"jsonrpc":"2.0","method":"notifications/progress","params":)";

}  // namespace

ProgressReporter::ProgressReporter(std::shared_ptr<NotificationSink> sink, ProgressLimits limits,
                                   std::shared_ptr<metrics::Counters> counters, bool message_allowed)
    : sink_(std::move(sink)), limits_(limits), counters_(std::move(counters)), message_allowed_(message_allowed) {}

bool ProgressReporter::report(std::string_view params_json) {
  if (params_json.size() > limits_.max_params_bytes) {
    counters_->add(metrics::Counter::kProgressDroppedTooLarge);
    return false;
  }
  if (accepted_.fetch_add(1) >= limits_.max_per_call) {
    counters_->add(metrics::Counter::kProgressDroppedOverLimit);
    return false;
  }
  std::string message;
  message.reserve(kProgressPrefix.size() + params_json.size() + 1);
  message.append(kProgressPrefix);
  if (message_allowed_) {
    message.append(params_json);
  } else {
    // Only 2024-11-05 sessions pay for a parse: their revision's params have no `message`.
    const JsonLimits limits;
    if (validate_json_text(params_json, limits) || trim_json(params_json).substr(0, 1) != "{") {
      counters_->add(metrics::Counter::kProgressDroppedUndeliverable);
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
  if (sink_ == nullptr || !sink_->deliver(std::move(message))) {
    counters_->add(metrics::Counter::kProgressDroppedUndeliverable);
    return false;
  }
  counters_->add(metrics::Counter::kProgressSent);
  return true;
}

const json::value* progress_token(const Message& request) {
  const json::object* meta = request_meta(request);
  if (meta == nullptr) return nullptr;
  const json::value* token = meta->if_contains("progressToken");
  if (token == nullptr || !(token->is_string() || token->is_int64() || token->is_uint64())) return nullptr;
  return token;
}

}  // namespace sandgate::mcp
