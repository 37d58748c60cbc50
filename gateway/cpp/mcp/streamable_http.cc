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

const char* name_key(std::string_view method) {
  if (method == "tools/call" || method == "prompts/get") return "name";
  if (method == "resources/read") return "uri";
  return nullptr;
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

// Only a request that asked for progress pays for a sink.
std::shared_ptr<PostNotifications> notifications_for(const Message& message, std::weak_ptr<ResponseEvents> events,
                                                     bool sse_accepted) {
  if (progress_token(message) == nullptr) return nullptr;
  return std::make_shared<PostNotifications>(std::move(events), sse_accepted);
}

McpHttpReply finish(const std::shared_ptr<PostNotifications>& notifications, McpHttpReply reply) {
  return notifications ? notifications->finish(std::move(reply)) : reply;
}

}  // namespace

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

StreamableHttp::StreamableHttp(HttpPolicy policy, const Engine& engine, SessionTable& sessions)
    : policy_(std::move(policy)), engine_(engine), sessions_(sessions) {}

McpHttpReply StreamableHttp::fault_reply(const Fault& fault, Era era, const json::value& id) {
  const WireError wire = to_wire(fault.kind, era);
  McpHttpReply reply;
  reply.status = wire.http_status;
  reply.content_type = std::string(kJsonType);
  reply.body = encode_error(id, wire.jsonrpc_code, fault.message, fault.data_json);
  if (fault.kind == Failure::kHttpMethodNotAllowed) reply.headers.emplace_back("Allow", "GET, POST, DELETE");
  return reply;
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
  if (request.method == "POST") return handle_post(request, std::move(cancel), done, PostStream{std::move(events)});
  // GET and DELETE only mean something for a legacy session.
  if ((request.method == "GET" || request.method == "DELETE") && request.session_id &&
      !(request.protocol_version && is_modern_version(*request.protocol_version))) {
    return request.method == "GET" ? handle_get(request, done) : handle_delete(request, done);
  }
  McpHttpReply reply = fault_reply({Failure::kHttpMethodNotAllowed, "Method Not Allowed"}, Era::kModern);
  reply.headers.clear();
  reply.headers.emplace_back("Allow", request.method == "GET" || request.method == "DELETE" ? "POST" : "GET, POST, DELETE");
  done(std::move(reply));
}

void StreamableHttp::handle_post(McpHttpRequest& request, std::shared_ptr<CancelToken> cancel, HttpReplyCallback& done,
                                 PostStream stream) {
  const AcceptSet accept = parse_accept(request.accept);
  stream.sse_accepted = accept.sse;
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
  auto decoded = decode_body(request.body, engine_.settings().json_limits);
  if (auto* fault = std::get_if<Fault>(&decoded)) return done(fault_reply(*fault, Era::kLegacy));
  Body& body = std::get<Body>(decoded);

  // Era: the version header decides; without one, a session or `initialize` means legacy.
  bool modern = false;
  if (request.protocol_version) {
    modern = !is_legacy_version(*request.protocol_version);
  } else if (!request.session_id && !body.is_batch) {
    if (auto* message = std::get_if<Message>(&body.messages.front())) {
      const json::object* meta = request_meta(*message);
      modern = message->method != "initialize" && meta != nullptr && meta->contains(kMetaProtocolVersion);
    }
  }
  if (!modern) return handle_legacy(request, body, mode, std::move(cancel), done, stream);
  if (body.is_batch) {
    return done(fault_reply({Failure::kInvalidRequest, "Invalid Request: batches are not supported in this protocol version"},
                            Era::kModern));
  }
  auto& first = body.messages.front();
  if (auto* fault = std::get_if<Fault>(&first)) return done(fault_reply(*fault, Era::kModern));
  handle_modern(request, std::get<Message>(first), mode, std::move(cancel), done, stream);
}

std::optional<Fault> StreamableHttp::check_modern_headers(const McpHttpRequest& request, const Message& message) const {
  if (request.duplicate_routing_header) return Fault{Failure::kHeaderMismatch, "Header mismatch: a routing header appears more than once"};
  const json::object* meta = request_meta(message);
  const json::value* body_version = meta != nullptr ? meta->if_contains(kMetaProtocolVersion) : nullptr;
  if (!request.protocol_version || body_version == nullptr || !body_version->is_string() ||
      body_version->get_string() != *request.protocol_version) {
    return Fault{Failure::kHeaderMismatch,
                 "Header mismatch: MCP-Protocol-Version header does not match params._meta protocol version"};
  }
  if (!request.mcp_method || *request.mcp_method != message.method) {
    return Fault{Failure::kHeaderMismatch, "Header mismatch: Mcp-Method header does not match the request method"};
  }
  if (const char* key = name_key(message.method)) {
    const json::value* body_name = message.params.if_contains(key);
    if (body_name != nullptr && body_name->is_string()) {
      std::optional<std::string> header_name;
      if (request.mcp_name) header_name = decode_header_value(*request.mcp_name);
      if (!header_name || *header_name != body_name->get_string()) {
        return Fault{Failure::kHeaderMismatch,
                     std::string("Header mismatch: Mcp-Name header does not match params.") + key};
      }
    }
  }
  return std::nullopt;
}

void StreamableHttp::handle_modern(McpHttpRequest& request, const Message& message, ResponseMode mode,
                                   std::shared_ptr<CancelToken> cancel, HttpReplyCallback& done,
                                   const PostStream& stream) {
  if (message.kind == MessageKind::kResponse) {
    return done(fault_reply({Failure::kInvalidRequest, "Invalid Request: clients must not send responses"}, Era::kModern));
  }
  if (message.kind == MessageKind::kNotification) {
    if (request.protocol_version && !is_modern_version(*request.protocol_version)) {
      json::array supported;
      for (auto v : kModernVersions) supported.emplace_back(v);
      return done(fault_reply({Failure::kUnsupportedProtocolVersion, "Unsupported protocol version",
                               json::serialize(json::object{{"supported", std::move(supported)}, {"requested", *request.protocol_version}})},
                              Era::kModern));
    }
    return done(empty_reply(202));
  }
  // A malformed envelope is reported before header agreement; an unsupported version after it.
  auto envelope = engine_.check_modern_envelope(message);
  if (auto* fault = std::get_if<Fault>(&envelope); fault != nullptr && fault->kind == Failure::kInvalidParams) {
    return done(fault_reply(*fault, Era::kModern, message.id));
  }
  if (auto fault = check_modern_headers(request, message)) return done(fault_reply(*fault, Era::kModern, message.id));
  if (auto* fault = std::get_if<Fault>(&envelope)) return done(fault_reply(*fault, Era::kModern, message.id));
  RequestContext context{Era::kModern, std::get<std::string>(envelope), "", nullptr};  // stateless: no session
  auto notifications = notifications_for(message, stream.events, stream.sse_accepted);
  context.notifications = notifications;
  engine_.handle(message, context, std::move(cancel), [id = message.id, mode, done, notifications](Reply reply) {
    if (auto* fault = std::get_if<Fault>(&reply)) return done(finish(notifications, fault_reply(*fault, Era::kModern, id)));
    done(finish(notifications, message_reply(encode_result(id, std::move(std::get<std::string>(reply))), mode)));
  });
}

namespace {

McpHttpReply legacy_reply(const json::value& id, Reply reply, ResponseMode mode) {
  if (auto* fault = std::get_if<Fault>(&reply)) {
    const WireError wire = to_wire(fault->kind, Era::kLegacy);
    if (wire.http_status != 200) return StreamableHttp::fault_reply(*fault, Era::kLegacy, id);
    return message_reply(encode_error(id, wire.jsonrpc_code, fault->message, fault->data_json), mode);
  }
  return message_reply(encode_result(id, std::move(std::get<std::string>(reply))), mode);
}

std::string encode_reply(const json::value& id, Reply reply) {
  if (auto* fault = std::get_if<Fault>(&reply)) {
    return encode_error(id, to_wire(fault->kind, Era::kLegacy).jsonrpc_code, fault->message, fault->data_json);
  }
  return encode_result(id, std::move(std::get<std::string>(reply)));
}

// Collects the answers of a 2025-03-26 batch; the last one to arrive sends the reply.
struct BatchReply {
  std::mutex mutex;
  std::vector<std::string> answers;
  std::atomic<std::size_t> pending{0};
  ResponseMode mode;
  HttpReplyCallback done;

  void add(std::string answer) {
    {
      std::lock_guard lock(mutex);
      answers.push_back(std::move(answer));
    }
    if (pending.fetch_sub(1) == 1) flush();
  }
  void flush() {
    if (answers.empty()) return done(empty_reply(202));
    if (mode == ResponseMode::kSse) {
      McpHttpReply reply = message_reply(answers.front(), mode);
      for (std::size_t i = 1; i < answers.size(); ++i) reply.body += sse_event(answers[i]);
      return done(std::move(reply));
    }
    std::string array = "[";
    for (std::size_t i = 0; i < answers.size(); ++i) array.append(i ? "," : "").append(answers[i]);
    array.push_back(']');
    done(message_reply(std::move(array), ResponseMode::kJson));
  }
};

}  // namespace

void StreamableHttp::handle_legacy(McpHttpRequest& request, Body& body, ResponseMode mode,
                                   std::shared_ptr<CancelToken> cancel, HttpReplyCallback& done,
                                   const PostStream& stream) {
  if (!body.is_batch) {
    auto& first = body.messages.front();
    if (auto* fault = std::get_if<Fault>(&first)) return done(fault_reply(*fault, Era::kLegacy));
    const Message& message = std::get<Message>(first);
    if (message.kind == MessageKind::kRequest && message.method == "initialize") {
      const json::value* requested = message.params.if_contains("protocolVersion");
      if (requested == nullptr || !requested->is_string()) {
        return done(legacy_reply(message.id, Fault{Failure::kInvalidParams, "Invalid params: 'protocolVersion' must be a string"}, mode));
      }
      const std::string negotiated(negotiate_legacy_version(requested->get_string()));
      SessionRecord record{negotiated, "{}", "", false};
      if (const json::value* caps = message.params.if_contains("capabilities"); caps != nullptr && caps->is_object()) {
        record.client_capabilities_json = std::string(raw_member(message.params_json, "capabilities").value_or("{}"));
      }
      auto id = sessions_.open(std::move(record));
      if (!id) return done(fault_reply({Failure::kServerBusy, "Service Unavailable: session limit reached"}, Era::kLegacy, message.id));
      McpHttpReply reply = message_reply(encode_result(message.id, engine_.initialize_result(negotiated)), mode);
      reply.headers.emplace_back("Mcp-Session-Id", *id);
      return done(std::move(reply));
    }
  }
  if (!request.session_id) return done(fault_reply({Failure::kSessionRequired, "Bad Request: Missing session ID"}, Era::kLegacy));
  auto record = sessions_.touch(*request.session_id);
  if (!record) return done(fault_reply({Failure::kSessionNotFound, "Not Found: Session not found or expired"}, Era::kLegacy));
  if (body.is_batch && record->protocol_version != kBatchVersion) {
    return done(fault_reply({Failure::kInvalidRequest, "Invalid Request: batches are only allowed in protocol version 2025-03-26"},
                            Era::kLegacy));
  }
  RequestContext context{Era::kLegacy, record->protocol_version, *request.session_id, nullptr};

  auto batch = std::make_shared<BatchReply>();
  batch->mode = mode;
  batch->done = done;
  std::vector<const Message*> requests;
  for (auto& item : body.messages) {
    if (auto* fault = std::get_if<Fault>(&item)) {
      if (!body.is_batch) return done(fault_reply(*fault, Era::kLegacy));
      batch->answers.push_back(encode_error(nullptr, to_wire(fault->kind, Era::kLegacy).jsonrpc_code, fault->message, fault->data_json));
      continue;
    }
    const Message& message = std::get<Message>(item);
    if (message.kind == MessageKind::kNotification && message.method == "notifications/cancelled") {
      cancel_tracked(*request.session_id, message);
    }
    if (message.kind == MessageKind::kNotification && message.method == "notifications/initialized" && !record->initialized) {
      record->initialized = true;
      sessions_.update(*request.session_id, *record);
    }
    if (message.kind == MessageKind::kRequest) requests.push_back(&message);
  }
  if (!body.is_batch) {
    if (requests.empty()) return done(empty_reply(202));
    const Message& message = *requests.front();
    if (message.method == "initialize") {
      return done(legacy_reply(message.id, Fault{Failure::kInvalidRequest, "Invalid Request: session already initialized"}, mode));
    }
    const std::string key = track(*request.session_id, message.id, cancel);
    auto notifications = notifications_for(message, stream.events, stream.sse_accepted);
    context.notifications = notifications;
    return engine_.handle(message, context, std::move(cancel),
                          [this, key, id = message.id, mode, done, notifications](Reply reply) {
                            untrack(key);
                            done(finish(notifications, legacy_reply(id, std::move(reply), mode)));
                          });
  }
  // A batch's answers go out together at its end, so its items get no notification channel.
  batch->pending = requests.size() + 1;
  for (const Message* message : requests) {
    if (message->method == "initialize") {
      batch->add(encode_reply(message->id, Fault{Failure::kInvalidRequest, "Invalid Request: initialize must not be batched"}));
      continue;
    }
    engine_.handle(*message, context, cancel, [id = message->id, batch](Reply reply) {
      batch->add(encode_reply(id, std::move(reply)));
    });
  }
  if (batch->pending.fetch_sub(1) == 1) batch->flush();
}

std::string StreamableHttp::track(const std::string& session, const json::value& id,
                                  const std::shared_ptr<CancelToken>& cancel) {
  std::string key = session + '\n' + json::serialize(id);
  std::lock_guard lock(in_flight_mutex_);
  in_flight_[key] = cancel;
  return key;
}

void StreamableHttp::untrack(const std::string& key) {
  std::lock_guard lock(in_flight_mutex_);
  in_flight_.erase(key);
}

void StreamableHttp::cancel_tracked(const std::string& session, const Message& notification) {
  const json::value* id = notification.params.if_contains("requestId");
  if (id == nullptr) return;
  std::shared_ptr<CancelToken> token;
  {
    std::lock_guard lock(in_flight_mutex_);
    auto it = in_flight_.find(session + '\n' + json::serialize(*id));
    if (it != in_flight_.end()) token = it->second.lock();
  }
  if (token) token->cancel();
}

void StreamableHttp::handle_get(McpHttpRequest& request, HttpReplyCallback& done) {
  if (!parse_accept(request.accept).sse) {
    return done(fault_reply({Failure::kNotAcceptable, "Not Acceptable: Client must accept text/event-stream"}, Era::kLegacy));
  }
  if (!sessions_.touch(*request.session_id)) {
    return done(fault_reply({Failure::kSessionNotFound, "Not Found: Session not found or expired"}, Era::kLegacy));
  }
  McpHttpReply reply = event_stream_reply();
  reply.headers.emplace_back("Mcp-Session-Id", *request.session_id);
  reply.event_stream_session = *request.session_id;
  done(std::move(reply));
}

void StreamableHttp::handle_delete(McpHttpRequest& request, HttpReplyCallback& done) {
  if (!sessions_.close(*request.session_id)) {
    return done(fault_reply({Failure::kSessionNotFound, "Not Found: Session not found or expired"}, Era::kLegacy));
  }
  engine_.dispatcher().session_closed(*request.session_id);
  done(empty_reply(200));
}

}  // namespace sandgate::mcp
