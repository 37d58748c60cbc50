#include "mcp/subscriptions.h"

#include <array>
#include <utility>

namespace sandgate::mcp {
namespace {

struct NamedChange {
  std::string_view name;
  std::string_view method;
  Change change;
};
constexpr std::array<NamedChange, 5> kChanges = {{
    {"resource_updated", "notifications/resources/updated", Change::kResourceUpdated},
    {"tools_list_changed", "notifications/tools/list_changed", Change::kToolsListChanged},
    {"prompts_list_changed", "notifications/prompts/list_changed", Change::kPromptsListChanged},
    {"resources_list_changed", "notifications/resources/list_changed", Change::kResourcesListChanged},
    {"elicitation_complete", "notifications/elicitation/complete", Change::kElicitationComplete},
}};

Fault invalid(std::string message) { return Fault{Failure::kInvalidParams, "Invalid params: " + std::move(message)}; }

bool wants(const ListenFilter& filter, Change change, std::string_view uri) {
  switch (change) {
    case Change::kResourceUpdated: return filter.resource_uris.count(uri) != 0;
    case Change::kToolsListChanged: return filter.tools;
    case Change::kPromptsListChanged: return filter.prompts;
    case Change::kResourcesListChanged: return filter.resources;
    case Change::kElicitationComplete: return false;  // never broadcast: one session's
  }
  return false;
}

}  // namespace

std::optional<Change> change_named(std::string_view name) {
  for (const NamedChange& named : kChanges) {
    if (named.name == name) return named.change;
  }
  return std::nullopt;
}

std::string_view notification_method(Change change) {
  for (const NamedChange& named : kChanges) {
    if (named.change == change) return named.method;
  }
  return {};
}

std::string change_notification(Change change, std::string_view uri, std::string_view subscription_id_json) {
  std::string message = R"({"jsonrpc":"2.0","method":")";
  message.append(notification_method(change)).append(R"(","params":{)");
  bool first = true;
  if (change == Change::kResourceUpdated || change == Change::kElicitationComplete) {
    message.append(change == Change::kResourceUpdated ? R"("uri":)" : R"("elicitationId":)");
    message.append(json::serialize(json::string_view(uri.data(), uri.size())));
    first = false;
  }
  if (!subscription_id_json.empty()) {
    message.append(first ? "" : ",").append(R"("_meta":{")").append(kMetaSubscriptionId).append(R"(":)");
    message.append(subscription_id_json).push_back('}');
  }
  message.append("}}");
  return message;
}

Subscriptions::Subscriptions(SubscriptionLimits limits, std::shared_ptr<metrics::Counters> counters)
    : limits_(limits), counters_(std::move(counters)) {}

std::optional<Fault> Subscriptions::subscribe(const std::string& session, std::string_view uri) {
  if (uri.size() > limits_.max_uri_bytes) {
    counters_->add(metrics::Counter::kSubscriptionsRefused);
    return invalid("'uri' is longer than " + std::to_string(limits_.max_uri_bytes) + " bytes");
  }
  std::lock_guard lock(mutex_);
  Session& entry = sessions_[session];
  if (entry.uris.count(uri) != 0) return std::nullopt;
  if (entry.uris.size() >= limits_.max_per_session) {
    counters_->add(metrics::Counter::kSubscriptionsRefused);
    return invalid("this session already subscribes to " + std::to_string(limits_.max_per_session) + " resources");
  }
  entry.uris.emplace(uri);
  return std::nullopt;
}

void Subscriptions::unsubscribe(const std::string& session, std::string_view uri) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  if (auto found = it->second.uris.find(uri); found != it->second.uris.end()) it->second.uris.erase(found);
  if (it->second.uris.empty() && it->second.stream == nullptr) sessions_.erase(it);
}

std::uint64_t Subscriptions::attach(const std::string& session, std::shared_ptr<NotificationSink> stream) {
  std::lock_guard lock(mutex_);
  Session& entry = sessions_[session];
  entry.stream = std::move(stream);
  entry.attachment = ++next_number_;
  return entry.attachment;
}

void Subscriptions::detach(const std::string& session, std::uint64_t number) {
  std::shared_ptr<NotificationSink> released;  // let go outside the lock: its last owner may be a connection
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(session);
  if (it == sessions_.end() || it->second.attachment != number) return;
  released = std::move(it->second.stream);
  if (it->second.uris.empty()) sessions_.erase(it);
}

void Subscriptions::end_session(const std::string& session) {
  std::shared_ptr<NotificationSink> released;
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  released = std::move(it->second.stream);
  sessions_.erase(it);
}

std::variant<ListenFilter, Fault> Subscriptions::listen_filter(const json::value* notifications) const {
  if (notifications == nullptr || !notifications->is_object()) return invalid("'notifications' must be an object");
  ListenFilter filter;
  const json::object& object = notifications->get_object();
  const std::array<std::pair<std::string_view, bool*>, 3> flags = {{
      {"toolsListChanged", &filter.tools}, {"promptsListChanged", &filter.prompts},
      {"resourcesListChanged", &filter.resources}}};
  for (const auto& [key, flag] : flags) {
    const json::value* value = object.if_contains(key);
    if (value == nullptr) continue;
    if (!value->is_bool()) return invalid("'notifications." + std::string(key) + "' must be a boolean");
    *flag = value->get_bool();
    filter.honoured.emplace(key, *value);
  }
  if (const json::value* uris = object.if_contains("resourceSubscriptions")) {
    if (!uris->is_array()) return invalid("'notifications.resourceSubscriptions' must be an array of strings");
    for (const json::value& uri : uris->get_array()) {
      if (!uri.is_string()) return invalid("'notifications.resourceSubscriptions' must be an array of strings");
      if (uri.get_string().size() > limits_.max_uri_bytes) {
        return invalid("a subscribed URI is longer than " + std::to_string(limits_.max_uri_bytes) + " bytes");
      }
      filter.resource_uris.emplace(uri.get_string());
      if (filter.resource_uris.size() > limits_.max_per_session) {
        return invalid("a listen stream may subscribe to at most " + std::to_string(limits_.max_per_session) +
                       " resources");
      }
    }
    filter.honoured.emplace("resourceSubscriptions", *uris);
  }
  return filter;
}

std::optional<std::uint64_t> Subscriptions::listen(ListenFilter filter, std::string subscription_id_json,
                                                   std::shared_ptr<NotificationSink> stream,
                                                   std::function<void()> end) {
  std::lock_guard lock(mutex_);
  if (listeners_.size() >= limits_.max_listeners) {
    counters_->add(metrics::Counter::kSubscriptionsRefused);
    return std::nullopt;
  }
  const std::uint64_t number = ++next_number_;
  listeners_.emplace(number, Listener{std::move(filter), std::move(subscription_id_json), std::move(stream), std::move(end)});
  return number;
}

void Subscriptions::unlisten(std::uint64_t listener) {
  std::optional<Listener> released;
  std::lock_guard lock(mutex_);
  auto it = listeners_.find(listener);
  if (it == listeners_.end()) return;
  released = std::move(it->second);
  listeners_.erase(it);
}

void Subscriptions::end_listeners() {
  std::unordered_map<std::uint64_t, Listener> ended;
  {
    std::lock_guard lock(mutex_);
    ended.swap(listeners_);
  }
  for (auto& [number, listener] : ended) {
    if (listener.end) listener.end();
  }
}

std::optional<bool> Subscriptions::elicitation_complete(const std::string& session, std::string_view elicitation_id) {
  if (elicitation_id.empty() || elicitation_id.size() > limits_.max_uri_bytes) {
    counters_->add(metrics::Counter::kAnnouncementsRefused);
    return std::nullopt;
  }
  std::shared_ptr<NotificationSink> stream;
  {
    std::lock_guard lock(mutex_);
    if (auto it = sessions_.find(session); it != sessions_.end()) stream = it->second.stream;
  }
  const bool delivered =
      stream != nullptr && stream->deliver(change_notification(Change::kElicitationComplete, elicitation_id));
  counters_->add(delivered ? metrics::Counter::kAnnouncementsSent : metrics::Counter::kAnnouncementsUndeliverable);
  return delivered;
}

std::optional<std::size_t> Subscriptions::announce(Change change, std::string_view uri) {
  if (change == Change::kElicitationComplete) {  // one session's, never everyone's
    counters_->add(metrics::Counter::kAnnouncementsRefused);
    return std::nullopt;
  }
  if (change == Change::kResourceUpdated && (uri.empty() || uri.size() > limits_.max_uri_bytes)) {
    counters_->add(metrics::Counter::kAnnouncementsRefused);
    return std::nullopt;
  }
  if (change != Change::kResourceUpdated) uri = {};
  // Gathered under the lock, delivered outside it: a stream may block (a full stdout pipe).
  std::vector<std::pair<std::shared_ptr<NotificationSink>, std::string>> deliveries;
  std::size_t unreachable = 0;
  {
    std::lock_guard lock(mutex_);
    std::string session_message;
    for (const auto& [id, session] : sessions_) {
      if (change == Change::kResourceUpdated && session.uris.count(uri) == 0) continue;
      if (session.stream == nullptr) {
        ++unreachable;
        continue;
      }
      if (session_message.empty()) session_message = change_notification(change, uri);
      deliveries.emplace_back(session.stream, session_message);
    }
    for (const auto& [number, listener] : listeners_) {
      if (!wants(listener.filter, change, uri)) continue;
      deliveries.emplace_back(listener.stream, change_notification(change, uri, listener.subscription_id_json));
    }
  }
  std::size_t delivered = 0;
  for (auto& [stream, message] : deliveries) {
    if (stream->deliver(std::move(message))) {
      ++delivered;
    } else {
      ++unreachable;
    }
  }
  counters_->add(metrics::Counter::kAnnouncementsSent, delivered);
  counters_->add(metrics::Counter::kAnnouncementsUndeliverable, unreachable);
  return delivered;
}

void Subscriptions::drop_over_limit() { counters_->add(metrics::Counter::kAnnouncementsDroppedOverLimit); }

std::size_t Subscriptions::subscription_count(const std::string& session) const {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(session);
  return it == sessions_.end() ? 0 : it->second.uris.size();
}

std::size_t Subscriptions::listener_count() const {
  std::lock_guard lock(mutex_);
  return listeners_.size();
}

}  // namespace sandgate::mcp
