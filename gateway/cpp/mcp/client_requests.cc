#include "mcp/client_requests.h"

#include <utility>

#include "common/json_text.h"

namespace sandgate::mcp {

ClientRequests::ClientRequests(ClientRequestLimits limits, std::shared_ptr<metrics::Counters> counters)
    : limits_(limits), counters_(std::move(counters)) {}

std::optional<std::string> ClientRequests::open(std::string scope, AnswerCallback on_answer) {
  std::lock_guard lock(mutex_);
  if (waiting_.size() >= limits_.max_pending) return std::nullopt;
  // The gateway's own prefix keeps its ids apart from any a client uses; the scope check keeps sessions apart.
  std::string id = "sandgate-" + std::to_string(++next_);
  waiting_.emplace(id, Entry{std::move(scope), std::move(on_answer)});
  return id;
}

bool ClientRequests::answer(std::string_view scope, const json::value& id, ClientAnswer answer) {
  if (!id.is_string()) return false;
  AnswerCallback on_answer;
  {
    std::lock_guard lock(mutex_);
    auto found = waiting_.find(std::string(id.get_string()));
    if (found == waiting_.end() || found->second.scope != scope) return false;
    on_answer = std::move(found->second.on_answer);
    waiting_.erase(found);
  }
  counters_->add(metrics::Counter::kClientRequestsAnswered);
  on_answer(std::move(answer));  // outside the lock: it may ask again
  return true;
}

void ClientRequests::abandon(const std::string& id) {
  std::lock_guard lock(mutex_);
  if (waiting_.erase(id) != 0) counters_->add(metrics::Counter::kClientRequestsAbandoned);
}

std::size_t ClientRequests::pending() const {
  std::lock_guard lock(mutex_);
  return waiting_.size();
}

namespace {

// "sampling", "elicitation.url": how a refusal names what was missing.
std::string capability_name(const json::object& required) {
  if (required.empty()) return "";
  const auto& [name, modes] = *required.begin();
  std::string text(name);
  if (modes.is_object() && !modes.get_object().empty()) text.append(".").append(modes.get_object().begin()->key());
  return text;
}

}  // namespace

std::optional<CapabilityNeed> capability_need(std::string_view method, const json::object& params,
                                              const json::object& declared) {
  auto object_at = [](const json::object& in, std::string_view key) -> const json::object* {
    const json::value* value = in.if_contains(key);
    return value != nullptr ? value->if_object() : nullptr;
  };
  if (method == "sampling/createMessage" || method == "roots/list") {
    const std::string_view name = method == "roots/list" ? "roots" : "sampling";
    return CapabilityNeed{json::object{{name, json::object{}}}, object_at(declared, name) != nullptr};
  }
  if (method != "elicitation/create") return std::nullopt;
  // A form unless it says otherwise; a client that declared `elicitation: {}` takes forms only (2025-11-25).
  const json::value* mode = params.if_contains("mode");
  const std::string_view named = mode != nullptr && mode->is_string() ? std::string_view(mode->get_string()) : "form";
  if (mode != nullptr && !mode->is_string()) return std::nullopt;
  if (named != "form" && named != "url") return std::nullopt;
  const json::object* elicitation = object_at(declared, "elicitation");
  const bool has = elicitation != nullptr && (object_at(*elicitation, named) != nullptr ||
                                              (named == "form" && elicitation->empty()));
  json::object wanted;
  if (named == "url" || (elicitation != nullptr && !elicitation->empty())) wanted.emplace(named, json::object{});
  return CapabilityNeed{json::object{{"elicitation", std::move(wanted)}}, has};
}

ClientAsker::ClientAsker(std::shared_ptr<NotificationSink> sink, std::string scope,
                         std::shared_ptr<ClientRequests> table, std::string client_capabilities_json)
    : sink_(std::move(sink)),
      scope_(std::move(scope)),
      table_(std::move(table)),
      capabilities_json_(std::move(client_capabilities_json)) {}

ClientAsker::~ClientAsker() {
  for (const std::string& id : open_ids_) table_->abandon(id);
}

std::string ClientAsker::ask(std::string_view method, std::string_view params_json, AnswerCallback on_answer) {
  const ClientRequestLimits& limits = table_->limits();
  boost::system::error_code ec;
  const json::value params = params_json.size() > limits.max_params_bytes || validate_json_text(params_json, JsonLimits{})
                                 ? json::value() : json::parse(params_json, ec);
  if (ec || !params.is_object()) {
    table_->counters().add(metrics::Counter::kClientRequestsRefused);
    return "the request's params are not a JSON object within max_client_request_bytes";
  }
  const json::value capabilities = json::parse(capabilities_json_, ec);
  const json::object no_capabilities;
  const std::optional<CapabilityNeed> need =
      capability_need(method, params.get_object(), !ec && capabilities.is_object() ? capabilities.get_object()
                                                                                  : no_capabilities);
  if (!need) return "a call may ask its client only for sampling, elicitation (form or url) or roots";
  if (!need->declared) {
    table_->counters().add(metrics::Counter::kClientRequestsRefused);
    return "the client did not declare the " + capability_name(need->required) + " capability";
  }
  if (asked_.fetch_add(1) >= limits.max_per_call) {
    table_->counters().add(metrics::Counter::kClientRequestsRefused);
    return "the call already sent max_client_requests_per_call requests";
  }
  std::optional<std::string> id = table_->open(scope_, std::move(on_answer));
  if (!id) {
    table_->counters().add(metrics::Counter::kClientRequestsRefused);
    return "too many requests wait for their clients";
  }
  std::string message = R"({"jsonrpc":"2.0","id":)" + json::serialize(json::value(*id)) + R"(,"method":)" +
                        json::serialize(json::value(method)) + R"(,"params":)" + std::string(params_json) + "}";
  if (sink_ == nullptr || !sink_->deliver(std::move(message))) {
    table_->abandon(*id);
    table_->counters().add(metrics::Counter::kClientRequestsRefused);
    return "the request has no stream to its client (the client must accept text/event-stream)";
  }
  table_->counters().add(metrics::Counter::kClientRequestsSent);
  std::lock_guard lock(mutex_);
  open_ids_.push_back(std::move(*id));
  return "";
}

}  // namespace sandgate::mcp
