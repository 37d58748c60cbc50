#include "mcp/conversation.h"

#include <atomic>
#include <mutex>

namespace sandgate::mcp {
namespace {

const char* name_key(std::string_view method) {
  if (method == "tools/call" || method == "prompts/get") return "name";
  if (method == "resources/read") return "uri";
  return nullptr;
}

// Only calls run a handler, the one thing that reports or logs before the reply.
bool runs_a_handler(std::string_view method) { return name_key(method) != nullptr; }

// The version header decides; without one, a batch, `initialize` or a session mean legacy, a `_meta`
// protocol version modern, and anything else what the transport assumes.
Era era_of(const Delivery& delivery, const Body& body) {
  if (delivery.routing && delivery.routing->protocol_version) {
    return is_legacy_version(*delivery.routing->protocol_version) ? Era::kLegacy : Era::kModern;
  }
  if (body.is_batch) return Era::kLegacy;
  if (const Message* message = std::get_if<Message>(&body.messages.front())) {
    if (message->method == "initialize") return Era::kLegacy;
    const json::object* meta = request_meta(*message);
    if (meta != nullptr && meta->contains(kMetaProtocolVersion)) return Era::kModern;
  }
  if (delivery.session_id) return Era::kLegacy;
  return delivery.legacy_unless_stated ? Era::kLegacy : Era::kModern;
}

Answer single(std::string message, int http_status) {
  Answer answer;
  answer.http_status = http_status;
  answer.messages.push_back(std::move(message));
  return answer;
}

// One request's reply as a delivery's answer, with the headers its failure calls for.
std::function<void(std::string, WireError)> answer_with(std::shared_ptr<Responder> responder) {
  return [responder = std::move(responder)](std::string reply, WireError wire) {
    Answer answer = single(std::move(reply), wire.http_status);
    answer.headers = std::move(wire.headers);
    responder->answer(std::move(answer));
  };
}

}  // namespace

// Collects the answers of a 2025-03-26 batch; the last one to arrive sends them.
struct Conversation::Batch {
  std::mutex mutex;
  std::vector<std::string> answers;
  std::atomic<std::size_t> pending{0};
  std::shared_ptr<Responder> responder;

  void add(std::string answer) {
    {
      std::lock_guard lock(mutex);
      answers.push_back(std::move(answer));
    }
    done_one();
  }
  void done_one() {
    if (pending.fetch_sub(1) != 1) return;
    Answer answer;
    answer.batch = !answers.empty();
    answer.messages = std::move(answers);
    responder->answer(std::move(answer));
  }
};

std::string Answer::json_body() const {
  if (messages.empty()) return {};
  if (!batch) return messages.front();
  std::string array = "[";
  for (std::size_t i = 0; i < messages.size(); ++i) array.append(i ? "," : "").append(messages[i]);
  array.push_back(']');
  return array;
}

std::string cancel_scope(const Delivery& delivery, Era era) {
  if (!delivery.connection.empty()) return delivery.connection;
  if (era == Era::kLegacy && delivery.session_id) return *delivery.session_id;
  return {};
}

Conversation::Conversation(const Engine& engine, SessionTable& sessions, Stages stages)
    : engine_(engine), sessions_(sessions), stages_(std::move(stages)) {}

Answer Conversation::fault_answer(const Fault& fault, Era era, const json::value& id) {
  WireError wire = to_wire(fault, era);
  Answer answer = single(encode_error(id, wire.jsonrpc_code, fault.message, fault.data_json), wire.http_status);
  answer.headers = std::move(wire.headers);
  return answer;
}

void Conversation::receive(Delivery delivery, std::shared_ptr<Responder> responder) {
  stages_.record->counters().add(metrics::Counter::kDeliveries);
  auto decoded = decode_body(delivery.body, engine_.settings().json_limits);
  if (auto* fault = std::get_if<Fault>(&decoded)) return responder->answer(fault_answer(*fault, Era::kLegacy));
  Body& body = std::get<Body>(decoded);
  const Era era = era_of(delivery, body);
  auto authenticated = authenticate(delivery.transport, std::move(delivery.peer), std::move(delivery.headers));
  if (const Fault* fault = std::get_if<Fault>(&authenticated)) return responder->answer(fault_answer(*fault, era));
  if (auto* waiting = std::get_if<AwaitingCredentials>(&authenticated)) {
    // Received again, whole, once the answer is known: its peer and headers from the context they went into.
    delivery.peer = std::move(waiting->who.peer);
    delivery.headers = *waiting->who.headers;
    auto parked = std::make_shared<Delivery>(std::move(delivery));
    auto busy = await_credentials(waiting->pending, [this, parked, responder] { receive(std::move(*parked), responder); });
    if (busy) responder->answer(fault_answer(*busy, era));
    return;
  }
  RequestContext who = std::move(std::get<RequestContext>(authenticated));
  if (era == Era::kLegacy) return receive_legacy(delivery, std::move(who), body, responder);
  if (body.is_batch) {
    return responder->answer(fault_answer(
        {Failure::kInvalidRequest, "Invalid Request: batches are not supported in this protocol version"}, Era::kModern));
  }
  const auto& first = body.messages.front();
  if (const Fault* fault = std::get_if<Fault>(&first)) return responder->answer(fault_answer(*fault, Era::kModern));
  receive_modern(delivery, std::move(who), std::get<Message>(first), responder);
}

std::variant<RequestContext, Fault, Conversation::AwaitingCredentials> Conversation::authenticate(
    Transport transport, std::string peer, Headers headers) const {
  RequestContext who;
  who.transport = transport;
  who.peer = std::move(peer);
  who.headers = std::make_shared<const Headers>(std::move(headers));
  auto authenticated = stages_.authenticate->authenticate(who);
  if (const auto* failure = std::get_if<auth::AuthFailure>(&authenticated)) {
    stages_.record->record_auth_failure(who, failure->reason.empty() ? auth::auth_error_name(failure->error) : failure->reason);
    return auth::to_fault(*failure);
  }
  if (auto* pending = std::get_if<auth::AuthPending>(&authenticated)) {
    return AwaitingCredentials{std::move(who), std::move(*pending)};
  }
  who.principal = std::move(std::get<auth::Principal>(authenticated));
  return who;
}

std::optional<Fault> Conversation::await_credentials(auth::AuthPending& pending, std::function<void()> resume) const {
  const bool waits = pending.wait([alive = std::weak_ptr<void>(alive_), resume = std::move(resume)] {
    if (std::shared_ptr<void> held = alive.lock()) resume();
  });
  if (waits) return std::nullopt;
  Fault busy{Failure::kServerBusy, "Service Unavailable: too many credentials are being checked"};
  busy.detail.retry_after_s = 1;
  return busy;
}

std::optional<Fault> Conversation::check_routing(const RoutingHeaders& routing, const Message& message) const {
  if (routing.duplicated) return Fault{Failure::kHeaderMismatch, "Header mismatch: a routing header appears more than once"};
  const json::object* meta = request_meta(message);
  const json::value* body_version = meta != nullptr ? meta->if_contains(kMetaProtocolVersion) : nullptr;
  if (!routing.protocol_version || body_version == nullptr || !body_version->is_string() ||
      body_version->get_string() != *routing.protocol_version) {
    return Fault{Failure::kHeaderMismatch,
                 "Header mismatch: MCP-Protocol-Version header does not match params._meta protocol version"};
  }
  if (!routing.method || *routing.method != message.method) {
    return Fault{Failure::kHeaderMismatch, "Header mismatch: Mcp-Method header does not match the request method"};
  }
  if (const char* key = name_key(message.method)) {
    const json::value* body_name = message.params.if_contains(key);
    if (body_name != nullptr && body_name->is_string()) {
      std::optional<std::string> header_name;
      if (routing.name) header_name = decode_header_value(*routing.name);
      if (!header_name || *header_name != body_name->get_string()) {
        return Fault{Failure::kHeaderMismatch, std::string("Header mismatch: Mcp-Name header does not match params.") + key};
      }
    }
  }
  return std::nullopt;
}

std::optional<Fault> Conversation::check_param_headers(const Message& message, const Headers& headers) const {
  if (message.method != "tools/call") return std::nullopt;
  const json::value* name = message.params.if_contains("name");
  if (name == nullptr || !name->is_string()) return std::nullopt;  // the engine refuses it
  const std::vector<ParamHeader>* params = engine_.catalog().param_headers(name->get_string());
  if (params == nullptr) return std::nullopt;
  return mcp::check_param_headers(*params, message.params.if_contains("arguments"), headers);
}

void Conversation::receive_modern(const Delivery& delivery, RequestContext who, const Message& message,
                                  const std::shared_ptr<Responder>& responder) {
  // A client's response answers nothing the gateway asked: accepted, never answered.
  if (message.kind == MessageKind::kResponse) return responder->answer(Answer{});
  if (message.kind == MessageKind::kNotification) {
    const std::optional<std::string>& version = delivery.routing ? delivery.routing->protocol_version : std::nullopt;
    if (version && !is_modern_version(*version)) {
      return responder->answer(fault_answer(
          {Failure::kUnsupportedProtocolVersion, "Unsupported protocol version", unsupported_version_data(*version)},
          Era::kModern));
    }
    notify(message, cancel_scope(delivery, Era::kModern));
    return responder->answer(Answer{});
  }
  // A malformed envelope is reported before header agreement; an unsupported version after it.
  auto envelope = engine_.check_modern_envelope(message);
  if (auto* fault = std::get_if<Fault>(&envelope); fault != nullptr && fault->kind == Failure::kInvalidParams) {
    return responder->answer(fault_answer(*fault, Era::kModern, message.id));
  }
  if (delivery.routing) {
    if (auto fault = check_routing(*delivery.routing, message)) {
      return responder->answer(fault_answer(*fault, Era::kModern, message.id));
    }
    if (auto fault = check_param_headers(message, *who.headers)) {
      return responder->answer(fault_answer(*fault, Era::kModern, message.id));
    }
  }
  if (auto* fault = std::get_if<Fault>(&envelope)) return responder->answer(fault_answer(*fault, Era::kModern, message.id));
  RequestContext context = std::move(who);
  context.era = Era::kModern;
  context.protocol_version = std::get<std::string>(envelope);
  context.session = delivery.connection;  // stateless, but a stdio connection is its client's session
  context.log_level = requested_log_level(message);
  if (progress_token(message) != nullptr || (context.log_level && runs_a_handler(message.method)) ||
      message.method == "subscriptions/listen") {
    context.notifications = responder->notifications();
  }
  run(message, std::move(context), cancel_scope(delivery, Era::kModern), delivery.cancel,
      answer_with(responder));
}

void Conversation::initialize(const Message& message, const auth::Principal& caller,
                              const std::shared_ptr<Responder>& responder) {
  const json::value* requested = message.params.if_contains("protocolVersion");
  if (requested == nullptr || !requested->is_string()) {
    return responder->answer(fault_answer(
        {Failure::kInvalidParams, "Invalid params: 'protocolVersion' must be a string"}, Era::kLegacy, message.id));
  }
  const std::string negotiated(negotiate_legacy_version(requested->get_string()));
  SessionRecord record{negotiated, "{}", "", false, auth::identity_of(caller)};
  if (const json::value* caps = message.params.if_contains("capabilities"); caps != nullptr && caps->is_object()) {
    record.client_capabilities_json = std::string(raw_member(message.params_json, "capabilities").value_or("{}"));
  }
  auto id = sessions_.open(std::move(record));
  if (!id) {
    return responder->answer(
        fault_answer({Failure::kServerBusy, "Service Unavailable: session limit reached"}, Era::kLegacy, message.id));
  }
  Answer answer = single(encode_result(message.id, engine_.initialize_result(negotiated)), 200);
  answer.opened_session = std::move(*id);
  responder->answer(std::move(answer));
}

void Conversation::receive_legacy(const Delivery& delivery, RequestContext who, Body& body,
                                  const std::shared_ptr<Responder>& responder) {
  if (!body.is_batch) {
    const auto& first = body.messages.front();
    if (const Fault* fault = std::get_if<Fault>(&first)) return responder->answer(fault_answer(*fault, Era::kLegacy));
    const Message& message = std::get<Message>(first);
    if (message.kind == MessageKind::kRequest && message.method == "initialize") {
      return initialize(message, who.principal, responder);
    }
  }
  if (!delivery.session_id) {
    return responder->answer(fault_answer({Failure::kSessionRequired, "Bad Request: Missing session ID"}, Era::kLegacy));
  }
  auto record = touch_owned(*delivery.session_id, who.principal);
  if (!record) {
    return responder->answer(
        fault_answer({Failure::kSessionNotFound, "Not Found: Session not found or expired"}, Era::kLegacy));
  }
  if (body.is_batch && record->protocol_version != kBatchVersion) {
    return responder->answer(fault_answer(
        {Failure::kInvalidRequest, "Invalid Request: batches are only allowed in protocol version 2025-03-26"},
        Era::kLegacy));
  }
  RequestContext context = std::move(who);
  context.era = Era::kLegacy;
  context.protocol_version = record->protocol_version;
  context.session = delivery.connection.empty() ? *delivery.session_id : delivery.connection;
  const std::string scope = cancel_scope(delivery, Era::kLegacy);

  auto batch = std::make_shared<Batch>();
  batch->responder = responder;
  std::vector<const Message*> requests;
  for (auto& item : body.messages) {
    if (const Fault* fault = std::get_if<Fault>(&item)) {
      batch->answers.push_back(
          encode_error(nullptr, to_wire(fault->kind, Era::kLegacy).jsonrpc_code, fault->message, fault->data_json));
      continue;
    }
    const Message& message = std::get<Message>(item);
    if (message.kind == MessageKind::kNotification) {
      notify(message, scope);
      if (message.method == "notifications/initialized" && !record->initialized) {
        record->initialized = true;
        sessions_.update(*delivery.session_id, *record);
      }
    }
    if (message.kind == MessageKind::kRequest) requests.push_back(&message);
    // An answer to what a call of this session asked; any other response is dropped (nothing waits on it).
    if (message.kind == MessageKind::kResponse) engine_.client_answered(context.session, message);
    if (message.kind == MessageKind::kRequest && message.method == "logging/setLevel") {
      remember_log_level(*delivery.session_id, *record, message);
    }
  }
  // Until the client sets a level, it gets every message (as the official SDKs' servers send them).
  context.log_level = log_level_named(record->log_level).value_or(LogLevel::kDebug);
  context.client_capabilities_json = record->client_capabilities_json;
  if (!body.is_batch) {
    if (requests.empty()) return responder->answer(Answer{});
    const Message& message = *requests.front();
    if (progress_token(message) != nullptr || runs_a_handler(message.method)) {
      context.notifications = responder->notifications();
    }
    return run(message, std::move(context), scope, delivery.cancel,
               answer_with(responder));
  }
  // A batch's answers go out together at its end, so its items get no notification channel.
  batch->pending = requests.size() + 1;
  for (const Message* message : requests) {
    if (message->method == "initialize") {
      batch->add(encode_error(message->id, to_wire(Failure::kInvalidRequest, Era::kLegacy).jsonrpc_code,
                              "Invalid Request: initialize must not be batched", ""));
      continue;
    }
    run(*message, context, scope, delivery.cancel, [batch](std::string reply, WireError) { batch->add(std::move(reply)); });
  }
  batch->done_one();
}

void Conversation::notify(const Message& notification, std::string_view scope) {
  if (notification.method != "notifications/cancelled" || scope.empty()) return;
  if (const json::value* id = notification.params.if_contains("requestId")) in_flight_.cancel(scope, *id);
}

void Conversation::run(const Message& request, RequestContext context, std::string scope,
                       std::shared_ptr<CancelToken> cancel, std::function<void(std::string, WireError)> done) {
  const Era era = context.era;
  context.started = stages_.record->now();
  std::shared_ptr<const audit::RequestFacts> audited;  // set while auditing, once the authorize stage decided
  auto fail = [&](Fault fault) {
    stages_.record->record(context, request.method, fault.kind, OutcomeFacts{}, audited.get());
    WireError wire = to_wire(fault, era);
    done(encode_error(request.id, wire.jsonrpc_code, fault.message, fault.data_json), std::move(wire));
  };
  auto denial = stages_.authorize->authorize(context, request);
  if (const audit::AuditLog* log = stages_.record->audit()) {
    audited = std::make_shared<const audit::RequestFacts>(audit::request_facts(*log, request, context));
  }
  if (denial) return fail(policy::to_fault(*denial));
  if (auto limited = stages_.rate_limit->admit(context, request)) return fail(ratelimit::to_fault(*limited));
  if (cancel == nullptr) cancel = std::make_shared<CancelToken>();
  std::optional<InFlight::Entry> entry;
  if (!scope.empty()) entry = in_flight_.start(scope, request.id, cancel);
  auto finished = [this, entry = std::move(entry), id = request.id, method = request.method, context,
                   audited = std::move(audited), done = std::move(done)](Reply reply, const OutcomeFacts& facts) {
    if (entry) in_flight_.finish(*entry);
    if (const Fault* fault = std::get_if<Fault>(&reply)) {
      stages_.record->record(context, method, fault->kind, facts, audited.get());
      WireError wire = to_wire(*fault, context.era);
      return done(encode_error(id, wire.jsonrpc_code, fault->message, fault->data_json), std::move(wire));
    }
    stages_.record->record(context, method, std::nullopt, facts, audited.get());
    done(encode_result(id, std::get<std::string>(reply)), WireError{200, 0});
  };
  engine_.handle(request, context, std::move(cancel), std::move(finished));
}

void Conversation::remember_log_level(const std::string& session_id, SessionRecord& record, const Message& request) {
  const json::value* level = request.params.if_contains("level");
  // An unknown level is the engine's to refuse; the session keeps the one it had.
  if (level == nullptr || !level->is_string() || !log_level_named(level->get_string())) return;
  record.log_level = std::string(level->get_string());
  sessions_.update(session_id, record);
}

std::optional<SessionRecord> Conversation::touch_owned(std::string_view id, const auth::Principal& caller) {
  std::optional<SessionRecord> record = sessions_.touch(id);
  // Another caller's session is answered as an unknown one: its id alone must not let anyone in.
  if (record && record->owner != auth::identity_of(caller)) return std::nullopt;
  return record;
}

bool Conversation::touch_session(std::string_view id, const auth::Principal& caller) {
  return touch_owned(id, caller).has_value();
}

bool Conversation::close_session(const std::string& id, const auth::Principal& caller) {
  return touch_session(id, caller) && close_session(id);
}

bool Conversation::close_session(const std::string& id) {
  if (!sessions_.close(id)) return false;
  engine_.session_ended(id);
  return true;
}

void Conversation::connection_closed(const std::string& connection) { engine_.session_ended(connection); }

std::uint64_t Conversation::attach_stream(const std::string& session, std::shared_ptr<NotificationSink> stream) {
  return engine_.subscriptions()->attach(session, std::move(stream));
}

void Conversation::detach_stream(const std::string& session, std::uint64_t number) {
  engine_.subscriptions()->detach(session, number);
}

void Conversation::end_subscriptions(const std::string& session) { engine_.subscriptions()->end_session(session); }

}  // namespace sandgate::mcp
