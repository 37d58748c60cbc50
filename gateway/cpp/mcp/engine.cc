#include "mcp/engine.h"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include "policy/tool_policy.h"

namespace sandgate::mcp {
namespace {

constexpr std::int64_t kNotCacheable = -1;
// The one revision whose notifications/progress params have no `message`.
constexpr std::string_view kProgressWithoutMessage = "2024-11-05";

struct ListMethod {
  std::string_view method;
  ListKind kind;
};
constexpr std::array<ListMethod, 4> kListMethods = {{
    {"tools/list", ListKind::kTools},
    {"resources/list", ListKind::kResources},
    {"resources/templates/list", ListKind::kResourceTemplates},
    {"prompts/list", ListKind::kPrompts},
}};

Fault invalid_params(std::string message) { return Fault{Failure::kInvalidParams, std::move(message)}; }

std::string quoted(std::string_view key) { return json::serialize(json::string_view(key.data(), key.size())); }

// An absolute http(s) URL of visible characters: where a URL elicitation may send a user (a sandboxed child's
// -32042 is checked here, whatever its own checks said).
bool is_web_url(std::string_view url) {
  const bool scheme = url.rfind("https://", 0) == 0 || url.rfind("http://", 0) == 0;
  const std::string_view rest = url.substr(url.find("://") + 3);
  return scheme && !rest.empty() && rest.front() != '/' &&
         std::all_of(url.begin(), url.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

}  // namespace

Reply outcome_to_reply(Outcome outcome, const JsonLimits& limits) {
  // A result's strings and lists are bounded by the runner's output limit, its depth by the client's.
  const JsonLimits result_limits{limits.max_depth, std::size_t(-1), std::size_t(-1)};
  if (auto error = validate_json_text(outcome.json, result_limits)) {
    return Fault{Failure::kInternalError, "Internal error: the tool runner returned malformed JSON (" + error->message + ")"};
  }
  const std::string_view text = trim_json(outcome.json);
  if (text.empty() || text.front() != '{') {
    return Fault{Failure::kInternalError, "Internal error: the tool runner returned malformed JSON (not an object)"};
  }
  if (outcome.status == OutcomeStatus::kOk) return std::move(outcome.json);
  std::string message = "Internal error";
  if (auto m = raw_member(text, "message")) {
    auto parsed = parse_json_text(*m, result_limits);
    if (auto* value = std::get_if<json::value>(&parsed); value != nullptr && value->is_string()) {
      message = std::string(value->get_string());
    }
  }
  std::string data(raw_member(text, "data").value_or(""));
  switch (outcome.status) {
    case OutcomeStatus::kInvalidParams: return Fault{Failure::kInvalidParams, message, std::move(data)};
    case OutcomeStatus::kResourceNotFound: return Fault{Failure::kResourceNotFound, message, std::move(data)};
    case OutcomeStatus::kMissingClientCapability: return Fault{Failure::kMissingClientCapability, message, std::move(data)};
    case OutcomeStatus::kCancelled: return Fault{Failure::kCancelled, message, std::move(data)};
    case OutcomeStatus::kShuttingDown: return Fault{Failure::kShuttingDown, message, std::move(data)};
    case OutcomeStatus::kUrlElicitationRequired: return Fault{Failure::kUrlElicitationRequired, message, std::move(data)};
    default: return Fault{Failure::kInternalError, message, std::move(data)};
  }
}

Engine::Engine(EngineSettings settings, std::shared_ptr<Dispatcher> dispatcher, std::shared_ptr<metrics::Counters> counters)
    : settings_(std::move(settings)),
      dispatcher_(std::move(dispatcher)),
      catalog_(dispatcher_->catalog_json(), settings_.page_size),
      counters_(std::move(counters)),
      client_requests_(std::make_shared<ClientRequests>(settings_.client_requests, counters_)),
      subscriptions_(std::make_shared<Subscriptions>(settings_.subscriptions, counters_)) {
  if (settings_.request_state == nullptr) {
    settings_.request_state = std::make_shared<RequestStateSeal>(
        RequestStateSeal::random_key(), std::make_shared<SystemWallClock>(), std::chrono::seconds(300));
  }
  server_info_.emplace("name", settings_.identity.name);
  server_info_.emplace("version", settings_.identity.version);
  server_info_json_ = json::serialize(server_info_);
  // The catalog's tools are the tool label's values: a name a client makes up is counted as "other".
  for (std::size_t i = 0; i < catalog_.count(ListKind::kTools); ++i) counters_->families().tools.add(catalog_.tool_name(i));
}

std::variant<std::string, Fault> Engine::check_modern_envelope(const Message& request) const {
  const json::object* meta = request_meta(request);
  if (meta == nullptr || !meta->contains(kMetaProtocolVersion) || !meta->contains(kMetaClientCapabilities)) {
    return invalid_params(std::string("Invalid params: params._meta must carry '") + std::string(kMetaProtocolVersion) +
                          "' and '" + std::string(kMetaClientCapabilities) + "'");
  }
  const json::value& version = meta->at(kMetaProtocolVersion);
  if (!version.is_string()) return invalid_params("Invalid params: the protocol version must be a string");
  if (!meta->at(kMetaClientCapabilities).is_object()) {
    return invalid_params("Invalid params: client capabilities must be an object");
  }
  std::string requested(version.get_string());
  if (!is_modern_version(requested)) {
    return Fault{Failure::kUnsupportedProtocolVersion, "Unsupported protocol version", unsupported_version_data(requested)};
  }
  return requested;
}

std::string Engine::initialize_result(std::string_view negotiated_version) const {
  json::object caps = catalog_.capabilities();
  caps.emplace("logging", json::object{});
  json::object result;
  result.emplace("protocolVersion", negotiated_version);
  result.emplace("capabilities", std::move(caps));
  result.emplace("serverInfo", server_info_);
  if (!settings_.identity.instructions.empty()) result.emplace("instructions", settings_.identity.instructions);
  return json::serialize(result);
}

std::string Engine::discover_result() const {
  json::array versions;
  for (auto v : kModernVersions) versions.emplace_back(v);
  for (auto v : kLegacyVersions) versions.emplace_back(v);
  json::object result;
  result.emplace("supportedVersions", std::move(versions));
  json::object caps = catalog_.capabilities();
  caps.emplace("logging", json::object{});  // a request asks for log messages by its _meta
  result.emplace("capabilities", std::move(caps));
  if (!settings_.identity.instructions.empty()) result.emplace("instructions", settings_.identity.instructions);
  return json::serialize(result);
}

std::string Engine::finish(std::string result, Era era, std::int64_t ttl_ms, bool private_to_caller,
                           std::string_view result_type) const {
  if (era != Era::kModern) return result;
  // Rewritten member by member on the text: what the tool wrote passes as it wrote it.
  const bool cacheable = ttl_ms != kNotCacheable;
  std::string out = "{";
  std::optional<std::string_view> tool_meta;
  for (const RawMember& member : raw_members(result)) {
    if (raw_key_equals(member.key, "_meta")) {
      tool_meta = member.value;
      continue;
    }
    if (raw_key_equals(member.key, "resultType")) continue;
    if (cacheable && (raw_key_equals(member.key, "ttlMs") || raw_key_equals(member.key, "cacheScope"))) continue;
    append_raw_member(out, member.key, member.value);
  }
  append_raw_member(out, R"("resultType")", json::serialize(json::value(result_type)));
  std::string meta = "{";
  if (tool_meta) {
    for (const RawMember& member : raw_members(*tool_meta)) {
      if (!raw_key_equals(member.key, kMetaServerInfo)) append_raw_member(meta, member.key, member.value);
    }
  }
  append_raw_member(meta, quoted(kMetaServerInfo), server_info_json_);
  meta.push_back('}');
  append_raw_member(out, R"("_meta")", meta);
  if (cacheable) {
    append_raw_member(out, R"("ttlMs")", std::to_string(ttl_ms));
    append_raw_member(out, R"("cacheScope")", private_to_caller ? R"("private")" : R"("public")");
  }
  out.push_back('}');
  return out;
}

void Engine::handle(const Message& request, const RequestContext& context, std::shared_ptr<CancelToken> cancel,
                    ReplyCallback on_reply) const {
  const std::string& method = request.method;
  // Answered here without dispatching: no facts to tell.
  auto done = [&on_reply](Reply reply) { on_reply(std::move(reply), OutcomeFacts{}); };
  const bool modern = context.era == Era::kModern;
  for (const ListMethod& list : kListMethods) {
    if (method != list.method) continue;
    // Under a policy a caller sees only the tools some rule could let it call.
    const policy::ToolPolicy* policy = list.kind == ListKind::kTools ? context.admission.policy.get() : nullptr;
    Catalog::Keep keep;
    if (policy != nullptr) {
      keep = [&](std::size_t index) { return policy->visible(context.principal, catalog_.tool_name(index)); };
    }
    auto page = catalog_.page(list.kind, request.params.if_contains("cursor"), keep);
    if (auto* fault = std::get_if<Fault>(&page)) return done(std::move(*fault));
    return done(finish(std::move(std::get<std::string>(page)), context.era, settings_.list_ttl_ms, policy != nullptr));
  }
  if (method == "tools/call") return invoke(InvocationKind::kToolCall, request, context, std::move(cancel), std::move(on_reply));
  if (method == "resources/read") {
    return invoke(InvocationKind::kResourceRead, request, context, std::move(cancel), std::move(on_reply));
  }
  if (method == "prompts/get") {
    return invoke(InvocationKind::kPromptGet, request, context, std::move(cancel), std::move(on_reply));
  }
  if (method == "completion/complete") {
    return invoke(InvocationKind::kCompletion, request, context, std::move(cancel), std::move(on_reply));
  }
  if (modern && method == "server/discover") return done(finish(discover_result(), context.era, settings_.list_ttl_ms));
  if (modern && method == "subscriptions/listen") return listen(request, context, std::move(cancel), std::move(on_reply));
  if (!modern) {
    if (method == "resources/subscribe" || method == "resources/unsubscribe") {
      return done(resource_subscription(request, context));
    }
    if (method == "initialize") return done(initialize_result(negotiate_legacy_version(context.protocol_version)));
    if (method == "ping") return done(std::string("{}"));
    if (method == "logging/setLevel") {
      const json::value* level = request.params.if_contains("level");
      if (level == nullptr || !level->is_string() || !log_level_named(level->get_string())) {
        return done(invalid_params("Invalid params: 'level' must be one of debug, info, notice, warning, error, "
                                   "critical, alert, emergency"));
      }
      return done(std::string("{}"));
    }
  }
  done(Fault{Failure::kMethodNotFound, "Method not found: " + method});
}

std::variant<std::string, Fault> Engine::input_required(std::string result, const Resumable& call) const {
  const Fault malformed{Failure::kInternalError,
                        "Internal error: an input_required result needs inputRequests, an object of {method, params}"};
  boost::system::error_code ec;
  json::value parsed = json::parse(result, ec);
  if (ec || !parsed.is_object()) return malformed;
  json::object& object = parsed.get_object();
  const json::value* requests = object.if_contains("inputRequests");
  if (requests == nullptr || !requests->is_object() || requests->get_object().empty()) return malformed;
  json::value declared_value = json::parse(call.client_capabilities_json, ec);
  const json::object no_capabilities;
  const json::object& client_capabilities =
      !ec && declared_value.is_object() ? declared_value.get_object() : no_capabilities;
  json::object missing;
  for (const auto& entry : requests->get_object()) {
    const json::object* request = entry.value().if_object();
    const json::value* method = request != nullptr ? request->if_contains("method") : nullptr;
    const json::value* params = request != nullptr ? request->if_contains("params") : nullptr;
    if (method == nullptr || !method->is_string() || params == nullptr || !params->is_object()) return malformed;
    std::optional<CapabilityNeed> need = capability_need(method->get_string(), params->get_object(), client_capabilities);
    if (!need) return malformed;
    if (need->declared) continue;
    for (auto& [name, wanted] : need->required) {  // merged: a form and a URL elicitation both name `elicitation`
      json::value& slot = missing[name];
      if (!slot.is_object()) slot = json::object{};
      for (auto& [mode, empty] : wanted.get_object()) slot.get_object()[mode] = empty;
    }
  }
  // Only what the client declared in this very request may be asked of it.
  if (!missing.empty()) {
    json::object data{{"requiredCapabilities", std::move(missing)}};
    return Fault{Failure::kMissingClientCapability, "Missing required client capability", json::serialize(data)};
  }
  if (const json::value* state = object.if_contains("requestState")) {
    if (!state->is_string()) return malformed;
    object["requestState"] = settings_.request_state->seal(state->get_string(), call.binding());
  }
  return json::serialize(parsed);
}

Reply Engine::resource_subscription(const Message& request, const RequestContext& context) const {
  const json::value* uri = request.params.if_contains("uri");
  if (uri == nullptr || !uri->is_string()) return invalid_params("Invalid params: 'uri' must be a string");
  const std::string_view text = uri->get_string();
  if (request.method == "resources/unsubscribe") {
    subscriptions_->unsubscribe(context.session, text);
    return std::string("{}");
  }
  if (auto refused = subscriptions_->subscribe(context.session, text)) return std::move(*refused);
  return std::string("{}");
}

void Engine::listen(const Message& request, const RequestContext& context, std::shared_ptr<CancelToken> cancel,
                    ReplyCallback on_reply) const {
  auto filter = subscriptions_->listen_filter(request.params.if_contains("notifications"));
  if (auto* fault = std::get_if<Fault>(&filter)) return on_reply(std::move(*fault), OutcomeFacts{});
  std::string id = json::serialize(request.id);
  // What the stream honours: the filter's members it read, as sent (anything else it named is not promised).
  std::string ack = R"({"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"notifications":)";
  ack.append(json::serialize(std::get<ListenFilter>(filter).honoured));
  ack.append(R"(,"_meta":{")").append(kMetaSubscriptionId).append(R"(":)").append(id).append("}}}");
  // The acknowledgement is the stream's first message; a client that takes no event stream cannot listen.
  if (context.notifications == nullptr || !context.notifications->deliver(std::move(ack))) {
    return on_reply(Fault{Failure::kInvalidRequest, "Invalid Request: subscriptions/listen needs a stream "
                                                    "(Accept: text/event-stream)"},
                    OutcomeFacts{});
  }
  // Answered once: by the client cancelling or leaving, or by the server ending every stream.
  struct Open {
    std::atomic<bool> ended{false};
    std::uint64_t listener = 0;
    ReplyCallback done;
  };
  auto open = std::make_shared<Open>();
  open->done = std::move(on_reply);
  std::string result = R"({"_meta":{")" + std::string(kMetaSubscriptionId) + R"(":)" + id + "}}";
  auto end = [this, open, result = finish(std::move(result), Era::kModern, kNotCacheable)] {
    if (open->ended.exchange(true)) return;
    subscriptions_->unlisten(open->listener);
    ReplyCallback done = std::move(open->done);
    done(result, OutcomeFacts{});
  };
  auto listener = subscriptions_->listen(std::move(std::get<ListenFilter>(filter)), std::move(id),
                                         context.notifications, end);
  if (!listener) {
    open->ended = true;
    return open->done(Fault{Failure::kServerBusy, "Service Unavailable: too many subscriptions/listen streams"},
                      OutcomeFacts{});
  }
  open->listener = *listener;
  if (cancel == nullptr) cancel = std::make_shared<CancelToken>();
  cancel->on_cancel(std::move(end));
}

void Engine::session_ended(const std::string& session) const {
  subscriptions_->end_session(session);
  dispatcher_->session_closed(session);
}

void Engine::end_listen_streams() const { subscriptions_->end_listeners(); }

Fault Engine::url_elicitation_required(Fault fault, Era era, std::string_view client_capabilities_json) {
  auto internal = [](std::string why) { return Fault{Failure::kInternalError, "Internal error: " + std::move(why)}; };
  if (era != Era::kLegacy) {
    return internal("a URL elicitation is asked through input_required in 2026-07-28 (" + fault.message + ")");
  }
  boost::system::error_code ec;
  const json::value data = json::parse(fault.data_json, ec);
  const json::value* elicitations = !ec && data.is_object() ? data.get_object().if_contains("elicitations") : nullptr;
  bool well_formed = elicitations != nullptr && elicitations->is_array() && !elicitations->get_array().empty();
  const json::object no_capabilities;
  const json::value declared = json::parse(client_capabilities_json, ec);
  for (const json::value& item : well_formed ? elicitations->get_array() : json::array{}) {
    const json::object* params = item.if_object();
    well_formed = params != nullptr && params->size() == 4;
    for (std::string_view key : {"mode", "message", "url", "elicitationId"}) {
      const json::value* value = well_formed ? params->if_contains(key) : nullptr;
      well_formed = well_formed && value != nullptr && value->is_string();
    }
    well_formed = well_formed && params->at("mode") == "url" && is_web_url(params->at("url").get_string());
    if (!well_formed) break;
    auto need = capability_need("elicitation/create", *params,
                                !ec && declared.is_object() ? declared.get_object() : no_capabilities);
    if (!need || !need->declared) {
      return internal("the client did not declare the elicitation.url capability (" + fault.message + ")");
    }
  }
  if (!well_formed) return internal("a URL elicitation error needs data.elicitations: [{mode, message, url, elicitationId}]");
  return fault;
}

bool Engine::client_answered(std::string_view scope, const Message& response) const {
  return client_requests_->answer(scope, response.id, ClientAnswer{response.is_error, response.response_json});
}

namespace {

// What an invocation names (a tool or prompt name, a resource URI, the prompt or template a completion is
// for), or the invalid params that name nothing.
std::variant<std::string, Fault> invocation_target(InvocationKind kind, const Message& request) {
  auto string_at = [](const json::object& object, std::string_view key) -> const json::value* {
    const json::value* value = object.if_contains(key);
    return value != nullptr && value->is_string() ? value : nullptr;
  };
  if (kind != InvocationKind::kCompletion) {
    const char* key = kind == InvocationKind::kResourceRead ? "uri" : "name";
    const json::value* name = string_at(request.params, key);
    if (name == nullptr) return invalid_params(std::string("Invalid params: '") + key + "' must be a string");
    return std::string(name->get_string());
  }
  const json::value* argument = request.params.if_contains("argument");
  if (argument == nullptr || !argument->is_object() || string_at(argument->get_object(), "name") == nullptr ||
      string_at(argument->get_object(), "value") == nullptr) {
    return invalid_params("Invalid params: 'argument' must be an object with string 'name' and 'value'");
  }
  if (const json::value* context = request.params.if_contains("context"); context != nullptr) {
    const json::value* values = context->is_object() ? context->get_object().if_contains("arguments") : nullptr;
    bool valid = context->is_object();
    if (values != nullptr) {
      valid = values->is_object();
      for (const auto& member : valid ? values->get_object() : json::object{}) valid = valid && member.value().is_string();
    }
    if (!valid) return invalid_params("Invalid params: 'context.arguments' must be an object of strings");
  }
  const json::value* ref = request.params.if_contains("ref");
  const json::value* type = ref != nullptr && ref->is_object() ? string_at(ref->get_object(), "type") : nullptr;
  if (type != nullptr && type->get_string() == "ref/prompt") {
    if (const json::value* name = string_at(ref->get_object(), "name")) return std::string(name->get_string());
    return invalid_params("Invalid params: a ref/prompt needs a string 'name'");
  }
  if (type != nullptr && type->get_string() == "ref/resource") {
    if (const json::value* uri = string_at(ref->get_object(), "uri")) return std::string(uri->get_string());
    return invalid_params("Invalid params: a ref/resource needs a string 'uri'");
  }
  return invalid_params("Invalid params: 'ref' must be a ref/prompt or a ref/resource");
}

}  // namespace

void Engine::invoke(InvocationKind kind, const Message& request, const RequestContext& context,
                    std::shared_ptr<CancelToken> cancel, ReplyCallback on_reply) const {
  auto done = [&on_reply](Reply reply) { on_reply(std::move(reply), OutcomeFacts{}); };
  std::variant<std::string, Fault> target = invocation_target(kind, request);
  if (auto* fault = std::get_if<Fault>(&target)) return done(std::move(*fault));
  Invocation invocation{kind, std::move(std::get<std::string>(target)), "{}", "{}", context.session, nullptr, nullptr,
                        nullptr, "", std::nullopt};
  invocation.request_id = request.id;
  invocation.client_id = context.principal.client_id;
  // A completion's handler reads the request's ref, argument and context: it gets the whole params as sent.
  if (kind == InvocationKind::kCompletion) invocation.arguments_json = request.params_json;
  const json::value* args = kind == InvocationKind::kCompletion ? nullptr : request.params.if_contains("arguments");
  const bool has_arguments = args != nullptr && !args->is_null();
  if (has_arguments && !args->is_object()) return done(invalid_params("Invalid params: 'arguments' must be an object"));
  const bool has_meta = request_meta(request) != nullptr;
  const bool modern = context.era == Era::kModern;
  const json::value* responses = modern ? request.params.if_contains("inputResponses") : nullptr;
  const json::value* state = modern ? request.params.if_contains("requestState") : nullptr;
  if (responses != nullptr && !responses->is_object()) {
    return done(invalid_params("Invalid params: 'inputResponses' must be an object"));
  }
  if (state != nullptr && !state->is_string()) return done(invalid_params("Invalid params: 'requestState' must be a string"));
  // Who may resume a call that answers input_required: taken only in 2026-07-28, the one era that does.
  std::optional<Resumable> resumable;
  if (modern) resumable = Resumable{auth::identity_of(context.principal), std::string(invocation_method(kind)),
                                    invocation.name, ""};
  std::string opened_state;
  if (state != nullptr) {
    auto opened = settings_.request_state->open(state->get_string(), resumable->binding());
    if (auto* refused = std::get_if<StateRefused>(&opened)) return done(invalid_params("Invalid params: " + refused->reason));
    opened_state = std::move(std::get<std::string>(opened));
  }
  // The tool gets the client's own text of its arguments and _meta, so it reads every value as sent; one pass
  // over params, each taking its last occurrence as the tree did.
  std::string_view responses_json = "null";
  if (has_arguments || has_meta || responses != nullptr) {
    for (const RawMember& member : raw_members(request.params_json)) {
      if (has_arguments && raw_key_equals(member.key, "arguments")) {
        invocation.arguments_json = member.value;
      } else if (has_meta && raw_key_equals(member.key, "_meta")) {
        invocation.meta_json = member.value;
      } else if (responses != nullptr && raw_key_equals(member.key, "inputResponses")) {
        responses_json = member.value;
      }
    }
  }
  if (responses != nullptr || state != nullptr) {
    invocation.round_trip_json = R"({"inputResponses":)" + std::string(responses_json) + R"(,"requestState":)" +
                                 (state != nullptr ? json::serialize(json::value(opened_state)) : "null") + "}";
  }
  if (resumable) {  // as text: parsed only if the call does answer input_required
    resumable->client_capabilities_json = raw_member(invocation.meta_json, kMetaClientCapabilities).value_or("{}");
  }
  const policy::SandboxGrant* plans = context.admission.sandbox ? context.admission.sandbox : settings_.sandbox.get();
  if (plans != nullptr) {
    invocation.plan = kind == InvocationKind::kToolCall ? plans->tool(invocation.name) : plans->server();
    if (kind == InvocationKind::kToolCall && context.admission.grant != nullptr) {
      invocation.plan = policy::granted_plan(*invocation.plan, *context.admission.grant);
    }
  }
  // Only the handshake eras' calls ask their client on their own stream (2026-07-28 asks through results).
  if (context.era == Era::kLegacy && context.notifications != nullptr) {
    invocation.ask = std::make_shared<ClientAsker>(context.notifications, context.session, client_requests_,
                                                   context.client_capabilities_json);
  }
  if (context.log_level) {
    invocation.log = std::make_shared<LogReporter>(context.notifications, *context.log_level, settings_.logs, counters_);
  }
  if (progress_token(request) != nullptr) {
    invocation.progress = std::make_shared<ProgressReporter>(context.notifications, settings_.progress,
                                                             counters_,
                                                             context.protocol_version != kProgressWithoutMessage);
  }
  const std::int64_t ttl = kind == InvocationKind::kResourceRead ? settings_.read_ttl_ms : kNotCacheable;
  // A handler that needs the user at URLs first answers -32042, only to a handshake-era client that takes them.
  std::string url_elicitation_capabilities = context.era == Era::kLegacy ? context.client_capabilities_json : "";
  dispatcher_->invoke(std::move(invocation), std::move(cancel),
                      [this, era = context.era, ttl, resumable = std::move(resumable),
                       url_capabilities = std::move(url_elicitation_capabilities),
                       on_reply = std::move(on_reply)](Outcome outcome) {
                        OutcomeFacts facts = std::move(outcome.facts);
                        Reply reply = outcome_to_reply(std::move(outcome), settings_.json_limits);
                        auto* result = std::get_if<std::string>(&reply);
                        if (auto* fault = std::get_if<Fault>(&reply);
                            fault != nullptr && fault->kind == Failure::kUrlElicitationRequired) {
                          return on_reply(url_elicitation_required(std::move(*fault), era, url_capabilities), facts);
                        }
                        if (result == nullptr) return on_reply(std::move(reply), facts);
                        if (raw_member(*result, "resultType") != R"("input_required")") {
                          return on_reply(finish(std::move(*result), era, ttl), facts);
                        }
                        if (!resumable) {
                          return on_reply(Fault{Failure::kInternalError, "Internal error: an input_required result "
                                                "answers only a 2026-07-28 request"}, facts);
                        }
                        auto sealed = input_required(std::move(*result), *resumable);
                        if (auto* fault = std::get_if<Fault>(&sealed)) return on_reply(std::move(*fault), facts);
                        on_reply(finish(std::move(std::get<std::string>(sealed)), era, kNotCacheable, false,
                                        "input_required"),
                                 facts);
                      });
}

}  // namespace sandgate::mcp
