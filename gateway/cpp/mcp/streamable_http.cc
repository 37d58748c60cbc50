#include "mcp/streamable_http.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>

namespace sandgate::mcp {
namespace {

constexpr std::string_view kJsonType = "application/json";
constexpr std::string_view kSseType = "text/event-stream";

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

struct AcceptSet {
  bool json = false;
  bool sse = false;
};

AcceptSet parse_accept(const std::optional<std::string>& accept) {
  AcceptSet set;
  if (!accept) return set;
  const std::string value = lower(*accept);
  const bool any = value.find("*/*") != std::string::npos;
  set.json = any || value.find(kJsonType) != std::string::npos || value.find("application/*") != std::string::npos;
  set.sse = any || value.find(kSseType) != std::string::npos || value.find("text/*") != std::string::npos;
  return set;
}

bool is_json_content(const std::optional<std::string>& content_type) {
  if (!content_type) return false;
  const std::string value = lower(*content_type);
  return value.rfind(kJsonType, 0) == 0 && (value.size() == kJsonType.size() || value[kJsonType.size()] == ';' ||
                                             value[kJsonType.size()] == ' ');
}

McpHttpReply message_reply(std::string json_message, ResponseMode mode) {
  if (mode == ResponseMode::kSse) {
    McpHttpReply reply = event_stream_reply();
    reply.body = sse_event(json_message);
    return reply;
  }
  McpHttpReply reply;
  reply.content_type = std::string(kJsonType);
  reply.body = std::move(json_message);
  return reply;
}

McpHttpReply empty_reply(int status) {
  McpHttpReply reply;
  reply.status = status;
  return reply;
}

// Host part of an Origin ("http://localhost:3000" -> "localhost"); empty when malformed.
std::string origin_host(std::string_view origin) {
  const auto scheme_end = origin.find("://");
  if (scheme_end == std::string_view::npos) return {};
  std::string_view rest = origin.substr(scheme_end + 3);
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    return close == std::string_view::npos ? std::string{} : lower(rest.substr(0, close + 1));
  }
  return lower(rest.substr(0, rest.find_first_of(":/")));
}

// A POST's notifications: the first one turns its response into an event stream, and the reply ends it.
class PostNotifications final : public NotificationSink {
 public:
  PostNotifications(std::weak_ptr<ResponseEvents> events, bool sse_accepted)
      : events_(std::move(events)), sse_accepted_(sse_accepted) {}

  bool deliver(std::string json_message) override {
    std::lock_guard lock(mutex_);
    if (finished_ || !sse_accepted_) return false;
    auto events = events_.lock();
    if (events == nullptr) return false;
    // Queued under the lock: every event is posted to the connection before the reply can be.
    events->send_event(sse_event(json_message));
    opened_ = true;
    return true;
  }

  // Runs once, with the reply; nothing is delivered after it.
  McpHttpReply finish(McpHttpReply reply) {
    {
      std::lock_guard lock(mutex_);
      finished_ = true;
      if (!opened_) return reply;
    }
    // The status line already went out as 200: a failure travels as a JSON-RPC error event.
    if (reply.content_type != kSseType) reply.body = sse_event(reply.body);
    reply.status = 200;
    reply.content_type = std::string(kSseType);
    reply.headers.clear();
    reply.ends_event_stream = true;
    return reply;
  }

 private:
  std::mutex mutex_;
  const std::weak_ptr<ResponseEvents> events_;
  const bool sse_accepted_;
  bool opened_ = false;
  bool finished_ = false;
};

// One POST's side of its delivery: a notification channel made on demand, the Answer framed as HTTP.
class PostResponder final : public Responder {
 public:
  PostResponder(ResponseMode mode, std::weak_ptr<ResponseEvents> events, bool sse_accepted, HttpReplyCallback done)
      : mode_(mode), events_(std::move(events)), sse_accepted_(sse_accepted), done_(std::move(done)) {}

  std::shared_ptr<NotificationSink> notifications() override {
    std::lock_guard lock(mutex_);
    if (notifications_ == nullptr) notifications_ = std::make_shared<PostNotifications>(events_, sse_accepted_);
    return notifications_;
  }

  void answer(Answer answer) override {
    std::shared_ptr<PostNotifications> notifications;
    {
      std::lock_guard lock(mutex_);
      notifications = notifications_;
    }
    McpHttpReply reply = http_reply(std::move(answer), mode_);
    done_(notifications ? notifications->finish(std::move(reply)) : std::move(reply));
  }

 private:
  const ResponseMode mode_;
  const std::weak_ptr<ResponseEvents> events_;
  const bool sse_accepted_;
  HttpReplyCallback done_;
  std::mutex mutex_;
  std::shared_ptr<PostNotifications> notifications_;
};

// A session's GET stream as the subscriptions see it.
class SessionStream final : public NotificationSink {
 public:
  explicit SessionStream(std::weak_ptr<ResponseEvents> events) : events_(std::move(events)) {}
  bool deliver(std::string json_message) override {
    auto events = events_.lock();
    return events != nullptr && events->send_stream_event(sse_event(json_message));
  }

 private:
  const std::weak_ptr<ResponseEvents> events_;
};

}  // namespace

std::uint64_t StreamableHttp::stream_opened(const std::string& session, std::weak_ptr<ResponseEvents> events) {
  return conversation_.attach_stream(session, std::make_shared<SessionStream>(std::move(events)));
}

std::string sse_event(std::string_view json_message) {
  std::string event;
  event.reserve(json_message.size() + 24);
  event.append("event: message\ndata: ").append(json_message).append("\n\n");
  return event;
}

McpHttpReply event_stream_reply() {
  McpHttpReply reply;
  reply.content_type = std::string(kSseType);
  reply.headers.emplace_back("Cache-Control", "no-cache, no-transform");
  reply.headers.emplace_back("X-Accel-Buffering", "no");
  return reply;
}

McpHttpReply http_reply(Answer answer, ResponseMode mode) {
  McpHttpReply reply;
  if (answer.messages.empty()) {
    reply = empty_reply(answer.http_status == 200 ? 202 : answer.http_status);
  } else if (answer.http_status != 200) {
    reply.status = answer.http_status;
    reply.content_type = std::string(kJsonType);
    reply.body = std::move(answer.messages.front());
  } else if (!answer.batch) {
    reply = message_reply(std::move(answer.messages.front()), mode);
  } else if (mode == ResponseMode::kSse) {
    reply = event_stream_reply();
    for (const std::string& message : answer.messages) reply.body += sse_event(message);
  } else {
    reply = message_reply(answer.json_body(), ResponseMode::kJson);
  }
  for (auto& header : answer.headers) reply.headers.push_back(std::move(header));
  if (answer.opened_session) reply.headers.emplace_back("Mcp-Session-Id", *answer.opened_session);
  return reply;
}

StreamableHttp::StreamableHttp(HttpPolicy policy, Conversation& conversation)
    : policy_(std::move(policy)), conversation_(conversation) {}

McpHttpReply StreamableHttp::fault_reply(const Fault& fault, Era era, const json::value& id) {
  return http_reply(Conversation::fault_answer(fault, era, id), ResponseMode::kJson);
}

bool StreamableHttp::origin_allowed(std::string_view origin) const {
  const std::string host = origin_host(origin);
  if (host == "localhost" || host == "127.0.0.1" || host == "[::1]") return true;
  return std::any_of(policy_.allowed_origins.begin(), policy_.allowed_origins.end(),
                     [origin](const std::string& allowed) { return allowed == "*" || allowed == origin; });
}

void StreamableHttp::handle(McpHttpRequest request, std::shared_ptr<CancelToken> cancel, HttpReplyCallback done,
                            std::weak_ptr<ResponseEvents> events) {
  if (request.origin && !origin_allowed(*request.origin)) {
    return done(fault_reply({Failure::kOriginForbidden, "Forbidden: Origin not allowed"}, Era::kLegacy));
  }
  if (request.method == "POST") return handle_post(request, std::move(cancel), done, std::move(events));
  // GET and DELETE only mean something for a legacy session, and only to an authenticated client.
  if ((request.method == "GET" || request.method == "DELETE") && request.session_id &&
      !(request.protocol_version && is_modern_version(*request.protocol_version))) {
    auto who = conversation_.authenticate(Transport::kStreamableHttp, request.peer, request.headers);
    if (const Fault* fault = std::get_if<Fault>(&who)) return done(fault_reply(*fault, Era::kLegacy));
    if (auto* waiting = std::get_if<Conversation::AwaitingCredentials>(&who)) {
      // Asked again once the credential's answer is known; the request is whole (authenticate took copies).
      auto parked = std::make_shared<McpHttpRequest>(std::move(request));
      auto busy = conversation_.await_credentials(
          waiting->pending, [this, parked, cancel, done, events] { handle(std::move(*parked), cancel, done, events); });
      if (busy) done(fault_reply(*busy, Era::kLegacy));
      return;
    }
    const auth::Principal& caller = std::get<RequestContext>(who).principal;
    return request.method == "GET" ? handle_get(request, caller, done) : handle_delete(request, caller, done);
  }
  Fault fault{Failure::kHttpMethodNotAllowed, "Method Not Allowed"};
  // Without a legacy session, GET and DELETE have nothing to act on: only POST is left.
  if (request.method == "GET" || request.method == "DELETE") fault.detail.allow = "POST";
  done(fault_reply(fault, Era::kModern));
}

void StreamableHttp::handle_post(McpHttpRequest& request, std::shared_ptr<CancelToken> cancel, HttpReplyCallback& done,
                                 std::weak_ptr<ResponseEvents> events) {
  const AcceptSet accept = parse_accept(request.accept);
  if (!accept.json && !accept.sse) {
    return done(fault_reply({Failure::kNotAcceptable, "Not Acceptable: Client must accept application/json and text/event-stream"},
                            Era::kLegacy));
  }
  ResponseMode mode = policy_.response_mode;
  if (mode == ResponseMode::kJson && !accept.json) mode = ResponseMode::kSse;
  if (mode == ResponseMode::kSse && !accept.sse) mode = ResponseMode::kJson;
  if (!is_json_content(request.content_type)) {
    return done(fault_reply({Failure::kUnsupportedMediaType, "Unsupported Media Type: Content-Type must be application/json"},
                            Era::kLegacy));
  }
  Delivery delivery;
  delivery.body = std::move(request.body);
  delivery.transport = Transport::kStreamableHttp;
  delivery.peer = std::move(request.peer);
  delivery.headers = std::move(request.headers);
  delivery.session_id = std::move(request.session_id);
  delivery.routing = RoutingHeaders{std::move(request.protocol_version), std::move(request.mcp_method),
                                    std::move(request.mcp_name), request.duplicate_routing_header};
  delivery.legacy_unless_stated = true;  // a request with no version header speaks 2025-03-26
  delivery.cancel = std::move(cancel);
  conversation_.receive(std::move(delivery), std::make_shared<PostResponder>(mode, std::move(events), accept.sse, done));
}

void StreamableHttp::handle_get(McpHttpRequest& request, const auth::Principal& caller, HttpReplyCallback& done) {
  if (!parse_accept(request.accept).sse) {
    return done(fault_reply({Failure::kNotAcceptable, "Not Acceptable: Client must accept text/event-stream"}, Era::kLegacy));
  }
  if (!conversation_.touch_session(*request.session_id, caller)) {
    return done(fault_reply({Failure::kSessionNotFound, "Not Found: Session not found or expired"}, Era::kLegacy));
  }
  McpHttpReply reply = event_stream_reply();
  reply.headers.emplace_back("Mcp-Session-Id", *request.session_id);
  reply.event_stream_session = *request.session_id;
  done(std::move(reply));
}

void StreamableHttp::handle_delete(McpHttpRequest& request, const auth::Principal& caller, HttpReplyCallback& done) {
  if (!conversation_.close_session(*request.session_id, caller)) {
    return done(fault_reply({Failure::kSessionNotFound, "Not Found: Session not found or expired"}, Era::kLegacy));
  }
  done(empty_reply(200));
}

}  // namespace sandgate::mcp
