#include "audit/audit_line.h"

#include "audit/audit_log.h"
#include "common/json_text.h"
#include "policy/tool_policy.h"

namespace sandgate::audit {
namespace {

json::value text_or_null(std::string_view text) { return text.empty() ? json::value(nullptr) : json::value(text); }

std::string_view principal_kind(auth::Principal::Kind kind) {
  switch (kind) {
    case auth::Principal::Kind::kApiKey: return "api_key";
    case auth::Principal::Kind::kToken: return "token";
    case auth::Principal::Kind::kAnonymous: break;
  }
  return "anonymous";
}

json::object principal_of(const auth::Principal& principal) {
  json::object out;
  out["kind"] = principal_kind(principal.kind);
  out["name"] = principal.name;
  out["issuer"] = text_or_null(principal.issuer);
  out["subject"] = text_or_null(principal.subject);
  out["client_id"] = text_or_null(principal.client_id);
  return out;
}

// The fields every line has, in the order the schema lists them.
json::object base(const AuditLog& log, std::string_view event, const mcp::RequestContext& context) {
  json::object line;
  line["time"] = log.timestamp();
  line["event"] = event;
  line["transport"] = mcp::transport_name(context.transport);
  line["peer"] = mcp::peer_address(context.peer);
  line["session"] = text_or_null(context.session);
  return line;
}

std::string_view event_of(std::optional<mcp::Failure> failure) {
  if (failure == mcp::Failure::kForbidden) return "denied";
  if (failure == mcp::Failure::kRateLimited) return "rate_limited";
  return "call";
}

}  // namespace

RequestFacts request_facts(const AuditLog& log, const mcp::Message& request, const mcp::RequestContext& context) {
  RequestFacts facts;
  facts.id = request.id;
  const char* target_key = request.method == "resources/read" ? "uri" : "name";
  if (const json::value* target = request.params.if_contains(target_key); target != nullptr && target->is_string()) {
    facts.target = std::string(target->get_string());
  }
  if (std::optional<std::string_view> arguments = raw_member(request.params_json, "arguments")) {
    const policy::Rule* grant = context.admission.grant;
    if (grant != nullptr && grant->audit_full_arguments) {
      facts.arguments_json = std::string(*arguments);
      // One line per record: a raw line break can only be whitespace between tokens (never inside a string).
      for (char& c : facts.arguments_json) {
        if (c == '\n' || c == '\r') c = ' ';
      }
    } else {
      facts.arguments_sha256 = log.arguments_digest(*arguments);
    }
  }
  return facts;
}

bool audited(std::string_view method, std::optional<mcp::Failure> failure) {
  if (method == "tools/call" || method == "resources/read" || method == "prompts/get") return true;
  return failure == mcp::Failure::kForbidden || failure == mcp::Failure::kRateLimited ||
         failure == mcp::Failure::kUnauthenticated;
}

std::string request_line(const AuditLog& log, const mcp::RequestContext& context, std::string_view method,
                         const RequestFacts& request, std::optional<mcp::Failure> failure,
                         const mcp::OutcomeFacts& facts, std::optional<double> duration_ms) {
  json::object line = base(log, event_of(failure), context);
  line["principal"] = principal_of(context.principal);
  line["request_id"] = request.id;
  line["method"] = method;
  line["target"] = text_or_null(request.target);
  const mcp::Admission& admission = context.admission;
  line["decision"] = text_or_null(admission.decision);
  line["rule"] = text_or_null(admission.rule);
  std::string_view reason = admission.reason;
  if (failure == mcp::Failure::kRateLimited) reason = "rate_limited";
  if (!failure && !facts.reason.empty()) reason = facts.reason;
  line["reason"] = text_or_null(reason);
  line["rate_limit"] = admission.rate_limit != nullptr && failure == mcp::Failure::kRateLimited
                           ? json::value(admission.rate_limit->name)
                           : json::value(nullptr);
  // ok, or the failure's name, or how the sandbox ended the call (a tool error and a stop are results).
  line["outcome"] = failure ? std::string_view(mcp::failure_name(*failure))
                            : facts.reason.empty() ? std::string_view("ok") : std::string_view(facts.reason);
  line["duration_ms"] = duration_ms ? json::value(*duration_ms) : json::value(nullptr);
  line["cpu_time_s"] = facts.cpu_time_s >= 0 ? json::value(facts.cpu_time_s) : json::value(nullptr);
  line["peak_memory_bytes"] = facts.peak_memory_bytes >= 0 ? json::value(facts.peak_memory_bytes) : json::value(nullptr);
  line["isolation"] = text_or_null(facts.isolation);
  line["arguments_sha256"] = text_or_null(request.arguments_sha256);
  line["policy_revision"] = admission.policy ? json::value(admission.policy->revision()) : json::value(nullptr);
  std::string text = json::serialize(line);
  // The arguments go in as the client sent them (the gateway changes no value), as the line's last member.
  if (!request.arguments_json.empty()) {
    text.pop_back();  // the closing brace, put back after them
    append_raw_member(text, R"("arguments")", request.arguments_json);
    text.push_back('}');
  }
  return text;
}

std::string auth_failure_line(const AuditLog& log, const mcp::RequestContext& who, std::string_view reason) {
  json::object line = base(log, "auth_failure", who);
  line["principal"] = nullptr;
  line["reason"] = reason;
  line["outcome"] = "unauthenticated";
  return json::serialize(line);
}

}  // namespace sandgate::audit
