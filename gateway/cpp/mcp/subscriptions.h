#pragma once
// What reaches a client outside any request of its own: resource updates it subscribed to and list changes.
// Handshake-era sessions subscribe with resources/subscribe and hear on their session's stream (the HTTP GET
// stream, the stdio connection); a 2026-07-28 client opens a subscriptions/listen stream with a filter, and
// every notification on it carries that request's id. Calls announce; nobody else writes here.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "common/json.h"
#include "mcp/errors.h"
#include "mcp/notifications.h"
#include "metrics/counters.h"

namespace sandgate::mcp {

inline constexpr std::string_view kMetaSubscriptionId = "io.modelcontextprotocol/subscriptionId";

struct SubscriptionLimits {
  std::size_t max_per_session = 100;   // resource URIs one session or listen stream may subscribe to
  std::size_t max_uri_bytes = 2048;    // one subscribed or announced URI
  std::size_t max_listeners = 10'000;  // subscriptions/listen streams open at once
};

// What changed, as the notification that tells it. kElicitationComplete goes to one session only: the one a URL
// elicitation went to (2025-11-25's notifications/elicitation/complete).
enum class Change { kResourceUpdated, kToolsListChanged, kPromptsListChanged, kResourcesListChanged, kElicitationComplete };

std::optional<Change> change_named(std::string_view name);  // "resource_updated", "tools_list_changed", ...
std::string_view notification_method(Change change);

// A subscriptions/listen request's filter, checked.
struct ListenFilter {
  bool tools = false, prompts = false, resources = false;
  std::set<std::string, std::less<>> resource_uris;  // found by string_view: no copy per announcement
  json::object honoured;  // the members read, as sent: what the acknowledgement promises
};

class Subscriptions {
 public:
  Subscriptions(SubscriptionLimits limits, std::shared_ptr<metrics::Counters> counters);

  // A handshake-era session's (or stdio connection's) subscription to one URI; the fault when over a bound.
  std::optional<Fault> subscribe(const std::string& session, std::string_view uri);
  void unsubscribe(const std::string& session, std::string_view uri);
  // The stream that carries what is not a request's; it replaces the one before. The number detaches it.
  std::uint64_t attach(const std::string& session, std::shared_ptr<NotificationSink> stream);
  // Only the attachment `number` names: a newer stream of the session stays.
  void detach(const std::string& session, std::uint64_t number);
  // The session ended: its subscriptions and stream go.
  void end_session(const std::string& session);

  // params.notifications of a subscriptions/listen request, checked against the bounds.
  std::variant<ListenFilter, Fault> listen_filter(const json::value* notifications) const;
  // A listen stream: `subscription_id_json` is the request's id as JSON text; `end` answers its request, once,
  // should the server end it. Nullopt when max_listeners are open.
  std::optional<std::uint64_t> listen(ListenFilter filter, std::string subscription_id_json,
                                      std::shared_ptr<NotificationSink> stream, std::function<void()> end);
  void unlisten(std::uint64_t listener);
  // Ends every listen stream (the server is stopping): each one's `end` runs, outside the lock.
  void end_listeners();

  // Tells every session and listen stream that asked; `uri` only for kResourceUpdated. The number of streams
  // it reached, or nullopt when `uri` is not one a client could subscribe to (refused, counted).
  std::optional<std::size_t> announce(Change change, std::string_view uri = {});
  // A URL elicitation of `session` completed: told on that session's stream only. Nullopt when `elicitation_id` is
  // empty or too long (refused, counted); else whether it was delivered.
  std::optional<bool> elicitation_complete(const std::string& session, std::string_view elicitation_id);
  // A call's announcement over its per-call bound: not sent, counted.
  void drop_over_limit();

  std::size_t listener_count() const;
  // How many URIs `session` subscribes to.
  std::size_t subscription_count(const std::string& session) const;

 private:
  struct Session {
    std::set<std::string, std::less<>> uris;
    std::shared_ptr<NotificationSink> stream;
    std::uint64_t attachment = 0;
  };
  struct Listener {
    ListenFilter filter;
    std::string subscription_id_json;
    std::shared_ptr<NotificationSink> stream;
    std::function<void()> end;
  };

  const SubscriptionLimits limits_;
  const std::shared_ptr<metrics::Counters> counters_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Session> sessions_;
  std::unordered_map<std::uint64_t, Listener> listeners_;
  std::uint64_t next_number_ = 0;
};

// The notification as a listen stream carries it (`subscription_id_json` set) or a session's stream does.
std::string change_notification(Change change, std::string_view uri, std::string_view subscription_id_json = {});

}  // namespace sandgate::mcp
