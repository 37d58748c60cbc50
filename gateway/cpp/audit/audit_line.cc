#include "audit/audit_line.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <cstdint>

#include "audit/audit_log.h"
#include "common/json_text.h"
#include "policy/tool_policy.h"

namespace sandgate::audit {
namespace {

// Which bytes JSON may not hold raw in a string: control characters, the quote and the backslash.
constexpr std::array<bool, 256> kEscaped = [] {
  std::array<bool, 256> table{};
  for (int byte = 0; byte < 0x20; ++byte) table[byte] = true;
  table['"'] = table['\\'] = true;
  return table;
}();

// One JSON object written straight into its text through a cursor: a boost::json tree per call cost
// microseconds in allocations, and a std::string append per token a third of the line's time.
class Line {
 public:
  explicit Line(std::string& out) : text_(out), start_(out.size()), end_(out.size()) { put('{'); }
  template <std::size_t N>
  Line& text(const char (&key)[N], std::string_view value) {
    open(key);
    quoted(value);
    return *this;
  }
  template <std::size_t N>
  Line& text_or_null(const char (&key)[N], std::string_view value) {
    return value.empty() ? null(key) : text(key, value);
  }
  template <std::size_t N>
  Line& null(const char (&key)[N]) { return raw(key, "null"); }
  template <std::size_t N>
  Line& number(const char (&key)[N], double value) {
    open(key);
    char* at = room(32);
    end_ += static_cast<std::size_t>(std::to_chars(at, at + 32, value).ptr - at);
    return *this;
  }
  template <std::size_t N>
  Line& integer(const char (&key)[N], std::int64_t value) {
    open(key);
    char* at = room(24);
    end_ += static_cast<std::size_t>(std::to_chars(at, at + 24, value).ptr - at);
    return *this;
  }
  template <std::size_t N>
  Line& raw(const char (&key)[N], std::string_view json_text) {
    open(key);
    copy(json_text);
    return *this;
  }
  Line& principal(const auth::Principal& principal);
  // Closes the object and trims the text to what was written.
  void done() {
    put('}');
    text_.resize(end_);
  }

 private:
  // Where `size` more characters may be written: the text grows ahead of the cursor, and done() trims it.
  char* room(std::size_t size) {
    if (end_ + size > text_.size()) text_.resize(std::max(text_.size() * 2, end_ + size + 512));
    return text_.data() + end_;
  }
  void put(char c) {
    *room(1) = c;
    ++end_;
  }
  void copy(std::string_view bytes) {
    std::memcpy(room(bytes.size()), bytes.data(), bytes.size());
    end_ += bytes.size();
  }
  // Keys are this file's literals, their length known when compiled: nothing to escape, a copy inlined.
  template <std::size_t N>
  void open(const char (&key)[N]) {
    char* at = room(N + 3);
    if (end_ > start_ + 1) *at++ = ',';
    *at++ = '"';
    std::memcpy(at, key, N - 1);
    at += N - 1;
    *at++ = '"';
    *at++ = ':';
    end_ = static_cast<std::size_t>(at - text_.data());
  }
  // JSON's escapes for what a string may not hold raw; the rest (valid UTF-8, parsed from JSON) as it is.
  void quoted(std::string_view value) {
    static constexpr char kHex[] = "0123456789abcdef";
    char* at = room(value.size() * 6 + 2);  // the worst case: every byte a \u00XX
    *at++ = '"';
    for (const char c : value) {
      const auto byte = static_cast<unsigned char>(c);
      if (!kEscaped[byte]) {
        *at++ = c;
      } else if (byte < 0x20) {
        at = std::copy_n("\\u00", 4, at);
        *at++ = kHex[byte >> 4];
        *at++ = kHex[byte & 0xf];
      } else {
        *at++ = '\\';
        *at++ = c;
      }
    }
    *at++ = '"';
    end_ = static_cast<std::size_t>(at - text_.data());
  }
  std::string& text_;
  const std::size_t start_;  // where this object's text begins in `text_`
  std::size_t end_;          // where the next character goes; `text_` may be longer until done()
};

std::string_view principal_kind(auth::Principal::Kind kind) {
  switch (kind) {
    case auth::Principal::Kind::kApiKey: return "api_key";
    case auth::Principal::Kind::kToken: return "token";
    case auth::Principal::Kind::kAnonymous: break;
  }
  return "anonymous";
}

Line& Line::principal(const auth::Principal& principal) {
  open("principal");
  text_.resize(end_);  // the inner object starts at the cursor
  Line inner(text_);
  inner.text("kind", principal_kind(principal.kind)).text("name", principal.name);
  inner.text_or_null("issuer", principal.issuer).text_or_null("subject", principal.subject);
  inner.text_or_null("client_id", principal.client_id);
  inner.done();
  end_ = text_.size();
  return *this;
}

// The fields every line has, in the order the schema lists them.
Line base(std::string& out, const AuditLog& log, std::string_view event, const mcp::RequestContext& context) {
  Line line(out);
  line.text("time", log.timestamp().view()).text("event", event).text("transport", mcp::transport_name(context.transport));
  line.text("peer", mcp::peer_address(context.peer)).text_or_null("session", context.session);
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

void append_request_line(std::string& out, const AuditLog& log, const mcp::RequestContext& context,
                         std::string_view method, const RequestFacts& request, std::optional<mcp::Failure> failure,
                         const mcp::OutcomeFacts& facts, std::optional<double> duration_ms) {
  Line line = base(out, log, event_of(failure), context);
  line.principal(context.principal);
  if (request.id.is_int64()) {
    line.integer("request_id", request.id.get_int64());
  } else if (request.id.is_string()) {
    line.text("request_id", request.id.get_string());
  } else {
    line.raw("request_id", json::serialize(request.id));
  }
  line.text("method", method).text_or_null("target", request.target);
  const mcp::Admission& admission = context.admission;
  line.text_or_null("decision", admission.decision).text_or_null("rule", admission.rule);
  std::string_view reason = admission.reason;
  if (failure == mcp::Failure::kRateLimited) reason = "rate_limited";
  if (!failure && !facts.reason.empty()) reason = facts.reason;
  line.text_or_null("reason", reason);
  if (admission.rate_limit != nullptr && failure == mcp::Failure::kRateLimited) {
    line.text("rate_limit", admission.rate_limit->name);
  } else {
    line.null("rate_limit");
  }
  // ok, or the failure's name, or how the sandbox ended the call (a tool error and a stop are results).
  line.text("outcome", failure ? std::string_view(mcp::failure_name(*failure))
                               : facts.reason.empty() ? std::string_view("ok") : std::string_view(facts.reason));
  if (duration_ms) line.number("duration_ms", *duration_ms); else line.null("duration_ms");
  if (facts.cpu_time_s >= 0) line.number("cpu_time_s", facts.cpu_time_s); else line.null("cpu_time_s");
  if (facts.peak_memory_bytes >= 0) line.integer("peak_memory_bytes", facts.peak_memory_bytes);
  else line.null("peak_memory_bytes");
  line.text_or_null("isolation", facts.isolation).text_or_null("arguments_sha256", request.arguments_sha256);
  if (admission.policy) line.text("policy_revision", admission.policy->revision()); else line.null("policy_revision");
  // The arguments go in as the client sent them (the gateway changes no value).
  if (!request.arguments_json.empty()) line.raw("arguments", request.arguments_json);
  line.done();
}

void append_auth_failure_line(std::string& out, const AuditLog& log, const mcp::RequestContext& who,
                              std::string_view reason) {
  Line line = base(out, log, "auth_failure", who);
  line.null("principal").text("reason", reason).text("outcome", "unauthenticated");
  line.done();
}

}  // namespace sandgate::audit
